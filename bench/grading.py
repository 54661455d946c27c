"""Grading a class as one command: `handgrad grade ROSTER ANSWERS --csv grades.csv` on N answers.

Run: python bench/grading.py [--students 120] [--runs 3] [--keep DIR]. Builds the folder that
`handgrad generate --roster` writes (one variant per student, from `generate` and `toml_text`)
and a folder of answers of a realistic class, computed here in plain NumPy: most students
right (full precision, or rounded to 2 or 3 decimals, step by step or only when written), and
the usual mistakes (the smoothing forgotten, yˢ − ŷ for ∂L/∂z, the ReLU mask left out, the
update added), a few nearly blank answers and a few broken files. Then times the whole command,
process start included, and the same class graded against one shared problem; prints the
median and best wall time of each, the terminal summary and the first rows of the sheet.
Never run as a test (issue 12: under 10 s for 120 answers on a 2-core machine).
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from handgrad.generate import GenerateSettings, generate, toml_text

HANDGRAD = Path(sys.executable).with_name("handgrad")
SECTIONS = {"forward": ("h1", "a1", "z", "yhat", "ys", "loss"),
            "backward": ("dz", "dW2", "db2", "da1", "dh1", "dW1", "db1"),
            "update": ("W1", "b1", "W2", "b2", "loss_after")}


def student(doc: dict[str, Any], places: int | None, stepwise: bool, mistake: str) -> dict:
    """One student's answer document, computed in NumPy as a student would."""
    W1, b1, W2, b2 = (np.array(doc["params"][k], float) for k in ("W1", "b1", "W2", "b2"))
    x, y = np.array(doc["data"]["x"], float), np.array(doc["data"]["y"], float)
    eps, eta, q = doc["loss"]["label_smoothing"], doc["optimizer"]["learning_rate"], len(y)
    out: dict[str, np.ndarray] = {}

    def put(name: str, value: Any) -> np.ndarray:
        out[name] = np.asarray(value, float) if places is None else np.round(value, places)
        return out[name] if stepwise else np.asarray(value, float)

    def softmax(z: np.ndarray) -> np.ndarray:
        e = np.exp(z - z.max())
        return e / e.sum()

    def log_softmax(z: np.ndarray) -> np.ndarray:  # ln ŷ without ln 0 where ŷ underflows
        return z - z.max() - np.log(np.exp(z - z.max()).sum())

    with np.errstate(all="ignore"):
        h1 = put("h1", x @ W1 + b1)
        a1 = put("a1", np.maximum(h1, 0))
        yhat = put("yhat", softmax(put("z", a1 @ W2 + b2)))
        ys = put("ys", y if mistake == "no_smoothing" else (1 - eps) * y + eps / q)
        put("loss", -np.sum(np.where(ys == 0, 0.0, ys * np.log(yhat))))
        dz = put("dz", ys - yhat if mistake == "dz_sign" else yhat - ys)
        dW2, db2 = put("dW2", np.outer(a1, dz)), put("db2", dz)
        da1 = put("da1", W2 @ dz)
        dh1 = put("dh1", da1 if mistake == "missing_relu_mask" else da1 * (h1 > 0))
        dW1, db1 = put("dW1", np.outer(x, dh1)), put("db1", dh1)
        sign = -1 if mistake == "update_sign" else 1
        new = [put(k, p - sign * eta * g) for k, p, g in
               (("W1", W1, dW1), ("b1", b1, db1), ("W2", W2, dW2), ("b2", b2, db2))]
        after = log_softmax(np.maximum(x @ new[0] + new[1], 0) @ new[2] + new[3])
        put("loss_after", -np.sum(ys * after))
    if places is not None and not all(np.all(np.isfinite(v)) for v in out.values()):
        # ln 0.00: a probability of 10⁻⁸ needs its digits, as the student finds out
        return student(doc, places + 2 if places < 12 else None, stepwise, mistake)
    answer = {section: {name.replace("_after", ""): out[name].tolist() for name in names}
              for section, names in SECTIONS.items()}
    if mistake == "blank":
        answer = {"forward": {"h1": answer["forward"]["h1"]}}
    return answer


KINDS = [  # (places, stepwise, mistake), in the proportions of a realistic class
    *[(None, False, "none")] * 3, *[(2, True, "none")] * 4, *[(3, False, "none")] * 3,
    *[(2, False, "none")] * 3, *[(2, True, "no_smoothing")] * 3, (3, False, "no_smoothing"),
    *[(2, False, "dz_sign")] * 2, (2, True, "missing_relu_mask"), (2, False, "update_sign"),
    (None, False, "blank"), (2, False, "broken"),
]


def make_class(root: Path, students: int, seed: int) -> tuple[Path, Path]:
    roster, answers = root / "roster", root / "answers"
    roster.mkdir(parents=True)
    answers.mkdir()
    docs = generate(GenerateSettings(count=students, seed=seed))
    rng = np.random.default_rng(seed)
    with (roster / "roster.csv").open("w", newline="", encoding="utf-8") as stream:
        writer = csv.writer(stream)
        writer.writerow(["id", "name", "email"])
        for number, doc in enumerate(docs, start=1):
            sid = f"s{number:04d}"
            writer.writerow([sid, f"Student {number}", f"{sid}@example.edu"])
            (roster / f"problem-{sid}.toml").write_text(toml_text(doc), encoding="utf-8")
            places, stepwise, mistake = KINDS[int(rng.integers(len(KINDS)))]
            if mistake == "broken":
                (answers / f"{sid}.toml").write_text("[forward]\nh1 = [1, 2\n")
                continue
            answer = student(doc, places, stepwise, mistake)
            (answers / f"{sid}.json").write_text(json.dumps(answer), encoding="utf-8")
    return roster, answers


def timed(command: list[str], runs: int) -> tuple[list[float], str]:
    times, shown = [], ""
    for _ in range(runs):
        start = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, check=True,
                              env={"COLUMNS": "100", "PATH": ""})
        times.append(time.perf_counter() - start)
        shown = done.stdout
    return times, shown


def shared_answers(root: Path, students: int, seed: int) -> Path:
    """The same class, everyone with the one problem `shared.toml`."""
    folder = root / "shared-answers"
    folder.mkdir()
    doc = generate(GenerateSettings(count=1, seed=seed))[0]
    (root / "shared.toml").write_text(toml_text(doc), encoding="utf-8")
    rng = np.random.default_rng(seed + 1)
    for number in range(1, students + 1):
        places, stepwise, mistake = KINDS[int(rng.integers(len(KINDS)))]
        path = folder / f"s{number:04d}.json"
        if mistake == "broken":
            path.with_suffix(".toml").write_text("[forward]\nh1 = [1, 2\n")
            continue
        path.write_text(json.dumps(student(doc, places, stepwise, mistake)), encoding="utf-8")
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--students", type=int, default=120)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--keep", type=Path, help="Build the class in this folder and keep it.")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        root = args.keep or Path(scratch)
        roster, answers = make_class(root, args.students, args.seed)
        shared = shared_answers(root, args.students, args.seed)
        sheet = root / "grades.csv"
        cases = {
            "each student's own problem (roster folder)": [
                str(HANDGRAD), "grade", str(roster), str(answers), "--csv", str(sheet)],
            "one shared problem": [
                str(HANDGRAD), "grade", str(root / "shared.toml"), str(shared), "--csv",
                str(root / "shared.csv")],
        }
        summary = ""
        for label, command in cases.items():
            times, shown = timed(command, args.runs)
            summary = summary or shown
            print(f"{label}: {args.students} answers in median {statistics.median(times):.2f} s,"
                  f" best {min(times):.2f} s over {args.runs} runs")
        print()
        print(summary)
        print("\n".join(sheet.read_text(encoding="utf-8").splitlines()[:4]))


if __name__ == "__main__":
    main()
