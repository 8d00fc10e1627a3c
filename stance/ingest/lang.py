"""The language of a turn, and which turns the encoder can read.

The encoder (all-MiniLM-L6-v2) and the TF-IDF head were trained on English
only: a Russian, Polish, Ukrainian or German turn would get a confident stance
that means nothing. Parsing therefore records each turn's language in
`meta.lang`, and labelling leaves turns in a language the model does not read
without a stance (`predict.skip_reason`).

`detect_language` (py3langid, offline, its probabilities normalised), on the
first `SAMPLE_CHARS` characters:

1. `en` when English is the most probable language;
2. otherwise the most probable language when at least half of the letters are
   outside the Latin script (Cyrillic, Greek, Arabic...): such a turn is not
   English however short it is;
3. otherwise that language when its probability is at least `MIN_PROBABILITY`
   and English's below `MAX_ENGLISH`;
4. otherwise `und` (undetermined, as in BCP 47).

Short or mixed Latin-script turns ("To:", a name and a mail address, an English
sentence quoting a Russian title) land in rule 4 and are labelled as English.
On the shipped pages no English turn was left unlabelled this way, and every
Russian, Polish, Ukrainian and German turn of tests/fixtures/lang/ was
recognised (BENCHMARKS.md, `python bench/language.py`).

`with_languages` sets `meta.lang` on a stream of turns. Detection is most of
the cost of re-labelling cached turns, so each result is kept in the language
cache (`languages.sqlite` beside the embedding cache), keyed by a hash of the
sample and named by `detector_id()`: py3langid's version, this file and the
Unicode database. A text met in any earlier run is looked up, not detected
again, and a run that finds every text there never loads py3langid.
"""

from __future__ import annotations

import functools
import hashlib
import unicodedata
from collections.abc import Iterable, Iterator
from pathlib import Path

from stance.core.cache import SqliteCache

UNDETERMINED = "und"
SAMPLE_CHARS = 2000  # a page-sized turn is classified by its start
MIN_PROBABILITY = 0.5
MAX_ENGLISH = 0.01
MIN_NON_LATIN = 0.5  # share of letters outside the Latin script


@functools.cache
def _identifier():
    """py3langid's model with normalised probabilities (0.6 s to load, once)."""
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


def non_latin_share(text: str) -> float:
    """The share of the letters of `text` outside the Latin script (0 if none)."""
    letters = [c for c in text if c.isalpha()]
    if not letters:
        return 0.0
    latin = sum("LATIN" in unicodedata.name(c, "") for c in letters)
    return 1 - latin / len(letters)


def detect_language(text: str) -> str:
    """ISO 639-1 code of the turn's language, or `und` when that is unreliable."""
    sample = text[:SAMPLE_CHARS]
    if not any(c.isalpha() for c in sample):
        return UNDETERMINED
    ranked = _identifier().rank(sample)
    top, probability = ranked[0]
    if top == "en":
        return "en"
    if non_latin_share(sample) >= MIN_NON_LATIN:
        return str(top)
    english = next((p for lang, p in ranked if lang == "en"), 0.0)
    if probability >= MIN_PROBABILITY and english < MAX_ENGLISH:
        return str(top)
    return UNDETERMINED


# The languages the encoder (all-MiniLM-L6-v2) and the TF-IDF head were trained on.
ENCODER_LANGUAGES = ("en",)


LOOKUP_BATCH = 512  # turns looked up in the cache at once


@functools.cache
def detector_id() -> str:
    """Names what decides a turn's language: another id, another cache space."""
    from importlib.metadata import version

    rules = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:12]
    return f"py3langid-{version('py3langid')}+{rules}+unicode-{unicodedata.unidata_version}"


def sample_key(text: str) -> str:
    """The cache key of a turn's text: a hash of the sample that is classified."""
    sample = text[:SAMPLE_CHARS].encode("utf-8", "surrogatepass")
    return hashlib.blake2b(sample, digest_size=16).hexdigest()


class LanguageCache(SqliteCache):
    """(detector id, sample hash) -> language code, in languages.sqlite."""

    table, space_column, value_column = "lang", "detector", "lang"
    what, items, filename = "language cache", "languages", "languages.sqlite"

    def decode(self, value):
        ok = isinstance(value, str) and value.isascii() and value.isalpha()
        return value if ok and 2 <= len(value) <= 3 else None


def _given(turn) -> bool:
    lang = turn.meta.get("lang")
    return isinstance(lang, str) and bool(lang)


def with_languages(turns: Iterable, cache: LanguageCache | None = None) -> Iterator:
    """The turns, in order, each with `meta.lang`; a language the input gives is kept.

    Streams in batches of `LOOKUP_BATCH`. `cache`: the language cache to use
    (default: `languages.sqlite` in `cache_dir()`, opened at the first turn
    without a language).
    """
    batch: list = []
    for turn in turns:
        batch.append(turn)
        if len(batch) == LOOKUP_BATCH:
            cache = yield from _detect_batch(batch, cache)
            batch = []
    yield from _detect_batch(batch, cache)


def _detect_batch(batch: list, cache: LanguageCache | None):
    """Yield the batch's turns with their languages; return the cache (opened
    here if it was None and a turn needed it)."""
    keys = {i: sample_key(t.text) for i, t in enumerate(batch) if not _given(t)}
    if not keys:
        yield from batch
        return cache
    cache = cache or LanguageCache()
    space = detector_id()
    found = cache.get_many(space, list(keys.values()))
    new: dict[str, str] = {}
    for i, key in keys.items():
        if key not in found and key not in new:
            new[key] = detect_language(batch[i].text)
    if new:
        cache.put_many(space, new)
        found.update(new)
    for i, turn in enumerate(batch):
        yield turn.with_meta(lang=found[keys[i]]) if i in keys else turn
    return cache


def skip_reason(turn, languages=ENCODER_LANGUAGES) -> str | None:
    """Why the model gives this turn no stance (`language: ru`), or None.

    Turns of an undetermined language (`und`) and turns without `meta.lang`
    are labelled.
    """
    lang = turn.meta.get("lang")
    if not isinstance(lang, str) or lang in (UNDETERMINED, "", *languages):
        return None
    return f"language: {lang}"
