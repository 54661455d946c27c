"""The whole network: forward pass, backward pass and a gradient-descent step, built from `ops`.

Parameters are plain data, a dict {"W1": ..., "b1": ..., ..., "WL": ..., "bL": ...}, and a step
returns new parameters instead of changing the old ones. Layer l maps a(l−1) to h(l) (with
a0 = x); hidden layers l < L apply the hidden activation, the last layer gives z and ŷ.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from numbers import Integral
from typing import Any, Literal

from handgrad.core import ops
from handgrad.core.activations import OUTPUTS, OutputName
from handgrad.core.backend import Array

Params = Mapping[str, Array]
LossKind = Literal["cross_entropy", "squared_error"]
Output = OutputName
LOSSES: tuple[str, ...] = ("cross_entropy", "squared_error")


@dataclass(frozen=True)
class Architecture:
    """What the formulas need to know about the network, its loss and its conventions."""

    layers: tuple[int, ...]  # d, n1, ..., q
    hidden: ops.Activation
    output: Output
    layout: ops.Layout
    loss: LossKind
    reduction: ops.Reduction

    def __post_init__(self) -> None:
        """Refuse what the formulas cannot mean: `backward` relies on each of these rules."""
        if len(self.layers) < 2 or not all(
            isinstance(n, Integral) and not isinstance(n, bool) and n >= 1 for n in self.layers
        ):
            raise ValueError(f"layers must be 2 or more positive whole numbers, got {self.layers}")
        if self.output not in OUTPUTS:
            raise ValueError(f"unknown output {self.output!r}; known: {', '.join(OUTPUTS)}")
        if self.loss not in LOSSES:
            raise ValueError(f"unknown loss {self.loss!r}; known: {', '.join(LOSSES)}")
        if self.layout not in ("in_out", "out_in"):
            raise ValueError(f"unknown layout {self.layout!r}; known: in_out, out_in")
        if self.reduction not in ("mean", "sum"):
            raise ValueError(f"unknown reduction {self.reduction!r}; known: mean, sum")
        if self.loss == "cross_entropy" and self.output != "softmax":
            # backward fuses softmax and cross-entropy into ŷ − yˢ; any other output would
            # need ∂L/∂ŷ = −yˢ/ŷ through its own Jacobian, which this engine does not offer
            raise ValueError(
                f"cross_entropy needs the softmax output, not {self.output!r}; "
                "use squared_error with a sigmoid or identity output"
            )

    @property
    def depth(self) -> int:
        """L, the number of weight layers."""
        return len(self.layers) - 1

    @property
    def fused_softmax_cross_entropy(self) -> bool:
        """True when ∂L/∂z = ŷ − yˢ applies (softmax output with cross-entropy)."""
        return self.loss == "cross_entropy" and self.output == "softmax"

    def parameter_names(self) -> list[str]:
        return [f"{kind}{layer}" for layer in range(1, self.depth + 1) for kind in ("W", "b")]

    def weight_shape(self, layer: int) -> tuple[int, int]:
        fan_in, fan_out = self.layers[layer - 1], self.layers[layer]
        return (fan_in, fan_out) if self.layout == "in_out" else (fan_out, fan_in)


@dataclass(frozen=True)
class ForwardPass:
    """Every forward quantity; h[l-1], a[l-1] belong to hidden layer l (1 ≤ l < L)."""

    h: list[Array]  # pre-activations, each (B, n_l)
    a: list[Array]  # activations, each (B, n_l)
    z: Array  # logits, (B, q)
    yhat: Array  # prediction, (B, q)
    per_instance: Array  # Lᵦ, (B,)
    loss: Any  # the reduced loss L
    linear_caches: list[ops.LinearCache]
    activation_caches: list[ops.ActivationCache]
    loss_cache: ops.LossCache


@dataclass(frozen=True)
class BackwardPass:
    """Every backward quantity; dh[l-1], da[l-1] belong to hidden layer l."""

    dyhat: Array | None  # ∂L/∂ŷ, None where softmax and cross-entropy are fused
    dz: Array
    da: list[Array]
    dh: list[Array]
    grads: dict[str, Array]  # "dW1", "db1", ...


def forward(params: Params, x: Array, target: Array, arch: Architecture) -> ForwardPass:
    """Run x (B, d) through the network and the loss; target is yˢ (cross-entropy) or y."""
    hs: list[Array] = []
    acts: list[Array] = []
    linear_caches: list[ops.LinearCache] = []
    activation_caches: list[ops.ActivationCache] = []
    a = x
    for layer in range(1, arch.depth):
        h, lin = ops.linear_forward(a, params[f"W{layer}"], params[f"b{layer}"], arch.layout)
        a, act = ops.activation_forward(h, arch.hidden)
        hs.append(h)
        acts.append(a)
        linear_caches.append(lin)
        activation_caches.append(act)
    last = arch.depth
    z, lin = ops.linear_forward(a, params[f"W{last}"], params[f"b{last}"], arch.layout)
    linear_caches.append(lin)
    if arch.loss == "cross_entropy":
        per_instance, loss, loss_cache = ops.cross_entropy_forward(z, target, arch.reduction)
        yhat = loss_cache.yhat
    else:
        yhat = ops.output_forward(z, arch.output)
        per_instance, loss, loss_cache = ops.squared_error_forward(yhat, target, arch.reduction)
    return ForwardPass(
        hs, acts, z, yhat, per_instance, loss, linear_caches, activation_caches, loss_cache
    )


def backward(fwd: ForwardPass, arch: Architecture) -> BackwardPass:
    """Backpropagate from L to every parameter, recording each intermediate gradient."""
    dyhat: Array | None
    if arch.fused_softmax_cross_entropy:
        dyhat = None
        dz = ops.softmax_cross_entropy_backward(fwd.loss_cache)
    else:
        dyhat = ops.squared_error_backward(fwd.loss_cache)
        dz = ops.output_backward(dyhat, fwd.yhat, arch.output)
    grads: dict[str, Array] = {}
    das: list[Array] = []
    dhs: list[Array] = []
    upstream = dz
    for layer in range(arch.depth, 0, -1):
        da, grads[f"dW{layer}"], grads[f"db{layer}"] = ops.linear_backward(
            upstream, fwd.linear_caches[layer - 1], arch.layout
        )
        if layer > 1:
            upstream = ops.activation_backward(da, fwd.activation_caches[layer - 2], arch.hidden)
            das.insert(0, da)
            dhs.insert(0, upstream)
    ordered = {name: grads[f"d{name}"] for name in arch.parameter_names()}
    return BackwardPass(dyhat, dz, das, dhs, {f"d{k}": v for k, v in ordered.items()})


def target_for(y: Array, loss: LossKind, epsilon: Any, smoothing: ops.Smoothing) -> Array:
    """What ŷ is compared with: yˢ (label-smoothed y) for cross-entropy, y itself otherwise."""
    return ops.smooth_labels(y, epsilon, smoothing) if loss == "cross_entropy" else y


def gradient_step(
    params: Params, grads: Mapping[str, Array], learning_rate: Any, frozen: Sequence[str] = ()
) -> dict[str, Array]:
    """θ ← θ − η ∂L/∂θ for every parameter not frozen; returns new parameters."""
    return {
        name: value if name in frozen else value - learning_rate * grads[f"d{name}"]
        for name, value in params.items()
    }


@dataclass(frozen=True)
class Descent:
    """A run of gradient descent: the first step in full, the parameters after the last."""

    first_forward: ForwardPass
    first_backward: BackwardPass
    params: dict[str, Array]  # after the last step
    losses: list[Any]  # L before step 1, after step 1, ..., after the last step


def descend(
    params: Params,
    x: Array,
    target: Array,
    arch: Architecture,
    learning_rate: Any,
    steps: int,
    frozen: Sequence[str] = (),
) -> Descent:
    """`steps` steps of θ ← θ − η ∂L/∂θ, each with the gradient at that step's parameters.

    The one step loop: the solver, the grader, the playground and the derivation check run it.
    Nothing is checked for overflow here; `losses` shows where a run diverged.
    """
    first_forward = forward(params, x, target, arch)
    first_backward = backward(first_forward, arch)
    current, losses = dict(params), [first_forward.loss]
    fwd, bwd = first_forward, first_backward
    for step in range(steps):
        if step > 0:
            bwd = backward(fwd, arch)
        current = gradient_step(current, bwd.grads, learning_rate, frozen)
        fwd = forward(current, x, target, arch)
        losses.append(fwd.loss)
    return Descent(first_forward, first_backward, current, losses)


def loss_value(params: Params, x: Array, target: Array, arch: Architecture) -> Any:
    """L alone, for finite differences and loss histories."""
    return forward(params, x, target, arch).loss


def predict(params: Params, x: Array, arch: Architecture) -> Array:
    """ŷ for each row of x (B, d): the forward pass of `forward`, without a target or a loss."""
    a = x
    for layer in range(1, arch.depth):
        h, _ = ops.linear_forward(a, params[f"W{layer}"], params[f"b{layer}"], arch.layout)
        a, _ = ops.activation_forward(h, arch.hidden)
    last = arch.depth
    z, _ = ops.linear_forward(a, params[f"W{last}"], params[f"b{last}"], arch.layout)
    return ops.output_forward(z, arch.output)
