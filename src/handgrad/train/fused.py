"""The training fast path: one step's forward and backward pass on preallocated buffers.

The formulas are those of `core.ops`/`core.network` (the reference path); this module only
rearranges them for speed, and `tests/test_fused.py` shows that every gradient and the loss
equal the reference path's to float rounding, for every activation, output, loss and reduction.
What it changes, and why:

- every array is written into a buffer made once (`out=`), so a step allocates nothing: at the
  homework's size a step is all Python and NumPy dispatch, and at MNIST size memory traffic;
- parameters are in the `in_out` layout, each layer's W and b stacked in one matrix [W; bᵀ] of
  shape (fan_in + 1, fan_out), and every layer input carries a trailing column of ones, so that
  one product gives h = xW + b and one gives [∂L/∂W; ∂L/∂bᵀ] = [x 1]ᵀ ∂L/∂h: no separate bias
  add or bias-gradient sum, and the optimizer updates one array per layer, in place;
- the first layer's ∂L/∂x is never formed (nothing needs it): five matrix products for a
  two-layer network, the least a step can do;
- softmax with cross-entropy is fused as in `ops.softmax_cross_entropy_backward` (valid because
  every row of yˢ sums to 1), and its loss is read from the same buffers:
  Lᵦ = −Σᵢ yˢᵢ (zᵢ − m − ln s) = m + ln s − Σᵢ yˢᵢ zᵢ, with m = max z and s = Σ exp(z − m).

Activations and outputs without a hand-fused form here (sigmoid hidden layers, sigmoid or
identity outputs, squared error) call the reference `ops` functions directly.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from handgrad.core import ops
from handgrad.core.network import Architecture


class FusedStep:
    """Forward, backward and loss of `arch` for batches of up to `max_batch` rows.

    `params` (W1, b1, ... in the in_out layout) are copied into the step's own stacked
    matrices `weights` ([W; bᵀ] per layer); `params` afterwards holds views W = stacked[:-1],
    b = stacked[-1] into them, so whatever changes `weights` in place (the optimizer) is what
    the next step uses. After `run`, `weight_grads` holds [∂L/∂W; ∂L/∂bᵀ] per layer and
    `grads` the views dW1, db1, ... into them: buffers that the next call overwrites.
    """

    def __init__(
        self, arch: Architecture, params: Mapping[str, np.ndarray], max_batch: int
    ) -> None:
        if arch.layout != "in_out":
            raise ValueError("the fused step works on the in_out layout")
        self.arch = arch
        self.max_batch = max_batch
        dtype = np.asarray(params["W1"]).dtype
        self.dtype = dtype
        sizes = arch.layers
        depth = arch.depth
        self.weights: list[np.ndarray] = []
        self.weight_grads: list[np.ndarray] = []
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}
        for layer in range(1, depth + 1):
            stacked = np.empty((sizes[layer - 1] + 1, sizes[layer]), dtype)
            stacked[:-1] = params[f"W{layer}"]
            stacked[-1] = params[f"b{layer}"]
            grad = np.zeros_like(stacked)
            self.weights.append(stacked)
            self.weight_grads.append(grad)
            self.params[f"W{layer}"], self.params[f"b{layer}"] = stacked[:-1], stacked[-1]
            self.grads[f"dW{layer}"], self.grads[f"db{layer}"] = grad[:-1], grad[-1]
        # layer inputs with their column of ones: x, then a1, ..., a(L-1)
        self._inputs = [np.ones((max_batch, n + 1), dtype) for n in sizes[:-1]]
        self._h = [np.empty((max_batch, n), dtype) for n in sizes[1:]]  # h1, ..., h(L-1), z
        self._d = [np.empty((max_batch, n), dtype) for n in sizes[1:]]  # dh1, ..., dz
        self._mask = [np.empty((max_batch, n), bool) for n in sizes[1:-1]]
        q = sizes[-1]
        self._yhat = np.empty((max_batch, q), dtype)
        self._m = np.empty((max_batch, 1), dtype)
        self._s = np.empty((max_batch, 1), dtype)
        act = arch.hidden
        # ReLU′(0) = 0 makes the mask "a > 0", the same as "h > 0"; any other ReLU′(0) goes
        # through the reference derivative.
        self._relu = act.name == "relu" and act.relu_grad_at_zero == 0
        self.yhat: np.ndarray = self._yhat  # ŷ of the last batch (a view, overwritten)

    def with_ones(self, x: np.ndarray) -> np.ndarray:
        """x (N, d) with a trailing column of ones, in the step's dtype: what `run` reads."""
        out = np.ones((x.shape[0], x.shape[1] + 1), self.dtype)
        out[:, :-1] = x
        return out

    def run(self, x: np.ndarray, target: np.ndarray, grad_scale: Any = 1.0) -> float:
        """Fill the gradients for a batch and return the loss L.

        x is (B, d), or (B, d + 1) already ending in a column of ones (`with_ones`: the
        training loop keeps its data that way and skips a copy); target is yˢ for
        cross-entropy, y for squared error, (B, q). The gradients come out multiplied by
        `grad_scale` (plain gradient descent passes η and subtracts them as they are).
        """
        batch = x.shape[0]
        depth = self.arch.depth
        hidden = self.arch.hidden
        if x.shape[1] == self.arch.layers[0]:
            first = self._inputs[0][:batch]
            first[:, :-1] = x
        else:
            first = x
        inputs = first
        for i in range(depth - 1):  # hidden layer i + 1
            h = self._h[i][:batch]
            np.matmul(inputs, self.weights[i], out=h)  # h = [a 1][W; bᵀ] = aW + b
            nxt = self._inputs[i + 1][:batch]
            a = nxt[:, :-1]
            if hidden.name == "relu":
                np.maximum(h, 0, out=a)
            elif hidden.name == "tanh":
                np.tanh(h, out=a)
            elif hidden.name == "identity":
                a[...] = h
            else:
                a[...] = ops.activation_forward(h, hidden)[0]
            inputs = nxt
        z = self._h[-1][:batch]
        np.matmul(inputs, self.weights[-1], out=z)
        dz = self._d[-1][:batch]
        loss = self._loss_and_dz(z, target, dz, grad_scale)

        upstream = dz
        for i in range(depth - 1, -1, -1):  # weight layer i + 1, from the top
            below = self._inputs[i][:batch] if i else first
            np.matmul(below.T, upstream, out=self.weight_grads[i])  # [∂W; ∂bᵀ] = [a 1]ᵀ ∂h
            if i == 0:
                break
            dh = self._d[i - 1][:batch]
            np.matmul(upstream, self.weights[i][:-1].T, out=dh)  # ∂L/∂a, then ∂L/∂h in place
            self._activation_backward(i - 1, dh, batch)
            upstream = dh
        return loss

    def _activation_backward(self, i: int, da: np.ndarray, batch: int) -> None:
        """∂L/∂h = ∂L/∂a ⊙ f′(h), in place in `da`."""
        hidden = self.arch.hidden
        h, a = self._h[i][:batch], self._inputs[i + 1][:batch, :-1]
        if self._relu:
            mask = self._mask[i][:batch]
            np.greater(a, 0, out=mask)
            np.multiply(da, mask, out=da)
        elif hidden.name == "tanh":
            np.multiply(da, 1 - a * a, out=da)
        elif hidden.name != "identity":
            da *= ops.activation_derivative(ops.ActivationCache(h, a), hidden)

    def _loss_and_dz(
        self, z: np.ndarray, target: np.ndarray, dz: np.ndarray, grad_scale: Any
    ) -> float:
        """L, and ∂L/∂z · grad_scale written into dz."""
        arch = self.arch
        per_loss = 1 / z.shape[0] if arch.reduction == "mean" else 1.0
        if not arch.fused_softmax_cross_entropy:  # squared error: the reference formulas
            yhat = ops.output_forward(z, arch.output)
            _, loss, cache = ops.squared_error_forward(yhat, target, arch.reduction)
            dyhat = ops.squared_error_backward(cache)
            dz[...] = ops.output_backward(dyhat, yhat, arch.output) * grad_scale
            self.yhat = yhat
            return float(loss)
        batch = z.shape[0]
        m, s, yhat = self._m[:batch], self._s[:batch], self._yhat[:batch]
        np.maximum.reduce(z, axis=1, keepdims=True, out=m)
        np.subtract(z, m, out=yhat)
        np.exp(yhat, out=yhat)
        np.add.reduce(yhat, axis=1, keepdims=True, out=s)
        np.divide(yhat, s, out=yhat)  # ŷ = softmax(z)
        np.subtract(yhat, target, out=dz)  # ∂L/∂z = ŷ − yˢ, valid as Σᵢ yˢᵢ = 1 ...
        scale = grad_scale * per_loss
        if scale != 1:
            np.multiply(dz, scale, out=dz)  # ... times 1/B for the mean, and grad_scale
        np.log(s, out=s)
        np.add(s, m, out=s)
        # Σᵦ Lᵦ = Σᵦ (m + ln s) − Σᵦᵢ yˢᵢ zᵢ; vdot flattens both (B, q) arrays
        total = float(np.add.reduce(s, axis=None)) - float(np.vdot(target, z))
        self.yhat = yhat
        return total * per_loss
