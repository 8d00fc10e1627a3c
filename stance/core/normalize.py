"""Text normalisation shared by dedup, label joins and the embedding cache."""

from __future__ import annotations

import hashlib
import re
import unicodedata

_TRANSLATE = str.maketrans(
    {
        "\u2018": "'",
        "\u2019": "'",
        "\u201a": "'",
        "\u201b": "'",
        "\u2032": "'",
        "`": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u201e": '"',
        "\u00ab": '"',
        "\u00bb": '"',
        "\u2010": "-",
        "\u2011": "-",
        "\u2012": "-",
        "\u2013": "-",
        "\u2014": "-",
        "\u2015": "-",
        "\u2212": "-",
        "\u00a0": " ",
        "\u2026": "...",
    }
)
# Every whitespace run becomes one space. Single spaces are left alone rather
# than replaced, so re.sub builds few pieces on long texts (a 50 MB page).
_SPACE = re.compile(r"\s{2,}|[^\S ]")
_SPLIT_MAX = 1 << 16  # characters
_FOLDS = {chr(k): v for k, v in _TRANSLATE.items()}
_FOLD = re.compile("[" + re.escape("".join(_FOLDS)) + "]")


def _fold(match: re.Match) -> str:
    return _FOLDS[match.group()]


def normalize_text(text: str) -> str:
    """Fold Unicode quotes and dashes, whitespace and case: the join key of a text."""
    if not text.isascii():  # NFKC leaves ASCII text as it is
        text = unicodedata.normalize("NFKC", text)
    # Same as text.translate(_TRANSLATE), but scans in C and calls back per match.
    return collapse_space(_FOLD.sub(_fold, text)).casefold()


def collapse_space(text: str) -> str:
    """Every run of whitespace as one space, none at the ends."""
    if len(text) <= _SPLIT_MAX:
        # str.split() splits on exactly the characters regex \s matches; it is
        # 3x faster, but on a page-sized text its list of words would be large.
        return " ".join(text.split())
    return _SPACE.sub(" ", text).strip()


def text_key(text: str) -> str:
    """A short stable hash of the normalised text."""
    return hashlib.sha256(normalize_text(text).encode("utf-8")).hexdigest()[:32]
