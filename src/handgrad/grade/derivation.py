"""Grading Problem 1: a student's formulas for the gradients, right for every d, n, q or not.

Problem 1 asks for ∂L/∂W1, ∂L/∂W2, ∂L/∂b1, ∂L/∂b2 of any d-n-q network, so a formula is
correct when it equals the true gradient for all sizes and values. Each formula is read
(`formula`, NumPy-like or LaTeX) and evaluated on several random instances of the problem's
kind of network (its depth, activation, output, loss, layout, reduction and smoothing, at sizes
of our choosing): distinct sizes, d ≠ n ≠ q ≠ B, so that a transpose cannot hide behind a square
matrix, random parameters and inputs, a single instance and, where the problem has a batch, a
batch. The student's value is compared with the engine's gradient (`core.network.backward`,
float64, to 1e-9 relative).

The course's convention: vectors are columns (x is d × 1, h1 = W1ᵀx + b1 is n × 1); a batch
stacks the instances as columns (x is d × B, h1 = W1ᵀx + b1 is n × B with b1 added to every
column), so a single-instance formula such as `a1 @ dz.T` stays right for a batch.

- `correct`: equal on every instance (a formula that keeps the softmax Jacobian
  diag(ŷ) − ŷŷᵀ is correct, with the note `full_jacobian_unsimplified`);
- `carried_forward`: written in terms of the student's own earlier gradients (`dW1 =
  outer(x, dh1)`), wrong only because those were, and right in terms of them: evaluated with the
  student's own formulas substituted, and compared with what the engine's backward step gives
  from the student's values (`core.ops`, as the numeric grader does);
- `wrong`, with the mistake the value matches (`DERIVATION_CAUSES`): each known mistake is
  built on each instance (by hand, here, from the forward quantities) and carried down the
  chain with the engine's backward steps, and the one the student's formula equals on every
  instance is named; a shape that does not fit is said in the problem's symbols; a formula that
  fits only equal sizes is evaluated again at equal sizes to name its mistake (`layout`);
- `missing`: not given (only the asked dW/db are listed as missing).

A formula that uses a step (dz, dh1, ...) that the answer does not give is graded `wrong` with
the cause `undefined_step`, directly or through a step it gives (`da1 = W2 @ dz` without dz makes
`dh1 = da1 * (h1 > 0)` one too): a step not derived is not taken at its true value, so one
chain-rule step cannot earn the marks of the whole derivation.

A formula that cannot be read is graded `wrong` with the cause `unreadable`, its message and
position; the other formulas are graded as usual, and those using it are `undefined_step`: a
step that cannot be read derives nothing (garbage for dh1 must not make `x @ dh1.T` correct).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from handgrad.core import network, ops
from handgrad.core.activations import OUTPUTS
from handgrad.errors import HandgradError, did_you_mean
from handgrad.grade.formula import (
    EvaluationError,
    FormulaError,
    Node,
    Syntax,
    detect_syntax,
    evaluate,
    formula_latex,
    formula_text,
    read_formula,
    shape_words,
)
from handgrad.grade.records import DERIVATION_EXPLANATIONS, UNKNOWN_MISTAKE, GradeItem, Status
from handgrad.problem import Problem

SECTION = "derivation"
RTOL = 1e-9  # |student − true| ≤ RTOL · max(1, max |true|), entry by entry
SEED = 20240428  # the instances are the same at every grading: a grade is reproducible
SIZE_POOL = (2, 3, 4, 5, 6, 8, 9, 10, 11)  # never 7 nor 12: the batch sizes
SQUARE = 3  # the size of every layer (and the batch) on the instances with equal sizes
BATCH_SIZES = (7, 12)
CONVENTION = ("vectors are columns (x is d × 1); a batch puts one instance in each column "
              "(x is d × B, h1 = W1ᵀx + b1 is n × B)")
NON_PROPAGATING = ("transposed", "outer_order", "missing_bias_gradient_sum")


MAX_LAYERS = len(SIZE_POOL) - 1  # weight layers: each instance needs depth + 1 distinct sizes


class DerivationTooDeep(HandgradError):
    """A [derivation] for a network deeper than the formulas are graded for."""

    def __init__(self, depth: int) -> None:
        self.depth = depth
        super().__init__(
            f"this network has {depth} weight layers: Problem 1's formulas ([derivation]) are "
            f"graded for networks of up to {MAX_LAYERS} weight layers; remove the [derivation] "
            "section to grade the numbers, or grade the formulas by hand")


# ------------------------------------------------------------------------------ names


@dataclass(frozen=True)
class Names:
    """The names a problem's formulas may use, and the gradients in backward order."""

    depth: int
    fused: bool
    loss: str
    order: tuple[str, ...]  # dyhat, dz, dWL, dbL, da(L−1), dh(L−1), ..., dW1, db1
    values: frozenset[str]  # forward quantities, parameters, sizes, constants
    batched: bool = False  # the problem has a batch: its mistakes are graded too
    mean: bool = False  # the loss is the mean over the batch

    def upstream(self, name: str) -> str | None:
        """The gradient a gradient is computed from by one backward step."""
        kind, layer = split(name)
        if kind == "dyhat":
            return None
        if kind == "dz":
            return "dyhat"
        if kind == "dh":
            return f"da{layer}"
        if kind == "da":
            return "dz" if layer + 1 == self.depth else f"dh{layer + 1}"
        return "dz" if layer == self.depth else f"dh{layer}"

    def resolve(self, name: str) -> str:
        """A name as written → its canonical name (X → x, h → h1 in a 2-layer net, dZ → dz)."""
        if name.startswith("d") and len(name) > 1 and name not in self.values:
            rest = self.resolve(name[1:])
            if f"d{rest}" in self.order:
                return f"d{rest}"
        aliases = {"X": "x", "Y": "y", "Z": "z", "Ys": "ys", "Y_s": "ys", "y_s": "ys",
                   "ysmooth": "ys", "y_smooth": "ys", "y_tilde": "ys", "yS": "ys",
                   "Yhat": "yhat", "y_hat": "yhat", "Y_hat": "yhat", "yh": "yhat",
                   "epsilon": "eps", "a0": "x", "A0": "x", "slope": "alpha"}
        if name in aliases:
            return aliases[name]
        match = re.fullmatch(r"([HA])(\d+)", name)
        if match:
            return match.group(1).lower() + match.group(2)
        if self.depth == 2 and name in ("h", "a", "H", "A"):
            return name.lower() + "1"
        return name

    def check(self, node: Node, name: str, text: str) -> None:
        """Refuse an unknown name, or a gradient that is computed from this one."""
        earlier = self.order[:self.order.index(name)]
        known = sorted(self.values | set(self.order))
        for child in node.walk():
            if child.op != "name":
                continue
            value = child.value
            if value in self.order and value not in earlier:
                why = ("itself" if value == name else
                       f"{value}, which is computed from it (backward order: "
                       f"{', '.join(self.order)})")
                raise FormulaError(f"{name} cannot be written in terms of {why}", text,
                                   child.pos)
            if value not in self.values and value not in self.order:
                raise FormulaError(f"unknown name '{value}'{did_you_mean(value, known)}; "
                                   f"known: {', '.join(known)}", text, child.pos)


def split(name: str) -> tuple[str, int]:
    """dW2 → ("dW", 2); dz → ("dz", 0)."""
    match = re.fullmatch(r"(dW|db|da|dh)(\d+)", name)
    return (match.group(1), int(match.group(2))) if match else (name, 0)


def names_of(problem: Problem) -> Names:
    arch = problem.architecture
    depth = arch.depth
    order: list[str] = ["dyhat", "dz"]
    for layer in range(depth, 0, -1):
        order += [f"dW{layer}", f"db{layer}"]
        if layer > 1:
            order += [f"da{layer - 1}", f"dh{layer - 1}"]
    values = {"x", "y", "yhat", "z", "d", "q", "B"}
    if arch.loss == "cross_entropy":
        values |= {"ys", "eps"}
    if arch.hidden.name == "leaky_relu":
        values.add("alpha")
    for layer in range(1, depth + 1):
        values |= {f"W{layer}", f"b{layer}"}
        if layer < depth:
            values |= {f"h{layer}", f"a{layer}", f"n{layer}"}
    if depth == 2:
        values.add("n")
    return Names(depth, arch.fused_softmax_cross_entropy, arch.loss, tuple(order),
                 frozenset(values), problem.batched, arch.reduction == "mean")


def derivation_names(problem: Problem) -> tuple[str, ...]:
    """Every gradient a derivation may give, in backward order (dyhat, dz, dW2, db2, ...)."""
    return names_of(problem).order


def is_asked(name: str) -> bool:
    """Problem 1 asks for ∂L/∂W and ∂L/∂b; the intermediates are the student's own steps."""
    return split(name)[0] in ("dW", "db")


def gradient_symbol(name: str) -> str:
    """∂L/∂W1, ∂L/∂ŷ: how a gradient is named in words."""
    rest = name[1:]
    return "∂L/∂" + {"yhat": "ŷ"}.get(rest, rest)


# ----------------------------------------------------------------------------- instances


@dataclass
class Instance:
    """One random network of the problem's kind: its sizes, forward quantities (columns), the
    engine's gradients, and the row forms the engine's backward steps take."""

    sizes: dict[str, int]
    symbols: dict[int, str]  # size → its symbol, for messages
    env: dict[str, np.ndarray]
    truth: dict[str, np.ndarray]
    arch: network.Architecture
    rows: dict[str, np.ndarray]  # x, h1, a1, ..., yhat, target in the engine's (B, k) form
    params: dict[str, np.ndarray]
    square: bool = False
    functions: dict[str, Callable[[np.ndarray], np.ndarray]] = field(default_factory=dict)


def _activation_functions(problem: Problem) -> dict[str, Callable[[np.ndarray], np.ndarray]]:
    slope = float(problem.architecture.hidden.leaky_slope)

    def sigmoid(h: np.ndarray) -> np.ndarray:
        return np.asarray(ops.sigmoid(np.atleast_2d(h)), float).reshape(np.shape(h))

    table: dict[str, Callable[[np.ndarray], np.ndarray]] = {
        "relu": lambda h: np.maximum(h, 0.0),
        "relu_prime": lambda h: (h > 0).astype(float),
        "leaky_relu": lambda h: np.where(h > 0, h, slope * h),
        "leaky_relu_prime": lambda h: np.where(h > 0, 1.0, slope),
        "sigmoid": sigmoid,
        "sigmoid_prime": lambda h: sigmoid(h) * (1 - sigmoid(h)),
        "tanh": np.tanh,
        "tanh_prime": lambda h: 1 - np.tanh(h) ** 2,
        "identity": lambda h: h,
        "identity_prime": np.ones_like,
    }
    hidden = problem.architecture.hidden.name
    table["f"] = table[hidden]
    table["f_prime"] = table[f"{hidden}_prime"]
    return table


def _layers_plan(depth: int, rng: np.random.Generator) -> tuple[int, ...]:
    """depth + 1 distinct sizes from the pool (none is a batch size)."""
    return tuple(int(k) for k in rng.choice(SIZE_POOL, size=depth + 1, replace=False))


def make_instances(problem: Problem) -> tuple[list[Instance], list[Instance]]:
    """The instances with distinct sizes (graded on), and those with equal sizes (to name the
    mistake of a formula that fits only square matrices)."""
    rng = np.random.default_rng(SEED)
    depth = problem.architecture.depth
    batches = [1, *BATCH_SIZES] if problem.batched else [1, 1, 1]
    if depth > MAX_LAYERS:
        raise DerivationTooDeep(depth)
    distinct = [_instance(problem, _layers_plan(depth, rng), b, rng) for b in batches]
    # several: a claim made at equal sizes ("equals the gradient only when the sizes are
    # equal") must hold on each, with ReLU masks that vary along each row of a batch
    square_batches = [1, SQUARE, SQUARE, SQUARE] if problem.batched else [1, 1]
    squares = [_instance(problem, (SQUARE,) * (depth + 1), b, rng, square=True)
               for b in square_batches]
    return distinct, squares


def _varies(h: np.ndarray, square: bool) -> bool:
    """On a square batch, whether every unit's mask varies over the batch (h is B × n): a mask
    constant along a row would let an entry-wise product with a square W pass for a matrix
    product."""
    if not square or h.shape[0] == 1:
        return True
    mask = h > 0
    return bool(np.all(mask.any(axis=0) & ~mask.all(axis=0)))


def _instance(problem: Problem, layers: tuple[int, ...], batch: int, rng: np.random.Generator,
              square: bool = False) -> Instance:
    spec, base = problem.spec, problem.architecture
    arch = network.Architecture(layers, base.hidden, base.output, base.layout, base.loss,
                                base.reduction)
    masked = base.hidden.rule.piecewise_linear
    for _ in range(200):  # until every ReLU mask has both a 0 and a 1, away from the kink
        params: dict[str, np.ndarray] = {}
        for layer in range(1, arch.depth + 1):
            params[f"W{layer}"] = rng.normal(size=arch.weight_shape(layer))
            params[f"b{layer}"] = rng.normal(scale=0.5, size=layers[layer])
        x = rng.normal(size=(batch, layers[0]))
        hs = []
        a = x
        for layer in range(1, arch.depth):
            h, _ = ops.linear_forward(a, params[f"W{layer}"], params[f"b{layer}"], arch.layout)
            a, _ = ops.activation_forward(h, arch.hidden)
            hs.append(h)
        if not masked or all((h > 0.05).any() and (h < -0.05).any() and
                             np.abs(h).min() > 1e-3 and _varies(h, square) for h in hs):
            break
    q = layers[-1]
    if base.loss == "cross_entropy":
        y = np.eye(q)[rng.integers(0, q, size=batch)]
        eps = float(rng.uniform(0.1, 0.4)) if spec.loss.label_smoothing > 0 else 0.0
    else:
        y = rng.uniform(0.05, 0.95, size=(batch, q)) if base.output == "sigmoid" else \
            rng.normal(size=(batch, q))
        eps = 0.0
    target = np.asarray(network.target_for(y, base.loss, eps, spec.loss.smoothing))
    fwd = network.forward(params, x, target, arch)
    bwd = network.backward(fwd, arch)
    sizes = {"d": layers[0], "q": q, "B": batch}
    for layer in range(1, arch.depth):
        sizes[f"n{layer}"] = layers[layer]
    if arch.depth == 2:
        sizes["n"] = layers[1]
    symbols = {1: "1"}
    for key, value in sizes.items():
        if value != 1 and not (key == "n1" and "n" in sizes):
            symbols[value] = key
    if square:
        symbols = {SQUARE: "k", 1: "1"}  # every size is k: the symbols cannot tell them apart
    env: dict[str, np.ndarray] = {
        "x": x.T, "y": y.T, "yhat": np.asarray(fwd.yhat).T, "z": np.asarray(fwd.z).T,
        "eps": np.asarray(eps), "alpha": np.asarray(float(base.hidden.leaky_slope)),
    }
    if base.loss == "cross_entropy":
        env["ys"] = target.T
    env.update({k: np.asarray(float(v)) for k, v in sizes.items()})
    rows = {"x": x, "yhat": np.asarray(fwd.yhat), "target": target, "y": y}
    for layer in range(1, arch.depth):
        env[f"h{layer}"], env[f"a{layer}"] = fwd.h[layer - 1].T, fwd.a[layer - 1].T
        rows[f"h{layer}"], rows[f"a{layer}"] = fwd.h[layer - 1], fwd.a[layer - 1]
    for name, param in params.items():
        env[name] = param if name.startswith("W") else param[:, None]
    truth: dict[str, np.ndarray] = {
        "dz": np.asarray(bwd.dz).T,
        "dyhat": (np.asarray(bwd.dyhat) if bwd.dyhat is not None else
                  np.asarray(ops.cross_entropy_backward(fwd.loss_cache))).T,
    }
    for layer in range(1, arch.depth + 1):
        truth[f"dW{layer}"] = np.asarray(bwd.grads[f"dW{layer}"])
        truth[f"db{layer}"] = np.asarray(bwd.grads[f"db{layer}"])[:, None]
        if layer < arch.depth:
            truth[f"da{layer}"] = np.asarray(bwd.da[layer - 1]).T
            truth[f"dh{layer}"] = np.asarray(bwd.dh[layer - 1]).T
    return Instance(sizes, symbols, env, truth, arch, rows, params, square,
                    _activation_functions(problem))


# ------------------------------------------------------------------ the backward steps


def _as_meant(value: np.ndarray, like: np.ndarray) -> np.ndarray:
    """A student's value in the shape of the true one (a row for a column is turned back)."""
    if value.shape == like.shape:
        return value
    if value.T.shape == like.shape:
        return value.T
    if value.ndim == 0 or value.size == 1:
        return np.broadcast_to(value, like.shape)
    raise ValueError("the shape does not fit")


def step(name: str, values: Mapping[str, np.ndarray], inst: Instance, names: Names
         ) -> np.ndarray:
    """One backward step from the upstream value in `values`, by the engine's own formulas."""
    arch = inst.arch
    kind, layer = split(name)
    up = names.upstream(name)
    if up is None:
        return inst.truth[name]
    delta = _as_meant(np.asarray(values[up], float), inst.truth[up]).T  # rows, as ops take
    if kind == "dz":
        yhat = inst.rows["yhat"]
        if names.fused:
            return np.asarray(OUTPUTS["softmax"].backward(np, delta, yhat)).T
        return np.asarray(ops.output_backward(delta, yhat, arch.output)).T
    if kind == "dh":
        act = ops.ActivationCache(inst.rows[f"h{layer}"], inst.rows[f"a{layer}"])
        return np.asarray(ops.activation_backward(delta, act, arch.hidden)).T
    source = layer + 1 if kind == "da" else layer  # the weight layer this step goes through
    below = inst.rows["x"] if source == 1 else inst.rows[f"a{source - 1}"]
    cache = ops.LinearCache(below, inst.params[f"W{source}"])
    dx, dW, db = ops.linear_backward(delta, cache, arch.layout)
    if kind == "dW":
        return np.asarray(dW)
    if kind == "db":
        return np.asarray(db)[:, None]
    return np.asarray(dx).T


def chain(target: str, overrides: Mapping[str, np.ndarray], inst: Instance, names: Names
          ) -> dict[str, np.ndarray]:
    """Every gradient down to `target`, with `overrides` in place of the true values and each
    later one computed from them by the backward steps (the true value where nothing changed)."""
    values: dict[str, np.ndarray] = {}
    changed: set[str] = set()
    for name in names.order[:names.order.index(target) + 1]:
        if name in overrides:
            values[name] = overrides[name]
            changed.add(name)
            continue
        up = names.upstream(name)
        if up is not None and up in changed:
            values[name] = step(name, values, inst, names)
            changed.add(name)
        else:
            values[name] = inst.truth[name]
    return values


# ---------------------------------------------------------------------------- mistakes


def _scale(inst: Instance) -> float:
    """∂L/∂Lᵦ: 1/B for the mean, 1 for the sum."""
    return 1 / inst.sizes["B"] if inst.arch.reduction == "mean" else 1.0


def local_mistakes(name: str, values: Mapping[str, np.ndarray], inst: Instance, names: Names
                   ) -> list[tuple[str, np.ndarray]]:
    """The known wrong ways to `name` from its (possibly already wrong) upstream, written here
    by hand from the forward quantities (in columns), never by the engine."""
    env, arch = inst.env, inst.arch
    right = values[name]
    kind, layer = split(name)
    out: list[tuple[str, np.ndarray]] = []
    # the batch's mistakes on every instance (at B = 1 they equal the right value), so that a
    # cause is looked for on all of them
    mean = names.batched and names.mean
    s = _scale(inst)
    summed = names.batched  # a 1/B too many: under a sum, or a second one under the mean
    other = _other_smoothing(inst)
    if kind == "dyhat":
        out.append(("dz_sign", -right))
        if names.loss == "cross_entropy":
            out.append(("no_smoothing", -s * env["y"] / env["yhat"]))
            if other is not None:
                out.append(("wrong_smoothing", -s * other / env["yhat"]))
        if mean:
            out.append(("missing_batch_mean", right * inst.sizes["B"]))
        if summed:
            out.append(("extra_batch_mean", right / inst.sizes["B"]))
    elif kind == "dz":
        out.append(("dz_sign", -right))
        if names.fused:
            out.append(("no_smoothing", s * (env["yhat"] - env["y"])))
            if other is not None:
                out.append(("wrong_smoothing", s * (env["yhat"] - other)))
            if mean:
                out.append(("missing_batch_mean", env["yhat"] - env["ys"]))
        elif arch.output != "identity":
            out.append(("missing_output_derivative", values["dyhat"]))
        if summed:
            out.append(("extra_batch_mean", right / inst.sizes["B"]))
    elif kind == "dh":
        da, h, a = values[f"da{layer}"], env[f"h{layer}"], env[f"a{layer}"]
        hidden = arch.hidden.name
        if arch.hidden.rule.piecewise_linear:
            out.append(("missing_relu_mask", da))
            out.append(("mask_on_wrong_quantity", da * a))  # f(h) where f′(h) belongs
            W = env[f"W{layer + 1}"]
            up = values[names.upstream(f"da{layer}") or ""]
            if up.shape == h.shape:  # the mask before the product: fits only equal sizes
                masked_up = up * (h > 0)
                product = W @ masked_up if arch.layout == "in_out" else W.T @ masked_up
                out.append(("mask_on_wrong_quantity", product))
        elif hidden != "identity":
            out.append(("missing_activation_derivative", da))
            if hidden == "tanh":
                out.append(("mask_on_wrong_quantity", da * (1 - h ** 2)))  # 1 − h² for 1 − a²
            else:
                out.append(("mask_on_wrong_quantity", da * h * (1 - h)))  # h(1 − h) for a(1 − a)
        # another activation's derivative: the ReLU mask, tanh's, the sigmoid's
        functions = inst.functions
        others = {"relu": [da * (h > 0)],
                  "tanh": [da * functions["tanh_prime"](h), da * (1 - a ** 2)],
                  "sigmoid": [da * functions["sigmoid_prime"](h), da * a * (1 - a)]}
        for other_name, wrongs in others.items():
            if other_name != hidden:
                out += [("wrong_activation_derivative", wrong) for wrong in wrongs]
    elif kind == "da":
        W = env[f"W{layer + 1}"]
        up = values[names.upstream(name) or ""]
        other = W.T if arch.layout == "in_out" else W  # the other layout's product
        if other.shape[1] == up.shape[0]:
            out.append(("layout", other @ up))
    elif kind == "db" and names.batched:
        out.append(("missing_bias_gradient_sum", values[names.upstream(name) or ""]))
    return out


def _other_smoothing(inst: Instance) -> np.ndarray | None:
    """The smoothed target by the other convention (columns), or None without smoothing."""
    env = inst.env
    eps = float(env["eps"])
    if inst.arch.loss != "cross_entropy" or eps == 0:
        return None
    y, q = env["y"], inst.sizes["q"]
    if q < 2:
        return None
    if "ys" in env and np.allclose(env["ys"], (1 - eps) * y + eps / q):
        return (1 - eps) * y + eps * (1 - y) / (q - 1)
    return (1 - eps) * y + eps / q


def candidates(target: str, overrides: Mapping[str, np.ndarray], inst: Instance, names: Names
               ) -> list[tuple[str, str, np.ndarray]]:
    """(key, cause, value): each known mistake made at `target` or at an earlier step and
    carried down to `target` by the backward steps; `overrides`: the student's own values."""
    base = chain(target, overrides, inst, names)
    out: list[tuple[str, str, np.ndarray]] = []
    for name in names.order[:names.order.index(target) + 1]:
        if name in overrides:
            continue
        for k, (cause, wrong) in enumerate(local_mistakes(name, base, inst, names)):
            key = f"{name}:{cause}:{k}"
            if name == target:
                out.append((key, cause, wrong))
                continue
            if cause in NON_PROPAGATING:
                continue
            try:
                value = chain(target, {**overrides, name: wrong}, inst, names)[target]
            except (ValueError, KeyError):
                continue
            out.append((key, cause, value))
    return out


def close(given: Any, expected: Any) -> bool:
    """Equal to RTOL, relative to the size of the true value; shapes must agree."""
    given, expected = np.asarray(given, float), np.asarray(expected, float)
    if given.shape != expected.shape:
        return False
    if not np.all(np.isfinite(given)):
        return False
    scale = max(1.0, float(np.max(np.abs(expected), initial=0.0)))
    return bool(np.all(np.abs(given - expected) <= RTOL * scale))


# ------------------------------------------------------------------------------ reading


@dataclass(frozen=True)
class ReadFormula:
    """A formula as written and as read: its tree, or the error that stopped the reading."""

    name: str
    source: str
    syntax: Syntax | None
    node: Node | None = None
    error: FormulaError | None = None

    @property
    def text(self) -> str:
        """How it was read, in the NumPy-like syntax ('' when it could not be read)."""
        return formula_text(self.node) if self.node is not None else ""

    @property
    def latex(self) -> str:
        """How it was read, as LaTeX to typeset ('' when it could not be read)."""
        return formula_latex(self.node) if self.node is not None else ""

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "formula": self.source, "syntax": self.syntax,
                "read": self.text, "read_latex": self.latex,
                "error": self.error.line if self.error else None,
                "position": self.error.position if self.error else None}


def read_one(problem: Problem | Names, name: str, source: str, syntax: Syntax | None = None
             ) -> ReadFormula:
    """One formula read and its names checked against the problem (never raises)."""
    names = problem if isinstance(problem, Names) else names_of(problem)
    chosen = syntax or (detect_syntax(source) if isinstance(source, str) else None)
    try:
        node = read_formula(source, chosen, names.resolve)
        names.check(node, name, source)
    except FormulaError as error:
        return ReadFormula(name, source, chosen, error=error)
    except RecursionError:  # a guard below MAX_DEPTH should stop it first
        return ReadFormula(name, source, chosen, error=FormulaError("nested too deeply"))
    return ReadFormula(name, source, chosen, node)


def read_derivation(problem: Problem, formulas: Mapping[str, str],
                    syntax: Syntax | None = None) -> dict[str, ReadFormula]:
    """How each formula was read (for showing it back typeset: `.latex`, or `.error`), in
    backward order; names that are not gradients of the problem are left out (see
    `derivation_problems`)."""
    names = names_of(problem)
    return {name: read_one(names, name, formulas[name], syntax)
            for name in names.order if name in formulas}


def derivation_problems(formulas: Mapping[str, Any], problem: Problem) -> list[str]:
    """What makes a [derivation] section unusable (unknown names, values that are not text);
    an unreadable formula is not one: it is graded, with its message."""
    order = derivation_names(problem)
    problems = []
    for name, value in formulas.items():
        if name not in order:
            problems.append(f"derivation.{name}: not a gradient of this problem (it has "
                            f"{', '.join(order)}){did_you_mean(str(name), order)}")
        elif not isinstance(value, str):
            problems.append(f"derivation.{name}: a formula is text in quotes, e.g. "
                            f"\"outer(x, dh1)\", not {type(value).__name__}")
    return problems


# ----------------------------------------------------------------------- the expected


def expected_formulas(problem: Problem) -> dict[str, str]:
    """Each gradient's formula in the NumPy-like syntax, written out in the network's
    quantities (x, W2, h1, yhat, ...): a right answer on its own, one that uses no step the
    student would have to give too (`step_formulas` gives each from the one before it)."""
    names = names_of(problem)
    out: dict[str, str] = {}
    nodes: dict[str, Node] = {}
    for name, text in step_formulas(problem).items():
        node = _substituted(read_formula(text, "numpy", names.resolve), nodes)
        nodes[name] = node
        out[name] = formula_text(node, grouped=True)
    return out


def _substituted(node: Node, table: Mapping[str, Node]) -> Node:
    """The tree with each name in `table` replaced by its tree."""
    if node.op == "name" and node.value in table:
        return table[node.value]
    if not node.args:
        return node
    return Node(node.op, tuple(_substituted(a, table) for a in node.args), node.value, node.pos)


def step_formulas(problem: Problem) -> dict[str, str]:
    """Each gradient's formula from the one before it, in the NumPy-like syntax."""
    names = names_of(problem)
    arch = problem.architecture
    batch = problem.batched
    over_b = " / B" if batch and arch.reduction == "mean" else ""
    out: dict[str, str] = {}
    for name in names.order:
        kind, layer = split(name)
        up = names.upstream(name) or ""
        if kind == "dyhat":
            out[name] = (f"-ys / yhat{over_b}" if arch.loss == "cross_entropy"
                         else f"(yhat - y){over_b}")
        elif kind == "dz":
            if names.fused:
                out[name] = f"(yhat - ys){over_b}"
            else:
                out[name] = {"sigmoid": "dyhat * yhat * (1 - yhat)", "identity": "dyhat",
                             "softmax": "yhat * (dyhat - ones(q) @ (ones(q).T @ (yhat * dyhat)))"
                             }[arch.output]
        elif kind == "dW":
            below = "x" if layer == 1 else f"a{layer - 1}"
            if not batch:  # one instance: the outer product, as the course writes it
                out[name] = (f"outer({below}, {up})" if arch.layout == "in_out"
                             else f"outer({up}, {below})")
            else:
                out[name] = (f"{below} @ {up}.T" if arch.layout == "in_out"
                             else f"{up} @ {below}.T")
        elif kind == "db":
            out[name] = f"{up} @ ones(B)" if batch else up
        elif kind == "da":
            W = f"W{layer + 1}"
            out[name] = f"{W} @ {up}" if arch.layout == "in_out" else f"{W}.T @ {up}"
        else:
            h, a = f"h{layer}", f"a{layer}"
            out[name] = {"relu": f"da{layer} * ({h} > 0)",
                         "leaky_relu": f"da{layer} * leaky_relu_prime({h})",
                         "sigmoid": f"da{layer} * {a} * (1 - {a})",
                         "tanh": f"da{layer} * (1 - {a} ** 2)",
                         "identity": f"da{layer}"}[arch.hidden.name]
    return out


def _shape_rule(name: str, problem: Problem) -> str:
    """Why a gradient has its shape, in the course's words."""
    arch = problem.architecture
    kind, layer = split(name)
    if kind == "dW":
        out = "z" if layer == arch.depth else f"h{layer}"
        below = "x" if layer == 1 else f"a{layer - 1}"
        product = f"W{layer}ᵀ{below}" if arch.layout == "in_out" else f"W{layer}{below}"
        return f"with {out} = {product} + b{layer} it must be {{shape}}, the shape of W{layer}"
    like = {"db": f"b{layer}", "da": f"a{layer}", "dh": f"h{layer}", "dz": "z",
            "dyhat": "ŷ"}[kind]
    if not problem.batched:
        return f"it must be {{shape}}, the shape of {like} (a column)"
    columns = "one column per instance" if kind != "db" else "a column, summed over the batch"
    return f"it must be {{shape}}, the shape of {like} ({columns})"


# ------------------------------------------------------------------------- in words

_DERIVATIVES = {  # the hidden activation's derivative, in the course's symbols
    "relu": "the mask 1[h > 0]",
    "leaky_relu": "LeakyReLU′(h) (1 where h > 0, α elsewhere)",
    "tanh": "tanh′(h) = 1 − a² (a = tanh h)",
    "sigmoid": "σ′(h) = a ⊙ (1 − a) (a = σ(h))",
    "identity": "1",
}


def _dz_words(problem: Problem) -> tuple[str, str]:
    """∂L/∂z and ∂L/∂ŷ for this problem's output and loss, in words."""
    arch = problem.architecture
    over_b = " / B" if problem.batched and arch.reduction == "mean" else ""
    target = "yˢ" if problem.spec.loss.label_smoothing > 0 else "y"
    if arch.loss == "cross_entropy":
        dz = f"(ŷ − {target}){over_b}" if over_b else f"ŷ − {target}"
        return dz, f"−{target}/(B ŷ)" if over_b else f"−{target}/ŷ"
    dyhat = f"(ŷ − y){over_b}"
    dz = {"identity": dyhat, "sigmoid": f"{dyhat} ⊙ ŷ ⊙ (1 − ŷ)",
          "softmax": f"(diag(ŷ) − ŷŷᵀ){dyhat}"}.get(arch.output, f"J {dyhat}")
    bare = "ŷ − y"
    return (bare if dz == dyhat and not over_b else dz), (dyhat if over_b else bare)


def explain(cause: str, problem: Problem) -> str:
    """A cause in words for this problem: its activation, output, loss, layout, reduction and
    smoothing (the fixed words of DERIVATION_EXPLANATIONS where nothing depends on them)."""
    arch = problem.architecture
    hidden = arch.hidden.name
    derivative = _DERIVATIVES.get(hidden, "f′(h)")
    dz, dyhat = _dz_words(problem)
    smoothing = ("(1 − ε)y + ε/q" if problem.spec.loss.smoothing == "uniform"
                 else "(1 − ε)y + ε(1 − y)/(q − 1)")
    if cause == "dz_sign":
        target = "yˢ" if problem.spec.loss.label_smoothing > 0 else "y"
        if arch.loss == "cross_entropy":
            negated = f"({target} − ŷ) / B" if dz.endswith("/ B") else f"{target} − ŷ"
        else:
            negated = "its negative"
        return f"the sign is reversed: ∂L/∂z = {dz}, not {negated} (and ∂L/∂ŷ = {dyhat})"
    if cause == "full_jacobian_unsimplified":
        return DERIVATION_EXPLANATIONS[cause]
    if cause == "undefined_step":
        return ("uses a step (∂L/∂z, ∂L/∂h, …) that the answer does not derive: write it in "
                f"terms of the network's quantities ({_quantities(problem)}) or give that step "
                "too")
    if cause == "missing_relu_mask":
        if hidden == "relu":
            return DERIVATION_EXPLANATIONS[cause]
        return f"left out the activation's derivative: ∂L/∂h = ∂L/∂a ⊙ {derivative}, not ∂L/∂a"
    if cause == "missing_activation_derivative":
        return f"left out the activation's derivative: ∂L/∂h = ∂L/∂a ⊙ {derivative}, not ∂L/∂a"
    if cause == "mask_on_wrong_quantity":
        if hidden in ("relu", "leaky_relu"):
            return ("applied the mask to the wrong quantity or in the wrong place: ∂L/∂h = "
                    f"∂L/∂a ⊙ {derivative}, the mask of h (not a itself, and not inside the "
                    "product with W)")
        wrong = {"tanh": "1 − h²", "sigmoid": "h ⊙ (1 − h)"}.get(hidden, "f′(a)")
        return (f"took the activation's derivative at the wrong quantity: ∂L/∂h = ∂L/∂a ⊙ "
                f"{derivative}, not {wrong}")
    if cause == "wrong_activation_derivative":
        return (f"used the derivative of another activation: this network's hidden activation "
                f"is {hidden}, so ∂L/∂h = ∂L/∂a ⊙ {derivative}")
    if cause == "no_smoothing":
        return f"used the one-hot y where the smoothed target yˢ = {smoothing} belongs"
    if cause == "wrong_smoothing":
        return (f"used the other label-smoothing convention: this problem's smoothed target is "
                f"yˢ = {smoothing}")
    if cause == "missing_output_derivative":
        return (f"left out the output's derivative: with ŷ = {arch.output}(z) and "
                f"{arch.loss.replace('_', ' ')}, ∂L/∂z = {dz}, not ∂L/∂ŷ = {dyhat}")
    if cause == "extra_batch_mean":
        if arch.reduction == "mean":
            return (f"divided by B once more: the loss is the mean over the batch, and its 1/B "
                    f"is already in ∂L/∂z = {dz}; the steps after it do not divide again")
        return DERIVATION_EXPLANATIONS[cause]
    if cause == "wrong_factor":
        if arch.loss == "squared_error":
            return (f"off by a constant factor: the loss is ½‖ŷ − y‖² per instance, so ∂L/∂ŷ = "
                    f"{dyhat} (no 2); ∂L/∂z = {dz}")
        return f"off by a constant factor: ∂L/∂z = {dz}"
    return DERIVATION_EXPLANATIONS.get(cause, UNKNOWN_MISTAKE)


# ------------------------------------------------------------------------------ grading


@dataclass
class _Student:
    """What the student's formulas give on each instance, as the grading goes down."""

    values: dict[str, list[np.ndarray | None]] = field(default_factory=dict)  # distinct sizes
    squares: dict[str, list[np.ndarray | None]] = field(default_factory=dict)
    status: dict[str, Status] = field(default_factory=dict)
    # carried forward from a step that fits only equal sizes (its values are the true ones)
    square_only: set[str] = field(default_factory=set)


class _Grading:
    def __init__(self, problem: Problem, formulas: Mapping[str, str],
                 syntax: Syntax | None) -> None:
        self.problem, self.syntax = problem, syntax
        self.names = names_of(problem)
        self.read = {name: read_one(self.names, name, formulas[name], syntax)
                     for name in self.names.order if name in formulas}
        # the instances only when there is a formula to grade (an answer without one, in a
        # class whose formulas are graded, is all missing, at any depth)
        self.instances, self.squares = make_instances(problem) if self.read else ([], [])
        self.expected = expected_formulas(problem)
        self.student = _Student()
        # the steps each formula uses that the answer does not give, directly or through a
        # step it gives ({} for one that uses none)
        self.undefined: dict[str, tuple[str, ...]] = {}

    def items(self) -> list[GradeItem]:
        out = []
        for name in self.names.order:
            read = self.read.get(name)
            if read is None:
                if is_asked(name):
                    out.append(self._item(name, "missing"))
                continue
            try:
                out.append(self._judge(read))
            except Exception as error:  # never let one formula stop the grading of the rest
                self.student.status[name] = "wrong"
                self._record(name, None, None)
                out.append(self._item(name, "wrong", read, None,
                                      "this formula could not be graded (an error in the "
                                      f"grader: {type(error).__name__}); grade it by hand",
                                      ()))
        return out

    def _item(self, name: str, status: Status, read: ReadFormula | None = None,
              cause: str | None = None, explanation: str = "",
              inputs: tuple[str, ...] = (), position: int | None = None) -> GradeItem:
        expected = self.expected[name]
        expected_node = read_formula(expected, "numpy", self.names.resolve)
        if status == "wrong" and not explanation:
            explanation = UNKNOWN_MISTAKE
        return GradeItem(
            SECTION, name, status, read.source if read else None, expected,
            cause=cause, explanation=explanation,
            formula=f"{gradient_symbol(name)} = {expected}",
            inputs=tuple(f"{SECTION}.{i}" for i in inputs),
            read=read.text if read else "", read_latex=read.latex if read else "",
            expected_latex=formula_latex(expected_node),
            position=read.error.position if read and read.error else position,
        )

    def _environment(self, inst: Instance, own: Mapping[str, np.ndarray]) -> dict[str, Any]:
        env: dict[str, Any] = dict(inst.env)
        for name in self.names.order:
            env[name] = own.get(name, inst.truth[name])
        return env

    def _own(self, node: Node, index: int, square: bool) -> dict[str, np.ndarray]:
        """The student's own values of the earlier gradients this formula names."""
        table = self.student.squares if square else self.student.values
        own: dict[str, np.ndarray] = {}
        for name in node.names():
            value = table[name][index] if name in table else None
            if value is not None:
                own[name] = value
        return own

    def _evaluate(self, read: ReadFormula, instances: list[Instance], square: bool
                  ) -> tuple[list[np.ndarray], list[dict[str, np.ndarray]]]:
        assert read.node is not None
        values, owns = [], []
        for i, inst in enumerate(instances):
            own = self._own(read.node, i, square)
            values.append(evaluate(read.node, self._environment(inst, own), inst.symbols,
                                   inst.functions, read.source))
            owns.append(own)
        return values, owns

    def _judge(self, read: ReadFormula) -> GradeItem:
        name = read.name
        if read.node is None:
            assert read.error is not None
            self._record(name, None, None)
            return self._item(name, "wrong", read, "unreadable", _unreadable(read.error))
        inputs = tuple(sorted((read.node.names() & set(self.names.order)),
                              key=self.names.order.index))
        undefined = self._undefined(inputs)
        self.undefined[name] = tuple(step for step, _ in undefined)
        if undefined:
            self.student.status[name] = "wrong"
            self._record(name, None, None)
            return self._item(name, "wrong", read, "undefined_step",
                              _undefined_words(undefined, self.problem), inputs)
        try:
            values, owns = self._evaluate(read, self.instances, square=False)
        except EvaluationError as error:
            return self._square_only(read, error, inputs)
        square_owns: list[dict[str, np.ndarray]] = []
        try:
            square_values, square_owns = self._evaluate(read, self.squares, square=True)
        except EvaluationError:
            square_values = None
        self._record(name, values, square_values)
        truths = [inst.truth[name] for inst in self.instances]
        if all(close(v, t) for v, t in zip(values, truths, strict=True)):
            square_only = [i for i in inputs if i in self.student.square_only or (
                self.student.status.get(i) == "wrong" and
                all(v is None for v in self.student.values.get(i, [None])) and
                any(v is not None for v in self.student.squares.get(i, [None])))]
            if square_only and square_values is not None and all(
                    c is not None and close(v, c) for v, c in zip(square_values, [
                        _chained(name, own, inst, self.names)
                        for own, inst in zip(square_owns, self.squares, strict=True)],
                        strict=True)):
                # right from the true value, but the student's own step is wrong (it fits only
                # equal sizes): right in terms of it, where it can be computed
                self.student.status[name] = "carried_forward"
                self.student.square_only.add(name)
                return self._item(name, "carried_forward", read, None,
                                  "right in terms of your own " + ", ".join(square_only) +
                                  " (carried forward from a step that fits only equal sizes)",
                                  inputs)
            self.student.status[name] = "correct"
            if self.names.fused and self._keeps_jacobian(read.node, owns[0]):
                return self._item(name, "correct", read, "full_jacobian_unsimplified",
                                  explain("full_jacobian_unsimplified", self.problem), inputs)
            return self._item(name, "correct", read, inputs=inputs)
        carried = [_chained(name, own, inst, self.names) if own else None
                   for own, inst in zip(owns, self.instances, strict=True)]
        own_wrong = any(self.student.status.get(i) != "correct" for i in inputs)
        if own_wrong and all(c is not None and close(v, c)
                             for v, c in zip(values, carried, strict=True)):
            self.student.status[name] = "carried_forward"
            return self._item(name, "carried_forward", read, None,
                              "right in terms of your own " + ", ".join(inputs) +
                              " (carried forward)", inputs)
        self.student.status[name] = "wrong"
        cause, explanation = self._diagnose(read, values, owns, self.instances)
        return self._item(name, "wrong", read, cause, explanation, inputs)

    def _undefined(self, inputs: tuple[str, ...]) -> list[tuple[str, str | None]]:
        """(step, through): each step the formula uses that the answer does not give, with the
        given step it comes through (None: used directly). A step given but unreadable counts
        as not given: what cannot be read derives nothing (else garbage for dh1 would make
        `dW1 = x @ dh1.T` correct)."""
        out: list[tuple[str, str | None]] = []
        for used in inputs:
            if used not in self.read or self.read[used].node is None:
                out.append((used, None))
            elif self.read[used].node is not None:
                out += [(step, used) for step in self.undefined.get(used, ())
                        if all(step != seen for seen, _ in out)]
        return out

    def _keeps_jacobian(self, node: Node, own: Mapping[str, np.ndarray]) -> bool:
        """Whether a part of the formula is the softmax Jacobian diag(ŷ) − ŷŷᵀ as a matrix
        (written any way), on the first instance (a single one)."""
        inst = self.instances[0]
        yhat = inst.env["yhat"]
        jacobian = np.diagflat(yhat) - yhat @ yhat.T
        env = self._environment(inst, own)
        for child in node.walk():
            if child.op in ("name", "num") or not {"yhat", "z"} & child.names():
                continue
            try:
                value = evaluate(child, env, inst.symbols, inst.functions)
            except (FormulaError, ValueError, KeyError):
                continue
            if value.shape == jacobian.shape and close(value, jacobian):
                return True
        return False

    def _record(self, name: str, values: list[np.ndarray] | None,
                squares: list[np.ndarray] | None) -> None:
        """Keep the student's values for the formulas after this one (None: use the true)."""
        none: list[np.ndarray | None] = [None]
        self.student.values[name] = list(values) if values else none * len(self.instances)
        self.student.squares[name] = list(squares) if squares else none * len(self.squares)

    def _diagnose(self, read: ReadFormula, values: list[np.ndarray],
                  owns: list[dict[str, np.ndarray]], instances: list[Instance]
                  ) -> tuple[str | None, str]:
        """The known mistake the values match on every instance, and the words for it."""
        name = read.name
        assert read.node is not None
        truths = [inst.truth[name] for inst in instances]
        shape_note = ""
        mismatch = next(((v, t, inst) for v, t, inst in reversed(list(zip(
            values, truths, instances, strict=True))) if v.shape != t.shape), None)
        if mismatch is not None:
            v, t, inst = mismatch
            rule = _shape_rule(name, self.problem).format(shape=shape_words(t.shape,
                                                                            inst.symbols))
            shape_note = f"your {gradient_symbol(name)} is {shape_words(v.shape, inst.symbols)}; " \
                         f"{rule}"
        for own_side in (False, True):
            bases = [own if own_side else {} for own in owns]
            if own_side and not any(bases):
                continue
            chained = [_chained(name, base, inst, self.names)
                       for base, inst in zip(bases, instances, strict=True)]
            if any(r is None for r in chained):  # an own value whose shape cannot go on
                continue
            references = [r for r in chained if r is not None]
            if all(close(v.T, r) for v, r in zip(values, references, strict=True)) and \
                    any(v.shape != r.shape or not close(v, r)
                        for v, r in zip(values, references, strict=True)):
                cause = ("outer_order" if split(name)[0] == "dW" and _outer_swapped(read.node)
                         else "transposed")
                return cause, _joined(shape_note, explain(cause, self.problem))
            found = self._match(name, values, bases, instances, references)
            if found is None and _scaled(values, references):
                found = "wrong_factor"
            if found:
                return found, _joined(shape_note, explain(found, self.problem))
        if shape_note:
            return "wrong_shape", shape_note
        return None, UNKNOWN_MISTAKE

    def _match(self, name: str, values: list[np.ndarray], bases: list[dict[str, np.ndarray]],
               instances: list[Instance], references: list[np.ndarray]) -> str | None:
        try:
            per_instance = [
                {key: (cause, value) for key, cause, value in candidates(name, base, inst,
                                                                         self.names)}
                for base, inst in zip(bases, instances, strict=True)]
        except (ValueError, KeyError):  # an own value whose shape cannot go on
            return None
        for key, (cause, _) in per_instance[0].items():
            if not all(key in table for table in per_instance):
                continue
            matched = all(close(v, table[key][1])
                          for v, table in zip(values, per_instance, strict=True))
            differs = any(not close(table[key][1], r)
                          for table, r in zip(per_instance, references, strict=True))
            if matched and differs:
                return cause
        return None

    def _square_only(self, read: ReadFormula, error: EvaluationError,
                     inputs: tuple[str, ...]) -> GradeItem:
        """A formula that cannot be evaluated at distinct sizes: what it is at equal ones."""
        name = read.name
        self.student.status[name] = "wrong"
        self._record(name, None, None)
        where = f"it cannot be computed when d, n, q{', B' if self.problem.batched else ''} " \
                f"differ: {error.line}"
        at = error.position  # the caret: where the sizes stop fitting
        if not error.shape:
            return self._item(name, "wrong", read, "wrong_shape", where, inputs, at)
        try:
            values, owns = self._evaluate(read, self.squares, square=True)
        except EvaluationError:
            return self._item(name, "wrong", read, "wrong_shape", where, inputs, at)
        self.student.squares[name] = list(values)
        truths = [inst.truth[name] for inst in self.squares]
        if all(close(v, t) for v, t in zip(values, truths, strict=True)):
            return self._item(name, "wrong", read, "wrong_shape",
                              where + "; it equals the gradient only when the sizes are equal "
                              "(a square matrix hides the mistake)", inputs, at)
        cause, explanation = self._diagnose(read, values, owns, self.squares)
        if cause is None or cause == "wrong_shape":
            return self._item(name, "wrong", read, "wrong_shape", where, inputs, at)
        return self._item(name, "wrong", read, cause,
                          f"{where}; with equal sizes it is the mistake: {explanation}", inputs,
                          at)


def _scaled(values: list[np.ndarray], references: list[np.ndarray]) -> bool:
    """Whether the values are c times the references, one constant c ≠ ±1 on every instance."""
    first, ref = values[0], references[0]
    if first.shape != ref.shape or not np.any(ref):
        return False
    factor = float(np.sum(first * ref) / np.sum(ref * ref))
    if not np.isfinite(factor) or abs(factor) < 1e-6 or np.isclose(abs(factor), 1.0):
        return False
    return all(v.shape == r.shape and close(v, factor * r)
               for v, r in zip(values, references, strict=True))


def _chained(name: str, own: Mapping[str, np.ndarray], inst: Instance, names: Names
             ) -> np.ndarray | None:
    """`name` by the backward steps from the student's own values (None: an own value of a
    shape that the next step cannot take)."""
    try:
        return chain(name, own, inst, names)[name]
    except (ValueError, KeyError):
        return None


def _joined(first: str, second: str) -> str:
    return f"{first}; {second}" if first else second


def _quantities(problem: Problem) -> str:
    """The network's quantities a formula is written in, for the words of `undefined_step`."""
    arch = problem.architecture
    depth = arch.depth
    names = ["x", *(f"W{k}" for k in range(1, depth + 1)), *(f"h{k}" for k in range(1, depth)),
             "yhat", "ys" if arch.loss == "cross_entropy" else "y"]
    if len(names) > 6:
        names = [*names[:3], "…", *names[-2:]]
    return ", ".join(names) + ", …"


def _listed(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def _undefined_words(undefined: list[tuple[str, str | None]], problem: Problem) -> str:
    """uses ∂L/∂h1, which your answer does not derive: ..."""
    used = [gradient_symbol(step) + (f" (through your {through})" if through else "")
            for step, through in undefined]
    steps = _listed([step for step, _ in undefined])
    return (f"uses {_listed(used)}, which your answer does not derive (not given, or not"
            f" readable): write this formula in terms of the network's quantities "
            f"({_quantities(problem)}) or give {steps} too")


def _unreadable(error: FormulaError) -> str:
    return f"{DERIVATION_EXPLANATIONS['unreadable']}: {error.line}"


def _outer_swapped(node: Node) -> bool:
    """Whether the formula's top is an outer product (outer(u, v), u @ v.T, u * v.T), up to
    scalar factors: its transpose is then the order of the outer product, not a layout."""
    while node.op in ("neg", "div") or (node.op in ("mul", "matmul") and
                                        node.args[0].op == "num"):
        node = node.args[0] if node.op in ("neg", "div") else node.args[1]
    if node.op == "call" and node.value == "outer":
        return True
    return node.op in ("matmul", "mul") and node.args[1].op == "T"


def grade_derivation(problem: Problem, formulas: Mapping[str, str],
                     syntax: Syntax | None = None) -> list[GradeItem]:
    """Grade a student's formulas {gradient name: formula} for Problem 1: one `GradeItem` per
    formula given and per asked gradient (dW, db) not given, in backward order, with
    `section = "derivation"`. `syntax`: "numpy" or "latex" for every formula (None: detected
    formula by formula). Unknown names are left out (check first with
    `derivation_problems`)."""
    with np.errstate(all="ignore"):
        return _Grading(problem, formulas, syntax).items()


def formulas_given(items: Iterable[GradeItem]) -> dict[str, str]:
    """The formulas a list of derivation items was graded on {name: formula}."""
    return {item.name: item.given for item in items
            if item.section == SECTION and item.given is not None}
