"""Fresh problems of the homework's kind or beyond, each checked to be well posed for hand
calculation, for a whole set or for each student of a class roster.

A problem is drawn from a seeded generator (integer, or one-decimal, parameters and inputs in a
range; ε and η from small sets of round values; the kind of network from the choices given) and
kept only if its own worked step passes every check in `hand_friendly`; otherwise it is drawn
again. The same settings and seed give byte-identical files.

For a roster each student's variant is drawn from a generator seeded with SHA-256 of
"{seed}:{id}", so a variant depends on the seed and the student's own id alone: adding or
removing a student changes nobody else's. Two students never share a variant (their given
numbers, x, y and the parameters): students are drawn in the order of their ids' hashes and, in
the (astronomically rare, for the homework's sizes) case that a student's draw has the numbers
of a variant already given, the student whose id hashes higher draws again from their own
generator. Only then can adding a student change another's variant: the newcomer's id must
hash lower and their first draw must equal that student's.
"""

from __future__ import annotations

import contextlib
import hashlib
import html
import json
import os
import re
import shutil
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np

from handgrad.atomic import ASIDE, hidden_folder, write_file, write_folder
from handgrad.core import network, ops
from handgrad.core.activations import ACTIVATIONS, OUTPUTS, Activation, ActivationName
from handgrad.errors import HandgradError, did_you_mean
from handgrad.problem import Problem, validate_problem
from handgrad.roster import Roster, Student

EPSILONS = (0.1, 0.2, 0.3)
LEARNING_RATES = (0.1, 0.5, 1.0)
# An identity output (regression) has no squashing: its gradients grow with the data, and a
# step of η = 0.1 already overshoots most problems drawn from -5..5 (measured).
REGRESSION_RATES = (0.01, 0.02, 0.05)
KINK_MARGIN = 1.0  # every hidden pre-activation at least this far from the ReLU kink at 0
MAX_PROBABILITY = 0.99
# −ln ŷ multiplies the rounding of a hand-written yˢ: below 0.001 a probability's logarithm
# (beyond 6.9) turns yˢ = 0.033 for 1/30 into a loss off in the second decimal, and e^(−264)
# is not a number to work by hand
MIN_PROBABILITY = 1e-3
MAX_DRAWS = 20_000  # per problem, before giving up with a clear error
# Where sigmoid and tanh saturate for a student rounding to 2 decimals: σ′(3) = 0.045, and
# tanh′(2) = 0.07, while tanh(3) = 0.995 rounds to 1.00 and its slope 1 − a² to 0.
SATURATION = {"sigmoid": 3.0, "tanh": 2.0}
MAX_MAGNITUDE = 1000.0  # an identity output's step, or a run of steps: numbers a hand carries
MAX_UNITS = 20  # per layer: every given number printed in full (LaTeX's MaxMatrixCols is 20)
MAX_BATCH = 8
MAX_STEPS = 20
UNIT_TRIES = 200  # redraws of one unit's weights before the whole candidate is judged anyway
LINEAR_LIMIT = 10.0  # |h| of an identity hidden unit, as drawn
RESIDUAL_LIMIT = 5.0  # |ŷ − y| of an identity output unit, as drawn
CHOICES = {
    "activation": tuple(ACTIVATIONS),
    "output": tuple(OUTPUTS),
    "loss": network.LOSSES,
    "smoothing": ("uniform", "others"),
    "layout": ("in_out", "out_in"),
}


@dataclass(frozen=True)
class GenerateSettings:
    """What to draw. Each tuple of choices is drawn from per variant; one choice draws nothing
    (so that the homework's kind, the default, consumes the generator as it always has)."""

    count: int = 1
    seed: int = 0
    layers: tuple[int, ...] = (2, 3, 3)
    low: int = -5
    high: int = 5
    decimals: int = 0  # 0: integers; 1: one decimal
    max_draws: int = MAX_DRAWS  # per problem, before giving up
    epsilons: tuple[float, ...] = EPSILONS
    learning_rates: tuple[float, ...] = ()  # (): LEARNING_RATES, REGRESSION_RATES for identity
    activations: tuple[str, ...] = ("relu",)
    outputs: tuple[str, ...] = ("softmax",)
    losses: tuple[str, ...] = ()  # (): cross-entropy for a softmax output, else squared error
    smoothings: tuple[str, ...] = ("uniform",)
    layouts: tuple[str, ...] = ("in_out",)
    batch: int = 1  # 1: a single instance x, as the homework; B > 1: the rows of X
    steps: int = 1

    def losses_for(self, output: str) -> tuple[str, ...]:
        """The losses a variant with this output draws from."""
        if self.losses:
            return self.losses
        return ("cross_entropy",) if output == "softmax" else ("squared_error",)

    def rates_for(self, output: str) -> tuple[float, ...]:
        """The learning rates a variant with this output draws from."""
        if self.learning_rates:
            return self.learning_rates
        return REGRESSION_RATES if output == "identity" else LEARNING_RATES

    @property
    def cross_entropy(self) -> bool:
        """Whether any variant can have the cross-entropy loss (where ε and smoothing apply)."""
        return any("cross_entropy" in self.losses_for(output) for output in self.outputs)

    def check(self) -> None:
        problems = []
        if self.count < 1:
            problems.append("--count must be at least 1")
        if len(self.layers) < 2 or any(n < 1 for n in self.layers):
            problems.append("--layers needs at least two positive sizes, e.g. 2,3,3")
        if len(self.layers) >= 2 and self.layers[-1] < 2 and "softmax" in self.outputs:
            problems.append("--layers: the output needs at least 2 classes for softmax")
        if sum(self.layers[i] * self.layers[i + 1] for i in range(len(self.layers) - 1)) > 400:
            problems.append("--layers: at most 400 weights, for a problem worked by hand")
        elif any(n > MAX_UNITS for n in self.layers):
            problems.append(f"--layers: at most {MAX_UNITS} units in a layer, so that every"
                            " given number fits on the sheet")
        if self.low >= self.high:
            problems.append(f"--range {self.low}..{self.high}: the low end must be below the high")
        if self.decimals not in (0, 1):
            problems.append("--decimals must be 0 (integers) or 1")
        problems += self._choice_problems()
        if not 1 <= self.batch <= MAX_BATCH:
            problems.append(f"--batch must be 1 (one instance) to {MAX_BATCH} (rows worked by"
                            " hand)")
        if not 1 <= self.steps <= MAX_STEPS:
            problems.append(f"--steps must be 1 to {MAX_STEPS}")
        if problems:
            raise HandgradError("; ".join(problems))

    def _choice_problems(self) -> list[str]:
        problems = []
        given = {"activation": self.activations, "output": self.outputs,
                 "loss": self.losses or ("cross_entropy",), "smoothing": self.smoothings,
                 "layout": self.layouts}
        for option, values in given.items():
            if not values:
                problems.append(f"--{option}: give at least one of {', '.join(CHOICES[option])}")
            for value in values:
                if value not in CHOICES[option]:
                    problems.append(
                        f"--{option} {value!r} is not one of {', '.join(CHOICES[option])}"
                        + did_you_mean(value, CHOICES[option])
                    )
        for output in self.outputs:
            if output != "softmax" and "cross_entropy" in self.losses_for(output):
                problems.append(
                    f"--loss cross_entropy with --output {output}: cross-entropy compares"
                    " probabilities that sum to 1, which only the softmax output gives; use"
                    f" --loss squared_error for a {output} output (or --output softmax)"
                )
        if not self.cross_entropy and tuple(self.smoothings) != ("uniform",):
            problems.append("--smoothing: label smoothing applies only to --loss cross_entropy")
        if not self.epsilons or any(not 0 <= e < 1 for e in self.epsilons):
            problems.append("--epsilon: each ε must be at least 0 and below 1, e.g. 0.1,0.2")
        if any(not 1e-3 <= r <= 10 for r in self.learning_rates):  # a step a student can see
            problems.append("--learning-rate: each η must be from 0.001 to 10, e.g. 0.1")
        return problems


def hand_friendly(problem: Problem) -> list[str]:
    """Why a problem is not fit for hand calculation (empty when it is).

    The homework's kind (ReLU, softmax, cross-entropy, one step) is held to the checks it has
    always had, so that its variants stay byte-identical; each other choice adds the checks its
    own trouble needs: saturation for sigmoid and tanh, bounded numbers for an identity output
    (nothing bounds its residual) and for a run of steps (which can diverge).
    """
    arch = problem.architecture
    fwd = network.forward(problem.params, problem.x, problem.target, arch)
    bwd = network.backward(fwd, arch)
    reasons = []
    rule = arch.hidden.rule
    for layer, h in enumerate(fwd.h, start=1):
        if rule.piecewise_linear:
            if np.min(np.abs(h)) < KINK_MARGIN:
                reasons.append(f"h{layer} has an entry within {KINK_MARGIN:g} of the"
                               f" {rule.label} kink")
            if not np.any(h > 0):
                reasons.append(f"no unit of hidden layer {layer} is active")
        elif arch.hidden.name in SATURATION and np.max(np.abs(h)) > SATURATION[arch.hidden.name]:
            limit = SATURATION[arch.hidden.name]
            reasons.append(f"h{layer} has an entry beyond ±{limit:g}, where {rule.label}"
                           " saturates")
    for name, grad in bwd.grads.items():
        if not np.any(grad != 0):
            reasons.append(f"{name} is identically zero")
    if arch.output == "softmax":
        if np.max(fwd.yhat) > MAX_PROBABILITY:
            reasons.append(f"the largest probability exceeds {MAX_PROBABILITY}")
        if np.min(fwd.yhat) < MIN_PROBABILITY:
            reasons.append(f"the smallest probability is below {MIN_PROBABILITY}")
    elif arch.output == "sigmoid" and np.max(np.abs(fwd.z)) > SATURATION["sigmoid"]:
        reasons.append(f"z has an entry beyond ±{SATURATION['sigmoid']:g}, where the sigmoid"
                       " output saturates")
    if arch.output == "identity" or problem.spec.optimizer.steps > 1:
        reasons += _bounded(problem, fwd, bwd)
    return reasons


def _bounded(
    problem: Problem, fwd: network.ForwardPass, bwd: network.BackwardPass
) -> list[str]:
    """Why the numbers of the step(s) are beyond a hand (empty when they are not)."""
    arch, opt = problem.architecture, problem.spec.optimizer
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        run = network.descend(problem.params, problem.x, problem.target, arch,
                              opt.learning_rate, opt.steps)
    named: dict[str, Any] = {"the parameters after the steps": list(run.params.values()),
                             "the loss": run.losses}
    if arch.output == "identity":  # the first step's every number; softmax and sigmoid bound it
        named = {"z": fwd.z, "∂L/∂z": bwd.dz, **bwd.grads,
                 **{f"h{i}": h for i, h in enumerate(fwd.h, start=1)}, **named}
    reasons = []
    for name, values in named.items():
        arrays = values if isinstance(values, list) else [values]
        largest = max(float(np.max(np.abs(np.asarray(a, dtype=float)))) for a in arrays)
        if not np.isfinite(largest) or largest > MAX_MAGNITUDE:
            reasons.append(f"{name}: an entry beyond ±{MAX_MAGNITUDE:g}")
    if opt.steps > 1 and not run.losses[-1] < run.losses[0]:
        reasons.append(f"the {opt.steps} steps do not lower the loss")
    return reasons


@dataclass(frozen=True)
class _Kind:
    activation: str
    output: str
    loss: str
    smoothing: str
    layout: str


def _pick(rng: np.random.Generator, choices: Sequence[str]) -> str:
    # One choice draws nothing: the homework's kind consumes the generator exactly as it did
    # before there were choices, so its variants are byte-identical to earlier releases'.
    return choices[0] if len(choices) == 1 else choices[int(rng.integers(len(choices)))]


def _kind(rng: np.random.Generator, settings: GenerateSettings) -> _Kind:
    activation = _pick(rng, settings.activations)
    output = _pick(rng, settings.outputs)
    loss = _pick(rng, settings.losses_for(output))
    smoothing = _pick(rng, settings.smoothings) if loss == "cross_entropy" else "uniform"
    return _Kind(activation, output, loss, smoothing, _pick(rng, settings.layouts))


HOMEWORK_KIND = _Kind("relu", "softmax", "cross_entropy", "uniform", "in_out")


def _numbers_drawer(rng: np.random.Generator, settings: GenerateSettings) -> Any:
    scale = 10**settings.decimals

    def numbers(*shape: int) -> Any:
        drawn = rng.integers(settings.low * scale, settings.high * scale + 1, size=shape)
        values = drawn / scale if settings.decimals else drawn
        return values.tolist()

    return numbers


def _draw(
    rng: np.random.Generator, settings: GenerateSettings, title: str, kind: _Kind
) -> dict[str, Any]:
    """One candidate problem of the given kind (`hand_friendly` judges it)."""
    if kind == HOMEWORK_KIND and settings.batch == 1 and settings.steps == 1:
        return _draw_whole(rng, settings, title)
    return _draw_by_unit(rng, settings, title, kind)


def _draw_whole(rng: np.random.Generator, settings: GenerateSettings, title: str) -> dict[str, Any]:
    """The homework's kind, drawn all at once in the order it always was (byte-identical)."""
    layers = settings.layers
    numbers = _numbers_drawer(rng, settings)
    params: dict[str, Any] = {}
    for layer in range(1, len(layers)):
        params[f"W{layer}"] = numbers(layers[layer - 1], layers[layer])
        params[f"b{layer}"] = numbers(layers[layer])
    epsilon = float(rng.choice(settings.epsilons))
    eta = float(rng.choice(settings.rates_for("softmax")))
    y = _targets(rng, "softmax", layers[-1], 1, numbers)
    return {
        "title": title,
        "network": {"layers": list(layers), "activation": "relu", "output": "softmax",
                    "layout": "in_out"},
        "params": params,
        "data": {"x": numbers(layers[0]), "y": y},
        "loss": {"kind": "cross_entropy", "label_smoothing": epsilon, "smoothing": "uniform"},
        "optimizer": {"learning_rate": eta, "steps": 1},
    }


def _draw_by_unit(
    rng: np.random.Generator, settings: GenerateSettings, title: str, kind: _Kind
) -> dict[str, Any]:
    """Any other kind: the data first, then each layer's weights unit by unit, a unit's
    incoming weights and bias redrawn (up to UNIT_TRIES times) until its pre-activations over
    the whole batch are fit (`_unit_fit`). Drawn all at once, none of 100,000 tanh problems
    with a batch of 3 passed `hand_friendly`; unit by unit, 1 in 5 does (measured)."""
    layers, batch = settings.layers, settings.batch
    numbers = _numbers_drawer(rng, settings)
    x = numbers(layers[0]) if batch == 1 else numbers(batch, layers[0])
    y = _targets(rng, kind.output, layers[-1], batch, numbers)
    loss: dict[str, Any] = {"kind": kind.loss}
    if kind.loss == "cross_entropy":
        loss.update(label_smoothing=float(rng.choice(settings.epsilons)),
                    smoothing=kind.smoothing)
    eta = float(rng.choice(settings.rates_for(kind.output)))
    hidden = Activation(cast(ActivationName, kind.activation))  # checked against CHOICES
    inputs = np.asarray(x, dtype=float).reshape(batch, -1)  # (B, fan_in)
    targets = np.asarray(y, dtype=float).reshape(batch, -1).T  # (q, B): a row per output unit
    params: dict[str, Any] = {}
    for layer in range(1, len(layers)):
        last = layer == len(layers) - 1
        columns: list[Any] = []
        biases: list[Any] = []
        for _ in range(layers[layer]):
            for _ in range(UNIT_TRIES):
                weights, bias = numbers(layers[layer - 1]), numbers(1)[0]
                h = inputs @ np.asarray(weights, dtype=float) + bias  # (B,)
                if _unit_fit(h, kind, targets[len(columns)] if last else None):
                    break
            columns.append(weights)
            biases.append(bias)
        weight = np.array(columns)  # (fan_out, fan_in): out_in as it stands
        params[f"W{layer}"] = (weight.T if kind.layout == "in_out" else weight).tolist()
        params[f"b{layer}"] = biases
        if not last:
            pre = inputs @ np.asarray(weight, dtype=float).T + np.asarray(biases, dtype=float)
            inputs = np.asarray(ops.activation_forward(pre, hidden)[0])
    return {
        "title": title,
        "network": {"layers": list(layers), "activation": kind.activation,
                    "output": kind.output, "layout": kind.layout},
        "params": params,
        "data": {"x": x, "y": y},
        "loss": loss,
        "optimizer": {"learning_rate": eta, "steps": settings.steps},
    }


def _unit_fit(h: np.ndarray, kind: _Kind, target: np.ndarray | None) -> bool:
    """Whether one unit's pre-activations h (B,) pass the checks of `hand_friendly` that
    concern that unit alone; `target` (B,) is given for an output unit. The checks across units
    (an active unit, the largest probability) and the gradients are left to `hand_friendly`.
    A linear unit (identity) is held to a smaller size, or its numbers grow layer by layer."""
    if target is not None:
        if kind.output == "sigmoid":
            return bool(np.max(np.abs(h)) <= SATURATION["sigmoid"])
        return kind.output == "softmax" or bool(np.max(np.abs(h - target)) <= RESIDUAL_LIMIT)
    if ACTIVATIONS[kind.activation].piecewise_linear:
        return bool(np.min(np.abs(h)) >= KINK_MARGIN)
    limit = SATURATION.get(kind.activation, LINEAR_LIMIT)
    return bool(np.max(np.abs(h)) <= limit)


def _targets(
    rng: np.random.Generator, output: str, q: int, batch: int, numbers: Any
) -> list[Any]:
    """One-hot classes for a softmax output, 0/1 entries for a sigmoid output (each unit its
    own yes or no), numbers in the range for an identity output (regression)."""
    if output == "softmax":
        if batch == 1:
            label = int(rng.integers(0, q))
            return [1 if k == label else 0 for k in range(q)]
        labels = rng.integers(0, q, size=batch)
        return [[1 if k == label else 0 for k in range(q)] for label in labels]
    if output == "sigmoid":
        drawn = rng.integers(0, 2, size=q if batch == 1 else (batch, q))
        return cast(list[Any], drawn.tolist())
    return numbers(q) if batch == 1 else numbers(batch, q)


def _fingerprint(document: dict[str, Any]) -> str:
    """A set's variants differ in anything but the title."""
    return json.dumps({k: v for k, v in document.items() if k != "title"})


def _given_numbers(document: dict[str, Any]) -> str:
    """A class's variants differ in their given numbers: two students with the same x, y and
    parameters would share a forward pass even under another ε or η."""
    return json.dumps([document["params"], document["data"]])


def _well_posed(
    rng: np.random.Generator,
    settings: GenerateSettings,
    title: str,
    seen: set[str],
    fingerprint_of: Callable[[dict[str, Any]], str] = _fingerprint,
) -> tuple[dict[str, Any], str]:
    """The first draw that is hand-friendly and not in `seen`, with its fingerprint.

    The kind is drawn once, before the numbers: redrawing it with them would favour the kinds
    that pass the checks most easily (identity over tanh), not give each choice its share."""
    kind = _kind(rng, settings)
    failures: Counter[str] = Counter()
    repeats = 0
    for _ in range(settings.max_draws):
        document = _draw(rng, settings, title, kind)
        fingerprint = fingerprint_of(document)
        if fingerprint in seen:
            repeats += 1
            continue
        reasons = hand_friendly(validate_problem(document, title))
        if not reasons:
            return document, fingerprint
        failures[reasons[0]] += 1
    common = failures.most_common(1)[0][0] if failures else ""
    which = "" if kind == HOMEWORK_KIND else (
        f", activation {kind.activation}, output {kind.output}, loss {kind.loss}"
        + (f", batch {settings.batch}" if settings.batch > 1 else "")
        + (f", {settings.steps} steps" if settings.steps > 1 else "")
    )
    # numbers too large (saturation, overshooting steps) want a smaller range; too few
    # distinct or live draws want a larger one
    too_large = any(word in common for word in (
        "saturates", "beyond ±", "lower the loss", "probability exceeds", "probability"))
    advice = ("narrow the range or lower the learning rate" if too_large
              else "widen the range")
    raise HandgradError(
        f"no well-posed problem found in {settings.max_draws} draws for layers "
        f"{settings.layers}{which} and range {settings.low}..{settings.high}; {advice}"
        + (f" (most draws failed because {common})" if common else "")
        + (f"; {repeats} draws repeated another variant" if repeats else "")
    )


def generate(settings: GenerateSettings) -> list[dict[str, Any]]:
    """`count` problem documents, each well posed and different from the others."""
    settings.check()
    rng = np.random.default_rng(settings.seed)
    documents: list[dict[str, Any]] = []
    seen: set[str] = set()
    for index in range(1, settings.count + 1):
        document, fingerprint = _well_posed(rng, settings, f"Generated problem {index}", seen)
        seen.add(fingerprint)
        documents.append(document)
    return documents


# ------------------------------------------------------------------------ a class roster


@dataclass(frozen=True)
class Variant:
    """One student's problem document."""

    student: Student
    document: dict[str, Any]


def student_digest(seed: int, student_id: str) -> bytes:
    """SHA-256 of "{seed}:{id}": seeds the student's generator and orders redraws."""
    return hashlib.sha256(f"{seed}:{student_id}".encode()).digest()


def generate_class(roster: Roster, settings: GenerateSettings) -> list[Variant]:
    """A well-posed variant per student (in the roster's order), drawn from (seed, id) alone;
    no two the same (see the module's docstring for the redraw rule)."""
    settings.check()
    digests = {student.id: student_digest(settings.seed, student.id) for student in roster}
    seen: set[str] = set()
    drawn: dict[str, dict[str, Any]] = {}
    try:
        for student in sorted(roster, key=lambda s: digests[s.id]):  # lower hashes keep theirs
            rng = np.random.default_rng(int.from_bytes(digests[student.id], "big"))
            document, fingerprint = _well_posed(rng, settings, f"Variant {student.id}", seen,
                                                _given_numbers)
            seen.add(fingerprint)
            drawn[student.id] = document
    except HandgradError as error:
        crowded = "repeated another variant" in str(error)
        raise HandgradError(
            f"{error}" + (f" (after {len(drawn)} of {len(roster)} students: these layers and"
                          " this range have fewer well-posed variants than the class has"
                          " students)" if crowded else "")
        ) from None
    return [Variant(student, drawn[student.id]) for student in roster]


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
    from handgrad.render.document import Heading, Paragraph, solution_document
    from handgrad.render.exam import given_blocks, statement_blocks
    from handgrad.solver import solve

    folder.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    several = any(d["optimizer"].get("steps", 1) > 1 for d in documents)
    exam: list[Any] = [Heading("Exam: gradient descent by hand" if several
                               else "Exam: one gradient-descent step by hand", 1)]
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
        # the problem as the course states it: a student's sheet names no layout or reduction
        exam += [Heading(f"Problem {number}", 2), *statement_blocks(problem),
                 *given_blocks(problem, digits),
                 Paragraph(("Compute every quantity of the forward pass, the backward pass and"
                            " the update, and the loss after the "
                            + ("step." if problem.spec.optimizer.steps == 1 else "last step."),))]
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
    if output_format in ("latex", "pdf"):
        from handgrad.render.latex import compile_pdf, write_latex

        latex = write_latex(blocks)
        if output_format == "pdf":
            path = stem.with_suffix(".pdf")
            write_file(path, compile_pdf(latex))
            return path
        path = stem.with_suffix(".tex")
        _write_text(path, latex)
    else:
        from handgrad.render.markdown import write_markdown

        path = stem.with_suffix(".md")
        _write_text(path, write_markdown(blocks))
    return path


# ------------------------------------------------------------------ writing a class's files

# What `write_class` writes (and `--force` may replace): nothing else is ever deleted.
OURS = re.compile(
    r"(problem-[A-Za-z0-9._-]+\.toml|answer-[A-Za-z0-9._-]+\.(json|md|tex|pdf)"
    r"|exam(-[A-Za-z0-9._-]+)?\.(md|tex|pdf)|roster\.csv)\Z"
)
ROSTER_COPY = "roster.csv"
OVERVIEW_ROWS = 40  # rows of the answer key's class list that fit a printed page


def class_file_names(student_id: str, output_format: str) -> list[str]:
    """The files written for one student: problem-<id>.toml, answer-<id>.json (the key) and,
    unless the format is json, exam-<id>.md, with exam-<id>.tex or .pdf for latex or pdf."""
    names = [f"problem-{student_id}.toml", f"answer-{student_id}.json"]
    if output_format != "json":
        names.append(f"exam-{student_id}.md")
    if output_format in ("latex", "pdf"):
        names.append(f"exam-{student_id}.{'tex' if output_format == 'latex' else 'pdf'}")
    return names


def write_class(
    variants: Sequence[Variant],
    roster: Roster,
    folder: Path,
    output_format: str,
    force: bool = False,
    digits: int = 4,
) -> list[Path]:
    """Every student's problem, key and exam sheet, the class's answer key and a copy of the
    roster, written into a hidden folder beside `folder` and moved into place only when all of
    it is written: an error or Ctrl-C leaves `folder` as it was. Returns the final paths."""
    check_out(folder, force)
    named, folder = folder, folder.expanduser().resolve()
    names: list[str] = []

    def write(staging: Path) -> None:
        names.extend(_write_class_files(variants, roster, staging, output_format, digits))

    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        # the files are swapped, not the folder: the folder itself (its mode, a mount) stays
        write_folder(folder, write, place=lambda staging: _move_into_place(staging, folder, names))
    except OSError as error:  # a rename refused, a disk full: nothing was left half done
        raise HandgradError(f"--out {named}: cannot write there ({error.strerror})") from None
    return [folder / name for name in names]


def check_out(named: Path, force: bool) -> None:
    """Refuse a file, and a non-empty folder unless --force and it holds only our files."""
    folder = named.expanduser()
    if folder.exists() and not folder.is_dir():
        raise HandgradError(f"--out {named}: is a file; give a folder")
    if not folder.is_dir():
        return
    present = sorted(p.name for p in folder.iterdir())
    if not present:
        return
    foreign = [name for name in present if not OURS.match(name) or (folder / name).is_dir()]
    if foreign:
        listed = ", ".join(foreign[:5]) + (f" and {len(foreign) - 5} more" if len(foreign) > 5
                                           else "")
        raise HandgradError(
            f"--out {named}: holds files that generate did not write ({listed}); give a new"
            " or empty folder"
        )
    if not force:
        raise HandgradError(
            f"--out {named}: is not empty ({len(present)} files from an earlier generate);"
            " give a new or empty folder, or --force to replace them"
        )


def _write_class_files(
    variants: Sequence[Variant], roster: Roster, folder: Path, output_format: str, digits: int
) -> list[str]:
    from handgrad.render.document import Heading, Paragraph, Table, solution_document
    from handgrad.render.exam import Sheet, exam_latex, exam_markdown
    from handgrad.render.terminal import describe_problem
    from handgrad.solver import solve

    names: list[str] = []
    latex_sheets: dict[str, str] = {}
    overview: list[tuple[str, ...]] = []
    worked: list[Any] = []
    for variant in variants:
        student = variant.student
        problem = validate_problem(variant.document, f"problem-{student.id}.toml")
        solution = solve(problem)
        sheet = Sheet(solution, student.id, student.name, f"{student.id}.toml", digits)
        files = {
            f"problem-{student.id}.toml": toml_text(variant.document),
            f"answer-{student.id}.json": solution.to_json(),
        }
        if output_format != "json":
            files[f"exam-{student.id}.md"] = exam_markdown(sheet)
        if output_format == "latex":
            files[f"exam-{student.id}.tex"] = exam_latex(sheet)
        elif output_format == "pdf":
            latex_sheets[f"exam-{student.id}.pdf"] = exam_latex(sheet)
        for name, text in files.items():
            _write_text(folder / name, text)
        names += [*files, *([f"exam-{student.id}.pdf"] if output_format == "pdf" else [])]
        overview.append((student.id, _cell(student.name), describe_problem(problem)))
        heading = f"{student.id} · {student.name}" if student.name else student.id
        worked += [Heading(heading, 2), *_demoted(solution_document(solution, digits)[1:])]
    if output_format != "json":
        intro = [
            Heading("Answer key", 1),
            Paragraph((f"{len(variants)} students, each with a variant of their own: the"
                       " problem file problem-ID.toml and the solver's key answer-ID.json for"
                       " the student's ID sit beside this file.",)),
        ]
        header, left = ("id", "name", "network"), (False, False, False)
        key = [*intro, Table(header, tuple(overview), left), *worked]
        names.append(_write_document(key, folder / "answer-key", "markdown").name)
        if output_format != "markdown":
            # LaTeX's tabular never breaks across pages: a class's list in one table ran off
            # the foot of the page (seen with 120 students), so it goes in page-sized pieces
            pieces = [Table(header, tuple(overview[i : i + OVERVIEW_ROWS]), left)
                      for i in range(0, len(overview), OVERVIEW_ROWS)]
            key = [*intro, *pieces, *worked]
            names.append(_write_document(key, folder / "answer-key", output_format).name)
    _compile_all(latex_sheets, folder)
    _write_text(folder / ROSTER_COPY, roster.to_csv())
    names.append(ROSTER_COPY)
    return names


def _cell(text: str) -> str:
    """A roster name as a table cell: a '|' would end the cell in Markdown, and '<', '>', '&'
    would be read as HTML by a Markdown viewer."""
    return html.escape(text.replace("|", "/"), quote=False)


def _compile_all(latex: dict[str, str], folder: Path) -> None:
    """Compile each sheet to PDF, several at a time (pdflatex runs on one core)."""
    if not latex:
        return
    from concurrent.futures import ThreadPoolExecutor

    from handgrad.render.latex import compile_pdf

    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        pdfs = dict(zip(latex, pool.map(compile_pdf, latex.values()), strict=True))
    for name, pdf in pdfs.items():
        write_file(folder / name, pdf)


def _move_into_place(staging: Path, folder: Path, names: list[str]) -> Path:
    """Rename the staging folder to `folder` (one atomic step) when there is none; otherwise
    move the old files aside, the new ones in, and put the old back if anything fails."""
    if not folder.exists():
        os.rename(staging, folder)
        return folder
    old = list(folder.iterdir())
    aside = hidden_folder(folder, ASIDE)
    moved_old: list[Path] = []
    moved_new: list[Path] = []
    try:
        for path in old:
            os.replace(path, aside / path.name)
            moved_old.append(path)
        for name in names:
            os.replace(staging / name, folder / name)
            moved_new.append(folder / name)
    except BaseException:
        for path in moved_new:
            path.unlink(missing_ok=True)
        for path in moved_old:
            os.replace(aside / path.name, path)
        with contextlib.suppress(OSError):
            aside.rmdir()  # only when every old file is back: never delete what was there
        raise
    shutil.rmtree(aside, ignore_errors=True)
    shutil.rmtree(staging, ignore_errors=True)  # emptied
    return folder
