"""The torch step: the same formulas on torch tensors, on the CPU or a CUDA GPU, no autograd.

The output functions are the table's own (`core.activations`: each rule takes the array
namespace `xp`), run here through `TorchNamespace`, a thin torch spelling of the Array API subset
those rules use. The hidden activations are the table's formulas written with torch's own
kernels (`HIDDEN`): on the CPU, torch.where and masked_fill over a boolean mask run some eight
times slower than an arithmetic pass (1.2 ms against 0.15 ms for 1024 × 256 float64, one thread),
so the table's where-based rules would cost a large step more than its smallest matrix products.
The losses, the backward pass and the update are `core.ops`', `core.network`'s and `optim`'s
formulas written with torch operations (tests check every activation, output, loss, reduction,
depth and dtype against the reference path, and the optimizers against torch.optim). Autograd is
off throughout: every gradient is the hand-written one.

On a GPU the whole step (forward, loss, backward, update) of a full batch is captured once as
a CUDA graph and replayed: one launch per step instead of some forty kernels, each of which
would cost more to launch than to run at these sizes. The learning rate and the step count t
live in device tensors so that a schedule or Adam's bias correction needs no new capture; the
loss stays on the device until asked for (`loss`).

(core.backend.namespace_of knows NumPy and object arrays only; this module's namespace is
handed to the table's rules directly, so nothing in core changes.)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from handgrad.core.activations import OUTPUTS, Activation
from handgrad.core.network import Architecture

if TYPE_CHECKING:
    from handgrad.train.optim import Optimizer


class TorchNamespace:
    """The Array API subset of `core.backend` (exp, log, tanh, abs, where, sum, max, greater,
    greater_equal, equal, zeros_like, ones_like) in torch's spelling."""

    def __init__(self) -> None:
        import torch

        self.torch = torch
        self.exp, self.log, self.tanh, self.abs = torch.exp, torch.log, torch.tanh, torch.abs
        self.greater, self.greater_equal, self.equal = torch.gt, torch.ge, torch.eq
        self.zeros_like, self.ones_like = torch.zeros_like, torch.ones_like

    def where(self, condition: Any, x1: Any, x2: Any) -> Any:
        return self.torch.where(condition, x1, x2)

    def sum(self, x: Any, axis: int | None = None, keepdims: bool = False) -> Any:
        return x.sum() if axis is None else x.sum(dim=axis, keepdim=keepdims)

    def max(self, x: Any, axis: int | None = None, keepdims: bool = False) -> Any:
        return x.max() if axis is None else x.amax(dim=axis, keepdim=keepdims)


def _relu_backward(torch: Any, da: Any, h: Any, a: Any, act: Activation) -> Any:
    """∂L/∂a ⊙ ReLU′(h), in place in `da`: ∂L/∂a where h > 0, 0 where h < 0, at_zero·∂L/∂a at
    h = 0."""
    aten = torch.ops.aten
    if not act.relu_grad_at_zero:
        return aten.threshold_backward.grad_input(da, h, 0, grad_input=da)
    at_zero = torch.eq(h, 0).to(da.dtype).mul_(da).mul_(act.relu_grad_at_zero)
    return aten.threshold_backward.grad_input(da, h, 0, grad_input=da).add_(at_zero)


# name: (a = f(h) written into `out`, ∂L/∂h = ∂L/∂a ⊙ f′(h) written over ∂L/∂a), the formulas
# of core.activations.ACTIVATIONS; every one writes into the step's own buffers (at `wide`, a
# fresh 16 MB array costs more than the pass that fills it)
HIDDEN: dict[str, tuple[Callable[..., Any], Callable[..., Any]]] = {
    "relu": (lambda torch, h, act, out: torch.clamp_min(h, 0, out=out), _relu_backward),
    "leaky_relu": (
        lambda torch, h, act, out: torch._C._nn.leaky_relu(h, act.leaky_slope, out=out),
        # ∂L/∂a where h > 0, α·∂L/∂a elsewhere (α at 0, as the table)
        lambda torch, da, h, a, act: torch.ops.aten.leaky_relu_backward.grad_input(
            da, h, act.leaky_slope, False, grad_input=da)),
    "sigmoid": (lambda torch, h, act, out: torch.sigmoid(h, out=out),
                lambda torch, da, h, a, act: torch.ops.aten.sigmoid_backward.grad_input(
                    da, a, grad_input=da)),  # ∂L/∂a · a(1 − a)
    "tanh": (lambda torch, h, act, out: torch.tanh(h, out=out),
             lambda torch, da, h, a, act: torch.ops.aten.tanh_backward.grad_input(
                 da, a, grad_input=da)),  # ∂L/∂a · (1 − a²)
    "identity": (lambda torch, h, act, out: h, lambda torch, da, h, a, act: da),
}


class TorchStep:
    """Forward, loss, backward and update of `arch` on torch tensors (`device` cpu or cuda).

    The surface of `FusedStep`: `weights` (NumPy [W; bᵀ] per layer: on the CPU they share the
    tensors' memory, on a GPU they are host copies refreshed by `sync`), `params`, `grads`,
    `batch_buffers`, `prepare`, `run`, `train`, `loss`.
    """

    def __init__(self, arch: Architecture, params: Mapping[str, np.ndarray], max_batch: int,
                 device: str = "cpu", graph: bool | None = None) -> None:
        import torch

        if arch.layout != "in_out":
            raise ValueError("the torch step works on the in_out layout")
        self.torch = torch
        self.xp = TorchNamespace()
        self.arch = arch
        self.max_batch = max_batch
        self.device = torch.device(device)
        if self.device.type == "cuda" and not torch.cuda.is_available():
            from handgrad.errors import HandgradError

            raise HandgradError(f"--device {device}: torch sees no CUDA GPU here"
                                f" (torch {torch.__version__}); use --device cpu")
        self.dtype = np.dtype(np.asarray(params["W1"]).dtype)
        tdtype = {np.dtype(np.float32): torch.float32, np.dtype(np.float64): torch.float64}[
            self.dtype]
        self.tdtype = tdtype
        self.mode = f"torch-{self.device}"
        on: dict[str, Any] = {"device": self.device, "dtype": tdtype}
        sizes = arch.layers
        self._w = []
        for layer in range(1, arch.depth + 1):
            stacked = np.empty((sizes[layer - 1] + 1, sizes[layer]), self.dtype)
            stacked[:-1], stacked[-1] = params[f"W{layer}"], params[f"b{layer}"]
            self._w.append(torch.from_numpy(stacked).to(**on))
        self._g = [torch.zeros_like(w) for w in self._w]
        self._first = [torch.zeros_like(w) for w in self._w]
        self._second = [torch.zeros_like(w) for w in self._w]
        # the update's own buffers, made by _bind for the rules that need them (before any
        # CUDA graph capture): g + λθ with weight decay; Adam's and Nesterov's term
        self._decayed: list[Any] = [None] * len(self._w)
        self._scratch: list[Any] = [None] * len(self._w)
        cpu = self.device.type == "cpu"
        self.weights = [w.numpy() if cpu else w.cpu().numpy() for w in self._w]
        self.weight_grads = [g.numpy() if cpu else g.cpu().numpy() for g in self._g]
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}
        for layer, (w, g) in enumerate(zip(self.weights, self.weight_grads, strict=True), 1):
            self.params[f"W{layer}"], self.params[f"b{layer}"] = w[:-1], w[-1]
            self.grads[f"dW{layer}"], self.grads[f"db{layer}"] = g[:-1], g[-1]
        self._x = torch.zeros((max_batch, sizes[0]), **on)
        self._target = torch.zeros((max_batch, sizes[-1]), **on)
        pin = not cpu
        self._host_x = self._x if cpu else torch.zeros(self._x.shape, dtype=tdtype).pin_memory()
        self._host_t = (self._target if cpu else
                        torch.zeros(self._target.shape, dtype=tdtype).pin_memory())
        self._host_views: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self._pinned = pin
        scalars: dict[str, Any] = {"device": self.device, "dtype": torch.float64}
        self._lr = torch.zeros((), **scalars)
        self._t = torch.zeros((), **scalars)
        self._loss = torch.zeros((), **scalars)
        self._yhat = torch.zeros((max_batch, sizes[-1]), **on)
        hidden = sizes[1:-1]  # per hidden layer: h, a = f(h), and ∂L/∂a then ∂L/∂h
        self._h = [torch.zeros((max_batch, width), **on) for width in hidden]
        keeps_a = arch.hidden.name != "identity"  # identity's a is h itself
        self._a = [torch.zeros((max_batch, width) if keeps_a else (0,), **on) for width in hidden]
        self._da = [torch.zeros((max_batch, width), **on) for width in hidden]
        self._batch = max_batch
        self._bound: Any = None
        self._state_owner: Any = None  # the optimizer whose state (v, m, …) the buffers hold
        self._lr_value = np.nan
        self._graph: Any = None
        self._graph_wanted = (not cpu) if graph is None else graph

    # --------------------------------------------------------------------- buffers

    def batch_buffers(self, batch: int) -> tuple[np.ndarray, np.ndarray]:
        """NumPy views of the step's (pinned, on a GPU) input and target buffers."""
        views = self._host_views.get(batch)
        if views is None:
            views = (self._host_x[:batch].numpy(), self._host_t[:batch].numpy())
            self._host_views[batch] = views
        return views

    def prepare(self, x: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(x, dtype=self.dtype)

    with_ones = prepare

    @property
    def loss(self) -> float:
        return float(self._loss.item())

    @property
    def yhat(self) -> np.ndarray:
        return self._yhat[: self._batch].cpu().numpy()

    def sync(self) -> None:
        """Copy the parameters back to the host arrays (a GPU step; a no-op on the CPU)."""
        if self.device.type != "cpu":
            for host, w, hg, g in zip(self.weights, self._w, self.weight_grads, self._g,
                                      strict=True):
                host[...] = w.cpu().numpy()
                hg[...] = g.cpu().numpy()

    def _load(self, x: Any, target: Any) -> int:
        batch = x.shape[0]
        if not 1 <= batch <= self.max_batch:
            raise ValueError(f"a batch of {batch} rows; this step takes 1 to {self.max_batch}")
        hx, ht = self.batch_buffers(batch)
        if x is not hx:
            hx[...] = x
        if target is not ht:
            ht[...] = target
        if self._pinned:
            self._x[:batch].copy_(self._host_x[:batch], non_blocking=True)
            self._target[:batch].copy_(self._host_t[:batch], non_blocking=True)
        self._batch = batch
        return batch

    # ------------------------------------------------------------------------ steps

    def run(self, x: Any, target: Any, grad_scale: Any = 1.0) -> float:
        """Fill the gradients (times `grad_scale`) for a batch and return the loss L."""
        batch = self._load(x, target)
        with self.torch.no_grad():
            self._compute(batch, float(grad_scale), None)
        self.sync()
        return self.loss

    def train(self, x: Any, target: Any, optimizer: Optimizer) -> float:
        """One whole training step with `optimizer`'s rule; returns L (on a GPU this waits for
        the step: `advance` does not)."""
        self.advance(x, target, optimizer)
        return self.loss

    def advance(self, x: Any, target: Any, optimizer: Optimizer) -> None:
        """One whole training step; the loss stays on the device (`loss` reads it)."""
        batch = self._load(x, target)
        if optimizer is not self._bound or optimizer.learning_rate != self._lr_value:
            self._bind(optimizer)
        optimizer.steps += 1
        with self.torch.no_grad():
            if self._graph_wanted and batch == self.max_batch:
                if self._graph is None:
                    self._capture(optimizer)
                else:
                    self._graph.replay()
            else:
                self._compute(batch, 1.0, optimizer)

    def _bind(self, optimizer: Optimizer) -> None:
        if optimizer is not self._bound:
            owner = self._state_owner  # (by identity: equal settings are not one rule)
            if owner is not None and owner is not optimizer:
                owner.release_state(self._first, self.torch.clone)
            self._state_owner = optimizer
            if optimizer.steps and optimizer._first:  # state of an earlier step object
                for mine, theirs in zip(self._first, optimizer._first, strict=True):
                    mine.copy_(self.torch.as_tensor(theirs))
                for mine, theirs in zip(self._second, optimizer._second or self._second,
                                        strict=True):
                    mine.copy_(self.torch.as_tensor(theirs))
            elif not optimizer.steps:  # a fresh rule starts from zero, not another's state
                for state in (*self._first, *self._second):
                    state.zero_()
            optimizer._first, optimizer._scratch = self._first, self._g
            optimizer._second = self._second if optimizer.name == "adam" else []
            self._t.fill_(optimizer.steps)
            if self._bound is not None:
                self._graph = None  # another rule: capture again
        if optimizer.weight_decay and self._decayed[0] is None:
            self._decayed = [self.torch.zeros_like(w) for w in self._w]
        if optimizer.name in ("adam", "nesterov") and self._scratch[0] is None:
            self._scratch = [self.torch.zeros_like(w) for w in self._w]
        self._lr.fill_(optimizer.learning_rate)
        self._bound = optimizer
        self._lr_value = optimizer.learning_rate

    def _capture(self, optimizer: Optimizer) -> None:
        """Warm up on a side stream, then record the step as a CUDA graph (the capture runs
        it once, which is this call's step)."""
        torch = self.torch
        saved = [w.clone() for w in (*self._w, *self._first, *self._second)]
        t0 = self._t.clone()
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            self._compute(self.max_batch, 1.0, optimizer)  # allocator warm-up, then undone
        torch.cuda.current_stream().wait_stream(side)
        for tensor, kept in zip((*self._w, *self._first, *self._second), saved, strict=True):
            tensor.copy_(kept)
        self._t.copy_(t0)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            self._compute(self.max_batch, 1.0, optimizer)
        graph.replay()
        self._graph = graph

    def _compute(self, batch: int, grad_scale: float, optimizer: Optimizer | None) -> None:
        """The step's formulas on tensors (graph-safe: no host sync, no data-dependent branch)."""
        torch, xp, arch = self.torch, self.xp, self.arch
        act = arch.hidden
        forward, backward = HIDDEN[act.name]
        x, target = self._x[:batch], self._target[:batch]
        depth = len(self._w)
        hs, acts = [], []
        inputs = x
        for layer in range(depth - 1):
            w = self._w[layer]
            h = torch.addmm(w[-1], inputs, w[:-1], out=self._h[layer][:batch])  # h = aW + b
            inputs = forward(torch, h, act, self._a[layer][:batch])
            hs.append(h)
            acts.append(inputs)
        z = torch.addmm(self._w[-1][-1], inputs, self._w[-1][:-1])
        scale = grad_scale / batch if arch.reduction == "mean" else grad_scale
        if arch.fused_softmax_cross_entropy:
            log_yhat = torch.log_softmax(z, dim=1)  # z − max − log Σ exp(z − max), per row
            per_instance = -(target * log_yhat).sum(dim=1)
            yhat = torch.exp(log_yhat, out=self._yhat[:batch])
            dz = (yhat - target).mul_(scale)  # ŷ − yˢ: valid as every row of yˢ sums to 1
        else:
            rule = OUTPUTS[arch.output]
            yhat = rule.forward(xp, z)
            diff = yhat - target
            per_instance = (diff * diff).sum(dim=1) / 2
            dz = rule.backward(xp, diff * scale, yhat)
        loss = per_instance.sum(dtype=torch.float64)
        self._loss.copy_(loss / batch if arch.reduction == "mean" else loss)
        if yhat.data_ptr() != self._yhat.data_ptr():
            self._yhat[:batch].copy_(yhat)
        upstream = dz
        for layer in range(depth - 1, -1, -1):
            below = x if layer == 0 else acts[layer - 1]
            grad = self._g[layer]
            torch.mm(below.T, upstream, out=grad[:-1])  # ∂L/∂W = aᵀ ∂L/∂h
            torch.sum(upstream, dim=0, out=grad[-1])  # ∂L/∂b = Σ rows
            if layer > 0:
                da = torch.mm(upstream, self._w[layer][:-1].T,
                              out=self._da[layer - 1][:batch])  # ∂L/∂a = ∂L/∂h Wᵀ
                upstream = backward(torch, da, hs[layer - 1], acts[layer - 1], act)
        if optimizer is not None:
            self._update(optimizer)

    def _update(self, optimizer: Optimizer) -> None:
        """torch.optim's rules (see `optim`), with t and η in device tensors, each written as
        in-place passes into the step's own buffers: a temporary as large as W1 costs more than
        the arithmetic (fresh pages from the system at every step; 26 ms of a 300 ms step at
        `wide` float64 when written g * lr)."""
        torch = self.torch
        self._t.add_(1)
        dtype = self.tdtype
        lr = self._lr.to(dtype)
        decay = optimizer.weight_decay
        mu = optimizer.momentum
        if optimizer.name == "adam":
            b1, b2 = optimizer.beta1, optimizer.beta2
            correction1 = 1 - torch.pow(torch.full_like(self._t, b1), self._t)
            correction2 = 1 - torch.pow(torch.full_like(self._t, b2), self._t)
            root2 = torch.sqrt(correction2).to(dtype)
            step = (self._lr / correction1).to(dtype)
        first = torch.where(self._t > 1, torch.full_like(self._t, mu), 0.0).to(dtype)
        for theta, grad, m, v, g, u in zip(self._w, self._g, self._first, self._second,
                                           self._decayed, self._scratch, strict=True):
            g = torch.add(grad, theta, alpha=decay, out=g) if decay else grad  # g + λθ
            if optimizer.name == "sgd":
                theta.addcmul_(g, lr, value=-1)  # θ − η g
            elif optimizer.name == "adam":
                m.mul_(b1).add_(g, alpha=1 - b1)  # β₁m + (1 − β₁)g
                v.mul_(b2).addcmul_(g, g, value=1 - b2)  # β₂v + (1 − β₂)g²
                torch.sqrt(v, out=u).div_(root2).add_(optimizer.eps)
                torch.div(m, u, out=u)  # m / (√v / √(1 − β₂ᵗ) + ε)
                theta.addcmul_(u, step, value=-1)  # θ − η/(1 − β₁ᵗ) · that
            else:
                m.mul_(first).add_(g)  # v = g at the first step, μv + g after
                if optimizer.name == "nesterov":
                    theta.addcmul_(torch.add(g, m, alpha=mu, out=u), lr, value=-1)  # g + μv
                else:
                    theta.addcmul_(m, lr, value=-1)
