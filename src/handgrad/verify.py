"""Independent checks of the gradients: central finite differences, PyTorch and JAX autograd.

Finite differences use only the forward pass (never the backward formulas). The PyTorch and JAX
references rebuild the network and loss with those libraries' own functions; they share nothing
with `core` except the problem's numbers. Both libraries are imported only when asked for.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from handgrad.problem import Problem
from handgrad.solution import GradientCheck

FD_STEP = 1e-6  # relative: θᵢ moves by 1e-6·max(1, |θᵢ|), so a weight of 1e100 moves at all
FD_MAX_ENTRIES = 256  # per parameter; larger parameters are checked on a seeded random sample
# A forward pass in float64 computes L with a rounding error of some units of ε times the size
# of the terms it sums: at least |L|, and of order 1 where large logits cancel to a tiny loss
# (more with large inputs, ~max |x|): FD_ROUNDING·ε·max(1, |L|)·max(1, max |x|). Divided by
# the step it bounds what rounding can do to a central difference; a difference of gradients
# below that is noise and is not held against the engine.
FD_ROUNDING = 10.0
# Two float64 implementations differ by rounding, ~1e-16 of the gradient's scale; a gradient that
# is exactly 0 in theory comes out as ±1e-17 noise in each. Below this floor (times max(1, |L|))
# differences are compared on the floor's scale, which still exposes any real error.
FRAMEWORK_FLOOR = 1e-6
# What each method's relative error must stay below; float64 is two float64 runs of one formula
# (the agreement of the float64 solution with the exact or N-digit one).
TOLERANCES = {"finite_differences": 1e-5, "torch": 1e-9, "jax": 1e-9, "float64": 1e-10}


def max_relative_error(approx: np.ndarray, exact: np.ndarray, floor: float = 0.0) -> float:
    """max |approx − exact| / max(|approx|, |exact|, floor) over all entries; 0 when all are 0.

    `floor` keeps gradients far smaller than the method's own noise from being judged on noise.
    """
    approx, exact = np.asarray(approx, dtype=float), np.asarray(exact, dtype=float)
    scale = max(
        float(np.max(np.abs(exact), initial=0.0)),
        float(np.max(np.abs(approx), initial=0.0)),
        floor,
    )
    if scale == 0.0:
        return 0.0
    return float(np.max(np.abs(approx - exact))) / scale


def finite_difference_check(
    loss: Callable[[Mapping[str, np.ndarray]], float],
    params: Mapping[str, np.ndarray],
    grads: Mapping[str, np.ndarray],
    step: float = FD_STEP,
    max_entries: int = FD_MAX_ENTRIES,
    input_scale: float = 1.0,
) -> GradientCheck:
    """Compare each ∂L/∂θᵢ with (L(θ + sᵢ) − L(θ − sᵢ)) / 2sᵢ, sᵢ = step·max(1, |θᵢ|).

    An entry's difference is judged on the scale of the gradient, or on the scale of what
    rounding of L can explain at that step when that is larger (divided by the tolerance, so
    that noise alone stays within it); the noise does not grow with the gradient's own size, so
    a wrong gradient is caught at any scale of L.
    """
    rng = np.random.default_rng(0)
    epsilon = float(np.finfo(float).eps)
    noise_per_loss = FD_ROUNDING * epsilon * max(1.0, input_scale)
    tolerance = TOLERANCES["finite_differences"]
    centre = abs(float(loss(params)))
    errors: dict[str, float] = {}
    checked: dict[str, tuple[int, int]] = {}
    for name, value in params.items():
        exact = np.asarray(grads[f"d{name}"], dtype=float)
        flat_indices = np.arange(value.size)
        if value.size > max_entries:
            flat_indices = np.sort(rng.choice(value.size, max_entries, replace=False))
        approx = np.empty(len(flat_indices))
        noise = np.empty(len(flat_indices))
        shifted = dict(params)
        shifted[name] = perturbed = np.array(value, dtype=float)  # the only copy made
        for k, flat in enumerate(flat_indices):
            index = np.unravel_index(flat, value.shape)
            theta = float(value[index])
            size = step * max(1.0, abs(theta))
            up, down = theta + size, theta - size
            perturbed[index] = up
            upper = float(loss(shifted))
            perturbed[index] = down
            lower = float(loss(shifted))
            perturbed[index] = theta
            width = up - down  # the step as float64 took it
            approx[k] = (upper - lower) / width
            noise[k] = noise_per_loss * max(1.0, abs(upper), abs(lower), centre) / width
        floor = float(np.max(noise, initial=0.0)) / tolerance
        errors[f"d{name}"] = max_relative_error(approx, exact.reshape(-1)[flat_indices], floor)
        checked[f"d{name}"] = (len(flat_indices), value.size)
    return GradientCheck("finite_differences", errors, checked, tolerance)


def compare(
    method: str,
    reference: Mapping[str, np.ndarray],
    grads: Mapping[str, np.ndarray],
    loss: float,
    input_scale: float = 1.0,
) -> GradientCheck:
    """A GradientCheck of the engine's gradients against a reference framework's."""
    floor = FRAMEWORK_FLOOR * max(1.0, abs(loss)) * max(1.0, input_scale)
    errors = {name: max_relative_error(reference[name], grads[name], floor) for name in grads}
    checked = {n: (g.size, g.size) for n, g in grads.items()}
    return GradientCheck(method, errors, checked, TOLERANCES[method])


def _smoothed_targets(problem: Problem) -> np.ndarray:
    """yˢ for the 'others' convention, written out here independently of core.ops."""
    eps, y = problem.spec.loss.label_smoothing, problem.y
    return (1 - eps) * y + eps * (1 - y) / (y.shape[1] - 1)


def torch_gradients(problem: Problem) -> tuple[float, dict[str, np.ndarray]]:
    """L and every ∂L/∂θ from PyTorch autograd in float64, with torch's own loss functions."""
    import torch
    import torch.nn.functional as F

    arch, loss_spec = problem.architecture, problem.spec.loss
    params = {
        k: torch.tensor(v, dtype=torch.float64, requires_grad=True)
        for k, v in problem.params.items()
    }
    hidden: dict[str, Callable[[Any], Any]] = {
        "relu": torch.relu,
        "leaky_relu": lambda h: F.leaky_relu(h, arch.hidden.leaky_slope),
        "sigmoid": torch.sigmoid,
        "tanh": torch.tanh,
        "identity": lambda h: h,
    }
    a = torch.tensor(problem.x, dtype=torch.float64)
    for layer in range(1, arch.depth + 1):
        W, b = params[f"W{layer}"], params[f"b{layer}"]
        a = a @ W + b if arch.layout == "in_out" else F.linear(a, W, b)
        if layer < arch.depth:
            a = hidden[arch.hidden.name](a)
    z = a
    y = torch.tensor(problem.y, dtype=torch.float64)
    if arch.loss == "cross_entropy":
        if loss_spec.smoothing == "uniform":
            loss = F.cross_entropy(
                z, y, label_smoothing=loss_spec.label_smoothing, reduction=arch.reduction
            )
        else:
            target = torch.tensor(_smoothed_targets(problem), dtype=torch.float64)
            loss = F.cross_entropy(z, target, reduction=arch.reduction)
    else:
        outputs: dict[str, Callable[[Any], Any]] = {
            "softmax": lambda t: torch.softmax(t, dim=1),
            "sigmoid": torch.sigmoid,
            "identity": lambda t: t,
        }
        yhat = outputs[arch.output](z)
        per_instance = 0.5 * ((yhat - y) ** 2).sum(dim=1)
        loss = per_instance.mean() if arch.reduction == "mean" else per_instance.sum()
    loss.backward()
    grads = {}
    for name, tensor in params.items():
        assert tensor.grad is not None
        grads[f"d{name}"] = tensor.grad.numpy().copy()
    return float(loss.detach()), grads


def jax_gradients(problem: Problem) -> tuple[float, dict[str, np.ndarray]]:
    """L and every ∂L/∂θ from jax.grad in float64, with jax.nn's own functions."""
    import jax
    import jax.numpy as jnp

    jax.config.update("jax_enable_x64", True)
    arch, loss_spec = problem.architecture, problem.spec.loss
    hidden: dict[str, Callable[[Any], Any]] = {
        "relu": jax.nn.relu,
        "leaky_relu": lambda h: jax.nn.leaky_relu(h, arch.hidden.leaky_slope),
        "sigmoid": jax.nn.sigmoid,
        "tanh": jnp.tanh,
        "identity": lambda h: h,
    }
    x, y = jnp.asarray(problem.x), jnp.asarray(problem.y)
    q = problem.y.shape[1]
    eps = loss_spec.label_smoothing
    if loss_spec.smoothing == "uniform":
        target = (1 - eps) * y + eps / q
    else:
        target = jnp.asarray(_smoothed_targets(problem))

    def loss_of(params: dict[str, Any]) -> Any:
        a = x
        for layer in range(1, arch.depth + 1):
            W, b = params[f"W{layer}"], params[f"b{layer}"]
            a = a @ W + b if arch.layout == "in_out" else a @ W.T + b
            if layer < arch.depth:
                a = hidden[arch.hidden.name](a)
        if arch.loss == "cross_entropy":
            per_instance = -jnp.sum(target * jax.nn.log_softmax(a, axis=1), axis=1)
        else:
            outputs: dict[str, Callable[[Any], Any]] = {
                "softmax": lambda t: jax.nn.softmax(t, axis=1),
                "sigmoid": jax.nn.sigmoid,
                "identity": lambda t: t,
            }
            per_instance = 0.5 * jnp.sum((outputs[arch.output](a) - y) ** 2, axis=1)
        return jnp.mean(per_instance) if arch.reduction == "mean" else jnp.sum(per_instance)

    params = {k: jnp.asarray(v) for k, v in problem.params.items()}
    value, grads = jax.value_and_grad(loss_of)(params)
    return float(value), {f"d{k}": np.asarray(v) for k, v in grads.items()}


def framework_available(name: str) -> bool:
    """Whether `torch` or `jax` can be imported, without importing it."""
    from importlib.util import find_spec

    return find_spec(name) is not None


INSTALL_HINTS = {"torch": "pip install 'handgrad[torch]'", "jax": "pip install 'handgrad[jax]'"}
