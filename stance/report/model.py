"""The report's data: frozen dataclasses, the one structure the HTML and
Markdown templates render and `stance report -o report.json` writes.

The JSON is `dataclasses.asdict(report)`: the keys are the field names below,
in this order (tuples become lists, `None` null).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Label:
    name: str
    color: str  # validated as a CSS colour by the schema reader


@dataclass(frozen=True)
class Group:
    """Stance counts of one group of turns (all, a page, a speaker)."""

    group: str
    n: int
    counts: dict[str, int]
    shares: dict[str, float]  # of the group's turns with a stance
    uncertain: int
    skipped: int  # turns left without a stance (their language)


@dataclass(frozen=True)
class AgreementRow:
    group: str
    n: int
    agree: int
    accuracy: float
    macro_f1: float
    files: str = ""


@dataclass(frozen=True)
class Agreement:
    overall: AgreementRow
    by_status: tuple[AgreementRow, ...]
    per_page: tuple[AgreementRow, ...]
    unscored: int
    abstained: int


@dataclass(frozen=True)
class Quote:
    """A turn's words (the whole turn or one sentence) and where they stand."""

    turn_id: str
    text: str
    page: str  # the page file's name
    source: str  # the page's address (SOURCES*.tsv) or its file path
    line: int | None  # the turn's first line in the page file
    speaker: str | None
    stance: str | None
    confidence: float | None


@dataclass(frozen=True)
class KeyPoint:
    side: str
    statement: str  # a move's name, or the real sentence central to a cluster
    kind: str  # "move" (the schema's) or "found" (a cluster of sentences)
    count: int  # the side's turns with a sentence under this point
    share: float  # count / the side's turns
    turns: tuple[str, ...]
    quotes: tuple[Quote, ...]


@dataclass(frozen=True)
class Rebuttal:
    """Reply links from turns under one key point to turns under another point
    of a different side."""

    side: str
    point: str
    answers_side: str
    answers_point: str
    count: int


@dataclass(frozen=True)
class Period:
    period: str  # "2019" or "2019-08"
    counts: dict[str, int]


@dataclass(frozen=True)
class Timeline:
    scope: str  # "all pages" or an input folder
    unit: str  # "year" or "month"
    periods: tuple[Period, ...]
    undated: int


@dataclass(frozen=True)
class TreeTurn:
    """A turn in a reply tree, with the turns that answer it."""

    turn_id: str
    speaker: str | None
    stance: str | None
    text: str
    turning_point: bool
    replies: tuple[TreeTurn, ...]


@dataclass(frozen=True)
class Chain:
    conversation_id: str
    length: int
    participants: tuple[str, ...]
    stances: tuple[str | None, ...]
    turning_points: tuple[int, ...]
    last_word: Quote | None
    tree: TreeTurn


@dataclass(frozen=True)
class Report:
    name: str
    target: str
    model: str
    labels: tuple[Label, ...]
    sides: tuple[str, ...]
    n: int
    counts: dict[str, int]  # turns per label (the model's stance)
    uncertain_below: float
    abstained: int
    skipped: dict[str, int]
    overall: Group | None
    per_page: tuple[Group, ...]
    per_speaker: tuple[Group, ...]
    agreement: Agreement | None
    key_points: tuple[KeyPoint, ...]
    coverage: dict[str, float]  # per side: share of its turns under a key point
    rebuttals: tuple[Rebuttal, ...]
    timelines: tuple[Timeline, ...]
    chains: tuple[Chain, ...]
    chain_warnings: tuple[str, ...]
    next_to_label: tuple[Quote, ...]
    # a labelled dataset (`stance label --partitioned`), counted without threads:
    per_month: tuple[Group, ...] = ()  # its turns per month (YYYY-MM, UTC)
    dataset: str | None = None  # its folder; None for a report on pages

    @property
    def colors(self) -> dict[str, str]:
        return {label.name: label.color for label in self.labels}

    @property
    def names(self) -> list[str]:
        return [label.name for label in self.labels]


def report_json(report: Report) -> str:
    """The report as JSON text (the field order above, UTF-8, indented)."""
    return json.dumps(asdict(report), ensure_ascii=False, indent=1) + "\n"
