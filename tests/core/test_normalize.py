import re
import sys
import unicodedata

from hypothesis import given, settings
from hypothesis import strategies as st

from stance.core.normalize import _SPLIT_MAX, _TRANSLATE, collapse_space, normalize_text


def previous_normalize(text: str) -> str:
    """The first definition of the join key, kept to pin the fast one to it."""
    text = unicodedata.normalize("NFKC", text).translate(_TRANSLATE)
    return re.sub(r"\s+", " ", text).strip().casefold()


def test_split_and_regex_agree_on_whitespace():
    everything = "".join(map(chr, range(sys.maxunicode + 1)))
    assert re.findall(r"\s", everything) == [c for c in everything if c.isspace()]


@settings(max_examples=500, deadline=None)
@given(
    st.text(
        alphabet=st.one_of(
            st.characters(codec="utf-8"),
            st.sampled_from([chr(k) for k in _TRANSLATE] + list(" \t\n`'\"-")),
        ),
        max_size=60,
    )
)
def test_normalize_text_matches_previous_definition(text):
    assert normalize_text(text) == previous_normalize(text)


def test_folds_quotes_dashes_space_and_case():
    text = "  It\u2019s \u201cFINE\u201d \u2014 `really`\u00a0\u2026\n\tOK "
    assert normalize_text(text) == "it's \"fine\" - 'really' ... ok"
    assert normalize_text(text) == previous_normalize(text)


def test_long_texts_take_the_regex_path_with_the_same_result():
    text = "a\u00a0b \t\n c\u2003\u2003d  e\x1cf " * (_SPLIT_MAX // 8)
    assert len(text) > _SPLIT_MAX
    assert collapse_space(text) == " ".join(text.split())
    assert collapse_space(text[:100]) == " ".join(text[:100].split())
