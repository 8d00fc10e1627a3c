import pickle

import numpy as np
import pytest
from fakes import GROUPS, TEXTS, FakeEmbedder, Y, fitted

from stance.core.errors import ModelError
from stance.model.classify import StanceClassifier
from stance.model.estimators import StanceHead
from stance.model.heads import NotFittedError, fit_temperature
from stance.model.persist import config_digest


def test_contract_classes_are_strings_and_proba_rows_sum_to_one():
    model = fitted()
    assert list(model.classes_) == ["against", "favor", "none"]
    p = model.predict_proba(TEXTS)
    assert p.shape == (len(TEXTS), 3)
    assert np.allclose(p.sum(axis=1), 1)
    # predict is the column of highest probability, named by classes_
    assert list(model.predict(TEXTS)) == list(model.classes_[p.argmax(axis=1)])
    # and each column is its class's: higher on texts labelled so than on others
    y = np.array(Y)
    for k, c in enumerate(model.classes_):
        assert p[y == c, k].mean() > p[y != c, k].mean(), c


def test_predict_before_fit_raises():
    with pytest.raises(NotFittedError):
        StanceClassifier(embedder=FakeEmbedder()).predict(["x"])


def test_one_class_is_refused():
    with pytest.raises(ValueError, match="two classes"):
        StanceHead().fit(np.eye(3), ["a", "a", "a"])


def test_temperature_fits_overconfident_logits():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 300)
    logits = rng.normal(size=(300, 3))
    logits[np.arange(300), y] += 1.0
    assert fit_temperature(logits * 10, y) > 3  # softens overconfident scores


def test_save_load_round_trip_identical_probabilities(tmp_path):
    model = fitted()
    model.save(tmp_path / "m")
    back = StanceClassifier.load(
        tmp_path / "m", embedder=FakeEmbedder(), check_encoder=False
    )
    assert np.array_equal(back.predict_proba(TEXTS), model.predict_proba(TEXTS))
    assert list(back.classes_) == list(model.classes_)


def test_altered_head_is_refused(tmp_path):
    fitted().save(tmp_path / "m")
    head = tmp_path / "m" / "head.npz"
    data = dict(np.load(head))
    data["coef"] = data["coef"] + 1
    np.savez(head, **data)
    with pytest.raises(ModelError, match="sha256 does not match"):
        StanceClassifier.load(tmp_path / "m", check_encoder=False)


def test_pickle_in_model_dir_is_never_loaded(tmp_path):
    fitted().save(tmp_path / "m")
    head = tmp_path / "m" / "head.npz"
    head.write_bytes(pickle.dumps({"coef": np.zeros((3, 8))}))
    with pytest.raises(ModelError):
        StanceClassifier.load(tmp_path / "m", check_encoder=False)


def test_pickled_object_array_refused_even_with_matching_hash(tmp_path):
    import hashlib
    import json

    fitted().save(tmp_path / "m")
    head = tmp_path / "m" / "head.npz"
    np.savez(
        head,
        coef=np.array([object()], dtype=object),
        intercept=np.zeros(3),
        temperature=np.ones(1),
    )
    cfg = json.loads((tmp_path / "m" / "config.json").read_text())
    cfg["files"]["head.npz"] = hashlib.sha256(head.read_bytes()).hexdigest()
    cfg["config_sha256"] = config_digest(cfg)  # a forger recomputes every hash
    (tmp_path / "m" / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ModelError, match="unreadable head"):
        StanceClassifier.load(tmp_path / "m", check_encoder=False)


def test_other_version_and_missing_file_refused(tmp_path):
    import json

    fitted().save(tmp_path / "m")
    (tmp_path / "m" / "README.md").unlink()
    with pytest.raises(ModelError, match="missing README.md"):
        StanceClassifier.load(tmp_path / "m", check_encoder=False)
    fitted().save(tmp_path / "n")
    cfg = json.loads((tmp_path / "n" / "config.json").read_text())
    cfg["stance_version"] = "9.0.0"
    (tmp_path / "n" / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ModelError, match="made by stance 9.0.0"):
        StanceClassifier.load(tmp_path / "n", check_encoder=False)


def fitted_ensemble(weight=0.5):
    return StanceClassifier(embedder=FakeEmbedder(), lexical_weight=weight).fit(
        TEXTS, Y, GROUPS
    )


def test_ensemble_averages_the_two_heads_probabilities():
    m = fitted_ensemble(0.3)
    X = FakeEmbedder().embed(TEXTS)
    emb = m.head_.predict_proba(X)
    lex = m.lexical_.predict_proba(TEXTS)
    assert np.allclose(m.predict_proba(TEXTS), 0.7 * emb + 0.3 * lex)
    assert list(m.lexical_.classes_) == list(m.classes_)


def test_ensemble_save_load_round_trip_without_pickle(tmp_path):
    m = fitted_ensemble()
    m.save(tmp_path / "m")
    assert (tmp_path / "m" / "vocab.json").is_file()
    loaded = StanceClassifier.load(
        tmp_path / "m", embedder=FakeEmbedder(), check_encoder=False
    )
    probe = ["aaab zzz", "mmm nnn nnn", "unseen words entirely"]
    assert np.allclose(loaded.predict_proba(probe), m.predict_proba(probe))
    assert loaded.lexical_weight == 0.5


def test_ensemble_with_an_altered_vocabulary_is_refused(tmp_path):
    fitted_ensemble().save(tmp_path / "m")
    vocab = tmp_path / "m" / "vocab.json"
    vocab.write_text(vocab.read_text().replace("aaaa", "xxxx"))
    with pytest.raises(ModelError, match="vocab.json"):
        StanceClassifier.load(
            tmp_path / "m", embedder=FakeEmbedder(), check_encoder=False
        )


def test_tfidf_rows_equal_scikit_learns_vectorizer():
    """Labelling computes TF-IDF without scikit-learn; it must match it exactly."""
    import csv

    from conftest import ROOT
    from sklearn.feature_extraction.text import TfidfVectorizer

    from stance.model.heads import TFIDF, tfidf_rows

    with open(ROOT / "labels" / "seeds.csv", encoding="utf-8") as fh:
        texts = [r["text"] for r in csv.DictReader(fh)]
    train, test = texts[:60], texts[60:] + ["Ünïcode ÉCRIT: l'URSS, 1939!", "", "a"]
    vec = TfidfVectorizer(**TFIDF).fit(train)
    want = vec.transform(test).toarray()
    got = np.zeros_like(want)
    for k, (idx, values) in enumerate(tfidf_rows(test, vec.vocabulary_, vec.idf_)):
        got[k, idx] = values
    assert np.abs(want).sum() > 0
    assert np.allclose(got, want, atol=1e-12)


@pytest.mark.parametrize(
    "settings",
    [
        {"ngram_range": (1, 1), "sublinear_tf": False, "lowercase": True},
        {"ngram_range": (1, 3), "sublinear_tf": True, "lowercase": False},
        {"ngram_range": (2, 2), "sublinear_tf": True, "lowercase": True},
    ],
)
def test_tfidf_rows_follow_the_one_tfidf_setting(monkeypatch, settings):
    """Training and labelling read TFIDF: edited, both change together."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    from stance.model import heads

    monkeypatch.setattr(heads, "TFIDF", settings)
    texts = [
        "The Pact of 1939 divided Poland",
        "the pact was Stalin's answer to Munich",
    ]
    vec = TfidfVectorizer(**heads.TFIDF).fit(texts)
    test = ["Poland and the Pact, Munich and Stalin", "the PACT divided"]
    want = vec.transform(test).toarray()
    got = np.zeros_like(want)
    for k, (idx, values) in enumerate(
        heads.tfidf_rows(test, vec.vocabulary_, vec.idf_)
    ):
        got[k, idx] = values
    assert np.allclose(got, want, atol=1e-12)
    monkeypatch.setattr(heads, "TFIDF", {**settings, "max_df": 0.9})
    with pytest.raises(ValueError, match="max_df"):
        heads.tfidf_rows(test, vec.vocabulary_, vec.idf_)


def test_lexical_head_probabilities_equal_the_sparse_path():
    m = fitted_ensemble()
    from sklearn.feature_extraction.text import TfidfVectorizer

    from stance.model.heads import TFIDF

    vec = TfidfVectorizer(**TFIDF, vocabulary=m.lexical_.vocabulary_)
    vec.idf_ = m.lexical_.idf_
    probe = ["aaab zzz", "mmm nnn nnn", "unseen words entirely"]
    sparse = m.lexical_.head_.predict_proba(vec.transform(probe))
    assert np.allclose(m.lexical_.predict_proba(probe), sparse)


def test_labelling_with_a_saved_ensemble_does_not_import_scikit_learn(tmp_path):
    import subprocess
    import sys

    fitted_ensemble().save(tmp_path / "m")
    probe = (
        "import sys; sys.path.insert(0, 'tests'); from fakes import FakeEmbedder; "
        "from stance.model.classify import StanceClassifier; "
        f"m = StanceClassifier.load({str(tmp_path / 'm')!r}, embedder=FakeEmbedder(), "
        "check_encoder=False); m.predict_proba(['aaab zzz']); "
        "print('sklearn' in sys.modules)"
    )
    root = str(__import__("conftest").ROOT)
    res = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, cwd=root
    )
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "False"


@pytest.mark.parametrize(
    "change, message",
    [
        ({"lex_idf": np.array([np.nan])}, "not an array of finite numbers"),
        ({"lex_idf": np.ones(2)}, "does not match its vocabulary"),
        ({"lex_coef": np.array([object()], dtype=object)}, "unreadable lexical head"),
    ],
)
def test_forged_lexical_head_is_refused(tmp_path, change, message):
    import hashlib
    import json

    fitted_ensemble().save(tmp_path / "m")
    head = tmp_path / "m" / "head.npz"
    with np.load(head) as npz:
        arrays = {k: npz[k] for k in npz.files}
    np.savez(head, **{**arrays, **change})
    cfg = json.loads((tmp_path / "m" / "config.json").read_text())
    cfg["files"]["head.npz"] = hashlib.sha256(head.read_bytes()).hexdigest()
    cfg["config_sha256"] = config_digest(cfg)  # a forger recomputes every hash
    (tmp_path / "m" / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ModelError, match=message):
        StanceClassifier.load(
            tmp_path / "m", embedder=FakeEmbedder(), check_encoder=False
        )


# ------------------------------------------ hand-edited and forged models (issue 15)


def _shipped_copy(tmp_path, name="m"):
    import shutil
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    dst = tmp_path / name
    shutil.copytree(root / "models" / "default", dst)
    return dst


def _edit_config(path, change, redigest=True):
    import json

    cfg = json.loads((path / "config.json").read_text())
    change(cfg)
    if redigest and "config_sha256" in cfg:
        cfg["config_sha256"] = config_digest(cfg)
    (path / "config.json").write_text(json.dumps(cfg, indent=2))


@pytest.mark.parametrize(
    "change,problem",
    [
        (
            lambda c: c["lexical"].update(weight=1.5),
            "'lexical.weight' must be between 0 and 1",
        ),
        (
            lambda c: c["lexical"].update(weight=-0.2),
            "'lexical.weight' must be between 0 and 1",
        ),
        (lambda c: c["head"].update(C=-1), "'head.C' must be a positive number"),
        (lambda c: c["lexical"].update(C=0), "'lexical.C' must be a positive number"),
        (
            lambda c: c["head"].update(temperature=0),
            "'head.temperature' must be a positive",
        ),
        (
            lambda c: c["encoder"].update(backend="gpu"),
            "'encoder.backend' must be one of",
        ),
        (
            lambda c: c["lexical"].update(n_terms=5),
            "'lexical.n_terms' is 5, but vocab.json",
        ),
    ],
)
def test_config_values_are_checked_at_load(tmp_path, change, problem):
    """Row 8: a TF-IDF weight of 1.5 gave confidence 1.105 and negative scores."""
    path = _shipped_copy(tmp_path)
    _edit_config(path, change)
    with pytest.raises(
        ModelError, match=problem.replace("(", r"\(").replace(")", r"\)")
    ):
        StanceClassifier.load(path)


def test_a_config_without_its_digest_is_refused_unless_trusted(tmp_path):
    """Row 8: deleting `config_sha256` skipped the check."""
    path = _shipped_copy(tmp_path)
    _edit_config(path, lambda c: c.pop("config_sha256"), redigest=False)
    with pytest.raises(ModelError, match="no config_sha256 .* --trust-unsigned"):
        StanceClassifier.load(path)
    assert StanceClassifier.load(path, trust_unsigned=True).lexical_weight > 0
    # Trusted or not, the values are still checked.
    _edit_config(path, lambda c: c["lexical"].update(weight=1.5), redigest=False)
    with pytest.raises(ModelError, match="'lexical.weight' must be between 0 and 1"):
        StanceClassifier.load(path, trust_unsigned=True)


def test_a_head_of_the_wrong_width_is_refused_at_load(tmp_path):
    """Row 14: a head for 100 features, hashes recomputed, loaded and failed later."""
    from stance.core.files import sha256_file

    path = _shipped_copy(tmp_path)
    head = path / "head.npz"
    data = dict(np.load(head))
    data["coef"] = data["coef"][:, :100]
    np.savez(head, **data)
    _edit_config(path, lambda c: c["files"].update({"head.npz": sha256_file(head)}))
    with pytest.raises(
        ModelError, match="head takes 100 features, but the encoder gives 384"
    ):
        StanceClassifier.load(path)


def test_cli_trust_unsigned(tmp_path):
    from conftest import SEEDS, run_cli

    path = _shipped_copy(tmp_path)
    _edit_config(path, lambda c: c.pop("config_sha256"), redigest=False)
    page = SEEDS / "000_da80d79405789213.txt"
    res = run_cli("label", page, "--model", path, "-o", tmp_path / "a.jsonl")
    assert res.returncode == 2 and len(res.stderr.splitlines()) == 1
    assert "--trust-unsigned" in res.stderr and not (tmp_path / "a.jsonl").exists()
    res = run_cli(
        "label", page, "--model", path, "--trust-unsigned", "-o", tmp_path / "a.jsonl"
    )
    assert res.returncode == 0, res.stderr


def test_estimators_clone_with_the_parameters_they_were_made_with():
    """scikit-learn's contract: `__init__` stores, nothing rewrites a parameter."""
    from sklearn.base import clone

    from stance.model.estimators import LexicalHead

    body = FakeEmbedder()
    model = StanceClassifier(C=4.0, lexical_weight=0.5, embedder=body)
    model.fit(TEXTS, Y, GROUPS)
    copy = clone(model)  # deep-copies a parameter that is not an estimator
    assert isinstance(copy.embedder, FakeEmbedder)
    params = {k: v for k, v in model.get_params().items() if k != "embedder"}
    assert {k: v for k, v in copy.get_params().items() if k != "embedder"} == params
    assert not hasattr(copy, "head_")
    for est in (StanceHead(C=0.3), LexicalHead(C=2.0)):
        assert clone(est).get_params() == est.get_params()
    with pytest.raises(ValueError, match="no parameter 'gamma'"):
        model.set_params(gamma=1)


def test_the_default_body_is_made_once_and_not_stored_in_embedder(monkeypatch):
    import stance.model.embed as embed

    made = []
    monkeypatch.setattr(
        embed, "Embedder", lambda backend: made.append(1) or FakeEmbedder()
    )
    model = StanceClassifier(backend="onnx")
    model.fit(TEXTS, Y, GROUPS)
    model.predict(TEXTS)
    assert len(made) == 1 and model.embedder is None
