"""Every hidden activation and output function, once: its formulas, its symbols and its words.

scikit-learn keeps `ACTIVATIONS` and `DERIVATIVES` as two tables; here each function is one
record, so its forward formula, its derivative, how it is written (Unicode for terminals, LaTeX
for documents), the convention it relies on and its index form for the derivation sit together.
`ops` evaluates through these tables; settings, the estimator, the command line, torch export,
renderers and the playground (through /api/capabilities) read names and symbols from them.
The independent checkers (PyTorch and JAX in `verify`, sympy in `derive`) keep their own
spellings on purpose: they are the references the engine is checked against.

Every formula takes the array namespace `xp` (see `core.backend`), so NumPy arrays and the
exact and N-digit number types all run through the same lines.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from handgrad.core.backend import Array

ActivationName = Literal["relu", "leaky_relu", "sigmoid", "tanh", "identity"]
OutputName = Literal["softmax", "sigmoid", "identity"]


@dataclass(frozen=True)
class Activation:
    """A hidden-layer activation with its conventions."""

    name: ActivationName
    leaky_slope: Any = 0.01
    relu_grad_at_zero: Any = 0.0  # the subgradient ReLU′(0); leaky_relu uses its slope there

    def __post_init__(self) -> None:
        if self.name not in ACTIVATIONS:
            raise ValueError(
                f"unknown activation {self.name!r}; known: {', '.join(ACTIVATIONS)}"
            )

    @property
    def rule(self) -> ActivationRule:
        return ACTIVATIONS[self.name]

    def kink_convention(self) -> str:
        """The derivative used at the kink, with this activation's constants: "ReLU′(0) = 0"."""
        return self.rule.kink.format(at_zero=f"{self.relu_grad_at_zero:g}",
                                     slope=f"{self.leaky_slope:g}")


def sigmoid(xp: Any, x: Array) -> Array:
    """σ(x) = 1 / (1 + e⁻ˣ), evaluated without overflow for any x (e^(−|x|) ≤ 1)."""
    e = xp.exp(-xp.abs(x))
    return xp.where(xp.greater_equal(x, 0), 1 / (1 + e), e / (1 + e))


def softmax(xp: Any, z: Array) -> Array:
    """ŷᵢ = exp(zᵢ) / Σₖ exp(zₖ) per row, computed from the shifted logits."""
    e = xp.exp(z - xp.max(z, axis=1, keepdims=True))
    return e / xp.sum(e, axis=1, keepdims=True)


# ------------------------------------------------------------------- hidden activations

Forward = Callable[[Any, Array, Activation], Array]  # (xp, h, act) -> a = f(h)
Derivative = Callable[[Any, Array, Array, Activation], Array]  # (xp, h, a, act) -> f′(h)


@dataclass(frozen=True)
class ActivationRule:
    """One hidden activation f: a = f(h) and f′(h), with how a person writes them."""

    name: str
    forward: Forward
    derivative: Derivative  # from h and a = f(h): sigmoid and tanh reuse a
    text: str  # the function's name in a formula, Unicode: "ReLU" in ReLU(h)
    latex: str  # the same in LaTeX
    label: str  # how a person names it in prose and menus: "leaky ReLU"
    derivative_text: str  # f′(h) written with the placeholders {h} and {a}: "1[{h} > 0]"
    derivative_latex: str  # the same in LaTeX, placeholders {h} and {a}
    note: str  # the derivative and its convention in words; may use {slope} and {at_zero}
    piecewise_linear: bool  # has a kink at 0 (ReLU-like): a convention decides f′(0)
    he_initialised: bool  # drawn with He N(0, 2/fan_in) when parameters are initialised
    kink: str = ""  # the convention at the kink, placeholders {at_zero} and {slope}
    exact_is_slow: bool = False  # exact arithmetic nests exponentials through it, step by step


def _relu(xp: Any, h: Array, act: Activation) -> Array:
    return xp.where(xp.greater(h, 0), h, xp.zeros_like(h))


def _relu_prime(xp: Any, h: Array, a: Array, act: Activation) -> Array:
    one, zero = xp.ones_like(h), xp.zeros_like(h)
    at_zero = act.relu_grad_at_zero * one
    return xp.where(xp.greater(h, 0), one, xp.where(xp.equal(h, 0), at_zero, zero))


def _leaky_relu(xp: Any, h: Array, act: Activation) -> Array:
    return xp.where(xp.greater(h, 0), h, act.leaky_slope * h)


def _leaky_relu_prime(xp: Any, h: Array, a: Array, act: Activation) -> Array:
    one = xp.ones_like(h)
    return xp.where(xp.greater(h, 0), one, act.leaky_slope * one)  # slope at 0, as PyTorch


ACTIVATIONS: dict[str, ActivationRule] = {
    "relu": ActivationRule(
        "relu", _relu, _relu_prime, "ReLU", r"\operatorname{ReLU}", "ReLU",
        "1[{h} > 0]", r"\mathbf{{1}}[{h} > 0]",
        "ReLU′(h) = 1 where h > 0, 0 where h < 0, and {at_zero} at h = 0 by convention",
        piecewise_linear=True, he_initialised=True, kink="ReLU′(0) = {at_zero}",
    ),
    "leaky_relu": ActivationRule(
        "leaky_relu", _leaky_relu, _leaky_relu_prime, "LeakyReLU", r"\operatorname{LeakyReLU}",
        "leaky ReLU",
        "(1[{h} > 0] + α·1[{h} ≤ 0])", r"(\mathbf{{1}}[{h} > 0] + \alpha\,\mathbf{{1}}[{h} \le 0])",
        "LeakyReLU′(h) = 1 where h > 0, α = {slope} elsewhere",
        piecewise_linear=True, he_initialised=True, kink="LeakyReLU′(0) = α = {slope}",
    ),
    "sigmoid": ActivationRule(
        "sigmoid", lambda xp, h, act: sigmoid(xp, h), lambda xp, h, a, act: a * (1 - a),
        "σ", r"\sigma", "sigmoid",
        "{a} ⊙ (1 − {a})", r"{a} \odot (1 - {a})",
        "σ′(h) = σ(h)(1 − σ(h)) = a(1 − a)",
        piecewise_linear=False, he_initialised=False, exact_is_slow=True,
    ),
    "tanh": ActivationRule(
        "tanh", lambda xp, h, act: xp.tanh(h), lambda xp, h, a, act: 1 - a * a,
        "tanh", r"\tanh", "tanh",
        "(1 − {a}²)", r"(1 - {a}^2)",
        "tanh′(h) = 1 − tanh²(h) = 1 − a²",
        piecewise_linear=False, he_initialised=False, exact_is_slow=True,
    ),
    "identity": ActivationRule(
        "identity", lambda xp, h, act: h, lambda xp, h, a, act: xp.ones_like(h),
        "", "", "identity",
        "1", "1",
        "the identity's derivative is 1",
        piecewise_linear=False, he_initialised=False,
    ),
}


# ---------------------------------------------------------------------- output functions


@dataclass(frozen=True)
class OutputRule:
    """One output function g: ŷ = g(z) and the backward step from ∂L/∂ŷ to ∂L/∂z."""

    name: str
    forward: Callable[[Any, Array], Array]  # (xp, z) -> ŷ, row by row
    backward: Callable[[Any, Array, Array], Array]  # (xp, ∂L/∂ŷ, ŷ) -> ∂L/∂z
    text: str  # "softmax" in softmax(z); "" for the identity
    latex: str
    label: str
    jacobian_index: str  # ∂ŷᵢ/∂zⱼ entry by entry
    jacobian_matrix: str  # the whole Jacobian
    jacobian_latex: str
    backward_text: str = "{dyhat}"  # ∂L/∂z from ∂L/∂ŷ, placeholders {yhat} and {dyhat}
    backward_latex: str = "{dyhat}"
    backward_note: str = ""
    jacobian_matrix_latex: str = ""  # the whole Jacobian in LaTeX (jacobian_matrix's spelling)


def _softmax_backward(xp: Any, dyhat: Array, yhat: Array) -> Array:
    # Jacobian-vector product: Σᵢ ∂L/∂ŷᵢ ŷᵢ(δᵢⱼ − ŷⱼ) = ŷⱼ (∂L/∂ŷⱼ − Σᵢ ∂L/∂ŷᵢ ŷᵢ)
    return yhat * (dyhat - xp.sum(dyhat * yhat, axis=1, keepdims=True))


OUTPUTS: dict[str, OutputRule] = {
    "softmax": OutputRule(
        "softmax", softmax, _softmax_backward, "softmax", r"\operatorname{softmax}", "softmax",
        "∂ŷᵢ/∂zⱼ = ŷᵢ(δᵢⱼ − ŷⱼ)", "∂ŷ/∂z = diag(ŷ) − ŷŷᵀ",
        r"\frac{\partial \hat{y}_i}{\partial z_j} = \hat{y}_i(\delta_{ij} - \hat{y}_j)",
        "{yhat} ⊙ ({dyhat} − rowsum({yhat} ⊙ {dyhat}))",
        r"{yhat} \odot \left({dyhat} - \operatorname{{rowsum}}"
        r"\left({yhat} \odot {dyhat}\right)\right)",
        "the softmax Jacobian ∂ŷᵢ/∂zⱼ = ŷᵢ(δᵢⱼ − ŷⱼ) applied to ∂L/∂ŷ",
        jacobian_matrix_latex=r"\frac{\partial \hat{y}}{\partial z} = "
        r"\operatorname{diag}(\hat{y}) - \hat{y}\hat{y}^{\top}",
    ),
    "sigmoid": OutputRule(
        "sigmoid", sigmoid, lambda xp, dyhat, yhat: dyhat * yhat * (1 - yhat),
        "σ", r"\sigma", "sigmoid",
        "∂ŷᵢ/∂zⱼ = δᵢⱼ ŷᵢ(1 − ŷᵢ)", "∂ŷ/∂z = diag(ŷ ⊙ (1 − ŷ))",
        r"\frac{\partial \hat{y}_i}{\partial z_j} = \delta_{ij}\hat{y}_i(1-\hat{y}_i)",
        "{dyhat} ⊙ {yhat} ⊙ (1 − {yhat})", r"{dyhat} \odot {yhat} \odot (1 - {yhat})",
        jacobian_matrix_latex=r"\frac{\partial \hat{y}}{\partial z} = "
        r"\operatorname{diag}(\hat{y} \odot (1 - \hat{y}))",
    ),
    "identity": OutputRule(
        "identity", lambda xp, z: z, lambda xp, dyhat, yhat: dyhat,
        "", "", "identity",
        "∂ŷᵢ/∂zⱼ = δᵢⱼ", "∂ŷ/∂z = I", r"\frac{\partial \hat{y}_i}{\partial z_j} = \delta_{ij}",
        jacobian_matrix_latex=r"\frac{\partial \hat{y}}{\partial z} = I",
    ),
}

ACTIVATION_NAMES: tuple[str, ...] = tuple(ACTIVATIONS)
OUTPUT_NAMES: tuple[str, ...] = tuple(OUTPUTS)
