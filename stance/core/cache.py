"""On-disk caches of per-text results: SQLite tables in the cache folder.

`cache_dir()` is the folder ($STANCE_CACHE, or ~/.cache/stance). `SqliteCache`
is one table of (space, key) -> value that only ever saves work: a corrupt
file is moved aside (`NAME.corrupt-TIMESTAMP`) and rebuilt; a read-only cache
(no write bit on the folder or file, as for `files.writable_dir`) is read but
not written; a full disk stops the writes. Each is said once with
`errors.warn`. A cache path that is a file where a folder should be is an
InputError. Its users: `model.embed.EmbeddingCache` (text -> embedding, per
encoder) and `ingest.lang.LanguageCache` (text -> language, per detector).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path

from stance.core.errors import InputError, warn
from stance.core.files import writable_dir


def cache_dir() -> Path:
    """Where caches and the exported graph live: $STANCE_CACHE or ~/.cache/stance."""
    env = os.environ.get("STANCE_CACHE")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "stance"


# SQLite result codes (primary, the low byte of an extended code).
_CORRUPT = {11, 26}  # SQLITE_CORRUPT, SQLITE_NOTADB
_CANNOT_WRITE = {8, 13, 14, 10, 3, 23}  # READONLY, FULL, CANTOPEN, IOERR, PERM, AUTH


def _sqlite_code(exc: sqlite3.Error) -> int:
    return (getattr(exc, "sqlite_errorcode", 0) or 0) & 0xFF


class SqliteCache:
    """One SQLite table of (space, key) -> value; a subclass names its parts.

    `table`, `space_column` and `value_column` are the file format (the
    embedding cache's `emb (encoder, key, vec)` predates this class);
    `what` and `items` name the cache and its contents in warnings.
    `decode` turns a stored value back, or None to treat it as missing;
    `encode` makes a value storable.
    """

    table: str
    space_column: str
    value_column: str
    what: str
    items: str
    filename: str  # in `cache_dir()`, when no path is given

    def __init__(self, path: Path | None = None):
        self.path = path or (cache_dir() / self.filename)
        self.db: sqlite3.Connection | None = None
        self.writable = False
        self._ino = None
        self._lock = threading.RLock()  # one connection, any thread (Dask --nthreads)
        folder = self.path.parent
        for p in [folder, *folder.parents]:
            if p.exists() and not p.is_dir():
                raise InputError(
                    p, "cache folder is a file (set STANCE_CACHE to a folder)"
                )
        if self.path.is_dir():
            raise InputError(self.path, f"{self.what} is a folder, expected a file")
        self._open()

    def decode(self, value):
        return value

    def encode(self, value):
        return value

    def _open(self, retried: bool = False) -> None:
        folder = self.path.parent
        try:
            if not folder.exists() and writable_dir(existing_parent(folder)):
                folder.mkdir(parents=True, exist_ok=True)
        except OSError:
            pass
        file_ro = self.path.exists() and not (
            os.access(self.path, os.W_OK) and os.stat(self.path).st_mode & 0o222
        )
        try:
            if not folder.is_dir() or not writable_dir(folder) or file_ro:
                self._open_read_only("read-only")
                return
            self.db = sqlite3.connect(
                str(self.path), timeout=60, check_same_thread=False
            )
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.execute(
                f"CREATE TABLE IF NOT EXISTS {self.table} ({self.space_column} TEXT, "
                f"key TEXT, {self.value_column} BLOB, "
                f"PRIMARY KEY ({self.space_column}, key)) WITHOUT ROWID"
            )
            self._probe()
            self.writable = True
            self._ino = os.stat(self.path).st_ino
        except sqlite3.DatabaseError as exc:
            self._close_quietly()
            if _sqlite_code(exc) in _CORRUPT and not retried:
                self._move_aside(exc)
                self._open(retried=True)
            elif _sqlite_code(exc) in _CANNOT_WRITE:
                self._open_read_only(f"cannot be written ({exc})")
            else:
                self._give_up(exc)

    def _probe(self) -> None:
        self.db.execute(f"SELECT count(*) FROM (SELECT 1 FROM {self.table} LIMIT 1)")

    def _open_read_only(self, why: str) -> None:
        """Read what is cached, write nothing; say so once."""
        self.writable = False
        if not self.path.is_file():
            warn(f"{self.path.parent}: {self.what} is {why}: {self.items} not cached")
            return
        try:
            uri = Path(os.path.abspath(self.path)).as_uri() + "?mode=ro&immutable=1"
            self.db = sqlite3.connect(uri, uri=True, check_same_thread=False)
            self._probe()
        except sqlite3.DatabaseError as exc:
            self._give_up(exc)
            return
        warn(f"{self.path}: {self.what} is {why}: read, but new {self.items} not saved")

    def _give_up(self, exc: Exception) -> None:
        self._close_quietly()
        self.writable = False
        warn(f"{self.path}: {self.what} unusable ({exc}): {self.items} not cached")

    def _move_aside(self, exc: Exception) -> None:
        """Rename a corrupt cache (and its journal files) out of the way."""
        import time

        stamp = time.strftime("%Y%m%dT%H%M%S")
        aside = self.path.with_name(f"{self.path.name}.corrupt-{stamp}")
        try:
            if self._ino is not None and os.stat(self.path).st_ino != self._ino:
                return  # another process has rebuilt it already
            os.replace(self.path, aside)
            for ext in ("-wal", "-shm"):
                side = Path(str(self.path) + ext)
                if side.exists():
                    os.replace(side, Path(str(aside) + ext))
        except FileNotFoundError:
            return
        except OSError as err:
            warn(
                f"{self.path}: corrupt {self.what} ({exc}) cannot be moved ({err.strerror})"
            )
            return
        warn(
            f"{self.path}: corrupt {self.what} ({exc}) moved to {aside.name}; rebuilding it"
        )

    def _close_quietly(self) -> None:
        if self.db is not None:
            with contextlib.suppress(sqlite3.Error):
                self.db.close()
        self.db = None

    def _recover(self, exc: sqlite3.DatabaseError) -> None:
        """After an error mid-run: rebuild a corrupt cache, stop writing a full one."""
        code = _sqlite_code(exc)
        if code in _CORRUPT:
            self._close_quietly()
            self._move_aside(exc)
            self._open(retried=True)
        elif code in _CANNOT_WRITE and self.writable:
            self.writable = False
            warn(
                f"{self.path}: {self.what} cannot be written ({exc}): new {self.items} not saved"
            )
        else:
            self._give_up(exc)

    def get_many(self, space: str, keys: Sequence[str]) -> dict:
        """The cached values of `keys` in `space`; missing keys are left out."""
        with self._lock:
            found: dict = {}
            uniq = list(dict.fromkeys(keys))
            for start in range(0, len(uniq), 500):
                if self.db is None:
                    break
                chunk = uniq[start : start + 500]
                marks = ",".join("?" * len(chunk))
                try:
                    rows = self.db.execute(
                        f"SELECT key, {self.value_column} FROM {self.table} "
                        f"WHERE {self.space_column}=? AND key IN ({marks})",
                        [space, *chunk],
                    ).fetchall()
                except sqlite3.DatabaseError as exc:
                    self._recover(exc)
                    continue
                for key, stored in rows:
                    value = self.decode(stored)
                    if value is not None:
                        found[key] = value
            return found

    def put_many(self, space: str, items: dict) -> None:
        with self._lock:
            if self.db is None or not self.writable:
                return
            try:
                with self.db:
                    self.db.executemany(
                        f"INSERT OR REPLACE INTO {self.table} VALUES (?, ?, ?)",
                        [(space, k, self.encode(v)) for k, v in items.items()],
                    )
            except sqlite3.DatabaseError as exc:
                self._recover(exc)

    def close(self) -> None:
        with self._lock:
            self._close_quietly()


def existing_parent(path: Path) -> Path:
    """The path itself or its nearest ancestor that exists (where a folder would be made)."""
    for p in [path, *path.parents]:
        if p.exists():
            return p
    return Path(".")
