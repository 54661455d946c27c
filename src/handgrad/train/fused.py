"""The training fast path: one step's forward and backward pass on preallocated buffers.

The formulas are those of `core.ops`/`core.network` (the reference path); this module only
rearranges them for speed, and `tests/test_fused.py` shows that every gradient and the loss
equal the reference path's to float rounding, for every activation, output, loss and reduction.
What it changes, and why:

- every array is written into a buffer made once (`out=`), so a step allocates nothing: at the
  homework's size a step is all Python and NumPy dispatch, and at MNIST size memory traffic;
- parameters are in the `in_out` layout, each layer's W and b stacked in one matrix [W; bᵀ] of
  shape (fan_in + 1, fan_out), so the optimizer updates one array per layer, in place;
- the input x carries a trailing column of ones (made once per data set by `with_ones`, its
  rows padded to a multiple of 64 bytes, which BLAS reads faster), so one product gives
  h1 = xW1 + b1 and one gives [∂L/∂W1; ∂L/∂b1ᵀ] = [x 1]ᵀ ∂L/∂h1. Hidden activations stay
  contiguous instead (writing them beside a column of ones costs more than adding b);
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
from typing import Any, NamedTuple

import numpy as np

from handgrad.core import ops
from handgrad.core.network import Architecture

ROW_ALIGNMENT = 64  # bytes: rows of x (with its ones) start on cache-line boundaries
BIG_OUTPUT = 2048  # B·q from which softmax avoids NumPy's row reductions (see __init__)


class _Views(NamedTuple):
    """The buffers cut to one batch size (made once per size: slicing costs per call)."""

    h: list[np.ndarray]  # h1, ..., h(L−1), z; each (B, n)
    a: list[np.ndarray]  # a1, ..., a(L−1)
    d: list[np.ndarray]  # ∂L/∂h1, ..., ∂L/∂z
    mask: list[np.ndarray]  # h > 0 per hidden layer (ReLU)
    m: np.ndarray  # (B, 1) row maxima of z
    argmax: np.ndarray  # (B,) where they are, then their flat index
    s: np.ndarray  # (B, 1) Σ exp(z − m)
    yhat: np.ndarray  # (B, q)
    x: np.ndarray  # (B, d + 1) input buffer with its ones, for plain (B, d) batches


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
        self._loss = float("nan")
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
        self._x = self.with_ones(np.zeros((max_batch, sizes[0]), dtype))
        self._h = [np.empty((max_batch, n), dtype) for n in sizes[1:]]  # h1, ..., h(L−1), z
        self._a = [np.empty((max_batch, n), dtype) for n in sizes[1:-1]]
        self._d = [np.empty((max_batch, n), dtype) for n in sizes[1:]]  # dh1, ..., dz
        self._mask = [np.empty((max_batch, n), bool) for n in sizes[1:-1]]
        q = sizes[-1]
        self._yhat = np.empty((max_batch, q), dtype)
        self._m = np.empty((max_batch, 1), dtype)
        self._s = np.empty((max_batch, 1), dtype)
        # On big batches, row maxima by argmax and a gather and row sums by a product with
        # ones: several times faster than NumPy's reductions along short rows (measured at
        # 1024 × 10); on small ones the single reduction call costs less.
        self._ones_q = np.ones((q, 1), dtype)
        self._argmax = np.empty(max_batch, np.intp)
        self._row_start = np.arange(max_batch, dtype=np.intp) * q
        self._views: dict[int, _Views] = {}
        # views of the stacked matrices, made once: W and b of each layer, Wᵀ, and the
        # matching parts of the gradient
        self._W = [w[:-1] for w in self.weights]
        self._WT = [w[:-1].T for w in self.weights]
        self._b = [w[-1] for w in self.weights]
        self._dW = [g[:-1] for g in self.weight_grads]
        self._db = [g[-1] for g in self.weight_grads]
        act = arch.hidden
        # ReLU′(0) = 0 makes the mask "h > 0"; any other ReLU′(0) goes through the reference
        # derivative.
        self._relu = act.name == "relu" and act.relu_grad_at_zero == 0
        self.yhat: np.ndarray = self._yhat  # ŷ of the last batch (a view, overwritten)
        self._target = np.empty((max_batch, q), dtype)
        self.mode = "numpy"

    def batch_buffers(self, batch: int) -> tuple[np.ndarray, np.ndarray]:
        """(batch, d + 1 + padding) input rows (as `with_ones` makes them) and (batch, q)
        target buffers of the step's own, for a batch gathered in place (np.take(out=))."""
        return self._cut(batch).x, self._target[:batch]

    def train(self, x: np.ndarray, target: np.ndarray, optimizer: Any) -> float:
        """One whole training step: `run`, then the optimizer's update; returns L."""
        return float(optimizer.numpy_step(self, x, target))

    def advance(self, x: np.ndarray, target: np.ndarray, optimizer: Any) -> None:
        """`train` without handing the loss back (`loss` reads it when asked)."""
        optimizer.numpy_step(self, x, target)

    @property
    def loss(self) -> float:
        """L of the last step."""
        return self._loss

    def with_ones(self, x: np.ndarray) -> np.ndarray:
        """x (N, d) in the step's dtype with a column of ones after it (and zeros padding each
        row to a multiple of 64 bytes): the form in which `run` takes its input fastest."""
        d = x.shape[1]
        per_row = max(1, ROW_ALIGNMENT // self.dtype.itemsize)
        width = -(-(d + 1) // per_row) * per_row
        out = np.zeros((x.shape[0], width), self.dtype)
        out[:, :d] = x
        out[:, d] = 1
        return out

    def prepare(self, x: np.ndarray) -> np.ndarray:
        """Rows in the form `run` takes them fastest (`with_ones`)."""
        return self.with_ones(x)

    def _cut(self, batch: int) -> _Views:
        views = self._views.get(batch)
        if views is None:
            if not 1 <= batch <= self.max_batch:  # as the compiled and torch steps say it
                raise ValueError(f"a batch of {batch} rows; this step takes 1 to "
                                 f"{self.max_batch}")
            views = _Views(
                [h[:batch] for h in self._h], [a[:batch] for a in self._a],
                [d[:batch] for d in self._d], [m[:batch] for m in self._mask],
                self._m[:batch], self._argmax[:batch], self._s[:batch], self._yhat[:batch],
                self._x[:batch],
            )
            self._views[batch] = views
        return views

    def run(self, x: np.ndarray, target: np.ndarray, grad_scale: Any = 1.0) -> float:
        """Fill the gradients for a batch and return the loss L.

        x is (B, d), or rows made by `with_ones` (the training loop keeps its data that way
        and skips a copy per batch); target is yˢ for cross-entropy, y for squared error,
        (B, q). The gradients come out multiplied by `grad_scale` (plain gradient descent
        passes η and subtracts them as they are).
        """
        batch = x.shape[0]
        views = self._cut(batch)
        d = self.arch.layers[0]
        if x.shape[1] == d:
            first = views.x
            first[:, :d] = x
        else:
            first = x
        first = first[:, : d + 1]  # [x 1]
        weights, hidden, relu = self.weights, self.arch.hidden, self._relu
        last = len(weights) - 1
        inputs = first
        for i in range(last):  # hidden layer i + 1
            h = views.h[i]
            if i == 0:
                np.matmul(inputs, weights[0], out=h)  # h1 = [x 1][W1; b1ᵀ] = xW1 + b1
            else:
                np.matmul(inputs, self._W[i], out=h)
                np.add(h, self._b[i], out=h)
            a = views.a[i]
            if hidden.name == "relu":
                np.maximum(h, 0, out=a)
            elif hidden.name == "tanh":
                np.tanh(h, out=a)
            elif hidden.name == "identity":
                a[...] = h
            else:
                a[...] = ops.activation_forward(h, hidden)[0]
            inputs = a
        z = views.h[last]
        if last == 0:
            np.matmul(inputs, weights[0], out=z)
        else:
            np.matmul(inputs, self._W[last], out=z)
            np.add(z, self._b[last], out=z)
        dz = views.d[last]
        loss = self._loss_and_dz(views, z, target, dz, grad_scale)

        upstream = dz
        for i in range(last, 0, -1):  # weight layer i + 1, from the top
            np.matmul(views.a[i - 1].T, upstream, out=self._dW[i])  # ∂L/∂W = aᵀ ∂L/∂h
            np.add.reduce(upstream, axis=0, out=self._db[i])  # ∂L/∂b = Σ rows of ∂L/∂h
            dh = views.d[i - 1]
            np.matmul(upstream, self._WT[i], out=dh)  # ∂L/∂a, then ∂L/∂h in place
            if relu:
                mask = views.mask[i - 1]
                np.greater(views.h[i - 1], 0, out=mask)
                np.multiply(dh, mask, out=dh)
            else:
                self._activation_backward(views.h[i - 1], views.a[i - 1], dh)
            upstream = dh
        np.matmul(first.T, upstream, out=self.weight_grads[0])  # [∂W1; ∂b1ᵀ] = [x 1]ᵀ ∂h1
        self._loss = loss
        return loss

    def _activation_backward(self, h: np.ndarray, a: np.ndarray, da: np.ndarray) -> None:
        """∂L/∂h = ∂L/∂a ⊙ f′(h), in place in `da`."""
        hidden = self.arch.hidden
        if hidden.name == "tanh":
            np.multiply(da, 1 - a * a, out=da)
        elif hidden.name != "identity":
            da *= ops.activation_derivative(ops.ActivationCache(h, a), hidden)

    def _loss_and_dz(
        self, views: _Views, z: np.ndarray, target: np.ndarray, dz: np.ndarray, grad_scale: Any
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
        m, s, yhat, where = views.m, views.s, views.yhat, views.argmax
        big = z.size >= BIG_OUTPUT
        if big:
            np.argmax(z, axis=1, out=where)
            np.add(where, self._row_start[: z.shape[0]], out=where)
            np.take(z.reshape(-1), where, out=m.reshape(-1))  # m = max of each row of z
        else:
            np.maximum.reduce(z, axis=1, keepdims=True, out=m)
        np.subtract(z, m, out=yhat)
        np.exp(yhat, out=yhat)
        if big:
            np.matmul(yhat, self._ones_q, out=s)  # s = Σᵢ exp(zᵢ − m) per row
        else:
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
