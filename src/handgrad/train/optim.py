"""Optimizers and learning-rate schedules, with PyTorch's update formulas.

An optimizer takes a step object (`FusedStep`, `CompiledStep`, `TorchStep`) and one batch; the
step object runs forward, backward and this update on its stacked parameter matrices [W; bᵀ] in
place (`step.train(x, target, optimizer)`): the compiled and torch steps carry the same formulas
in their own code and keep the state in their own buffers (`_first`, `_second` point at them).
The formulas are torch.optim's (tests compare them step by step), with g = ∂L/∂θ + λθ when
weight decay λ is set (applied to weights and biases alike, as torch does for the parameters it
is given):

- SGD:      θ ← θ − η g                                     (the homework's rule when λ = 0)
- momentum: v ← μ v + g (v = g at the first step);  θ ← θ − η v
- Nesterov: v as above;  θ ← θ − η (g + μ v)
- Adam:     m ← β₁m + (1 − β₁)g,  v ← β₂v + (1 − β₂)g²,
            θ ← θ − η/(1 − β₁ᵗ) · m / (√v / √(1 − β₂ᵗ) + ε)
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from handgrad.train.fused import FusedStep

OptimizerName = Literal["sgd", "momentum", "nesterov", "adam"]
OPTIMIZERS: tuple[OptimizerName, ...] = ("sgd", "momentum", "nesterov", "adam")
ScheduleName = Literal["constant", "step", "cosine"]
SCHEDULES: tuple[ScheduleName, ...] = ("constant", "step", "cosine")


@dataclass
class Optimizer:
    """One of the four update rules, with its state (one buffer set per layer, made lazily)."""

    name: OptimizerName = "sgd"
    learning_rate: float = 0.1
    momentum: float = 0.9
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8
    weight_decay: float = 0.0

    def __post_init__(self) -> None:
        if self.name not in OPTIMIZERS:
            raise ValueError(f"unknown optimizer {self.name!r}; choose one of {OPTIMIZERS}")
        self.steps = 0
        self._first: list[Any] = []  # momentum v, or Adam's m
        self._second: list[Any] = []  # Adam's v
        self._scratch: list[Any] = []

    def release_state(self, buffers: list[Any], copy: Callable[[Any], Any]) -> None:
        """Another rule is about to take a step's state `buffers`, where this rule's state lives
        (compiled and torch steps keep it there): keep a `copy` of it, to come back to."""
        if self._first is buffers:
            self._first = [copy(state) for state in self._first]
            self._second = [copy(state) for state in self._second]

    def state_to_numpy(self) -> None:
        """Make the state NumPy arrays (copies of a torch step's tensors, GPU ones included),
        for a NumPy or compiled step taking over from a torch one."""
        for name in ("_first", "_second", "_scratch"):
            state = getattr(self, name)
            if any(not isinstance(value, np.ndarray) for value in state):
                setattr(self, name, [value if isinstance(value, np.ndarray)
                                     else value.detach().cpu().numpy().copy() for value in state])

    def step(self, fused: Any, x: Any, target: Any) -> float:
        """Run the forward/backward step on the batch, update the parameters; return the loss."""
        return float(fused.train(x, target, self))

    def numpy_step(self, fused: FusedStep, x: np.ndarray, target: np.ndarray) -> float:
        """The NumPy path's step: `fused.run`, then this update on the stacked matrices."""
        if self.name == "sgd" and self.weight_decay == 0:
            # θ ← θ − η ∂L/∂θ with η folded into the backward pass: one subtraction per layer
            loss = fused.run(x, target, grad_scale=fused.dtype.type(self.learning_rate))
            for theta, scaled in zip(fused.weights, fused.weight_grads, strict=True):
                np.subtract(theta, scaled, out=theta)
            self.steps += 1
            return loss
        loss = fused.run(x, target)
        if not self._scratch:
            self._scratch = [np.zeros_like(w) for w in fused.weights]
            self._first = [np.zeros_like(w) for w in fused.weights]
            self._second = [np.zeros_like(w) for w in fused.weights] if self.name == "adam" else []
        self.steps += 1
        dtype = fused.dtype.type
        lr, decay = dtype(self.learning_rate), dtype(self.weight_decay)
        for index, (theta, grad) in enumerate(zip(fused.weights, fused.weight_grads, strict=True)):
            if decay:
                grad += decay * theta  # g = ∂L/∂θ + λθ
            if self.name == "adam":
                self._adam(index, theta, grad, lr)
                continue
            tmp = self._scratch[index]
            if self.name == "sgd":
                np.multiply(grad, lr, out=tmp)
            else:
                velocity = self._first[index]
                if self.steps == 1:
                    velocity[...] = grad
                else:
                    velocity *= dtype(self.momentum)
                    velocity += grad
                if self.name == "nesterov":
                    np.multiply(velocity, dtype(self.momentum), out=tmp)
                    tmp += grad
                    tmp *= lr
                else:
                    np.multiply(velocity, lr, out=tmp)
            theta -= tmp
        return loss

    def _adam(self, index: int, theta: np.ndarray, grad: np.ndarray, lr: np.floating) -> None:
        dtype = type(lr)
        m, v, tmp = self._first[index], self._second[index], self._scratch[index]
        b1, b2 = self.beta1, self.beta2
        m *= dtype(b1)
        m += dtype(1 - b1) * grad
        v *= dtype(b2)
        np.multiply(grad, grad, out=tmp)
        tmp *= dtype(1 - b2)
        v += tmp
        correction1 = 1 - b1**self.steps
        correction2 = 1 - b2**self.steps
        np.sqrt(v, out=tmp)
        tmp /= dtype(math.sqrt(correction2))
        tmp += dtype(self.eps)
        np.divide(m, tmp, out=tmp)
        tmp *= dtype(self.learning_rate / correction1)
        theta -= tmp


@dataclass(frozen=True)
class Schedule:
    """The learning rate for each epoch: constant, ×γ every `step_size` epochs, or cosine."""

    name: ScheduleName = "constant"
    step_size: int = 30
    gamma: float = 0.1
    min_factor: float = 0.0  # cosine ends at η·min_factor

    def learning_rate(self, base: float, epoch: int, epochs: int) -> float:
        """η for epoch (0-based) of `epochs`."""
        if self.name == "step":
            return base * self.gamma ** (epoch // self.step_size)
        if self.name == "cosine":
            progress = epoch / max(1, epochs)
            cosine = (1 + math.cos(math.pi * progress)) / 2
            return base * (self.min_factor + (1 - self.min_factor) * cosine)
        return base
