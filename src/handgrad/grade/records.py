"""The verdicts of a grading: each quantity's status and cause in words, and the report."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from handgrad.grade.keys import is_asked
from handgrad.grade.tolerance import Tolerance
from handgrad.solution import plain

Status = Literal["correct", "carried_forward", "wrong", "missing"]
STATUSES: tuple[Status, ...] = ("correct", "carried_forward", "wrong", "missing")

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

# Problem 1's formulas (section "derivation"): the mistakes a formula can make, in words
DERIVATION_EXPLANATIONS = {
    "transposed": "the transpose of the gradient: the gradient with respect to Wᵀ given for W "
    "(∂L/∂W has the shape of W), or a row where the course's column vector belongs",
    "outer_order": "the outer product in the wrong order, v uᵀ for u vᵀ: ∂L/∂W is (the "
    "layer's input)(∂L/∂h)ᵀ with h = Wᵀa + b, and (∂L/∂h)(the layer's input)ᵀ with h = Wa + b",
    "layout": "multiplied by W where the layout needs Wᵀ in the backward pass, or the reverse: "
    "with h = Wᵀa + b, ∂L/∂a = W ∂L/∂h; with h = Wa + b, ∂L/∂a = Wᵀ ∂L/∂h",
    "missing_relu_mask": "left out the ReLU mask: ∂L/∂h = ∂L/∂a ⊙ 1[h > 0], not ∂L/∂a",
    "missing_activation_derivative": "left out the activation's derivative: "
    "∂L/∂h = ∂L/∂a ⊙ f′(h), not ∂L/∂a",
    "mask_on_wrong_quantity": "applied the activation's derivative to the wrong quantity or in "
    "the wrong place: ∂L/∂h = ∂L/∂a ⊙ f′(h), f′ taken at h (not a itself, and not inside the "
    "product with W)",
    "no_smoothing": "used the one-hot y where the smoothed target yˢ belongs",
    "dz_sign": "the sign is reversed: the gradient of the loss is the negative of this one "
    "(ŷ − y, not y − ŷ)",
    "full_jacobian_unsimplified": "correct, but not simplified: the softmax Jacobian "
    "diag(ŷ) − ŷŷᵀ applied to −yˢ/ŷ collapses to ŷ − yˢ, because Σᵢ yˢᵢ = 1",
    "missing_output_derivative": "left out the output's derivative: ∂L/∂z = J ∂L/∂ŷ with the "
    "output's Jacobian J, not ∂L/∂ŷ",
    "extra_batch_mean": "divided by B, but the loss is the sum over the batch (L = Σᵦ Lᵦ): "
    "no 1/B",
    "wrong_activation_derivative": "used the derivative of another activation than the "
    "problem's hidden one",
    "wrong_smoothing": "used the other label-smoothing convention (ε/q to every class, or "
    "ε/(q − 1) to each wrong class)",
    "wrong_factor": "off by a constant factor (a 2 from the square, or a stray constant)",
    "missing_batch_mean": "left out the 1/B of the mean over the batch: L = (1/B) Σᵦ Lᵦ, so "
    "every gradient carries 1/B",
    "missing_bias_gradient_sum": "gave ∂L/∂b for each instance: over a batch it is the sum of "
    "the columns, ∂L/∂b = (∂L/∂h) 1_B",
    "wrong_shape": "the sizes do not fit",
    "undefined_step": "uses a step (∂L/∂z, ∂L/∂h, …) that the answer does not derive: write "
    "it in terms of the network's quantities (x, W, h, ŷ, …) or give that step too",
    "unreadable": "the formula cannot be read",
}
DERIVATION_CAUSES = tuple(DERIVATION_EXPLANATIONS)


def explanation_of(section: str, cause: str | None) -> str:
    """A cause code in words, for a quantity (Problem 2) or a formula (section derivation)."""
    if cause is None:
        return ""
    table = DERIVATION_EXPLANATIONS if section == "derivation" else EXPLANATIONS
    return table.get(cause, EXPLANATIONS.get(cause, ""))


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
    # a formula of Problem 1 (section "derivation"): `given` is the formula as written,
    # `expected` a right one (NumPy-like); how it was read, as text and LaTeX; where the
    # reading stopped for an unreadable one
    read: str = ""
    read_latex: str = ""
    expected_latex: str = ""
    position: int | None = None

    @property
    def key(self) -> str:
        """`section.name`, as the grade sheet's columns and a rubric name the quantity."""
        return f"{self.section}.{self.name}"

    @property
    def asked(self) -> bool:
        return is_asked(self.section, self.name)

    @property
    def is_formula(self) -> bool:
        """A formula of Problem 1 rather than a number of Problem 2."""
        return self.section == "derivation"

    def to_dict(self) -> dict[str, Any]:
        formula = self.is_formula  # given and expected are formulas (text), not numbers
        data: dict[str, Any] = {
            "section": self.section,
            "name": self.name,
            "status": self.status,
            "given": self.given if formula else plain(self.given),
            "expected": self.expected if formula else plain(self.expected),
            "cause": self.cause,
            "explanation": self.explanation,
        }
        if self.is_formula:
            data.update(read=self.read, read_latex=self.read_latex,
                        expected_latex=self.expected_latex, position=self.position,
                        inputs=[name.partition(".")[2] for name in self.inputs])
        return data


@dataclass(frozen=True)
class GradeReport:
    """Every quantity's verdict, in the order the solution computes them."""

    problem: str
    tolerance: Tolerance
    items: list[GradeItem] = field(default_factory=list)
    shown_decimals: int | None = None  # what most given values show (None: whole numbers)

    @property
    def first_wrong(self) -> GradeItem | None:
        """The first wrong number (Problem 2); `first_wrong_formula` is Problem 1's."""
        return next((item for item in self.items
                     if item.status == "wrong" and not item.is_formula), None)

    @property
    def first_wrong_formula(self) -> GradeItem | None:
        return next((item for item in self.formulas if item.status == "wrong"), None)

    @property
    def numbers(self) -> list[GradeItem]:
        """The items of Problem 2 (forward, backward, update)."""
        return [item for item in self.items if not item.is_formula]

    @property
    def formulas(self) -> list[GradeItem]:
        """The items of Problem 1 (section derivation), empty unless the answer has one."""
        return [item for item in self.items if item.is_formula]

    @property
    def summary(self) -> dict[str, int]:
        counts: dict[str, int] = dict.fromkeys(STATUSES, 0)
        for item in self.items:
            counts[item.status] += 1
        return counts

    def summary_of(self, items: list[GradeItem]) -> dict[str, int]:
        counts: dict[str, int] = dict.fromkeys(STATUSES, 0)
        for item in items:
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
        data: dict[str, Any] = {
            "problem": self.problem,
            "tolerance": self.tolerance_text,
            "first_wrong": first.name if first else None,
            "summary": self.summary,
            "missing_asked": [item.key for item in self.missing_asked],
            "items": [item.to_dict() for item in self.items],
        }
        if self.formulas:
            wrong = self.first_wrong_formula
            data["derivation"] = {"summary": self.summary_of(self.formulas),
                                  "first_wrong": wrong.name if wrong else None}
        return data

    def to_markdown(self, digits: int = 6) -> str:
        from handgrad.render.grade import render_grade_markdown  # renderers load on demand

        return render_grade_markdown(self, digits)

    def _repr_markdown_(self) -> str:
        return self.to_markdown()


def charged_verdicts(items: Iterable[GradeItem], scored: Callable[[str], bool]
                     ) -> tuple[dict[str, str], tuple[str, ...]]:
    """Each item's verdict for scoring (by `key`), and the keys charged.

    A carried-forward item is charged (counts as wrong) when every mistake it carries was made
    in items that are not scored: that is where the mistake first reaches a scored item, and a
    mistake must cost something somewhere (else a wrong optional step dz would make every
    formula written with it full marks). Mistakes are traced through `GradeItem.inputs`.
    """
    roots: dict[str, frozenset[str]] = {}  # the wrong items whose error an item carries
    verdicts: dict[str, str] = {}
    charged: list[str] = []
    for item in items:
        key, verdict = item.key, item.status
        if item.status == "wrong":
            roots[key] = frozenset({key})
        elif item.status == "carried_forward":
            carried = frozenset().union(*(roots.get(name, frozenset()) for name in item.inputs))
            if scored(key) and carried and not any(scored(root) for root in carried):
                charged.append(key)
                verdict = "wrong"
                carried = frozenset({key})
            roots[key] = carried
        verdicts[key] = verdict
    return verdicts, tuple(charged)
