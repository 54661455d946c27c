"""The compiled kernels of the training step (numba); imported only by `train.compiled`.

Every kernel takes the step's three arrays: `work`, one flat array in the run's dtype that holds
every buffer of the step (the batch, the parameters, their gradients, the optimizer's state, the
activations), `ints`, the integer layout (sizes and offsets, codes, the step count t), and `cfg`,
the float64 settings (slopes, η, β, ...) and the last loss. One buffer means one argument to
pass: calling a compiled function costs about 0.1 µs per argument, which at the homework's size
is most of a step. `train.compiled` lays the buffers out and documents the slots.

The formulas are those of `core.ops` and `optim`, written as loops:

- hidden activations: ReLU (ReLU′(0) from the settings), leaky ReLU, sigmoid (overflow-free
  form), tanh, identity; f′ from h, or from a where it determines it;
- softmax with cross-entropy fused: Lᵦ = −Σᵢ yˢᵢ (zᵢ − m − ln s), ∂L/∂z = ŷ − yˢ (valid since
  every row of yˢ sums to 1), m = max z, s = Σ exp(z − m); the squared error through softmax's,
  σ's or the identity's Jacobian;
- the update: SGD, momentum, Nesterov, Adam, with weight decay g = ∂L/∂θ + λθ, torch's formulas.
"""

from __future__ import annotations

import math
from typing import Any

import numba
import numpy

# ints: what each slot holds (train.compiled writes them)
DEPTH, ACT, HEAD, MEAN, OPT, T, BATCH, KEEP_H = 0, 1, 2, 3, 4, 5, 6, 7
X, TARGET, THETA, GRAD, M1, M2, H, A, D, CONST, PARAMS = 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18
LAYERS = 24  # sizes d, n1, ..., q, then the weight offsets, then the activation offsets
# cfg (float64): settings and the last loss
SLOPE, AT_ZERO, SCALE, LR, MOMENTUM, BETA1, BETA2, EPS, DECAY, LOSS = range(10)
# the CONST slots of `work` (the same settings in the run's dtype, and scratch for casts)
C_ZERO, C_ONE, C_SLOPE, C_AT_ZERO, C_LR, C_MOMENTUM, C_BETA1, C_BETA2, C_EPS, C_DECAY = range(10)
C_1MB1, C_1MB2, C_CAST1, C_CAST2 = 10, 11, 12, 13
CONST_SLOTS = 16

RELU, LEAKY, SIGMOID, TANH, IDENTITY = range(5)
XENT, SOFTMAX_SE, SIGMOID_SE, IDENTITY_SE = range(4)
GRADIENTS_ONLY, SGD, MOMENTUM_OPT, NESTEROV, ADAM = range(5)

from handgrad.train import compiled as _compiled  # noqa: E402  (already imported: it imports this)

# cache=False when numba found nowhere to write its cache (`compiled.available` retries so)
jit = numba.njit(cache=_compiled.cache_kernels, nogil=True, error_model="numpy",
                 fastmath={"reassoc", "contract"})


@jit
def size(ints: Any, layer: int) -> int:
    return ints[LAYERS + layer]


@jit
def weight_at(ints: Any, layer: int) -> int:
    """Where the stacked [W; bᵀ] of weight layer `layer` (0-based) starts, within θ."""
    return ints[LAYERS + ints[DEPTH] + 1 + layer]


@jit
def act_at(ints: Any, layer: int) -> int:
    """Where layer `layer`'s (B, n) activations start, within H, A and D."""
    return ints[LAYERS + 2 * ints[DEPTH] + 1 + layer]


# ------------------------------------------------------------------ elementwise passes
# Each pass works on 2-D views of `work` indexed by loop counters (which the compiler knows are
# not negative, so it vectorises the inner loops), with the choice of function made outside
# the loops.


@jit
def view(work: Any, start: int, rows: int, cols: int) -> Any:
    return work[start : start + rows * cols].reshape((rows, cols))


@jit
def forward_act(work: Any, ints: Any, layer: int) -> None:
    """h ← h + b and a = f(h) for hidden layer `layer` (0-based), h = a_prev W already in H."""
    batch, fan_in, n = ints[BATCH], size(ints, layer), size(ints, layer + 1)
    c = ints[CONST]
    kind, keep = ints[ACT], ints[KEEP_H]
    slope, zero, one = work[c + C_SLOPE], work[c + C_ZERO], work[c + C_ONE]
    b = view(work, ints[THETA] + weight_at(ints, layer) + fan_in * n, 1, n)
    h = view(work, ints[H] + act_at(ints, layer), batch, n)
    a = view(work, ints[A] + act_at(ints, layer), batch, n)
    for r in range(batch):
        if keep:
            for j in range(n):
                h[r, j] += b[0, j]
        if kind == RELU:
            if keep:
                for j in range(n):
                    a[r, j] = max(h[r, j], zero)
            else:
                for j in range(n):
                    a[r, j] = max(h[r, j] + b[0, j], zero)
        elif kind == LEAKY:
            for j in range(n):
                v = h[r, j] if keep else h[r, j] + b[0, j]
                a[r, j] = v if v > zero else slope * v
        elif kind == SIGMOID:
            for j in range(n):
                v = h[r, j] + b[0, j]
                e = math.exp(-abs(v))
                a[r, j] = one / (one + e) if v >= zero else e / (one + e)
        elif kind == TANH:
            for j in range(n):
                a[r, j] = math.tanh(h[r, j] + b[0, j])
        else:
            for j in range(n):
                a[r, j] = h[r, j] + b[0, j]


@jit
def backward_act(work: Any, ints: Any, layer: int) -> None:
    """∂L/∂h = ∂L/∂a ⊙ f′(h) in place in D, and ∂L/∂b = Σ rows of it, for hidden `layer`."""
    batch, fan_in, n = ints[BATCH], size(ints, layer), size(ints, layer + 1)
    c = ints[CONST]
    kind, keep = ints[ACT], ints[KEEP_H]
    slope, at_zero = work[c + C_SLOPE], work[c + C_AT_ZERO]
    zero, one = work[c + C_ZERO], work[c + C_ONE]
    db = view(work, ints[GRAD] + weight_at(ints, layer) + fan_in * n, 1, n)
    # where f′ is decided by a (ReLU′(0) = 0, a positive leaky slope), h is not kept
    h = view(work, (ints[H] if keep else ints[A]) + act_at(ints, layer), batch, n)
    a = view(work, ints[A] + act_at(ints, layer), batch, n)
    d = view(work, ints[D] + act_at(ints, layer), batch, n)
    for j in range(n):
        db[0, j] = zero
    for r in range(batch):
        if kind == RELU:
            if at_zero == zero:
                for j in range(n):
                    d[r, j] = d[r, j] if h[r, j] > zero else zero
            else:
                for j in range(n):
                    g = one if h[r, j] > zero else (at_zero if h[r, j] == zero else zero)
                    d[r, j] *= g
        elif kind == LEAKY:
            for j in range(n):
                d[r, j] *= one if h[r, j] > zero else slope
        elif kind == SIGMOID:
            for j in range(n):
                d[r, j] *= a[r, j] * (one - a[r, j])
        elif kind == TANH:
            for j in range(n):
                d[r, j] *= one - a[r, j] * a[r, j]
        for j in range(n):
            db[0, j] += d[r, j]


@jit
def forward_output(work: Any, ints: Any, cfg: Any) -> float:
    """z ← z + b, ŷ, the loss, ∂L/∂z · scale (into D) and ∂L/∂b of the last layer: one pass."""
    depth, batch = ints[DEPTH], ints[BATCH]
    q = size(ints, depth)
    c = ints[CONST]
    zero, one = work[c + C_ZERO], work[c + C_ONE]
    last = depth - 1
    fan_in = size(ints, last)
    b = view(work, ints[THETA] + weight_at(ints, last) + fan_in * q, 1, q)
    db = view(work, ints[GRAD] + weight_at(ints, last) + fan_in * q, 1, q)
    z = view(work, ints[H] + act_at(ints, last), batch, q)
    y = view(work, ints[A] + act_at(ints, last), batch, q)  # A holds ŷ here
    d = view(work, ints[D] + act_at(ints, last), batch, q)
    t = view(work, ints[TARGET], batch, q)
    head = ints[HEAD]
    # the gradient's factor: grad_scale, times 1/B for the mean; cast to the run's dtype
    work[c + C_CAST1] = cfg[SCALE] * (1.0 / batch) if ints[MEAN] else cfg[SCALE]
    scale = work[c + C_CAST1]
    half = one / (one + one)
    for j in range(q):
        db[0, j] = zero
    total = 0.0
    for r in range(batch):
        for j in range(q):
            z[r, j] += b[0, j]
        m = z[r, 0]
        s = one
        if head in (XENT, SOFTMAX_SE):
            for j in range(1, q):
                m = max(m, z[r, j])
            s = zero
            for j in range(q):
                e = math.exp(z[r, j] - m)
                y[r, j] = e
                s += e
            for j in range(q):
                y[r, j] = y[r, j] / s
        elif head == SIGMOID_SE:
            for j in range(q):
                e = math.exp(-abs(z[r, j]))
                y[r, j] = one / (one + e) if z[r, j] >= zero else e / (one + e)
        else:
            for j in range(q):
                y[r, j] = z[r, j]
        if head == XENT:
            log_s = math.log(s)
            row = zero
            for j in range(q):
                row -= t[r, j] * ((z[r, j] - m) - log_s)
                d[r, j] = (y[r, j] - t[r, j]) * scale  # ŷ − yˢ, valid as Σ yˢ = 1
            total += row
        else:
            row = zero
            dot = zero  # Σᵢ ∂L/∂ŷᵢ ŷᵢ, for softmax's Jacobian
            for j in range(q):
                diff = y[r, j] - t[r, j]
                row += diff * diff
                g = diff * scale  # ∂L/∂ŷ
                d[r, j] = g
                dot += g * y[r, j]
            total += row * half
            if head == SOFTMAX_SE:
                for j in range(q):
                    d[r, j] = y[r, j] * (d[r, j] - dot)
            elif head == SIGMOID_SE:
                for j in range(q):
                    d[r, j] = d[r, j] * y[r, j] * (one - y[r, j])
        for j in range(q):
            db[0, j] += d[r, j]
    return total / batch if ints[MEAN] else total


@jit
def update(work: Any, ints: Any, cfg: Any) -> None:
    """θ ← θ − η·(the optimizer's step) over every parameter at once (torch.optim's rules)."""
    kind = ints[OPT]
    if kind == GRADIENTS_ONLY:
        return
    ints[T] += 1
    t = ints[T]
    c = ints[CONST]
    count = ints[PARAMS]
    theta = work[ints[THETA] : ints[THETA] + count]
    grad = work[ints[GRAD] : ints[GRAD] + count]
    m1 = work[ints[M1] : ints[M1] + count]
    m2 = work[ints[M2] : ints[M2] + count]
    lr, mu, decay = work[c + C_LR], work[c + C_MOMENTUM], work[c + C_DECAY]
    b1, b2, eps = work[c + C_BETA1], work[c + C_BETA2], work[c + C_EPS]
    one_b1, one_b2 = work[c + C_1MB1], work[c + C_1MB2]
    decayed = cfg[DECAY] != 0.0
    if kind == ADAM:
        # the bias corrections in float64, then cast (as the NumPy path does)
        correction1 = 1.0 - math.pow(cfg[BETA1], float(t))
        correction2 = 1.0 - math.pow(cfg[BETA2], float(t))
        work[c + C_CAST1] = math.sqrt(correction2)
        work[c + C_CAST2] = cfg[LR] / correction1
        root2, step = work[c + C_CAST1], work[c + C_CAST2]
        for i in range(count):
            g = grad[i]
            if decayed:
                g += decay * theta[i]
            m = m1[i] * b1 + one_b1 * g
            v = m2[i] * b2 + g * g * one_b2
            m1[i] = m
            m2[i] = v
            theta[i] -= m / (math.sqrt(v) / root2 + eps) * step
        return
    for i in range(count):
        g = grad[i]
        if decayed:
            g += decay * theta[i]
        if kind == SGD:
            theta[i] -= g * lr
            continue
        v = g if t == 1 else m1[i] * mu + g
        m1[i] = v
        if kind == NESTEROV:
            theta[i] -= (v * mu + g) * lr
        else:
            theta[i] -= v * lr


# ------------------------------------------------------- small products as loops (no BLAS)


@jit
def matmul(work: Any, a0: int, b0: int, c0: int, rows: int, inner: int, cols: int) -> None:
    """C = A B, row-major (rows × inner)(inner × cols), as rows of axpy (the inner loop runs
    along contiguous rows of B and C, which the compiler vectorises)."""
    a, b, c = view(work, a0, rows, inner), view(work, b0, inner, cols), view(work, c0, rows, cols)
    for r in range(rows):
        for j in range(cols):
            c[r, j] = 0.0
        for k in range(inner):
            v = a[r, k]
            for j in range(cols):
                c[r, j] += v * b[k, j]


@jit
def matmul_tn(work: Any, a0: int, b0: int, c0: int, rows: int, left: int, right: int) -> None:
    """C = Aᵀ B for A (rows × left), B (rows × right): ∂L/∂W = aᵀ ∂L/∂h."""
    a, b, c = view(work, a0, rows, left), view(work, b0, rows, right), view(work, c0, left, right)
    for i in range(left):
        for j in range(right):
            c[i, j] = 0.0
    for r in range(rows):
        for i in range(left):
            v = a[r, i]
            for j in range(right):
                c[i, j] += v * b[r, j]


@jit
def matmul_nt(work: Any, a0: int, b0: int, c0: int, rows: int, inner: int, cols: int,
              zero_at: int) -> None:
    """C = A Bᵀ for A (rows × inner), B (cols × inner): ∂L/∂a = ∂L/∂h Wᵀ."""
    a, b, c = view(work, a0, rows, inner), view(work, b0, cols, inner), view(work, c0, rows, cols)
    zero = work[zero_at]  # a zero of the run's dtype: float32 sums stay float32
    for r in range(rows):
        for i in range(cols):
            acc = zero
            for j in range(inner):
                acc += a[r, j] * b[i, j]
            c[r, i] = acc


@jit
def step_loops(work: Any, ints: Any, cfg: Any) -> float:
    """The whole step in one call: forward, loss, backward, update; returns L."""
    depth, batch = ints[DEPTH], ints[BATCH]
    theta, grad = ints[THETA], ints[GRAD]
    source = ints[X]
    for layer in range(depth):
        fan_in, fan_out = size(ints, layer), size(ints, layer + 1)
        matmul(work, source, theta + weight_at(ints, layer), ints[H] + act_at(ints, layer),
               batch, fan_in, fan_out)
        if layer < depth - 1:
            forward_act(work, ints, layer)
            source = ints[A] + act_at(ints, layer)
    loss = forward_output(work, ints, cfg)
    for layer in range(depth - 1, -1, -1):
        fan_in, fan_out = size(ints, layer), size(ints, layer + 1)
        inputs = ints[X] if layer == 0 else ints[A] + act_at(ints, layer - 1)
        upstream = ints[D] + act_at(ints, layer)
        matmul_tn(work, inputs, upstream, grad + weight_at(ints, layer), batch, fan_in, fan_out)
        if layer > 0:
            matmul_nt(work, upstream, theta + weight_at(ints, layer),
                      ints[D] + act_at(ints, layer - 1), batch, fan_out, fan_in,
                      ints[CONST] + C_ZERO)
            backward_act(work, ints, layer - 1)
    update(work, ints, cfg)
    cfg[LOSS] = loss
    return loss


# ------------------------------------------- the whole step in one call, products through BLAS


@jit
def step_blas(work: Any, ints: Any, cfg: Any) -> float:
    """The `blas` mode's step in one call: the five products through BLAS (numba's np.dot into
    views of `work`, SciPy's BLAS) beside the same compiled passes; returns L. A step of a few
    tens of microseconds spends a quarter of its time in Python's calls otherwise."""
    depth, batch = ints[DEPTH], ints[BATCH]
    theta, grad = ints[THETA], ints[GRAD]
    source = view(work, ints[X], batch, size(ints, 0))
    for layer in range(depth):
        fan_in, fan_out = size(ints, layer), size(ints, layer + 1)
        w = view(work, theta + weight_at(ints, layer), fan_in, fan_out)
        numpy.dot(source, w, view(work, ints[H] + act_at(ints, layer), batch, fan_out))
        if layer < depth - 1:
            forward_act(work, ints, layer)
            source = view(work, ints[A] + act_at(ints, layer), batch, fan_out)
    loss = forward_output(work, ints, cfg)
    for layer in range(depth - 1, -1, -1):
        fan_in, fan_out = size(ints, layer), size(ints, layer + 1)
        if layer == 0:
            inputs = view(work, ints[X], batch, fan_in)
        else:
            inputs = view(work, ints[A] + act_at(ints, layer - 1), batch, fan_in)
        upstream = view(work, ints[D] + act_at(ints, layer), batch, fan_out)
        # ∂L/∂W = aᵀ ∂L/∂h
        numpy.dot(inputs.T, upstream, view(work, grad + weight_at(ints, layer), fan_in, fan_out))
        if layer > 0:  # ∂L/∂a = ∂L/∂h Wᵀ
            w = view(work, theta + weight_at(ints, layer), fan_in, fan_out)
            numpy.dot(upstream, w.T, view(work, ints[D] + act_at(ints, layer - 1), batch, fan_in))
            backward_act(work, ints, layer - 1)
    update(work, ints, cfg)
    cfg[LOSS] = loss
    return loss
