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

Fair rounding. A student writes 2 or 3 decimals, and may round each step before the next or
keep full precision and round only what they write. A value written with K decimals stands for
anything within ½·10⁻ᴷ of it (`--decimals auto` reads K from what each value shows), and that
half unit is carried through the formulas: "what the inputs give" is a value plus a spread, the
first-order bound Σ |f(input ± δ) − f(input)| over every entry of every input the student
wrote (an input judged correct moves only as far as the true value). A value within that spread
(plus its own half unit) of what the student's own rounded inputs give is `carried_forward` or
`correct`, never `wrong`.

One entry point per kind of answer: `grade` takes values already loaded ({(section, name):
array}), `grade_file` an answer file (the command line), `grade_document` a parsed document
{section: {name: value}} (the playground server).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal, NamedTuple

import numpy as np

from handgrad.core import network, ops
from handgrad.errors import ProblemError, did_you_mean
from handgrad.problem import Problem
from handgrad.solution import Quantity, Section, Solution, plain
from handgrad.text import parse_number, quoted, shown

SECTIONS: tuple[Section, ...] = ("forward", "backward", "update")
# the rest of a `solve --format json` file, and the notes of a `handgrad template` sheet
SOLVER_KEYS = ("problem", "precision", "conventions", "history", "checks", "kinks", "notes")
Status = Literal["correct", "carried_forward", "wrong", "missing"]
STATUSES: tuple[Status, ...] = ("correct", "carried_forward", "wrong", "missing")
Key = tuple[str, str]  # (section, name)
Values = dict[Key, np.ndarray]
Answer = Mapping[Key, np.ndarray]  # what `grade` judges: {(section, name): value}
Decimals = int | Literal["auto"] | None

# What a homework of this kind asks for is every quantity of the worked solution but these:
# yˢ is a definition, not a step; the per-instance losses Lᵦ are the way to L, which is asked;
# the loss after the step checks the update but is not part of it. A student who leaves them
# out has missed nothing; `rubric` makes them optional by default.
NOT_ASKED: frozenset[Key] = frozenset(
    {("forward", "ys"), ("forward", "losses"), ("update", "loss")})

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
UNKNOWN_MISTAKE = "matches none of the known mistakes; recompute it from its formula"

EXACT = 30  # the decimals of a fraction such as "4/5": exact, a half unit of 5·10⁻³¹
SECOND_ORDER = 0.02  # the first-order spread is widened by 2% for the terms it leaves out
MAX_SPREAD_WORK = 5_000  # formula evaluations (in steps of descent) one spread may cost


class AnswerError(ProblemError):
    """An answer file that cannot be graded, with every problem in it."""


def is_asked(section: str, name: str) -> bool:
    """Whether a homework of this kind asks for the quantity (everything but `NOT_ASKED`)."""
    return (section, name) not in NOT_ASKED


@dataclass(frozen=True)
class Tolerance:
    """How close a given value must be to count as right.

    `rtol`: |given − true| ≤ rtol·|true| + rtol·10⁻³·max(1, max |true|) entry by entry, plus,
    with `decimals`, the half unit of the value's rounding carried through the formulas:
    `decimals` "auto" (the default) reads the decimals each value shows; K: every value is
    taken as rounded to K decimals, and the relative part is dropped (±½ in the K-th decimal
    and what the inputs' rounding carries); None: no rounding allowance at all, `rtol` alone.
    """

    rtol: float = 1e-3
    decimals: Decimals = "auto"

    def __post_init__(self) -> None:
        if not (self.decimals is None or self.decimals == "auto" or (
                isinstance(self.decimals, int) and 0 <= self.decimals <= EXACT)):
            raise ValueError(f"decimals must be 'auto', None or 0 to {EXACT}, "
                             f"not {self.decimals!r}")

    @property
    def rounds(self) -> bool:
        """Whether given values carry a rounding allowance (auto or K decimals)."""
        return self.decimals is not None

    def half_unit(self, written: int | None) -> float:
        """δ, the half unit of a value written with `written` decimals (None: exact)."""
        places = self.decimals if isinstance(self.decimals, int) else written
        if self.decimals is None or places is None:
            return 0.0
        return 0.5 * 10.0 ** (-places)

    def close(self, given: np.ndarray, reference: np.ndarray, allowance: Any = 0.0) -> bool:
        """Whether `given` is within the tolerance (plus `allowance`, the rounding spread
        entry by entry) of `reference`."""
        g, r = np.asarray(given, float), np.asarray(reference, float)
        if g.shape != r.shape or not np.all(np.isfinite(r)):
            return False
        allowed = np.asarray(allowance, float) * (1 + 1e-9) + 1e-12
        if not isinstance(self.decimals, int):  # a fixed K drops the relative part
            scale = max(1.0, float(np.max(np.abs(r)))) if r.size else 1.0
            allowed = allowed + self.rtol * np.abs(r) + self.rtol * 1e-3 * scale
        return bool(np.all(np.abs(g - r) <= allowed))

    def describe(self, shown_decimals: int | None = None) -> str:
        """The tolerance in words, as the report shows it; `shown_decimals`, what most values
        of the answer show (auto)."""
        if isinstance(self.decimals, int):
            return f"answers rounded to {self.decimals} decimals (±½ in the last place)"
        if self.decimals is None:
            return f"relative tolerance {self.rtol:g}"
        carried = "±½ in the last decimal shown, carried through the formulas"
        if shown_decimals is None:
            return f"rounding as written ({carried}), relative tolerance {self.rtol:g}"
        if shown_decimals >= 10:
            return f"relative tolerance {self.rtol:g} (values written at full precision)"
        return (f"rounding as written (most values show {shown_decimals} decimals; {carried}),"
                f" relative tolerance {self.rtol:g}")


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
    allowance: Any = None  # how far the value could be off for rounding alone, entry by entry

    @property
    def key(self) -> str:
        """`section.name`, as the grade sheet's columns and a rubric name the quantity."""
        return f"{self.section}.{self.name}"

    @property
    def asked(self) -> bool:
        return is_asked(self.section, self.name)

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
    shown_decimals: int | None = None  # what most given values show (None: whole numbers)

    @property
    def first_wrong(self) -> GradeItem | None:
        return next((item for item in self.items if item.status == "wrong"), None)

    @property
    def summary(self) -> dict[str, int]:
        counts: dict[str, int] = dict.fromkeys(STATUSES, 0)
        for item in self.items:
            counts[item.status] += 1
        return counts

    @property
    def missing_asked(self) -> list[GradeItem]:
        """The quantities the homework asks for that the answer leaves out."""
        return [item for item in self.items if item.status == "missing" and item.asked]

    @property
    def tolerance_text(self) -> str:
        return self.tolerance.describe(self.shown_decimals)

    def to_dict(self) -> dict[str, Any]:
        first = self.first_wrong
        return {
            "problem": self.problem,
            "tolerance": self.tolerance_text,
            "first_wrong": first.name if first else None,
            "summary": self.summary,
            "missing_asked": [item.key for item in self.missing_asked],
            "items": [item.to_dict() for item in self.items],
        }

    def to_markdown(self, digits: int = 6) -> str:
        from handgrad.render.grade import render_grade_markdown  # renderers load on demand

        return render_grade_markdown(self, digits)

    def _repr_markdown_(self) -> str:
        return self.to_markdown()


# ---------------------------------------------------------------- reading an answer


NO_QUANTITIES = ("the answer gives no quantities: put them under [forward], [backward] and "
                 "[update] with the solver's names")
BLANK_SHEET = ('every quantity is blank (""): fill in the values you computed, and leave blank '
               "only what you did not")


@dataclass(frozen=True)
class GivenAnswer:
    """The quantities an answer gives, and how many decimals each shows (its largest over its
    entries; 0 for whole numbers, `EXACT` for fractions)."""

    values: Values
    written: dict[Key, int]


def load_answer(path: str | Path, solution: Solution) -> Values:
    """The quantities an answer file (TOML or JSON) gives, checked against the solution."""
    return read_answer(path, solution).values


def read_answer(path: str | Path, solution: Solution) -> GivenAnswer:
    """`load_answer` with the decimals each value shows, for fair rounding."""
    from handgrad.problem import read_document

    return _validated(read_document(Path(path)), solution, str(path))


def validate_answer(
    document: Mapping[str, Any], solution: Solution, source: str = "<answer>"
) -> Values:
    """The quantities an answer document {section: {name: value}} gives, checked against the
    solution's names and shapes; every problem is reported at once. A quantity left blank
    (every entry "", as `handgrad template` writes it) is not given."""
    return _validated(document, solution, source).values


def _validated(document: Mapping[str, Any], solution: Solution, source: str) -> GivenAnswer:
    problems: list[str] = []
    answer: Values = {}
    written: dict[Key, int] = {}
    blank = False
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
            blanks = _blanks(value)
            if blanks == "all":
                blank = True
                continue  # a template's blank: not given
            if blanks == "some":
                problems.append(f"{key}: some entries are blank (\"\"); fill them all in, or "
                                "leave every entry blank if you did not compute it")
                continue
            array = _numbers(value, key, problems)
            if array is None:
                continue
            wrong_shape = _shape_problem(key, array, expected[name])
            if wrong_shape:
                problems.append(wrong_shape)
                continue
            answer[(section, name)] = array
            written[(section, name)] = _decimals_of(value)
    if problems:
        raise AnswerError(problems, source)
    if not answer:
        raise AnswerError([BLANK_SHEET if blank else NO_QUANTITIES], source)
    return GivenAnswer(answer, written)


def _checked(answer: Answer, solution: Solution) -> GivenAnswer:
    """An already-loaded answer as float arrays, held to the same names and shapes as a file."""
    if not all(isinstance(key, tuple) and len(key) == 2 for key in answer):
        raise TypeError("grade takes {(section, name): value}; grade a document "
                        "{section: {name: value}} with grade_document, a file with grade_file")
    problems: list[str] = []
    values: Values = {}
    written: dict[Key, int] = {}
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
        written[(section, name)] = _decimals_of(array.tolist())
    if problems:
        raise AnswerError(problems, "<answer>")
    if not values:
        raise AnswerError([NO_QUANTITIES], "<answer>")
    return GivenAnswer(values, written)


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


def _leaves(value: Any, depth: int = 0) -> Iterable[Any]:
    """The entries of a nested list, at most 3 levels deep (deeper is an error elsewhere)."""
    if isinstance(value, list) and depth < 3:
        for item in value:
            yield from _leaves(item, depth + 1)
    else:
        yield value


def _blanks(value: Any) -> Literal["none", "some", "all"]:
    """Whether the entries of a value are blank strings: none, some or all of them."""
    leaves = list(_leaves(value))
    blank = [isinstance(leaf, str) and not leaf.strip() for leaf in leaves]
    if leaves and all(blank):
        return "all"
    return "some" if any(blank) else "none"


def _decimals_of(value: Any) -> int:
    """The most decimals any entry of a written value shows (0 for whole numbers)."""
    return max((written_decimals(leaf) for leaf in _leaves(value)), default=0)


def written_decimals(number: Any) -> int:
    """How many decimals a written number shows: 2 for 0.27 or "0.270" (text keeps its
    zeros), 0 for 3 or 2.0, 5 for 1e-05, `EXACT` for a fraction "4/5".

    A float read from TOML or JSON has lost its trailing zeros (0.70 reads as 0.7); its
    shortest repr is what was written otherwise, so `repr` recovers the rest.
    """
    if isinstance(number, int):  # bool too: never reaches here, parse_number refuses it
        return 0
    if isinstance(number, str):
        text = number.strip().lower()
        if "/" in text:
            return EXACT
    elif isinstance(number, float):
        text = repr(number).lower()
        if "." in text.partition("e")[0]:
            mantissa, mark, exponent = text.partition("e")
            text = mantissa.rstrip("0") + mark + exponent
    else:
        return 0
    mantissa, _, exponent = text.partition("e")
    fraction = mantissa.partition(".")[2]
    try:
        places = len(fraction) - int(exponent or 0)
    except ValueError:
        return 0
    return max(0, min(places, EXACT))


def answer_decimals(written: Mapping[Key, int]) -> int | None:
    """The decimals the answer is written to: the most common count among its values that are
    not whole numbers (the larger on a tie), or None when every value is a whole number."""
    counts = Counter(places for places in written.values() if places > 0)
    if not counts:
        return None
    return max(counts, key=lambda places: (counts[places], places))


def half_units(tolerance: Tolerance, written: Mapping[Key, int]) -> dict[Key, float]:
    """δ for each given value: ½·10⁻ᴷ for the decimals K it is taken to be rounded to.

    Auto: a value's own decimals, but never fewer than one below what the answer is written to
    (a vector whose entries all lost their trailing zero, 0.7 for 0.70, is still a 2-decimal
    value; one written much coarser than the rest is rounding, and may be named as such);
    whole numbers take the answer's decimals (2 for 2.00), or are exact in an answer of whole
    numbers only.
    """
    typical = answer_decimals(written)
    halves: dict[Key, float] = {}
    for key, places in written.items():
        if places == 0:
            assumed = typical
        else:
            assumed = places if typical is None else max(places, typical - 1)
        halves[key] = tolerance.half_unit(assumed)
    return halves


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


class _Descent:
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
    descent: _Descent

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
    return _graded(problem, read_answer(path, solution), tolerance, solution)


def grade_document(
    problem: Problem, document: Mapping[str, Any], tolerance: Tolerance = Tolerance(),
    solution: Solution | None = None,
) -> GradeReport:
    """Grade an answer document {section: {name: value}}, as parsed from TOML or JSON."""
    solution = _solved(problem, solution)
    return _graded(problem, _validated(document, solution, "<answer>"), tolerance, solution)


def _solved(problem: Problem, solution: Solution | None) -> Solution:
    from handgrad.solver import solve

    return solve(problem) if solution is None else solution


def _graded(
    problem: Problem, answer: GivenAnswer, tolerance: Tolerance, solution: Solution
) -> GradeReport:
    with np.errstate(all="ignore"):  # a student's 0 or negative "probability" gives ±inf, quietly
        return _Grading(problem, answer, tolerance, solution).report()


class _Move(NamedTuple):
    """How far a given value may stand from what the student really had, entry by entry (row
    form): ± `step` for a value of their own, or exactly `step` (to the true value) for one
    judged correct, which the student either had right or rounded."""

    step: np.ndarray
    both_ways: bool


class _Reading(dict[Key, np.ndarray]):
    """The values at hand, noting which ones a formula reads (a mistake's formula gets all)."""

    def __init__(self, values: Mapping[Key, np.ndarray]) -> None:
        super().__init__(values)
        self.read: list[Key] = []

    def __getitem__(self, key: Key) -> np.ndarray:
        self.read.append(key)
        return super().__getitem__(key)


class _Grading:
    """One answer graded quantity by quantity, in the order the solution computes them."""

    def __init__(self, problem: Problem, answer: GivenAnswer, tolerance: Tolerance,
                 solution: Solution) -> None:
        self.problem, self.answer, self.tolerance = problem, answer.values, tolerance
        self.solution = solution
        self.formulas = _Formulas(problem)
        self.halves = half_units(tolerance, answer.written)
        self.shown_decimals = answer_decimals(answer.written)
        self.expected_rows: Values = {}
        self.student_rows: Values = {}
        self.status_of: dict[Key, Status] = {}
        self.moves: dict[Key, _Move] = {}

    def report(self) -> GradeReport:
        items = [self._judge(quantity) for quantity in self.solution.quantities]
        return GradeReport(self.problem.name, self.tolerance, items, self.shown_decimals)

    def _judge(self, quantity: Quantity) -> GradeItem:
        formulas, tolerance = self.formulas, self.tolerance
        key: Key = (quantity.section, quantity.key)
        expected = np.asarray(quantity.value, float)
        self.expected_rows[key] = formulas.rows(key, expected)
        given = self.answer.get(key)
        if given is None:
            self.status_of[key] = "missing"
            self.student_rows[key] = self.expected_rows[key]
            return _item(quantity, "missing", None, expected)
        as_meant = given.T if given.shape != expected.shape else given  # a transposed matrix
        half = self.halves.get(key, 0.0)
        recipe = formulas.recipes.get(key)
        right = given.shape == expected.shape and tolerance.close(given, expected, half)
        recomputed, spread, consistent = None, np.zeros(np.shape(expected)), False
        if recipe is not None:
            own = {d: self.student_rows[d] for d in recipe.inputs}
            recomputed, spread, consistent = self._recompute(key, recipe, own, given, half,
                                                             judge=not right)
        deps_correct = recipe is None or all(
            self.status_of.get(d) in ("correct", "missing") for d in recipe.inputs
        )
        status: Status
        cause = None
        allowance = half + spread
        if right:
            status = "correct"
        elif consistent:
            status = "correct" if deps_correct else "carried_forward"
        else:
            status = "wrong"
            cause = self._diagnose(key, given, expected, recomputed, half + spread)
        self.status_of[key] = status
        self.student_rows[key] = formulas.rows(key, as_meant)
        if tolerance.rounds:
            if status == "correct":  # the student had the true value, or this one rounded
                step = self.expected_rows[key] - self.student_rows[key]
                self.moves[key] = _Move(step, both_ways=False)
            else:
                self.moves[key] = _Move(np.full(self.student_rows[key].shape, half), True)
        shown_recomputed = recomputed if status == "carried_forward" or (
            recomputed is not None and not deps_correct) else None
        inputs = tuple(f"{s}.{n}" for s, n in (recipe.inputs if recipe else ()))
        return _item(quantity, status, given, expected, shown_recomputed, cause, inputs,
                     allowance if tolerance.rounds else None)

    def _recompute(self, key: Key, recipe: Recipe, own: Mapping[Key, np.ndarray],
                   given: np.ndarray, half: float, judge: bool = True,
                   ) -> tuple[np.ndarray, np.ndarray, bool]:
        """What the student's own inputs give, its rounding spread, and whether the given value
        is consistent with it (with `judge`; otherwise the value alone, for the report).

        Two readings of the same written inputs: the student rounded what they wrote and
        went on from that (the written values), or kept full precision and rounded only what
        they wrote (the true values, for the inputs judged correct). Each is tried with its
        spread; the second saves a value that the written inputs cannot give at all (a
        probability written as 0.00 under a logarithm).
        """
        formulas = self.formulas
        recomputed = formulas.shown(key, recipe.formula(own))
        nothing = np.zeros(recomputed.shape)
        same_shape = given.shape == recomputed.shape
        if not judge or not same_shape:
            return recomputed, nothing, False
        if self.tolerance.close(given, recomputed, half):  # no need to pay for the spread
            return recomputed, nothing, True
        spread = formulas.shown(key, self._spread(recipe.formula, own, recipe.inputs))
        if self.tolerance.close(given, recomputed, half + spread):
            return recomputed, spread, True
        exact = {d: self.expected_rows[d] if self.status_of.get(d) == "correct" else value
                 for d, value in own.items()}
        if not self.tolerance.rounds or all(np.array_equal(exact[d], own[d]) for d in own):
            return recomputed, spread, False
        back = {d: _Move(-move.step, False) if self.status_of.get(d) == "correct" else move
                for d, move in self.moves.items()}
        other = formulas.shown(key, recipe.formula(exact))
        other_spread = formulas.shown(key, self._spread(recipe.formula, exact, recipe.inputs,
                                                        back))
        if np.all(np.isfinite(other)) and self.tolerance.close(given, other,
                                                               half + other_spread):
            return other, other_spread, True
        return recomputed, spread, False

    def _spread(self, formula: Formula, values: Mapping[Key, np.ndarray],
                reads: Iterable[Key], moves: Mapping[Key, _Move] | None = None) -> np.ndarray:
        """How far `formula(values)` can move, entry by entry, when each input the student
        wrote moves within its rounding (`moves`, by default the answer's): Σ over input
        entries of the largest |change| (row form; zeros when nothing moves, when the formula
        is not finite, or when the moves would cost more than `MAX_SPREAD_WORK` evaluations)."""
        moves = self.moves if moves is None else moves
        base = np.asarray(formula(values), float)
        total = np.zeros(base.shape)
        if not self.tolerance.rounds or not np.all(np.isfinite(base)):
            return total
        work: list[tuple[Key, np.ndarray, tuple[int, ...], tuple[float, ...]]] = []
        for key in dict.fromkeys(reads):
            move = moves.get(key)
            if move is None or key not in values:
                continue
            value = np.asarray(values[key], float)
            step = np.broadcast_to(move.step, value.shape)
            # full-precision values move by 10⁻¹⁶: nothing to carry, and nothing to pay for
            moving = np.abs(step) > 1e-12 * np.maximum(1.0, np.abs(value))
            signs = (1.0, -1.0) if move.both_ways else (1.0,)
            work += [(key, value, tuple(int(i) for i in index), tuple(s * step[tuple(index)]
                      for s in signs)) for index in np.argwhere(moving)]
        evaluations = sum(len(shifts) for *_, shifts in work)
        if evaluations * getattr(formula, "cost", 1) > MAX_SPREAD_WORK:
            return total
        for key, value, index, shifts in work:
            worst = np.zeros(base.shape)
            for shift in shifts:
                moved = value.copy()
                moved[index] += shift
                change = np.abs(np.asarray(formula({**values, key: moved}), float) - base)
                # a move off the formula's domain (a probability below 0) says nothing
                worst = np.where(np.isfinite(change), np.maximum(worst, change), worst)
            total += worst
        return total * (1 + SECOND_ORDER)

    def _diagnose(self, key: Key, given: np.ndarray, expected: np.ndarray, recomputed: Any,
                  allowance: Any) -> str | None:
        """The known mistake that the given value matches, or None."""
        tolerance, formulas = self.tolerance, self.formulas
        if given.shape != expected.shape:
            half = self.halves.get(key, 0.0)
            if tolerance.close(given.T, expected, half) or (
                recomputed is not None and tolerance.close(given.T, recomputed, allowance)
            ):
                return "transposed"
            return None
        if given.ndim == 2 and given.shape[0] == given.shape[1] and tolerance.close(
                given.T, expected, self.halves.get(key, 0.0)):
            return "transposed"
        half = self.halves.get(key, 0.0)
        for own in (False, True):
            inputs = self.student_rows if own else self.expected_rows
            for mistake in formulas.mistakes.get(key, []):
                reading = _Reading(inputs)
                try:
                    candidate = formulas.shown(key, mistake.formula(reading))
                    spread = formulas.shown(key, self._spread(
                        mistake.formula, inputs, reading.read)) if own else 0.0
                except (KeyError, ValueError, FloatingPointError):
                    continue
                if tolerance.close(given, candidate, half + spread) and not tolerance.close(
                        candidate, expected):
                    return mistake.cause
        references = [expected] if recomputed is None else [expected, recomputed]
        if any(_rounded_from(given, r) for r in references):
            return "rounding"
        return None


def _item(q: Quantity, status: Status, given: Any, expected: Any, recomputed: Any = None,
          cause: str | None = None, inputs: tuple[str, ...] = (),
          allowance: Any = None) -> GradeItem:
    explanation = EXPLANATIONS.get(cause, "") if cause else ""
    if status == "wrong" and not cause:
        explanation = UNKNOWN_MISTAKE
    return GradeItem(q.section, q.key, status, given, expected, recomputed, cause, explanation,
                     f"{q.symbol.text} {q.relation} {q.formula.text}", inputs, allowance)


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
