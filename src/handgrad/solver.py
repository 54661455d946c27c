"""solve(problem) -> Solution: run the core formulas and record each quantity with its formula.

The numbers come from `core.network` alone; this module only names them in the course's
notation (`notation.Math`) and writes down the conventions in force.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from handgrad.core import network, ops
from handgrad.errors import HandgradError
from handgrad.notation import (
    EPS,
    ETA,
    LOSS,
    MINUS,
    ODOT,
    OPEN,
    TRANSPOSED,
    YHAT,
    YHAT_BATCH,
    YS,
    YS_BATCH,
    Math,
    call,
    grad,
    var,
)
from handgrad.precision import EXACT_MAX_PARAMETERS, EXACT_MAX_STEPS, Precision
from handgrad.problem import Problem, load_problem
from handgrad.solution import GradientCheck, Kink, Quantity, Solution
from handgrad.verify import finite_difference_check, max_relative_error

FLOAT64 = Precision()
PRECISION_NOTES = {
    "exact": "exact arithmetic (sympy): the problem's decimals read as the rationals they spell,"
    " e.g. 0.3 = 3/10",
    "digits": "every number computed with mpmath at {0.digits} significant digits",
}

FUSED_NOTE = (
    "Softmax and cross-entropy together: ∂L/∂zⱼ = Σᵢ (∂L/∂ŷᵢ)(∂ŷᵢ/∂zⱼ) = Σᵢ (−yˢᵢ/ŷᵢ)·ŷᵢ(δᵢⱼ − ŷⱼ)"
    " = ŷⱼ Σᵢ yˢᵢ − yˢⱼ = ŷⱼ − yˢⱼ, because Σᵢ yˢᵢ = 1 (smoothing keeps yˢ a distribution)."
)


def solve(problem: Problem | Any, precision: Precision = FLOAT64) -> Solution:
    """Work the problem: forward, backward and update for every step, checked by finite differences.

    `problem` is a Problem, or anything `load_problem` reads (a path or a dict). With an exact or
    N-digit `precision` the same formulas run on sympy or mpmath numbers, and the float64 solution
    is computed too, for the finite-difference check and an agreement check against it.
    """
    if not isinstance(problem, Problem):
        problem = load_problem(problem)
    if precision.is_float64:
        return _solve_float64(problem)
    _require_small_enough(problem)
    reference = _solve_float64(problem)
    with precision.context():
        run = _run_steps(problem, precision)
        quantities = tuple(
            replace(q, value=precision.closed_form(q.value))
            for q in _Notation(problem).quantities(run)
        )
    agreement = _agreement(quantities, reference, precision)
    return Solution(
        problem=problem,
        quantities=quantities,
        history=tuple(precision.closed_form(loss) for loss in run.history),
        conventions=(*conventions(problem), PRECISION_NOTES[precision.kind].format(precision)),
        kinks=tuple(_kinks(problem, run.first_forward)),
        checks=(*reference.checks, agreement),
        precision=precision,
    )


@dataclass(frozen=True)
class _Run:
    """The numbers of a solve: the first step in full, the parameters after the last."""

    first_forward: network.ForwardPass
    first_backward: network.BackwardPass
    target: Any
    params: dict[str, Any]
    history: list[Any]


def _run_steps(problem: Problem, precision: Precision) -> _Run:
    """Forward, backward and update for every step, in the precision's number type."""
    hidden = problem.architecture.hidden
    arch = replace(
        problem.architecture,
        hidden=replace(
            hidden,
            leaky_slope=precision.number(hidden.leaky_slope),
            relu_grad_at_zero=precision.number(hidden.relu_grad_at_zero),
        ),
    )
    loss_spec, opt = problem.spec.loss, problem.spec.optimizer
    learning_rate = precision.number(opt.learning_rate)
    x, target = precision.array(problem.x), precision.array(problem.y)
    if arch.loss == "cross_entropy":
        epsilon = precision.number(loss_spec.label_smoothing)
        target = ops.smooth_labels(target, epsilon, loss_spec.smoothing)
    params = {name: precision.array(value) for name, value in problem.params.items()}
    first_forward = network.forward(params, x, target, arch)
    first_backward = network.backward(first_forward, arch)
    if precision.is_float64:
        _require_finite(problem, first_forward, first_backward)
    history = [first_forward.loss]
    fwd, bwd = first_forward, first_backward
    for step in range(1, opt.steps + 1):
        if step > 1:
            bwd = network.backward(fwd, arch)
        params = network.gradient_step(params, bwd.grads, learning_rate, opt.frozen)
        fwd = network.forward(params, x, target, arch)
        history.append(fwd.loss)
        if precision.is_float64 and not (
            np.isfinite(fwd.loss) and all(np.all(np.isfinite(v)) for v in params.values())
        ):
            raise HandgradError(
                f"{problem.source}: optimizer.learning_rate: the loss diverged at step"
                f" {step} (L = {fwd.loss:g}); η = {opt.learning_rate:g} is too large for"
                " this problem, try a smaller learning_rate or fewer steps"
            )
    return _Run(first_forward, first_backward, target, params, history)


def _solve_float64(problem: Problem) -> Solution:
    # Overflow is detected by the finiteness checks and reported as a user error,
    # so NumPy's own overflow warnings would only repeat it less clearly.
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        run = _run_steps(problem, FLOAT64)
        check = finite_difference_check(
            lambda p: network.loss_value(p, problem.x, run.target, problem.architecture),
            problem.params,
            run.first_backward.grads,
            input_scale=float(np.max(np.abs(problem.x))),
        )
    return Solution(
        problem=problem,
        quantities=tuple(_Notation(problem).quantities(run)),
        history=tuple(float(loss) for loss in run.history),
        conventions=tuple(conventions(problem)),
        kinks=tuple(_kinks(problem, run.first_forward)),
        checks=(check,),
    )


def _require_small_enough(problem: Problem) -> None:
    """Exact arithmetic grows expressions with every step and unit: keep it to hand-sized work."""
    count = sum(value.size for value in problem.params.values())
    steps = problem.spec.optimizer.steps
    if count > EXACT_MAX_PARAMETERS or steps > EXACT_MAX_STEPS:
        raise HandgradError(
            f"{problem.source}: exact and N-digit answers are for hand-sized problems (at most"
            f" {EXACT_MAX_PARAMETERS} parameters and {EXACT_MAX_STEPS} steps); this one has"
            f" {count} parameters and {steps} steps"
        )


def _agreement(
    quantities: tuple[Quantity, ...], reference: Solution, precision: Precision
) -> GradientCheck:
    """How far the float64 gradients are from the exact or N-digit ones (float64 rounding)."""
    ours = {q.key: q.value for q in quantities if q.section == "backward"}
    errors = {
        name: max_relative_error(
            np.asarray(reference.backward[name], dtype=float),
            np.asarray(ours[name], dtype=float),
        )
        for name in reference.checks[0].errors
    }
    checked = {name: (int(np.size(ours[name])),) * 2 for name in errors}
    return GradientCheck(f"float64_vs_{precision.kind}", errors, checked)


def _require_finite(problem: Problem, fwd: network.ForwardPass, bwd: network.BackwardPass) -> None:
    """Raise a user error when the problem's numbers overflow float64 in the first step."""
    named = {"z": fwd.z, "L": fwd.loss, "∂L/∂z": bwd.dz, **bwd.grads}
    named.update({f"h{i}": h for i, h in enumerate(fwd.h, start=1)})
    bad = [name for name, value in named.items() if not np.all(np.isfinite(value))]
    if bad:
        raise HandgradError(
            f"{problem.source}: the numbers overflow float64 (infinite or NaN values in"
            f" {', '.join(bad)}): the problem's parameters or inputs are too large to work"
            " with; scale them down"
        )


def conventions(problem: Problem) -> list[str]:
    """The conventions in force, in words, for the top of every worked solution."""
    arch, loss = problem.architecture, problem.spec.loss
    said = []
    if arch.layout == "in_out":
        said.append("layout in_out: h = Wᵀx + b, each W is fan_in × fan_out (the course's)")
    else:
        said.append("layout out_in: h = Wx + b, each W is fan_out × fan_in (PyTorch's nn.Linear)")
    if arch.loss == "cross_entropy":
        if loss.smoothing == "uniform":
            said.append(
                f"label smoothing uniform: yˢ = (1 − ε)y + ε/q with ε = {loss.label_smoothing:g}"
            )
        else:
            said.append(
                "label smoothing others: yˢ = (1 − ε)y + ε(1 − y)/(q − 1) "
                f"(true class 1 − ε, every other ε/(q − 1)) with ε = {loss.label_smoothing:g}"
            )
    if problem.batched:
        what = "L = (1/B) Σᵦ Lᵦ" if arch.reduction == "mean" else "L = Σᵦ Lᵦ"
        said.append(f"reduction {arch.reduction}: {what} over the B = {problem.batch_size} rows")
    if arch.depth > 1 and arch.hidden.name == "relu":
        said.append(
            f"ReLU′(0) = {arch.hidden.relu_grad_at_zero:g} (the subgradient used at a kink)"
        )
    if arch.depth > 1 and arch.hidden.name == "leaky_relu":
        said.append(f"leaky ReLU slope α = {arch.hidden.leaky_slope:g}, also used at 0")
    if problem.params_initialised:
        said.append(
            f"parameters drawn from seed {problem.spec.network.seed}: "
            + (
                "He normal N(0, 2/fan_in) into the hidden layers, Glorot normal "
                "N(0, 2/(fan_in + fan_out)) into the output layer, biases 0"
                if arch.hidden.name in ("relu", "leaky_relu") and arch.depth > 1
                else "Glorot normal N(0, 2/(fan_in + fan_out)) weights, biases 0"
            )
        )
    frozen = problem.spec.optimizer.frozen
    if frozen:
        said.append(f"frozen (not updated): {', '.join(frozen)}")
    return said


def _kinks(problem: Problem, fwd: network.ForwardPass) -> list[Kink]:
    hidden = problem.architecture.hidden
    if hidden.name not in ("relu", "leaky_relu"):
        return []
    convention = (
        f"ReLU′(0) = {hidden.relu_grad_at_zero:g}"
        if hidden.name == "relu"
        else f"LeakyReLU′(0) = α = {hidden.leaky_slope:g}"
    )
    found = []
    for layer, h in enumerate(fwd.h, start=1):
        for row, unit in np.argwhere(h == 0):
            index = (int(row), int(unit)) if problem.batched else (int(unit),)
            found.append(Kink(f"h{layer}", index, convention))
    return found


class _Notation:
    """Names each recorded array in the course's notation, for one instance or a batch."""

    def quantities(self, run: _Run) -> list[Quantity]:
        return (
            self.forward(run.first_forward, run.target)
            + self.backward(run.first_forward, run.first_backward)
            + self.update(run.params, run.history[-1])
        )

    def __init__(self, problem: Problem) -> None:
        self.problem = problem
        self.arch = problem.architecture
        self.batched = problem.batched
        self.in_out = self.arch.layout == "in_out"

    # ------------------------------------------------------------------ symbols and shapes

    def shown(self, array: Any) -> Any:
        """A batch keeps its rows; a single instance shows as a vector."""
        return array if self.batched else array[0]

    def sym(self, name: str, layer: int | None = None) -> Math:
        """h1, a1, x, z, ... for one instance; H1, A1, X, Z for a batch (one row each)."""
        return var(name.upper() if self.batched else name, layer)

    def layer_input(self, layer: int) -> Math:
        return self.sym("x") if layer == 1 else self.sym("a", layer - 1)

    def layer_output(self, layer: int) -> Math:
        return self.sym("z") if layer == self.arch.depth else self.sym("h", layer)

    # ---------------------------------------------------------------------------- forward

    def forward(self, fwd: network.ForwardPass, target: np.ndarray) -> list[Quantity]:
        arch, out = self.arch, []
        for layer in range(1, arch.depth + 1):
            W, b, inp = var("W", layer), var("b", layer), self.layer_input(layer)
            if self.batched:
                affine = inp + " " + (W if self.in_out else W.T) + " + " + b
            else:
                affine = (W.T if self.in_out else W) + inp + " + " + b
            if layer < arch.depth:
                h = self.sym("h", layer)
                out.append(
                    Quantity("forward", f"h{layer}", h, affine, self.shown(fwd.h[layer - 1]))
                )
                out.append(
                    Quantity(
                        "forward",
                        f"a{layer}",
                        self.sym("a", layer),
                        self.activation(h),
                        self.shown(fwd.a[layer - 1]),
                    )
                )
            else:
                out.append(Quantity("forward", "z", self.sym("z"), affine, self.shown(fwd.z)))
        z = self.sym("z")
        yhat_formula = {
            "softmax": call("softmax", z),
            "sigmoid": call("σ", z, r"\sigma"),
            "identity": z,
        }[arch.output]
        yhat = YHAT_BATCH if self.batched else YHAT
        out.append(Quantity("forward", "yhat", yhat, yhat_formula, self.shown(fwd.yhat)))
        y = self.sym("y")
        loss = self.problem.spec.loss
        if arch.loss == "cross_entropy":
            ys = YS_BATCH if self.batched else YS
            q = Math("q", "q")
            one_minus_eps = "(1" + MINUS + EPS + ")"
            if loss.smoothing == "uniform":
                formula = one_minus_eps + y + " + " + EPS + "/" + q
            else:
                formula = (
                    one_minus_eps
                    + y
                    + " + "
                    + EPS
                    + "(1"
                    + MINUS
                    + y
                    + ")/("
                    + q
                    + Math(" − 1)", " - 1)")
                )
            out.append(
                Quantity(
                    "forward",
                    "ys",
                    ys,
                    formula,
                    self.shown(target),
                    note=f"ε = {loss.label_smoothing:g}, q = {arch.layers[-1]}",
                )
            )
            per = Math("−Σᵢ yˢᵢ ln ŷᵢ", r"-\sum_i y^{s}_i \ln \hat{y}_i")
        else:
            per = Math("½ Σᵢ (ŷᵢ − yᵢ)²", r"\tfrac{1}{2} \sum_i (\hat{y}_i - y_i)^2")
        if self.batched:
            per_b = Math("Lᵦ", "L_b")
            out.append(
                Quantity(
                    "forward",
                    "losses",
                    per_b,
                    per + Math(" for each row b", r"\quad \text{for each row } b"),
                    fwd.per_instance,
                )
            )
            total = (
                Math("(1/B) Σᵦ Lᵦ", r"\frac{1}{B} \sum_b L_b")
                if arch.reduction == "mean"
                else Math("Σᵦ Lᵦ", r"\sum_b L_b")
            )
            out.append(Quantity("forward", "loss", LOSS, total, fwd.loss))
        else:
            out.append(Quantity("forward", "loss", LOSS, per, fwd.loss))
        return out

    def activation(self, h: Math) -> Math:
        name = self.arch.hidden.name
        if name == "relu":
            return call("ReLU", h)
        if name == "leaky_relu":
            return call("LeakyReLU", h)
        if name == "sigmoid":
            return call("σ", h, r"\sigma")
        if name == "tanh":
            return call("tanh", h, r"\tanh")
        return h

    # --------------------------------------------------------------------------- backward

    def backward(self, fwd: network.ForwardPass, bwd: network.BackwardPass) -> list[Quantity]:
        arch, out = self.arch, []
        per_b = "/B" if self.batched and arch.reduction == "mean" else ""
        yhat = YHAT_BATCH if self.batched else YHAT
        z = self.sym("z")
        if bwd.dyhat is None:
            ys = YS_BATCH if self.batched else YS
            formula = ("(" + yhat + MINUS + ys + ")" + per_b) if per_b else yhat + MINUS + ys
            note = FUSED_NOTE + (
                " For the mean over the batch each row is divided by B." if per_b else ""
            )
            out.append(Quantity("backward", "dz", grad(z), formula, self.shown(bwd.dz), note=note))
        else:
            y = self.sym("y")
            formula = ("(" + yhat + MINUS + y + ")" + per_b) if per_b else yhat + MINUS + y
            out.append(Quantity("backward", "dyhat", grad(yhat), formula, self.shown(bwd.dyhat)))
            dyhat = grad(yhat)
            dz_formula = {
                "softmax": yhat
                + ODOT
                + OPEN
                + dyhat
                + MINUS
                + Math("rowsum(", r"\operatorname{rowsum}\left(")
                + yhat
                + ODOT
                + dyhat
                + Math("))", r"\right)\right)"),
                "sigmoid": dyhat + ODOT + yhat + ODOT + "(1" + MINUS + yhat + ")",
                "identity": dyhat,
            }[arch.output]
            note = (
                "the softmax Jacobian ∂ŷᵢ/∂zⱼ = ŷᵢ(δᵢⱼ − ŷⱼ) applied to ∂L/∂ŷ"
                if arch.output == "softmax"
                else ""
            )
            out.append(
                Quantity("backward", "dz", grad(z), dz_formula, self.shown(bwd.dz), note=note)
            )
        for layer in range(arch.depth, 0, -1):
            inp, upstream = self.layer_input(layer), grad(self.layer_output(layer))
            W, b = var("W", layer), var("b", layer)
            if self.batched:
                dW = (
                    inp.T + " " + upstream
                    if self.in_out
                    else OPEN + upstream + TRANSPOSED + " " + inp
                )
                db = Math("Σᵦ ", r"\sum_b ") + upstream + Math(" (sum of rows)", r"\text{ (rows)}")
            else:
                dW = (
                    inp + " " + OPEN + upstream + TRANSPOSED
                    if self.in_out
                    else upstream + " " + inp.T
                )
                db = upstream
            out.append(Quantity("backward", f"dW{layer}", grad(W), dW, bwd.grads[f"dW{layer}"]))
            out.append(Quantity("backward", f"db{layer}", grad(b), db, bwd.grads[f"db{layer}"]))
            if layer == 1:
                break
            a, h = self.sym("a", layer - 1), self.sym("h", layer - 1)
            if self.batched:
                da = upstream + " " + (W.T if self.in_out else W)
            else:
                da = (W if self.in_out else W.T) + " " + upstream
            out.append(
                Quantity("backward", f"da{layer - 1}", grad(a), da, self.shown(bwd.da[layer - 2]))
            )
            out.append(
                Quantity(
                    "backward",
                    f"dh{layer - 1}",
                    grad(h),
                    self.activation_backward(a, h),
                    self.shown(bwd.dh[layer - 2]),
                    note=self.activation_note(),
                )
            )
        return out

    def activation_backward(self, a: Math, h: Math) -> Math:
        da, name = grad(a), self.arch.hidden.name
        if name == "relu":
            at_zero = self.arch.hidden.relu_grad_at_zero
            if at_zero:
                return (
                    da
                    + ODOT
                    + Math(
                        f"(1[{h.text} > 0] + {at_zero:g}·1[{h.text} = 0])",
                        rf"(\mathbf{{1}}[{h.latex} > 0]"
                        rf" + {at_zero:g}\,\mathbf{{1}}[{h.latex} = 0])",
                    )
                )
            return da + ODOT + Math(f"1[{h.text} > 0]", rf"\mathbf{{1}}[{h.latex} > 0]")
        if name == "leaky_relu":
            return (
                da
                + ODOT
                + Math(
                    f"(1[{h.text} > 0] + α·1[{h.text} ≤ 0])",
                    rf"(\mathbf{{1}}[{h.latex} > 0] + \alpha\,"
                    rf"\mathbf{{1}}[{h.latex} \le 0])",
                )
            )
        if name == "sigmoid":
            return da + ODOT + a + ODOT + "(1" + MINUS + a + ")"
        if name == "tanh":
            return da + ODOT + "(1" + MINUS + a + Math("²)", "^2)")
        return da

    def activation_note(self) -> str:
        hidden = self.arch.hidden
        return {
            "relu": f"ReLU′(h) = 1 where h > 0, 0 where h < 0, and {hidden.relu_grad_at_zero:g} "
            "at h = 0 by convention",
            "leaky_relu": f"LeakyReLU′(h) = 1 where h > 0, α = {hidden.leaky_slope:g} elsewhere",
            "sigmoid": "σ′(h) = σ(h)(1 − σ(h)) = a(1 − a)",
            "tanh": "tanh′(h) = 1 − tanh²(h) = 1 − a²",
            "identity": "the identity's derivative is 1",
        }[hidden.name]

    # ----------------------------------------------------------------------------- update

    def update(self, params: dict[str, np.ndarray], loss_after: float) -> list[Quantity]:
        out = []
        opt = self.problem.spec.optimizer
        frozen = opt.frozen
        first_updated = next((name for name in params if name not in frozen), None)
        for name, value in params.items():
            symbol = var(name[0], name[1:])
            if name in frozen:
                formula = symbol + Math(" (frozen)", r"\ (\text{frozen})")
            else:
                formula = symbol + MINUS + ETA + " " + grad(symbol)
                if opt.steps > 1:
                    formula = formula + Math(
                        f", applied {opt.steps} times", rf",\ \text{{applied {opt.steps} times}}"
                    )
            first_updated = (
                next(n for n in params if n not in frozen) if opt.frozen != tuple(params) else None
            )
            note = (
                "every step uses the gradient at that step's parameters; the gradients shown above"
                " are the first step's"
                if opt.steps > 1 and name == first_updated
                else ""
            )
            out.append(Quantity("update", name, symbol, formula, value, relation="←", note=note))
        steps = self.problem.spec.optimizer.steps
        if steps == 1:
            after = Math(
                "L(θ − η ∂L/∂θ)", r"L\left(\theta - \eta \frac{\partial L}{\partial \theta}\right)"
            )
        else:
            after = Math(f"L(θ after {steps} steps)", rf"L\left(\theta^{{({steps})}}\right)")
        note = "the forward pass again, at the updated parameters"
        out.append(Quantity("update", "loss", LOSS, after, loss_after, note=note))
        return out
