"""The machine check of a derivation: the loss written from its definition, differentiated by
sympy one quantity at a time, against the engine's backward formulas.

For a small instance of the problem's architecture (same depth, activation, output, loss,
smoothing, layout, reduction, batch or not; at most 3 units a layer), parameters and inputs are
drawn as random rationals k/10⁶ and ε from a few values. The loss is written here from its
definition, independently of the engine: h = Wᵀa + b or Wa + b, a = f(h), ŷ = softmax/σ/identity
of z, L = −Σ yˢ ln ŷ or ½Σ(ŷ − y)², a mean or a sum over the rows. Every function in it is
differentiated by sympy (`sympy.diff` of its definition, e.g. of tanh(t) or Max(t, 0)) and
evaluated with mpmath at 60 digits.

The derivative of L by one entry θ (of a W, b, a, h, z or ŷ) is found with every other quantity
already a number: each quantity downstream of θ is carried as value + slope·ds, and each function
f applied to it gives f(value) + f′(value)·slope·ds (the chain rule along one variable, forward;
the engine runs backward, by its own formulas). The one-variable expressions stay two numbers
wide, so a 6-layer check takes about a second where sympy's whole-expression derivative took
minutes (a 2-3-2-2-3 tanh net: 902 s). The slope of L must equal the engine's entry, computed at
50 digits, to 30 significant digits (relative to the entry's size when above 1). Three points are
tried.

A point is drawn again until every hidden pre-activation lies at least KINK_MARGIN from 0. At a
ReLU kink sympy's derivative is Heaviside(0) = ½, which is not the engine's convention, so a
correct step would be marked ✗; and sums of products of decimals do reach 0 exactly
(0.5·0.2 − 0.1 = 0), so drawing nonzero numbers does not keep h away from 0. Redraws are rare:
the bias alone, uniform over [−3, 3], puts an hⱼ within the margin with probability at most 1/300.
"""

from __future__ import annotations

import functools
import random
from collections.abc import Callable, Iterator
from fractions import Fraction
from typing import Any

import numpy as np

from handgrad.core import network, ops
from handgrad.precision import Precision
from handgrad.problem import Problem, validate_problem

POINTS = 3
MAX_UNITS = 3
TOLERANCE_DIGITS = 30
REFERENCE_DIGITS = 60  # the reference's working precision; the engine runs at 50
DENOMINATOR = 10**6  # drawn numbers are k/10⁶ with |k| ≤ 3·10⁶, read back exactly as decimals
KINK_MARGIN = 0.01  # hidden h this far from 0: the 50- and 60-digit roundings keep its sign
SOURCE = "<derivation check>"


def _small_document(problem: Problem, rng: random.Random) -> dict[str, Any]:
    """A problem of the same architecture with at most 3 units a layer and random rationals,
    every hidden pre-activation at least KINK_MARGIN from 0 (drawn again until it is)."""
    while True:
        document = _random_document(problem, rng)
        if _Reference(validate_problem(document, SOURCE)).clear_of_kinks():
            return document


def _random_document(problem: Problem, rng: random.Random) -> dict[str, Any]:
    arch, spec = problem.architecture, problem.spec
    layers = [min(n, MAX_UNITS) for n in arch.layers]
    if arch.output == "softmax":
        layers[-1] = max(2, layers[-1])
    batch = 2 if problem.batched else 1

    def draw() -> float:
        # a float whose repr is the decimal k/10⁶, which the engine and the reference read exactly
        return rng.randint(-3 * DENOMINATOR, 3 * DENOMINATOR) / DENOMINATOR

    params: dict[str, Any] = {}
    for layer in range(1, len(layers)):
        fan_in, fan_out = layers[layer - 1], layers[layer]
        shape = (fan_in, fan_out) if arch.layout == "in_out" else (fan_out, fan_in)
        params[f"W{layer}"] = [[draw() for _ in range(shape[1])] for _ in range(shape[0])]
        params[f"b{layer}"] = [draw() for _ in range(fan_out)]
    x = [[draw() for _ in range(layers[0])] for _ in range(batch)]
    q = layers[-1]
    if arch.loss == "cross_entropy":
        hot = [rng.randrange(q) for _ in range(batch)]
        y = [[1.0 if j == h else 0.0 for j in range(q)] for h in hot]
    else:
        y = [[draw() for _ in range(q)] for _ in range(batch)]
    network: dict[str, Any] = {
        "layers": layers,
        "activation": arch.hidden.name,
        "output": arch.output,
        "layout": arch.layout,
    }
    if arch.hidden.name == "leaky_relu":
        network["leaky_slope"] = spec.network.leaky_slope
    loss: dict[str, Any] = {"kind": arch.loss, "reduction": arch.reduction}
    if arch.loss == "cross_entropy":
        loss["label_smoothing"] = rng.choice([0.1, 0.2, 0.3, 0.5])
        loss["smoothing"] = spec.loss.smoothing
    return {
        "network": network,
        "params": params,
        "data": {"x": x if problem.batched else x[0], "y": y if problem.batched else y[0]},
        "loss": loss,
        "optimizer": {"learning_rate": 0.1},
    }


class _Slope:
    """A number as value + slope·ds, ds the change of the one entry being differentiated by;
    products drop the ds² term, which no first derivative sees."""

    __slots__ = ("slope", "value")

    def __init__(self, value: Any, slope: Any = 0) -> None:
        self.value, self.slope = value, slope

    def __add__(self, other: Any) -> _Slope:
        if isinstance(other, _Slope):
            return _Slope(self.value + other.value, self.slope + other.slope)
        return _Slope(self.value + other, self.slope)

    __radd__ = __add__

    def __neg__(self) -> _Slope:
        return _Slope(-self.value, -self.slope)

    def __sub__(self, other: Any) -> _Slope:
        return self + (-other)

    def __rsub__(self, other: Any) -> _Slope:
        return (-self) + other

    def __mul__(self, other: Any) -> _Slope:
        if isinstance(other, _Slope):
            return _Slope(
                self.value * other.value, self.slope * other.value + self.value * other.slope
            )
        return _Slope(self.value * other, self.slope * other)

    __rmul__ = __mul__

    def __truediv__(self, other: Any) -> _Slope:
        if isinstance(other, _Slope):
            return self * _apply(_function("reciprocal"), other)
        return _Slope(self.value / other, self.slope / other)


Function = tuple[Callable[[Any], Any], Callable[[Any], Any]]


def _apply(function: Function, u: _Slope) -> _Slope:
    """f(value + slope·ds) = f(value) + f′(value)·slope·ds."""
    f, derivative = function
    return _Slope(f(u.value), derivative(u.value) * u.slope)


@functools.cache
def _function(name: str, leaky_slope: Fraction = Fraction(0)) -> Function:
    """A scalar function from its definition and sympy's derivative of it, both evaluated with
    mpmath (lambdify)."""
    import mpmath
    import sympy

    t = sympy.Symbol("t", real=True)
    alpha = sympy.Rational(leaky_slope.numerator, leaky_slope.denominator)
    definitions = {
        "relu": sympy.Max(t, 0),
        "leaky_relu": sympy.Piecewise((t, t > 0), (alpha * t, True)),
        "sigmoid": 1 / (1 + sympy.exp(-t)),
        "tanh": sympy.tanh(t),
        "identity": t,
        "exp": sympy.exp(t),
        "log": sympy.log(t),
        "reciprocal": 1 / t,
    }
    definition = definitions[name]
    # kinks are never evaluated (points keep KINK_MARGIN from them), so Heaviside's value at 0
    # never matters; mpmath has no Heaviside or Max of its own
    modules = [{"Heaviside": lambda v, *_: 1 if v > 0 else 0, "Max": max}, mpmath]
    f = sympy.lambdify(t, definition, modules=modules)
    derivative = sympy.lambdify(t, sympy.diff(definition, t), modules=modules)
    return f, derivative


def _number(value: float) -> Any:
    """A drawn number (a float that prints as k/10⁶) as an mpmath number, exactly."""
    import mpmath

    exact = Fraction(repr(float(value)))
    return mpmath.mpf(exact.numerator) / exact.denominator


Entry = tuple[str, int, int]  # (quantity, row, column): ("W1", i, j), ("h2", b, j), ("z", b, j)


class _Reference:
    """The network and loss written from their definitions, on _Slope numbers at 60 digits."""

    def __init__(self, problem: Problem) -> None:
        import mpmath

        self.mp = mpmath
        self.arch = arch = problem.architecture
        with mpmath.workdps(REFERENCE_DIGITS):
            self.params = {
                name: [[_number(v) for v in row] for row in np.atleast_2d(value)]
                for name, value in problem.params.items()
            }
            self.x = [[_number(v) for v in row] for row in np.atleast_2d(problem.x)]
            y = [[_number(v) for v in row] for row in np.atleast_2d(problem.y)]
            loss = problem.spec.loss
            epsilon = _number(loss.label_smoothing)
            q = len(y[0])
            if arch.loss != "cross_entropy":
                self.target = y
            elif loss.smoothing == "uniform":
                self.target = [[(1 - epsilon) * t + epsilon / q for t in row] for row in y]
            else:
                self.target = [
                    [(1 - epsilon) * t + epsilon * (1 - t) / (q - 1) for t in row] for row in y
                ]
        slope = Fraction(repr(float(arch.hidden.leaky_slope)))
        self.hidden = _function(arch.hidden.name, slope)

    def linear(self, a: list[Any], layer: int) -> list[Any]:
        """h = Wᵀa + b (in_out, W is fan_in × fan_out) or Wa + b (out_in), for one row a."""
        W, b = self.params[f"W{layer}"], self.params[f"b{layer}"][0]
        in_out = self.arch.layout == "in_out"
        return [
            sum((a[i] * (W[i][j] if in_out else W[j][i]) for i in range(len(a))), b[j])
            for j in range(len(b))
        ]

    def output(self, z: list[Any]) -> list[Any]:
        if self.arch.output == "softmax":
            e = [_apply(_function("exp"), _lift(v)) for v in z]
            total = sum(e[1:], e[0])
            return [v / total for v in e]
        if self.arch.output == "sigmoid":
            return [_apply(_function("sigmoid"), _lift(v)) for v in z]
        return z

    def row_loss(self, yhat: list[Any], target: list[Any]) -> Any:
        """Lᵦ = −Σᵢ yˢᵢ ln ŷᵢ, or ½Σᵢ (ŷᵢ − yᵢ)²."""
        if self.arch.loss == "cross_entropy":
            log = _function("log")
            return -sum(t * _apply(log, _lift(p)) for p, t in zip(yhat, target, strict=True))
        return sum((p - t) * (p - t) for p, t in zip(yhat, target, strict=True)) / 2

    def run(self, entry: Entry | None = None) -> tuple[list[list[Any]], Any]:
        """Every row's ŷ and L, with ds the change of `entry` (None: no change)."""
        with self.mp.workdps(REFERENCE_DIGITS):
            return self._run(entry)

    def _run(self, entry: Entry | None) -> tuple[list[list[Any]], Any]:
        name, at_row, at_column = entry if entry is not None else ("", -1, -1)
        saved = None
        if name[:1] in ("W", "b"):  # a parameter: every row sees it
            saved = self.params[name]
            changed = [[_Slope(v) for v in row] for row in saved]
            changed[at_row][at_column] = _Slope(saved[at_row][at_column], 1)
            self.params[name] = changed
        try:
            yhats, total = [], _Slope(0)
            for row, x in enumerate(self.x):

                def moved(values: list[Any], quantity: str, r: int = row) -> list[Any]:
                    """values, with the entry ds changes moved when it is one of these."""
                    if quantity != name or r != at_row:
                        return values
                    values = list(values)
                    values[at_column] = _Slope(_lift(values[at_column]).value, 1)
                    return values

                a: list[Any] = moved(x, "a0")
                for layer in range(1, self.arch.depth):
                    h = moved(self.linear(a, layer), f"h{layer}")
                    a = moved([_apply(self.hidden, _lift(v)) for v in h], f"a{layer}")
                z = moved(self.linear(a, self.arch.depth), "z")
                yhat = moved(self.output(z), "yhat")
                yhats.append(yhat)
                total = total + self.row_loss(yhat, self.target[row])
        finally:
            if saved is not None:
                self.params[name] = saved
        if self.arch.reduction == "mean":
            total = total / len(self.x)
        return yhats, total

    def clear_of_kinks(self) -> bool:
        """Whether every hidden pre-activation lies at least KINK_MARGIN from 0."""
        with self.mp.workdps(REFERENCE_DIGITS):
            for x in self.x:
                a = x
                for layer in range(1, self.arch.depth):
                    h = [_lift(v).value for v in self.linear(a, layer)]
                    if any(abs(v) < KINK_MARGIN for v in h):
                        return False
                    a = [_apply(self.hidden, _Slope(v)).value for v in h]
        return True


def _lift(value: Any) -> _Slope:
    return value if isinstance(value, _Slope) else _Slope(value)


def check_backward(problem: Problem, seed: int = 0) -> dict[str, bool]:
    """For each backward quantity (dyhat, jacobian, dz, dWℓ, dbℓ, daℓ, dhℓ): whether the
    engine's formula equals the reference derivative of the loss at every random point."""
    rng = random.Random(seed)
    verdict: dict[str, bool] = {}
    for _ in range(POINTS):
        small = validate_problem(_small_document(problem, rng), SOURCE)
        for name, ok in _check_point(small).items():
            verdict[name] = verdict.get(name, True) and ok
    return verdict


def _engine(small: Problem) -> tuple[network.ForwardPass, network.BackwardPass, Any]:
    """The engine's forward and backward pass at the point, at 50 digits, and ∂L/∂ŷ by the
    unfused cross-entropy formula (None for squared error, whose backward records it)."""
    precision = Precision("digits", 50)
    loss = small.spec.loss
    with precision.context():  # mpmath reads the decimals at the working precision set here
        arch = precision.architecture(small.architecture)  # α and ReLU′(0) at 50 digits too
        epsilon = precision.number(loss.label_smoothing)
        target = network.target_for(precision.array(small.y), arch.loss, epsilon, loss.smoothing)
        params = {name: precision.array(value) for name, value in small.params.items()}
        fwd = network.forward(params, precision.array(small.x), target, arch)
        bwd = network.backward(fwd, arch)
        # the fused softmax-cross-entropy backward skips ∂L/∂ŷ; the step states it all the same
        unfused = (
            ops.cross_entropy_backward(fwd.loss_cache) if arch.loss == "cross_entropy" else None
        )
    return fwd, bwd, unfused


def _agrees(truth: Any, engine: Any) -> bool:
    """Whether the engine's entry equals the reference's to TOLERANCE_DIGITS digits."""
    import mpmath

    with mpmath.workdps(REFERENCE_DIGITS):
        value = mpmath.mpf(str(engine)) if not isinstance(engine, mpmath.mpf) else engine
        return bool(abs(truth - value) < mpmath.mpf(10) ** -TOLERANCE_DIGITS * max(1, abs(truth)))


def _entries(values: Any) -> Iterator[tuple[int, int, Any]]:
    array = np.atleast_2d(np.asarray(values, dtype=object))
    for i in range(array.shape[0]):
        for j in range(array.shape[1]):
            yield i, j, array[i, j]


def _matches(reference: _Reference, quantity: str, engine: Any) -> bool:
    """Whether each entry of the engine's ∂L/∂(quantity) equals dL/ds with ds on that entry."""
    return all(
        _agrees(reference.run((quantity, i, j))[1].slope, value)
        for i, j, value in _entries(engine)
    )


def _check_point(small: Problem) -> dict[str, bool]:
    fwd, bwd, unfused = _engine(small)
    reference = _Reference(small)
    depth = small.architecture.depth
    results = {
        "dz": _matches(reference, "z", bwd.dz),
        "dyhat": _matches(reference, "yhat", unfused if bwd.dyhat is None else bwd.dyhat),
        "jacobian": _jacobian_matches(reference, small.architecture.output, fwd.yhat),
    }
    for layer in range(1, depth + 1):
        results[f"dW{layer}"] = _matches(reference, f"W{layer}", bwd.grads[f"dW{layer}"])
        results[f"db{layer}"] = _matches(reference, f"b{layer}", bwd.grads[f"db{layer}"])
        if layer < depth:
            results[f"da{layer}"] = _matches(reference, f"a{layer}", bwd.da[layer - 1])
            results[f"dh{layer}"] = _matches(reference, f"h{layer}", bwd.dh[layer - 1])
    return results


def _jacobian_matches(reference: _Reference, output: str, yhat: Any) -> bool:
    """The step's stated ∂ŷᵢ/∂zⱼ of the first row (softmax ŷᵢ(δᵢⱼ − ŷⱼ), sigmoid's diagonal
    ŷᵢ(1 − ŷᵢ), identity's I) against the reference's slopes of ŷᵢ with ds on zⱼ."""
    p = np.atleast_2d(np.asarray(yhat, dtype=object))[0]
    q = len(p)
    stated = {
        "softmax": lambda i, j: p[i] * ((1 if i == j else 0) - p[j]),
        "sigmoid": lambda i, j: p[i] * (1 - p[i]) if i == j else 0,
        "identity": lambda i, j: 1 if i == j else 0,
    }[output]
    import mpmath

    for j in range(q):
        yhats, _ = reference.run(("z", 0, j))
        with mpmath.workdps(REFERENCE_DIGITS):  # the stated products at the reference's digits
            if not all(_agrees(_lift(yhats[0][i]).slope, stated(i, j)) for i in range(q)):
                return False
    return True
