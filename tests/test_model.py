"""train/model.py: saving and loading models, refusing files that lie about themselves, and
predictions that are numbers or a clear error, never NaN."""

from __future__ import annotations

import io
import json
import os
import tracemalloc
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from handgrad.core import ops
from handgrad.core.network import Architecture
from handgrad.train.data import DataError, Standardizer, load_dataset
from handgrad.train.loop import TrainConfig, train
from handgrad.train.model import Model, ModelError, load_model, save_model


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def iris_run():
    return train(load_dataset("iris"), TrainConfig(layers=(4, 8, 3), epochs=30, patience=None,
                                                   learning_rate=0.01, label_smoothing=0.2))


def test_model_round_trip_predicts_the_same(tmp_path, iris_run):
    path = save_model(iris_run.model, tmp_path / "m.npz")
    loaded = load_model(path)
    X = load_dataset("iris").X
    np.testing.assert_array_equal(loaded.predict_proba(X), iris_run.model.predict_proba(X))
    assert loaded.classes == iris_run.model.classes
    assert loaded.label_smoothing == 0.2
    assert not list(tmp_path.glob(".*tmp"))  # no temporary file left


def test_interrupted_save_leaves_the_old_model(tmp_path, iris_run, monkeypatch):
    path = save_model(iris_run.model, tmp_path / "m.npz")
    before = path.read_bytes()

    def crash(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(np, "savez", crash)
    with pytest.raises(KeyboardInterrupt):
        save_model(iris_run.model, path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["m.npz"]


def test_corrupt_and_foreign_files_are_clear_errors(tmp_path, iris_run):
    good = save_model(iris_run.model, tmp_path / "m.npz").read_bytes()
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(good[: len(good) // 2])
    foreign = tmp_path / "foreign.npz"
    np.savez(foreign, W1=np.zeros((2, 2)))
    text = _write(tmp_path / "text.npz", "hello")
    for path, message in [(truncated, "not a handgrad model"), (foreign, "without handgrad's meta"),
                          (text, "not a handgrad model"), (tmp_path / "none.npz", "no such")]:
        with pytest.raises(ModelError, match=message):
            load_model(path)


def test_explained_instance_is_a_checked_worked_step(iris_run):
    from handgrad.solver import solve
    from handgrad.train.explain import instance_problem

    problem = instance_problem(iris_run.model, 17)
    data = load_dataset("iris")
    expected_x = iris_run.model.standardizer.transform(data.X[17:18])
    np.testing.assert_allclose(problem.x, expected_x)
    assert problem.spec.loss.label_smoothing == 0.2
    solution = solve(problem)
    assert solution.checks
    assert all(c.passed for c in solution.checks)


# ------------------------------------------------------------------ files that lie


@pytest.fixture(scope="module")
def good_arrays(iris_run, tmp_path_factory) -> dict[str, Any]:
    path = save_model(iris_run.model, tmp_path_factory.mktemp("good") / "m.npz")
    with np.load(path) as archive:
        return {key: archive[key] for key in archive.files}


def _forge(path: Path, arrays: dict[str, Any], meta: dict[str, Any] | None = None,
           meta_text: str | None = None, **replaced: Any) -> Path:
    """A model file made from a good one's arrays with some replaced (None: removed) and its
    meta changed by `meta` (None values remove keys) or replaced by `meta_text`."""
    content = json.loads(str(arrays["meta"]))
    for key, value in (meta or {}).items():
        if value is None:
            content.pop(key, None)
        else:
            content[key] = value
    forged = {k: v for k, v in arrays.items() if k != "meta"}
    for key, value in replaced.items():
        if value is None:
            forged.pop(key)
        else:
            forged[key] = value
    forged["meta"] = np.array(meta_text if meta_text is not None else json.dumps(content))
    np.savez(path, **forged)
    return path


def _nan_at_one(array: np.ndarray, value: float) -> np.ndarray:
    changed = array.copy()
    changed.flat[1] = value
    return changed


LIES = [
    # before: predictions looked plausible (where(h > 0) turns NaN into 0)
    ("nan_weights", {"W1": "nan"}, None, None, "W1 holds NaN or infinite values"),
    ("inf_bias", {"b2": "inf"}, None, None, "b2 holds NaN or infinite values"),
    ("inf_scale", {"standardize_scale": "inf"}, None, None,
     "standardize_scale holds NaN or infinite values"),
    # before: silently the identity
    ("activation", {}, {"activation": "swish"}, None,
     "activation: 'swish' is not one of 'relu', 'leaky_relu'"),
    # before: IndexError, OverflowError, TypeError tracebacks
    ("no_layers", {}, {"layers": []}, None, "layers: needs at least two sizes"),
    ("layers_1e400", {}, None, ("[4, 8, 3]", "[4, 1e400, 3]"),
     "layers: expected a list of whole numbers like [2, 3, 3], got [4, inf, 3]"),
    ("text_slope", {}, {"leaky_slope": "0.01"}, None,
     "leaky_slope: expected a number, got text '0.01'"),
    ("text_weights", {"W2": "text"}, None, None, "W2 holds <U32, not float32 numbers"),
    ("nan_in_meta", {}, None, ('"learning_rate": 0.01', '"learning_rate": NaN'),
     "its meta is not JSON: NaN is not a number JSON allows"),
    ("unknown_key", {}, {"colour": "red"}, None, "unknown key 'colour' in the meta"),
    ("missing_key", {}, {"output": None}, None, "output: missing from the meta"),
    ("classes_twice", {}, {"classes": ["setosa", "setosa", "virginica"]}, None,
     "classes: 'setosa' is named twice"),
    # an escape in a class name would clear the terminal of whoever runs predict
    ("classes_escape", {}, {"classes": ["\u001b[2Jx", "b", "c"]}, None,
     "classes: '\\x1b[2Jx' holds control characters"),
    ("features_short", {}, {"feature_names": ["a"]}, None,
     "feature_names: 1 names for 4 inputs d"),
    ("dtype", {}, {"dtype": "int8"}, None, "dtype: 'int8' is not 'float32' or 'float64'"),
    ("data_source", {}, {"data": {"source": 5}}, None, "data.source: expected text, got 5"),
    ("wrong_shape", {"W1": "transposed"}, None, None,
     "W1 has shape (8, 4); the meta's layers need (4, 8)"),
    ("missing_array", {"b1": None}, None, None, "no array b1"),
    ("extra_array", {"W9": "extra"}, None, None, "an unexpected array 'W9'"),
    ("huge_network", {}, {"layers": [4, 100_000, 100_000, 3]}, None,
     "parameters, more than handgrad loads (50,000,000 at most)"),
    ("too_deep", {}, {"layers": [4, *[2] * 1000, 3]}, None,
     "1,001 weight layers, more than handgrad loads (1,000 at most)"),
    ("ce_without_softmax", {}, {"output": "sigmoid"}, None,
     "cross_entropy needs the softmax output"),
]


@pytest.mark.parametrize(("name", "arrays", "meta", "text", "message"), LIES,
                         ids=[lie[0] for lie in LIES])
def test_a_model_file_that_lies_is_refused_at_load(tmp_path, good_arrays, name, arrays, meta,
                                                   text, message):
    replaced: dict[str, Any] = {}
    for key, how in arrays.items():
        original = good_arrays.get(key, good_arrays["W1"])
        replaced[key] = {
            "nan": lambda a: _nan_at_one(a, np.nan),
            "inf": lambda a: _nan_at_one(a, np.inf),
            "text": lambda a: a.astype(str),
            "transposed": lambda a: a.T.copy(),
            "extra": lambda a: a,
            None: lambda a: None,
        }[how](original)
    meta_text = None
    if text is not None:
        meta_text = str(good_arrays["meta"]).replace(*text)
        assert meta_text != str(good_arrays["meta"])
    path = _forge(tmp_path / f"{name}.npz", good_arrays, meta, meta_text, **replaced)
    with pytest.raises(ModelError) as caught:
        load_model(path)
    assert message in str(caught.value)
    assert str(caught.value).startswith(str(path))


def test_a_header_claiming_a_huge_shape_allocates_nothing(tmp_path, good_arrays):
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        header, {"descr": "<f4", "fortran_order": False, "shape": (100_000, 100_000)})
    path = tmp_path / "huge.npz"
    with zipfile.ZipFile(path, "w") as archive:
        for key, value in good_arrays.items():
            member = io.BytesIO()
            np.lib.format.write_array(member, value)
            archive.writestr(f"{key}.npy",
                             header.getvalue() + bytes(64) if key == "W1" else member.getvalue())
    tracemalloc.start()  # NumPy reports its allocations to tracemalloc
    try:
        with pytest.raises(ModelError, match=r"'W1' claims shape \(100000, 100000\)"):
            load_model(path)  # before: np.load allocated the 40 GB claimed (MemoryError)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 50 * 2**20


def test_a_model_path_that_is_a_fifo_is_refused(tmp_path):
    fifo = tmp_path / "model.npz"
    os.mkfifo(fifo)
    with pytest.raises(ModelError, match=r"is a pipe \(FIFO\), not a regular file"):
        load_model(fifo)


def test_a_model_that_could_not_be_loaded_is_not_saved(tmp_path, iris_run):
    model = iris_run.model
    broken = type(model)(**{**vars(model), "params": {**model.params,
                                                       "W2": _nan_at_one(model.params["W2"],
                                                                         np.nan)}})
    with pytest.raises(ModelError, match="cannot save this model: W2 holds NaN"):
        save_model(broken, tmp_path / "m.npz")
    assert not list(tmp_path.iterdir())


# ------------------------------------------------------------------ predictions


def test_a_feature_beyond_float32_is_an_error_not_nan(iris_run):
    assert iris_run.model.params["W1"].dtype == np.float32
    rows = np.array([[5.1, 3.5, 1.4, 0.2], [1e39, 3.5, 1.4, 0.2]])
    with pytest.raises(DataError) as caught:  # before: NaN probabilities and a RuntimeWarning
        iris_run.model.predict_proba(rows)
    assert "feature 'sepal length (cm)' in row 2 is 1e+39" in str(caught.value)


def test_an_overflow_inside_a_float64_network_names_the_row():
    # 2 → 2 ReLU → 2 softmax, W1 all 1, W2 columns +1, −1: features of 1e308 give h = inf, so
    # z = (inf, −inf) and NaN probabilities (before: printed, with exit status 0)
    arch = Architecture((2, 2, 2), ops.Activation("relu"), "softmax", "in_out", "cross_entropy",
                        "mean")
    params = {"W1": np.ones((2, 2)), "b1": np.zeros(2), "W2": np.array([[1.0, -1.0]] * 2),
              "b2": np.zeros(2)}
    model = Model(arch, params, Standardizer(np.zeros(2), np.ones(2)), ("p", "q"), ("a", "b"))
    rows = np.array([[0.5, 0.1], [1e308, 1e308]])
    with pytest.raises(DataError, match="row 2 overflows the network's float64 arithmetic"):
        model.predict_proba(rows)
    np.testing.assert_allclose(model.predict_proba(rows[:1]).sum(), 1.0)
