"""How the schema's known moves match the shipped labelled turns.

For every labelled turn (labels/*.csv and labels/heldout/*.csv, the texts of
the parsed pages' turns), its sentences are matched to the moves of every
label as the report does (`report.keypoints.match_moves`). Per move: how many
turns it catches, and how often the move's label is the turn's human label.
A threshold sweep chose `keypoints.MOVE_THRESHOLD`.

    .venv/bin/python bench/moves_bench.py            # Markdown tables
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

THRESHOLDS = (0.45, 0.5, 0.55, 0.6, 0.65)


def main() -> None:
    from stance.core.schema import read_schema
    from stance.labelling.labels import read_label_rows
    from stance.labelling.suggest import project_label_files
    from stance.model.embed import Embedder
    from stance.report.keypoints import MOVE_THRESHOLD, match_moves, turn_sentences

    schema = read_schema(ROOT / "labels" / "schema.toml")
    labelled: dict[str, str] = {}
    for f in project_label_files(schema):
        for lab in read_label_rows(f, schema.names)[0]:
            labelled.setdefault(lab.text, lab.stance)
    texts = list(labelled)
    moves = [(spec.name, m) for spec in schema.labels for m in spec.moves]
    t0 = time.perf_counter()
    embedder = Embedder()
    sents = turn_sentences([(str(i), t) for i, t in enumerate(texts)])
    vectors = embedder.embed([s.text for s in sents])
    phrasings = [embedder.embed(list(m.phrasings)) for _, m in moves]
    seconds = time.perf_counter() - t0
    print(
        f"{len(texts)} labelled turns, {len(sents)} sentences, "
        f"{len(moves)} moves; encoded {embedder.encoded} new texts in {seconds:.0f} s\n"
    )
    print("| threshold | turns caught | move's label = human label |")
    print("|---|---|---|")
    tables = {}
    for threshold in THRESHOLDS:
        matched = match_moves(vectors, phrasings, threshold)
        caught: dict[int, set[int]] = {}
        for s, m in zip(sents, matched, strict=True):
            if m >= 0:
                caught.setdefault(int(m), set()).add(int(s.turn_id))
        pairs = [(m, t) for m, ts in caught.items() for t in ts]
        agree = sum(labelled[texts[t]] == moves[m][0] for m, t in pairs)
        print(
            f"| {threshold} | {len({t for _, t in pairs})} | "
            f"{agree}/{len(pairs)} ({agree / max(len(pairs), 1):.0%}) |"
        )
        tables[threshold] = caught
    print(f"\nPer move at the report's threshold {MOVE_THRESHOLD}:\n")
    print("| label | move | turns caught | human label agrees | human labels |")
    print("|---|---|---|---|---|")
    caught = tables[MOVE_THRESHOLD]
    for m, (label, move) in enumerate(moves):
        ts = caught.get(m, set())
        humans = Counter(labelled[texts[t]] for t in ts)
        agree = humans.get(label, 0)
        share = f"{agree / len(ts):.0%}" if ts else "–"
        spread = ", ".join(f"{k} {v}" for k, v in humans.most_common())
        print(f"| {label} | {move.name} | {len(ts)} | {share} | {spread} |")
    base = Counter(labelled.values())
    print(
        "\nBase rates of the human labels: "
        + ", ".join(f"{k} {v} ({v / len(texts):.0%})" for k, v in base.most_common())
    )


if __name__ == "__main__":
    main()
