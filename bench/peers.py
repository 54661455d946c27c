"""One training step of handgrad's fused path beside NumPy's floor, PyTorch, JAX and scikit-learn.

What is measured: one training step of a two-layer MLP d → n (ReLU) → q (softmax) with mean
cross-entropy and label smoothing ε = 0.1 (yˢ = (1 − ε)·onehot + ε/q): forward pass, backward
pass, plain SGD update (η = 0.01, no momentum, no weight decay), and the loss value, computed
and handed back to Python. Every implementation starts from the same data (seeded NumPy:
x ~ N(0, 1), labels uniform in 0..q−1) and the same He-initialised weights (W1 ~ N(0, 2/d),
W2 ~ N(0, 2/(n + q)), biases 0; badly scaled weights would push softmax into subnormal floats,
which slows every matrix product and would make the comparison meaningless).

Implementations:

- handgrad: the step `handgrad train` would take for these shapes (`backend_choice.make_step`,
  backend auto: NumPy's `FusedStep` or the compiled `CompiledStep` (loops, BLAS or, where
  torch is installed and the step is large, BLAS through torch's products), whichever its
  probe measures fastest; the probe runs while building, outside the timing) +
  `Optimizer("sgd")`; the batch lies in the step's own buffers (`batch_buffers`), where the
  training loop gathers it, filled outside the timing; step = `train`, which returns the loss
  as a Python float.
- handgrad-numpy, handgrad-numba, handgrad-blas-torch, handgrad-torch: each backend forced
  (`--backend`): the NumPy fused path; the compiled step (its loops and BLAS modes measured, the
  faster kept); the compiled step with torch's matrix products (numba-blas-torch); the torch
  step (the same formulas on CPU torch tensors, no autograd, eager).
- floor:    only the five matrix products a step cannot avoid (h = xW1, z = hW2, dW2 = hᵀdz,
  da = dz W2ᵀ, dW1 = xᵀda), NumPy with preallocated `out=` buffers: the lower limit.
- floor-torch: the same five products through torch's BLAS (torch.mm, `out=` tensors): the
  lower limit of a path that runs on torch.
- torch:    eager nn.Sequential(Linear, ReLU, Linear), CrossEntropyLoss(label_smoothing=0.1) on
  integer labels, optim.SGD; step = zero_grad, forward, loss, backward, step, loss.item().
- jax:      jax.jit of the whole step (value_and_grad, log_softmax, SGD; params donated),
  block_until_ready on the outputs of every call.
- sklearn:  MLPClassifier(solver="sgd", momentum=0, alpha=0, batch_size=B); one partial_fit on
  the batch is one step. It has NO label smoothing (plain cross-entropy), and it computes its
  loss; it may not keep float32 (the table reports the dtype it really used).

How: each (implementation, configuration, dtype) runs in a fresh subprocess
(`python bench/peers.py --worker IMPL CONFIG DTYPE`, which prints one JSON line), so no library
warms another's caches or thread pools. The worker makes one untimed first call (JAX compiles,
scikit-learn initialises), warms up for at least 3 calls and 0.2 s, then times single calls with
time.perf_counter until the budget is spent (at least 5, at most 20000 calls) and reports the
median. Thread counts are each library's default on all cores (torch.set_num_threads(cpu_count));
OPENBLAS_*/OMP_*/MKL_* variables are not touched, only recorded, unless `--threads N` sets them
(and torch's count) for every worker and pins each worker to N CPUs (XLA reads no variable:
its pool would take every core).

Run (the peers come with `pip install -e .[bench]`; a peer that is not installed is skipped):

    python bench/peers.py                      # everything, ~1 s per measurement
    python bench/peers.py --quick              # a subset, under a minute
    python bench/peers.py --configs small,mnist128 --impls handgrad,torch --dtypes float32
    python bench/peers.py --json peers.json    # also write the results

Never run as a test.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import platform
import statistics
import subprocess
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

CONFIGS: dict[str, tuple[int, int, int, int]] = {  # name: (d, n, q, batch)
    "tiny": (2, 3, 3, 1),
    "small": (64, 128, 10, 64),
    "mnist128": (784, 256, 10, 128),
    "mnist1024": (784, 256, 10, 1024),
    "wide": (1024, 4096, 1000, 512),
}
IMPLS = ("handgrad", "handgrad-numpy", "handgrad-numba", "handgrad-blas-torch", "handgrad-torch",
         "floor", "floor-torch", "torch", "jax", "sklearn")
DTYPES = ("float32", "float64")
QUICK_CONFIGS = ("tiny", "small", "mnist1024")
QUICK_BUDGET = 0.25
LEARNING_RATE = 0.01
SMOOTHING = 0.1
SEED = 0
MIN_REPEATS = 5
MAX_REPEATS = 20000
SLOW_CALL_S = 60.0  # a measurement's timed calls are cut down to fit about this much time
WORKER_TIMEOUT_S = 900

Step = Callable[[], Any]  # one training step; returns the loss (float or 0-d array)


# ---------------------------------------------------------------- data


def make_data(config: str, dtype: str) -> dict[str, Any]:
    """x, labels, smoothed targets and He-initialised parameters, all from one seed."""
    d, n, q, batch = CONFIGS[config]
    rng = np.random.default_rng(SEED)
    x = rng.standard_normal((batch, d)).astype(dtype)
    labels = rng.integers(0, q, size=batch)
    onehot = np.eye(q)[labels]
    ys = ((1 - SMOOTHING) * onehot + SMOOTHING / q).astype(dtype)
    params = {
        "W1": (rng.standard_normal((d, n)) * np.sqrt(2 / d)).astype(dtype),
        "b1": np.zeros(n, dtype),
        "W2": (rng.standard_normal((n, q)) * np.sqrt(2 / (n + q))).astype(dtype),
        "b2": np.zeros(q, dtype),
    }
    return {"x": x, "labels": labels, "ys": ys, "params": params, "sizes": (d, n, q, batch)}


# ---------------------------------------------------------------- implementations
# Each builder returns (step, info): step() runs one training step and returns the loss.


def build_handgrad(data: dict[str, Any], dtype: str, backend: str = "auto"
                   ) -> tuple[Step, dict[str, Any]]:
    from handgrad.core.network import Architecture
    from handgrad.core.ops import Activation
    from handgrad.train.backend_choice import make_step
    from handgrad.train.loop import step_name
    from handgrad.train.optim import Optimizer

    d, n, q, batch = data["sizes"]
    arch = Architecture((d, n, q), Activation("relu"), "softmax", "in_out", "cross_entropy", "mean")
    params = {key: value.copy() for key, value in data["params"].items()}
    opt = Optimizer("sgd", learning_rate=LEARNING_RATE)
    started = time.perf_counter()
    fused = make_step(arch, params, batch, backend, opt, probe=(data["x"], data["ys"]))  # type: ignore[arg-type]
    chosen_s = time.perf_counter() - started
    if "torch" in sys.modules:  # its products (blas-torch, or the torch step): --threads too
        sys.modules["torch"].set_num_threads(_threads())
    xb, yb = fused.batch_buffers(batch)
    xb[...] = fused.prepare(data["x"])
    yb[...] = data["ys"]
    train = fused.train

    def step() -> float:
        return train(xb, yb, opt)

    info = {"dtype_used": str(fused.weights[0].dtype), "version": _version("handgrad"),
            "path": step_name(fused), "choose_and_build_s": chosen_s}
    return step, info


def build_handgrad_numpy(data: dict[str, Any], dtype: str) -> tuple[Step, dict[str, Any]]:
    return build_handgrad(data, dtype, "numpy")


def build_handgrad_numba(data: dict[str, Any], dtype: str) -> tuple[Step, dict[str, Any]]:
    return build_handgrad(data, dtype, "numba")


def build_handgrad_blas_torch(data: dict[str, Any], dtype: str) -> tuple[Step, dict[str, Any]]:
    return build_handgrad(data, dtype, "numba-blas-torch")


def build_handgrad_torch(data: dict[str, Any], dtype: str) -> tuple[Step, dict[str, Any]]:
    return build_handgrad(data, dtype, "torch")


def _threads() -> int:
    """Threads for torch: --threads (through the environment), else every core."""
    return int(os.environ.get("HANDGRAD_BENCH_THREADS") or os.cpu_count() or 1)


def _five_products(matmul: Callable[..., Any], data: dict[str, Any], dtype: str,
                   convert: Callable[[np.ndarray], Any], empty: Callable[[tuple[int, int]], Any]
                   ) -> Step:
    """The five matrix products a step cannot avoid (h = xW1, z = hW2, dW2 = hᵀdz,
    da = dz W2ᵀ, dW1 = xᵀda) into preallocated outputs, with `matmul` on `convert`ed arrays."""
    d, n, q, batch = data["sizes"]
    rng = np.random.default_rng(SEED + 1)
    dz = convert((rng.standard_normal((batch, q)) / batch).astype(dtype))
    x, w1, w2 = (convert(data[key] if key == "x" else data["params"][key])
                 for key in ("x", "W1", "W2"))
    h, z, dw2, da, dw1 = (empty(shape) for shape in ((batch, n), (batch, q), (n, q), (batch, n),
                                                      (d, n)))

    def step() -> float:
        matmul(x, w1, out=h)
        matmul(h, w2, out=z)
        matmul(h.T, dz, out=dw2)
        matmul(dz, w2.T, out=da)
        matmul(x.T, da, out=dw1)
        return 0.0

    return step


def build_floor(data: dict[str, Any], dtype: str) -> tuple[Step, dict[str, Any]]:
    step = _five_products(np.matmul, data, dtype, np.asarray,
                          lambda shape: np.empty(shape, dtype))
    return step, {"dtype_used": dtype, "note": "five matrix products only, no loss"}


def build_floor_torch(data: dict[str, Any], dtype: str) -> tuple[Step, dict[str, Any]]:
    """The same five products through torch's BLAS (torch.mm into out= tensors): the floor of
    a path that runs on torch."""
    import torch

    torch.set_num_threads(_threads())
    tdtype = torch.float64 if dtype == "float64" else torch.float32
    step = _five_products(torch.mm, data, dtype, torch.from_numpy,
                          lambda shape: torch.empty(shape, dtype=tdtype))
    return step, {"dtype_used": dtype, "note": "five matrix products only (torch), no loss",
                  "threads": torch.get_num_threads()}


def build_torch(data: dict[str, Any], dtype: str) -> tuple[Step, dict[str, Any]]:
    import torch
    from torch import nn

    torch.set_num_threads(_threads())
    d, n, q, _ = data["sizes"]
    tdtype = torch.float64 if dtype == "float64" else torch.float32
    model = nn.Sequential(nn.Linear(d, n), nn.ReLU(), nn.Linear(n, q))
    if tdtype == torch.float64:
        model = model.double()
    p = data["params"]
    with torch.no_grad():  # the shared initialisation; nn.Linear keeps W as (out, in)
        model[0].weight.copy_(torch.from_numpy(p["W1"].T.copy()))
        model[0].bias.copy_(torch.from_numpy(p["b1"]))
        model[2].weight.copy_(torch.from_numpy(p["W2"].T.copy()))
        model[2].bias.copy_(torch.from_numpy(p["b2"]))
    x = torch.from_numpy(data["x"]).to(tdtype)
    target = torch.from_numpy(data["labels"]).long()
    criterion = nn.CrossEntropyLoss(label_smoothing=SMOOTHING)
    opt = torch.optim.SGD(model.parameters(), lr=LEARNING_RATE)

    def step() -> float:
        opt.zero_grad()
        loss = criterion(model(x), target)
        loss.backward()
        opt.step()
        return loss.item()

    info = {
        "dtype_used": str(model[0].weight.dtype).removeprefix("torch."),
        "version": torch.__version__,
        "threads": torch.get_num_threads(),
    }
    return step, info


def build_jax(data: dict[str, Any], dtype: str) -> tuple[Step, dict[str, Any]]:
    import jax

    if dtype == "float64":
        jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp

    def loss_fn(p: dict[str, Any], x: Any, ys: Any) -> Any:
        h = jnp.maximum(x @ p["W1"] + p["b1"], 0)
        z = h @ p["W2"] + p["b2"]
        return -jnp.mean(jnp.sum(ys * jax.nn.log_softmax(z, axis=-1), axis=-1))

    def train_step(p: dict[str, Any], x: Any, ys: Any) -> tuple[dict[str, Any], Any]:
        loss, grads = jax.value_and_grad(loss_fn)(p, x, ys)
        new = jax.tree_util.tree_map(lambda w, g: w - LEARNING_RATE * g, p, grads)
        return new, loss

    jitted = jax.jit(train_step, donate_argnums=0)
    state = {"p": {key: jnp.asarray(value) for key, value in data["params"].items()}}
    x, ys = jnp.asarray(data["x"]), jnp.asarray(data["ys"])

    def step() -> float:
        new, loss = jitted(state["p"], x, ys)
        jax.block_until_ready((new, loss))
        state["p"] = new
        return loss  # a ready 0-d array; float() of it is taken outside the timing

    info = {
        "dtype_used": str(state["p"]["W1"].dtype),
        "version": jax.__version__,
        "backend": jax.default_backend(),
    }
    return step, info


def build_sklearn(data: dict[str, Any], dtype: str) -> tuple[Step, dict[str, Any]]:
    import sklearn
    from sklearn.neural_network import MLPClassifier

    _, n, q, batch = data["sizes"]
    model = MLPClassifier(
        hidden_layer_sizes=(n,),
        activation="relu",
        solver="sgd",
        learning_rate_init=LEARNING_RATE,
        momentum=0.0,
        nesterovs_momentum=False,
        alpha=0.0,
        batch_size=batch,
        random_state=SEED,
    )
    x, labels = data["x"], data["labels"]
    classes = np.arange(q)
    model.partial_fit(x, labels, classes=classes)  # initialises; then the shared weights
    used = model.coefs_[0].dtype
    p = data["params"]
    model.coefs_ = [p["W1"].astype(used), p["W2"].astype(used)]
    model.intercepts_ = [p["b1"].astype(used), p["b2"].astype(used)]

    def step() -> float:
        model.partial_fit(x, labels)
        return model.loss_

    note = "no label smoothing (plain cross-entropy); computes its loss"
    return step, {"dtype_used": str(used), "version": sklearn.__version__, "note": note}


BUILDERS: dict[str, Callable[[dict[str, Any], str], tuple[Step, dict[str, Any]]]] = {
    "handgrad": build_handgrad,
    "handgrad-numpy": build_handgrad_numpy,
    "handgrad-numba": build_handgrad_numba,
    "handgrad-blas-torch": build_handgrad_blas_torch,
    "handgrad-torch": build_handgrad_torch,
    "floor": build_floor,
    "floor-torch": build_floor_torch,
    "torch": build_torch,
    "jax": build_jax,
    "sklearn": build_sklearn,
}


# ---------------------------------------------------------------- the worker


def measure(step: Step, budget: float) -> dict[str, Any]:
    """Untimed first call, warm-up, then single timed calls until the budget is spent."""
    perf = time.perf_counter
    start = perf()
    loss0 = float(step())  # the loss at the shared initial weights
    first_s = perf() - start
    warm_calls, warm_start = 0, perf()
    warm_for = min(0.2, budget)
    while True:
        step()
        warm_calls += 1
        warm_elapsed = perf() - warm_start
        if (warm_calls >= 3 and warm_elapsed >= warm_for) or warm_calls >= MAX_REPEATS:
            break
        if warm_elapsed >= SLOW_CALL_S / 4:  # a very slow step: a shorter warm-up
            break
    per_call = (perf() - warm_start) / warm_calls
    min_repeats = MIN_REPEATS
    if per_call * MIN_REPEATS > SLOW_CALL_S:  # a very slow step: fewer repeats, never skip
        min_repeats = max(1, int(SLOW_CALL_S / per_call))
    times: list[float] = []
    begin = perf()
    while len(times) < min_repeats or (perf() - begin < budget and len(times) < MAX_REPEATS):
        t0 = perf()
        step()
        times.append(perf() - t0)
    last = float(step())
    return {
        "median_s": statistics.median(times),
        "min_s": min(times),
        "repeats": len(times),
        "warmup_calls": warm_calls,
        "first_call_s": first_s,
        "loss0": loss0,
        "loss_last": last,
    }


def pin_to_threads() -> list[int] | None:
    """With --threads N, keep this worker on N CPUs. The thread-count variables reach OpenBLAS,
    MKL and torch, but not XLA, whose own pool takes every core: without the pin, jax.jit ran on
    two cores while the others ran on one (it measured 4.1 ms at mnist1024 float32 where,
    pinned, it takes 6.2 ms)."""
    wanted = os.environ.get("HANDGRAD_BENCH_THREADS")
    if not wanted or not hasattr(os, "sched_setaffinity"):
        return None
    cpus = sorted(os.sched_getaffinity(0))[: int(wanted)]
    os.sched_setaffinity(0, cpus)
    return cpus


def worker(impl: str, config: str, dtype: str, budget: float) -> dict[str, Any]:
    warnings.simplefilter("ignore")
    pinned = {"cpus": pin_to_threads()}
    try:
        builder = BUILDERS[impl]
        data = make_data(config, dtype)
        try:
            step, info = builder(data, dtype)
        except ImportError as exc:
            return {"skipped": f"{impl} not importable: {exc}"}
        return {**info, **pinned, **measure(step, budget), "impl_is_default": impl == "handgrad"}
    except Exception as exc:  # report, never crash the table
        return {"error": f"{type(exc).__name__}: {exc}"}


def run_worker(impl: str, config: str, dtype: str, budget: float) -> dict[str, Any]:
    """Run one measurement in a fresh interpreter and read its JSON line."""
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--worker",
        impl,
        config,
        dtype,
        "--budget",
        str(budget),
    ]
    try:
        proc = subprocess.run(command, capture_output=True, text=True, timeout=WORKER_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {WORKER_TIMEOUT_S} s"}
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith("{"):
            try:
                return json.loads(line)
            except json.JSONDecodeError:
                break
    tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
    return {"error": f"worker exit {proc.returncode}: {tail}"}


# ---------------------------------------------------------------- the report


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def machine_info() -> dict[str, Any]:
    cpu = platform.processor()
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10).stdout
        for line in lscpu.splitlines():
            if line.startswith("Model name:"):
                cpu = line.split(":", 1)[1].strip()
                break
    except (OSError, subprocess.SubprocessError):
        pass
    info: dict[str, Any] = {
        "cpu": cpu or platform.machine(),
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "torch": _version("torch"),
        "jax": _version("jax"),
        "scikit-learn": _version("scikit-learn"),
    }
    try:
        from threadpoolctl import threadpool_info, threadpool_limits

        wanted = os.environ.get("HANDGRAD_BENCH_THREADS")  # what the workers run with
        if wanted:
            threadpool_limits(int(wanted))
        info["blas (numpy)"] = (
            ", ".join(
                f"{lib.get('internal_api')} {lib.get('version')} ({lib.get('architecture')}, "
                f"{lib.get('num_threads')} threads)"
                for lib in threadpool_info()
                if lib.get("user_api") == "blas"
            )
            or "unknown"
        )
    except ImportError:
        info["blas (numpy)"] = "threadpoolctl not installed"
    if hasattr(os, "getloadavg"):  # other work on the machine skews every number
        info["load average at the end (1, 5, 15 min)"] = " ".join(
            f"{v:.2f}" for v in os.getloadavg()
        )
    prefixes = ("OPENBLAS_", "OMP_", "MKL_", "XLA_", "GOTO", "HANDGRAD_BENCH_")
    env = {key: value for key, value in os.environ.items() if key.startswith(prefixes)}
    info["env"] = env or "none set"
    if env.get("HANDGRAD_BENCH_THREADS") and hasattr(os, "sched_getaffinity"):
        wanted = int(env["HANDGRAD_BENCH_THREADS"])
        info["each worker pinned to CPUs"] = str(sorted(os.sched_getaffinity(0))[:wanted])
    return info


def human(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if seconds < 1e-3:
        return f"{seconds * 1e6:.1f} µs"
    if seconds < 1:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds:.3f} s"


def ratio(a: float | None, b: float | None) -> str:
    return f"{a / b:.2f}×" if a is not None and b else "—"


def cell(result: dict[str, Any], dtype: str) -> str:
    if "skipped" in result:
        return "skipped"
    if "error" in result:
        return "error"
    text = human(result["median_s"])
    used = result.get("dtype_used")
    if used and used != dtype:
        text += f" ({used})"
    return text


def print_report(
    results: dict[tuple[str, str, str], dict[str, Any]],
    configs: list[str],
    dtypes: list[str],
    impls: list[str],
    machine: dict[str, Any],
    elapsed: float | None,
) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    if console.width < 300:  # piped to a file, or a narrow terminal: keep the table whole
        console = Console(width=300)
    table = Table(title="one training step (forward, backward, SGD update, loss): median time")
    table.add_column("config (d-n-q, B)")
    table.add_column("dtype")
    for impl in impls:
        table.add_column(impl + ("†" if impl == "sklearn" else ""), justify="right")
        if impl == "handgrad":
            table.add_column("path")
    pairs = [("handgrad", "floor"), ("torch", "handgrad"), ("jax", "handgrad")]
    pairs = [(a, b) for a, b in pairs if a in impls and b in impls]
    for a, b in pairs:
        table.add_column(f"{a}/{b}", justify="right")
    own_floor = "handgrad" in impls and "floor" in impls and "floor-torch" in impls
    if own_floor:
        table.add_column("handgrad/its floor", justify="right")
    for config in configs:
        d, n, q, batch = CONFIGS[config]
        for dtype in dtypes:
            row = [f"{config} ({d}-{n}-{q}, {batch})", dtype]
            medians: dict[str, float | None] = {}
            for impl in impls:
                result = results[(config, dtype, impl)]
                medians[impl] = result.get("median_s")
                row.append(cell(result, dtype))
                if impl == "handgrad":
                    row.append(str(result.get("path", "—")))
            row += [ratio(medians[a], medians[b]) for a, b in pairs]
            if own_floor:  # the floor of the BLAS the chosen path runs on
                path = str(results[(config, dtype, "handgrad")].get("path", ""))
                floor = "floor-torch" if "torch" in path else "floor"
                row.append(ratio(medians["handgrad"], medians[floor]))
            table.add_row(*row)
    console.print(table)
    notes = ["floor = the five matrix products alone (NumPy, out= buffers): the lower limit;"
             " floor-torch = the same through torch's BLAS; 'its floor' = the floor of the BLAS"
             " the default path ran on (floor-torch where it chose torch).",
             "handgrad = the default (auto) path, the one its probe measured fastest (column"
             " 'path'); handgrad-numpy/-numba/-blas-torch/-torch = each backend forced."]
    if "sklearn" in impls:
        notes.append(
            "† sklearn: MLPClassifier.partial_fit, NO label smoothing (plain "
            "cross-entropy); it computes its loss. A dtype in parentheses is the one "
            "it really used."
        )
    for note in notes:
        console.print(note)
    problems = [(key, res) for key, res in results.items() if "skipped" in res or "error" in res]
    for (config, dtype, impl), res in problems:
        console.print(f"  {impl} {config} {dtype}: {res.get('skipped') or res.get('error')}")
    console.print("machine:")
    for key, value in machine.items():
        console.print(f"  {key}: {value}")
    if elapsed is not None:
        console.print(f"total time {elapsed:.1f} s")


def print_saved(path: Path) -> None:
    """The report of a run saved with --json (its rows, in their order, and its machine)."""
    try:
        rows = json.loads(path.read_text())
        results = {(r["config"], r["dtype"], r["impl"]): r for r in rows}
        machine = rows[0]["machine"]
        configs = list(dict.fromkeys(r["config"] for r in rows))
        dtypes = list(dict.fromkeys(r["dtype"] for r in rows))
        impls = list(dict.fromkeys(r["impl"] for r in rows))
        unknown = [c for c in configs if c not in CONFIGS]
        missing = [(c, t, i) for c in configs for t in dtypes for i in impls
                   if (c, t, i) not in results]
        untimed = [r for r in rows if not isinstance(r.get("median_s"), (int, float, type(None)))
                   or ("median_s" not in r and "skipped" not in r and "error" not in r)]
        if unknown or missing or untimed or not isinstance(machine, dict):
            raise ValueError(f"unknown configurations {unknown}" if unknown
                             else f"no row for {' '.join(missing[0])}" if missing
                             else "a row without a time" if untimed else "no machine record")
    except OSError as error:
        sys.exit(f"--report {path}: cannot read it ({error.strerror or error})")
    except (ValueError, KeyError, IndexError, TypeError) as error:
        sys.exit(f"--report {path}: not a bench/peers.py --json file ({type(error).__name__}:"
                 f" {error})")
    print_report(results, configs, dtypes, impls, machine, None)


def combine_rounds(found: list[dict[str, Any]]) -> dict[str, Any]:
    """One cell from its rounds: the median of the rounds' medians (errors and skips pass)."""
    timed = [r for r in found if "median_s" in r]
    if not timed:
        return found[0]
    combined = dict(timed[0])
    combined["median_s"] = statistics.median(r["median_s"] for r in timed)
    combined["min_s"] = min(r["min_s"] for r in timed)
    combined["repeats"] = sum(r["repeats"] for r in timed)
    combined["round_medians_s"] = [r["median_s"] for r in timed]
    return combined


def main() -> None:
    parser = argparse.ArgumentParser(
        description="Benchmark one MLP training step of handgrad against its peers."
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"{', '.join(QUICK_CONFIGS)} in float32, short budget, sklearn on tiny only",
    )
    parser.add_argument("--json", type=Path, help="write the results to this file")
    parser.add_argument("--configs", help=f"comma-separated, from {', '.join(CONFIGS)}")
    parser.add_argument("--impls", help=f"comma-separated, from {', '.join(IMPLS)}")
    parser.add_argument("--dtypes", help="comma-separated, from float32, float64")
    parser.add_argument(
        "--budget",
        type=float,
        help=f"seconds of timed calls per measurement (default 1, --quick {QUICK_BUDGET})",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        help="repeat every measurement this many times, interleaved, and report the median of"
        " the rounds' medians (default 3, --quick 1): this machine's speed drifts by tens of"
        " per cent between minutes",
    )
    parser.add_argument(
        "--threads",
        type=int,
        help="threads for every library (OPENBLAS/OMP/MKL_NUM_THREADS, torch's, and each worker"
        " pinned to that many CPUs, which is what holds XLA to it), default all"
        " cores: 1 keeps the comparison fair on a machine other work shares, where a BLAS"
        " that waits for all its threads at every product is slowed many times over",
    )
    parser.add_argument("--report", type=Path, metavar="JSON",
                        help="print the table of an earlier run's --json file, measuring nothing")
    parser.add_argument(
        "--worker", nargs=3, metavar=("IMPL", "CONFIG", "DTYPE"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    usable = (len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
              else os.cpu_count() or 1)
    if args.threads is not None and not 1 <= args.threads <= usable:
        parser.error(f"--threads {args.threads}: from 1 to the {usable} CPUs this process may"
                     " use")

    if args.worker:
        impl, config, dtype = args.worker
        print(json.dumps(worker(impl, config, dtype, args.budget or 1.0)), flush=True)
        return

    if args.report:
        print_saved(args.report)
        return

    def pick(value: str | None, allowed: tuple[str, ...] | list[str], default: Any) -> list[str]:
        chosen = value.split(",") if value else list(default)
        unknown = [item for item in chosen if item not in allowed]
        if unknown:
            parser.error(f"unknown {', '.join(unknown)}; choose from {', '.join(allowed)}")
        return chosen

    configs = pick(args.configs, list(CONFIGS), QUICK_CONFIGS if args.quick else CONFIGS)
    impls = pick(args.impls, IMPLS, IMPLS)
    dtypes = pick(args.dtypes, DTYPES, ("float32",) if args.quick else DTYPES)
    budget = args.budget or (QUICK_BUDGET if args.quick else 0.5)
    rounds = max(1, args.rounds or (1 if args.quick else 3))

    # one measured choice of path per configuration for the whole run (the workers share it),
    # measured afresh by the first worker that needs it
    import tempfile

    os.environ["HANDGRAD_CACHE_DIR"] = tempfile.mkdtemp(prefix="handgrad-bench-")
    if args.threads:  # the workers inherit these; torch reads HANDGRAD_BENCH_THREADS
        for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS",
                     "HANDGRAD_BENCH_THREADS"):
            os.environ[name] = str(args.threads)
    load_before = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    start = time.perf_counter()
    per_round: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for round_number in range(1, rounds + 1):
        for config in configs:
            for dtype in dtypes:
                for impl in impls:
                    key = (config, dtype, impl)
                    if args.quick and impl == "sklearn" and config != "tiny":
                        per_round[key] = [{"skipped": "--quick: sklearn on tiny only"}]
                        continue
                    print(f"  round {round_number}/{rounds} {impl:9} {config:10} {dtype} ...",
                          end=" ", flush=True, file=sys.stderr)
                    result = run_worker(impl, config, dtype, budget)
                    print(cell(result, dtype), file=sys.stderr)
                    per_round.setdefault(key, []).append(result)
    results = {key: combine_rounds(found) for key, found in per_round.items()}
    elapsed = time.perf_counter() - start
    machine = machine_info()
    machine["load average before the run (1 min)"] = f"{load_before:.2f}"
    print_report(results, configs, dtypes, impls, machine, elapsed)
    if args.json:
        rows = [
            {
                "config": c,
                "dtype": t,
                "impl": i,
                "median_s": r.get("median_s"),
                **{k: v for k, v in r.items() if k != "median_s"},
                "machine": machine,
            }
            for (c, t, i), r in results.items()
        ]
        args.json.write_text(json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    main()
