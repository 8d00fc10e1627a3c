"""Page dates → Unix seconds (UTC): which text dates a turn, how it is read."""

from datetime import UTC, datetime

import pytest
from conftest import SEEDS

from stance.core.thread import Turn
from stance.ingest.page import Dropped, parse_page_text
from stance.ingest.parse import parse_paths
from stance.ingest.timestamps import (
    clean_date_text,
    date_turns,
    has_year,
    is_relative,
    page_date,
    parse_timestamp,
)


def _utc(*args) -> int:
    return int(datetime(*args, tzinfo=UTC).timestamp())


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("May 02 '15", _utc(2015, 5, 2)),
        ("09/17/2025 10:09:11 AM PDT", _utc(2025, 9, 17, 17, 9, 11)),
        ("Thu, 10 Feb 2000 22:50:22 +0200", _utc(2000, 2, 10, 20, 50, 22)),
        ("Jul 24, 2017 14:37:31 GMT", _utc(2017, 7, 24, 14, 37, 31)),
        ("Sun Nov 26 16:26:31 PST 2000", _utc(2000, 11, 27, 0, 26, 31)),
        ("5:16PM BST 18 Oct 2008", _utc(2008, 10, 18, 16, 16)),
        ("Jan 21, 2017-Saturday", _utc(2017, 1, 21)),
        ("Tuesday, June 22, 2021", _utc(2021, 6, 22)),
        ("8/23/19", _utc(2019, 8, 23)),
        ("Jan 18 '25 edited Feb 06 '25", _utc(2025, 1, 18)),  # the first date
        ("no date here", None),
        ("Tuesday", None),
        ("", None),
    ],
)
def test_page_date_texts_are_read_as_utc_seconds(text, expected):
    assert parse_timestamp(text) == expected


def test_relative_dates_need_the_page_date_never_today():
    assert parse_timestamp("1d ago") is None
    assert parse_timestamp("2 months ago") is None
    base = _utc(2020, 3, 10, 12)
    assert parse_timestamp("1d ago", page_date=base) == _utc(2020, 3, 9, 12)
    assert parse_timestamp("3 years ago", page_date=base) == _utc(2017, 3, 10, 12)
    # a date without a year would take this year: it needs the page date too
    assert parse_timestamp("Sep 17") is None
    assert parse_timestamp("Sep 17", page_date=base) == _utc(2020, 9, 17)


REDDIT = """r/europe Poland Sep 17 '23

Stalin joined Hitler in the invasion of Poland on this day.

u/alpha 2d ago

The Soviet invasion was coordinated with Berlin from the start.

u/beta Sep 18 '23

The pact was signed weeks earlier in Moscow, that settles it.

u/gamma

I have no date on this comment at all, it seems.
"""


def test_turns_take_header_dates_and_relative_ones_against_the_page_date():
    turns, dropped = parse_page_text(REDDIT, "r.txt")
    dated = date_turns(turns, dropped)
    post = _utc(2023, 9, 17)
    assert [t.timestamp for t in dated] == [
        post,
        post - 2 * 86400,
        _utc(2023, 9, 18),
        None,
    ]
    assert [t.meta.get("timestamp_text") for t in dated] == [
        "Sep 17 '23",
        "2d ago",
        "Sep 18 '23",
        None,
    ]


def test_a_page_without_an_absolute_date_leaves_relative_dates_null():
    text = "u/alpha 2d ago\n\nThe Soviet invasion was coordinated with Berlin.\n"
    turns, dropped = parse_page_text(text, "r.txt")
    (turn,) = date_turns(turns, dropped)
    assert turn.timestamp is None and turn.meta["timestamp_text"] == "2d ago"


def test_article_paragraphs_share_the_article_date():
    turns = [
        Turn(
            f"a:{i}",
            None,
            "a",
            None,
            None,
            f"Paragraph {i}.",
            {"kind": "article", "sources": [{"file": "a", "line": 3 + 2 * i}]},
        )
        for i in range(3)
    ]
    dropped = [Dropped("a", 1, "December 30, 2019", "date line")]
    assert {t.timestamp for t in date_turns(turns, dropped)} == {_utc(2019, 12, 30)}


def test_page_date_is_the_first_absolute_date():
    assert page_date(["3d ago", None, "Sep 17 '23", "Oct 1 '23"]) == _utc(2023, 9, 17)
    assert page_date(["3d ago", None]) is None


def test_shipped_pages_have_plausible_unix_timestamps():
    turns = parse_paths([SEEDS, SEEDS / "threads"]).turns
    dated = [t for t in turns if t.timestamp is not None]
    assert len(dated) >= 90
    for t in dated:
        assert isinstance(t.timestamp, int), t.id
        # the seeds now hold 1930s-50s articles (gg_trotsky_*, gg_time1951_*): real dates
        assert _utc(1900, 1, 1) < t.timestamp < _utc(2027, 1, 1), t.id
        assert t.meta["timestamp_text"]
    # a text kept without a timestamp is a relative date, or a date without a
    # year (ho_volokh_*: "August 23"), on an undated page
    for t in turns:
        text = t.meta.get("timestamp_text")
        if t.timestamp is None and text:
            assert is_relative(clean_date_text(text)) or not has_year(text), t.id


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_timestamps_keep_their_type_through_csv_and_parquet(tmp_path, suffix):
    from stance.core.writers import write_rows
    from stance.ingest.parse import iter_structured

    base = {"speaker": None, "conversation_id": "c", "reply_to": None, "meta": {}}
    rows = [
        {**base, "id": "a", "timestamp": 1691193600, "text": "one"},
        {**base, "id": "b", "timestamp": "May 2", "text": "two"},
        {**base, "id": "c", "timestamp": None, "text": "three"},
        {**base, "id": "d", "timestamp": 1.5, "text": "four"},
    ]
    path = tmp_path / f"rows{suffix}"
    write_rows(path, rows)
    back = list(iter_structured(path))
    assert [t.timestamp for t in back] == [1691193600, "May 2", None, 1.5]
