"""A process that writes forever, for tests/core/test_files.py to kill with SIGKILL.

    python tests/killed_writer.py MODE PATH START

MODE is `labels` (LabelFile.append), `output` (write_rows, .jsonl or .csv by the
suffix of PATH) or `model` (StanceClassifier.save). It prints `ready` once its
imports are done, then the number of each write as soon as it has completed,
counting from START. `append PATH WRITER N` appends N labels and exits: the
concurrent-append test runs several at once. The functions that make the
content are imported by the tests to check what they find on disk.
"""

from __future__ import annotations

import sys
from pathlib import Path

STANCES = ("favor", "against", "none")


def label_row(k: int) -> dict:
    """Label k; every tenth is long (~20 KB), so one write needs several syscalls."""
    filler = "the pact, signed in Moscow; " * (700 if k % 10 == 3 else 2)
    return {
        "text": f"row {k:06d}: {filler}end {k}",
        "stance": STANCES[k % 3],
        "annotator": "kill-test",
        "note": 'quote " and comma , kept',
    }


def output_rows(version: int, n: int = 1500) -> list[dict]:
    """Rows as `stance label` writes them; every row names its version."""
    return [
        {
            "id": f"v{version}:{i:05d}",
            "speaker": f"s{i % 9}",
            "conversation_id": f"v{version}",
            "reply_to": None if i == 0 else f"v{version}:{i - 1:05d}",
            "timestamp": None,
            "text": f"version {version} turn {i}: the pact bought time, or did not.",
            "meta": {"kind": "comment", "sources": [], "quotes": []},
            "stance": STANCES[(i + version) % 3],
            "confidence": 0.5,
            "scores": {s: round(1 / 3, 4) for s in STANCES},
            "model": "kill-test",
        }
        for i in range(n)
    ]


def model_intercept(version: int):
    import numpy as np

    return np.array([version, -version, 0.5], dtype=np.float64)


def save_model(path: Path, version: int) -> None:
    import numpy as np

    from stance.model.classify import StanceClassifier
    from stance.model.heads import LinearHead

    head = LinearHead(
        STANCES,
        np.arange(3 * 64, dtype=np.float64).reshape(3, 64) / (version + 1),
        model_intercept(version),
    )
    model = StanceClassifier.from_heads(head, encoder_id="kill-test", backend="onnx")
    model.save(
        path,
        extra_config={"kill_test_version": version},
        card=f"# kill test model {version}\n" + "padding line\n" * 20000,
    )


def main() -> None:
    mode, path = sys.argv[1], Path(sys.argv[2])
    if mode == "append":
        from stance.labelling.labels import LabelFile

        writer, n = sys.argv[3], int(sys.argv[4])
        for i in range(n):
            LabelFile(path).append(
                {"text": f"writer {writer} label {i}", "stance": STANCES[i % 3]}
            )
        return
    k = int(sys.argv[3])
    if mode == "labels":
        from stance.labelling.labels import LabelFile

        def write(k):
            LabelFile(path).append(label_row(k))
    elif mode == "output":
        from stance.core.writers import write_rows

        def write(k):
            write_rows(path, output_rows(k))
    elif mode == "model":
        import stance.model.classify  # noqa: F401  (imports outside the timed loop)

        def write(k):
            save_model(path, k)
    else:
        raise SystemExit(f"unknown mode {mode}")
    print("ready", flush=True)
    while True:
        write(k)
        print(k, flush=True)
        k += 1


if __name__ == "__main__":
    main()
