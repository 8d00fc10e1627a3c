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
"""

from __future__ import annotations

import functools
import unicodedata

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


def with_language(turn):
    """The turn with `meta.lang` set; a language the input gives is kept."""
    given = turn.meta.get("lang")
    if isinstance(given, str) and given:
        return turn
    return turn.with_meta(lang=detect_language(turn.text))


def skip_reason(turn, languages=ENCODER_LANGUAGES) -> str | None:
    """Why the model gives this turn no stance (`language: ru`), or None.

    Turns of an undetermined language (`und`) and turns without `meta.lang`
    are labelled.
    """
    lang = turn.meta.get("lang")
    if not isinstance(lang, str) or lang in (UNDETERMINED, "", *languages):
        return None
    return f"language: {lang}"
