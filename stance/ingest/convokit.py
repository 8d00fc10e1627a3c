"""ConvoKit corpora both ways: a corpus directory written, any corpus read.

Writing (`stance parse/label --format convokit -o DIR`, `stance.to_convokit`):
DIR gets the five files `convokit.Corpus(filename=DIR)` loads:

- `utterances.jsonl`: one utterance a line, ConvoKit's keys (`reply-to`,
  `vectors`); a labelled turn's `stance`, `confidence`, `scores` and `model`
  go in its `meta`, beside the turn's own meta;
- `speakers.json`: every speaker the pages name; a turn with no speaker is
  given the conversation's unknown speaker `UNKNOWN@<conversation>`, whose
  meta says so (read back, it is no speaker again);
- `conversations.json`: per conversation its page (`file`) and, when a
  `SOURCES*.tsv` beside the page lists it, the page address (`source`) and
  `title`; a conversation read from a corpus keeps its meta instead;
- `corpus.json` (name, stance version), `index.json` (the meta index).

ConvoKit orders replies by timestamp, so undated turns get one in the corpus
(see `fill_timestamps`), marked in `meta.timestamp_filled`.

Reading (any input path that is a corpus directory or its `utterances.json[l]`):
`reply-to` and `reply_to` both link; `user`/`root` (older corpora) name the
speaker and conversation; timestamps keep their JSON type; the old
`utterances.json` list format is read; speakers' and conversations' meta
come along in `meta.speaker_meta` and `meta.conversation_meta` (and go back
to speakers.json / conversations.json when written again). Meta that ConvoKit
stored as a pickle (`bin` in index.json) is not unpickled: it stays the
placeholder text and a warning says so. Links to ids the corpus lacks and
self-replies are kept as given and warned about, as `chains` warns when it
builds the chains (it treats those turns as roots).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

from stance.core.errors import InputError, StanceError, warn
from stance.core.thread import Turn, check_integrity

UTTERANCES = "utterances.jsonl"
UTTERANCES_LIST = "utterances.json"
SPEAKERS = "speakers.json"
CONVERSATIONS = "conversations.json"
CORPUS = "corpus.json"
INDEX = "index.json"
CORPUS_FILES = (UTTERANCES, SPEAKERS, CONVERSATIONS, CORPUS, INDEX)
LABEL_FIELDS = ("stance", "confidence", "scores", "model", "skipped")
UNKNOWN_SPEAKER = "UNKNOWN@{conversation}"
UNKNOWN_FLAG = "stance_unknown_speaker"
SPEAKER_META = "speaker_meta"
CONVERSATION_META = "conversation_meta"
FILLED = "timestamp_filled"


# ------------------------------------------------------------------ reading


def corpus_dir(path: str | Path) -> Path | None:
    """The corpus directory `path` is or lies in, or None if it is no corpus.

    A directory is a corpus when it holds utterances.jsonl or utterances.json
    and at least one of ConvoKit's other files (a lone utterances.jsonl is
    read as turns JSONL, as before).
    """
    path = Path(path)
    if path.is_dir():
        folder = path
    elif path.name in (UTTERANCES, UTTERANCES_LIST):
        folder = path.parent
    else:
        return None
    has_utts = (folder / UTTERANCES).is_file() or (folder / UTTERANCES_LIST).is_file()
    others = (SPEAKERS, "users.json", CONVERSATIONS, CORPUS, INDEX)
    if has_utts and any((folder / f).is_file() for f in others):
        return folder
    if path.name == UTTERANCES_LIST and path.is_file():
        return folder  # the list format is ConvoKit's alone
    return None


def _load_json(path: Path) -> Any:
    from stance.core.inputfiles import read_text

    text, _ = read_text(path)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(path, f"malformed JSON ({exc.msg})", line=exc.lineno) from None


def _metas(path: Path) -> dict[str, dict]:
    """id → meta of speakers.json / conversations.json (either ConvoKit layout)."""
    if not path.is_file():
        return {}
    data = _load_json(path)
    if not isinstance(data, dict):
        raise InputError(path, "expected a JSON object of id → {meta, vectors}")
    out = {}
    for key, value in data.items():
        if isinstance(value, dict) and isinstance(value.get("meta"), dict):
            out[str(key)] = value["meta"]
        elif isinstance(value, dict):  # before ConvoKit 3: the meta itself
            out[str(key)] = {k: v for k, v in value.items() if k != "vectors"}
        else:
            out[str(key)] = {}
    return out


def _binary_fields(folder: Path) -> set[str]:
    index = folder / INDEX
    if not index.is_file():
        return set()
    data = _load_json(index)
    if not isinstance(data, dict):
        return set()
    return {
        field
        for part in data.values()
        if isinstance(part, dict)
        for field, kinds in part.items()
        if isinstance(kinds, list) and kinds[:1] == ["bin"]
    }


def _records(folder: Path) -> Iterator[tuple[Path, int, dict]]:
    from stance.core.inputfiles import read_text
    from stance.core.thread import iter_jsonl_objects

    jsonl = folder / UTTERANCES
    if jsonl.is_file():
        try:
            fh = open(jsonl, encoding="utf-8-sig")
        except OSError as exc:
            raise InputError(jsonl, exc.strerror or "cannot open") from None
        with fh:
            try:
                for lineno, rec in iter_jsonl_objects(jsonl, fh):
                    yield jsonl, lineno, rec
            except UnicodeDecodeError as exc:
                raise InputError(jsonl, f"not UTF-8 ({exc.reason})") from None
        return
    listed = folder / UTTERANCES_LIST
    text, _ = read_text(listed)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(
            listed, f"malformed JSON ({exc.msg})", line=exc.lineno
        ) from None
    if not isinstance(data, list):
        raise InputError(listed, "expected a JSON list of utterances")
    for n, rec in enumerate(data, start=1):
        if not isinstance(rec, dict):
            raise InputError(listed, f"utterance {n} is not a JSON object")
        yield listed, n, rec


def utterance_to_turn(
    rec: dict, speakers: dict[str, dict], conversations: dict[str, dict]
) -> Turn:
    """One ConvoKit utterance record as a Turn (raises ValueError when it is none)."""
    turn = Turn.from_dict(rec)
    meta = dict(turn.meta)
    speaker = turn.speaker
    smeta = speakers.get(speaker) if speaker is not None else None
    if smeta and smeta.get(UNKNOWN_FLAG):
        speaker = None
    elif smeta:
        meta[SPEAKER_META] = smeta
    timestamp = turn.timestamp
    if meta.pop(FILLED, None) is not None:
        timestamp = None  # written by stance for ConvoKit's sake: no date
    cmeta = conversations.get(turn.conversation_id)
    if cmeta:
        meta[CONVERSATION_META] = cmeta
    meta.setdefault("kind", "comment")
    meta.setdefault("quotes", [])
    from dataclasses import replace

    return replace(turn, speaker=speaker, timestamp=timestamp, meta=meta)


def iter_corpus(path: str | Path, seen_ids: set[str] | None = None) -> Iterator[Turn]:
    """Stream the turns of a ConvoKit corpus (directory or its utterances file)."""
    folder = corpus_dir(path)
    if folder is None:
        raise InputError(path, "not a ConvoKit corpus (no utterances.jsonl or .json)")
    speakers_file = folder / SPEAKERS
    if not speakers_file.is_file():
        speakers_file = folder / "users.json"
    speakers = _metas(speakers_file)
    conversations = _metas(folder / CONVERSATIONS)
    binary = _binary_fields(folder)
    if binary:
        warn(
            f"{folder}: meta fields {', '.join(sorted(binary))} are pickled by "
            "ConvoKit; stance does not unpickle files, so they stay placeholders"
        )
    seen = set() if seen_ids is None else seen_ids
    mine: set[str] = set()
    replies: dict[str, str] = {}  # missing-parent candidates: parent -> first child
    n = 0
    for where, lineno, rec in _records(folder):
        try:
            turn = utterance_to_turn(rec, speakers, conversations)
        except (ValueError, KeyError, TypeError) as exc:
            raise InputError(where, f"not an utterance: {exc}", line=lineno) from None
        if turn.id in seen:
            raise InputError(
                where, f"duplicate id {turn.id!r} (ids must be unique)", line=lineno
            )
        seen.add(turn.id)
        mine.add(turn.id)
        turn = turn.with_meta(
            sources=turn.meta.get("sources") or [{"file": str(where), "line": lineno}]
        )
        if turn.reply_to is not None:
            if turn.reply_to == turn.id:
                warn(f"{where}: {turn.id} replies to itself; treated as a root")
            elif turn.reply_to not in mine:
                replies.setdefault(turn.reply_to, turn.id)
        n += 1
        yield turn
    if n == 0:
        raise InputError(folder, "no utterances in corpus")
    for parent, child in replies.items():
        if parent not in mine:
            warn(f"{folder}: {child} replies to missing {parent}; treated as a root")


def read_corpus(path: str | Path) -> list[Turn]:
    return list(iter_corpus(path))


# ------------------------------------------------------------------ writing


def page_sources(files: Iterable[str]) -> dict[str, dict[str, str]]:
    """Page file → {source, title} from the SOURCES*.tsv beside each page."""
    out: dict[str, dict[str, str]] = {}
    for folder in {Path(f).parent for f in files}:
        for tsv in sorted(folder.glob("SOURCES*.tsv")):
            try:
                with open(tsv, encoding="utf-8", newline="") as fh:
                    for row in csv.DictReader(fh, delimiter="\t"):
                        name = (row.get("file") or "").strip()
                        if name:
                            out[str(folder / name)] = {
                                k: (row.get(k) or "").strip()
                                for k in ("source", "title")
                                if (row.get(k) or "").strip()
                            }
            except (OSError, UnicodeDecodeError, csv.Error):
                continue  # an unreadable list gives no titles, nothing worse
    return out


def _speaker_id(row: dict) -> str:
    speaker = row.get("speaker")
    if speaker is None or speaker == "":
        return UNKNOWN_SPEAKER.format(conversation=row["conversation_id"])
    return str(speaker)


def _first_file(row: dict) -> str | None:
    sources = (row.get("meta") or {}).get("sources") or [{}]
    first = sources[0] if isinstance(sources[0], dict) else {}
    return first.get("file")


def _index(metas: Iterable[dict]) -> dict[str, list[str]]:
    kinds: dict[str, list[str]] = {}
    for meta in metas:
        for k, v in meta.items():
            if v is not None and k not in kinds:
                kinds[k] = [str(type(v))]
    return kinds


def utterance_record(row: dict) -> dict:
    """A turn or labelled row as a ConvoKit utterance (labels go in meta)."""
    meta = {
        k: v
        for k, v in (row.get("meta") or {}).items()
        if k not in (SPEAKER_META, CONVERSATION_META)
    }
    for field in LABEL_FIELDS:
        if field in row:
            meta[field] = row[field]
    return {
        "id": str(row["id"]),
        "conversation_id": str(row["conversation_id"]),
        "text": row["text"],
        "speaker": _speaker_id(row),
        "meta": meta,
        "reply-to": row.get("reply_to"),
        "timestamp": row.get("timestamp"),
        "vectors": [],
    }


def write_corpus(
    directory: str | Path, rows: Iterable[dict | Turn], name: str = "stance"
) -> dict:
    """Write turns (or labelled rows) as a ConvoKit corpus directory, as a whole.

    Returns counts: utterances, speakers, conversations, and `problems`: the
    reasons a conversation is not one valid reply tree (`core.thread.check_integrity`
    plus more than one root), which ConvoKit's `check_integrity` would reject.
    """
    from stance import __version__
    from stance.core.files import atomic_directory

    speakers: dict[str, dict] = {}
    conversations: dict[str, dict] = {}
    conv_files: dict[str, str] = {}
    roots: dict[str, int] = {}
    ids: dict[str, str] = {}  # id -> conversation
    links: list[tuple[str, str, str]] = []
    utt_index: dict[str, list[str]] = {}
    times: dict[str, list] = {}  # conversation -> its timestamps in file order
    n = 0
    with atomic_directory(directory) as tmp:
        with open(tmp / ".partial", "w", encoding="utf-8") as fh:
            for row in rows:
                if isinstance(row, Turn):
                    row = row.to_dict()
                rec = utterance_record(row)
                fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
                n += 1
                conv = rec["conversation_id"]
                meta = row.get("meta") or {}
                smeta = meta.get(SPEAKER_META)
                if rec["speaker"] not in speakers:
                    speakers[rec["speaker"]] = (
                        dict(smeta)
                        if isinstance(smeta, dict)
                        else {UNKNOWN_FLAG: True}
                        if row.get("speaker") in (None, "")
                        else {}
                    )
                if conv not in conversations:
                    cmeta = meta.get(CONVERSATION_META)
                    conversations[conv] = dict(cmeta) if isinstance(cmeta, dict) else {}
                    file = _first_file(row)
                    if file and not isinstance(cmeta, dict):
                        conv_files[conv] = file
                if rec["id"] in ids:
                    raise StanceError(
                        f"{directory}: duplicate utterance id {rec['id']!r}; "
                        "a ConvoKit corpus needs unique ids"
                    )
                ids[rec["id"]] = conv
                times.setdefault(conv, []).append(rec["timestamp"])
                if rec["reply-to"] is None:
                    roots[conv] = roots.get(conv, 0) + 1
                else:
                    links.append((rec["id"], str(rec["reply-to"]), conv))
                for k, v in rec["meta"].items():
                    if v is not None and k not in utt_index:
                        utt_index[k] = [str(type(v))]
        fills = {conv: fill_timestamps(ts) for conv, ts in times.items()}
        if any(f for f in fills.values()):
            utt_index.setdefault(FILLED, [str(str)])
        _write_filled(tmp / ".partial", tmp / UTTERANCES, fills)
        sources = page_sources(conv_files.values())
        for conv, file in conv_files.items():
            conversations[conv] = {"file": file, **sources.get(file, {})}
        corpus_meta = {"name": name, "stance_version": __version__}
        for fname, data in (
            (SPEAKERS, {k: {"meta": v, "vectors": []} for k, v in speakers.items()}),
            (
                CONVERSATIONS,
                {k: {"meta": v, "vectors": []} for k, v in conversations.items()},
            ),
            (CORPUS, corpus_meta),
            (
                INDEX,
                {
                    "utterances-index": utt_index,
                    "speakers-index": _index(speakers.values()),
                    "conversations-index": _index(conversations.values()),
                    "overall-index": _index([corpus_meta]),
                    "version": 1,
                    "vectors": [],
                },
            ),
        ):
            (tmp / fname).write_text(json.dumps(data, ensure_ascii=False), "utf-8")
    problems = _tree_problems(ids, links, roots, conversations)
    problems += [
        f"conversation {conv} mixes timestamp types; ConvoKit cannot order it"
        for conv, ts in times.items()
        if len({_kind(t) for t in ts if t is not None}) > 1
    ]
    return {
        "utterances": n,
        "speakers": len(speakers),
        "conversations": len(conversations),
        "problems": problems,
    }


def _kind(value) -> str:
    return "number" if isinstance(value, (int, float)) else type(value).__name__


def fill_timestamps(timestamps: list) -> dict[int, tuple[Any, str]]:
    """Timestamps for a conversation's undated utterances: position → (value, how).

    ConvoKit sorts a turn's replies by timestamp (`traverse`, and
    `get_chronological_utterance_list`), so an undated reply beside another
    breaks it. An undated turn takes the timestamp of the dated turn before it
    in page order (or after it, before the first dated one); in a conversation
    with no date at all, its position (0, 1, 2...). `meta.timestamp_filled`
    says which, and reading the corpus back gives None again.
    """
    dated = [i for i, t in enumerate(timestamps) if t is not None]
    if len(dated) == len(timestamps):
        return {}
    if not dated or len({_kind(timestamps[i]) for i in dated}) > 1:
        if dated:
            return {}
        return {
            i: (i, "page order (the page gives no date)")
            for i in range(len(timestamps))
        }
    out = {}
    last = None
    first = timestamps[dated[0]]
    for i, t in enumerate(timestamps):
        if t is not None:
            last = t
        elif last is not None:
            out[i] = (last, "the dated turn before it")
        else:
            out[i] = (first, "the first dated turn after it")
    return out


def _write_filled(partial: Path, final: Path, fills: dict[str, dict]) -> None:
    position: dict[str, int] = {}
    filling = any(fills.values())
    with (
        open(partial, encoding="utf-8") as src,
        open(final, "w", encoding="utf-8") as dst,
    ):
        for line in src:
            if not filling:
                dst.write(line)
                continue
            rec = json.loads(line)
            conv = rec["conversation_id"]
            i = position[conv] = position.get(conv, -1) + 1
            fill = fills[conv].get(i)
            if fill is not None:
                rec["timestamp"], how = fill
                rec["meta"][FILLED] = how
            dst.write(json.dumps(rec, ensure_ascii=False) + "\n")
    partial.unlink()


class _Node(NamedTuple):
    """An utterance as `check_integrity` reads a turn: its id and links only."""

    id: str
    reply_to: str | None
    conversation_id: str


def _tree_problems(ids, links, roots, conversations) -> list[str]:
    """`core.thread.check_integrity` on the ids and reply links, then each
    conversation's count of roots (a ConvoKit conversation is one tree)."""
    reply_to = {child: parent for child, parent, _ in links}
    problems = check_integrity(
        _Node(i, reply_to.get(i), conv) for i, conv in ids.items()
    )
    for conv in conversations:
        k = roots.get(conv, 0)
        if k != 1:
            problems.append(f"conversation {conv} has {k} roots (a tree has one)")
    return problems
