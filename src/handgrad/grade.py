"""Grading a student's answer step by step, with error carried forward and likely causes.

Each quantity of the worked solution is judged in the order it is computed:

- `correct`: within the tolerance of the true value, or, when every input it is computed from
  was itself judged correct, within the tolerance of the value those (possibly rounded) inputs
  give: rounding that earlier rounded values carry forward is not a mistake;
- `carried_forward`: wrong, but what the student's own earlier values give (one early slip is
  not punished again at every later step);
- `wrong`: neither; then the known mistakes (`MISTAKES`) are recomputed from the correct inputs
  (and from the student's own) and the one the given value matches is named;
- `missing`: not given.

"What the inputs give" is computed by the same formulas as the solver (`core.ops`,
`core.network`), fed with the student's values where they gave them and the true values where
they did not.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any, Literal

import numpy as np

from handgrad.core import network, ops
from handgrad.errors import ProblemError, did_you_mean
from handgrad.problem import Problem
from handgrad.solution import Quantity, Solution

SECTIONS = ("forward", "backward", "update")
SOLVER_KEYS = ("problem", "precision", "conventions", "history", "checks", "kinks")
Status = Literal["correct", "carried_forward", "wrong", "missing"]
Key = tuple[str, str]  # (section, name)
Values = dict[Key, np.ndarray]

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
    """`rtol`: |given − true| ≤ rtol·|true| + rtol·10⁻³·max(1, max |true|) entry by entry;
    `decimals` K: |given − true| ≤ ½·10⁻ᴷ (answers rounded to K decimals)."""

    rtol: float = 1e-3
    decimals: int | None = None

    def close(self, given: np.ndarray, reference: np.ndarray, loose: float = 1.0) -> bool:
        g, r = np.asarray(given, float), np.asarray(reference, float)
        if g.shape != r.shape or not np.all(np.isfinite(r)):
            return False
        if self.decimals is not None:
            allowed = 0.5 * 10.0 ** (-self.decimals) * loose * (1 + 1e-9)
            return bool(np.all(np.abs(g - r) <= allowed))
        scale = max(1.0, float(np.max(np.abs(r)))) if r.size else 1.0
        rtol = self.rtol * loose
        return bool(np.all(np.abs(g - r) <= rtol * np.abs(r) + rtol * 1e-3 * scale))

    def describe(self) -> str:
        if self.decimals is not None:
            return f"answers rounded to {self.decimals} decimals (±½ in the last place)"
        return f"relative tolerance {self.rtol:g}"


@dataclass(frozen=True)
class GradeItem:
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
            "given": _plain(self.given),
            "expected": _plain(self.expected),
            "cause": self.cause,
            "explanation": self.explanation,
        }


@dataclass(frozen=True)
class GradeReport:
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


def _plain(value: Any) -> Any:
    if value is None:
        return None
    array = np.asarray(value, float)
    return float(array) if array.ndim == 0 else array.tolist()


# ---------------------------------------------------------------- reading an answer file


def load_answer(source: str | Path | Mapping[str, Any], solution: Solution) -> Values:
    """The quantities an answer gives, checked against the solution's names and shapes."""
    from handgrad.problem import read_document

    if isinstance(source, Mapping):
        document, where = dict(source), "<answer>"
    else:
        document, where = read_document(Path(source)), str(source)
    problems: list[str] = []
    answer: Values = {}
    for section, content in document.items():
        if section in SOLVER_KEYS:
            continue  # the rest of a `solve --format json` file: not graded
        if section not in SECTIONS:
            problems.append(
                f"'{section}' is not a section of an answer; use [forward], [backward] and"
                f" [update]{did_you_mean(section, SECTIONS)}"
            )
            continue
        if not isinstance(content, Mapping):
            problems.append(f"[{section}] must be a table of quantities, not a single value")
            continue
        expected = solution.section(section)  # type: ignore[arg-type]
        for name, value in content.items():
            key = f"{section}.{name}"
            if name not in expected:
                problems.append(
                    f"{key}: not a quantity of this problem's {section} section (it has "
                    f"{', '.join(expected)}){did_you_mean(name, expected)}"
                )
                continue
            array = _numbers(value, key, problems)
            if array is None:
                continue
            want = np.shape(expected[name])
            if array.shape != want and not (array.ndim == 2 and array.shape == want[::-1]):
                problems.append(
                    f"{key}: shape {array.shape or 'scalar'}, expected {want or 'a number'}"
                )
                continue
            answer[(section, name)] = array
    if problems:
        raise AnswerError(problems, where)
    if not answer:
        raise AnswerError(["the answer gives no quantities: put them under [forward], "
                           "[backward] and [update] with the solver's names"], where)
    return answer


def _numbers(value: Any, key: str, problems: list[str]) -> np.ndarray | None:
    def convert(item: Any) -> Any:
        if isinstance(item, list):
            return [convert(entry) for entry in item]
        if isinstance(item, bool):
            raise ValueError(f"{item!r} is not a number")
        if isinstance(item, int | float):
            return float(item)
        if isinstance(item, str):
            try:  # N-digit JSON writes numbers as strings; exact JSON writes rationals as 4/5
                return float(Fraction(item.strip()))
            except (ValueError, ZeroDivisionError):
                raise ValueError(f"{item!r} is not a number") from None
        raise ValueError(f"{item!r} is not a number")

    try:
        array = np.array(convert(value), dtype=float)
    except RecursionError:
        problems.append(f"{key}: nested too deeply for a number, a vector or a matrix")
        return None
    except (ValueError, TypeError) as err:
        reason = str(err) if "not a number" in str(err) else "a ragged or non-numeric list"
        problems.append(f"{key}: {reason}")
        return None
    if not np.all(np.isfinite(array)):
        problems.append(f"{key}: has an infinite or NaN entry")
        return None
    return array


# ------------------------------------------------------- recomputing from given inputs


Formula = Callable[..., Any]  # (values: Values) -> the quantity, in row form
Recipe = tuple[tuple[Key, ...], Formula]
Mistake = tuple[str, Formula]


class _Formulas:
    """Each quantity as a function of the quantities it is computed from, in row form."""

    def __init__(self, problem: Problem) -> None:
        self.problem = problem
        self.arch = problem.architecture
        self.spec = problem.spec
        self.params = problem.params
        self.batch = problem.batch_size
        self.recipes: dict[Key, Recipe] = {}
        self.mistakes: dict[Key, list[Mistake]] = {}
        self._build()

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

    def _build(self) -> None:
        arch, spec, params = self.arch, self.spec, self.params
        depth, layout, act = arch.depth, arch.layout, arch.hidden
        reduction, x = arch.reduction, self.problem.x
        ce = arch.loss == "cross_entropy"
        eps, convention = spec.loss.label_smoothing, spec.loss.smoothing
        other_convention: ops.Smoothing = "others" if convention == "uniform" else "uniform"
        other_reduction: ops.Reduction = "sum" if reduction == "mean" else "mean"
        other_layout: ops.Layout = "out_in" if layout == "in_out" else "in_out"
        y = self.problem.y
        B = self.batch
        eta = spec.optimizer.learning_rate
        frozen = spec.optimizer.frozen

        def layer_input(layer: int) -> Key | None:
            return ("forward", f"a{layer - 1}") if layer > 1 else None

        def get(v: Values, key: Key | None) -> np.ndarray:
            return x if key is None else v[key]

        for layer in range(1, depth + 1):
            W, b = params[f"W{layer}"], params[f"b{layer}"]
            name = "z" if layer == depth else f"h{layer}"
            below = layer_input(layer)
            deps: tuple[Key, ...] = () if below is None else (below,)

            def linear(v: Values, below: Key | None = below, W: Any = W, b: Any = b) -> Any:
                return ops.linear_forward(get(v, below), W, b, layout)[0]

            self.recipes[("forward", name)] = (deps, linear)
            wrong: list[Mistake] = [("missing_bias", lambda v, below=below, W=W, b=b:
                                     ops.linear_forward(get(v, below), W, 0 * b, layout)[0])]
            if W.shape[0] == W.shape[1]:
                wrong.append(("layout", lambda v, below=below, W=W, b=b: ops.linear_forward(
                    get(v, below), W, b, other_layout)[0]))
            self.mistakes[("forward", name)] = wrong
            if layer < depth:
                h_key = ("forward", f"h{layer}")
                self.recipes[("forward", f"a{layer}")] = (
                    (h_key,), lambda v, h_key=h_key: ops.activation_forward(v[h_key], act)[0])
                self.mistakes[("forward", f"a{layer}")] = [
                    ("missing_activation", lambda v, h_key=h_key: v[h_key])]

        z_key, yhat_key, ys_key = ("forward", "z"), ("forward", "yhat"), ("forward", "ys")
        self.recipes[yhat_key] = ((z_key,), lambda v: ops.output_forward(v[z_key], arch.output))
        q = arch.layers[-1]
        hidden_keys = [("forward", f"{kind}{layer}") for layer in range(1, depth)
                       for kind in ("h", "a") if arch.layers[layer] == q]
        self.mistakes[yhat_key] = [
            ("softmax_of_wrong_vector", lambda v, k=k: ops.softmax(v[k])) for k in hidden_keys
        ] if arch.output == "softmax" else []

        def smoothed(conv: ops.Smoothing) -> np.ndarray:
            return np.asarray(ops.smooth_labels(y, eps, conv))

        loss_key, losses_key = ("forward", "loss"), ("forward", "losses")
        if ce:
            self.recipes[ys_key] = ((), lambda v: smoothed(convention))
            self.mistakes[ys_key] = [("smoothing_convention", lambda v: smoothed(other_convention)),
                                     ("no_smoothing", lambda v: y)]

            def ce_loss(v: Values, target: Any = None, red: Any = reduction) -> Any:
                t = v[ys_key] if target is None else target
                return np.asarray(ops.cross_entropy_of_probabilities(v[yhat_key], t, red))

            self.recipes[loss_key] = ((yhat_key, ys_key), ce_loss)
            self.recipes[losses_key] = ((yhat_key, ys_key), lambda v:
                                        ops.cross_entropy_of_probabilities(
                                            v[yhat_key], v[ys_key], "sum", per_instance=True))
            self.mistakes[loss_key] = [
                ("no_smoothing", lambda v: ce_loss(v, y)),
                ("smoothing_convention", lambda v: ce_loss(v, smoothed(other_convention))),
                ("log_base", lambda v: ce_loss(v) / math.log(10)),
                ("log_base", lambda v: ce_loss(v) / math.log(2)),
            ]
            if B > 1:
                self.mistakes[loss_key].append(
                    ("reduction", lambda v: ce_loss(v, None, other_reduction)))
        else:
            def se_loss(v: Values, red: Any = reduction) -> Any:
                return np.asarray(ops.squared_error_forward(v[yhat_key], y, red)[1])

            self.recipes[loss_key] = ((yhat_key,), se_loss)
            self.recipes[losses_key] = ((yhat_key,), lambda v: ops.squared_error_forward(
                v[yhat_key], y, reduction)[0])
            self.mistakes[loss_key] = (
                [("reduction", lambda v: se_loss(v, other_reduction))] if B > 1 else [])

        if self.problem.batched:  # L is the mean or sum of the Lᵦ the student wrote
            self.recipes[loss_key] = ((losses_key,), lambda v: np.asarray(
                ops.reduce_batch(v[losses_key], reduction)))

        # backward
        dz_key = ("backward", "dz")
        factor = B if reduction == "mean" else 1 / B  # the other reduction's ∂L/∂Lᵦ ratio
        if arch.fused_softmax_cross_entropy:
            def dz(v: Values, target: Any = None) -> Any:
                t = v[ys_key] if target is None else target
                return ops.softmax_cross_entropy_backward(ops.LossCache(v[yhat_key], t, reduction))

            self.recipes[dz_key] = ((yhat_key, ys_key), dz)
            self.mistakes[dz_key] = [
                ("dz_sign", lambda v: -dz(v)),
                ("no_smoothing", lambda v: dz(v, y)),
                ("smoothing_convention", lambda v: dz(v, smoothed(other_convention))),
            ]
            if B > 1:
                self.mistakes[dz_key].append(("reduction", lambda v: dz(v) * factor))
        else:
            dyhat_key = ("backward", "dyhat")

            def dyhat(v: Values) -> Any:
                return ops.squared_error_backward(ops.LossCache(v[yhat_key], y, reduction))

            self.recipes[dyhat_key] = ((yhat_key,), dyhat)
            self.mistakes[dyhat_key] = [("dz_sign", lambda v: -dyhat(v))]
            if B > 1:
                self.mistakes[dyhat_key].append(("reduction", lambda v: dyhat(v) * factor))
            self.recipes[dz_key] = ((dyhat_key, yhat_key), lambda v: ops.output_backward(
                v[dyhat_key], v[yhat_key], arch.output))
            self.mistakes[dz_key] = [("dz_sign", lambda v: -ops.output_backward(
                v[dyhat_key], v[yhat_key], arch.output))]

        for layer in range(depth, 0, -1):
            W = params[f"W{layer}"]
            up = dz_key if layer == depth else ("backward", f"dh{layer}")
            below = layer_input(layer)
            deps = (up,) if below is None else (up, below)

            def grads(v: Values, up: Key = up, below: Key | None = below, W: Any = W,
                      fan_in: int = arch.layers[layer - 1]) -> Any:
                # ∂L/∂b and ∂L/∂a need only the upstream gradient: without the layer's input
                # (not among their inputs) a placeholder stands in for it
                inputs = x if below is None else v.get(below, np.zeros((B, fan_in)))
                return ops.linear_backward(v[up], ops.LinearCache(inputs, W), layout)

            self.recipes[("backward", f"dW{layer}")] = (deps, lambda v, g=grads: g(v)[1])
            self.recipes[("backward", f"db{layer}")] = ((up,), lambda v, g=grads: g(v)[2])
            for kind, index in (("dW", 1), ("db", 2)):
                wrong = []
                if B > 1:
                    wrong.append(("reduction", lambda v, g=grads, i=index: g(v)[i] * factor))
                if layer < depth and act.name in ("relu", "leaky_relu"):
                    da_key = ("backward", f"da{layer}")

                    def unmasked(v: Values, g: Any = grads, i: int = index, da: Key = da_key,
                                 up: Key = up) -> Any:
                        return g({**v, up: v[da]})[i]

                    wrong.append(("missing_relu_mask", unmasked))
                self.mistakes[("backward", f"{kind}{layer}")] = wrong
            if layer > 1:
                da_key = ("backward", f"da{layer - 1}")
                self.recipes[da_key] = ((up,), lambda v, g=grads: g(v)[0])
                if W.shape[0] == W.shape[1]:
                    self.mistakes[da_key] = [("layout", lambda v, up=up, W=W: ops.linear_backward(
                        v[up], ops.LinearCache(x, W), other_layout)[0])]
                h_key, a_key = ("forward", f"h{layer - 1}"), ("forward", f"a{layer - 1}")
                dh_key = ("backward", f"dh{layer - 1}")
                def dh(v: Values, da: Key = da_key, h: Key = h_key, a: Key = a_key) -> Any:
                    return ops.activation_backward(v[da], ops.ActivationCache(v[h], v[a]), act)

                self.recipes[dh_key] = ((da_key, h_key, a_key), dh)
                if act.name in ("relu", "leaky_relu"):
                    self.mistakes[dh_key] = [("missing_relu_mask", lambda v, da=da_key: v[da])]

        # update: the first step from the student's gradients, then the remaining steps
        # (for a problem of several) with the core's own forward, backward and step
        target = ops.smooth_labels(y, eps, convention) if ce else y
        grad_keys = tuple(("backward", f"d{name}") for name in params)
        steps = spec.optimizer.steps

        def after_steps(v: Values, name: str) -> Any:
            grads = {f"d{n}": v[("backward", f"d{n}")] for n in params}
            current = network.gradient_step(params, grads, eta, frozen)
            for _ in range(steps - 1):
                fwd = network.forward(current, x, target, arch)
                current = network.gradient_step(
                    current, network.backward(fwd, arch).grads, eta, frozen)
            return current[name]

        for name, value in params.items():
            grad_key = ("backward", f"d{name}")
            if name in frozen:
                self.recipes[("update", name)] = ((), lambda v, value=value: value)
                self.mistakes[("update", name)] = [
                    ("updated_frozen", lambda v, value=value, g=grad_key: value - eta * v[g])]
                continue
            if steps == 1:
                self.recipes[("update", name)] = ((grad_key,), lambda v, value=value, g=grad_key:
                                                  value - eta * v[g])
            else:
                self.recipes[("update", name)] = (grad_keys, lambda v, name=name:
                                                  after_steps(v, name))
            self.mistakes[("update", name)] = [("no_update", lambda v, value=value: value)]
            if steps == 1:
                self.mistakes[("update", name)] += [
                    ("update_sign", lambda v, value=value, g=grad_key: value + eta * v[g]),
                    ("missing_learning_rate", lambda v, value=value, g=grad_key: value - v[g]),
                ]
        update_keys = tuple(("update", name) for name in params)

        def loss_after(v: Values) -> Any:
            new = {name: v[("update", name)] for name in params}
            return np.asarray(network.loss_value(new, x, target, arch))

        self.recipes[("update", "loss")] = (update_keys, loss_after)


# -------------------------------------------------------------------------- grading


def grade(
    problem: Problem, answer: Values | Mapping[str, Any] | str | Path,
    tolerance: Tolerance = Tolerance(), solution: Solution | None = None,
) -> GradeReport:
    """Judge every quantity of the answer against the problem's worked solution."""
    from handgrad.solver import solve

    solution = solution or solve(problem)
    with np.errstate(all="ignore"):  # a student's 0 or negative "probability" gives ±inf, quietly
        return _grade(problem, answer, tolerance, solution)


def _grade(
    problem: Problem, answer: Any, tolerance: Tolerance, solution: Solution
) -> GradeReport:
    if not (isinstance(answer, dict) and answer and all(isinstance(k, tuple) for k in answer)):
        answer = load_answer(answer, solution)
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
            deps, compute = recipe
            own = {d: student_rows[d] for d in deps}
            recomputed = formulas.shown(key, compute(own))
        deps_correct = recipe is None or all(
            status_of.get(d) in ("correct", "missing") for d in recipe[0]
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
                           tuple(f"{s}.{n}" for s, n in (recipe[0] if recipe else ()))))
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
        for code, mistake in formulas.mistakes.get(key, []):
            try:
                candidate = formulas.shown(key, mistake(inputs))
            except (KeyError, ValueError, FloatingPointError):
                continue
            if tolerance.close(given, candidate) and not tolerance.close(candidate, expected):
                return code
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
