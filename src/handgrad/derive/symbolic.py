"""The machine check of a derivation: sympy's own derivatives against the engine's formulas.

(The engine runs at 50 digits with mpmath rather than in exact arithmetic here: the same
formulas, and minutes faster through tanh and sigmoid.)

For a small instance of the problem's architecture (same depth, activation, output, loss,
smoothing, layout, reduction, batch or not; at most 3 units a layer), parameters, inputs and ε
are drawn as random rationals. The scalar loss is written here directly in sympy, from its
definition, as a function of each quantity the derivation differentiates by (z, every a and h,
every W and b); sympy differentiates it, and the result must equal, at 40 digits, what the
engine's backward formulas give in exact arithmetic at the same point. Three points are tried.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import numpy as np

from handgrad.problem import Problem, validate_problem

POINTS = 3
MAX_UNITS = 3
TOLERANCE_DIGITS = 30


def _small_document(problem: Problem, rng: random.Random) -> dict[str, Any]:
    """A problem of the same architecture with at most 3 units a layer and random rationals."""
    arch, spec = problem.architecture, problem.spec
    layers = [min(n, MAX_UNITS) for n in arch.layers]
    if arch.output == "softmax":
        layers[-1] = max(2, layers[-1])
    batch = 2 if problem.batched else 1

    def draw() -> float:
        value = 0.0
        while value == 0.0:  # never exactly 0: away from every ReLU kink with probability 1
            value = rng.randint(-30, 30) / 10
        return value

    params = {}
    for layer in range(1, len(layers)):
        fan_in, fan_out = layers[layer - 1], layers[layer]
        shape = (fan_in, fan_out) if arch.layout == "in_out" else (fan_out, fan_in)
        params[f"W{layer}"] = [[draw() for _ in range(shape[1])] for _ in range(shape[0])]
        params[f"b{layer}"] = [draw() for _ in range(fan_out)]
    x = [[draw() for _ in range(layers[0])] for _ in range(batch)]
    q = layers[-1]
    if arch.loss == "cross_entropy":
        y = [[1.0 if j == rng.randrange(q) else 0.0 for j in range(q)] for _ in range(batch)]
        y = [row if sum(row) == 1 else [1.0] + [0.0] * (q - 1) for row in y]
    else:
        y = [[draw() for _ in range(q)] for _ in range(batch)]
    network = {"layers": layers, "activation": arch.hidden.name, "output": arch.output,
               "layout": arch.layout}
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
        self.params = {k: sympy.Matrix(np.atleast_2d(exact(v))) for k, v in
                       problem.params.items()}
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
            rows = [[sp.exp(v) / sum(sp.exp(u) for u in z.row(r)) for v in z.row(r)]
                    for r in range(z.shape[0])]
            return sp.Matrix(rows)
        if self.arch.output == "sigmoid":
            return z.applyfunc(lambda v: 1 / (1 + sp.exp(-v)))
        return z

    def loss_of_yhat(self, yhat: Any) -> Any:
        sp, t = self.sp, self.target
        if self.arch.loss == "cross_entropy":
            total = -sum(t[i, j] * sp.log(yhat[i, j]) for i in range(t.rows) for j in range(t.cols))
        else:
            total = sum((yhat[i, j] - t[i, j]) ** 2 for i in range(t.rows)
                        for j in range(t.cols)) / 2
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


def check_backward(problem: Problem, seed: int = 0) -> dict[str, bool]:
    """For each backward quantity (dz, dWℓ, dbℓ, daℓ, dhℓ): whether the engine's formula equals
    sympy's derivative of the loss at every random point."""
    import mpmath
    import sympy

    from handgrad.core import ops
    from handgrad.precision import Precision
    from handgrad.solver import _run_steps

    rng = random.Random(seed)
    verdict: dict[str, bool] = {}
    for _ in range(POINTS):
        small = validate_problem(_small_document(problem, rng), "<derivation check>")
        precision = Precision("digits", 50)
        with precision.context():
            run = _run_steps(small, precision)
            # ∂L/∂ŷ by the unfused cross-entropy formula (the fused path skips it)
            unfused_dyhat = ops.cross_entropy_backward(run.first_forward.loss_cache)
        net = _SymbolicNet(small)
        bwd, fwd = run.first_backward, run.first_forward
        depth = small.architecture.depth

        def to_float(value: Any) -> Any:
            if type(value).__module__.startswith("mpmath"):
                return sympy.Float(mpmath.nstr(value, 60), 60)
            return sympy.Float(value, 60)

        def agrees(truth: Any, engine: Any) -> bool:
            engine = np.atleast_2d(np.asarray(engine, dtype=object))
            truth = sympy.Matrix(truth)
            return truth.shape == engine.shape and all(
                abs(truth[i, j] - to_float(engine[i, j]))
                < sympy.Float(10) ** -TOLERANCE_DIGITS
                for i in range(truth.rows) for j in range(truth.cols))

        def gradient(loss_of: Callable[[Any], Any], at: Any) -> Any:
            as_float = np.frompyfunc(to_float, 1, 1)
            point = sympy.Matrix(np.atleast_2d(as_float(np.asarray(at, dtype=object))))
            symbols = sympy.Matrix(point.rows, point.cols,
                                   lambda i, j: sympy.Symbol(f"s_{i}_{j}", real=True))
            loss = loss_of(symbols)
            grad = symbols.applyfunc(lambda s: sympy.diff(loss, s))
            return grad.subs(dict(zip(symbols, point, strict=True))).applyfunc(
                lambda entry: sympy.N(entry, 50)
            )

        results = {"dz": agrees(gradient(lambda v: net.loss_from("z", depth, v), fwd.z), bwd.dz)}
        # ∂L/∂ŷ and the output's Jacobian
        dyhat = unfused_dyhat if bwd.dyhat is None else bwd.dyhat
        results["dyhat"] = agrees(gradient(net.loss_of_yhat, fwd.yhat), dyhat)
        row = sympy.Matrix(1, fwd.z.shape[1], lambda i, j: sympy.Symbol(f"z_{j}", real=True))
        jacobian = net.output(row).jacobian(row).subs(
            dict(zip(row, (to_float(v) for v in fwd.z[0]), strict=True)))
        yhat = [to_float(v) for v in fwd.yhat[0]]
        q = len(yhat)
        if small.architecture.output == "softmax":
            stated = sympy.Matrix(q, q, lambda i, j: yhat[i] * ((1 if i == j else 0) - yhat[j]))
        elif small.architecture.output == "sigmoid":
            stated = sympy.diag(*[p * (1 - p) for p in yhat])
        else:
            stated = sympy.eye(q)
        results["jacobian"] = agrees(jacobian.applyfunc(lambda v: sympy.N(v, 50)),
                                     np.asarray(stated.tolist(), dtype=object))
        for layer in range(1, depth + 1):
            a_in = net.activation_at(layer - 1)
            W, b = net.params[f"W{layer}"], net.params[f"b{layer}"]
            rest = (lambda out, lay=layer: net.loss_from("z", depth, out) if lay == depth
                    else net.loss_from("h", lay, out))
            results[f"dW{layer}"] = agrees(
                gradient(lambda w, a=a_in, lay=layer, r=rest: r(net.linear(a, lay, weight=w)), W),
                bwd.grads[f"dW{layer}"])
            results[f"db{layer}"] = agrees(
                gradient(lambda v, a=a_in, lay=layer, r=rest: r(net.linear(a, lay, bias=v)), b),
                bwd.grads[f"db{layer}"])
            if layer < depth:
                results[f"da{layer}"] = agrees(
                    gradient(lambda v, lay=layer: net.loss_from("a", lay, v), fwd.a[layer - 1]),
                    bwd.da[layer - 1])
                results[f"dh{layer}"] = agrees(
                    gradient(lambda v, lay=layer: net.loss_from("h", lay, v), fwd.h[layer - 1]),
                    bwd.dh[layer - 1])
        for name, ok in results.items():
            verdict[name] = verdict.get(name, True) and ok
    return verdict
