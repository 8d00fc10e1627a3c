"""Key points per side (report/keypoints.py) with the real encoder, and the
report sections built on them: rebuttals, stance over time, the JSON."""

import json
from dataclasses import replace

import pytest

from stance.core.schema import Move, find_schema
from stance.core.thread import Turn

BOUGHT_TIME = [
    "The pact bought Stalin two years to rearm before the German attack came.",
    "Stalin needed time to build up the Red Army, and the pact gave him that time.",
    "The pact bought the Soviet Union the time it needed to prepare its defences.",
]
DIVIDED_POLAND = [
    "Hitler and Stalin divided Poland between themselves in September 1939.",
    "The secret protocol carved Poland up between the Nazis and the Soviets.",
    "Both dictators invaded Poland and split its territory between them.",
]
# as in the shipped schema
BOUGHT_TIME_PHRASINGS = (
    "The pact bought time.",
    "Stalin needed time to rearm and build up his defences before the German attack.",
)
OTHER = [
    "Chamberlain never wanted a real alliance with Moscow against Germany.",
    "London and Paris delayed the talks for months while Hitler prepared his war.",
    "My grandfather fought at Stalingrad and never talked about the war afterwards.",
    "The weather in Moscow that August was unusually hot for the season.",
    "Trade between the two countries grew quickly in the year after the treaty.",
    "Many of the archives from that period are still closed to researchers today.",
    "The film about the negotiations was shot in Riga with a small budget.",
    "School textbooks in several countries describe these events very differently.",
    "The railway lines between Brest and Minsk were rebuilt after the war ended.",
    "Historians still argue about how many soldiers took part in the parade.",
]


def _schema():
    schema = find_schema(None)
    favor, against = schema.sides
    labels = tuple(
        replace(
            spec,
            moves=(Move("The pact bought time", BOUGHT_TIME_PHRASINGS),)
            if spec.name == favor
            else (Move("They divided Poland", ("They divided Poland between them.",)),)
            if spec.name == against
            else (),
        )
        for spec in schema.labels
    )
    return replace(schema, labels=labels), favor, against


def _rows(spec):
    """spec: (id, stance, text, reply_to, timestamp); pages by id prefix."""
    turns, rows = [], []
    for tid, stance, text, reply_to, ts in spec:
        page = tid.split("-")[0]
        turn = Turn(tid, f"user {tid}", page, reply_to, ts, text, {})
        turn = turn.with_meta(sources=[{"file": f"pages/{page}.txt", "line": 7}])
        turns.append(turn)
        scores = {"favor": 0.1, "against": 0.1, "none": 0.1}
        scores[stance] = 0.8
        rows.append(
            {
                **turn.to_dict(),
                "stance": stance,
                "confidence": 0.8,
                "scores": scores,
                "model": "m",
            }
        )
    return turns, rows


@pytest.fixture(scope="module")
def embed():
    from stance.model.embed import Embedder

    return Embedder().embed


def test_sentences_are_split_and_fragments_dropped():
    from stance.report.keypoints import MAX_SENTENCES, split_sentences

    text = "Yes. The pact bought time for the Soviets! Did it? Nobody can say that for sure."
    assert split_sentences(text) == [
        "The pact bought time for the Soviets!",
        "Nobody can say that for sure.",
    ]
    long = " ".join(f"Sentence number {i} has five words." for i in range(99))
    assert len(split_sentences(long)) == MAX_SENTENCES


def test_turns_making_a_known_move_fall_under_it_and_others_do_not(embed):
    from stance.report.keypoints import key_points

    schema, favor, against = _schema()
    spec = [(f"a-{i}", favor, t, None, None) for i, t in enumerate(BOUGHT_TIME)]
    spec += [(f"b-{i}", favor, t, None, None) for i, t in enumerate(OTHER)]
    spec += [(f"c-{i}", against, t, None, None) for i, t in enumerate(DIVIDED_POLAND)]
    _, rows = _rows(spec)
    points = key_points(rows, schema, embed)
    moves = {p.statement: p for ps in points.values() for p in ps if p.kind == "move"}
    assert set(moves["The pact bought time"].turn_ids) == {"a-0", "a-1", "a-2"}
    assert set(moves["They divided Poland"].turn_ids) == {"c-0", "c-1", "c-2"}
    assert all(p.side == favor for p in points[favor])
    # the unmatched favor sentences leaning to favor are clustered, the others
    # (the archives sentence leans away) are under no point; statements are
    # real sentences
    from stance.report.keypoints import _prototypes

    protos = _prototypes(schema, embed)
    vecs = embed(OTHER)
    lean = vecs @ protos[favor] - (vecs @ protos[against]).clip(
        min=vecs @ protos["none"]
    )
    leaning = {f"b-{i}" for i in range(len(OTHER)) if lean[i] > 0}
    assert 0 < len(leaning) < len(OTHER)
    found = [p for p in points[favor] if p.kind == "found"]
    assert found and all(p.statement in OTHER for p in found)
    covered = {t for p in found for t in p.turn_ids}
    assert covered and covered <= leaning
    for p in found:
        assert 1 <= len(p.quotes) <= 3
        assert len({q.turn_id for q in p.quotes}) == len(p.quotes)
    assert key_points(rows, schema, embed) == points  # seeded: the same again


def test_report_data_carries_key_points_rebuttals_time_and_json(embed, tmp_path):
    from stance.report.data import build_report
    from stance.report.render import render_html, render_markdown, write_report

    schema, favor, against = _schema()
    day = 86400
    spec = [
        (f"p1-{i}", favor, t, None, 1_565_000_000 + i * day)
        for i, t in enumerate(BOUGHT_TIME)
    ]
    # each Poland turn answers a bought-time turn; a favor reply to a favor
    # turn is no rebuttal
    spec += [
        (f"p1-r{i}", against, t, f"p1-{i}", 1_570_000_000)
        for i, t in enumerate(DIVIDED_POLAND)
    ]
    spec += [("p1-same", favor, BOUGHT_TIME[0] + " Indeed.", "p1-0", None)]
    spec += [
        (
            "p2-0",
            "none",
            "<script>alert(1)</script> is not an argument at all.",
            None,
            None,
        )
    ]
    turns, rows = _rows(spec)
    rep = build_report(turns, rows, schema, "m", embed=embed)

    assert rep.counts == {favor: 4, against: 3, "none": 1}
    bought = next(k for k in rep.key_points if k.statement == "The pact bought time")
    assert bought.side == favor and bought.count == 4 and bought.share == 1.0
    assert bought.quotes[0].page == "p1.txt" and bought.quotes[0].line == 7
    assert rep.coverage[favor] == 1.0 and rep.coverage[against] == 1.0
    [reb] = rep.rebuttals
    assert (reb.side, reb.point, reb.answers_side, reb.answers_point, reb.count) == (
        against,
        "They divided Poland",
        favor,
        "The pact bought time",
        3,
    )
    [timeline] = rep.timelines  # one folder: only "all pages"
    assert timeline.unit == "month" and timeline.undated == 2
    assert [
        (p.period, p.counts[favor], p.counts[against]) for p in timeline.periods
    ] == [
        ("2019-08", 3, 0),
        ("2019-10", 0, 3),
    ]

    page, md = render_html(rep), render_markdown(rep)
    assert "<script>alert" not in page and "&lt;script&gt;alert(1)" in page
    for text in (page, md):
        assert "The pact bought time" in text and "Rebuttals" in text
        assert "Stance over time" in text
    assert 'href="pages/p1.txt#L7"' in page

    out = tmp_path / "r.json"
    written = write_report(rep, out)
    assert written == [out, tmp_path / "r_pages.csv", tmp_path / "r_speakers.csv"]
    data = json.loads(out.read_text(encoding="utf-8"))
    assert list(data)[:4] == ["name", "target", "model", "labels"]
    assert data["counts"] == rep.counts
    kp = next(k for k in data["key_points"] if k["statement"] == "The pact bought time")
    assert sorted(kp["turns"]) == ["p1-0", "p1-1", "p1-2", "p1-same"]
    assert {"side", "statement", "count", "turns", "quotes"} <= set(kp)
    assert kp["quotes"][0]["source"] == "pages/p1.txt"


def test_long_tables_are_cut_to_the_top_rows_and_written_whole_as_csv(tmp_path):
    from stance.report.data import build_report
    from stance.report.render import TOP_ROWS, render_html, write_report

    schema, favor, _ = _schema()
    n_pages = TOP_ROWS + 5
    spec = [
        (f"pg{k:02d}-{i}", favor, f"text {k} {i}", None, None)
        for k in range(n_pages)
        for i in range(k % 3 + 1)
    ]
    turns, rows = _rows(spec)
    rep = build_report(turns, rows, schema, "m")
    assert rep.key_points == () and len(rep.per_page) == n_pages
    page = render_html(rep)
    assert "<details><summary>5 more pages" in page
    write_report(rep, tmp_path / "report.html")
    lines = (tmp_path / "report_pages.csv").read_text().splitlines()
    assert lines[0] == f"page,turns,{','.join(schema.names)},uncertain,no stance"
    assert len(lines) == n_pages + 1
    speakers = (tmp_path / "report_speakers.csv").read_text().splitlines()
    assert len(speakers) == len(turns) + 1  # one speaker per turn here
