"""Whole-process time of `handgrad solve` on the seed, beside the interpreter and its imports.

Run: python bench/startup.py [--runs N]. Prints the median and best wall time of each command
over N runs (default 20), all in one run so the numbers are comparable. Never run as a test.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

HANDGRAD = Path(sys.executable).with_name("handgrad")
COMMANDS = {
    "python -c pass": [sys.executable, "-c", "pass"],
    "python -c 'import numpy'": [sys.executable, "-c", "import numpy"],
    "python -c 'import numpy, click, rich.table'": [
        sys.executable, "-c", "import numpy, click, rich.console, rich.table"],
    "python -c 'import torch' (for scale)": [sys.executable, "-c", "import torch"],
    "handgrad solve": [str(HANDGRAD), "solve"],
    "handgrad solve --format json": [str(HANDGRAD), "solve", "--format", "json"],
    "python -m handgrad solve": [sys.executable, "-m", "handgrad", "solve"],
}


def time_command(command: list[str], runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    if not HANDGRAD.exists() and shutil.which("handgrad") is None:
        sys.exit("install handgrad first: pip install -e .")
    print(f"{'command':48} {'median s':>9} {'best s':>8}")
    for name, command in COMMANDS.items():
        try:
            times = time_command(command, args.runs)
        except subprocess.CalledProcessError:
            print(f"{name:48} {'(failed: not installed?)':>18}")
            continue
        print(f"{name:48} {statistics.median(times):9.3f} {min(times):8.3f}")


if __name__ == "__main__":
    main()
