"""The words beside the math: each quantity's formula as the course writes it, the conventions
in force and the notes that say why a formula holds.

The solver records numbers from `core`; this module names them (`Quantity` records with a
`Math` formula in Unicode and LaTeX) so that renderers, the derivation and the playground all
read the same text. Activation and output symbols come from the table in `core.activations`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from handgrad.core import network
from handgrad.core.activations import OUTPUTS
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
from handgrad.problem import Problem
from handgrad.solution import Kink, Quantity

PRECISION_NOTES = {
    "exact": "exact arithmetic (sympy): the problem's decimals read as the rationals they spell,"
    " e.g. 0.3 = 3/10",
    "digits": "every number computed with mpmath at {0.digits} significant digits",
}

FUSED_NOTE = (
    "Softmax and cross-entropy together: ∂L/∂zⱼ = Σᵢ (∂L/∂ŷᵢ)(∂ŷᵢ/∂zⱼ) = Σᵢ (−yˢᵢ/ŷᵢ)·ŷᵢ(δᵢⱼ − ŷⱼ)"
    " = ŷⱼ Σᵢ yˢᵢ − yˢⱼ = ŷⱼ − yˢⱼ, because Σᵢ yˢᵢ = 1 (smoothing keeps yˢ a distribution)."
)


def quantities(problem: Problem, run: network.Descent, target: Any) -> list[Quantity]:
    """Every quantity of a worked solution, named: the first step in full, then the update."""
    return Wording(problem).quantities(run, target)


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
        said.append(f"{arch.hidden.kink_convention()} (the subgradient used at a kink)")
    if arch.depth > 1 and arch.hidden.name == "leaky_relu":
        said.append(f"leaky ReLU slope α = {arch.hidden.leaky_slope:g}, also used at 0")
    if problem.params_initialised:
        said.append(
            f"parameters drawn from seed {problem.spec.network.seed}: "
            + (
                "He normal N(0, 2/fan_in) into the hidden layers, Glorot normal "
                "N(0, 2/(fan_in + fan_out)) into the output layer, biases 0"
                if arch.hidden.rule.he_initialised and arch.depth > 1
                else "Glorot normal N(0, 2/(fan_in + fan_out)) weights, biases 0"
            )
        )
    frozen = problem.spec.optimizer.frozen
    if frozen:
        said.append(f"frozen (not updated): {', '.join(frozen)}")
    return said


SUBSCRIPT_DIGITS = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")

# Why Σᵢ yˢᵢ = 1, for each smoothing convention: what lets ∂L/∂z collapse to ŷ − yˢ.
SMOOTHING_SUMS = {
    "uniform": "Σᵢ yˢᵢ = (1 − ε) Σᵢ yᵢ + ε = 1 for any distribution y, a one-hot y included"
    " (Σᵢ yᵢ = 1, and the q terms ε/q add up to ε)",
    "others": "Σᵢ yˢᵢ = (1 − ε) Σᵢ yᵢ + ε Σᵢ (1 − yᵢ)/(q − 1) = (1 − ε) + ε (q − 1)/(q − 1)"
    " = 1 for a one-hot y, the targets this convention is made for (the true class gets"
    " 1 − ε, each of the q − 1 others ε/(q − 1)); the same sum is 1 for any distribution y,"
    " as Σᵢ (1 − yᵢ) = q − Σᵢ yᵢ = q − 1",
}


def layer_symbols(layers: tuple[int, ...] | list[int]) -> list[Math]:
    """The layer sizes as Problem 1 names them: d, n, q for one hidden layer; d, n₁, n₂, …, q
    for more; d, q for none."""
    hidden = len(layers) - 2
    if hidden == 1:
        middle = [Math("n", "n")]
    else:
        middle = [
            Math(f"n{str(k).translate(SUBSCRIPT_DIGITS)}", f"n_{{{k}}}")
            for k in range(1, hidden + 1)
        ]
    return [Math("d", "d"), *middle, Math("q", "q")]


def sizes_convention(problem: Problem) -> list[str | Math]:
    """What the size symbols d, n (n₁, n₂, …), q and B stand for, with this instance's sizes
    once as the example; prose as str, each symbol or equation as Math (`as_text` joins them)."""
    layers = problem.architecture.layers
    symbols = layer_symbols(layers)
    hidden = symbols[1:-1]
    parts: list[str | Math] = [symbols[0], " inputs, "]
    if len(hidden) == 1:
        parts += [hidden[0], " hidden units, "]
    elif hidden:
        for k, symbol in enumerate(hidden):
            parts += [
                symbol,
                " and " if k == len(hidden) - 2 else ", " if k < len(hidden) - 2 else " ",
            ]
        layers_named = "1 and 2" if len(hidden) == 2 else f"1 to {len(hidden)}"
        parts.append(f"units in hidden layers {layers_named}, ")
    parts += [symbols[-1], " outputs"]
    every = list(symbols)
    values = [
        Math(f"{symbol.text} = {size}", f"{symbol.latex} = {size}")
        for symbol, size in zip(symbols, layers, strict=True)
    ]
    if problem.batched:
        batch = Math("B", "B")
        parts += [
            "; a batch of ",
            batch,
            " instances, one per row (",
            Math("X: B × d", r"X\colon B \times d"),
            ")",
        ]
        every.append(batch)
        values.append(Math(f"B = {problem.batch_size}", f"B = {problem.batch_size}"))
    parts.append(". The derivation holds for any ")
    for k, symbol in enumerate(every):
        parts += [symbol, ", " if k < len(every) - 1 else ""]
    parts.append(" (here ")
    for k, value in enumerate(values):
        parts += [value, ", " if k < len(values) - 1 else ")."]
    return [part for part in parts if part != ""]


def as_text(parts: list[str | Math]) -> str:
    """Prose with Math parts, as plain Unicode."""
    return "".join(part if isinstance(part, str) else part.text for part in parts)


def kinks(problem: Problem, fwd: network.ForwardPass) -> list[Kink]:
    hidden = problem.architecture.hidden
    if not hidden.rule.piecewise_linear:
        return []
    convention = hidden.kink_convention()
    found = []
    for layer, h in enumerate(fwd.h, start=1):
        for row, unit in np.argwhere(h == 0):
            index = (int(row), int(unit)) if problem.batched else (int(unit),)
            found.append(Kink(f"h{layer}", index, convention))
    return found


class Wording:
    """Names each recorded array in the course's notation, for one instance or a batch."""

    def quantities(self, run: network.Descent, target: Any) -> list[Quantity]:
        return (
            self.forward(run.first_forward, target)
            + self.backward(run.first_forward, run.first_backward)
            + self.update(run.params, run.losses[-1])
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
        output = OUTPUTS[arch.output]
        yhat_formula = call(output.text, z, output.latex) if output.text else z
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
        """f(h) with f's symbol from the table; the identity leaves h as it is."""
        rule = self.arch.hidden.rule
        return call(rule.text, h, rule.latex) if rule.text else h

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
            output = OUTPUTS[arch.output]
            dz_formula = Math(
                output.backward_text.format(yhat=yhat.text, dyhat=dyhat.text),
                output.backward_latex.format(yhat=yhat.latex, dyhat=dyhat.latex),
            )
            note = output.backward_note
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
        """∂L/∂a ⊙ f′(h), f′ written as the table writes it."""
        if self.arch.hidden.rule.name == "identity":
            return grad(a)
        return grad(a) + ODOT + self.activation_derivative(a, h)

    def activation_derivative(self, a: Math, h: Math) -> Math:
        """f′(h) as the table writes it (from h or from a = f(h)), with this problem's f′(0)."""
        hidden = self.arch.hidden
        rule = hidden.rule
        if rule.name == "relu" and hidden.relu_grad_at_zero:
            at_zero = hidden.relu_grad_at_zero
            return Math(
                f"(1[{h.text} > 0] + {at_zero:g}·1[{h.text} = 0])",
                rf"(\mathbf{{1}}[{h.latex} > 0] + {at_zero:g}\,\mathbf{{1}}[{h.latex} = 0])",
            )
        return Math(
            rule.derivative_text.format(h=h.text, a=a.text),
            rule.derivative_latex.format(h=h.latex, a=a.latex),
        )

    def activation_note(self) -> str:
        hidden = self.arch.hidden
        return hidden.rule.note.format(
            at_zero=f"{hidden.relu_grad_at_zero:g}", slope=f"{hidden.leaky_slope:g}"
        )

    # ----------------------------------------------------------------------------- update

    def update(self, params: dict[str, np.ndarray], loss_after: float) -> list[Quantity]:
        out = []
        opt = self.problem.spec.optimizer
        frozen = opt.frozen
        # the note on multi-step updates goes with the first parameter that is updated at all
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
