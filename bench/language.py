"""Language detection: accuracy on real foreign and English turns, and speed.

Foreign: every turn of tests/fixtures/lang/ (12 real Russian, Polish, Ukrainian
and German pages; each turn's expected language is its page's, from
SOURCES.tsv). English: every turn of the shipped English pages (seeds/,
seeds/threads/, seeds/heldout/). Short turns: the first 2, 3, 5, 8 and 12
words of each of those turns, to see where detection stops being reliable.

Rows: `stance.ingest.lang.detect_language` (py3langid plus the rule of lang.py) and,
when installed, the raw top language of py3langid, lingua-language-detector and
langdetect for comparison (`pip install lingua-language-detector langdetect`).
A turn is *skipped* when its language is neither `en` nor `und`.

    python bench/language.py            # table to stdout, bench/results/, BENCHMARKS.md
"""

from __future__ import annotations

import argparse
import csv
import importlib.metadata
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from stance.core.progress import NO_PROGRESS, on_terminal, progress_bars  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures" / "lang"
ENGLISH_PAGES = [ROOT / "seeds", ROOT / "seeds" / "threads", ROOT / "seeds" / "heldout"]
PREFIX_WORDS = (2, 3, 5, 8, 12)
MARKERS = ("<!-- language:begin -->", "<!-- language:end -->")


def load_turns():
    """(foreign turns with their expected language, English turn texts)."""
    from stance.ingest.parse import parse_paths

    with open(FIXTURES / "SOURCES.tsv", encoding="utf-8", newline="") as fh:
        lang_of = {r["file"]: r["lang"] for r in csv.DictReader(fh, delimiter="\t")}
    foreign = []
    for t in parse_paths([FIXTURES]).turns:
        page = Path(t.meta["sources"][0]["file"]).name
        foreign.append((t.text, lang_of[page]))
    english = [t.text for t in parse_paths(ENGLISH_PAGES).turns]
    return foreign, english


def fresh_load_s(repeat: int = 3) -> float:
    """Best of `repeat` fresh processes: seconds to import and load py3langid's
    model (what `stance parse` pays once per run)."""
    import subprocess

    code = (
        "import time; t = time.perf_counter(); from stance.ingest.lang import _identifier; "
        "_identifier(); print(time.perf_counter() - t)"
    )
    runs = [
        float(
            subprocess.run(
                [sys.executable, "-c", code],
                cwd=ROOT,
                capture_output=True,
                text=True,
                check=True,
            ).stdout
        )
        for _ in range(repeat)
    ]
    return min(runs)


def detectors() -> dict:
    """Name -> (detect function, load seconds, wheel size MB, licence)."""
    out = {}

    def size(dist: str) -> float:
        files = importlib.metadata.distribution(dist).files or []
        total = 0
        for f in files:
            try:
                total += f.locate().stat().st_size
            except OSError:
                pass
        return total / 1e6

    def licence(dist: str) -> str:
        meta = importlib.metadata.metadata(dist)
        return meta.get("License-Expression") or meta.get("License") or "?"

    from stance.ingest import lang

    load = fresh_load_s()
    out["stance detect_language (py3langid + rule)"] = (
        lang.detect_language,
        load,
        size("py3langid"),
        licence("py3langid"),
    )
    ident = lang._identifier()
    out["py3langid top-1 (no rule)"] = (
        lambda t: ident.classify(t)[0],
        load,
        size("py3langid"),
        licence("py3langid"),
    )
    try:
        from lingua import LanguageDetectorBuilder

        t0 = time.perf_counter()
        det = LanguageDetectorBuilder.from_all_languages().build()
        det.detect_language_of("warm up")

        def lingua_detect(text):
            found = det.detect_language_of(text)
            return found.iso_code_639_1.name.lower() if found else "und"

        out["lingua-language-detector top-1"] = (
            lingua_detect,
            time.perf_counter() - t0,
            size("lingua-language-detector"),
            licence("lingua-language-detector"),
        )
    except ImportError:
        pass
    try:
        from langdetect import DetectorFactory, detect
        from langdetect.lang_detect_exception import LangDetectException

        t0 = time.perf_counter()
        DetectorFactory.seed = 0
        detect("warm up text")

        def langdetect_detect(text):
            try:
                return detect(text)
            except LangDetectException:
                return "und"

        out["langdetect top-1"] = (
            langdetect_detect,
            time.perf_counter() - t0,
            size("langdetect"),
            licence("langdetect"),
        )
    except ImportError:
        pass
    return out


def skipped(code: str) -> bool:
    return code not in ("en", "und")


def measure(detect, foreign, english, task) -> dict:
    t0 = time.perf_counter()
    f_pred = [detect(text) for text, _ in foreign]
    task.advance(len(foreign))
    e_pred = [detect(text) for text in english]
    task.advance(len(english))
    rate = (len(foreign) + len(english)) / (time.perf_counter() - t0)
    res = {
        "foreign_n": len(foreign),
        "foreign_exact": sum(p == g for p, (_, g) in zip(f_pred, foreign, strict=True)),
        "foreign_skipped": sum(map(skipped, f_pred)),
        "english_n": len(english),
        "english_skipped": sum(map(skipped, e_pred)),
        "english_skipped_examples": [
            f"{p}: {t[:60]}" for p, t in zip(e_pred, english, strict=True) if skipped(p)
        ][:8],
        "turns_per_s": round(rate, 1),
        "prefix": {},
    }
    for k in PREFIX_WORDS:
        fk = [" ".join(t.split()[:k]) for t, _ in foreign if len(t.split()) > k]
        ek = [" ".join(t.split()[:k]) for t in english if len(t.split()) > k]
        res["prefix"][k] = {
            "foreign_n": len(fk),
            "foreign_skipped": sum(skipped(detect(t)) for t in fk),
            "english_n": len(ek),
            "english_skipped": sum(skipped(detect(t)) for t in ek),
        }
        task.advance(len(fk) + len(ek))
    return res


def pct(a: int, n: int) -> str:
    return f"{a}/{n} ({100 * a / n:.1f}%)" if n else "—"


def render(results: dict, meta: dict, total_s: float) -> str:
    head = (
        "Command: `python bench/language.py` (the comparison rows need "
        "`pip install lingua-language-detector langdetect`); "
        f"{meta['foreign']} turns of {meta['pages']} real ru/pl/uk/de pages "
        f"(tests/fixtures/lang/), {meta['english']} turns of the English pages "
        f"(seeds/, seeds/threads/, seeds/heldout/); run time {total_s:.0f} s on "
        f"{os.cpu_count()} cores. *Skipped*: detected as a language other than "
        "`en` or `und`, i.e. left without a stance by `stance label`. The one "
        "foreign-page turn no row gets right is English site chrome on a Polish "
        "page (an address, `304 North Cardinal St.`): `und` is the right answer. "
        "*load s*: importing the detector and loading its model, once per process."
    )
    rows = [
        "| detector | licence, installed size | load s | turns/s | foreign: exact "
        "language | foreign skipped | English skipped (wrongly) |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, r in results.items():
        rows.append(
            f"| {name} | {r['licence']}, {r['size_mb']:.1f} MB | {r['load_s']:.2f} | "
            f"{r['turns_per_s']:,.0f} | {pct(r['foreign_exact'], r['foreign_n'])} | "
            f"{pct(r['foreign_skipped'], r['foreign_n'])} | "
            f"{pct(r['english_skipped'], r['english_n'])} |"
        )
    short = [
        "",
        "Short turns (the first k words of each longer turn): foreign skipped, "
        "English skipped (wrongly).",
        "",
        "| detector | " + " | ".join(f"{k} words" for k in PREFIX_WORDS) + " |",
        "|---" * (len(PREFIX_WORDS) + 1) + "|",
    ]
    for name, r in results.items():
        cells = []
        for k in PREFIX_WORDS:
            p = r["prefix"][k]
            f = 100 * p["foreign_skipped"] / max(p["foreign_n"], 1)
            e = 100 * p["english_skipped"] / max(p["english_n"], 1)
            cells.append(f"{f:.0f}% / {e:.1f}%")
        short.append(f"| {name} | " + " | ".join(cells) + " |")
    return head + "\n\n" + "\n".join(rows + short)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--no-benchmarks-md", action="store_true")
    ap.add_argument("--quiet", action="store_true", help="no progress bar")
    args = ap.parse_args()
    t0 = time.perf_counter()
    foreign, english = load_turns()
    found = detectors()
    per_run = len(foreign) + len(english)
    per_run += sum(
        sum(len(t.split()) > k for t in [*english, *(x for x, _ in foreign)])
        for k in PREFIX_WORDS
    )
    results = {}
    with progress_bars(on_terminal() and not args.quiet) as bars:
        task = (bars or NO_PROGRESS).task("detecting", total=per_run * len(found))
        for name, (detect, load_s, size_mb, lic) in found.items():
            r = measure(detect, foreign, english, task)
            results[name] = {**r, "load_s": load_s, "size_mb": size_mb, "licence": lic}
    meta = {
        "foreign": len(foreign),
        "english": len(english),
        "pages": len({p for p in FIXTURES.glob("*.txt")}),
    }
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "language.json").write_text(json.dumps(results, indent=2) + "\n")
    section = render(results, meta, time.perf_counter() - t0)
    from learning_curve import publish

    publish(
        section,
        out / "language.md",
        not args.no_benchmarks_md,
        MARKERS,
        "Language detection",
    )


if __name__ == "__main__":
    main()
