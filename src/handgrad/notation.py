"""The course's notation, written once in two spellings: Unicode for terminals, LaTeX for math.

`Math` is a formula in both spellings; `+` joins formulas (a plain str is the same in both).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Math:
    """A formula spelled for a terminal (`text`) and for LaTeX (`latex`)."""

    text: str
    latex: str

    def __add__(self, other: Math | str) -> Math:
        other = as_math(other)
        return Math(self.text + other.text, self.latex + other.latex)

    def __radd__(self, other: str) -> Math:
        return as_math(other) + self

    @property
    def T(self) -> Math:
        return Math(self.text + "ᵀ", self.latex + r"^{\top}")


def format_shape(shape: tuple[int, ...]) -> str:
    """'3' for a vector, '2×3' for a matrix, 'scalar' for a number."""
    return "×".join(str(n) for n in shape) if shape else "scalar"


def as_math(value: Math | str) -> Math:
    return value if isinstance(value, Math) else Math(value, value)


def var(name: str, index: int | str | None = None) -> Math:
    """A named quantity with an optional layer index: W1 / W_{1}."""
    if index is None:
        return Math(name, name)
    return Math(f"{name}{index}", f"{name}_{{{index}}}")


def grad(of: Math) -> Math:
    """∂L/∂(of)."""
    return Math(f"∂L/∂{of.text}", rf"\frac{{\partial L}}{{\partial {of.latex}}}")


def call(function: str, argument: Math, latex_name: str | None = None) -> Math:
    """f(argument), with f upright in LaTeX."""
    name = latex_name or rf"\operatorname{{{function}}}"
    return Math(f"{function}({argument.text})", rf"{name}\left({argument.latex}\right)")


YHAT = Math("ŷ", r"\hat{y}")
YHAT_BATCH = Math("Ŷ", r"\hat{Y}")
YS = Math("yˢ", r"y^{s}")
YS_BATCH = Math("Yˢ", r"Y^{s}")
EPS = Math("ε", r"\varepsilon")
ETA = Math("η", r"\eta")
ODOT = Math(" ⊙ ", r" \odot ")
MINUS = Math(" − ", " - ")
LOSS = Math("L", "L")
OPEN = Math("(", r"\left(")
TRANSPOSED = Math(")ᵀ", r"\right)^{\top}")
