"""Which model a command uses: a model folder, the debate's models/default, or
zero-shot from the schema when there is no trained model."""

from __future__ import annotations

from pathlib import Path

from stance.core.errors import ModelError

DEFAULT_MODEL = "default"


def default_model_dirs(schema=None) -> list[Path]:
    """Where a default model is looked for, nearest first.

    models/default of the schema's debate folder; without a schema file, also
    ./models/default and the one shipped next to the package.
    """
    from stance.core.schema import project_root

    if schema is not None and schema.path:
        return [project_root(schema) / "models" / DEFAULT_MODEL]
    return [
        Path("models") / DEFAULT_MODEL,
        Path(__file__).resolve().parents[2] / "models" / DEFAULT_MODEL,
    ]


def _check_schema(model, schema, path) -> None:
    trained = model.config_.get("schema", {})
    if not isinstance(trained, dict):
        raise ModelError(f"{path}: 'schema' in config.json is not an object")
    if (
        schema is not None
        and trained
        and (
            trained.get("name") != schema.name
            or list(trained.get("labels", [])) != list(schema.names)
        )
    ):
        raise ModelError(
            f"{path}: trained under schema '{trained.get('name')}' "
            f"({', '.join(map(str, trained.get('labels', [])))}) but the current "
            f"schema is '{schema.name}' ({', '.join(schema.names)})"
        )


def load_model(
    path: Path | str | None, schema=None, embedder=None, trust_unsigned: bool = False
):
    """A trained model directory, or `zero-shot` (the schema's prototypes).

    With no path: the debate's models/default if one exists; otherwise, when a
    schema is known, the zero-shot model (check `model_name(model)`).
    `trust_unsigned`: see `StanceClassifier.load`.
    """
    from stance.model.classify import StanceClassifier
    from stance.model.zeroshot import METHOD, zero_shot_model

    if path is not None and str(path) == METHOD:
        if schema is None:
            raise ModelError("the zero-shot model needs a schema")
        return zero_shot_model(schema, embedder=embedder)
    if path is None:
        found = [d for d in default_model_dirs(schema) if (d / "config.json").is_file()]
        if not found:
            if schema is not None:
                return zero_shot_model(schema, embedder=embedder)
            raise ModelError(
                "no trained model found (looked in "
                + ", ".join(map(str, default_model_dirs(schema)))
                + "); run `stance train` or pass --model"
            )
        path = found[0]
    model = StanceClassifier.load(
        path, embedder=embedder, trust_unsigned=trust_unsigned
    )
    _check_schema(model, schema, path)
    return model


def model_name(model) -> str:
    training = model.config_.get("training")
    method = training.get("method") if isinstance(training, dict) else None
    return str(method or "model")
