"""The report data → Markdown or self-contained HTML."""

from __future__ import annotations

import html
from pathlib import Path

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


def render_markdown(rep: dict) -> str:
    sch: Schema = rep["schema"]
    names = list(sch.names)
    out = [
        f"# Stance report: {sch.name}",
        "",
        f"Target: {sch.target}",
        "",
        f"{_counted(rep)} by model `{rep['model']}`; a turn is *uncertain* "
        f"when its confidence is below {UNCERTAIN_BELOW}.",
        "",
    ]
    if str(rep["model"]).startswith("zero-shot"):
        out += ["> Provisional: zero-shot labels from the schema alone.", ""]
    out += [
        "## Stance distribution",
        "",
        _md_table([rep["overall"]], names, "scope"),
        "",
    ]
    out += ["### Per source page", "", _md_table(rep["per_page"], names, "page"), ""]
    out += _md_agreement(rep.get("agreement"))
    out += _md_skipped(rep.get("skipped"))
    if rep["per_speaker"]:
        out += [
            "### Per speaker",
            "",
            _md_table(rep["per_speaker"][:30], names, "speaker"),
            "",
        ]
    out += ["## Argument chains (most contested, then longest, first)", ""]
    for d in rep["chains"]:
        seq = " → ".join(
            (f"**[{s}]**" if k in d["turning_points"] else s or NO_STANCE)
            for k, s in enumerate(d["stances"])
        )
        out.append(
            f"- `{d['conversation_id']}` ({d['length']} turns, "
            f"{len(d['turning_points'])} turning points; participants: "
            f"{', '.join(d['participants'])}): {seq}"
        )
        if d["last_word"]:
            lw = rep["rows"][d["last_word"]]
            out.append(f"  - last word ({lw['stance']}): {_short(lw['text'], 160)}")
    out += [
        "",
        "Turning points (where the stance flips side) are in **[brackets]**.",
        "",
    ]
    out += ["## Key arguments of each side", ""]
    for side, items in rep["key_arguments"].items():
        out += [f"### {side}", ""]
        for r in items:
            out.append(
                f"- {_short(r['text'])} — *{_page(r)}* "
                f"(confidence {r['confidence']:.2f})"
            )
        out.append("")
    out += [
        "## Worth labelling next (unlabelled, lowest margin between the top two "
        "scores, round-robin over threads: the `stance suggest` order)",
        "",
    ]
    if not rep["next_to_label"]:
        out.append(f"- {NOTHING_TO_LABEL}")
    for r in rep["next_to_label"]:
        out.append(
            f"- `{r['id']}` guess {r['stance']} ({r['confidence']:.2f}): "
            f"{_short(r['text'], 160)}"
        )
    return "\n".join(out) + "\n"


def _md_table(groups, names, title) -> str:
    head = f"| {title} | turns | " + " | ".join(names) + " | uncertain | no stance |"
    rows = [head, "|---" * (len(names) + 4) + "|"]
    for g in groups:
        cells = [f"{g['counts'][n]} ({g['shares'][n]:.0%})" for n in names]
        rows.append(
            f"| {g['group']} | {g['n']} | "
            + " | ".join(cells)
            + f" | {g['uncertain']} | {g.get('skipped', 0)} |"
        )
    return "\n".join(rows)


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
    return text


def _md_agreement(a: dict | None) -> list[str]:
    if not a:
        return []
    head = "| {} | labelled turns | agree | agreement | macro-F1 |"
    out = ["## Model vs. human labels", "", _agreement_text(a), ""]
    out += [head.format("label files"), "|---" * 5 + "|"]
    for r in [*a["by_status"], a["overall"]]:
        out.append(
            f"| {r['group']} | {r['n']} | {r['agree']} | {r['accuracy']:.0%} | "
            f"{r['macro_f1']:.3f} |"
        )
    out += ["", "### Per page", ""]
    out += [head.format("page") + " label file |", "|---" * 6 + "|"]
    for r in a["per_page"]:
        out.append(
            f"| {r['group']} | {r['n']} | {r['agree']} | {r['accuracy']:.0%} | "
            f"{r['macro_f1']:.3f} | {r['files']} |"
        )
    return out + [""]


def _skipped_text(skipped: dict) -> str:
    n = sum(skipped.values())
    parts = ", ".join(f"{k} ({v})" for k, v in skipped.items())
    return (
        f"{n} turns are in a language the model does not read (its encoder is "
        f"English-only), so they have no stance and are left out of the counts "
        f"above ({parts}). `--any-language` labels them anyway."
    )


def _md_skipped(skipped: dict | None) -> list[str]:
    if not skipped:
        return []
    return ["## Turns without a stance", "", _skipped_text(skipped), ""]


def _svg_bars(groups, names, colors, width=640, bar=18) -> str:
    """A stacked horizontal bar per group, as inline SVG."""
    label_w = 220
    h = (bar + 8) * len(groups) + 30
    parts = [
        f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" width="{width}" '
        f'height="{h}" role="img" aria-label="stance distribution">'
    ]
    for i, g in enumerate(groups):
        y = 6 + i * (bar + 8)
        parts.append(
            f'<text x="0" y="{y + bar - 4}" font-size="12">'
            f"{html.escape(str(g['group'])[:32])}</text>"
        )
        x = label_w
        for n in names:
            w = (width - label_w - 10) * g["shares"][n]
            if w > 0:
                parts.append(
                    f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="{bar}" '
                    f'fill="{colors[n]}"><title>{n}: {g["counts"][n]}</title></rect>'
                )
            x += w
    ly = h - 10
    for k, n in enumerate(names):
        parts.append(
            f'<rect x="{label_w + k * 110}" y="{ly - 10}" width="12" height="12" '
            f'fill="{colors[n]}"/><text x="{label_w + k * 110 + 16}" y="{ly}" '
            f'font-size="12">{html.escape(n)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;max-width:980px;margin:2em auto;
padding:0 1em;color:#222;line-height:1.45}
h1{font-size:1.6em}h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:1.6em}
table{border-collapse:collapse;font-size:.9em;margin:.5em 0}
td,th{border:1px solid #ddd;padding:.25em .5em;text-align:left}
.chain{margin:.6em 0;padding:.4em .6em;border-left:3px solid #bbb;background:#fafafa}
.turn{display:inline-block;min-width:1.6em;padding:.1em .35em;margin:.1em;border-radius:3px;
color:#fff;font-size:.8em}
.turning{outline:2px solid #000;outline-offset:1px}
.quote{margin:.3em 0 .8em 0;padding:.3em .6em;border-left:4px solid #ccc}
.warn{background:#fff3cd;padding:.5em;border:1px solid #e0c060}
.small{color:#666;font-size:.85em}
@media print{body{max-width:none;margin:0}.chain,.quote{break-inside:avoid}}
"""


def render_html(rep: dict) -> str:
    sch: Schema = rep["schema"]
    names, colors = list(sch.names), sch.colors
    e = html.escape
    out = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width,initial-scale=1'>",
        f"<title>Stance report: {e(sch.name)}</title><style>{CSS}</style></head><body>",
        f"<h1>Stance report: {e(sch.name)}</h1>",
        f"<p><b>Target:</b> {e(sch.target)}</p>",
        f"<p class='small'>{_counted(rep)} by model <code>{e(str(rep['model']))}"
        f"</code>; uncertain = confidence below {UNCERTAIN_BELOW}.</p>",
    ]
    if str(rep["model"]).startswith("zero-shot"):
        out.append(
            "<p class='warn'>Provisional: zero-shot labels from the schema "
            "alone, before any training labels.</p>"
        )
    out.append("<h2>Stance distribution</h2>")
    out.append(_svg_bars([rep["overall"]] + rep["per_page"][:25], names, colors))
    out.append(_html_table([rep["overall"]] + rep["per_page"], names, "page"))
    if rep["per_speaker"]:
        out.append("<h3>Per speaker</h3>")
        out.append(_html_table(rep["per_speaker"][:30], names, "speaker"))
    out += _html_agreement(rep.get("agreement"))
    if rep.get("skipped"):
        out.append("<h2>Turns without a stance</h2>")
        out.append(f"<p>{e(_skipped_text(rep['skipped']))}</p>")
    out.append(
        "<h2>Argument chains</h2><p class='small'>Most contested, then longest, "
        "first. Outlined turns are turning points (the stance flips side).</p>"
    )
    for d in rep["chains"]:
        cells = []
        for k, (tid, s) in enumerate(zip(d["turn_ids"], d["stances"], strict=False)):
            r = rep["rows"].get(tid, {})
            cls = "turn turning" if k in d["turning_points"] else "turn"
            mark = s[:1].upper() if s else NO_STANCE
            cells.append(
                f"<span class='{cls}' style='background:{colors.get(s, '#999')}' "
                f"title='{e(_short(r.get('text', ''), 300))}'>{e(mark)}"
                f"</span>"
            )
        lw = rep["rows"].get(d["last_word"]) if d["last_word"] else None
        out.append(
            f"<div class='chain'><b>{e(d['conversation_id'])}</b> "
            f"<span class='small'>{d['length']} turns, "
            f"{len(d['turning_points'])} turning points, participants: "
            f"{e(', '.join(d['participants']))}</span><br>{''.join(cells)}"
            + (
                f"<div class='small'>last word ({e(lw['stance'])}): "
                f"{e(_short(lw['text'], 200))}</div>"
                if lw
                else ""
            )
            + "</div>"
        )
    out.append("<h2>Key arguments of each side</h2>")
    for side, items in rep["key_arguments"].items():
        out.append(f"<h3 style='color:{colors[side]}'>{e(side)}</h3>")
        for r in items:
            out.append(
                f"<div class='quote' style='border-color:{colors[side]}'>"
                f"{e(_short(r['text'], 400))}<div class='small'>{e(_page(r))}, "
                f"confidence {r['confidence']:.2f}</div></div>"
            )
    out.append("<h2>Worth labelling next</h2>")
    if not rep["next_to_label"]:
        out.append(f"<p>{e(NOTHING_TO_LABEL)}</p>")
    out.append("<ol>")
    for r in rep["next_to_label"]:
        out.append(
            f"<li><code>{e(r['id'])}</code> guess {e(r['stance'])} "
            f"({r['confidence']:.2f}): {e(_short(r['text'], 200))}</li>"
        )
    out.append("</ol></body></html>")
    return "\n".join(out)


def _html_table(groups, names, title) -> str:
    e = html.escape
    rows = [
        "<table><tr><th>"
        + e(title)
        + "</th><th>turns</th>"
        + "".join(f"<th>{e(n)}</th>" for n in names)
        + "<th>uncertain</th><th>no stance</th></tr>"
    ]
    for g in groups:
        rows.append(
            f"<tr><td>{e(str(g['group']))}</td><td>{g['n']}</td>"
            + "".join(
                f"<td>{g['counts'][n]} ({g['shares'][n]:.0%})</td>" for n in names
            )
            + f"<td>{g['uncertain']}</td><td>{g.get('skipped', 0)}</td></tr>"
        )
    rows.append("</table>")
    return "".join(rows)


def _html_agreement(a: dict | None) -> list[str]:
    if not a:
        return []
    e = html.escape

    def table(first, rows, files):
        head = (
            f"<table><tr><th>{e(first)}</th><th>labelled turns</th><th>agree</th>"
            "<th>agreement</th><th>macro-F1</th>"
            + ("<th>label file</th>" if files else "")
            + "</tr>"
        )
        body = "".join(
            f"<tr><td>{e(str(r['group']))}</td><td>{r['n']}</td><td>{r['agree']}</td>"
            f"<td>{r['accuracy']:.0%}</td><td>{r['macro_f1']:.3f}</td>"
            + (f"<td>{e(r['files'])}</td>" if files else "")
            + "</tr>"
            for r in rows
        )
        return head + body + "</table>"

    return [
        "<h2>Model vs. human labels</h2>",
        f"<p>{e(_agreement_text(a))}</p>",
        table("label files", [*a["by_status"], a["overall"]], False),
        "<h3>Per page</h3>",
        table("page", a["per_page"], True),
    ]


# What `stance report -o` writes, by extension: the one list of report formats
# (stdout and devices get the first).
RENDERERS = {".html": render_html, ".md": render_markdown}


REPORT_FORMATS = tuple(RENDERERS)


def render_report(rep: dict, path: str | Path) -> str:
    """The report in the format its output path asks for."""
    return RENDERERS.get(Path(path).suffix.lower(), render_html)(rep)
