"""The torch step (no autograd) equals the reference path and torch.optim, on CPU tensors.

The CUDA graph path runs only where torch sees a GPU (bench/gpu.py measures it there)."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from handgrad.core import network
from handgrad.train.data import load_dataset
from handgrad.train.loop import TrainConfig, train
from handgrad.train.optim import Optimizer
from tests.test_compiled import REFERENCE_CASES
from tests.test_fused import (
    ACTIVATIONS,
    HEADS,
    _problem,
    check_batches_of_other_sizes,
    check_relu_kink,
)
from tests.test_optim import OPTIMIZER_CASES, check_against_torch_optim

torch = pytest.importorskip("torch")

from handgrad.train.torch_backend import TorchNamespace, TorchStep  # noqa: E402


@pytest.mark.parametrize(("act", "head", "reduction", "layers"), REFERENCE_CASES)
def test_torch_step_equals_reference(act, head, reduction, layers):
    arch, params, x, target = _problem(layers, act, head, reduction, batch=7)
    fwd = network.forward(params, x, target, arch)
    reference = network.backward(fwd, arch).grads
    step = TorchStep(arch, params, max_batch=10)
    assert step.run(x, target) == pytest.approx(float(fwd.loss), rel=1e-12, abs=1e-14)
    for name, expected in reference.items():
        np.testing.assert_allclose(step.grads[name], expected, rtol=1e-10, atol=1e-12,
                                   err_msg=name)
    np.testing.assert_allclose(step.yhat, fwd.yhat, rtol=1e-12, atol=1e-15)
    step32 = TorchStep(arch, {k: v.astype(np.float32) for k, v in params.items()}, 10)
    loss32 = step32.run(x.astype(np.float32), target.astype(np.float32))
    assert step32.grads["dW1"].dtype == np.float32
    assert loss32 == pytest.approx(float(fwd.loss), rel=2e-5, abs=1e-6)
    for name, expected in reference.items():
        np.testing.assert_allclose(step32.grads[name], expected, rtol=2e-3, atol=2e-5,
                                   err_msg=f"float32 {name}")


def test_relu_at_exact_zero_uses_the_convention():
    check_relu_kink(TorchStep)


@pytest.mark.parametrize("act", ACTIVATIONS, ids=lambda act: act.name)
def test_batches_of_other_sizes_reuse_the_buffers(act):
    """The step's own buffers (h, a, ∂L/∂a, ŷ) hold the largest batch; smaller batches use
    their first rows, and a larger batch after a smaller one leaves nothing stale."""
    check_batches_of_other_sizes(TorchStep, (6, 9, 7, 8), act)


@pytest.mark.parametrize(("name", "kwargs"), OPTIMIZER_CASES)
def test_torch_step_optimizers_match_torch_optim_for_25_steps(name, kwargs):
    check_against_torch_optim(name, kwargs, TorchStep)


def test_namespace_runs_the_tables_formulas():
    xp = TorchNamespace()
    value = torch.tensor([[1.0, -2.0], [0.0, 3.0]], dtype=torch.float64)
    assert xp.sum(value).item() == 2.0
    assert xp.max(value, axis=1, keepdims=True).tolist() == [[1.0], [3.0]]
    assert xp.where(xp.greater(value, 0), value, xp.zeros_like(value)).tolist() == [
        [1.0, 0.0], [0.0, 3.0]]


def test_training_with_the_torch_backend_learns_what_numpy_learns():
    data = load_dataset("wine")
    runs = {backend: train(data, TrainConfig(epochs=6, backend=backend, dtype="float64",
                                             patience=None))
            for backend in ("numpy", "torch")}
    assert runs["torch"].step == "torch-cpu"
    for name, value in runs["numpy"].model.params.items():
        np.testing.assert_allclose(runs["torch"].model.params[name], value, rtol=1e-6,
                                   atol=1e-8)
    again = train(data, TrainConfig(epochs=6, backend="torch", dtype="float64", patience=None))
    for name, value in runs["torch"].model.params.items():  # seeded: bit for bit
        np.testing.assert_array_equal(again.model.params[name], value)


def test_no_gpu_is_a_clear_error():
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    from handgrad.errors import HandgradError

    with pytest.raises(HandgradError, match="no CUDA GPU"):
        train(load_dataset("iris"), TrainConfig(epochs=1, device="cuda"))
    with pytest.raises(HandgradError, match="runs on the CPU only"):
        train(load_dataset("iris"), TrainConfig(epochs=1, device="cuda", backend="numba"))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU")
def test_cuda_graph_step_equals_the_cpu_step():  # pragma: no cover - needs a GPU
    from handgrad.train.optim import Optimizer

    arch, params, x, target = _problem((6, 16, 5), ACTIVATIONS[0], HEADS[0], "mean", batch=8)
    cpu, gpu = TorchStep(arch, params, 8), TorchStep(arch, params, 8, device="cuda")
    a, b = Optimizer("adam", 0.01), Optimizer("adam", 0.01)
    for _ in range(5):
        cpu.train(x, target, a)
        gpu.train(x, target, b)
    gpu.sync()
    assert gpu._graph is not None
    for name, value in cpu.params.items():
        np.testing.assert_allclose(gpu.params[name], value, rtol=1e-9, atol=1e-12)


# ------------------------------------------------- auto's fourth candidate: torch's products

TB = "numba-blas-torch"


@pytest.mark.parametrize(("timings", "expected"), [
    ({"numpy": 1.0, "numba-loops": 5.0, "numba-blas": 1.0, TB: 0.98}, "numba-blas"),
    ({"numpy": 1.0, "numba-loops": 5.0, "numba-blas": 1.0, TB: 0.9}, TB),
    ({"numpy": 1.0, "numba-loops": 5.0, "numba-blas": 1.02, TB: 1.01}, "numba-blas"),
    ({"numpy": 0.5, "numba-loops": 5.0, "numba-blas": 1.0, TB: 0.9}, "numpy"),
])
def test_auto_takes_torchs_products_only_for_a_lead_beyond_the_noise(monkeypatch, tmp_path,
                                                                     timings, expected):
    from handgrad.train import backend_choice

    arch, params, x, target = _problem((3, 5, 4), ACTIVATIONS[0], HEADS[0], "mean", batch=4)
    monkeypatch.setattr(backend_choice, "measure", lambda *a, **k: dict(timings))
    monkeypatch.setattr(backend_choice, "_chosen", {})
    monkeypatch.setenv("HANDGRAD_CACHE_DIR", str(tmp_path))
    assert backend_choice.choose(arch, params, 4, Optimizer("sgd"), (x, target)) == expected


@pytest.mark.parametrize(("numpy_seconds", "steps", "tried"), [
    (5e-4, None, False),  # a step under a millisecond is not its products
    (5e-3, 400, False),  # 2 s of NumPy steps cannot repay importing torch and numba (2.25 s)
    (5e-3, 10_000, True),  # 50 s can
    (5e-3, None, True),  # an endless run (the benchmark's)
])
def test_auto_tries_torchs_products_only_where_they_could_repay_the_import(
        monkeypatch, tmp_path, numpy_seconds, steps, tried):
    from handgrad.train import backend_choice

    arch, params, x, target = _problem((3, 5, 4), ACTIVATIONS[0], HEADS[0], "mean", batch=4)
    measured: list[tuple[str, ...]] = []

    def fake_measure(*args: object) -> dict[str, float]:
        among = args[5]
        assert isinstance(among, tuple)
        measured.append(among)
        return {name: numpy_seconds if name == "numpy" else numpy_seconds * 2 for name in among}

    monkeypatch.setattr(backend_choice, "measure", fake_measure)
    monkeypatch.setattr(backend_choice, "_chosen", {})
    monkeypatch.setattr(backend_choice, "_compiled_loaded", lambda: False)
    monkeypatch.setenv("HANDGRAD_CACHE_DIR", str(tmp_path))
    monkeypatch.delitem(sys.modules, "torch")  # as in a fresh process (restored after)
    backend_choice.choose(arch, params, 4, Optimizer("sgd"), (x, target), steps=steps)
    assert measured[0] == ("numpy",)  # NumPy alone first: no other import before it
    assert (TB in measured[-1]) is tried


def test_a_choice_of_torchs_products_trains_through_them(monkeypatch, tmp_path):
    """When auto measures numba-blas-torch fastest, training runs on it (run.json's step says
    so) and learns what the NumPy path learns."""
    from handgrad.train import backend_choice

    monkeypatch.setenv("HANDGRAD_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(backend_choice, "_chosen", {})
    monkeypatch.setattr(backend_choice, "choose", lambda *a, **k: TB)
    data = load_dataset("wine")
    config = dict(epochs=6, dtype="float64", patience=None)
    auto = train(data, TrainConfig(backend="auto", **config))
    reference = train(data, TrainConfig(backend="numpy", **config))
    assert auto.step == TB
    again = train(data, TrainConfig(backend=TB, **config))  # run.json's step, named
    for name, value in reference.model.params.items():  # same rule, other BLAS rounding
        np.testing.assert_allclose(auto.model.params[name], value, rtol=1e-6, atol=1e-8)
        np.testing.assert_array_equal(again.model.params[name], auto.model.params[name])


def test_torchs_products_named_without_torch_is_a_clear_error(monkeypatch):
    from handgrad.errors import HandgradError
    from handgrad.train import backend_choice

    monkeypatch.setattr(backend_choice, "torch_import_problem",
                        lambda: "is not installed (No module named 'torch')")
    arch, params, _, _ = _problem((3, 5, 4), ACTIVATIONS[0], HEADS[0], "mean", batch=4)
    with pytest.raises(HandgradError, match=r"needs torch, which is not installed.*pip install"
                                            r" torch==2\.13\.0"):
        backend_choice.make_step(arch, params, 4, TB)


def test_torchs_products_on_the_out_in_layout_name_the_layout():
    from dataclasses import replace

    from handgrad.train import backend_choice

    arch, params, _, _ = _problem((3, 5, 4), ACTIVATIONS[0], HEADS[0], "mean", batch=4)
    with pytest.raises(ValueError, match="in_out layout"):
        backend_choice.make_step(replace(arch, layout="out_in"), params, 4, TB)


BROKEN_TORCH = """
import sys
from handgrad.core.network import Architecture
from handgrad.core.ops import Activation
from handgrad.errors import HandgradError
from handgrad.train import backend_choice
from handgrad.train.loop import step_name
from handgrad.train.optim import Optimizer
import numpy as np

arch = Architecture((300, 200, 10), Activation("relu"), "softmax", "in_out", "cross_entropy",
                    "mean")
rng = np.random.default_rng(0)
params = {"W1": rng.normal(0, 0.05, (300, 200)), "b1": np.zeros(200),
          "W2": rng.normal(0, 0.05, (200, 10)), "b2": np.zeros(10)}
x, target = rng.normal(size=(512, 300)), np.full((512, 10), 0.1)
backend_choice.TORCH_MIN_STEP_SECONDS = 0.0  # try torch's products whatever the step's time
step = backend_choice.make_step(arch, params, 512, "auto", Optimizer("sgd"), (x, target),
                                steps=None)
print("auto", step_name(step))
print("tried:", backend_choice._torch_broken)
try:
    backend_choice.make_step(arch, params, 512, "numba-blas-torch")
except HandgradError as error:
    print("forced", error)
"""


BROKEN_TORCHES = {  # a fake torch package's __init__.py: what is wrong, what handgrad says
    "no shared library": ('raise OSError("libtorch_cpu.so: cannot open shared object file")\n',
                          "fails to import (OSError: libtorch_cpu.so"),
    "built for another NumPy": (  # imports with a warning, then cannot take NumPy's arrays
        "import warnings\n"
        'warnings.warn("Failed to initialize NumPy: _ARRAY_API not found")\n'
        "def from_numpy(array):\n"
        '    raise RuntimeError("Numpy is not available")\n',
        "cannot use NumPy's arrays (RuntimeError: Numpy is not available"),
}


@pytest.mark.parametrize("broken", BROKEN_TORCHES)
def test_a_torch_that_fails_to_load_is_left_out_not_a_crash(tmp_path, broken):
    """torch installed but broken: auto measures without its products, and naming them is a
    clear error, never a traceback."""
    source, said = BROKEN_TORCHES[broken]
    fake = tmp_path / "torch"
    fake.mkdir()
    (fake / "__init__.py").write_text(source)
    env = {**os.environ, "PYTHONPATH": f"{tmp_path}{os.pathsep}{os.getcwd()}",
           "HANDGRAD_CACHE_DIR": str(tmp_path / "cache")}
    done = subprocess.run([sys.executable, "-c", BROKEN_TORCH], capture_output=True, text=True,
                          env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] in ("auto numpy", "auto numba-loops", "auto numba-blas")
    assert lines[1].startswith(f"tried: {said}")
    assert lines[2].startswith(f"forced --backend numba-blas-torch needs torch, which {said}")


@pytest.mark.parametrize("make", ["torch", "blas-torch", "blas", "loops"])
def test_optimizers_taking_turns_on_one_step_keep_their_own_state(make):
    """A new rule on a step that trained with another starts clean, and each rule coming back
    goes on from its own state, as with the NumPy step (whose rules hold their own arrays)."""
    from handgrad.train import compiled
    from handgrad.train.fused import FusedStep

    arch, params, x, target = _problem((4, 6, 3), ACTIVATIONS[4], HEADS[0], "mean", batch=8)
    reference = FusedStep(arch, params, 8)
    step = (TorchStep(arch, params, 8) if make == "torch"
            else compiled.CompiledStep(arch, params, 8, mode=make))
    for one in (reference, step):
        momentum = Optimizer("momentum", 0.1, momentum=0.9)
        adam = Optimizer("adam", 0.05)
        twin = Optimizer("adam", 0.05)  # equal settings, its own state
        for rule, times in ((momentum, 3), (adam, 2), (momentum, 2), (adam, 1), (twin, 2),
                            (adam, 1), (Optimizer("nesterov", 0.1, momentum=0.5), 1),
                            (momentum, 1)):
            for _ in range(times):
                one.train(x, target, rule)
            if one is step:
                one.run(x, target)  # gradients only, between rules: changes no state
    for name, value in reference.params.items():
        np.testing.assert_allclose(step.params[name], value, rtol=1e-10, atol=1e-12)
