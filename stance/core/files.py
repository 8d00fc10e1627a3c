"""Writing outputs atomically: output paths checked, files and model folders
written beside their target and renamed into place, the user's files kept."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import io
import os
import re
import shutil
import stat
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from stance.core.errors import InputError


def sha256_file(path: str | Path) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


STDOUT = "-"

# Paths that name a process's open files or a device: writing them must open
# them, never replace them (a shell's `> f` keeps the old inode, and root could
# replace /dev/null by a regular file).
_SPECIAL_DIRS = ("/dev/", "/proc/")


def _link_chain(path: Path) -> list[str]:
    """`path` and every path its symlinks lead to, absolute, in order."""
    chain = [os.path.abspath(path)]
    for _ in range(40):  # the kernel's own limit on symlink hops
        try:
            target = os.readlink(chain[-1])
        except OSError:
            break
        chain.append(os.path.abspath(os.path.join(os.path.dirname(chain[-1]), target)))
    return chain


def output_kind(path: str | Path) -> str:
    """How an output is written: 'stdout' (`-`), 'special' or 'file'.

    Special outputs are devices, FIFOs, sockets and anything under /dev or
    /proc (also through symlinks, such as a link to /proc/self/fd/1): they are
    opened and written, never replaced. Everything else is a regular file
    written through a temporary file and a rename.
    """
    if str(path) == STDOUT:
        return "stdout"
    if any(p.startswith(_SPECIAL_DIRS) for p in _link_chain(Path(path))):
        return "special"
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return "file"
    if stat.S_ISREG(mode) or stat.S_ISDIR(mode):
        return "file"
    return "special"


def resolve_output(path: str | Path) -> Path:
    """The file a regular output really is: a symlink's target, so the link stays."""
    path = Path(path)
    return Path(os.path.realpath(path)) if path.is_symlink() else path


def check_suffix(path: str | Path, suffixes: Sequence[str], what: str) -> None:
    """A file output's extension must be one `what` can write; `-` and devices take any."""
    if not suffixes or output_kind(path) != "file":
        return
    suffix = Path(path).suffix.lower()
    if suffix not in suffixes:
        name = f"'{suffix}'" if suffix else "no extension"
        raise InputError(
            path,
            f"{what} cannot write {name} (it writes {', '.join(suffixes)})",
        )


def check_output_path(
    path: str | Path,
    *,
    directory: bool = False,
    suffixes: Sequence[str] = (),
    what: str = "this command",
) -> Path:
    """Fail early, before any work, when an output cannot be written.

    `directory=True` is for outputs that are directories (a model): an existing
    directory is then fine, an existing file is not. `suffixes` lists the
    extensions `what` can write. Returns `path` as given.
    """
    given = Path(path)
    kind = output_kind(path)
    if directory and kind != "file":
        raise InputError(path, "expected a directory, not a device, FIFO or stdout")
    if kind == "stdout":
        return given
    if kind == "special":
        if not os.access(path, os.W_OK):
            raise InputError(path, "permission denied")
        return given
    if not directory and Path(path).is_dir():
        raise InputError(path, "output path is a directory")
    check_suffix(path, suffixes, what)
    path = resolve_output(path)
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
    return given


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


def _default_mode(directory: bool = False) -> int:
    """What a plain open() (or mkdir) would give under the current umask."""
    umask = os.umask(0)
    os.umask(umask)
    return (0o777 if directory else 0o666) & ~umask


def _keep_mode_and_owner(old: Path, new: str | Path, *, directory: bool = False):
    """Give `new` the permissions (and, as root, the owner) of the `old` it replaces.

    mkstemp and mkdtemp create 0600 / 0700 entries; a rewritten label file or
    a retrained model folder must keep what the user had.
    """
    try:
        st = os.stat(old)
    except OSError:
        os.chmod(new, _default_mode(directory))
        return
    os.chmod(new, stat.S_IMODE(st.st_mode))
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        with contextlib.suppress(OSError):
            os.chown(new, st.st_uid, st.st_gid)


# Content for stdout and special files is gathered first (in memory, then a
# temporary file past this size), so a failing run writes nothing there either.
SPOOL_MEMORY_BYTES = 8 << 20


@contextlib.contextmanager
def _spooled(path: str | Path, mode: str, encoding: str | None):
    """Collect the whole output, then write it to stdout or the special file."""
    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY_BYTES)
    text = "b" not in mode
    fh = (
        io.TextIOWrapper(spool, encoding=encoding or "utf-8", newline="")
        if text
        else spool
    )
    try:
        yield fh
        if text:
            fh.flush()
        spool.seek(0)
        try:
            if str(path) == STDOUT:
                sys.stdout.flush()
                shutil.copyfileobj(spool, sys.stdout.buffer)
                sys.stdout.buffer.flush()
            else:
                with open(path, "wb") as dest:
                    shutil.copyfileobj(spool, dest)
        except BrokenPipeError:
            raise
        except OSError as exc:
            raise InputError(path, f"cannot write: {exc.strerror}") from None
    finally:
        if text:
            with contextlib.suppress(ValueError):
                fh.detach()
        spool.close()


@contextlib.contextmanager
def atomic_open(path: str | Path, mode: str = "w", encoding: str | None = "utf-8"):
    """Open an output so that no reader ever sees it half-written.

    A regular file is written to a temporary file beside it, fsynced, then
    renamed into place: a process killed at any point leaves it as it was or
    complete, with the mode (and, as root, the owner) of the file it replaces.
    A symlink is followed: its target is written and the link stays. `-`
    (stdout) and special files (devices, FIFOs, /dev and /proc paths) are
    never replaced: the content is gathered, then written to them in one go
    once complete.
    """
    if output_kind(path) != "file":
        check_output_path(path)
        with _spooled(path, mode, encoding) as fh:
            yield fh
        return
    check_output_path(path)
    path = resolve_output(path)
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
        _keep_mode_and_owner(path, tmp)
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


PREVIOUS_SUFFIX = ".prev"


def previous_path(path: str | Path) -> Path:
    """Where `atomic_directory(..., keep_previous=True)` keeps the replaced one."""
    path = Path(path)
    return path.with_name(path.name + PREVIOUS_SUFFIX)


def check_directory_output(
    path: str | Path,
    may_replace: Callable[[Path], str | None] | None = None,
    keep_previous: bool = False,
) -> Path:
    """The checks of `atomic_directory`, to run before any work.

    `may_replace(existing)` returns why an existing, non-empty directory must
    not be replaced (None: it may); with `keep_previous` the same holds for
    the `.prev` directory that the replaced one would take the place of.
    """
    check_output_path(path, directory=True)
    target = resolve_output(path)
    if may_replace is None:
        return target
    for d in (target, previous_path(target)) if keep_previous else (target,):
        if d != target and d.exists() and not d.is_dir():
            raise InputError(d, "is a file; move it away to keep the replaced model")
        if d.is_dir() and any(os.scandir(d)):
            problem = may_replace(d)
            if problem:
                raise InputError(d, problem)
    return target


@contextlib.contextmanager
def atomic_directory(
    path: str | Path,
    *,
    may_replace: Callable[[Path], str | None] | None = None,
    keep_previous: bool = False,
) -> Iterator[Path]:
    """Build a directory under a temporary name, then swap it into place whole.

    An existing directory is exchanged with the new one in one atomic step
    (Linux renameat2 RENAME_EXCHANGE), so `path` is at every moment the old
    directory or the new one; elsewhere two renames leave a short window.
    The new directory keeps the old one's mode (and the mode of each file it
    replaces); a symlink is followed. `may_replace` and `keep_previous`: see
    `check_directory_output`; the replaced directory, when not empty, then
    becomes `path.prev` (the one before is removed).
    """
    path = check_directory_output(path, may_replace, keep_previous)
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
            _keep_mode_and_owner(path / f.name, f)
            with open(f, "rb") as fh:
                os.fsync(fh.fileno())
        _keep_mode_and_owner(path, tmp, directory=True)
        _fsync_dir(tmp)
        if path.exists():
            old = tmp.with_name(tmp.name[: -len(".tmp")] + ".old")
            if _exchange(tmp, path):
                os.replace(tmp, old)  # tmp now holds the previous directory
            else:
                os.replace(path, old)
                os.replace(tmp, path)
            _fsync_dir(parent)
            if keep_previous and any(os.scandir(old)):
                _keep_as_previous(old, previous_path(path))
            else:
                shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, path)
            _fsync_dir(parent)
    except BaseException as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        if _write_failure(exc, committing):
            raise InputError(path, f"cannot write: {exc.strerror}") from None
        raise


def _keep_as_previous(old: Path, prev: Path) -> None:
    """Move the replaced directory to `prev`, removing the one kept before."""
    if prev.exists() and _exchange(old, prev):
        shutil.rmtree(old, ignore_errors=True)  # old now holds the older one
    else:
        if prev.exists():
            shutil.rmtree(prev)
        os.replace(old, prev)
    _fsync_dir(prev.parent)


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
