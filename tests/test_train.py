import pytest

from stance.train import _previous_metrics


@pytest.mark.parametrize(
    "body",
    [
        b'{"metrics": []}',
        b"[1]",
        b'{"metrics": {"embedding+logreg": {"macro_f1": "x", "f_avg": 0.1}}}',
        b"\xff\xfe not json",
    ],
)
def test_a_previous_model_that_cannot_be_compared_is_skipped(tmp_path, body):
    """Read after minutes of cross-validation: it must never crash the run."""
    (tmp_path / "config.json").write_bytes(body)
    assert _previous_metrics(tmp_path) is None


def test_previous_metrics_are_read(tmp_path):
    (tmp_path / "config.json").write_text(
        '{"metrics": {"embedding+logreg": {"macro_f1": 0.5, "f_avg": 0.4}}}'
    )
    assert _previous_metrics(tmp_path) == {"macro_f1": 0.5, "f_avg": 0.4}
