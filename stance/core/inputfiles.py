"""Reading user files robustly: bytes from files, FIFOs and devices (with
limits), binary refused, text decoded (BOMs, UTF-8 with stray bytes, legacy
encodings)."""

from __future__ import annotations

import codecs
import contextlib
import os
import re
import stat
import unicodedata
from pathlib import Path

from stance.core.errors import InputError, warn

_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def decode_bytes(data: bytes, path: str | Path = "<bytes>") -> tuple[str, str]:
    """Decode a text file's bytes; return (text, encoding used).

    BOMs first, then strict UTF-8; then UTF-8 with a few stray bytes (a page
    pasted together from two encodings): decoded as UTF-8, each bad byte shown
    as U+FFFD, counted in the encoding's name and in a warning; else
    charset-normalizer's best guess, trusted (a fixed preference for cp1252
    read Polish cp1250 pages as "Mo³otow"). Raises InputError for empty or
    binary data.
    """
    if not data.strip():
        raise InputError(path, "empty file")
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                return data.decode(encoding), encoding
            except UnicodeDecodeError as exc:
                raise InputError(path, f"not valid {encoding}: {exc.reason}") from None
    if _binary(data[:_BINARY_SAMPLE], complete=len(data) <= _BINARY_SAMPLE):
        raise InputError(path, "binary file (NUL bytes), not text")
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    stray = _utf8_with_stray_bytes(data)
    if stray is not None:
        text, bad = stray
        s = "s" if bad > 1 else ""
        warn(f"{path}: {bad} byte{s} not UTF-8, shown as \ufffd")
        return text, f"utf-8 ({bad} bad byte{s} replaced)"
    from charset_normalizer import from_bytes

    matches = from_bytes(data, cp_isolation=list(WEB_ENCODINGS))
    best = matches.best()
    if best is None or not _looks_textual(str(best)):
        raise InputError(path, "binary file or unknown text encoding")
    text, encoding = str(best), best.encoding
    if encoding in LATIN_ENCODINGS:
        text, encoding = _likeliest_latin(data, text, encoding, matches)
    return text, encoding


# Latin-script code pages: the detector tells them apart badly on a page with
# a few accented letters (it read "naïvely" in cp1252 as cp1250 "naďvely").
LATIN_ENCODINGS = frozenset(
    {"cp1250", "cp1252", "cp1254", "cp1257", "cp1258", "iso8859_2", "iso8859_3",
     "iso8859_4", "iso8859_10", "iso8859_13", "iso8859_14", "iso8859_15",
     "iso8859_16"}
)  # fmt: skip

COMMON_LATIN = ("cp1252", "cp1250", "iso8859_2")

_NON_ASCII = re.compile(r"[^\x00-\x7f]")


def _likeliest_latin(data: bytes, text: str, encoding: str, matches):
    """Among the Latin readings the detector found (and the common ones), the
    one with the fewest symbols inside words: read as cp1252, Polish "Mołotow"
    in cp1250 is "Mo³otow", "Śmigły" in ISO-8859-2 "¦mig³y". Ties go to the
    web's most common legacy code pages (COMMON_LATIN, in order), then to the
    detector's order."""
    readings = {encoding: text}
    for m in matches:
        if m.encoding in LATIN_ENCODINGS:
            readings.setdefault(m.encoding, str(m))
    for common in COMMON_LATIN:
        with contextlib.suppress(UnicodeDecodeError):
            readings.setdefault(common, data.decode(common))
    order = list(readings)

    def rank(e: str) -> int:
        return COMMON_LATIN.index(e) if e in COMMON_LATIN else len(COMMON_LATIN)

    def odd(t: str) -> int:
        n = 0
        for m in _NON_ASCII.finditer(t):
            cat = unicodedata.category(m.group())
            if (cat[0] == "S" or cat == "No") and (
                t[m.start() - 1 : m.start()].isalpha()
                or t[m.end() : m.end() + 1].isalpha()
            ):
                n += 1
        return n

    chosen = min(order, key=lambda e: (odd(readings[e]), rank(e), order.index(e)))
    return readings[chosen], chosen


# The legacy encodings web pages are written in (the WHATWG Encoding
# Standard's, its two Mac ones left out), among which charset-normalizer's
# guess is taken. Measured on real pages re-encoded (tests/fixtures/encodings,
# `make.py --measure`): over all its code pages it read a cp1251 page as cp1125
# (425 characters wrong) and a KOI8-R one as mac_latin2 (416 wrong); with the
# Mac ones kept, the cp1251 page came back as mac_cyrillic (59 wrong).
WEB_ENCODINGS = (
    "cp1250", "cp1251", "cp1252", "cp1253", "cp1254", "cp1255", "cp1256",
    "cp1257", "cp1258", "cp874", "ibm866", "koi8_r", "koi8_u",
    "iso8859_2", "iso8859_3", "iso8859_4", "iso8859_5", "iso8859_6",
    "iso8859_7", "iso8859_8", "iso8859_10", "iso8859_13", "iso8859_14",
    "iso8859_15", "iso8859_16",
    "gb18030", "big5", "euc_jp", "iso2022_jp", "shift_jis", "euc_kr",
    "utf_16_le", "utf_16_be",
)  # fmt: skip


def _utf8_with_stray_bytes(data: bytes) -> tuple[str, int] | None:
    """UTF-8 text with some bytes that are not: (text, bad bytes), else None.

    It is UTF-8 when its valid multi-byte characters are at least as many as
    its bad bytes: text in a legacy code page almost never forms valid UTF-8
    sequences (cp1252 "é" is one byte, E9, followed by ASCII), while a UTF-8
    page with a stray cp1252 ’ still has its other ’ and — whole.
    """
    text = data.decode("utf-8", "surrogateescape")
    bad = len(_STRAY.findall(text))
    non_ascii = len(text) - len(text.encode("ascii", "ignore"))
    if not bad or non_ascii - bad < bad:
        return None
    return _STRAY.sub("\ufffd", text), bad


_STRAY = re.compile("[\udc80-\udcff]")


def _looks_textual(text: str) -> bool:
    sample = text[:20000]
    if not sample:
        return False
    bad = sum(1 for ch in sample if ord(ch) < 32 and ch not in "\r\n\t\f")
    return bad / len(sample) < 0.01


# FIFOs and character devices given as inputs (`<(cmd)`, /dev/stdin) are read
# up to this size; a FIFO nobody writes to is given up after FIFO_WAIT_S.
MAX_STREAM_BYTES = 256 << 20

FIFO_WAIT_S = 30.0

_BINARY_SAMPLE = 1 << 16


def read_bytes(path: str | Path) -> bytes:
    """A user file's bytes; an InputError naming the file when it cannot be read.

    Regular files are read whole. FIFOs and character devices are read up to
    MAX_STREAM_BYTES, and refused at once when their first 64 KiB are binary
    (/dev/zero, /dev/urandom); block devices and sockets are refused.
    """
    path = Path(path)
    try:
        mode = os.stat(path).st_mode
        if stat.S_ISBLK(mode) or stat.S_ISSOCK(mode):
            kind = "a block device" if stat.S_ISBLK(mode) else "a socket"
            raise InputError(path, f"is {kind}, not a file")
        if stat.S_ISFIFO(mode) or stat.S_ISCHR(mode):
            return _read_stream(path, fifo=stat.S_ISFIFO(mode))
        return path.read_bytes()
    except IsADirectoryError:
        raise InputError(path, "is a directory, expected a file") from None
    except FileNotFoundError:
        raise InputError(path, "no such file") from None
    except PermissionError:
        raise InputError(path, "permission denied") from None
    except OSError as exc:
        raise InputError(path, f"cannot read: {exc.strerror}") from None


def _read_stream(path: Path, fifo: bool) -> bytes:
    """Read a FIFO or character device, bounded in time (to a writer) and size."""
    import select

    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        if fifo:
            poll = select.poll()
            poll.register(fd, select.POLLIN)
            if not poll.poll(FIFO_WAIT_S * 1000):
                raise InputError(path, f"FIFO with no writer for {FIFO_WAIT_S:g} s")
        os.set_blocking(fd, True)
        chunks: list[bytes] = []
        size = 0
        while True:
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
            if size >= _BINARY_SAMPLE and len(chunks) <= 64:
                head = b"".join(chunks)[:_BINARY_SAMPLE]
                if _binary(head, complete=False):
                    raise InputError(path, "binary stream (NUL bytes), not text")
            if size > MAX_STREAM_BYTES:
                raise InputError(
                    path,
                    f"stream longer than {MAX_STREAM_BYTES >> 20} MiB; save it to a "
                    "file first",
                )
        return b"".join(chunks)
    finally:
        os.close(fd)


def _binary(sample: bytes, complete: bool) -> bool:
    """NUL bytes that make a file binary: those of UTF-16/32 without a BOM, of
    images and archives. A few NULs in otherwise valid UTF-8 (a CSV field
    that holds one, as stance itself may write) are text."""
    nuls = sample.count(0)
    if not nuls:
        return False
    if nuls * 10 >= len(sample):
        return True
    try:
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=complete)
    except UnicodeDecodeError:
        return True
    return False


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
    if _binary(head, complete=not more):
        raise InputError(path, "binary file (NUL bytes), not text")
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=not more)
    except UnicodeDecodeError:
        return None
    return "utf-8-sig"
