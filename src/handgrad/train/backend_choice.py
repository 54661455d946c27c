"""Which step object trains a network: measured for its shapes, or forced with --backend.

The candidates are the NumPy `FusedStep`, and the compiled `CompiledStep` in its two modes
(`loops`: the whole step one compiled call; `blas`: BLAS products and compiled elementwise
passes). `auto` times each on the run's own first batch, from a copy of the parameters with a
copy of the optimizer (the run itself starts untouched), in turns (one call of each, again and
again, so that a busy moment of a shared machine falls on all of them), and keeps the one with
the least time (NumPy only by more than the noise, 3 %). Where torch is installed, the compiled
step's `blas-torch` mode is a fourth candidate for large steps: the same compiled passes with
the matrix products through torch's BLAS, which beats NumPy's OpenBLAS by 6-33 % at large
shapes on the 2-core Xeon this was measured on, while its calls cost a few microseconds more,
which no step under TORCH_MIN_STEP_SECONDS could win back. The torch step (`TorchStep`: torch
for everything, its eager calls about 0.1 ms a step) is never chosen on the CPU, where
`blas-torch` runs the same products with fewer passes; `--device cuda` or `--backend torch`
selects it.

Before any of that, when NumPy is a candidate and a faster path's library is not loaded yet,
the NumPy step alone is timed (no other import): a path whose fixed cost (importing its
library, loading or compiling its kernels, measuring) the run could not repay is not tried.
The compiled path can save about half of a NumPy step, so it is tried when the run's NumPy
estimate (time a step × its steps) is over FIXED_COST_MARGIN × COMPILED_FIXED_SECONDS; torch's
products save a fifth at best, so `blas-torch` needs TORCH_FIXED_COST_MARGIN × (its import,
TORCH_FIXED_SECONDS, and the compiled path's cost).

A choice is remembered per shape and run length in memory and in a small JSON file
(HANDGRAD_CACHE_DIR, else $XDG_CACHE_HOME/handgrad, else ~/.cache/handgrad; written with
`atomic.write_file`), so that a rerun with the same seed takes the same path and gives the same
numbers bit for bit, and does not measure again. Where that file cannot be written, the choice
is measured again by every process and may differ (NumPy and the compiled step round
differently): the first choice a process could not write is said once on stderr, with the
--backend value that repeats it; every run records its path in run.json's "step", and
`--backend numpy|numba-loops|numba-blas|numba-blas-torch` takes that path without measuring.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import numpy as np

from handgrad.atomic import write_file
from handgrad.core.network import Architecture
from handgrad.errors import HandgradError
from handgrad.train.fused import FusedStep
from handgrad.train.optim import Optimizer

Backend = Literal["auto", "numpy", "numba", "numba-loops", "numba-blas", "numba-blas-torch",
                  "torch"]
BACKENDS: tuple[Backend, ...] = ("auto", "numpy", "numba", "numba-loops", "numba-blas",
                                 "numba-blas-torch", "torch")
PROBE_SECONDS = 0.25  # all candidates together, after two untimed calls each
PROBE_CALLS = 30  # rounds at most (one call of each candidate a round)
PROBE_MIN_ROUNDS = 5
SWITCH_SETTLE_SECONDS = 0.15  # torch's products run alone this long before they are timed
LOOPS_PROBE_LIMIT = 50_000_000  # multiply-adds a step beyond which loops are not even timed
CACHE_FILE = "backends.json"
CANDIDATES = ("numpy", "numba-loops", "numba-blas", "numba-blas-torch")
# --backend numba: the modes with NumPy's products, measured (never an import of torch)
NUMBA_CANDIDATES = ("numba-loops", "numba-blas")
NAMED_MODES = ("numba-loops", "numba-blas", "numba-blas-torch")  # a path named: no measurement
TORCH_BLAS = "numba-blas-torch"
# NumPy is kept only when it beats the best compiled step by more than this: where both run
# the same BLAS products the compiled one does strictly less besides (fewer passes over
# memory), and a difference this small is the noise of a shared machine, not a real lead
NOISE = 0.03
# What taking the compiled path costs a whole process before its first step, whatever the run's
# length: importing numba and loading the cached kernels of both modes (measured on the 2-core
# Xeon this was written on, digits' 64 → 256 → 10 float32, three runs: import 0.18-0.19 s,
# blas kernels from the cache 0.26-0.30 s, loops 0.01 s; 0.7-1.0 s on a loaded machine), plus
# the measurement itself (PROBE_SECONDS and the untimed calls): about 0.75 s.
COMPILED_FIXED_SECONDS = 0.75
# auto imports numba and measures the compiled step only when the NumPy step's estimate for
# the whole run (its time × the run's steps) is more than this many times that fixed cost: the
# compiled step saves about half of a NumPy step at best, so below it the import cannot pay
FIXED_COST_MARGIN = 2.0

# blas-torch: importing torch (1.3-1.4 s on that Xeon, whole process) and measuring, on top
# of the compiled path's own fixed cost
TORCH_FIXED_SECONDS = 1.5
TORCH_FIXED_COST_MARGIN = 5.0  # its products save a fifth of a step at best where it wins
TORCH_MIN_STEP_SECONDS = 1e-3  # below this a step is not its products (torch.mm: ~5 µs a call)
TORCH_REQUIREMENT = "torch==2.13.0"  # pyproject's [project.optional-dependencies] torch
DEVICE_PATTERN = re.compile(r"cpu|cuda(:[0-9]+)?")

_chosen: dict[str, str] = {}


def device_problem(device: str) -> str | None:
    """What is wrong with a --device value (cpu, cuda or cuda:N), or None."""
    if DEVICE_PATTERN.fullmatch(device):
        return None
    return f"--device {device!r}: cpu, cuda or cuda:N (N a GPU's number, e.g. cuda:0)"


def make_step(arch: Architecture, params: Mapping[str, np.ndarray], max_batch: int,
              backend: Backend = "auto", optimizer: Optimizer | None = None,
              probe: tuple[np.ndarray, np.ndarray] | None = None, device: str = "cpu",
              steps: int | None = None) -> Any:
    """The step object for `backend` ("auto": the fastest measured on `probe`, raw rows x
    (N, d) and targets (N, q), with `optimizer`'s rule, for a run of `steps` steps; None: as
    if endless, the fixed cost of the compiled path not weighed). A step other than torch's
    takes over the optimizer's state as NumPy arrays (a partial_fit after one on torch)."""
    step = _make_step(arch, params, max_batch, backend, optimizer, probe, device, steps)
    if optimizer is not None and not str(getattr(step, "mode", "")).startswith("torch"):
        optimizer.state_to_numpy()
    return step


def _make_step(arch: Architecture, params: Mapping[str, np.ndarray], max_batch: int,
               backend: Backend, optimizer: Optimizer | None,
               probe: tuple[np.ndarray, np.ndarray] | None, device: str,
               steps: int | None) -> Any:
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    problem = device_problem(device)
    if problem:
        raise HandgradError(problem)
    if device != "cpu" and backend in ("auto", "torch"):
        backend = "torch"
    elif device != "cpu":
        raise ValueError(f"--device {device} needs the torch backend, not {backend}")
    if backend == "torch":
        broken = torch_import_problem()
        if broken:
            raise HandgradError(
                f"{'--device ' + device if device != 'cpu' else '--backend torch'} needs"
                f" torch, which {broken}: pip install {TORCH_REQUIREMENT}"
                " (or pip install 'handgrad[torch]')")
        from handgrad.train.torch_backend import TorchStep

        return TorchStep(arch, params, max_batch, device=device)
    if backend == "numpy":
        return FusedStep(arch, params, max_batch)
    from handgrad.train import compiled

    if backend == TORCH_BLAS and arch.layout == "in_out":
        broken = torch_import_problem()
        if broken:
            raise HandgradError(f"--backend {TORCH_BLAS} needs torch, which {broken}: pip install"
                                f" {TORCH_REQUIREMENT} (or pip install 'handgrad[torch]')")
    if backend in NAMED_MODES:  # a path named (run.json's "step"): no measurement
        if not compiled.available():  # said once on stderr
            return FusedStep(arch, params, max_batch)
        return compiled.CompiledStep(arch, params, max_batch, mode=_mode(backend))
    if backend == "numba" and not compiled.available():  # said once on stderr
        return FusedStep(arch, params, max_batch)
    among = NUMBA_CANDIDATES if backend == "numba" else CANDIDATES
    name = choose(arch, params, max_batch, optimizer or Optimizer("sgd"), probe, among, steps)
    if name == "numpy" or not compiled.available():
        return FusedStep(arch, params, max_batch)
    if name == TORCH_BLAS and torch_import_problem():  # remembered, but torch fails now
        name = "numba-blas"
    return compiled.CompiledStep(arch, params, max_batch, mode=_mode(name))


def _mode(name: str) -> Any:
    """The compiled mode of a step's name: numba-loops → loops, numba-blas-torch → blas-torch."""
    return name.removeprefix("numba-")


def _key(arch: Architecture, dtype: np.dtype, max_batch: int, optimizer: Optimizer,
         among: tuple[str, ...], steps: int | None = None) -> str:
    act = arch.hidden
    return json.dumps([list(arch.layers), act.name, arch.output, arch.loss, str(dtype),
                       max_batch, optimizer.name, optimizer.weight_decay != 0,
                       os.cpu_count(), list(among), steps])


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


_unremembered_told = False


def _write_cache(key: str, name: str) -> str | None:
    """Remember a choice in the cache file (atomically, through a symlink); None when written,
    else why not. Never raises: a read-only home only means measuring again next time."""
    path = cache_path()
    try:
        found = _read_cache()
        found[key] = name
        path.parent.mkdir(parents=True, exist_ok=True)
        write_file(path, json.dumps(found, indent=0))
    except HandgradError as error:  # atomic.WriteError: names the file and says why
        return str(error)
    except OSError as error:
        return f"{path}: {error.strerror or error}"
    return None


def _say_unremembered(reason: str, name: str) -> None:
    """Once a process: the choice could not be written, so a rerun may take another path."""
    global _unremembered_told
    if _unremembered_told:
        return
    _unremembered_told = True
    sys.stderr.write(
        f"handgrad: the measured choice of training step could not be remembered ({reason});"
        f" a rerun measures again and may take another path, with other numbers. To repeat"
        f" this run bit for bit pass --backend {name} (run.json's \"step\"), or set"
        " HANDGRAD_CACHE_DIR to a writable folder\n")


def choose(arch: Architecture, params: Mapping[str, np.ndarray], max_batch: int,
           optimizer: Optimizer, probe: tuple[np.ndarray, np.ndarray] | None = None,
           among: tuple[str, ...] = CANDIDATES, steps: int | None = None) -> str:
    """One of `among` ("numpy", "numba-loops", "numba-blas", "numba-blas-torch"; the last only
    where torch is installed): the fastest step for these shapes and a run of `steps` steps,
    measured (or remembered from an earlier measurement).

    When NumPy is among them, the NumPy step is timed first, and a path whose fixed cost the
    run could not repay (see the module's doc) is not imported or tried."""
    if TORCH_BLAS in among and not torch_available(arch):
        among = tuple(name for name in among if name != TORCH_BLAS)
    dtype = np.dtype(np.asarray(params["W1"]).dtype)
    key = _key(arch, dtype, max_batch, optimizer, among, steps)
    if key in _chosen:
        return _chosen[key]
    remembered = _read_cache().get(key)
    if remembered in among:
        _chosen[key] = remembered
        return remembered
    name = _choose_by_measuring(arch, params, max_batch, optimizer, probe, among, steps)
    _chosen[key] = name
    if TORCH_BLAS in among and _torch_broken:
        # torch was found broken while measuring: the next call leaves it out of `among` before
        # making its key, and must find this choice under that key, not measure again
        without = tuple(candidate for candidate in among if candidate != TORCH_BLAS)
        _chosen[_key(arch, dtype, max_batch, optimizer, without, steps)] = name
    problem = _write_cache(key, name)
    if problem is not None:
        _say_unremembered(problem, name)
    return name


def _compiled_loaded() -> bool:
    from handgrad.train import compiled

    return compiled._kernels is not None


def torch_available(arch: Architecture) -> bool:
    """Whether torch could run this network's products: installed (found, not imported: that
    costs a second, and is done only when its products are tried), not known to fail to
    import, and the in_out layout the compiled and torch steps work in."""
    if arch.layout != "in_out" or _torch_broken:
        return False
    if "torch" in sys.modules:
        return True
    import importlib.util

    try:
        return importlib.util.find_spec("torch") is not None
    except (ImportError, ValueError):
        return False


_torch_broken: str | None = None  # None: not checked yet; "": torch works; else why not


def torch_import_problem() -> str | None:
    """None when torch imports and multiplies NumPy arrays; else why not ("is not installed
    (…)", "fails to import (…)", "cannot use NumPy's arrays (…)"), remembered for the process.
    An installed torch that fails to load (a missing shared library) or was built for another
    NumPy (it imports with a warning, then torch.from_numpy fails) is no torch for training."""
    global _torch_broken
    if _torch_broken is None:
        try:
            import warnings

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # "Failed to initialize NumPy": tested below
                import torch
        except ModuleNotFoundError as error:
            if error.name == "torch":
                _torch_broken = f"is not installed ({error})"
            else:  # torch is there, something it needs is not
                _torch_broken = f"fails to import (ModuleNotFoundError: {error})"
        except Exception as error:  # OSError from a shared library, ImportError, ...
            _torch_broken = f"fails to import ({type(error).__name__}: {error})"
        else:
            try:
                one = torch.from_numpy(np.ones((1, 1)))
                torch.mm(one, one, out=torch.from_numpy(np.zeros((1, 1))))
            except Exception as error:
                _torch_broken = f"cannot use NumPy's arrays ({type(error).__name__}: {error})"
            else:
                _torch_broken = ""
    return _torch_broken or None


def _worth_trying(numpy_seconds: float, steps: int | None) -> dict[str, bool]:
    """Which faster paths a run of `steps` NumPy steps of `numpy_seconds` could repay."""
    estimate = numpy_seconds * steps if steps is not None else float("inf")
    compiled_cost = 0.0 if _compiled_loaded() else COMPILED_FIXED_SECONDS
    torch_cost = compiled_cost + (TORCH_FIXED_SECONDS if "torch" not in sys.modules
                                  else PROBE_SECONDS)
    return {
        "compiled": estimate >= FIXED_COST_MARGIN * compiled_cost,
        "torch": (numpy_seconds >= TORCH_MIN_STEP_SECONDS
                  and estimate >= TORCH_FIXED_COST_MARGIN * torch_cost),
    }


def _choose_by_measuring(arch: Architecture, params: Mapping[str, np.ndarray], max_batch: int,
                         optimizer: Optimizer, probe: tuple[np.ndarray, np.ndarray] | None,
                         among: tuple[str, ...], steps: int | None) -> str:
    unloaded = not _compiled_loaded() or "torch" not in sys.modules
    if "numpy" in among and len(among) > 1 and (
            (steps is not None and unloaded) or TORCH_BLAS in among):
        alone = measure(arch, params, max_batch, optimizer, probe, ("numpy",))
        worth = _worth_trying(alone["numpy"], steps)
        among = tuple(name for name in among if name == "numpy"
                      or worth["torch" if name == TORCH_BLAS else "compiled"])
        if among == ("numpy",):
            return "numpy"
    timings = measure(arch, params, max_batch, optimizer, probe, among)
    # torch's products only when they lead the others by more than the noise: they change the
    # BLAS (and so the rounding) and bring a large import
    others = {candidate: t for candidate, t in timings.items() if candidate != TORCH_BLAS}
    if not others:
        return TORCH_BLAS
    name = min(others, key=lambda candidate: others[candidate])
    compiled_times = [t for candidate, t in others.items() if candidate != "numpy"]
    if name == "numpy" and compiled_times and min(compiled_times) < timings[name] * (1 + NOISE):
        name = min((c for c in others if c != "numpy"), key=lambda c: others[c])
    if TORCH_BLAS in timings and timings[TORCH_BLAS] * (1 + NOISE) < min(others.values()):
        name = TORCH_BLAS
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
    if any(name.startswith("numba") for name in among) and compiled.available():
        candidates["numba-blas"] = lambda p: compiled.CompiledStep(arch, p, max_batch, "blas")
        if compiled.multiply_adds(arch, max_batch) <= LOOPS_PROBE_LIMIT:
            candidates["numba-loops"] = (
                lambda p: compiled.CompiledStep(arch, p, max_batch, "loops"))
        if TORCH_BLAS in among and torch_available(arch) and not torch_import_problem():
            candidates[TORCH_BLAS] = (
                lambda p: compiled.CompiledStep(arch, p, max_batch, "blas-torch"))
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
    # torch's products apart: two BLAS libraries taking turns share the cores with each other's
    # idle threads, which spin for a while after every product (OpenBLAS's for ~0.1 s); taken
    # call for call with the others, on 2 threads, blas-torch measured 15 ms where alone it runs
    # 6.6 ms. The OpenBLAS candidates are timed in turns, then torch's after it has run alone
    # for SWITCH_SETTLE_SECONDS.
    apart = {name: run for name, run in runs.items() if name == TORCH_BLAS}
    together = {name: run for name, run in runs.items() if name not in apart}
    with np.errstate(all="ignore"):
        for step, xb, yb, rule in (*apart.values(), *together.values()):
            for _ in range(2):  # compiles (or loads numba's cache), warms the caches
                step.train(xb, yb, rule)
        rounds = _time_in_turns(together, times, PROBE_MIN_ROUNDS)
        if apart:
            settle = time.perf_counter()
            for step, xb, yb, rule in apart.values():
                while time.perf_counter() - settle < SWITCH_SETTLE_SECONDS:
                    step.train(xb, yb, rule)
            _time_in_turns(apart, times, max(rounds, PROBE_MIN_ROUNDS))
    # the least time: what the step costs when nothing else interferes
    timings = {name: float(min(found)) for name, found in times.items()}
    return timings


def _time_in_turns(runs: dict[str, Any], times: dict[str, list[float]], min_rounds: int) -> int:
    """One timed call of each run in turns, so that a slower minute of a shared machine falls on
    every candidate, for at least `min_rounds` rounds and PROBE_SECONDS; the rounds made."""
    begin = time.perf_counter()
    rounds = 0
    for rounds in range(1, PROBE_CALLS + 1):
        for name, (step, xb, yb, rule) in runs.items():
            start = time.perf_counter()
            step.train(xb, yb, rule)
            times[name].append(time.perf_counter() - start)
        if rounds >= min_rounds and time.perf_counter() - begin > PROBE_SECONDS:
            break
    return rounds
