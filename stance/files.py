"""Reading user files robustly and writing outputs atomically."""

from __future__ import annotations

import codecs
import contextlib
import errno
import hashlib
import os
import re
import shutil
import stat
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

from .errors import InputError

_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def decode_bytes(data: bytes, path: str | Path = "<bytes>") -> tuple[str, str]:
    """Decode a text file's bytes; return (text, encoding used).

    BOMs first, then strict UTF-8, then charset-normalizer's best guess.
    Raises InputError for empty or binary data.
    """
    if not data.strip():
        raise InputError(path, "empty file")
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                return data.decode(encoding), encoding
            except UnicodeDecodeError as exc:
                raise InputError(path, f"not valid {encoding}: {exc.reason}") from None
    if b"\x00" in data[:65536]:
        raise InputError(path, "binary file (NUL bytes), not text")
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    if best is None or not _looks_textual(str(best)):
        raise InputError(path, "binary file or unknown text encoding")
    if best.encoding.replace("_", "").lower() in _LATIN_GUESSES:
        # Short Western texts are often guessed as another Latin code page;
        # like browsers, prefer windows-1252 when it decodes cleanly.
        try:
            return data.decode("cp1252"), "cp1252"
        except UnicodeDecodeError:
            pass
    return str(best), best.encoding


_LATIN_GUESSES = {
    "cp1250",
    "cp1252",
    "cp1254",
    "cp1257",
    "latin1",
    "iso88591",
    "iso88592",
    "iso885915",
    "iso88599",
    "iso885913",
    "iso885916",
    "maclatin2",
    "macroman",
    "cp850",
    "cp437",
}


def _looks_textual(text: str) -> bool:
    sample = text[:20000]
    if not sample:
        return False
    bad = sum(1 for ch in sample if ord(ch) < 32 and ch not in "\r\n\t\f")
    return bad / len(sample) < 0.01


def read_bytes(path: str | Path) -> bytes:
    """A user file's bytes; an InputError naming the file when it cannot be read."""
    path = Path(path)
    try:
        return path.read_bytes()
    except IsADirectoryError:
        raise InputError(path, "is a directory, expected a file") from None
    except FileNotFoundError:
        raise InputError(path, "no such file") from None
    except PermissionError:
        raise InputError(path, "permission denied") from None
    except OSError as exc:
        raise InputError(path, f"cannot read: {exc.strerror}") from None


def decode_text(data: bytes, path: str | Path = "<bytes>") -> tuple[str, str]:
    """decode_bytes, with every line ending as \\n; return (text, encoding)."""
    text, encoding = decode_bytes(data, path)
    return text.replace("\r\n", "\n").replace("\r", "\n"), encoding


def read_text(path: str | Path) -> tuple[str, str]:
    """Read a text file of any common encoding; return (text, encoding)."""
    return decode_text(read_bytes(path), path)


def sniff_encoding(path: str | Path, size: int = 1 << 16) -> str | None:
    """The encoding to stream a file with, judged from its head.

    A BOM names it; a UTF-8 head gives utf-8-sig; None means "not UTF-8,
    decode the whole file with read_text". Empty and binary files raise
    InputError, as read_text would.
    """
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            head = fh.read(size)
            more = bool(fh.read(1))
    except OSError:
        read_bytes(path)  # raises the InputError that names the problem
        raise
    if not more:
        decode_bytes(head, path)  # empty or binary: the same errors as read_text
    elif not head.strip():
        raise InputError(path, "starts with 64 KiB of blank space, not text")
    for bom, encoding in _BOMS:
        if head.startswith(bom):
            return encoding
    if b"\x00" in head:
        raise InputError(path, "binary file (NUL bytes), not text")
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=not more)
    except UnicodeDecodeError:
        return None
    return "utf-8-sig"


def sha256_file(path: str | Path) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def check_output_path(path: str | Path, *, directory: bool = False) -> Path:
    """Fail early, before any work, when an output cannot be written.

    `directory=True` is for outputs that are directories (a model): an existing
    directory is then fine, an existing file is not.
    """
    path = Path(path)
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.exists():
        raise InputError(path, f"output directory {parent} does not exist")
    if not parent.is_dir():
        raise InputError(path, f"output directory {parent} is not a directory")
    if not writable_dir(parent):
        raise InputError(path, f"output directory {parent} is read-only")
    if directory and path.exists() and not path.is_dir():
        raise InputError(path, "output path is a file, expected a directory")
    if directory and path.is_dir() and not writable_dir(path):
        raise InputError(path, "output directory is read-only")
    if not directory and path.is_dir():
        raise InputError(path, "output path is a directory")
    return path


def writable_dir(directory: str | Path) -> bool:
    """Whether stance may write in `directory`.

    A directory without any write permission bit counts as read-only even for
    root, who could write there anyway: the user marked it so.
    """
    try:
        mode = os.stat(directory).st_mode
    except OSError:
        return False
    return os.access(directory, os.W_OK) and bool(mode & 0o222)


# Temporary files and directories are named `.{target}.{pid}.{random}.tmp`, so
# readers (which skip dot-files) never see them and a later write can remove
# those left by a killed process.
_TMP = re.compile(r"^\.(?P<name>.+)\.(?P<pid>\d+)\.[^.]+\.(?:tmp|old)$")


def _tmp_prefix(path: Path) -> str:
    return f".{path.name}.{os.getpid()}."


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_temps(path: str | Path) -> list[Path]:
    """Remove temporaries of `path` left by processes that no longer run."""
    path = Path(path)
    parent = path.parent if str(path.parent) else Path(".")
    removed = []
    try:
        entries = list(os.scandir(parent))
    except OSError:
        return removed
    for entry in entries:
        m = _TMP.match(entry.name)
        if not m or m["name"] != path.name or _pid_alive(int(m["pid"])):
            continue
        stale = parent / entry.name
        if entry.is_dir(follow_symlinks=False):
            shutil.rmtree(stale, ignore_errors=True)
        else:
            with contextlib.suppress(FileNotFoundError):
                stale.unlink()
        removed.append(stale)
    return removed


def _new_file_mode(path: Path) -> int:
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


@contextlib.contextmanager
def atomic_open(path: str | Path, mode: str = "w", encoding: str | None = "utf-8"):
    """Write to a temporary file beside `path`, fsync, then rename into place.

    A process killed at any point leaves `path` as it was or complete; the
    file keeps the mode of the one it replaces (new files follow the umask).
    """
    path = check_output_path(path)
    if "b" in mode:
        encoding = None
    remove_stale_temps(path)
    try:
        fd, tmp = tempfile.mkstemp(
            prefix=_tmp_prefix(path), suffix=".tmp", dir=path.parent
        )
    except OSError as exc:
        raise InputError(path, f"cannot write: {exc.strerror}") from None
    committing = False
    try:
        os.fchmod(fd, _new_file_mode(path))
        with os.fdopen(
            fd, mode, encoding=encoding, newline="" if encoding else None
        ) as fh:
            yield fh
            committing = True
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        _fsync_dir(path.parent)
    except BaseException as exc:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        if _write_failure(exc, committing):
            raise InputError(path, f"cannot write: {exc.strerror}") from None
        raise


def atomic_write_text(path: str | Path, text: str) -> None:
    with atomic_open(path, "w") as fh:
        fh.write(text)


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    with atomic_open(path, "wb") as fh:
        fh.write(data)


@contextlib.contextmanager
def atomic_directory(path: str | Path) -> Iterator[Path]:
    """Build a directory under a temporary name, then swap it into place whole.

    An existing directory is exchanged with the new one in one atomic step
    (Linux renameat2 RENAME_EXCHANGE), so `path` is at every moment the old
    directory or the new one; elsewhere two renames leave a short window.
    """
    path = check_output_path(path, directory=True)
    parent = path.parent
    remove_stale_temps(path)
    try:
        tmp = Path(
            tempfile.mkdtemp(prefix=_tmp_prefix(path), suffix=".tmp", dir=parent)
        )
    except OSError as exc:
        raise InputError(path, f"cannot write: {exc.strerror}") from None
    committing = False
    try:
        yield tmp
        committing = True
        for f in tmp.iterdir():
            with open(f, "rb") as fh:
                os.fsync(fh.fileno())
        _fsync_dir(tmp)
        if path.exists():
            old = tmp.with_name(tmp.name[: -len(".tmp")] + ".old")
            if _exchange(tmp, path):
                os.replace(tmp, old)  # tmp now holds the previous directory
            else:
                os.replace(path, old)
                os.replace(tmp, path)
            _fsync_dir(parent)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, path)
            _fsync_dir(parent)
    except BaseException as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        if _write_failure(exc, committing):
            raise InputError(path, f"cannot write: {exc.strerror}") from None
        raise


# Errors that mean "this output cannot be written", wherever they arise; other
# OSErrors from the caller's own code (reading an input) pass through as they are.
_WRITE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS}


def _write_failure(exc: BaseException, committing: bool) -> bool:
    return (
        isinstance(exc, OSError)
        and bool(exc.strerror)
        and (committing or exc.errno in _WRITE_ERRNOS)
    )


_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two paths (Linux); False where the system cannot."""
    if not sys.platform.startswith("linux"):
        return False
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    fn = getattr(libc, "renameat2", None)
    if fn is None:
        return False
    rc = fn(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    if rc == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP, errno.EXDEV):
        return False
    raise OSError(err, os.strerror(err), str(b))


def _fsync_dir(directory: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
