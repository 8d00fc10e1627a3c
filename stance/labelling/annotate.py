"""Labelling in the terminal: one turn at a time, one key per answer.

The turns come in `stance suggest` order (most informative first, spread over
threads, no near-duplicates, nothing labelled already). Each answer is appended
to the label file at once (`labels.LabelFile.append`: lock + fsync), so a crash or
Ctrl-C loses at most the turn on screen. A skip is recorded in a sidecar file
`NAME.csv.skipped` (one text key a line) so that a new session resumes where the
last one stopped; `--include-skipped` asks skipped turns again.

Keys come from the schema, never from fixed label names: digits 1..N in schema
order (up to 9), plus each label's first letter when no other label shares it
and it is not a control key. Control keys: `s` skip, `u` undo, `q` quit, `?`
help. At a terminal one key press answers; when stdin is not a terminal (keys
piped in) it is read one key per line: blank lines are ignored, a whole label
name is accepted too, and the end of input quits.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from stance.core.normalize import text_key
from stance.core.thread import Turn
from stance.labelling.suggest import Candidate, turn_source

CONTROLS = {"s": "skip", "u": "undo", "q": "quit", "?": "help"}
PARENT_CHARS = 400


def label_keys(names: Sequence[str]) -> dict[str, str]:
    """Key -> label: digits in schema order, plus unambiguous first letters."""
    keys = {str(i + 1): name for i, name in enumerate(names[:9])}
    firsts = [name[:1].lower() for name in names]
    for name, first in zip(names, firsts, strict=True):
        if (
            first.isalpha()
            and firsts.count(first) == 1
            and first not in CONTROLS
            and first not in keys
        ):
            keys[first] = name
    return keys


def legend(keys: dict[str, str], names: Sequence[str]) -> str:
    parts = []
    for name in names:
        ks = [k for k, v in keys.items() if v == name]
        parts.append(f"[{'/'.join(ks)}] {name}" if ks else f"[{name}] {name}")
    parts += [f"[{k}] {v}" for k, v in CONTROLS.items()]
    return "  ".join(parts)


def resolve_key(key: str, keys: dict[str, str], names: Sequence[str]) -> tuple | None:
    """('label', name) | ('skip',) | ('undo',) | ('quit',) | ('help',) | None."""
    k = key.strip()
    if k in keys:
        return ("label", keys[k])
    low = k.lower()
    if low in keys and low.isalpha():
        return ("label", keys[low])
    if low in CONTROLS:
        return (CONTROLS[low],)
    for name in names:
        if low == name.lower():
            return ("label", name)
    return None


@contextlib.contextmanager
def key_reader(stream=None) -> Iterator[Callable[[], str | None]]:
    """Yield a function returning the next key, or None at the end of input.

    A terminal is put in cbreak mode for the whole session (restored after), so
    one key press answers without Enter and keys typed ahead are kept; Ctrl-C
    and Ctrl-D end the session. Anything else is read one key per line, blank
    lines skipped.
    """
    stream = stream or sys.stdin
    if not stream.isatty():

        def read_line() -> str | None:
            while True:
                line = stream.readline()
                if not line:
                    return None
                if line.strip():
                    return line.strip()

        yield read_line
        return
    import termios
    import tty

    fd = stream.fileno()
    saved = termios.tcgetattr(fd)

    def read_char() -> str | None:
        data = os.read(fd, 1)
        if not data:
            return None
        while True:  # complete a multi-byte UTF-8 character
            try:
                ch = data.decode("utf-8")
                break
            except UnicodeDecodeError:
                if len(data) >= 4:
                    return "?"
                data += os.read(fd, 1)
        return None if ch in ("\x03", "\x04") else ch

    try:
        tty.setcbreak(fd, termios.TCSANOW)  # keep what was typed ahead
        yield read_char
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


# ------------------------------------------------------------------ skips


def skip_file(labels_path: Path) -> Path:
    return labels_path.with_name(labels_path.name + ".skipped")


def read_skipped(labels_path: Path) -> set[str]:
    path = skip_file(labels_path)
    if not path.is_file():
        return set()
    return {x.strip() for x in path.read_text(encoding="utf-8").split() if x.strip()}


def add_skipped(labels_path: Path, key: str) -> None:
    path = skip_file(labels_path)
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(key + "\n")
        fh.flush()
        os.fsync(fh.fileno())


def remove_skipped(labels_path: Path, key: str) -> None:
    from stance.core.files import atomic_write_text

    path = skip_file(labels_path)
    if not path.is_file():
        return
    lines = path.read_text(encoding="utf-8").splitlines()
    for k in range(len(lines) - 1, -1, -1):
        if lines[k].strip() == key:
            del lines[k]
            break
    atomic_write_text(path, "".join(x + "\n" for x in lines))


# ------------------------------------------------------------------ the loop


@contextlib.contextmanager
def deferred_interrupt():
    """Hold Ctrl-C (SIGINT) back while a label file is written, so a row is
    written whole or not at all; it is delivered right after."""
    import signal

    try:
        old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    except (AttributeError, ValueError, OSError):  # not POSIX / not main thread
        yield
        return
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


@dataclass
class Item:
    """One turn to ask about, with its parent (when known) and link evidence."""

    candidate: Candidate
    parent: Turn | None = None
    evidence: str = ""


@dataclass
class Summary:
    labels_path: str
    queued: int
    labelled: int = 0
    skipped: int = 0
    undone: int = 0
    position: int = 0
    answers: list[dict] = field(default_factory=list)

    @property
    def remaining(self) -> int:
        return self.queued - self.position


def _short(text: str, n: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1] + "…"


def show_item(console, item: Item, k: int, total: int, names, legend_text) -> None:
    from rich.markup import escape
    from rich.panel import Panel
    from rich.text import Text

    c = item.candidate
    t = c.turn
    head = f"── {k + 1}/{total} · {t.conversation_id} · {t.id} ──"
    body = Text()
    if item.parent is not None:
        who = item.parent.speaker or item.parent.id
        body.append(f"in reply to {who} ({item.evidence}):\n", style="dim bold")
        body.append(_short(item.parent.text, PARENT_CHARS) + "\n\n", style="dim")
    if t.speaker:
        body.append(f"{t.speaker}: ", style="bold")
    body.append(t.text)
    console.print(head, style="bold", markup=False, soft_wrap=True)
    console.print(Panel(body))
    scores = " · ".join(f"{n} {c.scores.get(n, 0.0):.0%}" for n in names)
    console.print(
        f"model: [bold]{escape(c.guess)}[/] {c.confidence:.0%}   ({escape(scores)})"
    )
    console.print(escape(legend_text), style="cyan")


def annotate_loop(
    items: Sequence[Item],
    labels_path: Path,
    names: Sequence[str],
    read_key: Callable[[], str | None],
    console,
    annotator: str = "",
) -> Summary:
    """Ask about each item in turn; append, skip, undo or quit as the keys say.

    Ctrl-C ends the session like `q`; a file write and its bookkeeping finish
    first (`deferred_interrupt`), so the summary matches the files.
    """
    keys = label_keys(names)
    legend_text = legend(keys, names)
    summary = Summary(str(labels_path), len(items))
    stack: list[tuple[str, int, dict | str]] = []
    shown = -1
    try:
        while summary.position < len(items):
            i = summary.position
            if shown != i:
                show_item(console, items[i], i, len(items), names, legend_text)
                shown = i
            key = read_key()
            if key is None:
                break
            action = resolve_key(key, keys, names)
            if action is None:
                console.print(f"unknown key {key!r}: {legend_text}", markup=False)
            elif action[0] == "help":
                show_help(console, names, legend_text)
            elif action[0] == "quit":
                break
            else:
                with deferred_interrupt():
                    message = _apply(
                        action, items, summary, stack, labels_path, annotator
                    )
                console.print(message, markup=False)
    except KeyboardInterrupt:
        pass
    return summary


def _apply(action, items, summary, stack, labels_path, annotator) -> str:
    """Do a label / skip / undo: write the file, then update the session state."""
    from stance.labelling.labels import LabelFile

    i = summary.position
    turn = items[i].candidate.turn
    if action[0] == "label":
        row = {
            "text": turn.text,
            "stance": action[1],
            "id": turn.id,
            "conversation_id": turn.conversation_id,
            "source": turn_source(turn),
            "annotator": annotator,
            "note": "",
        }
        LabelFile(labels_path).append(row)
        stack.append(("label", i, row))
        summary.labelled += 1
        summary.answers.append(row)
        summary.position += 1
        return f"-> {action[1]}"
    if action[0] == "skip":
        add_skipped(labels_path, text_key(turn.text))
        stack.append(("skip", i, text_key(turn.text)))
        summary.skipped += 1
        summary.position += 1
        return "-> skipped"
    if not stack:  # undo
        return "nothing to undo in this session"
    what, j, payload = stack[-1]
    if what == "label":
        LabelFile(labels_path).remove(payload)
        summary.labelled -= 1
        summary.answers.remove(payload)
        message = f"undone: '{payload['stance']}' removed from {labels_path}"
    else:
        remove_skipped(labels_path, payload)
        summary.skipped -= 1
        message = "undone: skip"
    stack.pop()
    summary.undone += 1
    summary.position = j
    return message


def show_help(console, names, legend_text) -> None:
    console.print(legend_text, markup=False)
    console.print(
        "each answer is saved at once; undo removes this session's last answer",
        markup=False,
    )


def build_items(
    turns: Sequence[Turn], ranked: Sequence[Candidate], skipped: set[str] = frozenset()
) -> list[Item]:
    """The queue: ranked candidates minus skipped texts, each with its parent."""
    from stance.ingest.chains import build_chains

    chains = build_chains(list(turns))
    by_id = {t.id: t for t in turns}
    items = []
    for c in ranked:
        if text_key(c.turn.text) in skipped:
            continue
        pid = chains.parent.get(c.turn.id)
        link = chains.links.get(c.turn.id)
        items.append(
            Item(c, by_id.get(pid) if pid else None, link.evidence if link else "")
        )
    return items


def annotate(
    paths: Sequence[Path],
    labels_path: Path,
    model_dir: Path | None = None,
    schema=None,
    method: str = "margin",
    annotator: str = "",
    include_skipped: bool = False,
    stdin=None,
    console=None,
    trust_unsigned: bool = False,
) -> Summary:
    """The whole session: rank the unlabelled turns, then ask until done or quit."""
    from rich.console import Console

    from stance.core.files import check_output_path, resolve_output
    from stance.ingest.parse import iter_turns
    from stance.labelling.suggest import (
        labelled_texts,
        project_label_files,
        rank_turns,
        score_readable,
    )
    from stance.model.find import load_model, model_name

    check_output_path(labels_path)
    # A symlinked label file is the file it points to: answers, undo and the
    # skip list all go there, under its lock.
    labels_path = resolve_output(labels_path)
    model = load_model(model_dir, schema, trust_unsigned=trust_unsigned)
    label_paths = project_label_files(schema, [labels_path])
    done = labelled_texts(label_paths, schema.names)
    turns = list(iter_turns(paths))
    readable, proba, _ = score_readable(turns, model)  # English turns only
    ranked = rank_turns(readable, proba, list(model.classes_), done, method)
    skipped = set() if include_skipped else read_skipped(labels_path)
    items = build_items(turns, ranked, skipped)
    console = console or Console(highlight=False)
    console.print(
        f"{len(items)} turns to label ({len(turns)} read, {len(done)} labels known"
        + (f", {len(skipped)} skipped before" if skipped else "")
        + f"; model {model_name(model)}) -> {labels_path}",
        markup=False,
    )
    with key_reader(stdin) as read_key:
        return annotate_loop(
            items, labels_path, schema.names, read_key, console, annotator
        )
