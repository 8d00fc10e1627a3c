"""The report data → Markdown or self-contained HTML, through the jinja2
templates in templates/ (package data).

The HTML environment escapes every `{{ }}` with html.escape (its `finalize`);
a template marks the fragments it rendered itself with `|safe`. The Markdown
environment escapes nothing.
"""

from __future__ import annotations

import html
from functools import cache
from pathlib import Path

import jinja2
from markupsafe import Markup

from stance.core.schema import Schema
from stance.report.data import NO_STANCE, NOTHING_TO_LABEL, UNCERTAIN_BELOW, _page


def _counted(rep: dict) -> str:
    """`143 turns labelled` or `143 turns, 98 labelled (45 without a stance)`."""
    skipped = sum(rep.get("skipped", {}).values())
    if not skipped:
        return f"{rep['n']} turns labelled"
    return (
        f"{rep['n']} turns, {rep['n'] - skipped} labelled ({skipped} without a stance)"
    )


def _short(text: str, n: int = 220) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1] + "…"


def _agreement_text(a: dict) -> str:
    o = a["overall"]
    text = (
        f"{o['n']} turns of these pages have a human label. The model agrees with "
        f"{o['agree']} of them ({o['accuracy']:.0%}); macro-F1 {o['macro_f1']:.3f}. "
        "Only agreement on labels the model was not trained on measures how it "
        "does on unseen pages."
    )
    if a["unscored"]:
        text += f" {a['unscored']} labelled turns have no stance (their language)."
    if a.get("abstained"):
        text += f" {a['abstained']} labelled turns are marked uncertain."
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


def _escape(value) -> str:
    """Every expression of the HTML template, escaped as the report always was."""
    if isinstance(value, Markup):
        return value
    return html.escape(str(value))


@cache
def _environment(kind: str) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("stance.report", "templates"),
        autoescape=False,
        finalize=_escape if kind == "html" else None,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
        undefined=jinja2.StrictUndefined,
    )
    env.filters.update(fmt=_fmt, short=_short, page=_page, zip=zip)
    return env


def _render(kind: str, rep: dict) -> str:
    sch: Schema = rep["schema"]
    return (
        _environment(kind)
        .get_template(f"report.{kind}.j2")
        .render(
            rep=rep,
            schema=sch,
            names=list(sch.names),
            colors=sch.colors,
            counted=_counted(rep),
            zero_shot=str(rep["model"]).startswith("zero-shot"),
            agreement_text=_agreement_text(rep["agreement"])
            if rep.get("agreement")
            else "",
            skipped_text=_skipped_text(rep["skipped"]) if rep.get("skipped") else "",
            uncertain_below=rep.get("uncertain_below", UNCERTAIN_BELOW),
            no_stance=NO_STANCE,
            nothing_to_label=NOTHING_TO_LABEL,
        )
    )


def render_markdown(rep: dict) -> str:
    return _render("md", rep)


def render_html(rep: dict) -> str:
    return _render("html", rep)


# What `stance report -o` writes, by extension: the one list of report formats
# (stdout and devices get the first).
RENDERERS = {".html": render_html, ".md": render_markdown}

REPORT_FORMATS = tuple(RENDERERS)


def render_report(rep: dict, path: str | Path) -> str:
    """The report in the format its output path asks for."""
    return RENDERERS.get(Path(path).suffix.lower(), render_html)(rep)
