"""Which step object trains a network: measured for its shapes, or forced with --backend.

The candidates are the NumPy `FusedStep`, and the compiled `CompiledStep` in its two modes
(`loops`: the whole step one compiled call; `blas`: BLAS products and compiled elementwise
passes). `auto` times each on the run's own first batch, from a copy of the parameters with a
copy of the optimizer (the run itself starts untouched), in turns (one call of each, again and
again, so that a busy moment of a shared machine falls on all of them), and keeps the one with
the least time (NumPy only by more than the noise, 3 %). torch is never
chosen by `auto` on the CPU (its eager step is slower than all three here, and importing it costs
seconds); `--device cuda` or `--backend torch` selects it.

A choice is remembered per shape in memory and in a small JSON file (HANDGRAD_CACHE_DIR, else
$XDG_CACHE_HOME/handgrad, else ~/.cache/handgrad), so that a rerun with the same seed takes the
same path and gives the same numbers bit for bit, and does not measure again.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import numpy as np

from handgrad.core.network import Architecture
from handgrad.train.fused import FusedStep
from handgrad.train.optim import Optimizer

Backend = Literal["auto", "numpy", "numba", "torch"]
BACKENDS: tuple[Backend, ...] = ("auto", "numpy", "numba", "torch")
PROBE_SECONDS = 0.25  # all candidates together, after two untimed calls each
PROBE_CALLS = 30  # rounds at most (one call of each candidate a round)
PROBE_MIN_ROUNDS = 5
LOOPS_PROBE_LIMIT = 50_000_000  # multiply-adds a step beyond which loops are not even timed
CACHE_FILE = "backends.json"
CANDIDATES = ("numpy", "numba-loops", "numba-blas")
NUMBA_CANDIDATES = ("numba-loops", "numba-blas")  # --backend numba: its two modes, measured
# NumPy is kept only when it beats the best compiled step by more than this: where both run
# the same BLAS products the compiled one does strictly less besides (fewer passes over
# memory), and a difference this small is the noise of a shared machine, not a real lead
NOISE = 0.03

_chosen: dict[str, str] = {}


def make_step(arch: Architecture, params: Mapping[str, np.ndarray], max_batch: int,
              backend: Backend = "auto", optimizer: Optimizer | None = None,
              probe: tuple[np.ndarray, np.ndarray] | None = None, device: str = "cpu") -> Any:
    """The step object for `backend` ("auto": the fastest measured on `probe`, raw rows x
    (N, d) and targets (N, q), with `optimizer`'s rule)."""
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    if device != "cpu" and backend in ("auto", "torch"):
        backend = "torch"
    elif device != "cpu":
        raise ValueError(f"--device {device} needs the torch backend, not {backend}")
    if backend == "torch":
        from handgrad.train.torch_backend import TorchStep

        return TorchStep(arch, params, max_batch, device=device)
    if backend == "numpy":
        return FusedStep(arch, params, max_batch)
    from handgrad.train import compiled

    if not compiled.available():  # said once on stderr
        return FusedStep(arch, params, max_batch)
    among = NUMBA_CANDIDATES if backend == "numba" else CANDIDATES
    name = choose(arch, params, max_batch, optimizer or Optimizer("sgd"), probe, among)
    if name == "numpy":
        return FusedStep(arch, params, max_batch)
    mode: compiled.Mode = "loops" if name == "numba-loops" else "blas"
    return compiled.CompiledStep(arch, params, max_batch, mode=mode)


def _key(arch: Architecture, dtype: np.dtype, max_batch: int, optimizer: Optimizer,
         among: tuple[str, ...]) -> str:
    act = arch.hidden
    return json.dumps([list(arch.layers), act.name, arch.output, arch.loss, str(dtype),
                       max_batch, optimizer.name, optimizer.weight_decay != 0,
                       os.cpu_count(), list(among)])


def cache_path() -> Path:
    root = os.environ.get("HANDGRAD_CACHE_DIR")
    if root:
        return Path(root) / CACHE_FILE
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "handgrad" / CACHE_FILE


def _read_cache() -> dict[str, str]:
    try:
        found = json.loads(cache_path().read_text())
    except (OSError, ValueError):
        return {}
    return {str(k): str(v) for k, v in found.items()} if isinstance(found, dict) else {}


def _write_cache(key: str, name: str) -> None:
    path = cache_path()
    try:
        found = _read_cache()
        found[key] = name
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(f".{os.getpid()}.tmp")
        temporary.write_text(json.dumps(found, indent=0))
        temporary.replace(path)  # whole or not at all, even with two runs at once
    except OSError:
        pass  # a read-only home: measure again next time


def choose(arch: Architecture, params: Mapping[str, np.ndarray], max_batch: int,
           optimizer: Optimizer, probe: tuple[np.ndarray, np.ndarray] | None = None,
           among: tuple[str, ...] = CANDIDATES) -> str:
    """One of `among` ("numpy", "numba-loops", "numba-blas"): the fastest step for these
    shapes, measured (or remembered from an earlier measurement)."""
    dtype = np.dtype(np.asarray(params["W1"]).dtype)
    key = _key(arch, dtype, max_batch, optimizer, among)
    if key in _chosen:
        return _chosen[key]
    remembered = _read_cache().get(key)
    if remembered in among:
        _chosen[key] = remembered
        return remembered
    timings = measure(arch, params, max_batch, optimizer, probe, among)
    name = min(timings, key=lambda candidate: timings[candidate])
    compiled_times = [t for candidate, t in timings.items() if candidate != "numpy"]
    if name == "numpy" and compiled_times and min(compiled_times) < timings[name] * (1 + NOISE):
        name = min((c for c in timings if c != "numpy"), key=lambda c: timings[c])
    _chosen[key] = name
    _write_cache(key, name)
    return name


def measure(arch: Architecture, params: Mapping[str, np.ndarray], max_batch: int,
            optimizer: Optimizer, probe: tuple[np.ndarray, np.ndarray] | None = None,
            among: tuple[str, ...] = CANDIDATES) -> dict[str, float]:
    """Seconds per step of each candidate: the least of its timed calls, taken in turns."""
    from handgrad.train import compiled

    dtype = np.dtype(np.asarray(params["W1"]).dtype)
    q = arch.layers[-1]
    if probe is None or len(probe[0]) == 0:
        rng = np.random.default_rng(0)
        x = rng.standard_normal((max_batch, arch.layers[0]))
        target = np.full((max_batch, q), 1 / q)
    else:
        x, target = probe[0][:max_batch], probe[1][:max_batch]
    candidates: dict[str, Any] = {"numpy": lambda p: FusedStep(arch, p, max_batch)}
    if compiled.available():
        candidates["numba-blas"] = lambda p: compiled.CompiledStep(arch, p, max_batch, "blas")
        if compiled.multiply_adds(arch, max_batch) <= LOOPS_PROBE_LIMIT:
            candidates["numba-loops"] = (
                lambda p: compiled.CompiledStep(arch, p, max_batch, "loops"))
    runs = {}
    for name, make in candidates.items():
        if name not in among:
            continue
        copy = {k: np.array(v, dtype) for k, v in params.items()}
        step = make(copy)
        xb, yb = step.batch_buffers(len(x))
        xb[...] = step.prepare(x)
        yb[...] = target
        rule = Optimizer(optimizer.name, optimizer.learning_rate, optimizer.momentum,
                         optimizer.beta1, optimizer.beta2, optimizer.eps, optimizer.weight_decay)
        runs[name] = (step, xb, yb, rule)
    times: dict[str, list[float]] = {name: [] for name in runs}
    with np.errstate(all="ignore"):
        for step, xb, yb, rule in runs.values():
            for _ in range(2):  # compiles (or loads numba's cache), warms the caches
                step.train(xb, yb, rule)
        # round-robin, so that a slower minute of a shared machine falls on every candidate
        begin = time.perf_counter()
        for round_number in range(PROBE_CALLS):
            if round_number >= PROBE_MIN_ROUNDS and time.perf_counter() - begin > PROBE_SECONDS:
                break
            for name, (step, xb, yb, rule) in runs.items():
                start = time.perf_counter()
                step.train(xb, yb, rule)
                times[name].append(time.perf_counter() - start)
    # the least time: what the step costs when nothing else interferes
    timings = {name: float(min(found)) for name, found in times.items()}
    return timings
