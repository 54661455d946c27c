"""The scalar settings of a problem file, declared once: key, type, default, bounds, choices.

Checked strictly (a string is never read as a number, a bool never as an integer), every problem
collected so that a file's mistakes are reported together, each naming its key. This is a small
table rather than pydantic models because `handgrad solve` must finish in under half a second
on a 2-core machine, and importing pydantic and building the models took 0.12 s (measured).
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from handgrad.core.activations import ACTIVATIONS, OUTPUTS, ActivationName
from handgrad.core.network import LossKind, Output
from handgrad.core.ops import Layout, Reduction, Smoothing
from handgrad.errors import did_you_mean
from handgrad.text import quoted, shown

REQUIRED: Any = object()
MAX_FLOAT = 1.7976931348623157e308
MAX_LAYER_SIZE = 100_000


@dataclass(frozen=True)
class Setting:
    """One key of a section and what its value must be."""

    key: str
    kind: str  # number | integer | text | choice | layers | names | any | labels
    default: Any = REQUIRED
    choices: Collection[str] = ()  # the core's tables pass their live keys
    low: float | None = None  # inclusive lower bound
    high: float | None = None  # inclusive upper bound
    above: float | None = None  # exclusive lower bound
    hint: str = ""
    bound_message: str = ""  # said instead of the generic bound message


@dataclass(frozen=True)
class NetworkSpec:
    layers: tuple[int, ...]
    activation: ActivationName = "relu"
    leaky_slope: float = 0.01
    output: Output = "softmax"
    layout: Layout = "in_out"
    relu_grad_at_zero: float = 0.0
    seed: int = 0


@dataclass(frozen=True)
class DataSpec:
    x: Any
    y: Any = None
    label: Any = None


@dataclass(frozen=True)
class LossSpec:
    kind: LossKind = "cross_entropy"
    label_smoothing: float = 0.0
    smoothing: Smoothing = "uniform"
    reduction: Reduction = "mean"


@dataclass(frozen=True)
class OptimizerSpec:
    learning_rate: float
    steps: int = 1
    frozen: tuple[str, ...] = ()


@dataclass(frozen=True)
class ProblemSpec:
    network: NetworkSpec
    data: DataSpec
    optimizer: OptimizerSpec
    loss: LossSpec = field(default_factory=LossSpec)
    params: Mapping[str, Any] | None = None
    title: str | None = None

    def to_dict(self) -> dict[str, Any]:
        as_dict = asdict(self)
        as_dict["network"]["layers"] = list(self.network.layers)
        as_dict["optimizer"]["frozen"] = list(self.optimizer.frozen)
        return as_dict


SECTIONS: dict[str, tuple[type, tuple[Setting, ...]]] = {
    "network": (
        NetworkSpec,
        (
            Setting(
                "layers", "layers", hint=" (the layer sizes d, n1, ..., q, e.g. layers = [2, 3, 3])"
            ),
            Setting(
                "activation",
                "choice",
                "relu",
                ACTIVATIONS.keys(),  # the table's: an activation added there is accepted here
            ),
            Setting("leaky_slope", "number", 0.01),
            Setting("output", "choice", "softmax", OUTPUTS.keys()),
            Setting("layout", "choice", "in_out", ("in_out", "out_in")),
            Setting("relu_grad_at_zero", "number", 0.0),
            Setting("seed", "integer", 0, low=0),
        ),
    ),
    "data": (
        DataSpec,
        (
            Setting("x", "any", hint=" (the input: one instance [x1, ..., xd] or a list of them)"),
            Setting("y", "any", None),
            Setting("label", "labels", None),
        ),
    ),
    "loss": (
        LossSpec,
        (
            Setting("kind", "choice", "cross_entropy", ("cross_entropy", "squared_error")),
            Setting(
                "label_smoothing",
                "number",
                0.0,
                low=0,
                high=1,
                bound_message="ε must be between 0 and 1",
            ),
            Setting("smoothing", "choice", "uniform", ("uniform", "others")),
            Setting("reduction", "choice", "mean", ("mean", "sum")),
        ),
    ),
    "optimizer": (
        OptimizerSpec,
        (
            Setting(
                "learning_rate",
                "number",
                above=0,
                hint=" (the step size η, e.g. learning_rate = 0.1)",
                bound_message="must be a positive finite number",
            ),
            Setting("steps", "integer", 1, low=1, high=100_000),
            Setting("frozen", "names", ()),
        ),
    ),
}
TOP_LEVEL = ("title", "network", "params", "data", "loss", "optimizer")
REQUIRED_SECTIONS = {
    "network": " (a [network] section with at least layers = [...])",
    "data": " (a [data] section with x and y or label)",
    "optimizer": " (an [optimizer] section with learning_rate)",
}


def kind_of(value: Any) -> str:
    """How a value reads to a person: text, a boolean, a list, a table, int, float."""
    return {str: "text", bool: "a boolean", list: "a list", dict: "a table"}.get(
        type(value), type(value).__name__
    )


def parse_spec(document: Mapping[str, Any], problems: list[str]) -> ProblemSpec | None:
    """The settings of a parsed document, or None with every reason appended to `problems`."""
    for key in document:
        if key not in TOP_LEVEL:
            problems.append(f"{shown(key)}: unknown section{did_you_mean(key, TOP_LEVEL)}")
    title = document.get("title")
    if title is not None and not isinstance(title, str):
        problems.append(f"title: expected text, got {kind_of(title)} {quoted(title)}")
    params = document.get("params")
    if params is not None and not isinstance(params, dict):
        problems.append(f"params: expected a table of W1, b1, ..., got {kind_of(params)}")
    sections: dict[str, Any] = {}
    for name, (spec_type, settings) in SECTIONS.items():
        if name not in document:
            if name in REQUIRED_SECTIONS:
                problems.append(f"{name}: missing required section{REQUIRED_SECTIONS[name]}")
            else:
                sections[name] = spec_type()
            continue
        table = document[name]
        if not isinstance(table, dict):
            problems.append(f"{name}: expected a table, got {kind_of(table)} {quoted(table)}")
            continue
        values = _section(name, table, settings, problems)
        if values is not None:
            sections[name] = spec_type(**values)
    if problems or len(sections) != len(SECTIONS):
        return None
    return ProblemSpec(title=title, params=params, **sections)


def _section(
    name: str, table: Mapping[str, Any], settings: tuple[Setting, ...], problems: list[str]
) -> dict[str, Any] | None:
    known = {s.key: s for s in settings}
    before = len(problems)
    for key in table:
        if key not in known:
            problems.append(f"{name}.{shown(key)}: unknown key{did_you_mean(key, known)}")
    values: dict[str, Any] = {}
    for setting in settings:
        where = f"{name}.{setting.key}"
        if setting.key not in table:
            if setting.default is REQUIRED:
                problems.append(f"{where}: missing required key{setting.hint}")
            continue
        message = _check(setting, table[setting.key], where)
        if message:
            problems.append(message)
        else:
            value = table[setting.key]
            values[setting.key] = tuple(value) if setting.kind in ("layers", "names") else value
    return values if len(problems) == before else None


def _check(setting: Setting, value: Any, where: str) -> str:
    """'' when the value fits the setting, else the message naming the key."""
    kind = setting.kind
    if kind == "any":
        return ""
    if kind == "choice":
        if not isinstance(value, str) or value not in setting.choices:
            listed = ", ".join(repr(c) for c in setting.choices)
            near = did_you_mean(value, setting.choices) if isinstance(value, str) else ""
            return f"{where}: {quoted(value)} is not one of {listed}{near}"
        return ""
    if kind == "text":
        return "" if isinstance(value, str) else f"{where}: expected text, got {quoted(value)}"
    if kind == "names":
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            return f'{where}: expected a list of parameter names like ["b1"], got {quoted(value)}'
        return ""
    if kind == "labels":
        items = value if isinstance(value, list) else [value]
        if not items or not all(isinstance(v, int) and not isinstance(v, bool) for v in items):
            return f"{where}: expected a class index or a list of them, got {quoted(value)}"
        return ""
    if kind == "layers":
        if not isinstance(value, list) or not all(
            isinstance(v, int) and not isinstance(v, bool) for v in value
        ):
            return f"{where}: expected a list of whole numbers like [2, 3, 3], got {quoted(value)}"
        if len(value) < 2:
            return (
                f"{where}: needs at least two sizes, the inputs d and the outputs q"
                f" (got {quoted(value)})"
            )
        small = [i for i, v in enumerate(value) if v < 1]
        if small:
            return f"{where}[{small[0]}]: a layer size must be at least 1, got {value[small[0]]}"
        large = [i for i, v in enumerate(value) if v > MAX_LAYER_SIZE]
        if large:
            return (
                f"{where}[{large[0]}]: a layer of {value[large[0]]} units is more than handgrad"
                f" works with ({MAX_LAYER_SIZE:,} at most)"
            )
        return ""
    wanted_int = kind == "integer"
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or (wanted_int and not isinstance(value, int))
    ):
        wanted = "a whole number" if wanted_int else "a number"
        return f"{where}: expected {wanted}, got {kind_of(value)} {quoted(value)}"
    if isinstance(value, int) and abs(value) > MAX_FLOAT:
        return f"{where}: a {len(str(abs(value)))}-digit whole number is too large for a float"
    if not math.isfinite(value):
        return f"{where}: must be a finite number, got {value}"
    low_ok = setting.low is None or value >= setting.low
    high_ok = setting.high is None or value <= setting.high
    above_ok = setting.above is None or value > setting.above
    if low_ok and high_ok and above_ok:
        return ""
    if setting.bound_message:
        return f"{where}: {setting.bound_message}, got {value}"
    if setting.above is not None:
        return f"{where}: must be greater than {setting.above:g}, got {value}"
    if setting.low is not None and setting.high is not None:
        return f"{where}: must be between {setting.low:g} and {setting.high:g}, got {value}"
    bound = f"at least {setting.low:g}" if not low_ok else f"at most {setting.high:g}"
    return f"{where}: must be {bound}, got {value}"
