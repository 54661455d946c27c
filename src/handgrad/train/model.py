"""A trained model: architecture, conventions, parameters and the standardisation it expects.

Saved as one `.npz` file: the parameters W1, b1, ... as arrays and a JSON text `meta` with
everything else (no pickles, so loading a file runs no code). Saving writes a temporary file
beside the target, flushes it to disk and renames it over the target, so an interrupted save
leaves the old model (or none), never half of one. Loading trusts nothing in the file: see
`load_model`.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from handgrad.atomic import atomic_write
from handgrad.core import network, ops
from handgrad.core.network import Architecture
from handgrad.errors import HandgradError, did_you_mean
from handgrad.settings import MAX_LAYER_SIZE, parse_spec
from handgrad.text import shown
from handgrad.train.data import Standardizer, overflow_error, standardize
from handgrad.train.files import ArrayHeader, NpzArchive, excerpt

FORMAT = "handgrad-model"
VERSION = 1
MAX_MODEL_PARAMETERS = 50_000_000  # 200 MB of float32; `train` refuses larger networks too
MAX_MODEL_LAYERS = 1_000  # weight layers; `train` refuses deeper networks too
MAX_META_CHARS = 4 * 2**20  # room for the names of 100,000 classes and 100,000 features
# all arrays together: the parameters in float64, the standardisation, the meta's 'U' text
MAX_MODEL_BYTES = 8 * MAX_MODEL_PARAMETERS + 16 * MAX_LAYER_SIZE + 4 * MAX_META_CHARS


class ModelError(HandgradError):
    """A file that is not a usable handgrad model."""


@dataclass
class Model:
    """What a prediction or a worked step needs; parameters in the in_out layout."""

    arch: Architecture
    params: dict[str, np.ndarray]
    standardizer: Standardizer
    classes: tuple[str, ...]
    feature_names: tuple[str, ...]
    label_smoothing: float = 0.0
    smoothing: ops.Smoothing = "uniform"
    learning_rate: float = 0.1
    data: dict[str, Any] = field(default_factory=dict)  # where the training data came from

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """ŷ (N, q) for raw feature rows X (N, d), standardised as in training.

        A row the model's dtype cannot carry (a feature of 1e39 in a float32 model) is a
        DataError naming its row (1-based) and feature, never a row of NaN probabilities.
        """
        dtype = self.params["W1"].dtype
        rows = standardize(X, self.standardizer, dtype, self.feature_names)
        # an overflow inside the network is reported below, by row, not as a NumPy warning
        with np.errstate(over="ignore", invalid="ignore"):
            yhat = np.asarray(network.predict(self.params, rows, self.arch))
        bad = np.flatnonzero(~np.isfinite(yhat).all(axis=1))
        if bad.size:
            raise overflow_error(rows, int(bad[0]), dtype, self.feature_names)
        return yhat

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Class indices (N,) into `classes`."""
        return np.argmax(self.predict_proba(X), axis=1)

    def problem_document(self, x_raw: np.ndarray, label: int, title: str) -> dict[str, Any]:
        """A problem file's content for one gradient step on one raw example: what `solve` reads."""
        row = np.asarray(x_raw, float).reshape(1, -1)
        x = standardize(row, self.standardizer, np.float64, self.feature_names)[0]
        act = self.arch.hidden
        network_section: dict[str, Any] = {
            "layers": list(self.arch.layers),
            "activation": act.name,
            "output": self.arch.output,
            "layout": "in_out",
        }
        if act.name == "leaky_relu":
            network_section["leaky_slope"] = float(act.leaky_slope)
        if act.name == "relu":
            network_section["relu_grad_at_zero"] = float(act.relu_grad_at_zero)
        loss: dict[str, Any] = {"kind": self.arch.loss, "reduction": self.arch.reduction}
        data: dict[str, Any] = {"x": x.tolist()}
        if self.arch.loss == "cross_entropy":
            loss["label_smoothing"] = self.label_smoothing
            loss["smoothing"] = self.smoothing
            data["label"] = int(label)
        else:
            data["y"] = np.eye(self.arch.layers[-1])[label].tolist()
        return {
            "title": title,
            "network": network_section,
            "params": {k: np.asarray(v, float).tolist() for k, v in self.params.items()},
            "data": data,
            "loss": loss,
            "optimizer": {"learning_rate": self.learning_rate, "steps": 1},
        }

    def meta(self) -> dict[str, Any]:
        act = self.arch.hidden
        return {
            "format": FORMAT,
            "version": VERSION,
            "layers": list(self.arch.layers),
            "activation": act.name,
            "leaky_slope": float(act.leaky_slope),
            "relu_grad_at_zero": float(act.relu_grad_at_zero),
            "output": self.arch.output,
            "loss": self.arch.loss,
            "reduction": self.arch.reduction,
            "label_smoothing": self.label_smoothing,
            "smoothing": self.smoothing,
            "learning_rate": self.learning_rate,
            "classes": list(self.classes),
            "feature_names": list(self.feature_names),
            "dtype": str(self.params["W1"].dtype),
            "data": self.data,
        }


def save_model(model: Model, path: str | Path) -> Path:
    """Write the model atomically to `path` (a .npz file); return the path.

    What `load_model` would refuse is refused here too, so every file written loads back.
    """
    path = Path(path)
    if path.suffix != ".npz":
        raise ModelError(f"{path}: a model file's name ends in .npz")
    meta = model.meta()
    problems = _meta_problems(meta)
    problems += [f"{name} holds NaN or infinite values" for name, value in _arrays(model).items()
                 if not np.isfinite(value).all()]
    if problems:
        raise ModelError(f"{path}: cannot save this model: {_listed(problems)}")
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = {name: np.ascontiguousarray(value) for name, value in _arrays(model).items()}
    arrays["meta"] = np.array(json.dumps(meta, allow_nan=False))
    atomic_write(path, lambda stream: np.savez(stream, **arrays))  # type: ignore[arg-type]
    return path


def _listed(problems: list[str], most: int = 5) -> str:
    """The first few problems of a file, so that a message stays one readable line."""
    more = len(problems) - most
    return "; ".join(problems[:most]) + (f"; and {more} more" if more > 0 else "")


def _arrays(model: Model) -> dict[str, np.ndarray]:
    return {**model.params, "standardize_mean": model.standardizer.mean,
            "standardize_scale": model.standardizer.scale}


def load_model(path: str | Path) -> Model:
    """Read a model written by `save_model`; anything else is a clear ModelError.

    Nothing in the file is trusted: only a regular file is opened, every field of the meta is
    checked by the problem file's rules, and every array's declared shape and dtype are checked
    against the meta before the array is read (a header claiming a huge shape allocates
    nothing); the parameters must then be finite.
    """
    path = Path(path)
    with NpzArchive(path, ModelError, "model file", MAX_MODEL_BYTES,
                    unreadable="not a handgrad model (not a readable .npz: {reason})") as archive:
        meta = _read_meta(archive, path)
        problems = _meta_problems(meta)
        if problems:
            raise ModelError(f"{path}: a damaged handgrad model: {_listed(problems)}")
        try:
            arch = _architecture(meta)
        except ValueError as err:  # the core's own rules, e.g. cross-entropy needs softmax
            raise ModelError(f"{path}: a damaged handgrad model: {excerpt(err, 200)}") from None
        expected = _expected_arrays(arch, np.dtype(meta["dtype"]))
        problems = _header_problems(archive.headers, expected)
        if problems:
            raise ModelError(f"{path}: a damaged handgrad model: {_listed(problems)}")
        arrays = {name: archive.load(name).astype(dtype.newbyteorder("="))
                  for name, (_, dtype) in expected.items()}
    problems = [f"{name} holds NaN or infinite values" for name, value in arrays.items()
                if not np.isfinite(value).all()]
    if not (arrays["standardize_scale"] > 0).all():
        problems.append("standardize_scale holds a scale that is not positive")
    if problems:
        raise ModelError(f"{path}: a damaged handgrad model: {_listed(problems)}")
    mean, scale = arrays.pop("standardize_mean"), arrays.pop("standardize_scale")
    return Model(
        arch,
        arrays,
        Standardizer(mean, scale),
        tuple(meta["classes"]),
        tuple(meta["feature_names"]),
        float(meta["label_smoothing"]),
        meta["smoothing"],
        float(meta["learning_rate"]),
        dict(meta["data"]),
    )


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


def _read_meta(archive: NpzArchive, path: Path) -> dict[str, Any]:
    header = archive.headers.get("meta")
    if header is None:
        raise ModelError(f"{path}: not a handgrad model (an .npz file without handgrad's meta)")
    if header.dtype.kind != "U" or header.shape != ():
        raise ModelError(f"{path}: not a handgrad model (its meta is not text)")
    if header.nbytes > 4 * MAX_META_CHARS:  # 4 bytes per character in NumPy's 'U' dtype
        raise ModelError(f"{path}: a damaged handgrad model: its meta is longer than"
                         f" {MAX_META_CHARS:,} characters")
    try:
        meta = json.loads(str(archive.load("meta")), parse_constant=_refuse_constant)
    except (ValueError, RecursionError) as err:  # ValueError: also a 5,000-digit integer
        raise ModelError(
            f"{path}: not a handgrad model (its meta is not JSON: {excerpt(err, 120)})"
        ) from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ModelError(f"{path}: not a handgrad model (format marker missing)")
    if meta.get("version") != VERSION:
        raise ModelError(
            f"{path}: model format version {excerpt(meta.get('version'))}; this handgrad"
            f" reads {VERSION}"
        )
    return meta


# Where each key of the meta sits in a problem file, whose rules (handgrad.settings) it follows.
_PROBLEM_KEYS = {
    "layers": ("network", "layers"),
    "activation": ("network", "activation"),
    "leaky_slope": ("network", "leaky_slope"),
    "relu_grad_at_zero": ("network", "relu_grad_at_zero"),
    "output": ("network", "output"),
    "loss": ("loss", "kind"),
    "reduction": ("loss", "reduction"),
    "label_smoothing": ("loss", "label_smoothing"),
    "smoothing": ("loss", "smoothing"),
    "learning_rate": ("optimizer", "learning_rate"),
}
META_KEYS = ("format", "version", *_PROBLEM_KEYS, "classes", "feature_names", "dtype", "data")
# the data record's keys: what each holds, in words for a message
_DATA_KEYS = {"source": "text", "target": "text", "seed": "a whole number",
              "validation": "a fraction", "test": "a fraction"}


def _meta_problems(meta: dict[str, Any]) -> list[str]:
    """Every way `meta` falls short of what save_model writes, each naming its key; [] if none."""
    problems = [f"unknown key '{excerpt(key)}' in the meta{did_you_mean(str(key), META_KEYS)}"
                for key in meta if key not in META_KEYS]
    problems += [f"{key}: missing from the meta" for key in META_KEYS if key not in meta]
    if problems:
        return [excerpt(p, 200) for p in problems]
    document: dict[str, Any] = {"data": {"x": 0}}
    for key, (section, name) in _PROBLEM_KEYS.items():
        document.setdefault(section, {})[name] = meta[key]
    found: list[str] = []
    spec = parse_spec(document, found)
    for message in found:
        problems.append(_meta_message(message))
    if spec is not None:
        layers = spec.network.layers
        count = sum(a * b + b for a, b in itertools.pairwise(layers))
        if count > MAX_MODEL_PARAMETERS:
            problems.append(f"layers: {excerpt(list(layers))} has {count:,} parameters, more than"
                            f" handgrad loads ({MAX_MODEL_PARAMETERS:,} at most)")
        if len(layers) - 1 > MAX_MODEL_LAYERS:
            problems.append(f"layers: {len(layers) - 1:,} weight layers, more than handgrad"
                            f" loads ({MAX_MODEL_LAYERS:,} at most)")
        if spec.loss.kind != "cross_entropy" and spec.loss.label_smoothing:
            problems.append("label_smoothing: applies to the cross-entropy loss only")
        problems += _names_problems(meta["classes"], "classes", layers[-1], "outputs q",
                                    distinct=True)
        problems += _names_problems(meta["feature_names"], "feature_names", layers[0],
                                    "inputs d", distinct=False)
        if layers[-1] < 2:
            problems.append(f"layers: a classifier needs at least 2 outputs, got {layers[-1]}")
    if meta["dtype"] not in ("float32", "float64"):
        problems.append(f"dtype: {excerpt(repr(meta['dtype']))} is not 'float32' or 'float64'")
    problems += _data_problems(meta["data"])
    return [excerpt(p, 200) for p in problems]


def _meta_message(message: str) -> str:
    """A problem-file message ("network.layers[1]: ...") in the meta's own keys ("layers[1]")."""
    for key, (section, name) in _PROBLEM_KEYS.items():
        where = f"{section}.{name}"
        if message.startswith(where) and message[len(where) : len(where) + 1] in (":", "["):
            return key + message[len(where) :]
    return message


def _names_problems(
    names: Any, key: str, size: int, what: str, distinct: bool
) -> list[str]:
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        return [f"{key}: expected a list of names (text), got {excerpt(names)}"]
    if len(names) != size:
        return [f"{key}: {len(names):,} names for {size:,} {what}"]
    if distinct and len(set(names)) != len(names):
        twice = next(n for n in names if names.count(n) > 1)
        return [f"{key}: '{excerpt(twice)}' is named twice"]
    control = next((n for n in names if shown(n, len(n) + 1) != n), None)
    if control is not None:  # an escape sequence would reach the terminal and the CSV
        return [f"{key}: '{shown(control)}' holds control characters, which no name needs"]
    return []


def _data_problems(data: Any) -> list[str]:
    """The record of where the training data came from (read by `solve --model`)."""
    if not isinstance(data, dict):
        return [f"data: expected a table (where the training data came from), got"
                f" {excerpt(data)}"]
    problems = []
    for key, value in data.items():
        kind = _DATA_KEYS.get(key)
        if kind is None:
            problems.append(f"data.{excerpt(key)}: unknown key{did_you_mean(key, _DATA_KEYS)}")
        elif key == "target" and value is None:  # a built-in set has no label column
            continue
        elif kind == "text" and not isinstance(value, str):
            problems.append(f"data.{key}: expected text, got {excerpt(repr(value))}")
        elif kind != "text" and (isinstance(value, bool) or not isinstance(value, int | float)):
            problems.append(f"data.{key}: expected {kind}, got {excerpt(repr(value))}")
        elif kind == "a whole number" and not (isinstance(value, int) and value >= 0):
            problems.append(f"data.{key}: expected {kind} ≥ 0, got {excerpt(value)}")
        elif kind == "a fraction" and not 0 <= value < 1:
            problems.append(f"data.{key}: expected a fraction of the rows, got {excerpt(value)}")
    return problems


def _architecture(meta: dict[str, Any]) -> Architecture:
    act = ops.Activation(meta["activation"], meta["leaky_slope"], meta["relu_grad_at_zero"])
    return Architecture(tuple(meta["layers"]), act, meta["output"], "in_out", meta["loss"],
                        meta["reduction"])


def _expected_arrays(arch: Architecture, dtype: np.dtype) -> dict[str, tuple[tuple[int, ...],
                                                                               np.dtype]]:
    """Each array's name, shape and dtype as the meta implies them (meta itself left out)."""
    expected: dict[str, tuple[tuple[int, ...], np.dtype]] = {}
    for layer in range(1, arch.depth + 1):
        expected[f"W{layer}"] = (arch.weight_shape(layer), dtype)
        expected[f"b{layer}"] = ((arch.layers[layer],), dtype)
    expected["standardize_mean"] = ((arch.layers[0],), np.dtype(np.float64))
    expected["standardize_scale"] = ((arch.layers[0],), np.dtype(np.float64))
    return expected


def _header_problems(
    headers: dict[str, ArrayHeader],
    expected: dict[str, tuple[tuple[int, ...], np.dtype]],
) -> list[str]:
    """Headers that disagree with the meta: read from the file's headers, nothing allocated."""
    problems = [f"no array {name}" for name in expected if name not in headers]
    problems += [f"an unexpected array '{excerpt(name)}'" for name in headers
                 if name not in expected and name != "meta"]
    for name, (shape, dtype) in expected.items():
        header = headers.get(name)
        if header is None:
            continue
        if header.shape != shape:
            problems.append(f"{name} has shape {excerpt(header.shape)}; the meta's layers need"
                            f" {shape}")
        # the standardisation is float64 from `train`, float32 from a float32 estimator
        standardizing = name.startswith("standardize")
        if header.dtype.kind != "f" or (
            header.dtype.itemsize not in (4, 8) if standardizing
            else header.dtype.itemsize != dtype.itemsize
        ):
            wanted = "float32 or float64" if standardizing else str(dtype)
            problems.append(f"{name} holds {excerpt(header.dtype)}, not {wanted} numbers")
    return [excerpt(p, 200) for p in problems]
