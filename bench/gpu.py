"""handgrad's torch step on a CUDA GPU (one CUDA graph per step) beside PyTorch eager and
torch.compile on the same GPU.

The step is bench/peers.py's: a two-layer MLP d → n (ReLU) → q (softmax), mean cross-entropy
with label smoothing 0.1, plain SGD (η = 0.01), the same seeded data and He initialisation
(`peers.make_data`). Before timing, handgrad's GPU step is checked against the reference path
(core.network, float64 on the CPU) on the first step, so a fast wrong step cannot pass.

- handgrad-cuda:  `TorchStep(device="cuda")`: the whole step (forward, loss, backward, update)
  captured once as a CUDA graph and replayed; the loss stays on the GPU (not read per step).
- handgrad-eager: the same TorchStep without the graph (each operation launched from Python).
- torch:          nn.Sequential + CrossEntropyLoss(label_smoothing) + optim.SGD, eager.
- torch-compile:  the same model and step under torch.compile(mode="reduce-overhead"), which
  also uses CUDA graphs.

Timing: CUDA events around single steps after warm-up (median of the timed steps), with
torch.cuda.synchronize() before each event read. Run on a machine with a GPU:

    python bench/gpu.py                     # tiny, small, mnist1024, wide; float32
    python bench/gpu.py --configs wide --dtypes float32,float64 --json bench/results/gpu.json

Never run as a test. Without a CUDA GPU it says so and exits with status 2.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from peers import CONFIGS, LEARNING_RATE, SMOOTHING, human, make_data

Step = Callable[[], Any]


def time_steps(step: Step, torch: Any, warmup: int, repeats: int) -> dict[str, float]:
    for _ in range(warmup):
        step()
    torch.cuda.synchronize()
    times = []
    for _ in range(repeats):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        step()
        end.record()
        torch.cuda.synchronize()
        times.append(start.elapsed_time(end) / 1000)
    return {"median_s": statistics.median(times), "min_s": min(times), "repeats": repeats}


def handgrad_step(data: dict[str, Any], graph: bool) -> tuple[Step, Any]:
    from handgrad.core import network
    from handgrad.core.network import Architecture
    from handgrad.core.ops import Activation
    from handgrad.train.optim import Optimizer
    from handgrad.train.torch_backend import TorchStep

    d, n, q, batch = data["sizes"]
    arch = Architecture((d, n, q), Activation("relu"), "softmax", "in_out", "cross_entropy", "mean")
    step = TorchStep(arch, data["params"], batch, device="cuda", graph=graph)
    x, ys = data["x"], data["ys"]
    loss = step.run(x, ys)  # the first step's gradients, checked against the reference
    reference = network.forward({k: v.astype(float) for k, v in data["params"].items()},
                                x.astype(float), ys.astype(float), arch)
    grads = network.backward(reference, arch).grads
    step.sync()
    tolerance = 1e-9 if x.dtype == np.float64 else 2e-3
    assert abs(loss - float(reference.loss)) <= tolerance * max(1.0, abs(loss)), "loss differs"
    for name, value in grads.items():
        np.testing.assert_allclose(step.grads[name], value, rtol=tolerance, atol=tolerance * 1e-2)
    opt = Optimizer("sgd", learning_rate=LEARNING_RATE)
    xb, yb = step.batch_buffers(batch)
    xb[...], yb[...] = x, ys
    return (lambda: step.advance(xb, yb, opt)), step


def torch_step(data: dict[str, Any], dtype: str, compiled: bool) -> Step:
    import torch
    from torch import nn

    d, n, q, _ = data["sizes"]
    tdtype = torch.float64 if dtype == "float64" else torch.float32
    model = nn.Sequential(nn.Linear(d, n), nn.ReLU(), nn.Linear(n, q)).to("cuda", tdtype)
    p = data["params"]
    with torch.no_grad():
        model[0].weight.copy_(torch.from_numpy(p["W1"].T.copy()))
        model[0].bias.copy_(torch.from_numpy(p["b1"]))
        model[2].weight.copy_(torch.from_numpy(p["W2"].T.copy()))
        model[2].bias.copy_(torch.from_numpy(p["b2"]))
    x = torch.from_numpy(data["x"]).to("cuda", tdtype)
    target = torch.from_numpy(data["labels"]).long().to("cuda")
    criterion = nn.CrossEntropyLoss(label_smoothing=SMOOTHING)
    opt = torch.optim.SGD(model.parameters(), lr=LEARNING_RATE)

    def step() -> Any:
        opt.zero_grad(set_to_none=True)
        loss = criterion(model(x), target)
        loss.backward()
        opt.step()
        return loss

    return torch.compile(step, mode="reduce-overhead") if compiled else step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", default="tiny,small,mnist1024,wide")
    parser.add_argument("--dtypes", default="float32")
    parser.add_argument("--impls", default="handgrad-cuda,handgrad-eager,torch,torch-compile")
    parser.add_argument("--repeats", type=int, default=200)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    try:
        import torch
    except ImportError:
        print("torch is not installed (pip install torch)", file=sys.stderr)
        sys.exit(2)
    if not torch.cuda.is_available():
        print("no CUDA GPU: bench/gpu.py measures the GPU step only", file=sys.stderr)
        sys.exit(2)
    rows = []
    for config in args.configs.split(","):
        for dtype in args.dtypes.split(","):
            data = make_data(config, dtype)
            for impl in args.impls.split(","):
                try:
                    if impl.startswith("handgrad"):
                        step, _ = handgrad_step(data, graph=impl == "handgrad-cuda")
                    else:
                        step = torch_step(data, dtype, compiled=impl == "torch-compile")
                    result = time_steps(step, torch, warmup=20, repeats=args.repeats)
                except Exception as exc:  # report, never crash the table
                    result = {"error": f"{type(exc).__name__}: {exc}"}
                row = {"config": config, "dtype": dtype, "impl": impl, **result,
                       "gpu": torch.cuda.get_device_name(), "torch": torch.__version__}
                rows.append(row)
                shown = human(result.get("median_s")) if "median_s" in result else result["error"]
                d, n, q, b = CONFIGS[config]
                print(f"{config:10} ({d}-{n}-{q}, {b}) {dtype}  {impl:15} {shown}", flush=True)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    main()
