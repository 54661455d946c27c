"""The verdicts of a grading: each quantity's status and cause in words, and the report."""

from __future__ import annotations

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
