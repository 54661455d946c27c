"""The Solution: a record of every quantity of a worked gradient step. It computes nothing."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from handgrad.notation import Math
from handgrad.precision import Precision

if TYPE_CHECKING:
    from handgrad.problem import Problem

Section = Literal["forward", "backward", "update"]


def plain(value: Any) -> Any:
    """A recorded value as JSON-ready Python: a float, or nested lists of floats; None stays."""
    if value is None:
        return None
    array = np.asarray(value, dtype=float)
    return float(array) if array.ndim == 0 else array.tolist()


@dataclass(frozen=True)
class Quantity:
    """One line of the worked solution: `symbol relation formula = value`."""

    section: Section
    key: str  # the JSON name: h1, a1, z, yhat, ys, loss, dz, dW2, ...
    symbol: Math
    formula: Math
    value: np.ndarray | float  # a vector for one instance, one row per instance for a batch
    relation: str = "="  # "←" for an update
    note: str = ""  # why the formula holds, or a convention it relies on

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(np.shape(self.value))


@dataclass(frozen=True)
class Kink:
    """A hidden pre-activation exactly at a ReLU kink, where the derivative does not exist."""

    key: str  # "h1"
    index: tuple[int, ...]  # entry within the quantity as shown (vector index, or row and unit)
    convention: str  # what was used instead, e.g. "ReLU′(0) = 0"


@dataclass(frozen=True)
class GradientCheck:
    """Largest relative error of each parameter gradient against an independent method, and the
    tolerance that method is held to: the verdict travels with the numbers."""

    method: str  # "finite_differences", "torch", "jax", "float64_vs_exact", ...
    errors: dict[str, float]  # dW1 -> max |approx − exact| / max |exact|
    checked: dict[str, tuple[int, int]]  # entries checked / total
    tolerance: float  # an error passes when it is below this

    def passes(self, gradient: str) -> bool:
        """Whether one gradient's error is within the tolerance."""
        return self.errors[gradient] < self.tolerance

    @property
    def passed(self) -> bool:
        return all(self.passes(name) for name in self.errors)


@dataclass(frozen=True)
class CheckReport:
    """Every gradient of a problem against every available independent method."""

    problem: Problem
    checks: tuple[GradientCheck, ...]
    unavailable: dict[str, str]  # method -> how to install it
    kinks: tuple[Kink, ...]

    def failures(self) -> list[tuple[str, str, float]]:
        return [
            (c.method, name, error)
            for c in self.checks
            for name, error in c.errors.items()
            if not c.passes(name)
        ]

    @property
    def passed(self) -> bool:
        return not self.failures()

    def to_dict(self) -> dict[str, Any]:
        return {
            "problem": self.problem.name,
            "passed": self.passed,
            "tolerances": {c.method: c.tolerance for c in self.checks},
            "checks": {c.method: dict(c.errors) for c in self.checks},
            "unavailable": dict(self.unavailable),
            "kinks": [{"quantity": k.key, "index": list(k.index)} for k in self.kinks],
        }


@dataclass(frozen=True)
class Solution:
    """Every quantity of the first gradient step, the loss history and the gradient checks."""

    problem: Problem
    quantities: tuple[Quantity, ...]
    history: tuple[float, ...]  # loss before step 1, after step 1, ..., after the last step
    conventions: tuple[str, ...]
    kinks: tuple[Kink, ...]
    checks: tuple[GradientCheck, ...]
    precision: Precision = field(default_factory=lambda: Precision())

    def section(self, name: Section) -> dict[str, Any]:
        return {q.key: q.value for q in self.quantities if q.section == name}

    @property
    def forward(self) -> dict[str, Any]:
        return self.section("forward")

    @property
    def backward(self) -> dict[str, Any]:
        return self.section("backward")

    @property
    def update(self) -> dict[str, Any]:
        return self.section("update")

    def to_dict(self) -> dict[str, Any]:
        from handgrad.render.json import solution_to_dict  # renderers load on demand

        return solution_to_dict(self)

    def to_json(self) -> str:
        from handgrad.render.json import render_json

        return render_json(self)

    def to_markdown(self, digits: int = 6) -> str:
        from handgrad.render.markdown import render_markdown

        return render_markdown(self, digits)

    def to_latex(self, digits: int = 6, fragment: bool = False) -> str:
        from handgrad.render.latex import render_latex

        return render_latex(self, digits, fragment)

    def to_html(self, digits: int = 6) -> str:
        from handgrad.render.html import render_html

        return render_html(self, digits)

    def _repr_markdown_(self) -> str:
        return self.to_markdown()

    def _repr_latex_(self) -> str:
        return self.to_latex(fragment=True)
