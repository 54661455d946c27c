"""Every formula of the forward and backward pass, as pairs: `*_forward` and `*_backward`.

Arrays are 2-D with one row per instance, `(B, features)`; a single instance is a batch of one.
In that row form the course's column-vector formula `h = Wᵀx + b` reads `H = X W + b`.
A forward function returns its output and a small cache; its backward takes the upstream
gradient and that cache. Nothing here prints, and nothing here knows which number type it runs
on: `xp = namespace_of(...)` supplies exp, log, where, ... (see `core.backend`).
"""

from __future__ import annotations

from typing import Any, Literal, NamedTuple

from handgrad.core import activations
from handgrad.core.activations import Activation as Activation  # re-exported for callers
from handgrad.core.backend import Array, namespace_of

Layout = Literal["in_out", "out_in"]
Reduction = Literal["mean", "sum"]
Smoothing = Literal["uniform", "others"]


# ---------------------------------------------------------------- linear layer: h = Wᵀx + b


class LinearCache(NamedTuple):
    x: Array  # (B, fan_in)
    W: Array  # (fan_in, fan_out) for in_out, (fan_out, fan_in) for out_in


def linear_forward(x: Array, W: Array, b: Array, layout: Layout) -> tuple[Array, LinearCache]:
    """h = Wᵀx + b (layout in_out) or h = Wx + b (out_in), for each row x of the batch."""
    h = x @ W + b if layout == "in_out" else x @ W.T + b  # (B, fan_out)
    return h, LinearCache(x, W)


def linear_backward(dh: Array, cache: LinearCache, layout: Layout) -> tuple[Array, Array, Array]:
    """(∂L/∂x, ∂L/∂W, ∂L/∂b) of h = Wᵀx + b; ∂L/∂W = x (∂L/∂h)ᵀ summed over the batch rows."""
    xp = namespace_of(dh)
    x, W = cache
    if layout == "in_out":
        dW = x.T @ dh  # (fan_in, fan_out)
        dx = dh @ W.T  # (B, fan_in): ∂L/∂x = W ∂L/∂h per row
    else:
        dW = dh.T @ x  # (fan_out, fan_in)
        dx = dh @ W  # ∂L/∂x = Wᵀ ∂L/∂h per row
    db = xp.sum(dh, axis=0)  # (fan_out,)
    return dx, dW, db


# ------------------------------------------------------------- hidden activations: a = f(h)


class ActivationCache(NamedTuple):
    h: Array  # the pre-activation, (B, n)
    a: Array  # the activation, (B, n)


def sigmoid(x: Array) -> Array:
    """σ(x) = 1 / (1 + e⁻ˣ), without overflow for any x."""
    return activations.sigmoid(namespace_of(x), x)


def activation_forward(h: Array, act: Activation) -> tuple[Array, ActivationCache]:
    """a = f(h) entry-wise, f from the table `activations.ACTIVATIONS`."""
    a = act.rule.forward(namespace_of(h), h, act)
    return a, ActivationCache(h, a)


def activation_derivative(cache: ActivationCache, act: Activation) -> Array:
    """f′(h) entry-wise: 1[h > 0] for ReLU (ReLU′(0) by convention), a(1 − a), 1 − a², ..."""
    return act.rule.derivative(namespace_of(cache.h), cache.h, cache.a, act)


def activation_backward(da: Array, cache: ActivationCache, act: Activation) -> Array:
    """∂L/∂h = ∂L/∂a ⊙ f′(h)."""
    return da * activation_derivative(cache, act)


# ------------------------------------------------------------------ output layer: ŷ = g(z)


def log_softmax(z: Array) -> Array:
    """ln softmax(z) per row, = z − max z − ln Σₖ exp(zₖ − max z): finite for logits of any size."""
    xp = namespace_of(z)
    shifted = z - xp.max(z, axis=1, keepdims=True)
    return shifted - xp.log(xp.sum(xp.exp(shifted), axis=1, keepdims=True))


def softmax(z: Array) -> Array:
    """ŷᵢ = exp(zᵢ) / Σₖ exp(zₖ) per row, computed from the shifted logits."""
    return activations.softmax(namespace_of(z), z)


def output_forward(z: Array, output: str) -> Array:
    """ŷ = g(z): softmax(z), σ(z) or z (the table `activations.OUTPUTS`)."""
    return activations.OUTPUTS[output].forward(namespace_of(z), z)


def output_backward(dyhat: Array, yhat: Array, output: str) -> Array:
    """∂L/∂z from ∂L/∂ŷ: the softmax Jacobian ŷᵢ(δᵢⱼ − ŷⱼ), σ′ = ŷ(1 − ŷ), or the identity."""
    return activations.OUTPUTS[output].backward(namespace_of(yhat), dyhat, yhat)


# ------------------------------------------------------------------------------ the losses


def smooth_labels(y: Array, epsilon: Any, convention: Smoothing) -> Array:
    """yˢ = (1 − ε)y + ε/q (uniform), or (1 − ε)y + ε(1 − y)/(q − 1) (others)."""
    q = y.shape[1]
    if convention == "uniform":
        return (1 - epsilon) * y + epsilon / q
    return (1 - epsilon) * y + epsilon * (1 - y) / (q - 1)


def reduce_batch(per_instance: Array, reduction: Reduction) -> Any:
    """L = the mean or the sum of the per-instance losses Lᵦ."""
    xp = namespace_of(per_instance)
    total = xp.sum(per_instance)
    return total / per_instance.shape[0] if reduction == "mean" else total


def _scaled(gradient: Array, reduction: Reduction) -> Array:
    """Times ∂L/∂Lᵦ: 1/B for the mean, 1 for the sum (divides, so exact numbers stay exact)."""
    return gradient / gradient.shape[0] if reduction == "mean" else gradient


class LossCache(NamedTuple):
    yhat: Array  # the prediction ŷ, (B, q)
    target: Array  # yˢ for cross-entropy, y for squared error, (B, q)
    reduction: Reduction


def cross_entropy_forward(
    z: Array, ys: Array, reduction: Reduction
) -> tuple[Array, Any, LossCache]:
    """Lᵦ = −Σᵢ yˢᵢ ln ŷᵢ per row with ŷ = softmax(z); L = mean or sum of the Lᵦ."""
    xp = namespace_of(z)
    per_instance = -xp.sum(ys * log_softmax(z), axis=1)  # (B,)
    loss = reduce_batch(per_instance, reduction)
    return per_instance, loss, LossCache(softmax(z), ys, reduction)


def cross_entropy_of_probabilities(
    yhat: Array, ys: Array, reduction: Reduction, per_instance: bool = False
) -> Any:
    """L = mean or sum of Lᵦ = −Σᵢ yˢᵢ ln ŷᵢ (or the Lᵦ themselves), from the probabilities
    (as a student writes it; `cross_entropy_forward` works from z, which stays finite where ŷ
    underflows)."""
    xp = namespace_of(yhat)
    losses = -xp.sum(ys * xp.log(yhat), axis=1)  # (B,)
    return losses if per_instance else reduce_batch(losses, reduction)


def cross_entropy_backward(cache: LossCache) -> Array:
    """∂L/∂ŷᵢ = −yˢᵢ / ŷᵢ (scaled by the reduction): the unfused path, to test the fused one."""
    yhat, ys, reduction = cache
    return _scaled(-ys / yhat, reduction)


def softmax_cross_entropy_backward(cache: LossCache) -> Array:
    """∂L/∂z = ŷ − yˢ (scaled by the reduction), softmax and cross-entropy fused.

    Valid only when every row of yˢ sums to 1: the chain rule gives
    ∂L/∂zⱼ = Σᵢ (−yˢᵢ/ŷᵢ) ŷᵢ(δᵢⱼ − ŷⱼ) = ŷⱼ Σᵢ yˢᵢ − yˢⱼ, and Σᵢ yˢᵢ = 1 leaves ŷⱼ − yˢⱼ.
    The problem loader guarantees that sum (y is a distribution; smoothing preserves it).
    """
    yhat, ys, reduction = cache
    return _scaled(yhat - ys, reduction)


def squared_error_forward(
    yhat: Array, y: Array, reduction: Reduction
) -> tuple[Array, Any, LossCache]:
    """Lᵦ = ½ Σᵢ (ŷᵢ − yᵢ)² per row; L = mean or sum of the Lᵦ."""
    xp = namespace_of(yhat)
    diff = yhat - y
    per_instance = xp.sum(diff * diff, axis=1) / 2  # (B,)
    return per_instance, reduce_batch(per_instance, reduction), LossCache(yhat, y, reduction)


def squared_error_backward(cache: LossCache) -> Array:
    """∂L/∂ŷ = ŷ − y (scaled by the reduction)."""
    yhat, y, reduction = cache
    return _scaled(yhat - y, reduction)
