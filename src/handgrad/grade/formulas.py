"""The formulas a quantity is recomputed with: small callable classes over the values at hand.

A formula maps the values at hand ({key: rows}) to one quantity in row form: (B, n) for
per-instance quantities, parameters, gradients and losses as they are. It reads only the keys
its recipe names (a recipe's formula gets exactly those); a mistake's formula gets every
value computed so far, either the true ones or the student's. Each computes through the
solver's own functions (`core.ops`, `core.network`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal

import numpy as np

from handgrad.core import network, ops
from handgrad.grade.keys import DYHAT, LOSSES, YHAT, YS, Key
from handgrad.problem import Problem

Rows = Mapping[Key, np.ndarray]
Formula = Callable[[Rows], np.ndarray]

# The formulas: small frozen dataclasses called with the values. A mistake is often the right
# formula with one field changed (another layout, reduction or target): `replace(right, ...)`,
# which mypy checks field by field.


@dataclass(frozen=True)
class Given:
    """A quantity passed on as it is (the mistake of leaving a step out)."""

    key: Key

    def __call__(self, v: Rows) -> np.ndarray:
        return v[self.key]


@dataclass(frozen=True)
class Fixed:
    """A value no quantity changes: a target, or a parameter as it was before the step."""

    value: np.ndarray

    def __call__(self, v: Rows) -> np.ndarray:
        return self.value


@dataclass(frozen=True)
class Scaled:
    """c · f: another formula times a constant (a flipped sign, a factor of B, a log base)."""

    formula: Formula
    factor: float

    def __call__(self, v: Rows) -> np.ndarray:
        return self.formula(v) * self.factor


@dataclass(frozen=True)
class Linear:
    """h = Wᵀa + b (in_out) or Wa + b (out_in), a the layer's input (a(l−1), or x)."""

    inputs: Formula
    W: np.ndarray
    b: np.ndarray
    layout: ops.Layout

    def __call__(self, v: Rows) -> np.ndarray:
        return np.asarray(ops.linear_forward(self.inputs(v), self.W, self.b, self.layout)[0])


@dataclass(frozen=True)
class Activate:
    """a = f(h), the hidden activation."""

    h: Key
    act: ops.Activation

    def __call__(self, v: Rows) -> np.ndarray:
        return np.asarray(ops.activation_forward(v[self.h], self.act)[0])


@dataclass(frozen=True)
class Output:
    """ŷ = g(z): softmax, σ or the identity of a vector (z, or a hidden one by mistake)."""

    logits: Key
    function: str

    def __call__(self, v: Rows) -> np.ndarray:
        return np.asarray(ops.output_forward(v[self.logits], self.function))


@dataclass(frozen=True)
class CrossEntropy:
    """L = mean or sum of Lᵦ = −Σᵢ yˢᵢ ln ŷᵢ (or the Lᵦ themselves), from the given ŷ."""

    target: Formula
    reduction: ops.Reduction
    per_instance: bool = False

    def __call__(self, v: Rows) -> np.ndarray:
        target = self.target(v)
        # 0 · ln 0 = 0: a probability a student rounded to 0.00 where the target is 0 (no
        # smoothing) adds nothing to the loss, as in the limit; NumPy would give NaN
        yhat = np.where(np.asarray(target) == 0, 1.0, v[YHAT])
        return np.asarray(ops.cross_entropy_of_probabilities(
            yhat, target, self.reduction, self.per_instance))


@dataclass(frozen=True)
class SquaredError:
    """L = mean or sum of Lᵦ = ½ Σᵢ (ŷᵢ − yᵢ)² (or the Lᵦ themselves)."""

    y: np.ndarray
    reduction: ops.Reduction
    per_instance: bool = False

    def __call__(self, v: Rows) -> np.ndarray:
        losses, loss, _ = ops.squared_error_forward(v[YHAT], self.y, self.reduction)
        return np.asarray(losses if self.per_instance else loss)


@dataclass(frozen=True)
class BatchLoss:
    """L = mean or sum of the Lᵦ the student wrote."""

    reduction: ops.Reduction

    def __call__(self, v: Rows) -> np.ndarray:
        return np.asarray(ops.reduce_batch(v[LOSSES], self.reduction))


@dataclass(frozen=True)
class SoftmaxCrossEntropyGrad:
    """∂L/∂z = ŷ − yˢ (scaled by the reduction): softmax and cross-entropy fused."""

    target: Formula
    reduction: ops.Reduction

    def __call__(self, v: Rows) -> np.ndarray:
        cache = ops.LossCache(v[YHAT], self.target(v), self.reduction)
        return np.asarray(ops.softmax_cross_entropy_backward(cache))


@dataclass(frozen=True)
class SquaredErrorGrad:
    """∂L/∂ŷ = ŷ − y (scaled by the reduction)."""

    y: np.ndarray
    reduction: ops.Reduction

    def __call__(self, v: Rows) -> np.ndarray:
        cache = ops.LossCache(v[YHAT], self.y, self.reduction)
        return np.asarray(ops.squared_error_backward(cache))


@dataclass(frozen=True)
class OutputGrad:
    """∂L/∂z from ∂L/∂ŷ through the output function's Jacobian."""

    function: str

    def __call__(self, v: Rows) -> np.ndarray:
        return np.asarray(ops.output_backward(v[DYHAT], v[YHAT], self.function))


LinearPart = Literal["da", "dW", "db"]
LINEAR_PARTS: tuple[LinearPart, ...] = ("da", "dW", "db")  # `ops.linear_backward`'s order


@dataclass(frozen=True)
class LinearGrad:
    """∂L/∂a(l−1) = Wδ, ∂L/∂Wl = a(l−1)δᵀ or ∂L/∂bl = Σ δ (in_out; transposed for out_in),
    from δ = ∂L/∂h(l), or ∂L/∂z for the last layer."""

    part: LinearPart
    upstream: Key
    inputs: Key | None  # a(l−1); None: the layer's input is x
    x: np.ndarray
    W: np.ndarray
    fan_in: int
    layout: ops.Layout

    def __call__(self, v: Rows) -> np.ndarray:
        delta = v[self.upstream]
        if self.inputs is None:
            a = self.x
        elif self.inputs in v:
            a = v[self.inputs]
        else:  # ∂L/∂b and ∂L/∂a need only δ, so their recipes do not name a(l−1): a stand-in
            a = np.zeros((delta.shape[0], self.fan_in))
        grads = ops.linear_backward(delta, ops.LinearCache(a, self.W), self.layout)
        return np.asarray(grads[LINEAR_PARTS.index(self.part)])


@dataclass(frozen=True)
class ActivationGrad:
    """∂L/∂h = ∂L/∂a ⊙ f′(h)."""

    da: Key
    h: Key
    a: Key
    act: ops.Activation

    def __call__(self, v: Rows) -> np.ndarray:
        cache = ops.ActivationCache(v[self.h], v[self.a])
        return np.asarray(ops.activation_backward(v[self.da], cache, self.act))


@dataclass(frozen=True)
class Step:
    """θ ← θ − η ∂L/∂θ for one parameter, from the given gradient (η = −η or 1 by mistake)."""

    name: str
    value: np.ndarray
    gradient: Key
    learning_rate: float

    def __call__(self, v: Rows) -> np.ndarray:
        grads = {f"d{self.name}": v[self.gradient]}
        return np.asarray(
            network.gradient_step({self.name: self.value}, grads, self.learning_rate)[self.name])


class Descent:
    """The parameters after all S steps: the first from the given gradients, the other S − 1
    by the core's `network.descend`.

    Every parameter's update is graded from the same given gradients, and the rounding spread
    moves those gradients one entry at a time for every parameter alike, so results are kept
    by gradients: one descent per set of gradients, not one per parameter (S may be 100,000).
    """

    KEPT = 256  # sets of gradients: a spread's moves for a hand-sized problem, and more

    def __init__(self, problem: Problem) -> None:
        self.problem = problem
        self._results: dict[bytes, dict[str, np.ndarray]] = {}

    def params_after(self, v: Rows) -> dict[str, np.ndarray]:
        """θ after all steps, the first from the gradients in `v`."""
        problem = self.problem
        gradients = {f"d{name}": np.asarray(v[("backward", f"d{name}")], float)
                     for name in problem.params}
        fingerprint = b"|".join(g.tobytes() + str(g.shape).encode() for g in gradients.values())
        if fingerprint not in self._results:
            optimizer = problem.spec.optimizer
            first = network.gradient_step(problem.params, gradients, optimizer.learning_rate,
                                          optimizer.frozen)
            descent = network.descend(first, problem.x, problem.target, problem.architecture,
                                      optimizer.learning_rate, optimizer.steps - 1,
                                      optimizer.frozen)
            if len(self._results) >= self.KEPT:
                self._results.pop(next(iter(self._results)))
            self._results[fingerprint] = {k: np.asarray(p) for k, p in descent.params.items()}
        return self._results[fingerprint]


@dataclass(frozen=True)
class AfterSteps:
    """θ after S steps of gradient descent, the first from the given gradients."""

    name: str
    descent: Descent

    @property
    def cost(self) -> int:
        """Evaluations of the step loop one call may take (the rounding spread's budget)."""
        return self.descent.problem.spec.optimizer.steps

    def __call__(self, v: Rows) -> np.ndarray:
        return self.descent.params_after(v)[self.name]


@dataclass(frozen=True)
class LossAfter:
    """L at the given updated parameters, against the given yˢ where there is one (a student
    who forgot the smoothing forgets it after the step too), or against `target` (a mistake's)."""

    problem: Problem
    target: Formula | None = None

    def __call__(self, v: Rows) -> np.ndarray:
        p = self.problem
        new = {name: v[("update", name)] for name in p.params}
        if self.target is not None:
            target = self.target(v)
        else:
            target = v[YS] if YS in v and p.architecture.loss == "cross_entropy" else p.target
        return np.asarray(network.loss_value(new, p.x, target, p.architecture))
