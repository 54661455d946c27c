"""Fresh problems of the homework's kind, each checked to be well posed for hand calculation.

A problem is drawn from a seeded generator (integer, or one-decimal, parameters and inputs in a
range; ε and η from small sets of round values) and kept only if its own worked solution
passes every check in `hand_friendly`; otherwise it is drawn again. The same settings and seed
give byte-identical files.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from handgrad.atomic import write_file
from handgrad.core import network
from handgrad.errors import HandgradError
from handgrad.problem import Problem, validate_problem

EPSILONS = (0.1, 0.2, 0.3)
LEARNING_RATES = (0.1, 0.5, 1.0)
KINK_MARGIN = 1.0  # every hidden pre-activation at least this far from the ReLU kink at 0
MAX_PROBABILITY = 0.99
MAX_DRAWS = 20_000  # per problem, before giving up with a clear error


@dataclass(frozen=True)
class GenerateSettings:
    count: int = 1
    seed: int = 0
    layers: tuple[int, ...] = (2, 3, 3)
    low: int = -5
    high: int = 5
    decimals: int = 0  # 0: integers; 1: one decimal
    max_draws: int = MAX_DRAWS  # per problem, before giving up
    epsilons: tuple[float, ...] = EPSILONS
    learning_rates: tuple[float, ...] = LEARNING_RATES

    def check(self) -> None:
        problems = []
        if self.count < 1:
            problems.append("--count must be at least 1")
        if len(self.layers) < 2 or any(n < 1 for n in self.layers):
            problems.append("--layers needs at least two positive sizes, e.g. 2,3,3")
        if len(self.layers) >= 2 and self.layers[-1] < 2:
            problems.append("--layers: the output needs at least 2 classes for softmax")
        if sum(self.layers[i] * self.layers[i + 1] for i in range(len(self.layers) - 1)) > 400:
            problems.append("--layers: at most 400 weights, for a problem worked by hand")
        if self.low >= self.high:
            problems.append(f"--range {self.low}..{self.high}: the low end must be below the high")
        if self.decimals not in (0, 1):
            problems.append("--decimals must be 0 (integers) or 1")
        if problems:
            raise HandgradError("; ".join(problems))


def hand_friendly(problem: Problem) -> list[str]:
    """Why a problem is not fit for hand calculation (empty when it is)."""
    arch = problem.architecture
    fwd = network.forward(problem.params, problem.x, problem.target, arch)
    bwd = network.backward(fwd, arch)
    reasons = []
    for layer, h in enumerate(fwd.h, start=1):
        if np.min(np.abs(h)) < KINK_MARGIN:
            reasons.append(f"h{layer} has an entry within {KINK_MARGIN:g} of the ReLU kink")
        if not np.any(h > 0):
            reasons.append(f"no unit of hidden layer {layer} is active")
    for name, grad in bwd.grads.items():
        if not np.any(grad != 0):
            reasons.append(f"{name} is identically zero")
    if np.max(fwd.yhat) > MAX_PROBABILITY:
        reasons.append(f"the largest probability exceeds {MAX_PROBABILITY}")
    return reasons


def _draw(rng: np.random.Generator, settings: GenerateSettings, index: int) -> dict[str, Any]:
    layers = settings.layers
    scale = 10**settings.decimals

    def numbers(*shape: int) -> list[Any]:
        drawn = rng.integers(settings.low * scale, settings.high * scale + 1, size=shape)
        values = drawn / scale if settings.decimals else drawn
        return values.tolist()

    params: dict[str, Any] = {}
    for layer in range(1, len(layers)):
        params[f"W{layer}"] = numbers(layers[layer - 1], layers[layer])
        params[f"b{layer}"] = numbers(layers[layer])
    epsilon = float(rng.choice(settings.epsilons))
    eta = float(rng.choice(settings.learning_rates))
    label = int(rng.integers(0, layers[-1]))
    y = [1 if k == label else 0 for k in range(layers[-1])]
    return {
        "title": f"Generated problem {index}",
        "network": {"layers": list(layers), "activation": "relu", "output": "softmax",
                    "layout": "in_out"},
        "params": params,
        "data": {"x": numbers(layers[0]), "y": y},
        "loss": {"kind": "cross_entropy", "label_smoothing": epsilon, "smoothing": "uniform"},
        "optimizer": {"learning_rate": eta, "steps": 1},
    }


def generate(settings: GenerateSettings) -> list[dict[str, Any]]:
    """`count` problem documents, each well posed and different from the others."""
    settings.check()
    rng = np.random.default_rng(settings.seed)
    documents: list[dict[str, Any]] = []
    seen: set[str] = set()
    for index in range(1, settings.count + 1):
        for _ in range(settings.max_draws):
            document = _draw(rng, settings, index)
            fingerprint = json.dumps({k: v for k, v in document.items() if k != "title"})
            if fingerprint in seen:
                continue
            if not hand_friendly(validate_problem(document, document["title"])):
                seen.add(fingerprint)
                documents.append(document)
                break
        else:
            raise HandgradError(
                f"no well-posed problem found in {settings.max_draws} draws for layers "
                f"{settings.layers} and range {settings.low}..{settings.high}; widen the range"
            )
    return documents


# ------------------------------------------------------------------------ writing files


def toml_text(document: dict[str, Any]) -> str:
    """A problem document as TOML in the seed's style (only the types problems use)."""
    lines = [f"title = {_toml(document['title'])}"] if document.get("title") else []
    for section in ("network", "params", "data", "loss", "optimizer"):
        if not document.get(section):
            continue
        lines += ["", f"[{section}]"]
        lines += [f"{key} = {_toml(value)}" for key, value in document[section].items()
                  if value is not None]  # TOML has no null: an absent key is the default
    return "\n".join(lines).lstrip("\n") + "\n"


def _toml(value: Any) -> str:
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # a TOML basic string is JSON's
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return f"{value:.1f}"
    return repr(value)


def write_set(
    documents: Sequence[dict[str, Any]], folder: Path, output_format: str, digits: int = 4
) -> list[Path]:
    """Problem files, answer keys and the exam sheet with its answer key; returns the paths."""
    from handgrad.render.document import Heading, Paragraph, problem_blocks, solution_document
    from handgrad.solver import solve

    folder.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    exam: list[Any] = [Heading("Exam: one gradient-descent step by hand", 1)]
    key: list[Any] = [Heading("Answer key", 1)]
    width = len(str(len(documents)))
    for number, document in enumerate(documents, start=1):
        stem = f"{number:0{width}d}"
        problem = validate_problem(document, document["title"])
        solution = solve(problem)
        paths = {
            "problem": folder / f"problem-{stem}.toml",
            "answer": folder / f"answer-{stem}.json",
        }
        _write_text(paths["problem"], toml_text(document))
        _write_text(paths["answer"], solution.to_json())
        written += paths.values()
        worked = solution_document(solution, digits)
        exam += [Heading(f"Problem {number}", 2), *problem_blocks(problem, digits),
                 Paragraph(("Compute every quantity of the forward pass, the backward pass and"
                            " the update, and the loss after the step.",))]
        key += [Heading(f"Problem {number}", 2), *_demoted(worked[1:])]  # its own title: no
        if output_format != "json":
            written.append(_write_document(worked, folder / f"answer-{stem}", output_format))
    if output_format != "json":
        written.append(_write_document(exam, folder / "exam", output_format))
        written.append(_write_document(key, folder / "answer-key", output_format))
    return written


def _demoted(blocks: list[Any]) -> list[Any]:
    """A worked solution's headings one level down, to sit under 'Problem N'."""
    from handgrad.render.document import Heading

    return [Heading(b.text, min(3, b.level + 1)) if isinstance(b, Heading) else b
            for b in blocks]


def _write_text(path: Path, text: str) -> None:
    """A text file ending in a newline, written atomically."""
    write_file(path, text if text.endswith("\n") else text + "\n")


def _write_document(blocks: list[Any], stem: Path, output_format: str) -> Path:

    if output_format == "latex":
        from handgrad.render.latex import write_latex

        path = stem.with_suffix(".tex")
        _write_text(path, write_latex(blocks))
    else:
        from handgrad.render.markdown import write_markdown

        path = stem.with_suffix(".md")
        _write_text(path, write_markdown(blocks))
    return path
