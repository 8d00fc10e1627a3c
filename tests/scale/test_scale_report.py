"""The report of a labelled Parquet dataset counted by dask.dataframe is the
report of the same rows counted in one process."""

import json

import pyarrow.parquet as pq
import pytest
from conftest import ROOT, SEEDS

from stance.core.schema import find_schema
from stance.core.writers import write_row_dataset
from stance.ingest.parse import iter_turns, parse_paths
from stance.model.find import load_model
from stance.model.predict import abstain, predict_rows
from stance.report.data import dataset_report
from stance.report.render import render_html, render_markdown
from stance.scale.report import dataset_report as dask_report


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    """1,000 labelled rows in 20 parts: speakers, months, pages, a few turns in
    Russian (no stance) and some under --min-confidence."""
    sch = find_schema(ROOT / "labels" / "schema.toml")
    texts = [t.text for t in parse_paths(sorted(SEEDS.glob("*.txt"))[:2]).turns]
    texts.append("Пакт Молотова-Риббентропа был подписан в августе 1939 года в Москве.")
    tmp = tmp_path_factory.mktemp("dataset")
    src = tmp / "turns.jsonl"
    with open(src, "w", encoding="utf-8") as fh:
        for i in range(1000):
            rec = {
                "id": f"t{i}",
                "conversation_id": f"page{i % 9}",
                "speaker": None if i % 11 == 0 else f"u{i % 13}",
                "timestamp": 1_600_000_000 + 86_400 * 7 * (i % 40) if i % 5 else None,
                "text": texts[i % len(texts)],
            }
            fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
    model = load_model(None, sch)
    rows = list(abstain(predict_rows(iter_turns([src]), model), 0.8))
    out = tmp / "labelled"
    write_row_dataset(
        out, (rows[k : k + 50] for k in range(0, 1000, 50)), model.classes_
    )
    return out, sch


def rows_back(path):
    rows = pq.read_table(path).to_pylist()
    for r in rows:
        r["meta"] = json.loads(r["meta"])
    return rows


def test_dask_report_is_the_one_process_report(dask_client, dataset):
    path, sch = dataset
    want = dataset_report(rows_back(path), sch, str(path))
    got = dask_report(path, sch, dask_client)
    assert got == want
    assert want.skipped and want.abstained and len(want.per_month) > 10
    assert render_markdown(got) == render_markdown(want)
    assert render_html(got) == render_html(want)


def test_report_cli_on_a_dataset(dataset, tmp_path):
    from conftest import run_cli

    path, sch = dataset
    out = tmp_path / "r.md"
    res = run_cli("report", path, "-o", out)
    assert res.returncode == 0, res.stderr
    assert out.read_text() == render_markdown(
        dataset_report(rows_back(path), sch, str(path))
    )
