"""The compiled training step: `FusedStep`'s job in one or a few numba-compiled calls.

The formulas are `core.ops`' and `optim`'s (tests/test_compiled.py checks every activation,
output, loss, reduction, depth, dtype and optimizer against the reference path and torch.optim).
What it changes, and why:

- one flat array (`work`) holds every buffer of a step: the batch, the stacked parameters
  [W; bᵀ] of every layer one after another (θ), their gradients, the optimizer's state, the
  activations. `weights`, `params`, `grads` are views into it. The update runs over θ as one
  vector, whatever the depth; a compiled call takes three arguments whatever the network;
- `loops`: the whole step (forward, loss, backward, update) is one compiled call whose matrix
  products are loops, with no temporary array: at the homework's size a NumPy step is twenty
  calls of a microsecond or more each, this is one;
- `blas`: the matrix products go through NumPy's BLAS (`matmul` into the step's buffers) and
  every elementwise pass is fused into one compiled loop beside them: bias and activation in
  one pass; bias, softmax, loss, ∂L/∂z and ∂L/∂b of the output in one; f′ and ∂L/∂b in one;
  the update of every parameter in one. A step of up to ONE_CALL_LIMIT multiply-adds is one
  compiled call too (`step_blas`: the products as numba's np.dot, SciPy's BLAS, into views of
  the buffers): at 64-128-10 and a batch of 64 the Python-side calls (five products, four
  passes) were 7 µs of a 33 µs step;
- `blas-torch`: `blas` with the matrix products through torch's BLAS (`torch.mm` into
  tensors that share the step's buffers, so nothing is copied), the same compiled passes beside
  them: on the 2-core Xeon this was measured on, torch's products beat NumPy's OpenBLAS by
  6-33 % at large shapes (the five products of 784-256-10 at a batch of 1024: 11.0 ms against
  14.6 ms in float64, 5.3 against 6.0 in float32), and cost ~5 µs a call more at small ones.
  With plain SGD (weight decay or not) the update of each W is fused into its gradient's
  product: one GEMM writes W ← (1 − ηλ)W − η aᵀ∂L/∂h in place (β = 1 − ηλ, α = −η), so the pass
  of the update over every weight (read θ and ∂L/∂θ, write θ: 200 MB a step at 1024-4096-1000)
  is gone; the biases are updated on their own, and ∂L/∂W is not kept (`grads` after `train`
  holds the biases' only; `run` fills every gradient);
- h is kept only where f′(h) cannot be read from a = f(h) (ReLU′(0) ≠ 0, a leaky slope ≤ 0);

numba is imported when the first compiled step is made, never at package import; its compiled
code is cached on disk (numba's `cache=True`, in `__pycache__` beside `_kernels.py`, or in
NUMBA_CACHE_DIR), so only the first run on a machine compiles. Where numba can write its cache
nowhere (it refuses `cache=True` then: "no locator available"), `available()` says so once and
imports the kernels again without the cache: every run compiles them (seconds). Without numba,
or when even that fails, `available()` says why once and training takes the NumPy path.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from types import ModuleType
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

import numpy as np

from handgrad.core.network import Architecture

if TYPE_CHECKING:
    from handgrad.train.optim import Optimizer

Mode = Literal["loops", "blas", "blas-torch"]
ALIGN = 64  # bytes: every buffer starts on a cache line (BLAS reads aligned rows faster)
LOOPS_LIMIT = 400_000  # multiply-adds per step below which `mode=None` takes the loops
ONE_CALL_LIMIT = 5_000_000  # multiply-adds up to which the `blas` mode's step is one call

_kernels: ModuleType | None = None
_missing: str | None = None
_told = False
cache_kernels = True  # read by `_kernels` as it is imported: numba's cache=True


def _import_kernels() -> ModuleType:
    """`_kernels`, with numba's disk cache, or without it where numba can write it nowhere."""
    global cache_kernels
    try:
        from handgrad.train import _kernels as module
    except ImportError:
        raise
    except Exception as error:  # numba refuses cache=True: "cannot cache function ..."
        if not cache_kernels:
            raise
        cache_kernels = False
        sys.modules.pop("handgrad.train._kernels", None)
        from handgrad.train import _kernels as module

        sys.stderr.write(f"handgrad: numba cannot cache its compiled code ({error}); the"
                         " compiled step compiles on every run (set NUMBA_CACHE_DIR to a"
                         " writable folder)\n")
    return module


def available() -> bool:
    """Whether numba's kernels can be imported; says once on stderr when they cannot."""
    global _kernels, _missing, _told
    if _kernels is not None:
        return True
    if _missing is None:
        try:
            module = _import_kernels()
        except Exception as error:  # no numba (ImportError), or numba failing to load them
            _missing = f"{type(error).__name__}: {error}" if not isinstance(
                error, ImportError) else str(error)
        else:
            _kernels = module
            return True
    if not _told:
        _told = True
        sys.stderr.write(f"handgrad: numba is not available ({_missing}); training takes the"
                         " NumPy path (pip install numba for the compiled one)\n")
    return False


def kernels() -> ModuleType:
    if not available():
        raise RuntimeError(f"the compiled step needs numba: {_missing}")
    assert _kernels is not None
    return _kernels


def multiply_adds(arch: Architecture, batch: int) -> int:
    """The multiply-adds of one step's matrix products (three per weight layer but one)."""
    layers = arch.layers
    per_row = sum(layers[i] * layers[i + 1] for i in range(len(layers) - 1))
    return batch * (3 * per_row - layers[0] * layers[1])


class _Views(NamedTuple):
    """Views of the buffers for one batch size (the matrix products of the `blas` modes):
    NumPy arrays, or torch tensors sharing their memory for `blas-torch`."""

    x: Any  # (B, d)
    target: Any  # (B, q)
    h: list[Any]  # h1, ..., z, each (B, n)
    a: list[Any]  # a1, ..., ŷ
    d: list[Any]  # ∂L/∂h1, ..., ∂L/∂z
    xT: Any  # xᵀ
    aT: list[Any]  # a1ᵀ, ...


class CompiledStep:
    """Forward, loss, backward and update of `arch` for batches of up to `max_batch` rows.

    The same surface as `FusedStep`: `weights` (stacked [W; bᵀ] per layer), `params` (W1, b1,
    ... as views into them), `weight_grads`, `grads`, `yhat`, `run` (gradients only) and
    `train` (a whole step with an optimizer). `mode` is "loops" (one call, products as loops),
    "blas" (products through NumPy's BLAS, elementwise passes compiled), "blas-torch" (the same
    with torch's BLAS) or None (loops or blas by the step's size; `train.backend_choice`
    measures instead).
    """

    def __init__(self, arch: Architecture, params: Mapping[str, np.ndarray], max_batch: int,
                 mode: Mode | None = None, one_call: bool | None = None) -> None:
        if arch.layout != "in_out":
            raise ValueError("the compiled step works on the in_out layout")
        k = kernels()
        self._k = k
        self.arch = arch
        self.max_batch = max_batch
        dtype = np.dtype(np.asarray(params["W1"]).dtype)
        if dtype not in (np.float32, np.float64):
            raise ValueError(f"the compiled step runs float32 or float64, not {dtype}")
        self.dtype = dtype
        if mode is None:
            mode = "loops" if multiply_adds(arch, max_batch) < LOOPS_LIMIT else "blas"
        self.mode: Mode = mode
        sizes = arch.layers
        depth = arch.depth
        per = ALIGN // dtype.itemsize

        def aligned(n: int) -> int:
            return -(-n // per) * per

        stacked = [(sizes[i] + 1) * sizes[i + 1] for i in range(depth)]
        weight_at = np.cumsum([0, *(aligned(n) for n in stacked)])
        n_params = int(weight_at[-1])
        act_sizes = [aligned(max_batch * n) for n in sizes[1:]]
        act_at = np.cumsum([0, *act_sizes])
        segments = {"const": k.CONST_SLOTS, "x": aligned(max_batch * sizes[0]),
                    "target": aligned(max_batch * sizes[-1]), "theta": n_params,
                    "grad": n_params, "m1": n_params, "m2": n_params,
                    "h": int(act_at[-1]), "a": int(act_at[-1]), "d": int(act_at[-1])}
        at: dict[str, int] = {}
        total = 0
        for name, length in segments.items():
            at[name] = total
            total += aligned(length)
        raw = np.zeros(total + per, dtype)
        shift = (-raw.ctypes.data % ALIGN) // dtype.itemsize
        self.work = work = raw[shift : shift + total]
        ints = np.zeros(k.LAYERS + 3 * (depth + 1), np.int64)
        ints[k.DEPTH] = depth
        ints[k.ACT] = ("relu", "leaky_relu", "sigmoid", "tanh", "identity").index(arch.hidden.name)
        heads = {("softmax", "cross_entropy"): k.XENT, ("softmax", "squared_error"): k.SOFTMAX_SE,
                 ("sigmoid", "squared_error"): k.SIGMOID_SE,
                 ("identity", "squared_error"): k.IDENTITY_SE}
        ints[k.HEAD] = heads[(arch.output, arch.loss)]
        ints[k.MEAN] = arch.reduction == "mean"
        act = arch.hidden
        ints[k.KEEP_H] = (act.name == "relu" and act.relu_grad_at_zero != 0) or (
            act.name == "leaky_relu" and not act.leaky_slope > 0)
        for name, slot in (("x", k.X), ("target", k.TARGET), ("theta", k.THETA),
                           ("grad", k.GRAD), ("m1", k.M1), ("m2", k.M2), ("h", k.H), ("a", k.A),
                           ("d", k.D), ("const", k.CONST)):
            ints[slot] = at[name]
        ints[k.PARAMS] = n_params
        ints[k.LAYERS : k.LAYERS + depth + 1] = sizes
        ints[k.LAYERS + depth + 1 : k.LAYERS + 2 * depth + 1] = weight_at[:-1]
        ints[k.LAYERS + 2 * depth + 1 : k.LAYERS + 3 * depth + 1] = act_at[:-1]
        self.ints = ints
        self.cfg = np.zeros(16)
        const = at["const"]
        work[const + k.C_ONE] = 1
        work[const + k.C_SLOPE] = act.leaky_slope
        work[const + k.C_AT_ZERO] = act.relu_grad_at_zero
        self._const = const

        def block(name: str, layer: int) -> np.ndarray:
            start = at[name] + int(weight_at[layer])
            return work[start : start + stacked[layer]].reshape(sizes[layer] + 1, -1)

        self.weights = [block("theta", i) for i in range(depth)]
        self.weight_grads = [block("grad", i) for i in range(depth)]
        self.first = [block("m1", i) for i in range(depth)]  # momentum v, or Adam's m
        self.second = [block("m2", i) for i in range(depth)]  # Adam's v
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}
        for layer in range(depth):
            self.weights[layer][:-1] = params[f"W{layer + 1}"]
            self.weights[layer][-1] = params[f"b{layer + 1}"]
            w, g = self.weights[layer], self.weight_grads[layer]
            self.params[f"W{layer + 1}"], self.params[f"b{layer + 1}"] = w[:-1], w[-1]
            self.grads[f"dW{layer + 1}"], self.grads[f"db{layer + 1}"] = g[:-1], g[-1]
        self._W = [w[:-1] for w in self.weights]
        self._WT = [w[:-1].T for w in self.weights]
        self._dW = [g[:-1] for g in self.weight_grads]
        self._products: tuple[Any, list[Any], list[Any], list[Any]] = (
            np.matmul, self._W, self._WT, self._dW)
        self._tensor_views: dict[int, _Views] = {}
        if mode == "blas-torch":
            import torch

            shared = torch.from_numpy  # the same memory: what torch.mm writes, the kernels read
            self._products = (torch.mm, [shared(w) for w in self._W],
                              [shared(w) for w in self._WT], [shared(g) for g in self._dW])
        self._at = at
        self._act_at = act_at
        self._views: dict[int, _Views] = {}
        self._batch = -1
        self._bound: Any = None  # the optimizer whose settings the buffers hold
        self._state_owner: Any = None  # the optimizer whose state (v, m, …) they hold
        self._lr = np.nan
        # blas-torch with plain SGD: (β, α, bias rows, their gradients) of the fused update
        self._fused_sgd: tuple[float, float, list[Any], list[Any]] | None = None
        # the blas mode's whole step as one compiled call (None: by the step's size)
        if one_call is None:
            one_call = multiply_adds(arch, max_batch) <= ONE_CALL_LIMIT
        self.one_call = bool(one_call) and mode == "blas"
        self._warm()

    def _warm(self) -> None:
        """Compile this mode's kernels for the dtype, or load them from numba's disk cache,
        now rather than inside the first timed step."""
        import numba

        k = self._k
        arrays = tuple(numba.typeof(a) for a in (self.work, self.ints, self.cfg))
        if self.mode == "loops":
            k.step_loops.compile(arrays)
            return
        for kernel in (k.forward_act, k.backward_act):
            kernel.compile((*arrays[:2], numba.int64))
        k.forward_output.compile(arrays)
        k.update.compile(arrays)
        if self.one_call:
            try:
                k.step_blas.compile(arrays)
            except Exception:  # numba's np.dot needs SciPy's BLAS: the products from Python
                self.one_call = False

    # --------------------------------------------------------------------- buffers

    def _cut(self, batch: int) -> _Views:
        views = self._views.get(batch)
        if views is None:
            if not 1 <= batch <= self.max_batch:
                raise ValueError(f"a batch of {batch} rows; this step takes 1 to "
                                 f"{self.max_batch}")
            sizes, at, work = self.arch.layers, self._at, self.work

            def rows(start: int, n: int) -> np.ndarray:
                return work[start : start + batch * n].reshape(batch, n)

            acts = [(int(self._act_at[i]), n) for i, n in enumerate(sizes[1:])]
            x = rows(at["x"], sizes[0])
            a = [rows(at["a"] + s, n) for s, n in acts]
            h = [rows(at["h"] + s, n) for s, n in acts]
            d = [rows(at["d"] + s, n) for s, n in acts]
            views = _Views(x, rows(at["target"], sizes[-1]), h, a, d, x.T, [v.T for v in a])
            self._views[batch] = views
            if self.mode == "blas-torch":
                from torch import from_numpy as shared

                def each(group: list[np.ndarray]) -> list[Any]:
                    return [shared(v) for v in group]

                self._tensor_views[batch] = _Views(
                    shared(x), shared(views.target), each(h), each(a), each(d), shared(x.T),
                    each(views.aT))
        if batch != self._batch:
            self.ints[self._k.BATCH] = batch
            self._batch = batch
        return views

    def batch_buffers(self, batch: int) -> tuple[np.ndarray, np.ndarray]:
        """The step's own (batch, d) input and (batch, q) target buffers: a batch gathered
        into them (np.take(..., out=)) is used where it lies, with no copy."""
        views = self._cut(batch)
        return views.x, views.target

    def prepare(self, x: np.ndarray) -> np.ndarray:
        """Rows in the form `train` takes them: C-contiguous, in the step's dtype."""
        return np.ascontiguousarray(x, dtype=self.dtype)

    with_ones = prepare  # FusedStep's name for the same service

    @property
    def yhat(self) -> np.ndarray:
        """ŷ of the last batch (a view, overwritten by the next step)."""
        return self._cut(max(self._batch, 1)).a[-1]

    @property
    def loss(self) -> float:
        """L of the last step."""
        return float(self.cfg[self._k.LOSS])

    def _load(self, x: np.ndarray, target: np.ndarray) -> _Views:
        views = self._cut(x.shape[0])
        if x is not views.x:
            views.x[...] = x
        if target is not views.target:
            views.target[...] = target
        return views

    # ------------------------------------------------------------------------ steps

    def run(self, x: np.ndarray, target: np.ndarray, grad_scale: Any = 1.0) -> float:
        """Fill the gradients (times `grad_scale`) for a batch and return the loss L."""
        k = self._k
        views = self._load(x, target)
        self.ints[k.OPT] = k.GRADIENTS_ONLY
        self.cfg[k.SCALE] = grad_scale
        self._bound = None
        self._fused_sgd = None
        return self._step(views)

    def train(self, x: np.ndarray, target: np.ndarray, optimizer: Optimizer) -> float:
        """One whole training step (forward, loss, backward, the optimizer's update); L."""
        views = self._load(x, target)
        if optimizer is not self._bound or optimizer.learning_rate != self._lr:
            self._bind(optimizer)
        optimizer.steps += 1
        return self._step(views)

    def advance(self, x: np.ndarray, target: np.ndarray, optimizer: Optimizer) -> None:
        """`train` without handing the loss back (`loss` reads it when asked)."""
        self.train(x, target, optimizer)

    def _step(self, views: _Views) -> float:
        k, work, ints, cfg = self._k, self.work, self.ints, self.cfg
        if self.mode == "loops":
            return float(k.step_loops(work, ints, cfg))
        if self.one_call:
            return float(k.step_blas(work, ints, cfg))
        # np.matmul on NumPy views, or torch.mm on tensors sharing them (blas-torch)
        matmul, W, WT, dW = self._products
        if self.mode == "blas-torch":
            views = self._tensor_views[self._batch]
        depth = len(self.weights)
        source = views.x
        for layer in range(depth - 1):
            matmul(source, W[layer], out=views.h[layer])
            k.forward_act(work, ints, layer)
            source = views.a[layer]
        matmul(source, W[-1], out=views.h[-1])
        loss = k.forward_output(work, ints, cfg)
        fused = self._fused_sgd
        for layer in range(depth - 1, 0, -1):
            upstream = views.d[layer]
            matmul(upstream, WT[layer], out=views.d[layer - 1])  # ∂L/∂a = ∂L/∂h Wᵀ, W as was
            if fused:  # W ← βW + α aᵀ ∂L/∂h, the SGD update in the product
                W[layer].addmm_(views.aT[layer - 1], upstream, beta=fused[0], alpha=fused[1])
            else:
                matmul(views.aT[layer - 1], upstream, out=dW[layer])  # ∂L/∂W = aᵀ ∂L/∂h
            k.backward_act(work, ints, layer - 1)
        if fused:
            W[0].addmm_(views.xT, views.d[0], beta=fused[0], alpha=fused[1])
            for bias, grad in zip(fused[2], fused[3], strict=True):  # b ← βb + α ∂L/∂b
                bias.mul_(fused[0]).add_(grad, alpha=fused[1])
        else:
            matmul(views.xT, views.d[0], out=dW[0])
            k.update(work, ints, cfg)
        cfg[k.LOSS] = loss
        return float(loss)

    def _bind(self, optimizer: Optimizer) -> None:
        """Write the optimizer's settings into the buffers and adopt its state."""
        k, cfg, work, c = self._k, self.cfg, self.work, self._const
        if optimizer is not self._bound:
            owner = self._state_owner  # (by identity: equal settings are not one rule)
            if owner is not None and owner is not optimizer:
                owner.release_state(self.first, np.copy)
            self._state_owner = optimizer
            # state made by an earlier step object (partial_fit builds one per call) goes on
            if optimizer.steps and optimizer._first:
                for mine, theirs in zip(self.first, optimizer._first, strict=True):
                    if mine is not theirs:
                        mine[...] = theirs
                for mine, theirs in zip(self.second, optimizer._second or self.second,
                                        strict=True):
                    if mine is not theirs:
                        mine[...] = theirs
            elif not optimizer.steps:  # a fresh rule starts from zero, not another's state
                for state in (*self.first, *self.second):
                    state[...] = 0
            optimizer._first, optimizer._scratch = self.first, self.weight_grads
            optimizer._second = self.second if optimizer.name == "adam" else []
            self.ints[k.T] = optimizer.steps
        codes = {"sgd": k.SGD, "momentum": k.MOMENTUM_OPT, "nesterov": k.NESTEROV,
                 "adam": k.ADAM}
        self.ints[k.OPT] = codes[optimizer.name]
        cfg[k.SCALE] = 1.0
        cfg[k.LR], cfg[k.MOMENTUM] = optimizer.learning_rate, optimizer.momentum
        cfg[k.BETA1], cfg[k.BETA2] = optimizer.beta1, optimizer.beta2
        cfg[k.EPS], cfg[k.DECAY] = optimizer.eps, optimizer.weight_decay
        for slot, value in ((k.C_LR, optimizer.learning_rate), (k.C_MOMENTUM, optimizer.momentum),
                            (k.C_BETA1, optimizer.beta1), (k.C_BETA2, optimizer.beta2),
                            (k.C_EPS, optimizer.eps), (k.C_DECAY, optimizer.weight_decay),
                            (k.C_1MB1, 1 - optimizer.beta1), (k.C_1MB2, 1 - optimizer.beta2)):
            work[c + slot] = value
        self._bound = optimizer
        self._lr = optimizer.learning_rate
        self._fused_sgd = None
        if self.mode == "blas-torch" and optimizer.name == "sgd":
            from torch import from_numpy as shared

            rate = optimizer.learning_rate
            self._fused_sgd = (1 - rate * optimizer.weight_decay, -rate,
                               [shared(w[-1]) for w in self.weights],
                               [shared(g[-1]) for g in self.weight_grads])
