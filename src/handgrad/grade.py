"""Grading a student's answer step by step, with error carried forward and likely causes.

Each quantity of the worked solution is judged in the order it is computed:

- `correct`: within the tolerance of the true value, or, when every input it is computed from
  was itself judged correct, within the tolerance of the value those (possibly rounded) inputs
  give: rounding that earlier rounded values carry forward is not a mistake;
- `carried_forward`: wrong, but what the student's own earlier values give (one early slip is
  not punished again at every later step);
- `wrong`: neither; then the quantity's known mistakes are recomputed from the correct inputs
  (and from the student's own) and the one the given value matches is named (`CAUSES`);
- `missing`: not given.

"What the inputs give" is computed by the same formulas as the solver (`core.ops`,
`core.network`), fed with the student's values where they gave them and the true values where
they did not. Each quantity has a recipe (the quantities it is computed from and a formula) and
a list of known mistakes (a cause code and the formula a student with that mistake applies);
the formulas are the small callable classes below, built section by section.

One entry point per kind of answer: `grade` takes values already loaded ({(section, name):
array}), `grade_file` an answer file (the command line), `grade_document` a parsed document
{section: {name: value}} (the playground server).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np

from handgrad.core import network, ops
from handgrad.errors import ProblemError, did_you_mean
from handgrad.problem import Problem
from handgrad.solution import Quantity, Section, Solution, plain
from handgrad.text import parse_number, quoted, shown

SECTIONS: tuple[Section, ...] = ("forward", "backward", "update")
SOLVER_KEYS = ("problem", "precision", "conventions", "history", "checks", "kinks")
Status = Literal["correct", "carried_forward", "wrong", "missing"]
Key = tuple[str, str]  # (section, name)
Values = dict[Key, np.ndarray]
Answer = Mapping[Key, np.ndarray]  # what `grade` judges: {(section, name): value}

EXPLANATIONS = {
    "smoothing_convention": "used the other label-smoothing convention (ε/(q−1) to each wrong "
    "class instead of ε/q to every class, or the reverse)",
    "no_smoothing": "used the one-hot y where the smoothed target yˢ belongs",
    "dz_sign": "wrote yˢ − ŷ: the gradient of the loss with respect to z is ŷ − yˢ",
    "missing_relu_mask": "left out the ReLU mask: ∂L/∂h = ∂L/∂a ⊙ 1[h > 0], not ∂L/∂a",
    "missing_activation": "left out the activation: a = f(h), not h",
    "transposed": "wrote the transpose of the right matrix (check which index is the row)",
    "layout": "used the other weight layout (Wx where the problem says Wᵀx, or the reverse)",
    "update_sign": "added the gradient: the step is θ − η ∂L/∂θ, downhill",
    "missing_learning_rate": "subtracted the gradient without the learning rate η",
    "reduction": "summed over the batch where the loss takes the mean, or the reverse "
    "(a factor of B)",
    "missing_bias": "left the bias out of the linear step (h = Wᵀx + b)",
    "softmax_of_wrong_vector": "took the softmax of a hidden vector instead of the logits z",
    "log_base": "took the logarithm in base 10 or 2; cross-entropy uses the natural log",
    "no_update": "wrote the parameter as it was before the step: θ ← θ − η ∂L/∂θ changes it",
    "updated_frozen": "updated a parameter that the problem keeps frozen",
    "rounding": "right up to rounding, but rounded earlier or harder than the tolerance allows",
}
CAUSES = tuple(EXPLANATIONS)


class AnswerError(ProblemError):
    """An answer file that cannot be graded, with every problem in it."""


@dataclass(frozen=True)
class Tolerance:
    """How close a given value must be to count as right.

    `rtol`: |given − true| ≤ rtol·|true| + rtol·10⁻³·max(1, max |true|) entry by entry;
    `decimals` K: |given − true| ≤ ½·10⁻ᴷ (answers rounded to K decimals).
    """

    rtol: float = 1e-3
    decimals: int | None = None

    def close(self, given: np.ndarray, reference: np.ndarray) -> bool:
        """Whether `given` is within the tolerance of `reference`, entry by entry."""
        g, r = np.asarray(given, float), np.asarray(reference, float)
        if g.shape != r.shape or not np.all(np.isfinite(r)):
            return False
        if self.decimals is not None:
            allowed = 0.5 * 10.0 ** (-self.decimals) * (1 + 1e-9)
            return bool(np.all(np.abs(g - r) <= allowed))
        scale = max(1.0, float(np.max(np.abs(r)))) if r.size else 1.0
        return bool(np.all(np.abs(g - r) <= self.rtol * np.abs(r) + self.rtol * 1e-3 * scale))

    def describe(self) -> str:
        """The tolerance in words, as the report shows it."""
        if self.decimals is not None:
            return f"answers rounded to {self.decimals} decimals (±½ in the last place)"
        return f"relative tolerance {self.rtol:g}"


@dataclass(frozen=True)
class GradeItem:
    """The verdict on one quantity: its status, the given and expected values, the cause."""

    section: str
    name: str
    status: Status
    given: Any  # None when missing
    expected: Any
    recomputed: Any = None  # what the student's own inputs give, when that differs
    cause: str | None = None
    explanation: str = ""
    formula: str = ""
    inputs: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "section": self.section,
            "name": self.name,
            "status": self.status,
            "given": plain(self.given),
            "expected": plain(self.expected),
            "cause": self.cause,
            "explanation": self.explanation,
        }


@dataclass(frozen=True)
class GradeReport:
    """Every quantity's verdict, in the order the solution computes them."""

    problem: str
    tolerance: Tolerance
    items: list[GradeItem] = field(default_factory=list)

    @property
    def first_wrong(self) -> GradeItem | None:
        return next((item for item in self.items if item.status == "wrong"), None)

    @property
    def summary(self) -> dict[str, int]:
        counts = {"correct": 0, "carried_forward": 0, "wrong": 0, "missing": 0}
        for item in self.items:
            counts[item.status] += 1
        return counts

    def to_dict(self) -> dict[str, Any]:
        first = self.first_wrong
        return {
            "problem": self.problem,
            "tolerance": self.tolerance.describe(),
            "first_wrong": first.name if first else None,
            "summary": self.summary,
            "items": [item.to_dict() for item in self.items],
        }


# ---------------------------------------------------------------- reading an answer


NO_QUANTITIES = ("the answer gives no quantities: put them under [forward], [backward] and "
                 "[update] with the solver's names")


def load_answer(path: str | Path, solution: Solution) -> Values:
    """The quantities an answer file (TOML or JSON) gives, checked against the solution."""
    from handgrad.problem import read_document

    return validate_answer(read_document(Path(path)), solution, str(path))


def validate_answer(
    document: Mapping[str, Any], solution: Solution, source: str = "<answer>"
) -> Values:
    """The quantities an answer document {section: {name: value}} gives, checked against the
    solution's names and shapes; every problem is reported at once."""
    problems: list[str] = []
    answer: Values = {}
    for section, content in document.items():
        if section in SOLVER_KEYS:
            continue  # the rest of a `solve --format json` file: not graded
        if section not in SECTIONS:
            problems.append(_unknown_section(section))
            continue
        if not isinstance(content, Mapping):
            problems.append(f"[{section}] must be a table of quantities, not a single value")
            continue
        expected = solution.section(section)
        for name, value in content.items():
            key = f"{section}.{shown(name)}"
            if name not in expected:
                problems.append(_unknown_name(section, name, expected))
                continue
            array = _numbers(value, key, problems)
            if array is None:
                continue
            wrong_shape = _shape_problem(key, array, expected[name])
            if wrong_shape:
                problems.append(wrong_shape)
                continue
            answer[(section, name)] = array
    if problems:
        raise AnswerError(problems, source)
    if not answer:
        raise AnswerError([NO_QUANTITIES], source)
    return answer


def _checked(answer: Answer, solution: Solution) -> Values:
    """An already-loaded answer as float arrays, held to the same names and shapes as a file."""
    if not all(isinstance(key, tuple) and len(key) == 2 for key in answer):
        raise TypeError("grade takes {(section, name): value}; grade a document "
                        "{section: {name: value}} with grade_document, a file with grade_file")
    problems: list[str] = []
    values: Values = {}
    for (section, name), value in answer.items():
        if section not in SECTIONS:
            problems.append(_unknown_section(section))
            continue
        expected = solution.section(section)
        if name not in expected:
            problems.append(_unknown_name(section, name, expected))
            continue
        array = np.asarray(value, float)
        wrong_shape = _shape_problem(f"{section}.{name}", array, expected[name])
        if wrong_shape:
            problems.append(wrong_shape)
            continue
        values[(section, name)] = array
    if problems:
        raise AnswerError(problems, "<answer>")
    if not values:
        raise AnswerError([NO_QUANTITIES], "<answer>")
    return values


def _unknown_section(section: str) -> str:
    return (f"{quoted(section)} is not a section of an answer; use [forward], [backward] and"
            f" [update]{did_you_mean(section, SECTIONS)}")


def _unknown_name(section: str, name: str, expected: Mapping[str, Any]) -> str:
    return (f"{section}.{shown(name)}: not a quantity of this problem's {section} section (it has "
            f"{', '.join(expected)}){did_you_mean(name, expected)}")


def _shape_problem(key: str, array: np.ndarray, expected: Any) -> str | None:
    """Why `array` cannot stand for `expected`, or None; a transposed matrix is graded."""
    want = np.shape(expected)
    if array.shape != want and not (array.ndim == 2 and array.shape == want[::-1]):
        return f"{key}: shape {array.shape or 'scalar'}, expected {want or 'a number'}"
    return None


def _numbers(value: Any, key: str, problems: list[str]) -> np.ndarray | None:
    def convert(item: Any) -> Any:
        if isinstance(item, list):
            return [convert(entry) for entry in item]
        # N-digit JSON writes numbers as strings; exact JSON writes rationals as 4/5
        return parse_number(item)

    try:
        array = np.array(convert(value), dtype=float)
    except RecursionError:
        problems.append(f"{key}: nested too deeply for a number, a vector or a matrix")
        return None
    except (ValueError, TypeError) as err:
        reason = "a ragged or non-numeric list" if isinstance(err, TypeError) else str(err)
        if "inhomogeneous" in reason or "sequence" in reason:
            reason = "a ragged or non-numeric list"
        problems.append(f"{key}: {reason}")
        return None
    if not np.all(np.isfinite(array)):
        problems.append(f"{key}: has an infinite or NaN entry")
        return None
    return array


# ------------------------------------------------------- recomputing from given inputs
#
# A formula maps the values at hand ({key: rows}) to one quantity in row form: (B, n) for
# per-instance quantities, parameters, gradients and losses as they are. It reads only the keys
# its recipe names (a recipe's formula gets exactly those); a mistake's formula gets every
# value computed so far, either the true ones or the student's.

Rows = Mapping[Key, np.ndarray]
Formula = Callable[[Rows], np.ndarray]

Z, YHAT, YS = ("forward", "z"), ("forward", "yhat"), ("forward", "ys")
LOSS, LOSSES = ("forward", "loss"), ("forward", "losses")
DZ, DYHAT = ("backward", "dz"), ("backward", "dyhat")


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
        return np.asarray(ops.cross_entropy_of_probabilities(
            v[YHAT], self.target(v), self.reduction, self.per_instance))


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


class _Descent:
    """The parameters after all S steps: the first from the given gradients, the other S − 1
    by the core's `network.descend`.

    Every parameter's update is graded from the same given gradients, so the last result is
    kept: one descent per set of gradients, not one per parameter (S may be 100,000).
    """

    def __init__(self, problem: Problem) -> None:
        self.problem = problem
        self._gradients: dict[str, np.ndarray] | None = None
        self._params: dict[str, np.ndarray] = {}

    def params_after(self, v: Rows) -> dict[str, np.ndarray]:
        """θ after all steps, the first from the gradients in `v`."""
        problem = self.problem
        gradients = {f"d{name}": v[("backward", f"d{name}")] for name in problem.params}
        if self._gradients is None or not all(
            np.array_equal(self._gradients[k], g) for k, g in gradients.items()
        ):
            optimizer = problem.spec.optimizer
            first = network.gradient_step(problem.params, gradients, optimizer.learning_rate,
                                          optimizer.frozen)
            descent = network.descend(first, problem.x, problem.target, problem.architecture,
                                      optimizer.learning_rate, optimizer.steps - 1,
                                      optimizer.frozen)
            self._gradients = {k: np.array(g, copy=True) for k, g in gradients.items()}
            self._params = {k: np.asarray(p) for k, p in descent.params.items()}
        return self._params


@dataclass(frozen=True)
class AfterSteps:
    """θ after S steps of gradient descent, the first from the given gradients."""

    name: str
    descent: _Descent

    def __call__(self, v: Rows) -> np.ndarray:
        return self.descent.params_after(v)[self.name]


@dataclass(frozen=True)
class LossAfter:
    """L at the given updated parameters."""

    problem: Problem

    def __call__(self, v: Rows) -> np.ndarray:
        p = self.problem
        new = {name: v[("update", name)] for name in p.params}
        return np.asarray(network.loss_value(new, p.x, p.target, p.architecture))


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
    descent = _Descent(problem)
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
    section.recipes[("update", "loss")] = Recipe(update_keys, LossAfter(problem))
    return section


class _Formulas:
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


# -------------------------------------------------------------------------- grading


def grade(
    problem: Problem,
    answer: Answer,
    tolerance: Tolerance = Tolerance(),
    solution: Solution | None = None,
) -> GradeReport:
    """Judge every quantity of an answer {(section, name): value} against the worked solution.

    An answer file is `grade_file`'s, a document {section: {name: value}} `grade_document`'s;
    `solution` saves solving the problem again.
    """
    solution = _solved(problem, solution)
    return _graded(problem, _checked(answer, solution), tolerance, solution)


def grade_file(
    problem: Problem, path: str | Path, tolerance: Tolerance = Tolerance(),
    solution: Solution | None = None,
) -> GradeReport:
    """Grade the answer in a TOML or JSON file (the solver's names, or its JSON output)."""
    solution = _solved(problem, solution)
    return _graded(problem, load_answer(path, solution), tolerance, solution)


def grade_document(
    problem: Problem, document: Mapping[str, Any], tolerance: Tolerance = Tolerance(),
    solution: Solution | None = None,
) -> GradeReport:
    """Grade an answer document {section: {name: value}}, as parsed from TOML or JSON."""
    solution = _solved(problem, solution)
    return _graded(problem, validate_answer(document, solution), tolerance, solution)


def _solved(problem: Problem, solution: Solution | None) -> Solution:
    from handgrad.solver import solve

    return solve(problem) if solution is None else solution


def _graded(
    problem: Problem, answer: Values, tolerance: Tolerance, solution: Solution
) -> GradeReport:
    with np.errstate(all="ignore"):  # a student's 0 or negative "probability" gives ±inf, quietly
        return _grade(problem, answer, tolerance, solution)


def _grade(
    problem: Problem, answer: Values, tolerance: Tolerance, solution: Solution
) -> GradeReport:
    formulas = _Formulas(problem)
    expected_rows: Values = {}
    student_rows: Values = {}
    status_of: dict[Key, Status] = {}
    items: list[GradeItem] = []
    for quantity in solution.quantities:
        key: Key = (quantity.section, quantity.key)
        expected = np.asarray(quantity.value, float)
        expected_rows[key] = formulas.rows(key, expected)
        given = answer.get(key)
        if given is None:
            status_of[key] = "missing"
            student_rows[key] = expected_rows[key]
            items.append(_item(quantity, "missing", None, expected))
            continue
        as_meant = given.T if given.shape != expected.shape else given  # a transposed matrix
        recipe = formulas.recipes.get(key)
        recomputed = None
        if recipe is not None:
            own = {d: student_rows[d] for d in recipe.inputs}
            recomputed = formulas.shown(key, recipe.formula(own))
        deps_correct = recipe is None or all(
            status_of.get(d) in ("correct", "missing") for d in recipe.inputs
        )
        status: Status
        cause = None
        if given.shape == expected.shape and tolerance.close(given, expected):
            status = "correct"
        elif given.shape == expected.shape and recomputed is not None and tolerance.close(
            given, recomputed
        ):
            status = "correct" if deps_correct else "carried_forward"
        else:
            status = "wrong"
            cause = _diagnose(formulas, key, given, expected, recomputed, expected_rows,
                              student_rows, tolerance)
        status_of[key] = status
        student_rows[key] = formulas.rows(key, as_meant)
        shown_recomputed = recomputed if status == "carried_forward" or (
            recomputed is not None and not deps_correct) else None
        items.append(_item(quantity, status, given, expected, shown_recomputed, cause,
                           tuple(f"{s}.{n}" for s, n in (recipe.inputs if recipe else ()))))
    return GradeReport(problem.name, tolerance, items)


def _item(q: Quantity, status: Status, given: Any, expected: Any, recomputed: Any = None,
          cause: str | None = None, inputs: tuple[str, ...] = ()) -> GradeItem:
    explanation = EXPLANATIONS.get(cause, "") if cause else ""
    if status == "wrong" and not cause:
        explanation = "matches none of the known mistakes; recompute it from its formula"
    return GradeItem(q.section, q.key, status, given, expected, recomputed, cause, explanation,
                     f"{q.symbol.text} {q.relation} {q.formula.text}", inputs)


def _diagnose(
    formulas: _Formulas, key: Key, given: np.ndarray, expected: np.ndarray, recomputed: Any,
    expected_rows: Values, student_rows: Values, tolerance: Tolerance,
) -> str | None:
    """The known mistake that the given value matches, or None."""
    if given.shape != expected.shape:
        if tolerance.close(given.T, expected) or (
            recomputed is not None and tolerance.close(given.T, recomputed)
        ):
            return "transposed"
        return None
    if given.ndim == 2 and given.shape[0] == given.shape[1] and tolerance.close(given.T, expected):
        return "transposed"
    for inputs in (expected_rows, student_rows):
        for mistake in formulas.mistakes.get(key, []):
            try:
                candidate = formulas.shown(key, mistake.formula(inputs))
            except (KeyError, ValueError, FloatingPointError):
                continue
            if tolerance.close(given, candidate) and not tolerance.close(candidate, expected):
                return mistake.cause
    references = [expected] if recomputed is None else [expected, recomputed]
    if any(_rounded_from(given, r) for r in references):
        return "rounding"
    return None


def _rounded_from(given: np.ndarray, value: np.ndarray) -> bool:
    """Whether `given` is `value` rounded to 1–6 decimals or significant digits."""
    value = np.asarray(value, float)
    for places in range(1, 7):
        if np.allclose(given, np.round(value, places), rtol=1e-9, atol=1e-12):
            return True
        with np.errstate(divide="ignore"):
            magnitude = np.where(value == 0, 0, np.floor(np.log10(np.abs(value))))
        significant = np.round(value / 10**magnitude, places - 1) * 10**magnitude
        if np.allclose(given, significant, rtol=1e-9, atol=1e-12):
            return True
    return False
