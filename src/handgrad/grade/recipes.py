"""Each quantity's recipe (its inputs and formula) and known mistakes, built section by section."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from handgrad.core import network, ops
from handgrad.grade.formulas import (
    Activate,
    ActivationGrad,
    AfterSteps,
    BatchLoss,
    CrossEntropy,
    Descent,
    Fixed,
    Formula,
    Given,
    Linear,
    LinearGrad,
    LossAfter,
    Output,
    OutputGrad,
    Scaled,
    SoftmaxCrossEntropyGrad,
    SquaredError,
    SquaredErrorGrad,
    Step,
)
from handgrad.grade.keys import DYHAT, DZ, LOSS, LOSSES, YHAT, YS, Key, Z
from handgrad.problem import Problem


@dataclass(frozen=True)
class Recipe:
    """How a quantity is computed: the quantities it is computed from, and the formula."""

    inputs: tuple[Key, ...]
    formula: Formula


@dataclass(frozen=True)
class Mistake:
    """A known wrong way to a quantity: the cause code and the formula that mistake applies."""

    cause: str
    formula: Formula


@dataclass
class _Section:
    """The recipes and known mistakes of one section's quantities."""

    recipes: dict[Key, Recipe] = field(default_factory=dict)
    mistakes: dict[Key, list[Mistake]] = field(default_factory=dict)


def _other_layout(layout: ops.Layout) -> ops.Layout:
    return "out_in" if layout == "in_out" else "in_out"


def _other_reduction(reduction: ops.Reduction) -> ops.Reduction:
    return "sum" if reduction == "mean" else "mean"


def _other_target(problem: Problem) -> Fixed:
    """yˢ by the other smoothing convention than the problem's (the mistake's target)."""
    loss = problem.spec.loss
    other: ops.Smoothing = "others" if loss.smoothing == "uniform" else "uniform"
    return Fixed(np.asarray(
        network.target_for(problem.y, "cross_entropy", loss.label_smoothing, other)))


def _batch_factor(problem: Problem) -> float:
    """The other reduction's ∂L/∂Lᵦ over this one's: B (mean read as sum) or 1/B."""
    batch = problem.batch_size
    return batch if problem.architecture.reduction == "mean" else 1 / batch


def _layer_input(layer: int) -> Key | None:
    """The key of layer l's input a(l−1); None for the first layer, whose input is x."""
    return ("forward", f"a{layer - 1}") if layer > 1 else None


def _forward_section(problem: Problem) -> _Section:
    """h = Wᵀa + b, a = f(h), ŷ = g(z), layer by layer."""
    arch, params = problem.architecture, problem.params
    section = _Section()
    for layer in range(1, arch.depth + 1):
        W, b = params[f"W{layer}"], params[f"b{layer}"]
        key = ("forward", "z" if layer == arch.depth else f"h{layer}")
        below = _layer_input(layer)
        inputs: Formula = Fixed(problem.x) if below is None else Given(below)
        right = Linear(inputs, W, b, arch.layout)
        section.recipes[key] = Recipe(() if below is None else (below,), right)
        wrong = [Mistake("missing_bias", replace(right, b=np.zeros_like(b)))]
        if W.shape[0] == W.shape[1]:  # only a square W fits the other layout
            wrong.append(Mistake("layout", replace(right, layout=_other_layout(arch.layout))))
        section.mistakes[key] = wrong
        if layer < arch.depth:
            h_key, a_key = ("forward", f"h{layer}"), ("forward", f"a{layer}")
            section.recipes[a_key] = Recipe((h_key,), Activate(h_key, arch.hidden))
            section.mistakes[a_key] = [Mistake("missing_activation", Given(h_key))]
    section.recipes[YHAT] = Recipe((Z,), Output(Z, arch.output))
    if arch.output == "softmax":
        q = arch.layers[-1]
        section.mistakes[YHAT] = [
            Mistake("softmax_of_wrong_vector", Output(("forward", f"{kind}{layer}"), "softmax"))
            for layer in range(1, arch.depth) for kind in ("h", "a") if arch.layers[layer] == q
        ]
    return section


def _loss_section(problem: Problem) -> _Section:
    """yˢ (cross-entropy), the per-instance losses Lᵦ and the loss L."""
    arch, y = problem.architecture, problem.y
    reduction = arch.reduction
    section = _Section()
    loss: CrossEntropy | SquaredError
    if arch.loss == "cross_entropy":
        other, one_hot = _other_target(problem), Fixed(y)
        section.recipes[YS] = Recipe((), Fixed(problem.target))
        section.mistakes[YS] = [Mistake("smoothing_convention", other),
                                Mistake("no_smoothing", one_hot)]
        loss = CrossEntropy(Given(YS), reduction)
        section.recipes[LOSS] = Recipe((YHAT, YS), loss)
        section.recipes[LOSSES] = Recipe((YHAT, YS), replace(loss, per_instance=True))
        section.mistakes[LOSS] = [
            Mistake("no_smoothing", replace(loss, target=one_hot)),
            Mistake("smoothing_convention", replace(loss, target=other)),
            Mistake("log_base", Scaled(loss, 1 / math.log(10))),
            Mistake("log_base", Scaled(loss, 1 / math.log(2))),
        ]
    else:
        loss = SquaredError(y, reduction)
        section.recipes[LOSS] = Recipe((YHAT,), loss)
        section.recipes[LOSSES] = Recipe((YHAT,), replace(loss, per_instance=True))
        section.mistakes[LOSS] = []
    if problem.batch_size > 1:
        section.mistakes[LOSS].append(
            Mistake("reduction", replace(loss, reduction=_other_reduction(reduction))))
    if problem.batched:  # L is the mean or sum of the Lᵦ the student wrote
        section.recipes[LOSS] = Recipe((LOSSES,), BatchLoss(reduction))
    return section


def _backward_section(problem: Problem) -> _Section:
    """∂L/∂z (through ∂L/∂ŷ unless fused), then ∂L/∂W, ∂L/∂b, ∂L/∂a, ∂L/∂h layer by layer."""
    arch, y = problem.architecture, problem.y
    reduction, factor, several = arch.reduction, _batch_factor(problem), problem.batch_size > 1
    masked = arch.hidden.rule.piecewise_linear  # ReLU-like: a mask a student can forget
    section = _Section()
    if arch.fused_softmax_cross_entropy:
        dz = SoftmaxCrossEntropyGrad(Given(YS), reduction)
        section.recipes[DZ] = Recipe((YHAT, YS), dz)
        section.mistakes[DZ] = [
            Mistake("dz_sign", Scaled(dz, -1)),
            Mistake("no_smoothing", replace(dz, target=Fixed(y))),
            Mistake("smoothing_convention", replace(dz, target=_other_target(problem))),
        ]
        if several:
            section.mistakes[DZ].append(Mistake("reduction", Scaled(dz, factor)))
    else:
        dyhat = SquaredErrorGrad(y, reduction)
        section.recipes[DYHAT] = Recipe((YHAT,), dyhat)
        section.mistakes[DYHAT] = [Mistake("dz_sign", Scaled(dyhat, -1))]
        if several:
            section.mistakes[DYHAT].append(Mistake("reduction", Scaled(dyhat, factor)))
        dz_from_dyhat = OutputGrad(arch.output)
        section.recipes[DZ] = Recipe((DYHAT, YHAT), dz_from_dyhat)
        section.mistakes[DZ] = [Mistake("dz_sign", Scaled(dz_from_dyhat, -1))]

    for layer in range(arch.depth, 0, -1):
        W = problem.params[f"W{layer}"]
        up = DZ if layer == arch.depth else ("backward", f"dh{layer}")
        below = _layer_input(layer)
        dW = LinearGrad("dW", up, below, problem.x, W, arch.layers[layer - 1], arch.layout)
        section.recipes[("backward", f"dW{layer}")] = Recipe(
            (up,) if below is None else (up, below), dW)
        section.recipes[("backward", f"db{layer}")] = Recipe((up,), replace(dW, part="db"))
        for part in ("dW", "db"):
            grad = replace(dW, part=part)
            wrong: list[Mistake] = []
            if several:
                wrong.append(Mistake("reduction", Scaled(grad, factor)))
            if layer < arch.depth and masked:  # ∂L/∂a where δ = ∂L/∂h belongs
                unmasked = replace(grad, upstream=("backward", f"da{layer}"))
                wrong.append(Mistake("missing_relu_mask", unmasked))
            section.mistakes[("backward", f"{part}{layer}")] = wrong
        if layer > 1:
            da_key, dh_key = ("backward", f"da{layer - 1}"), ("backward", f"dh{layer - 1}")
            h_key, a_key = ("forward", f"h{layer - 1}"), ("forward", f"a{layer - 1}")
            da = replace(dW, part="da")
            section.recipes[da_key] = Recipe((up,), da)
            if W.shape[0] == W.shape[1]:  # only a square W fits the other layout
                other_layout = replace(da, layout=_other_layout(arch.layout))
                section.mistakes[da_key] = [Mistake("layout", other_layout)]
            section.recipes[dh_key] = Recipe((da_key, h_key, a_key),
                                             ActivationGrad(da_key, h_key, a_key, arch.hidden))
            if masked:
                section.mistakes[dh_key] = [Mistake("missing_relu_mask", Given(da_key))]
    return section


def _update_section(problem: Problem) -> _Section:
    """θ ← θ − η ∂L/∂θ from the given gradients (then the other steps, if several), and L after."""
    optimizer = problem.spec.optimizer
    eta, frozen, steps = optimizer.learning_rate, optimizer.frozen, optimizer.steps
    grad_keys = tuple(("backward", f"d{name}") for name in problem.params)
    descent = Descent(problem)
    section = _Section()
    for name, value in problem.params.items():
        key, grad_key = ("update", name), ("backward", f"d{name}")
        right = Step(name, value, grad_key, eta)
        if name in frozen:
            section.recipes[key] = Recipe((), Fixed(value))
            section.mistakes[key] = [Mistake("updated_frozen", right)]
            continue
        section.mistakes[key] = [Mistake("no_update", Fixed(value))]
        if steps == 1:
            section.recipes[key] = Recipe((grad_key,), right)
            section.mistakes[key] += [
                Mistake("update_sign", replace(right, learning_rate=-eta)),
                Mistake("missing_learning_rate", replace(right, learning_rate=1.0)),
            ]
        else:  # after S steps every parameter depends on every gradient of the first step
            section.recipes[key] = Recipe(grad_keys, AfterSteps(name, descent))
    update_keys = tuple(("update", name) for name in problem.params)
    after = LossAfter(problem)
    if problem.architecture.loss == "cross_entropy":
        section.recipes[("update", "loss")] = Recipe((*update_keys, YS), after)
        section.mistakes[("update", "loss")] = [
            Mistake("no_smoothing", replace(after, target=Fixed(problem.y))),
            Mistake("smoothing_convention", replace(after, target=_other_target(problem))),
        ]
    else:
        section.recipes[("update", "loss")] = Recipe(update_keys, after)
    return section


class Formulas:
    """Each quantity's recipe and known mistakes, in row form, section by section."""

    def __init__(self, problem: Problem) -> None:
        self.problem = problem
        self.recipes: dict[Key, Recipe] = {}
        self.mistakes: dict[Key, list[Mistake]] = {}
        for section in (_forward_section(problem), _loss_section(problem),
                        _backward_section(problem), _update_section(problem)):
            self.recipes.update(section.recipes)
            self.mistakes.update(section.mistakes)

    # row form: (B, n) for per-instance quantities; params, gradients and losses as they are
    def per_instance(self, key: Key) -> bool:
        section, name = key
        if section == "update" or name == "loss":
            return False
        return not (name.startswith(("dW", "db")))

    def rows(self, key: Key, value: np.ndarray) -> np.ndarray:
        if self.per_instance(key) and not self.problem.batched:
            return np.asarray(value)[None, :]
        return np.asarray(value)

    def shown(self, key: Key, value: Any) -> np.ndarray:
        value = np.asarray(value, float)
        if self.per_instance(key) and not self.problem.batched:
            return value[0]
        return value
