"""Golden check: `parse`, `label` and `report` on shipped pages, byte for byte.

The expected outputs in tests/data/golden/ were made by the commands below with
the shipped model (models/default); any change to what these commands write or
print (turns, rows, the HTML, Markdown and JSON report, the summary lines,
`--explain`) fails here. A change meant to alter them regenerates the files with
STANCE_UPDATE_GOLDEN=1 (the one run that writes into the checkout) and says why
in its commit.
"""

from __future__ import annotations

import os

import pytest
from conftest import ROOT, SEEDS, run_cli

GOLDEN = ROOT / "tests" / "data" / "golden"

# A few pages of each kind keep the check fast: the seed pages (articles and
# comments, quotes, numbered comments), three held-out pages (forum posts), and
# three shared threads (reddit, lemmy, a forum).
SEED_PAGES = sorted(SEEDS.glob("*.txt"))
HELDOUT_PAGES = [
    SEEDS / "heldout" / "ho_aproundtable_nazi-soviet-pact.txt",
    SEEDS / "heldout" / "ho_britishpoles_hitler-stalin-pact.txt",
    SEEDS / "heldout" / "ho_kountrylife_317078.txt",
]
THREAD_PAGES = [
    SEEDS / "threads" / "gb_reddit_yurop_13c29z5_jjjwojk.txt",
    SEEDS / "threads" / "ga_lemmygrad_366617.txt",
    SEEDS / "threads" / "debatepolitics_366031.txt",
]
PAGES = [*SEED_PAGES, *HELDOUT_PAGES, *THREAD_PAGES]
# Paths relative to the checkout (the commands run there): turns record their
# source file, so the outputs do not depend on where the checkout lies.
SEED_PAGES, PAGES = (
    [str(p.relative_to(ROOT)) for p in pages] for pages in (SEED_PAGES, PAGES)
)
HELDOUT_PAGES = [str(p.relative_to(ROOT)) for p in HELDOUT_PAGES]

# name of the output file -> the command that writes it (OUT is its path)
COMMANDS = {
    "turns.jsonl": ["parse", *PAGES, "--explain", "-o", "OUT"],
    "turns-no-dedup.jsonl": ["parse", *PAGES, "--no-dedup", "-o", "OUT"],
    "labelled.jsonl": ["label", *PAGES, "-q", "-o", "OUT"],
    "labelled.csv": ["label", *PAGES, "-q", "-o", "OUT"],
    "labelled-thread-aware.jsonl": [
        "label",
        *PAGES,
        "-q",
        "--thread-aware",
        "-o",
        "OUT",
    ],
    "report.html": ["report", *SEED_PAGES, *HELDOUT_PAGES, "-q", "-o", "OUT"],
    "report.md": ["report", *SEED_PAGES, *HELDOUT_PAGES, "-q", "-o", "OUT"],
    "report.json": ["report", *SEED_PAGES, *HELDOUT_PAGES, "-q", "-o", "OUT"],
}


def _shown(text: str, tmp_path) -> str:
    """What stance printed, with the machine's paths taken out.

    Third-party noise is left out: the encoder's first use exports it to ONNX
    (weights loading bars, tracer warnings, each warning's echoed source line,
    blank lines).
    """
    kept, after_warning = [], False
    for line in text.splitlines(keepends=True):
        noise = (
            not line.strip()
            or line.startswith("Loading weights")
            or "Warning: " in line
        )
        if not noise and not after_warning:
            kept.append(line)
        after_warning = "Warning: " in line
    return "".join(kept).replace(str(tmp_path), "TMP").replace(str(ROOT), "ROOT")


@pytest.mark.slow
@pytest.mark.parametrize("name", list(COMMANDS))
def test_outputs_are_byte_identical_to_the_golden_files(name, tmp_path):
    out = tmp_path / name
    args = [str(out) if a == "OUT" else a for a in COMMANDS[name]]
    res = run_cli(*args)
    assert res.returncode == 0, res.stderr
    got = {
        name: out.read_bytes(),
        name + ".stderr": _shown(res.stderr, tmp_path).encode(),
    }
    for file, data in got.items():
        expected = GOLDEN / file
        if os.environ.get("STANCE_UPDATE_GOLDEN"):
            expected.parent.mkdir(parents=True, exist_ok=True)
            expected.write_bytes(data)
            continue
        assert expected.exists(), f"no golden file {expected}"
        assert data == expected.read_bytes(), (
            f"{file} differs from {expected} (regenerate with "
            "STANCE_UPDATE_GOLDEN=1 only for an intended change)"
        )
