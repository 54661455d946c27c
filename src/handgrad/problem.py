"""Problem files: reading TOML or JSON, validating every key, and the validated `Problem`.

Scalar settings are checked against the table in `settings`; arrays are checked here, so that a
ragged list, a string inside a matrix or a wrong shape gets a message naming the key and the
fix. All problems in a file are reported at once.
"""

from __future__ import annotations

import json
import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from handgrad.core import network
from handgrad.core.network import Architecture
from handgrad.core.ops import Activation
from handgrad.errors import ProblemError, did_you_mean
from handgrad.settings import MAX_FLOAT, ProblemSpec, kind_of, parse_spec
from handgrad.text import has_lone_surrogate, quoted, shown

SEED_PROBLEM = "homework3.toml"
PROBLEMS_FOLDER = Path(__file__).parent / "problems"  # package data, shipped in the wheel
DISTRIBUTION_TOLERANCE = 1e-9  # how far a row of y may sum from 1 for cross-entropy
MAX_NESTING = 2  # a matrix is a list of lists: deeper nesting is never valid here
MAX_PARAMETERS = 10_000_000
MAX_FILE_BYTES = 5_000_000  # a problem or an answer is a few kilobytes; reading more is waste


@dataclass(frozen=True)
class Problem:
    """A validated problem: the settings, the architecture, and float64 arrays (one row each)."""

    spec: ProblemSpec
    architecture: Architecture
    params: dict[str, np.ndarray]  # in the problem's layout
    x: np.ndarray  # (B, d)
    y: np.ndarray  # (B, q), the targets before smoothing
    batched: bool  # False when x was given as a single instance
    params_initialised: bool  # True when [params] was left out and drawn from network.seed
    source: str  # the file name, or "<dict>"

    @property
    def name(self) -> str:
        if self.spec.title:
            return self.spec.title
        return "problem" if self.source == "<dict>" else Path(self.source).stem

    @property
    def target(self) -> np.ndarray:
        """What ŷ is compared with (B, q): yˢ for cross-entropy, y for squared error."""
        loss = self.spec.loss
        return np.asarray(
            network.target_for(self.y, self.architecture.loss, loss.label_smoothing, loss.smoothing)
        )

    @property
    def batch_size(self) -> int:
        return int(self.x.shape[0])

    def to_dict(self) -> dict[str, Any]:
        """The problem as understood, as a problem document: every default filled in, the
        parameters written out, the targets as given (class labels stay labels, otherwise y);
        `load_problem` reads it back as the same problem, except that parameters drawn from
        `network.seed` come back as given ones (the same numbers, no longer "drawn")."""
        document = self.spec.to_dict()
        document["params"] = {name: value.tolist() for name, value in self.params.items()}
        rows = self.x.tolist(), self.y.tolist()
        document["data"] = {"x": rows[0] if self.batched else rows[0][0]}
        if self.spec.data.label is not None:
            document["data"]["label"] = self.spec.data.label
        else:
            document["data"]["y"] = rows[1] if self.batched else rows[1][0]
        if document.get("title") is None:
            document.pop("title", None)
        return document


def default_problem_path() -> Path:
    """The seed homework (Problem 2 of the course's Homework 3), shipped with the package."""
    return PROBLEMS_FOLDER / SEED_PROBLEM


def example_names() -> list[str]:
    """The shipped examples' names: homework3, deep_batch, regression."""
    return sorted(path.stem for path in PROBLEMS_FOLDER.glob("*.toml"))


def example_path(name: str) -> Path | None:
    """The shipped example called `name` (with or without .toml), or None."""
    stem = name[: -len(".toml")] if name.endswith(".toml") else name
    return PROBLEMS_FOLDER / f"{stem}.toml" if stem in example_names() else None


def problem_path(source: str | Path) -> Path:
    """A problem file's path: the file itself when it exists, else the shipped example of that
    name (so `homework3` works wherever a problem file is expected), else the path as given."""
    path = Path(source)
    if path.exists() or path.parent != Path("."):
        return path
    return example_path(path.name) or path


def load_problem(source: str | Path | Mapping[str, Any] | None = None) -> Problem:
    """Read and validate a problem from a TOML/JSON file, a shipped example's name or a dict;
    None loads the seed homework."""
    if source is None:
        source = default_problem_path()
    if isinstance(source, Mapping):
        return validate_problem(source, "<dict>")
    path = problem_path(source)
    if not path.exists() and path.parent == Path(".") and not path.suffix:
        raise ProblemError(
            [f"no such file, and no shipped example is called that ({', '.join(example_names())})"],
            str(path),
        )
    return validate_problem(read_document(path), str(path))


def read_document(path: Path) -> dict[str, Any]:
    """Parse a TOML file (or JSON, for a .json name) into a dict, with clear errors."""
    name = str(path)
    if not path.exists():
        raise ProblemError(["the file does not exist"], name)
    if path.is_dir():
        raise ProblemError(["is a folder, not a file"], name)
    if not path.is_file():  # a FIFO or a device would block or never end
        raise ProblemError(["not a regular file (a pipe or a device); give a file"], name)
    if path.stat().st_size > MAX_FILE_BYTES:
        raise ProblemError(
            [f"{path.stat().st_size:,} bytes: larger than any problem or answer needs"
             f" (at most {MAX_FILE_BYTES:,})"],
            name,
        )
    try:
        text = path.read_text(encoding="utf-8-sig")  # a byte-order mark is not an error
    except UnicodeDecodeError:
        raise ProblemError(["not a text file (it is not valid UTF-8)"], name) from None
    except OSError as error:
        raise ProblemError([f"cannot be read: {error.strerror}"], name) from None
    if not text.strip():
        raise ProblemError(["the file is empty"], name)
    try:
        document = json.loads(text) if path.suffix.lower() == ".json" else tomllib.loads(text)
    except json.JSONDecodeError as error:
        message = f"invalid JSON at line {error.lineno}, column {error.colno}: {error.msg}"
        raise ProblemError([message], name) from None
    except tomllib.TOMLDecodeError as error:
        raise ProblemError([f"invalid TOML: {error}"], name) from None
    except RecursionError:
        raise ProblemError(["lists or tables are nested too deeply to read"], name) from None
    except ValueError as error:  # an integer of more than 4,300 digits, refused by int()
        reason = "a whole number of more than 4,300 digits" if "digits" in str(error) else "a value"
        raise ProblemError([f"{reason} cannot be read as a number"], name) from None
    if not isinstance(document, dict):
        raise ProblemError(["the top level must be a table (an object in JSON)"], name)
    return document


def validate_problem(document: Mapping[str, Any], source: str) -> Problem:
    """Check every key of a parsed document and build the Problem, or raise ProblemError."""
    problems: list[str] = []
    _check_text(document, "", problems)
    if problems:
        raise ProblemError(problems, source)
    spec = parse_spec(document, problems)
    if spec is None:
        raise ProblemError(problems, source)
    arch = _architecture(spec, problems)
    x, y, batched = _data(spec, arch, problems)
    params, initialised = _params(spec, arch, problems)
    unknown = [name for name in spec.optimizer.frozen if name not in arch.parameter_names()]
    for name in unknown:
        choices = arch.parameter_names()
        problems.append(
            f"optimizer.frozen: {quoted(name)} is not a parameter of this network"
            f"{did_you_mean(name, choices)} (it has {', '.join(choices)})"
        )
    if problems or x is None or y is None or params is None:
        raise ProblemError(problems, source)
    return Problem(spec, arch, params, x, y, batched, initialised, source)


# --------------------------------------------------------------------------- arrays, by hand


def _check_text(value: Any, where: str, problems: list[str]) -> None:
    """Every key and string must be text: JSON's lone surrogates ("\\ud800") are not, and would
    break every writer later (the terminal, JSON, LaTeX)."""
    if isinstance(value, str):
        if has_lone_surrogate(value):
            problems.append(f"{where or 'a value'}: holds a lone UTF-16 surrogate, not text")
    elif isinstance(value, Mapping):
        for key, item in value.items():
            inner = f"{where}.{shown(key)}" if where else shown(key)
            if isinstance(key, str) and has_lone_surrogate(key):
                problems.append(f"{inner}: a key holding a lone UTF-16 surrogate")
            _check_text(item, inner, problems)
    elif isinstance(value, list) and len(problems) < 10:
        for item in value:
            _check_text(item, where, problems)


def _numeric_array(value: Any, key: str, problems: list[str]) -> np.ndarray | None:
    """A float64 array from nested lists of numbers, or None with the reason in `problems`."""
    found = _shape_of(value, key)
    if isinstance(found, str):
        problems.append(found)
        return None
    array = np.array(value, dtype=np.float64)
    if not np.all(np.isfinite(array)):
        bad = tuple(int(i) for i in np.argwhere(~np.isfinite(array))[0])
        problems.append(f"{key}{list(bad)}: NaN and infinite values are not allowed")
        return None
    return array


def _shape_of(value: Any, key: str, depth: int = 0) -> tuple[int, ...] | str:
    """The shape of nested lists of numbers, or a message for a string, a bool or a ragged list."""
    if isinstance(value, bool) or not isinstance(value, int | float | list):
        return f"{key}: expected a number, got {kind_of(value)} {quoted(value)}"
    if isinstance(value, int | float):
        if isinstance(value, float) and not math.isfinite(value):
            return f"{key}: NaN and infinite values are not allowed"
        if isinstance(value, int) and abs(value) > MAX_FLOAT:
            return f"{key}: a {len(str(abs(value)))}-digit whole number is too large for a float"
        return ()
    if depth == MAX_NESTING:
        return f"{key}: expected numbers, a list of them, or a list of rows; this is nested deeper"
    shapes = [_shape_of(item, f"{key}[{i}]", depth + 1) for i, item in enumerate(value)]
    for shape in shapes:
        if isinstance(shape, str):
            return shape
    if any(shape != shapes[0] for shape in shapes):
        first = shapes[0]
        odd = next(i for i, shape in enumerate(shapes) if shape != first)
        return (
            f"{key}: ragged list: entry {odd} has shape {_fmt_shape(shapes[odd])} but entry 0 "
            f"has shape {_fmt_shape(first)}; every row must have the same length"
        )
    inner = shapes[0] if shapes else ()
    assert not isinstance(inner, str)
    return (len(value), *inner)


def _fmt_shape(shape: Any) -> str:
    if not shape:
        return "a number"
    return "×".join(str(n) for n in shape) if len(shape) > 1 else f"a list of {shape[0]}"


# ---------------------------------------------------------------------- the semantic checks


def _architecture(spec: ProblemSpec, problems: list[str]) -> Architecture:
    net, loss = spec.network, spec.loss
    if loss.kind == "cross_entropy" and net.output != "softmax":
        problems.append(
            f"loss.kind: cross_entropy requires network.output = 'softmax' (got '{net.output}');"
            " use kind = 'squared_error' for a sigmoid or identity output"
        )
    if loss.kind != "cross_entropy" and loss.label_smoothing != 0:
        problems.append("loss.label_smoothing: applies only to kind = 'cross_entropy'")
    if loss.kind != "cross_entropy" and loss.smoothing != "uniform":
        problems.append("loss.smoothing: applies only to kind = 'cross_entropy'")
    if net.activation != "leaky_relu" and net.leaky_slope != 0.01:
        problems.append("network.leaky_slope: applies only to activation = 'leaky_relu'")
    if net.activation != "relu" and net.relu_grad_at_zero != 0:
        problems.append("network.relu_grad_at_zero: applies only to activation = 'relu'")
    if loss.smoothing == "others" and net.layers[-1] < 2:
        problems.append("loss.smoothing: 'others' needs at least 2 classes (q ≥ 2)")
    hidden = Activation(net.activation, net.leaky_slope, net.relu_grad_at_zero)
    kind = loss.kind
    if kind == "cross_entropy" and net.output != "softmax":
        kind = "squared_error"  # reported above and refused; this lets the data be checked too
    return Architecture(tuple(net.layers), hidden, net.output, net.layout, kind, loss.reduction)


def _data(
    spec: ProblemSpec, arch: Architecture, problems: list[str]
) -> tuple[np.ndarray | None, np.ndarray | None, bool]:
    data = spec.data
    d, q = arch.layers[0], arch.layers[-1]
    x = _numeric_array(data.x, "data.x", problems)
    batched = x is not None and x.ndim == 2
    if x is not None:
        if x.ndim == 1 and x.shape[0] != d:
            problems.append(f"data.x: has {x.shape[0]} entries but layers[0] = d = {d}")
            x = None
        elif x.ndim == 2 and (x.shape[1] != d or x.shape[0] == 0):
            problems.append(f"data.x: a batch must be a list of rows of {d} numbers (d = {d})")
            x = None
        elif x.ndim not in (1, 2):
            problems.append("data.x: must be one instance [x1, ..., xd] or a list of them")
            x = None
    if (data.y is None) == (data.label is None):
        which = "both" if data.y is not None else "neither"
        problems.append(f"data.y: give y (target vectors) or label (class indices), got {which}")
        return None, None, batched
    y = (
        _labels_to_y(data.label, q, arch, problems)
        if data.y is None
        else _numeric_array(data.y, "data.y", problems)
    )
    key = "data.y" if data.y is not None else "data.label"
    if y is None or x is None:
        return (x if x is None else x.reshape(-1, d)), None, batched
    if y.size == 0:
        problems.append(f"{key}: is empty; give one target per instance")
        return None, None, batched
    if y.ndim != x.ndim:
        if batched:
            wanted = f"a list of {x.shape[0]} targets, one per row of x (batch sizes differ)"
        else:
            wanted = "one target, since x is a single instance (batch sizes differ)"
        problems.append(f"{key}: must be {wanted}")
        return None, None, batched
    x2, y2 = x.reshape(-1, d), y.reshape(-1, y.shape[-1])
    if y2.shape[0] != x2.shape[0]:
        problems.append(
            f"{key}: x has {x2.shape[0]} instances but {key[5:]} has {y2.shape[0]};"
            " batch sizes differ"
        )
        return None, None, batched
    if y2.shape[1] != q:
        problems.append(f"{key}: each target needs q = layers[-1] = {q} entries, got {y2.shape[1]}")
        return None, None, batched
    if arch.loss == "cross_entropy":
        negative = np.argwhere(y2 < 0)
        sums = y2.sum(axis=1)
        if negative.size:
            row, column = (int(i) for i in negative[0])
            where = f"[{row}][{column}]" if batched else f"[{column}]"
            problems.append(
                f"{key}{where}: cross-entropy needs targets ≥ 0 (a distribution), got"
                f" {y2[row, column]:g}"
            )
            return None, None, batched
        if np.any(np.abs(sums - 1) > DISTRIBUTION_TOLERANCE):
            problems.append(
                f"{key}: cross-entropy needs each y to be a distribution (entries ≥ 0 that sum"
                f" to 1, e.g. one-hot), got sums {np.round(sums, 6).tolist()}"
            )
            return None, None, batched
    return x2, y2, batched


def _labels_to_y(
    label: int | list[int] | None, q: int, arch: Architecture, problems: list[str]
) -> np.ndarray | None:
    if arch.output != "softmax":
        problems.append("data.label: class labels need network.output = 'softmax'; give y instead")
        return None
    labels = label if isinstance(label, list) else [label]
    bad = [value for value in labels if value is None or not 0 <= value < q]
    if bad:
        problems.append(f"data.label: class index {bad[0]} is out of range 0..{q - 1} (q = {q})")
        return None
    y = np.eye(q)[np.asarray(labels, dtype=int)]
    return y if isinstance(label, list) else y[0]


def _params(
    spec: ProblemSpec, arch: Architecture, problems: list[str]
) -> tuple[dict[str, np.ndarray] | None, bool]:
    names = arch.parameter_names()
    count = sum(a * b + b for a, b in zip(arch.layers, arch.layers[1:], strict=False))
    if count > MAX_PARAMETERS:
        problems.append(
            f"network.layers: {list(arch.layers)} has {count:,} parameters, more than handgrad"
            f" works with ({MAX_PARAMETERS:,} at most)"
        )
        return None, False
    if spec.params is None:
        return initial_params(arch, spec.network.seed), True
    params: dict[str, np.ndarray] = {}
    for name in spec.params:
        if name not in names:
            problems.append(
                f"params.{shown(name)}: unknown parameter{did_you_mean(name, names)}"
                f" (this network has {', '.join(names)})"
            )
    for name in names:
        layer = int(name[1:])
        expected = arch.weight_shape(layer) if name[0] == "W" else (arch.layers[layer],)
        wanted = "×".join(map(str, expected)) + (" matrix" if len(expected) == 2 else " vector")
        if name not in spec.params:
            problems.append(f"params.{name}: missing (a {wanted})")
            continue
        array = _numeric_array(spec.params[name], f"params.{name}", problems)
        if array is None:
            continue
        if array.shape != expected:
            got = "×".join(map(str, array.shape)) if array.ndim else "a number"
            transposed = array.shape == expected[::-1]
            problems.append(
                f"params.{name}: has shape {got} but layers = {list(arch.layers)} with layout"
                f" '{arch.layout}' needs a {wanted}"
                + (" (you gave its transpose: check network.layout)" if transposed else "")
            )
            continue
        params[name] = array
    return (params if len(params) == len(names) else None), False


def initial_params(arch: Architecture, seed: int) -> dict[str, np.ndarray]:
    """Weights ~ N(0, 2/fan_in) (He) into ReLU-like hidden layers, N(0, 2/(fan_in + fan_out))
    (Glorot) into other layers and the output; biases 0; drawn layer by layer, W1 first, from
    numpy's default_rng(seed)."""
    rng = np.random.default_rng(seed)
    he = arch.hidden.rule.he_initialised
    params: dict[str, np.ndarray] = {}
    for layer in range(1, arch.depth + 1):
        fan_in, fan_out = arch.layers[layer - 1], arch.layers[layer]
        hidden_layer = layer < arch.depth
        variance = 2 / fan_in if he and hidden_layer else 2 / (fan_in + fan_out)
        params[f"W{layer}"] = rng.normal(0.0, math.sqrt(variance), arch.weight_shape(layer))
        params[f"b{layer}"] = np.zeros(fan_out)
    return params
