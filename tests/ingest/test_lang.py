"""Language of each turn: detected at parse time, and turns the English-only
encoder cannot read are left without a stance, with the reason."""

import csv
import json

import pytest
from conftest import ROOT, SEEDS, run_cli
from hypothesis import given, settings
from hypothesis import strategies as st

from stance.core.thread import Turn
from stance.ingest.lang import (
    LOOKUP_BATCH,
    UNDETERMINED,
    LanguageCache,
    detect_language,
    sample_key,
    skip_reason,
    with_languages,
)
from stance.ingest.parse import parse_paths

LANG = ROOT / "tests" / "fixtures" / "lang"


def _sources():
    with open(LANG / "SOURCES.tsv", encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh, delimiter="\t"))


# Site chrome in English on a Polish page: an address, too short to tell.
NOT_THE_PAGES_LANGUAGE = {"304 North Cardinal St."}


@pytest.mark.parametrize("page", _sources(), ids=lambda r: r["file"])
def test_every_turn_of_a_real_foreign_page_is_recognised(page):
    turns = parse_paths([LANG / page["file"]]).turns
    assert turns
    for t in turns:
        if t.text in NOT_THE_PAGES_LANGUAGE:
            assert t.meta["lang"] == UNDETERMINED
        else:
            assert t.meta["lang"] == page["lang"], t.text[:60]
            assert skip_reason(t) == f"language: {page['lang']}"


def test_no_english_turn_of_the_shipped_pages_is_taken_for_another_language():
    """804 turns, many short (names, 'To:', titles): none is left unlabelled.

    The pages of the first 805 labels (seeds, the shared threads, ga_ and gb_),
    all English. The pages gathered later hold some real German, Polish, Russian
    and Swedish lines, which are meant to be found."""
    first = [
        p
        for p in sorted((SEEDS / "threads").glob("*.txt"))
        if not (
            p.name[:1] == "g"
            and p.name[2:3] == "_"
            and p.name[:3] not in ("ga_", "gb_")
        )
    ]
    turns = parse_paths([*sorted(SEEDS.glob("*.txt")), *first]).turns
    assert len(turns) > 700
    langs = {t.meta["lang"] for t in turns}
    assert langs <= {"en", UNDETERMINED}, langs
    assert [t for t in turns if skip_reason(t)] == []


@pytest.mark.parametrize(
    "text, lang",
    [
        ("Газета «Правда», 24 серпня 1929 року", "uk"),  # short, but Cyrillic
        ("To:", UNDETERMINED),
        ("Hari Kumar hari.kumar at sympatico.ca", UNDETERMINED),
        ("Stalin had no choice.", "en"),
        ("1939", UNDETERMINED),
        (
            "Der Pakt zwischen Hitlers Deutschland und Stalins Sowjetunion "
            "entfesselte den Zweiten Weltkrieg in Europa.",
            "de",
        ),
    ],
)
def test_short_turns_are_only_called_foreign_when_that_is_reliable(text, lang):
    assert detect_language(text) == lang


def test_a_one_word_cyrillic_turn_is_not_english_whichever_language_it_is():
    lang = detect_language("Спасибо!")  # Russian; py3langid says Uzbek
    assert lang not in ("en", UNDETERMINED)


RUSSIAN = "Пакт был подписан в Москве 23 августа."
ENGLISH = "The pact was signed in Moscow in August."


def _turn(i, text, meta=None):
    return Turn(str(i), None, "c", None, None, text, meta or {})


def test_a_language_the_input_gives_is_kept(tmp_path):
    cache = LanguageCache(tmp_path / "languages.sqlite")
    turns = [_turn(1, RUSSIAN, {"lang": "en"}), _turn(2, RUSSIAN)]
    assert [t.meta["lang"] for t in with_languages(turns, cache)] == ["en", "ru"]


def test_a_text_met_before_is_looked_up_not_detected(tmp_path, monkeypatch):
    from stance.ingest import lang

    pages = sorted(LANG.glob("*.txt")) + sorted(SEEDS.glob("*.txt"))
    read = parse_paths(pages, dedupe=False).turns
    # no meta.lang; each text three times, in more than one batch
    turns = [_turn(i, t.text) for i, t in enumerate([*read, *read, *read])]
    assert len(turns) > LOOKUP_BATCH  # more than one batch, in order
    path = tmp_path / "languages.sqlite"
    first = [t.meta["lang"] for t in with_languages(turns, LanguageCache(path))]
    assert first == [detect_language(t.text) for t in turns]
    assert {"en", "de", "pl"} <= set(first)

    lang._identifier.cache_clear()  # py3langid unloaded
    again = [t.meta["lang"] for t in with_languages(turns, LanguageCache(path))]
    assert again == first
    assert lang._identifier.cache_info().misses == 0  # and never loaded again


def test_the_cache_answers_only_for_the_same_detector(tmp_path, monkeypatch):
    from stance.ingest import lang

    cache = LanguageCache(tmp_path / "languages.sqlite")
    cache.put_many(lang.detector_id(), {sample_key(RUSSIAN): "pl"})  # planted
    assert next(with_languages([_turn(1, RUSSIAN)], cache)).meta["lang"] == "pl"
    monkeypatch.setattr(lang, "detector_id", lambda: "another detector")
    assert next(with_languages([_turn(1, RUSSIAN)], cache)).meta["lang"] == "ru"


@pytest.mark.parametrize("stored", ["", "not a code", "12", b"ru"])
def test_a_damaged_cache_value_is_detected_again(tmp_path, stored):
    from stance.ingest import lang

    cache = LanguageCache(tmp_path / "languages.sqlite")
    cache.put_many(lang.detector_id(), {sample_key(RUSSIAN): stored})
    assert next(with_languages([_turn(1, RUSSIAN)], cache)).meta["lang"] == "ru"


def test_a_corrupt_language_cache_is_moved_aside(tmp_path, caplog):
    path = tmp_path / "languages.sqlite"
    path.write_bytes(b"garbage, not a database\n" * 100)
    with caplog.at_level("WARNING"):
        got = list(
            with_languages([_turn(1, RUSSIAN), _turn(2, ENGLISH)], LanguageCache(path))
        )
    assert [t.meta["lang"] for t in got] == ["ru", "en"]
    assert "corrupt language cache" in caplog.text and "rebuilding it" in caplog.text
    assert list(tmp_path.glob("languages.sqlite.corrupt-*"))


def test_turns_that_all_give_a_language_open_no_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("STANCE_CACHE", str(tmp_path / "cache"))
    turns = [_turn(1, RUSSIAN, {"lang": "ru"}), _turn(2, ENGLISH, {"lang": "en"})]
    assert list(with_languages(turns)) == turns
    assert not (tmp_path / "cache").exists()


def test_skip_reason_is_none_for_readable_undetermined_or_unknown_languages():
    def turn(meta):
        return Turn("1", None, "c", None, None, "x", meta)

    assert skip_reason(turn({"lang": "en"})) is None
    assert skip_reason(turn({"lang": UNDETERMINED})) is None
    assert skip_reason(turn({})) is None
    assert skip_reason(turn({"lang": "pl"})) == "language: pl"
    assert skip_reason(turn({"lang": "pl"}), languages=("en", "pl")) is None


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_detection_never_fails_and_gives_a_code(text):
    lang = detect_language(text)
    assert isinstance(lang, str) and 2 <= len(lang) <= 3


@pytest.mark.parametrize("suffix", [".jsonl", ".csv", ".parquet"])
def test_streamed_structured_turns_get_a_language_too(tmp_path, suffix):
    import pandas as pd

    from stance.ingest.parse import iter_turns

    frame = pd.DataFrame(
        {
            "id": ["a", "b"],
            "text": [
                "Пакт был подписан в Москве 23 августа.",
                "The pact was signed in Moscow in August.",
            ],
        }
    )
    src = tmp_path / f"turns{suffix}"
    if suffix == ".jsonl":
        frame.to_json(src, orient="records", lines=True, force_ascii=False)
    elif suffix == ".csv":
        frame.to_csv(src, index=False)
    else:
        frame.to_parquet(src)
    assert [t.meta["lang"] for t in iter_turns([src])] == ["ru", "en"]


@pytest.mark.slow
def test_label_leaves_foreign_turns_without_a_stance(tmp_path):
    english = SEEDS / "000_da80d79405789213.txt"
    out = tmp_path / "rows.jsonl"
    res = run_cli("label", LANG, english, "-o", out)
    assert res.returncode == 0, res.stderr
    rows = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()]
    foreign = [r for r in rows if r["meta"]["lang"] not in ("en", UNDETERMINED)]
    assert len(foreign) == 45
    for r in foreign:
        assert r["stance"] is None and r["confidence"] is None and r["scores"] is None
        assert r["skipped"] == f"language: {r['meta']['lang']}"
    others = [r for r in rows if r not in foreign]
    assert others and all(r["stance"] and r["skipped"] is None for r in others)
    summary = res.stderr.strip().splitlines()[-1]
    assert f"{len(rows)} turns, {len(others)} labelled" in summary
    assert "45 skipped, no stance (language: de 12, language: pl 12" in summary

    # the same columns on every CSV row; --any-language labels every turn
    res = run_cli("label", LANG, "-o", tmp_path / "rows.csv")
    assert res.returncode == 0, res.stderr
    with open(tmp_path / "rows.csv", encoding="utf-8", newline="") as fh:
        table = list(csv.DictReader(fh))
    assert {"skipped", "score_favor", "score_against", "score_none"} <= set(table[0])
    assert sum(r["stance"] == "" for r in table) == 45
    res = run_cli("label", LANG, "--any-language")
    assert res.returncode == 0, res.stderr
    every = [json.loads(x) for x in res.stdout.splitlines()]
    assert all(r["stance"] and r["skipped"] is None for r in every)
    assert "skipped" not in res.stderr
