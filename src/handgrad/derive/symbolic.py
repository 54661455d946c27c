"""The machine check of a derivation: sympy's own derivatives against the engine's formulas.

(The engine runs at 50 digits with mpmath rather than in exact arithmetic here: the same
formulas, and minutes faster through tanh and sigmoid.)

For a small instance of the problem's architecture (same depth, activation, output, loss,
smoothing, layout, reduction, batch or not; at most 3 units a layer), parameters and inputs are
drawn as random rationals k/10⁶, ε from a few values. The scalar loss is written here directly in
sympy, from its definition, as a function of each quantity the derivation differentiates by (z,
every a and h, every W and b); sympy differentiates it, and the result must equal, at 40 digits,
what the engine's backward formulas give at the same point, to 30 significant digits (relative
to the entry's size when above 1). Three points are tried.

A point is drawn again until every hidden pre-activation lies at least KINK_MARGIN from 0. At a
ReLU kink sympy's derivative is Heaviside(0) = ½, which is not the engine's convention, so a
correct step would be marked ✗; and sums of products of decimals do reach 0 exactly
(0.5·0.2 − 0.1 = 0), so drawing nonzero numbers does not keep h away from 0. Redraws are rare:
the bias alone, uniform over [−3, 3], puts an hⱼ within the margin with probability at most 1/300.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import numpy as np

from handgrad.core import network, ops
from handgrad.precision import Precision
from handgrad.problem import Problem, validate_problem

POINTS = 3
MAX_UNITS = 3
TOLERANCE_DIGITS = 30
DENOMINATOR = 10**6  # drawn numbers are k/10⁶ with |k| ≤ 3·10⁶, read back exactly as decimals
KINK_MARGIN = 0.01  # hidden h this far from 0: the 50- and 60-digit roundings keep its sign
SOURCE = "<derivation check>"


def _small_document(problem: Problem, rng: random.Random) -> dict[str, Any]:
    """A problem of the same architecture with at most 3 units a layer and random rationals,
    every hidden pre-activation at least KINK_MARGIN from 0 (drawn again until it is)."""
    while True:
        document = _random_document(problem, rng)
        if _SymbolicNet(validate_problem(document, SOURCE)).clear_of_kinks():
            return document


def _random_document(problem: Problem, rng: random.Random) -> dict[str, Any]:
    arch, spec = problem.architecture, problem.spec
    layers = [min(n, MAX_UNITS) for n in arch.layers]
    if arch.output == "softmax":
        layers[-1] = max(2, layers[-1])
    batch = 2 if problem.batched else 1

    def draw() -> float:
        # a float whose repr is the decimal k/10⁶, which the engine and sympy both read exactly
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


class _SymbolicNet:
    """The network and loss written directly in sympy, for differentiation."""

    def __init__(self, problem: Problem) -> None:
        import sympy

        self.sp = sympy
        self.problem = problem
        self.arch = problem.architecture
        exact = np.frompyfunc(lambda v: sympy.Rational(repr(float(v))), 1, 1)
        self.params = {k: sympy.Matrix(np.atleast_2d(exact(v))) for k, v in problem.params.items()}
        self.x = sympy.Matrix(exact(problem.x))
        loss = problem.spec.loss
        eps = sympy.Rational(repr(loss.label_smoothing))
        y = sympy.Matrix(exact(problem.y))
        q = y.shape[1]
        if loss.smoothing == "uniform":
            self.target = y.applyfunc(lambda t: (1 - eps) * t + eps / q)
        else:
            self.target = y.applyfunc(lambda t: (1 - eps) * t + eps * (1 - t) / (q - 1))
        if self.arch.loss != "cross_entropy":
            self.target = y

    def linear(self, a: Any, layer: int, weight: Any = None, bias: Any = None) -> Any:
        W = self.params[f"W{layer}"] if weight is None else weight
        b = self.params[f"b{layer}"] if bias is None else bias
        ones = self.sp.ones(a.shape[0], 1)
        return a * (W if self.arch.layout == "in_out" else W.T) + ones * b.reshape(1, len(b))

    def activate(self, h: Any) -> Any:
        sp, hidden = self.sp, self.arch.hidden
        slope = sp.Rational(repr(float(hidden.leaky_slope)))
        functions: dict[str, Callable[[Any], Any]] = {
            "relu": lambda v: sp.Max(v, 0),
            "leaky_relu": lambda v: sp.Piecewise((v, v > 0), (slope * v, True)),
            "sigmoid": lambda v: 1 / (1 + sp.exp(-v)),
            "tanh": sp.tanh,
            "identity": lambda v: v,
        }
        return h.applyfunc(functions[hidden.name])

    def output(self, z: Any) -> Any:
        sp = self.sp
        if self.arch.output == "softmax":
            rows = [
                [sp.exp(v) / sum(sp.exp(u) for u in z.row(r)) for v in z.row(r)]
                for r in range(z.shape[0])
            ]
            return sp.Matrix(rows)
        if self.arch.output == "sigmoid":
            return z.applyfunc(lambda v: 1 / (1 + sp.exp(-v)))
        return z

    def loss_of_yhat(self, yhat: Any) -> Any:
        sp, t = self.sp, self.target
        if self.arch.loss == "cross_entropy":
            total = -sum(t[i, j] * sp.log(yhat[i, j]) for i in range(t.rows) for j in range(t.cols))
        else:
            total = (
                sum((yhat[i, j] - t[i, j]) ** 2 for i in range(t.rows) for j in range(t.cols)) / 2
            )
        return total / t.rows if self.arch.reduction == "mean" else total

    def loss_from(self, start: str, layer: int, value: Any) -> Any:
        """L as a function of `value` put in for quantity `start` ("a", "h", "z") of `layer`."""
        depth = self.arch.depth
        if start == "z":
            return self.loss_of_yhat(self.output(value))
        a = self.activate(value) if start == "h" else value
        for next_layer in range(layer + 1, depth + 1):
            h = self.linear(a, next_layer)
            if next_layer == depth:
                return self.loss_of_yhat(self.output(h))
            a = self.activate(h)
        raise ValueError(start)

    def activation_at(self, layer: int) -> Any:
        """a(layer) computed from x (a0 = x)."""
        a = self.x
        for current in range(1, layer + 1):
            a = self.activate(self.linear(a, current))
        return a

    def clear_of_kinks(self) -> bool:
        """Whether every hidden pre-activation lies at least KINK_MARGIN from 0."""
        return all(
            abs(self.sp.N(entry, 30)) >= KINK_MARGIN
            for layer in range(1, self.arch.depth)
            for entry in self.linear(self.activation_at(layer - 1), layer)
        )


def check_backward(problem: Problem, seed: int = 0) -> dict[str, bool]:
    """For each backward quantity (dyhat, jacobian, dz, dWℓ, dbℓ, daℓ, dhℓ): whether the
    engine's formula equals sympy's derivative of the loss at every random point."""
    rng = random.Random(seed)
    verdict: dict[str, bool] = {}
    for _ in range(POINTS):
        small = validate_problem(_small_document(problem, rng), SOURCE)
        for name, ok in _check_point(small).items():
            verdict[name] = verdict.get(name, True) and ok
    return verdict


def _to_float(value: Any) -> Any:
    """An engine number (mpmath or sympy) as a 60-digit sympy Float."""
    import mpmath
    import sympy

    if type(value).__module__.startswith("mpmath"):
        return sympy.Float(mpmath.nstr(value, 60), 60)
    return sympy.Float(value, 60)


def _agrees(truth: Any, engine: Any) -> bool:
    import sympy

    engine = np.atleast_2d(np.asarray(engine, dtype=object))
    truth = sympy.Matrix(truth)
    limit = sympy.Float(10) ** -TOLERANCE_DIGITS
    return truth.shape == engine.shape and all(
        abs(truth[i, j] - _to_float(engine[i, j])) < limit * max(1, abs(truth[i, j]))
        for i in range(truth.rows)
        for j in range(truth.cols)
    )


def _gradient(loss_of: Callable[[Any], Any], at: Any) -> Any:
    """sympy's gradient of loss_of(symbols) at the point `at`, to 50 digits."""
    import sympy

    point = sympy.Matrix(
        np.atleast_2d(np.frompyfunc(_to_float, 1, 1)(np.asarray(at, dtype=object)))
    )
    symbols = sympy.Matrix(
        point.rows, point.cols, lambda i, j: sympy.Symbol(f"s_{i}_{j}", real=True)
    )
    loss = loss_of(symbols)
    grad = symbols.applyfunc(lambda s: sympy.diff(loss, s))
    return grad.subs(dict(zip(symbols, point, strict=True))).applyfunc(
        lambda entry: sympy.N(entry, 50)
    )


def _stated_jacobian(output: str, yhat: list[Any]) -> Any:
    import sympy

    q = len(yhat)
    if output == "softmax":
        return sympy.Matrix(q, q, lambda i, j: yhat[i] * ((1 if i == j else 0) - yhat[j]))
    if output == "sigmoid":
        return sympy.diag(*[p * (1 - p) for p in yhat])
    return sympy.eye(q)


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


def _check_point(small: Problem) -> dict[str, bool]:
    import sympy

    fwd, bwd, unfused = _engine(small)
    net = _SymbolicNet(small)
    arch = small.architecture
    depth = arch.depth

    def loss_after(layer: int, out: Any) -> Any:
        """L as a function of layer `layer`'s output (h, or z for the last layer)."""
        return net.loss_from("z", depth, out) if layer == depth else net.loss_from("h", layer, out)

    results = {
        "dz": _agrees(_gradient(lambda v: net.loss_from("z", depth, v), fwd.z), bwd.dz),
        "dyhat": _agrees(
            _gradient(net.loss_of_yhat, fwd.yhat), unfused if bwd.dyhat is None else bwd.dyhat
        ),
    }
    row = sympy.Matrix(1, fwd.z.shape[1], lambda i, j: sympy.Symbol(f"z_{j}", real=True))
    jacobian = (
        net.output(row)
        .jacobian(row)
        .subs(dict(zip(row, (_to_float(v) for v in fwd.z[0]), strict=True)))
    )
    stated = _stated_jacobian(arch.output, [_to_float(v) for v in fwd.yhat[0]])
    results["jacobian"] = _agrees(
        jacobian.applyfunc(lambda v: sympy.N(v, 50)), np.asarray(stated.tolist(), dtype=object)
    )
    for layer in range(1, depth + 1):
        a_in = net.activation_at(layer - 1)
        weights, bias = net.params[f"W{layer}"], net.params[f"b{layer}"]

        def by_weight(w: Any, a: Any = a_in, lay: int = layer) -> Any:
            return loss_after(lay, net.linear(a, lay, weight=w))

        def by_bias(v: Any, a: Any = a_in, lay: int = layer) -> Any:
            return loss_after(lay, net.linear(a, lay, bias=v))

        results[f"dW{layer}"] = _agrees(_gradient(by_weight, weights), bwd.grads[f"dW{layer}"])
        results[f"db{layer}"] = _agrees(_gradient(by_bias, bias), bwd.grads[f"db{layer}"])
        if layer < depth:

            def by_a(v: Any, lay: int = layer) -> Any:
                return net.loss_from("a", lay, v)

            def by_h(v: Any, lay: int = layer) -> Any:
                return net.loss_from("h", lay, v)

            results[f"da{layer}"] = _agrees(_gradient(by_a, fwd.a[layer - 1]), bwd.da[layer - 1])
            results[f"dh{layer}"] = _agrees(_gradient(by_h, fwd.h[layer - 1]), bwd.dh[layer - 1])
    return results
