"""`stance init` and the schema: label names live only in schemas."""

import ast
import re

import pytest
from conftest import ROOT, run_cli

from stance.core.errors import InputError
from stance.core.schema import read_schema


def test_init_writes_a_debate_every_command_accepts(tmp_path):
    d = tmp_path / "rumours"
    res = run_cli(
        "init",
        d,
        "--target",
        "The rumour is true",
        "--labels",
        "support,deny,query,comment",
        "--sides",
        "support,deny",
    )
    assert res.returncode == 0, res.stderr
    sch = read_schema(d / "labels" / "schema.toml")
    assert sch.names == ("support", "deny", "query", "comment")
    assert sch.sides == ("support", "deny")
    assert (d / "labels" / "labels.csv").read_text().startswith("text,stance")
    assert (d / "README.md").is_file()
    # the same folder again: refused, nothing overwritten
    before = (d / "labels" / "schema.toml").read_bytes()
    res = run_cli("init", d, "--target", "x", "--labels", "a,b")
    assert res.returncode == 2 and len(res.stderr.strip().splitlines()) == 1
    assert "schema.toml" in res.stderr and "already exists" in res.stderr
    assert (d / "labels" / "schema.toml").read_bytes() == before
    # --schema from elsewhere works too, and training with no labels says why
    res = run_cli("train", "--schema", d / "labels" / "schema.toml", cwd=tmp_path)
    assert res.returncode == 2 and "only 0 labels" in res.stderr


def test_init_refuses_bad_label_lists(tmp_path):
    for labels in ("solo", "a,a", "a,b c"):
        res = run_cli(
            "init",
            tmp_path / labels.replace(",", "_").replace(" ", "_"),
            "--target",
            "t",
            "--labels",
            labels,
        )
        assert res.returncode == 2, labels
        assert "Traceback" not in res.stderr


def test_no_label_name_is_hard_coded_in_the_package():
    """Label names come from schemas: no string literal in stance/ is a label name.

    "against", "none" and "comment" are also English words (messages, the
    parser's turn kind "comment" is not a label), so a literal counts when it
    *is* a shipped label name, or mentions one that has no other use ("favor").
    """
    names = set(read_schema(ROOT / "labels" / "schema.toml").names)
    only_labels = re.compile(r"\bfavou?r\b", re.IGNORECASE)
    hits = []
    for path in sorted((ROOT / "stance").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                value = node.value
                if value.strip().lower() in names or only_labels.search(value):
                    hits.append(
                        f"{path.relative_to(ROOT)}:{node.lineno}: {value[:60]!r}"
                    )
    assert not hits, hits


SCHEMA = """name = "t"
[[labels]]
name = "a"
color = {color}
[[labels]]
name = "b"
"""


@pytest.mark.parametrize(
    "color",
    ["#2b7bba", "#abc", "#2b7bba80", "teal", "rgb(1, 2, 3)", "hsl(120 50% 40%)"],
)
def test_css_colours_are_accepted(tmp_path, color):
    path = tmp_path / "schema.toml"
    path.write_text(SCHEMA.format(color=f'"{color}"'), encoding="utf-8")
    assert read_schema(path).colors["a"] == color


@pytest.mark.parametrize(
    "color", ["red' onload='x", "#12", "url(x)", "red;background:blue", "</style>"]
)
def test_a_colour_that_is_not_css_is_a_one_line_error(tmp_path, color):
    """Colours go into the report's style attributes: nothing else gets there."""
    path = tmp_path / "schema.toml"
    path.write_text(SCHEMA.format(color=repr(color)), encoding="utf-8")
    with pytest.raises(InputError, match="label 1: color .* is not a CSS colour"):
        read_schema(path)


def test_check_label_is_the_one_unknown_label_message():
    from stance.core.schema import check_label

    names = ("favor", "against", "none")
    assert check_label("none", names, "a.csv") == "none"
    with pytest.raises(InputError) as err:
        check_label("maybe", names, "a.csv", line=3)
    assert str(err.value) == (
        "a.csv line 3: unknown label 'maybe' (expected favor, against, none)"
    )
    with pytest.raises(InputError) as err:
        check_label("Favor", names, "x.json", where="task 2 (id 12)")
    assert str(err.value) == (
        "x.json: task 2 (id 12): unknown label 'Favor' (expected favor, against, none)"
    )


def test_known_moves_are_read_per_label_and_init_writes_none(tmp_path):
    """The shipped schema lists the guideline's typical moves for its sides;
    `stance init` writes an empty list; a move without phrasings is refused."""
    shipped = read_schema(ROOT / "labels" / "schema.toml")
    for spec in shipped.labels:
        if spec.name in shipped.sides:
            assert len(spec.moves) >= 3
            assert all(m.name and m.phrasings for m in spec.moves)
    res = run_cli("init", tmp_path / "d", "--target", "t", "--labels", "a,b")
    assert res.returncode == 0, res.stderr
    text = (tmp_path / "d" / "labels" / "schema.toml").read_text()
    assert "moves = []" in text
    made = read_schema(tmp_path / "d" / "labels" / "schema.toml")
    assert all(s.moves == () for s in made.labels)
    bad = tmp_path / "bad.toml"
    for moves, problem in (
        ('[[labels.moves]]\nname = "m"\nphrasings = []', "'phrasings' must be"),
        ('[[labels.moves]]\nphrasings = ["x"]', "move 1 has no name"),
        ("moves = 3", "'moves' must be a list"),
    ):
        bad.write_text(
            f'[[labels]]\nname = "a"\n{moves}\n[[labels]]\nname = "b"\n',
            encoding="utf-8",
        )
        with pytest.raises(InputError, match=problem):
            read_schema(bad)
