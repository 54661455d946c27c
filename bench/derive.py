"""Whole-process times of `handgrad derive`, `handgrad report -f latex` and `handgrad solve
--exact` on the seed, `deep_batch`, and 3- and 6-weight-layer networks of 8 units, a batch of 4,
for each hidden activation (and a sigmoid-output squared-error variant of each depth).

Run: python bench/derive.py [--runs N] [--out FILE]. Each command runs N times (default 1) with
--force, so the limits in handgrad.limits do not refuse what is being measured; the table shows
the best wall time. Issue 14's targets on a 2-core machine: derive < 10 s, report -f latex
< 30 s, solve --exact < 5 s. Never run as a test.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HANDGRAD = Path(sys.executable).with_name("handgrad")
ACTIVATIONS = ("relu", "leaky_relu", "tanh", "sigmoid", "identity")
COMMANDS = {
    "derive": ["derive", "--force"],
    "report -f latex": ["report", "-f", "latex", "--force"],
    "solve --exact": ["solve", "--exact", "--force"],
}


def network(depth: int, activation: str, output: str = "softmax") -> dict[str, Any]:
    """A depth-weight-layer network of 8 units a layer, a batch of 4, out_in layout, `others`
    smoothing (cross-entropy) or squared error (sigmoid output), seeded inputs."""
    rng = random.Random(depth)
    layers = [8] * (depth + 1)
    x = [[round(rng.uniform(-1, 1), 2) for _ in range(8)] for _ in range(4)]
    document: dict[str, Any] = {
        "network": {"layers": layers, "activation": activation, "output": output,
                    "layout": "out_in"},
        "optimizer": {"learning_rate": 0.1},
    }
    if output == "softmax":
        document["data"] = {"x": x, "label": [0, 3, 5, 7]}
        document["loss"] = {"label_smoothing": 0.1, "smoothing": "others"}
    else:
        y = [[round(rng.uniform(0, 1), 2) for _ in range(8)] for _ in range(4)]
        document["data"] = {"x": x, "y": y}
        document["loss"] = {"kind": "squared_error"}
    return document


def problems(folder: Path) -> dict[str, str]:
    """Name → what to pass to handgrad (a shipped example's name or a file)."""
    found = {"seed (homework3)": "homework3", "deep_batch": "deep_batch"}
    for depth in (3, 6):
        for activation in ACTIVATIONS:
            path = folder / f"depth{depth}-{activation}.json"
            path.write_text(json.dumps(network(depth, activation)))
            found[f"{depth} layers {activation}"] = str(path)
        path = folder / f"depth{depth}-tanh-sigmoid-mse.json"
        path.write_text(json.dumps(network(depth, "tanh", output="sigmoid")))
        found[f"{depth} layers tanh, sigmoid+MSE"] = str(path)
    return found


def best_time(arguments: list[str], runs: int) -> float | None:
    """Best wall time over `runs`, or None when the command fails."""
    best = None
    for _ in range(runs):
        start = time.perf_counter()
        done = subprocess.run(
            [str(HANDGRAD), *arguments], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        elapsed = time.perf_counter() - start
        if done.returncode != 0:
            print(f"  failed: {' '.join(arguments)}: {done.stderr.decode()[-300:]}")
            return None
        best = elapsed if best is None else min(best, elapsed)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--out", type=Path, help="also write the table as JSON here")
    args = parser.parse_args()
    rows: dict[str, dict[str, float | None]] = {}
    with tempfile.TemporaryDirectory() as folder:
        for name, problem in problems(Path(folder)).items():
            rows[name] = {
                label: best_time([command[0], problem, *command[1:]], args.runs)
                for label, command in COMMANDS.items()
            }
            cells = "  ".join(
                f"{label} {'failed' if t is None else f'{t:6.2f} s'}"
                for label, t in rows[name].items()
            )
            print(f"{name:32} {cells}", flush=True)
    if args.out:
        args.out.write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
