"""The report data → Markdown or self-contained HTML, through the jinja2
templates in templates/ (package data).

The HTML environment autoescapes every `{{ }}` (macros return safe markup);
the Markdown environment escapes nothing. `report_json` (model.py) writes the
same data as JSON.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import jinja2

from stance.report.data import NO_STANCE, NOTHING_TO_LABEL
from stance.report.model import Report, report_json
from stance.report.sections import TREE_TURNS

# Rows of the page and speaker tables shown; the rest sit in a collapsed
# <details> (HTML) and all of them in the CSV beside the report.
TOP_ROWS = 15


def _counted(rep: Report) -> str:
    """`143 turns labelled` or `143 turns, 98 labelled (45 without a stance)`."""
    skipped = sum(rep.skipped.values())
    if not skipped:
        return f"{rep.n} turns labelled"
    return f"{rep.n} turns, {rep.n - skipped} labelled ({skipped} without a stance)"


def _short(text: str, n: int = 220) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1] + "…"


def _agreement_text(a) -> str:
    o = a.overall
    text = (
        f"{o.n} turns of these pages have a human label. The model agrees with "
        f"{o.agree} of them ({o.accuracy:.0%}); macro-F1 {o.macro_f1:.3f}. "
        "Only agreement on labels the model was not trained on measures how it "
        "does on unseen pages."
    )
    if a.unscored:
        text += f" {a.unscored} labelled turns have no stance (their language)."
    if a.abstained:
        text += f" {a.abstained} labelled turns are marked uncertain."
    return text


def _skipped_text(skipped: dict) -> str:
    n = sum(skipped.values())
    parts = ", ".join(f"{k} ({v})" for k, v in skipped.items())
    return (
        f"{n} turns are in a language the model does not read (its encoder is "
        f"English-only), so they have no stance and are left out of the counts "
        f"above ({parts}). `--any-language` labels them anyway."
    )


def _fmt(value, spec: str) -> str:
    return format(value, spec)


@cache
def _environment(kind: str) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("stance.report", "templates"),
        autoescape=kind == "html",
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
        undefined=jinja2.StrictUndefined,
    )
    env.filters.update(fmt=_fmt, short=_short, zip=zip, link=_link)
    return env


def _link(q) -> str:
    """A quote's page address, at its line when the page is a local file."""
    if "://" in q.source:
        return q.source
    return f"{q.source}#L{q.line}" if q.line else q.source


def _render(kind: str, rep: Report) -> str:
    return (
        _environment(kind)
        .get_template(f"report.{kind}.j2")
        .render(
            rep=rep,
            names=rep.names,
            colors=rep.colors,
            counted=_counted(rep),
            zero_shot=str(rep.model).startswith("zero-shot"),
            agreement_text=_agreement_text(rep.agreement) if rep.agreement else "",
            skipped_text=_skipped_text(rep.skipped) if rep.skipped else "",
            uncertain_below=rep.uncertain_below,
            no_stance=NO_STANCE,
            nothing_to_label=NOTHING_TO_LABEL,
            top=TOP_ROWS,
            tree_turns=TREE_TURNS,
        )
    )


def render_markdown(rep: Report) -> str:
    return _render("md", rep)


def render_html(rep: Report) -> str:
    return _render("html", rep)


# What `stance report -o` writes, by extension: the one list of report formats
# (stdout and devices get the first).
RENDERERS = {".html": render_html, ".md": render_markdown, ".json": report_json}

REPORT_FORMATS = tuple(RENDERERS)


def render_report(rep: Report, path: str | Path) -> str:
    """The report in the format its output path asks for."""
    return RENDERERS.get(Path(path).suffix.lower(), render_html)(rep)


def table_csv(groups, names: list[str], first: str) -> str:
    """A page or speaker table in full, as CSV text."""
    import csv
    import io

    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow([first, "turns", *names, "uncertain", "no stance"])
    for g in groups:
        w.writerow(
            [g.group, g.n, *(g.counts[n] for n in names), g.uncertain, g.skipped]
        )
    return out.getvalue()


def write_report(rep: Report, path: str | Path) -> list[Path]:
    """Write the report and, beside a report file, its full page and speaker
    tables (`<name>_pages.csv`, `<name>_speakers.csv`), each atomically.
    Returns the files written (none for stdout)."""
    from stance.core.files import atomic_write_text

    path = Path(path)
    atomic_write_text(path, render_report(rep, path))
    if str(path) == "-" or not path.parent.is_dir() or path.is_char_device():
        return []
    written = [path]
    for what, groups, first in (
        ("pages", rep.per_page, "page"),
        ("speakers", rep.per_speaker, "speaker"),
    ):
        csv_path = path.with_name(f"{path.stem}_{what}.csv")
        atomic_write_text(csv_path, table_csv(groups, rep.names, first))
        written.append(csv_path)
    return written
