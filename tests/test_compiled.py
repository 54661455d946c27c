"""The compiled (numba) step equals the reference path (core.network) and torch.optim.

Every test compares with an independent computation: the reference forward/backward of
core.network for values and gradients, torch.optim for the updates. numba compiles each kernel
once per dtype and keeps it in its on-disk cache, so only a first run pays for compiling.
"""

from __future__ import annotations

import importlib.util
import itertools
import json
import subprocess
import sys
import tracemalloc

import numpy as np
import pytest

from handgrad.core import network, ops
from handgrad.train import compiled
from handgrad.train.backend_choice import make_step
from handgrad.train.data import load_dataset
from handgrad.train.loop import TrainConfig, train
from handgrad.train.optim import Optimizer
from tests.test_fused import (
    ACTIVATIONS,
    HEADS,
    _problem,
    check_batches_of_other_sizes,
    check_relu_kink,
)
from tests.test_optim import OPTIMIZER_CASES, _torch_run, check_against_torch_optim

pytest.importorskip("numba")

# blas-calls: the blas mode with its products called from Python (the way of steps larger than
# compiled.ONE_CALL_LIMIT; these tests' small steps would take one call); blas-torch where torch
# is installed (CI installs it with the test extra)
MODES = ("loops", "blas", "blas-calls",
         *(("blas-torch",) if importlib.util.find_spec("torch") else ()))


def step_for(mode: str, arch, params, max_batch: int) -> compiled.CompiledStep:
    """The compiled step of a test mode (blas-calls: blas, products called from Python)."""
    if mode == "blas-calls":
        return compiled.CompiledStep(arch, params, max_batch, mode="blas", one_call=False)
    return compiled.CompiledStep(arch, params, max_batch, mode=mode)  # type: ignore[arg-type]
# every activation (with the kink conventions and a negative leaky slope, which keeps h)
COMPILED_ACTIVATIONS = [*ACTIVATIONS, ops.Activation("leaky_relu", leaky_slope=-0.2)]


@pytest.fixture(autouse=True)
def _private_choice_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("HANDGRAD_CACHE_DIR", str(tmp_path))


# every activation × head × reduction × depth 1-3, for each path against the reference
REFERENCE_CASES = list(itertools.product(COMPILED_ACTIVATIONS, HEADS, ["mean", "sum"],
                                         [(3, 4), (3, 5, 4), (4, 6, 5, 3)]))


@pytest.mark.parametrize(("act", "head", "reduction", "layers"), REFERENCE_CASES)
def test_compiled_step_equals_reference(act, head, reduction, layers):
    """Loss, ŷ and every gradient, both modes: float64 to 1e-10, float32 against float64."""
    arch, params, x, target = _problem(layers, act, head, reduction, batch=7)
    fwd = network.forward(params, x, target, arch)
    reference = network.backward(fwd, arch).grads
    for mode in MODES:
        step = step_for(mode, arch, params, 10)
        loss = step.run(x, target)
        assert loss == pytest.approx(float(fwd.loss), rel=1e-12, abs=1e-14), mode
        for name, expected in reference.items():
            np.testing.assert_allclose(step.grads[name], expected, rtol=1e-10, atol=1e-12,
                                       err_msg=f"{mode} {name}")
        np.testing.assert_allclose(step.yhat, fwd.yhat, rtol=1e-12, atol=1e-15)

        single = {k: v.astype(np.float32) for k, v in params.items()}
        step32 = step_for(mode, arch, single, 10)
        loss32 = step32.run(x.astype(np.float32), target.astype(np.float32))
        assert step32.grads["dW1"].dtype == np.float32
        assert loss32 == pytest.approx(float(fwd.loss), rel=2e-5, abs=1e-6), mode
        for name, expected in reference.items():
            np.testing.assert_allclose(step32.grads[name], expected, rtol=2e-3, atol=2e-5,
                                       err_msg=f"float32 {mode} {name}")


@pytest.mark.parametrize("mode", MODES)
def test_relu_at_exact_zero_uses_the_convention(mode):
    check_relu_kink(lambda arch, params, batch: step_for(mode, arch, params, batch))


@pytest.mark.parametrize("mode", MODES)
def test_batches_of_other_sizes_and_large_logits(mode):
    check_batches_of_other_sizes(lambda arch, params, batch: step_for(mode, arch, params, batch))




@pytest.mark.parametrize(("name", "kwargs"), OPTIMIZER_CASES)
@pytest.mark.parametrize("mode", MODES)
def test_optimizers_match_torch_for_25_steps(mode, name, kwargs):
    def make(arch, params, batch):
        return step_for(mode, arch, params, batch)

    check_against_torch_optim(name, kwargs, make)
    step32, ours32, theirs32, final32 = _torch_run(name, kwargs, 25, np.float32, make)
    assert step32.params["W1"].dtype == np.float32
    np.testing.assert_allclose(ours32, theirs32, rtol=1e-4)
    np.testing.assert_allclose(step32.params["W3"], final32[4], rtol=1e-3, atol=1e-4)


def test_optimizer_state_carries_over_to_a_new_step_object():
    """partial_fit builds a step per call: Adam's moments and t go on, as in one object."""
    arch, params, x, target = _problem((4, 6, 3), ACTIVATIONS[4], HEADS[0], "mean", batch=8)
    one = compiled.CompiledStep(arch, params, 8, mode="loops")
    adam = Optimizer("adam", 0.05)
    for _ in range(4):
        one.train(x, target, adam)
    first = compiled.CompiledStep(arch, params, 8, mode="blas")
    split = Optimizer("adam", 0.05)
    for _ in range(2):
        first.train(x, target, split)
    second = compiled.CompiledStep(arch, first.params, 8, mode="loops")
    for _ in range(2):
        second.train(x, target, split)
    assert split.steps == 4
    for name, value in one.params.items():
        np.testing.assert_allclose(second.params[name], value, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("rule", ["momentum", "adam"])
@pytest.mark.parametrize("backend", ["numpy", "numba", "torch"])
def test_partial_fit_carries_the_optimizer_state_on_every_backend(backend, rule):
    """Two partial_fit calls (a step object each) give what one object's steps give."""
    from sklearn.datasets import load_iris

    from handgrad.train.estimator import MLPClassifier

    if backend == "torch":
        pytest.importorskip("torch")
    X, y = load_iris(return_X_y=True)
    settings = {"optimizer": rule, "batch_size": 150, "backend": backend,
                "learning_rate_init": 0.05, "shuffle": False, "random_state": 0}
    split = MLPClassifier((6,), **settings)
    for _ in range(3):  # a new step object per call; the optimizer's state goes on
        split.partial_fit(X, y, classes=[0, 1, 2])
    whole = MLPClassifier((6,), max_iter=3, n_iter_no_change=100, **settings).fit(X, y)
    assert split._optimizer.steps == whole._optimizer.steps == 3
    for ours, reference in zip(split.coefs_, whole.coefs_, strict=True):
        np.testing.assert_allclose(ours, reference, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("rule", ["adam", "sgd"])
@pytest.mark.parametrize("mode", MODES)
def test_a_step_allocates_nothing(mode, rule):
    """100 steps after the first: no array is made (tracemalloc sees NumPy's buffers too)."""
    arch, params, x, target = _problem((20, 64, 10), ACTIVATIONS[0], HEADS[0], "mean", batch=32)
    step = step_for(mode, arch, params, 32)
    xb, yb = step.batch_buffers(32)
    xb[...], yb[...] = x, target
    optimizer = Optimizer(rule, 0.01)
    step.train(xb, yb, optimizer)
    tracemalloc.start()
    try:
        before, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        for _ in range(100):
            step.advance(xb, yb, optimizer)
        after, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert after - before == 0
    assert peak - before < 1024  # a Python float or two in flight, never a (32, 64) array


def test_a_gathered_batch_is_used_where_it_lies():
    arch, params, x, target = _problem((5, 7, 3), ACTIVATIONS[0], HEADS[0], "mean", batch=6)
    step = compiled.CompiledStep(arch, params, 6)
    xb, yb = step.batch_buffers(4)
    assert step.batch_buffers(4)[0] is xb  # the same view every time: no copy in `train`
    np.take(step.prepare(x), [0, 2, 4, 5], axis=0, out=xb)
    np.take(target, [0, 2, 4, 5], axis=0, out=yb)
    fwd = network.forward(params, x[[0, 2, 4, 5]], target[[0, 2, 4, 5]], arch)
    assert step.run(xb, yb) == pytest.approx(float(fwd.loss), rel=1e-12)
    assert step.loss == pytest.approx(float(fwd.loss), rel=1e-12)


def test_training_reruns_are_bit_identical():
    data = load_dataset("iris")
    for backend in ("numba", "auto"):
        config = TrainConfig(layers=(4, 8, 3), epochs=4, backend=backend, seed=5,  # type: ignore[arg-type]
                             optimizer="momentum", patience=None)
        first, second = train(data, config), train(data, config)
        assert first.step == second.step
        for name, value in first.model.params.items():
            np.testing.assert_array_equal(value, second.model.params[name])
    assert train(data, TrainConfig(layers=(4, 8, 3), epochs=1, backend="numba")).step.startswith(
        "numba-")


def test_compiled_training_learns_what_numpy_learns():
    data = load_dataset("wine")
    results = {backend: train(data, TrainConfig(epochs=8, backend=backend, dtype="float64",
                                                patience=None))
               for backend in ("numpy", "numba")}
    assert results["numpy"].step == "numpy"
    for name, value in results["numpy"].model.params.items():  # same rule, other rounding
        np.testing.assert_allclose(results["numba"].model.params[name], value, rtol=1e-6,
                                   atol=1e-8)


def test_auto_measures_and_remembers_its_choice(tmp_path):
    from handgrad.train import backend_choice

    arch, params, x, target = _problem((8, 16, 4), ACTIVATIONS[0], HEADS[0], "mean", batch=16)
    timings = backend_choice.measure(arch, params, 16, Optimizer("sgd"), (x, target))
    installed = {"numba-blas-torch"} if backend_choice.torch_available(arch) else set()
    assert set(timings) == {"numpy", "numba-loops", "numba-blas"} | installed
    assert all(t > 0 for t in timings.values())
    backend_choice._chosen.clear()
    name = backend_choice.choose(arch, params, 16, Optimizer("sgd"), (x, target))
    assert name in timings
    assert name in (tmp_path / "backends.json").read_text()
    backend_choice._chosen.clear()  # a new process: read back from the file, not measured
    original = backend_choice.measure
    try:
        backend_choice.measure = lambda *a, **k: pytest.fail("measured again")  # type: ignore[assignment]
        assert backend_choice.choose(arch, params, 16, Optimizer("sgd"), (x, target)) == name
    finally:
        backend_choice.measure = original
    step = make_step(arch, params, 16, "auto", Optimizer("sgd"), (x, target))
    assert (step.mode if name == "numpy" else f"numba-{step.mode}") == name


FALLBACK = """
import sys
sys.modules["numba"] = None  # as if it were not installed
from handgrad.train.data import load_dataset
from handgrad.train.loop import TrainConfig, train
data = load_dataset("iris")
for backend in ("auto", "numba"):
    result = train(data, TrainConfig(layers=(4, 8, 3), epochs=2, backend=backend))
    print(result.step, round(result.test.accuracy, 6))
"""


def test_without_numba_the_numpy_path_runs_and_says_so_once(tmp_path):
    run = subprocess.run([sys.executable, "-c", FALLBACK], capture_output=True, text=True,
                         check=False, env={"HANDGRAD_CACHE_DIR": str(tmp_path),
                                           "PATH": "/usr/bin:/bin"})
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == ["numpy", run.stdout.split()[1]] * 2
    assert run.stderr.count("numba is not available") == 1
    assert "NumPy path" in run.stderr


@pytest.mark.parametrize(("timings", "expected"), [
    ({"numpy": 1.0, "numba-loops": 5.0, "numba-blas": 1.02}, "numba-blas"),  # within noise
    ({"numpy": 1.0, "numba-loops": 5.0, "numba-blas": 1.2}, "numpy"),  # a real lead
    ({"numpy": 3.0, "numba-loops": 1.0, "numba-blas": 2.0}, "numba-loops"),
])
def test_auto_keeps_numpy_only_for_a_lead_beyond_the_noise(monkeypatch, timings, expected):
    from handgrad.train import backend_choice

    arch, params, x, target = _problem((3, 5, 4), ACTIVATIONS[0], HEADS[0], "mean", batch=4)
    monkeypatch.setattr(backend_choice, "measure", lambda *a, **k: dict(timings))
    monkeypatch.setattr(backend_choice, "_chosen", {})
    assert backend_choice.choose(arch, params, 4, Optimizer("sgd"), (x, target)) == expected


NO_LOCATOR = """
import sys
from numba.core import caching

def refuse(self, *args):  # what numba meets when no cache folder is writable anywhere
    raise OSError("read-only")

caching._CacheLocator.ensure_cache_path = refuse
from handgrad.train import compiled
print(compiled.available(), compiled.cache_kernels)
print(compiled.available())  # the second call says nothing more
"""


def test_kernels_load_without_numbas_cache_where_it_cannot_be_written():
    """numba refuses cache=True ("no locator available") when it can write its cache nowhere:
    the kernels are imported again without the cache, said once, never a crash."""
    done = subprocess.run([sys.executable, "-c", NO_LOCATOR], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["True", "False", "True"]
    assert done.stderr.count("numba cannot cache its compiled code") == 1, done.stderr
    assert "Traceback" not in done.stderr


def test_a_short_run_takes_numpy_without_importing_numba(monkeypatch):
    from handgrad.train import backend_choice

    arch, params, x, target = _problem((8, 16, 4), ACTIVATIONS[0], HEADS[0], "mean", batch=16)
    backend_choice._chosen.clear()
    monkeypatch.setattr(backend_choice, "_compiled_loaded", lambda: False)
    monkeypatch.setattr(compiled, "available",
                        lambda: pytest.fail("numba imported for a short run"))
    assert backend_choice.choose(arch, params, 16, Optimizer("sgd"), (x, target),
                                 steps=20) == "numpy"
    # a long one measures the compiled modes too (the NumPy estimate beats the fixed cost)
    measured: list[tuple[str, ...]] = []
    monkeypatch.setattr(backend_choice, "measure", lambda *args: measured.append(args[5]) or {
        name: 1e-3 for name in args[5]})
    backend_choice.choose(arch, params, 16, Optimizer("sgd"), (x, target), steps=10**6)
    assert measured[-1] == tuple(
        name for name in backend_choice.CANDIDATES
        if name != "numba-blas-torch" or backend_choice.torch_available(arch))


def test_the_choice_cache_is_written_atomically_through_a_symlink(tmp_path):
    from handgrad.train import backend_choice

    real = tmp_path / "real.json"
    real.write_text("{}")
    (tmp_path / "backends.json").symlink_to(real)
    assert backend_choice._write_cache("k", "numpy") is None
    assert (tmp_path / "backends.json").is_symlink()  # followed, not replaced
    assert json.loads(real.read_text()) == {"k": "numpy"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["backends.json", "real.json"]


def test_a_choice_cache_that_cannot_be_written_is_said_once_and_named(tmp_path, monkeypatch,
                                                                      capsys):
    from handgrad.train import backend_choice

    (tmp_path / "backends.json").mkdir()  # the rename fails: no temporary file is left
    assert "backends.json" in (backend_choice._write_cache("k", "numpy") or "")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["backends.json"]
    assert list((tmp_path / "backends.json").iterdir()) == []
    monkeypatch.setattr(backend_choice, "_unremembered_told", False)
    arch, params, x, target = _problem((8, 16, 4), ACTIVATIONS[0], HEADS[0], "mean", batch=16)
    names = []
    for batch in (16, 15):  # two shapes, two measurements, one message
        backend_choice._chosen.clear()
        names.append(backend_choice.choose(arch, params, batch, Optimizer("sgd"), (x, target)))
    err = capsys.readouterr().err
    assert err.count("could not be remembered") == 1, err
    assert f"--backend {names[0]}" in err


def test_a_rerun_with_the_recorded_step_is_bit_identical():
    """run.json's "step" is a --backend value: a rerun takes that path without measuring."""
    data = load_dataset("iris")
    first = train(data, TrainConfig(layers=(4, 8, 3), epochs=3, backend="auto"))
    for _ in range(2):
        again = train(data, TrainConfig(layers=(4, 8, 3), epochs=3,
                                        backend=first.step))  # type: ignore[arg-type]
        assert again.step == first.step
        for name, value in first.model.params.items():
            assert np.array_equal(again.model.params[name], value)
    for mode in ("numba-loops", "numba-blas"):
        assert train(data, TrainConfig(layers=(4, 8, 3), epochs=1, backend=mode)).step == mode


@pytest.mark.skipif("blas-torch" not in MODES, reason="torch is not installed")
def test_fused_sgd_update_and_gradients_only_runs_take_turns():
    """blas-torch with plain SGD updates W inside its gradient's product (∂L/∂W not kept); a
    `run` between steps still fills every gradient, and the next step fuses again."""
    arch, params, x, target = _problem((5, 9, 7, 4), ACTIVATIONS[2], HEADS[0], "mean", batch=6)
    step = compiled.CompiledStep(arch, params, 6, mode="blas-torch")
    reference = {name: value.copy() for name, value in params.items()}
    rule = Optimizer("sgd", 0.1, weight_decay=0.01)
    for _ in range(3):
        for _ in range(2):
            step.train(x, target, rule)
            grads = network.backward(network.forward(reference, x, target, arch), arch).grads
            for name in reference:  # θ ← θ − η(g + λθ), torch.optim's SGD
                reference[name] = reference[name] - 0.1 * (grads[f"d{name}"]
                                                            + 0.01 * reference[name])
        for name, value in reference.items():
            np.testing.assert_allclose(step.params[name], value, rtol=1e-12, atol=1e-14)
        step.run(x, target)
        expected = network.backward(network.forward(reference, x, target, arch), arch).grads
        for name, value in expected.items():
            np.testing.assert_allclose(step.grads[name], value, rtol=1e-10, atol=1e-12)


def test_the_blas_modes_step_is_one_call_up_to_its_limit():
    """Small steps take the one compiled call (numba's np.dot), large ones call the products from
    Python; both give the reference's gradients (the tests above run both ways)."""
    arch, params, _, _ = _problem((6, 9, 8), ACTIVATIONS[0], HEADS[0], "mean", batch=40)
    assert compiled.CompiledStep(arch, params, 40, mode="blas").one_call
    assert not compiled.CompiledStep(arch, params, 40, mode="loops").one_call
    wide, wide_params, _, _ = _problem((300, 600, 10), ACTIVATIONS[0], HEADS[0], "mean", batch=2)
    assert compiled.multiply_adds(wide, 64) > compiled.ONE_CALL_LIMIT
    assert not compiled.CompiledStep(wide, wide_params, 64, mode="blas").one_call
