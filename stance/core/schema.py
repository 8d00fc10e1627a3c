"""The debate's label schema as data: target, labels, descriptions, colours."""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from stance.core.errors import InputError

SCHEMA_FILE = "schema.toml"
# What `--min-confidence` writes as the stance of a turn the model abstains on;
# no label may take this name.
UNCERTAIN = "uncertain"
DEFAULT_COLORS = ("#2b7bba", "#c0392b", "#8c8c8c", "#27ae60", "#8e44ad", "#e67e22")
# A colour goes into the report's SVG and style attributes: only CSS colour
# syntax passes (#hex, a colour name, rgb()/rgba()/hsl()/hsla() of numbers).
CSS_COLOR = re.compile(
    r"#(?:[0-9a-f]{3,4}|[0-9a-f]{6}|[0-9a-f]{8})|[a-z]+"
    r"|(?:rgba?|hsla?)\(\s*[0-9.%]+(?:\s*[,/ ]\s*[0-9.%]+(?:deg)?){2,3}\s*\)",
    re.IGNORECASE,
)


def check_label(
    value: str,
    allowed: Sequence[str],
    path: str | Path,
    *,
    line: int | None = None,
    where: str = "",
) -> str:
    """`value` when it is one of the label names `allowed` (the schema's);
    else the InputError every reader and writer of labels raises:
    `PATH [line N]: [WHERE: ]unknown label 'x' (expected a, b, c)`."""
    if value not in allowed:
        raise InputError(
            path,
            f"{where + ': ' if where else ''}unknown label '{value}' "
            f"(expected {', '.join(allowed)})",
            line=line,
        )
    return value


@dataclass(frozen=True)
class Move:
    """A known argument move of one label: a name and a few phrasings of it
    (guideline text, not labels); the report matches sentences to them."""

    name: str
    phrasings: tuple[str, ...]


@dataclass(frozen=True)
class LabelSpec:
    name: str
    description: str
    examples: tuple[str, ...]
    color: str
    moves: tuple[Move, ...] = ()


@dataclass(frozen=True)
class Schema:
    name: str
    target: str
    labels: tuple[LabelSpec, ...]
    sides: tuple[str, ...]
    path: str = ""

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(spec.name for spec in self.labels)

    @property
    def colors(self) -> dict[str, str]:
        return {spec.name: spec.color for spec in self.labels}


def read_schema(path: str | Path) -> Schema:
    path = Path(path)
    if path.is_dir():
        path = path / SCHEMA_FILE
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(path, "no schema file") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InputError(path, f"invalid TOML ({exc})") from None
    except OSError as exc:
        raise InputError(path, f"cannot read: {exc.strerror}") from None
    raw = data.get("labels")
    if not isinstance(raw, list) or len(raw) < 2:
        raise InputError(path, "schema needs at least two [[labels]]")
    specs = []
    for i, item in enumerate(raw):
        if not isinstance(item, dict) or not _is_text(item.get("name")):
            raise InputError(path, f"label {i + 1} has no name")
        examples = item.get("examples", [])
        if not isinstance(examples, list) or not all(map(_is_text, examples)):
            raise InputError(path, f"label {i + 1}: 'examples' must be a list of texts")
        color = str(item.get("color") or DEFAULT_COLORS[i % len(DEFAULT_COLORS)])
        if not CSS_COLOR.fullmatch(color.strip()):
            raise InputError(
                path,
                f"label {i + 1}: color {color!r} is not a CSS colour (#2b7bba, a "
                "colour name, or rgb(...)/hsl(...))",
            )
        specs.append(
            LabelSpec(
                name=str(item["name"]).strip(),
                description=str(item.get("description", "")).strip(),
                examples=tuple(str(x) for x in item.get("examples", [])),
                color=color,
                moves=_moves(path, i, item.get("moves", [])),
            )
        )
    names = [s.name for s in specs]
    if len(set(names)) != len(names):
        raise InputError(path, "label names repeat")
    if UNCERTAIN in names:
        raise InputError(
            path, f"'{UNCERTAIN}' is not a label name: `--min-confidence` writes it"
        )
    sides = data.get("sides") or names
    if not isinstance(sides, list) or not all(isinstance(x, str) for x in sides):
        raise InputError(path, "'sides' must be a list of label names")
    sides = tuple(sides)
    unknown = [s for s in sides if s not in names]
    if unknown:
        raise InputError(path, f"sides name unknown labels: {', '.join(unknown)}")
    return Schema(
        name=str(data.get("name") or path.parent.name),
        target=str(data.get("target", "")).strip(),
        labels=tuple(specs),
        sides=sides,
        path=str(path),
    )


def _moves(path: Path, i: int, raw) -> tuple[Move, ...]:
    """A label's `[[labels.moves]]`: each a name and a non-empty list of phrasings."""
    if not isinstance(raw, list):
        raise InputError(path, f"label {i + 1}: 'moves' must be a list of tables")
    moves = []
    for k, item in enumerate(raw):
        where = f"label {i + 1}, move {k + 1}"
        if not isinstance(item, dict) or not _is_text(item.get("name")):
            raise InputError(path, f"{where} has no name")
        phrasings = item.get("phrasings")
        if (
            not isinstance(phrasings, list)
            or not phrasings
            or not all(map(_is_text, phrasings))
        ):
            raise InputError(path, f"{where}: 'phrasings' must be a list of texts")
        moves.append(Move(str(item["name"]).strip(), tuple(map(str, phrasings))))
    if len({m.name for m in moves}) != len(moves):
        raise InputError(path, f"label {i + 1}: move names repeat")
    return tuple(moves)


def _is_text(value) -> bool:
    return isinstance(value, str) and bool(value.strip())


def find_schema(explicit: str | Path | None = None) -> Schema:
    """--schema, else $STANCE_SCHEMA, else ./schema.toml, else ./labels/schema.toml."""
    if explicit:
        return read_schema(explicit)
    env = os.environ.get("STANCE_SCHEMA")
    if env:
        return read_schema(env)
    for candidate in (Path(SCHEMA_FILE), Path("labels") / SCHEMA_FILE):
        if candidate.is_file():
            return read_schema(candidate)
    raise InputError(
        Path("labels") / SCHEMA_FILE,
        "no schema found (run inside a debate folder, or pass --schema)",
    )


def project_root(schema: Schema) -> Path:
    """The debate folder: where labels/ and models/ live for this schema."""
    p = Path(schema.path).resolve().parent
    return p.parent if p.name == "labels" else p


def _toml_str(text: str) -> str:
    import json

    return json.dumps(text, ensure_ascii=False)  # a valid TOML basic string


def init_debate(
    directory: str | Path,
    target: str,
    labels: list[str],
    sides: list[str] | None = None,
) -> list[Path]:
    """Write a new debate folder: labels/schema.toml, an empty label file, a README.

    Refuses to overwrite an existing schema. Returns the files written.
    """
    from stance.core.files import atomic_write_text, check_output_path
    from stance.labelling.labels import LABEL_COLUMNS

    directory = check_output_path(directory, directory=True)
    names = [n.strip() for n in labels if n.strip()]
    schema_path = directory / "labels" / SCHEMA_FILE
    if schema_path.exists():
        raise InputError(schema_path, "a schema already exists; not overwriting it")
    if not target.strip():
        raise InputError(schema_path, "--target is empty")
    if len(names) < 2 or len(set(names)) != len(names):
        raise InputError(schema_path, "--labels needs at least two distinct names")
    bad = [n for n in names if not all(c.isalnum() or c in "-_" for c in n)]
    if bad:
        raise InputError(
            schema_path, f"label names may use letters, digits, - and _ only: {bad}"
        )
    sides = [s.strip() for s in (sides or names) if s.strip()]
    unknown = [s for s in sides if s not in names]
    if unknown:
        raise InputError(
            schema_path, f"--sides names unknown labels: {', '.join(unknown)}"
        )
    name = directory.resolve().name
    lines = [
        "# The debate's label schema. Every stance command reads it (run inside this",
        "# folder or pass --schema). Descriptions and examples drive the zero-shot",
        "# labels you get before training: write one paragraph and a few real example",
        "# sentences per label.",
        f"name = {_toml_str(name)}",
        f"target = {_toml_str(target.strip())}",
        "# Labels whose mean F1 is reported as F_avg.",
        "sides = [" + ", ".join(_toml_str(s) for s in sides) + "]",
    ]
    for i, n in enumerate(names):
        lines += [
            "",
            "[[labels]]",
            f"name = {_toml_str(n)}",
            f"color = {_toml_str(DEFAULT_COLORS[i % len(DEFAULT_COLORS)])}",
            'description = ""',
            "examples = []",
            "# known argument moves: [[labels.moves]] name = ..., phrasings = [...]",
            "moves = []",
        ]
    label_file = directory / "labels" / "labels.csv"
    readme = directory / "README.md"
    (directory / "labels").mkdir(parents=True, exist_ok=True)
    (directory / "models").mkdir(exist_ok=True)
    atomic_write_text(schema_path, "\n".join(lines) + "\n")
    written = [schema_path]
    if not label_file.exists():
        atomic_write_text(label_file, ",".join(LABEL_COLUMNS) + "\n")
        written.append(label_file)
    if not readme.exists():
        atomic_write_text(
            readme,
            f"# {name}\n\nTarget: {target.strip()}\n\nLabels: {', '.join(names)}\n\n"
            "1. Describe each label and add example sentences in `labels/schema.toml`.\n"
            "2. `stance label PAGES` and `stance report PAGES` work at once (zero-shot,"
            " provisional).\n"
            "3. Label turns into `labels/labels.csv` (columns text, stance), then"
            " `stance train`: models/default is used from then on.\n",
        )
        written.append(readme)
    return written
