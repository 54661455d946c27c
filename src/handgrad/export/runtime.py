"""What runs on the platform: PrairieLearn's `server.py` hooks and Gradescope's autograder.

This module is vendored (`export.vendor`) and must import nothing beyond NumPy and the vendored
modules at module level: no renderer (they load rich), no click, no sympy. It grades with
handgrad's own grader (`grade.grade_document`, `grade.grade_file`): error carried forward,
the likely cause of each wrong quantity, and one point per quantity the homework asks for.
"""

from __future__ import annotations

import html
import json
import math
import os
import re
import sys
import types
from collections.abc import Mapping
from pathlib import Path
from typing import Any


def _tomllib_fallback() -> None:
    """Let `handgrad.problem` import on a Python before 3.11 (PrairieLearn's image may have one):
    problems arrive as dicts there, and a TOML answer gets a message instead of an ImportError."""
    try:
        import tomllib  # noqa: F401
    except ModuleNotFoundError:
        stub = types.ModuleType("tomllib")

        class TOMLDecodeError(ValueError):
            pass

        def loads(text: str, **_: Any) -> Any:
            raise TOMLDecodeError("reading TOML needs Python 3.11 or later; submit the JSON"
                                  " answer file instead")

        stub.TOMLDecodeError = TOMLDecodeError  # type: ignore[attr-defined]
        stub.loads = loads  # type: ignore[attr-defined]
        sys.modules["tomllib"] = stub


_tomllib_fallback()

from handgrad.atomic import write_file  # noqa: E402
from handgrad.generate import GenerateSettings, generate  # noqa: E402
from handgrad.grade import (  # noqa: E402
    AnswerError,
    GradeItem,
    GradeReport,
    Tolerance,
    grade_document,
    grade_file,
)
from handgrad.grade.derivation import (  # noqa: E402
    derivation_names,
    expected_formulas,
    grade_derivation,
    gradient_symbol,
    is_asked,
    read_one,
)
from handgrad.grade.formula import name_latex  # noqa: E402
from handgrad.grade.records import charged_verdicts  # noqa: E402
from handgrad.problem import Problem, validate_problem  # noqa: E402
from handgrad.solver import solve  # noqa: E402

VERDICTS = {
    "correct": "correct",
    "carried_forward": "carried forward: wrong only because an earlier value of yours was, and"
    " right from your own earlier values (full credit)",
    "wrong": "wrong",
    "missing": "missing",
}
CREDIT = {"correct": 1.0, "carried_forward": 1.0, "wrong": 0.0, "missing": 0.0}
LOSS_WORDS = {"cross_entropy": "cross-entropy", "squared_error": "squared-error"}
_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")
DEFAULT_TITLE = "Backpropagation by hand"


def set_title(titles: Mapping[str, str]) -> str:
    """One title for a whole set of variants ({variant id: its title}): the title they all
    share, or handgrad's default where they differ or each is only the generator's per-variant
    one ("Variant ID", "Generated problem N"), so that no one variant labels the whole set."""
    shared = {title.strip() for title in titles.values()}
    generated = {f"Variant {i}" for i in titles} | {f"Generated problem {i}" for i in titles}
    if len(shared) == 1 and not shared & ({""} | generated):
        return shared.pop()
    return DEFAULT_TITLE


FORMULA_VERDICTS = {**VERDICTS, "carried_forward": "carried forward: right in terms of your own"
                    " earlier steps, which were wrong (full credit)"}


def formula_verdict(item: GradeItem) -> str:
    """One formula's verdict (Problem 1): the verdict, how it was read, the likely cause of a
    wrong one, where an unreadable one stopped, and a right one."""
    lines = [FORMULA_VERDICTS[item.status]]
    if item.read:
        lines.append(f"read as: {item.read}")
    if item.status == "wrong":
        if item.cause:
            lines.append(f"likely cause ({item.cause}): {item.explanation}")
        elif item.explanation:
            lines.append(item.explanation)
    elif item.cause:  # a note on a right one (full_jacobian_unsimplified)
        lines.append(f"note ({item.cause}): {item.explanation}")
    if item.position is not None and isinstance(item.given, str):
        lines += [f"  {item.given}", "  " + " " * min(item.position, len(item.given)) + "^"]
    if item.status in ("wrong", "missing") and item.expected:
        lines.append(f"a right one: {item.expected}")
    return "\n".join(lines)


def verdict(item: GradeItem) -> str:
    """One quantity's verdict in words, with the likely cause of a wrong value."""
    if item.is_formula:
        return formula_verdict(item)
    text = VERDICTS[item.status]
    if item.status == "wrong":
        if item.cause:
            text += f"; likely cause ({item.cause}): {item.explanation}"
        elif item.explanation:
            text += f"; {item.explanation}"
    return text


def feedback_report(report: GradeReport, heading: str,
                    blanks: set[tuple[str, str]] | None = None) -> str:
    """The whole grading as plain text: the summary, each asked quantity's verdict, and the
    first wrong step with what was expected. With `blanks` ({(section, name)}: the quantities
    the platform has a blank for), only those quantities are reported."""
    asked = [item for item in report.numbers if item.asked
             and (blanks is None or (item.section, item.name) in blanks)]
    counts = {status: sum(item.status == status for item in asked) for status in CREDIT}
    lines = [heading]
    formulas = [item for item in report.formulas if item.asked or item.status != "missing"]
    if formulas:
        lines += ["", formulas_report(formulas), "Problem 2: the numbers"]
    if formulas and not any(item.status != "missing" for item in asked):
        return "\n".join([*lines, "No numbers given."]) + "\n"
    lines += [
        f"{counts['correct']} correct, {counts['carried_forward']} carried forward,"
        f" {counts['wrong']} wrong, {counts['missing']} missing ({report.tolerance_text}).",
        "",
    ]
    lines += [f"{item.section}.{item.name}: {verdict(item)}" for item in asked]
    first = report.first_wrong
    if first is not None:
        lines += [
            "",
            f"First wrong step: {first.section}.{first.name} = {first.formula}",
            f"  expected {_flat(first.expected)}",
            f"  given    {_flat(first.given)}",
        ]
        if first.cause:
            lines.append(f"  likely cause ({first.cause}): {first.explanation}")
    return "\n".join(lines) + "\n"


def formulas_report(items: list[GradeItem]) -> str:
    """Problem 1's formulas as plain text: the counts, then each formula's verdict."""
    counts = {status: sum(item.status == status for item in items) for status in CREDIT}
    lines = ["Problem 1: the formulas (each graded for every size d, n, q; vectors are columns)",
             f"{counts['correct']} correct, {counts['carried_forward']} carried forward,"
             f" {counts['wrong']} wrong, {counts['missing']} missing.", ""]
    for item in items:
        lines.append(f"{gradient_symbol(item.name)} ({item.name}): "
                     + formula_verdict(item).replace("\n", "\n    "))
    return "\n".join(lines) + "\n"


def _flat(value: Any) -> str:
    import numpy as np

    array = np.asarray(value, dtype=float)
    if array.ndim == 0:
        return f"{float(array):.6g}"
    rows = array.reshape(1, -1) if array.ndim == 1 else array.reshape(array.shape[0], -1)
    return "[" + "; ".join(", ".join(f"{v:.6g}" for v in row) for row in rows) + "]"


def _tolerance(config: Mapping[str, Any]) -> Tolerance:
    spec = config.get("tolerance", {})
    return Tolerance(rtol=float(spec.get("rtol", 1e-3)), decimals=spec.get("decimals", "auto"))


# ------------------------------------------------------------------------ the problem statement


def _symbol(name: str) -> str:
    match = re.fullmatch(r"([A-Za-z]+)(\d+)", name)
    return f"{match[1]}_{{{match[2]}}}" if match else name


def _number(value: Any) -> str:
    number = float(value)
    return str(int(number)) if number.is_integer() else f"{number:g}"


def _tex(value: Any) -> str:
    """A number, a vector (a row) or a matrix in TeX."""
    if not isinstance(value, list):
        return _number(value)
    rows = value if value and isinstance(value[0], list) else [value]
    body = r" \\ ".join(" & ".join(_number(v) for v in row) for row in rows)
    return r"\begin{bmatrix} " + body + r" \end{bmatrix}"


def statement_html(document: Mapping[str, Any]) -> str:
    """The problem as HTML with TeX for MathJax: the network, the loss, the step, the numbers."""
    network, loss = document.get("network", {}), document.get("loss", {})
    optimizer = document.get("optimizer", {})
    layers = " \\to ".join(str(n) for n in network.get("layers", []))
    kind = loss.get("kind", "cross_entropy")
    smoothing = ""
    if kind == "cross_entropy" and float(loss.get("label_smoothing", 0) or 0):
        smoothing = (f" with label smoothing $\\varepsilon = {_number(loss['label_smoothing'])}$"
                     f" ({html.escape(str(loss.get('smoothing', 'uniform')))})")
    layout = (r"h = W^\top x + b" if network.get("layout", "in_out") == "in_out"
              else r"h = W x + b")
    steps = int(optimizer.get("steps", 1) or 1)
    parts = [
        f"<p><strong>{html.escape(str(document.get('title', 'Backpropagation')))}</strong></p>",
        f"<p>A multi-layer perceptron with layer sizes ${layers}$,"
        f" {html.escape(str(network.get('activation', 'relu')))} hidden units, a"
        f" {html.escape(str(network.get('output', 'softmax')))} output and the"
        f" {LOSS_WORDS.get(kind, html.escape(kind))} loss{smoothing}; each layer computes"
        f" ${layout}$. Work the forward pass, the backward pass and"
        f" {'one step' if steps == 1 else f'{steps} steps'} of gradient descent with learning"
        f" rate $\\eta = {_number(optimizer.get('learning_rate', 0.1))}$.</p>",
        "<p>Vectors are rows here: enter them as <code>[1 2 3]</code>, matrices as"
        " <code>[1 2; 3 4]</code>.</p>",
    ]
    given = {**document.get("params", {}), **document.get("data", {})}
    for name, value in given.items():
        parts.append(f"<p>$${_symbol(html.escape(name))} = {html.escape(_tex(value))}$$</p>")
    return "\n".join(parts)


# ------------------------------------------------------------------------ PrairieLearn


def draw(config: Mapping[str, Any], seed: int) -> dict[str, Any]:
    """A fresh problem document of the exported kind, drawn by handgrad's generator."""
    chosen: dict[str, Any] = {key: tuple(value) if isinstance(value, list) else value
                              for key, value in config["settings"].items()}
    settings = GenerateSettings(**chosen, count=1, seed=seed)
    document = generate(settings)[0]
    document["title"] = config.get("title") or document.get("title", "")
    return document


def pl_generate(data: dict[str, Any], config: Mapping[str, Any]) -> None:
    """PrairieLearn's generate(data): a variant from `data["variant_seed"]`, its statement and
    its correct answers (shown in the answer panel; grading is `pl_grade`'s)."""
    seed = int(data["variant_seed"]) % 2**63
    document = draw(config, seed)
    problem = validate_problem(document, "variant")
    values = {(q.section, q.key): q.value for q in solve(problem).quantities}
    data["params"]["problem"] = document
    data["params"]["statement"] = statement_html(document)
    for answer in config["answers"]:
        value = values[(answer["section"], answer["key"])]
        data["correct_answers"][answer["name"]] = _as_matrix(value)


def _as_matrix(value: Any) -> Any:
    """A scalar as a float, anything else as the 2-D list pl-matrix-input compares with."""
    import numpy as np

    array = np.asarray(value, dtype=float)
    if array.ndim == 0:
        return float(array)
    return array.reshape(1, -1).tolist() if array.ndim == 1 else array.tolist()


def _array(submitted: Any) -> Any:
    """A parsed submission as a float array: pl-number-input's float, or pl-matrix-input's
    `pl.to_json` ndarray ({"_type": "ndarray", "_value": [[...]]}); None where it is not one."""
    import numpy as np

    if isinstance(submitted, dict) and "_value" in submitted:
        submitted = submitted["_value"]
    if submitted is None:
        return None
    try:
        return np.asarray(submitted, dtype=float)
    except (TypeError, ValueError):
        return None


def _shape_words(shape: list[int]) -> str:
    if not shape:
        return "one number"
    if len(shape) == 1:
        return f"a row of {shape[0]} numbers"
    return f"a {shape[0]}×{shape[1]} matrix"


def _fits(array: Any, shape: list[int]) -> bool:
    """Whether a submission has the quantity's shape: one number for a scalar, a row (1×n, as
    pl-matrix-input gives it) for a vector, the very r×c for a matrix (never its transpose)."""
    if not shape:
        return bool(array.size == 1)
    accepted = {tuple(shape)} | ({(1, shape[0])} if len(shape) == 1 else set())
    return tuple(array.shape) in accepted


def format_error(submitted: Any, answer: Mapping[str, Any]) -> str | None:
    """Why a submission cannot be graded as the answer's quantity (its shape, finite numbers),
    or None."""
    import numpy as np

    shape, key = answer["shape"], answer["key"]
    array = _array(submitted)
    if array is None:
        return f"Enter {_shape_words(shape)} for {key}."
    if not _fits(array, shape):
        given = ("one number" if array.ndim == 0 else
                 f"{array.size} numbers" if array.ndim == 1 else
                 f"a {array.shape[0]}×{math.prod(array.shape[1:])} matrix")
        return f"Enter {_shape_words(shape)} for {key} (you entered {given})."
    if not np.isfinite(array).all():
        return f"Enter finite numbers for {key}."
    return None


def pl_parse(data: dict[str, Any], config: Mapping[str, Any]) -> None:
    """PrairieLearn's parse(data): a submission of the wrong shape or with an entry that is not
    a finite number is a format error (it does not use up an attempt) saying what to enter."""
    for answer in config["answers"]:
        name = answer["name"]
        if name in data["format_errors"]:
            continue
        error = format_error(data["submitted_answers"].get(name), answer)
        if error:
            data["format_errors"][name] = error


def _given(data: Mapping[str, Any], answer: Mapping[str, Any]) -> Any:
    """The student's value in the quantity's shape, each entry as typed where the raw text has
    exactly one number per entry (so that the decimals written count for rounding); None for
    a submission that `pl_parse` refuses."""
    import numpy as np

    submitted = data["submitted_answers"].get(answer["name"])
    if format_error(submitted, answer):
        return None
    entries: list[Any] = [float(v) for v in _array(submitted).ravel()]
    raw = data.get("raw_submitted_answers", {}).get(answer["name"])
    if isinstance(raw, str):
        typed = _NUMBER.findall(raw)
        if len(typed) == len(entries):
            entries = typed
    shape = answer["shape"]
    if not shape:
        return entries[0]
    return np.array(entries, dtype=object).reshape(shape).tolist()


def _answer_of(problem: str, config: Mapping[str, Any]) -> str:
    """The answer name a grader's message is about ("forward.h1: ..."), or "_answer"."""
    for answer in config["answers"]:
        if problem.startswith(f"{answer['section']}.{answer['key']}"):
            return str(answer["name"])
    return "_answer"


def pl_grade(data: dict[str, Any], config: Mapping[str, Any]) -> None:
    """PrairieLearn's grade(data): handgrad's grader on the variant; each answer's score (1 for
    correct or carried forward) and feedback (verdict and likely cause) in
    `data["partial_scores"]`, their mean in `data["score"]`, the report in
    `data["feedback"]["report"]`. It never raises (an exception breaks the question): an answer
    the grader cannot read is a format error in `data["format_errors"]`."""
    pl_parse(data, config)  # grade() must hold even where parse()'s checks did not run
    if data["format_errors"]:
        data["score"] = 0.0
        return
    problem = validate_problem(data["params"]["problem"], "variant")
    document: dict[str, dict[str, Any]] = {}
    for answer in config["answers"]:
        value = _given(data, answer)
        if value is not None:
            document.setdefault(answer["section"], {})[answer["key"]] = value
    try:
        report = grade_document(problem, document, _tolerance(config))
    except AnswerError as error:
        for problem_text in error.problems:
            name = _answer_of(problem_text, config)
            previous = data["format_errors"].get(name)
            data["format_errors"][name] = (f"{previous} {problem_text}" if previous
                                           else problem_text)
        data["score"] = 0.0
        return
    items = {(item.section, item.name): item for item in report.items}
    total = 0.0
    for answer in config["answers"]:
        item = items[(answer["section"], answer["key"])]
        score = CREDIT[item.status]
        total += score
        data["partial_scores"][answer["name"]] = {"score": score, "weight": 1,
                                                  "feedback": verdict(item)}
    data["score"] = total / len(config["answers"]) if config["answers"] else 0.0
    blanks = {(answer["section"], answer["key"]) for answer in config["answers"]}
    data["feedback"]["report"] = feedback_report(report, str(config.get("title", "")), blanks)


# ------------------------------------------------------------------- PrairieLearn: Problem 1


def formula_answers(problem: Problem) -> list[dict[str, Any]]:
    """Problem 1's blanks for a problem's depth, in backward order: each gradient's name (the
    answer's name too), whether it is asked (∂L/∂W, ∂L/∂b) or an optional step, its TeX."""
    return [{"name": name, "asked": is_asked(name), "latex": name_latex(name)}
            for name in derivation_names(problem)]


def derivation_statement_html(document: Mapping[str, Any]) -> str:
    """Problem 1's statement: the network's kind (no numbers), what to give and how to write
    it."""
    network, loss = document.get("network", {}), document.get("loss", {})
    layers = list(network.get("layers", []))
    depth = len(layers) - 1
    hidden = ", ".join(f"n_{{{i}}}" for i in range(1, depth)) if depth > 2 else "n"
    sizes = f"d \\to {hidden} \\to q"
    kind = loss.get("kind", "cross_entropy")
    smoothing = ""
    if kind == "cross_entropy" and float(loss.get("label_smoothing", 0) or 0):
        smoothing = (" with label smoothing $\\varepsilon$ (the target is"
                     f" $y^{{s}}$, {html.escape(str(loss.get('smoothing', 'uniform')))})")
    layout = (r"h = W^\top x + b" if network.get("layout", "in_out") == "in_out"
              else r"h = W x + b")
    return "\n".join([
        f"<p><strong>{html.escape(str(document.get('title', 'Backpropagation')))}:"
        " the gradients as formulas</strong></p>",
        f"<p>A multi-layer perceptron with layer sizes ${sizes}$ (any sizes),"
        f" {html.escape(str(network.get('activation', 'relu')))} hidden units, a"
        f" {html.escape(str(network.get('output', 'softmax')))} output and the"
        f" {LOSS_WORDS.get(kind, html.escape(kind))} loss{smoothing}; each layer computes"
        f" ${layout}$. Vectors are columns ($x$ is $d \\times 1$).</p>",
        "<p>Give each gradient of the loss as a formula that holds for every $d$, $n$, $q$,"
        " NumPy-like (<code>outer(a1, yhat - ys)</code>, <code>W2 @ dz * (h1 &gt; 0)</code>,"
        " <code>.T</code>, <code>*</code> entry-wise) or LaTeX (<code>a_1 (\\hat{y} -"
        " y^{s})^\\top</code>, <code>\\odot</code>, <code>\\mathbb{1}[h_1 &gt; 0]</code>)."
        " The steps are optional; a gradient written in terms of your own steps is graded with"
        " them (error carried forward).</p>",
    ])


def pl_derivation_generate(data: dict[str, Any], config: Mapping[str, Any]) -> None:
    """PrairieLearn's generate(data) for Problem 1: a problem of the exported kind from
    `data["variant_seed"]` (its activation, output, loss, layout), the statement, and the
    right formulas for the answer panel (no correct_answers: the string elements would
    compare text; `pl_derivation_grade` grades)."""
    seed = int(data["variant_seed"]) % 2**63
    document = draw(config, seed)
    problem = validate_problem(document, "variant")
    expected = expected_formulas(problem)
    data["params"]["problem"] = document
    data["params"]["statement"] = derivation_statement_html(document)
    data["params"]["answer_html"] = "\n".join(
        f"<p>$${name_latex(name)} = {html.escape(_formula_tex(problem, text))}$$</p>"
        for name, text in expected.items() if is_asked(name) or name in ("dz", "dh1"))


def _formula_tex(problem: Problem, text: str) -> str:
    """A right formula (NumPy-like) as the LaTeX it reads as."""
    read = read_one(problem, "db1", text)  # any name: only the reading is wanted
    return read.latex or text


def pl_derivation_parse(data: dict[str, Any], config: Mapping[str, Any]) -> None:
    """PrairieLearn's parse(data) for Problem 1: an asked formula left blank (or too long to be
    a formula) is a format error, which costs no attempt; an unreadable one is graded."""
    for answer in config["formulas"]:
        name = answer["name"]
        if name in data["format_errors"]:
            continue
        text = data["submitted_answers"].get(name)
        if text is not None and not isinstance(text, str):
            data["format_errors"][name] = f"Enter the formula for {name} as text."
        elif isinstance(text, str) and len(text) > MAX_FORMULA_CHARS:
            data["format_errors"][name] = (f"Shorten {name}: a formula of at most"
                                           f" {MAX_FORMULA_CHARS} characters.")
        elif answer["asked"] and not (text or "").strip():
            data["format_errors"][name] = f"Enter a formula for {name}."


MAX_FORMULA_CHARS = 2000


def pl_derivation_grade(data: dict[str, Any], config: Mapping[str, Any]) -> None:
    """PrairieLearn's grade(data) for Problem 1: handgrad's derivation grader on the variant's
    kind; each asked formula's score (1 for correct or carried forward) and feedback (how it
    was read, the likely cause, a right one) in `data["partial_scores"]`, a step's with weight
    0, their mean in `data["score"]`, the whole in `data["feedback"]["report"]`."""
    pl_derivation_parse(data, config)
    if data["format_errors"]:
        data["score"] = 0.0
        return
    problem = validate_problem(data["params"]["problem"], "variant")
    formulas = {answer["name"]: data["submitted_answers"][answer["name"]]
                for answer in config["formulas"]
                if (data["submitted_answers"].get(answer["name"]) or "").strip()}
    items = grade_derivation(problem, formulas)
    asked = [item for item in items if is_asked(item.name)]
    # a formula carried forward from a wrong step that scores nothing is where that mistake
    # is charged, as on the class sheet (else a wrong dz would make every formula full marks)
    scored = {item.key for item in asked}
    verdicts, _ = charged_verdicts(items, scored.__contains__)
    for item in items:
        data["partial_scores"][item.name] = {
            "score": CREDIT[verdicts[item.key]], "weight": 1 if is_asked(item.name) else 0,
            "feedback": formula_verdict(item) + _charged_note(item, verdicts)}
    data["score"] = (sum(CREDIT[verdicts[item.key]] for item in asked) / len(asked)
                     if asked else 0.0)
    data["feedback"]["report"] = formulas_report(items)


def derivation_hooks(config: Mapping[str, Any]) -> dict[str, Any]:
    """generate, parse and grade for Problem 1's server.py, bound to its configuration."""
    return {
        "generate": lambda data: pl_derivation_generate(data, config),
        "parse": lambda data: pl_derivation_parse(data, config),
        "grade": lambda data: pl_derivation_grade(data, config),
    }


def server_hooks(config: Mapping[str, Any]) -> dict[str, Any]:
    """generate, parse and grade for a question's server.py, bound to its configuration."""
    return {
        "generate": lambda data: pl_generate(data, config),
        "parse": lambda data: pl_parse(data, config),
        "grade": lambda data: pl_grade(data, config),
    }


# ------------------------------------------------------------------------ Gradescope

ANSWER_SUFFIXES = (".toml", ".json")


def _pick_variant(index: Mapping[str, Any], metadata: Mapping[str, Any]) -> dict[str, Any]:
    """The submitter's variant: the only one, or the one whose roster id is a submitter's
    student id (`sid`), email or email's local part, or whose roster email is theirs."""
    variants: list[dict[str, Any]] = index["variants"]
    if len(variants) == 1:
        return variants[0]
    users = metadata.get("users") or []
    for user in users:
        email = str(user.get("email") or "").strip().lower()
        keys = {str(user.get("sid") or "").strip().lower(), email, email.split("@")[0]} - {""}
        for variant in variants:
            if variant["id"].lower() in keys or (email and variant.get("email", "").lower()
                                                 == email):
                return variant
    who = ", ".join(str(user.get("email") or user.get("name") or "?") for user in users)
    raise LookupError(f"no variant in this autograder belongs to {who or 'this submission'}:"
                      " the roster's id or email must be the student's Gradescope student id"
                      " or email; ask your instructor")


def _answer_file(submission: Path) -> Path:
    files = sorted(p for p in submission.rglob("*") if p.is_file()
                   and p.suffix.lower() in ANSWER_SUFFIXES and not p.name.startswith("."))
    if len(files) != 1:
        found = ", ".join(p.name for p in files) or "none"
        raise LookupError(f"submit exactly one answer file (.toml or .json, as `handgrad"
                          f" template` writes it); found {found}")
    return files[0]


def gradescope_results(root: Path) -> dict[str, Any]:
    """results.json's content for the submission under `root` (Gradescope's /autograder)."""
    index = json.loads((root / "source" / "handgrad_variants.json").read_text(encoding="utf-8"))
    metadata_file = root / "submission_metadata.json"
    metadata = (json.loads(metadata_file.read_text(encoding="utf-8"))
                if metadata_file.is_file() else {})
    variant = _pick_variant(index, metadata)
    problem: Problem = validate_problem(variant["problem"], f"problem-{variant['id']}")
    report = grade_file(problem, _answer_file(root / "submission"), _tolerance(index))
    # carried forward from a wrong step that is not scored: charged here, as on the class sheet
    scored = {item.key for item in report.items if item.asked}
    verdicts, _ = charged_verdicts(report.items, scored.__contains__)
    tests = [
        {"name": item.key, "score": CREDIT[verdicts[item.key]], "max_score": 1.0,
         "output": verdict(item) + _charged_note(item, verdicts)}
        for item in report.items if item.asked
    ]
    title = str(variant["problem"].get("title") or index.get("title") or DEFAULT_TITLE)
    heading = title if str(variant["id"]) in title else f"{title} (variant {variant['id']})"
    return {"score": sum(test["score"] for test in tests),
            "output": feedback_report(report, heading), "tests": tests}


def _charged_note(item: GradeItem, verdicts: Mapping[str, str]) -> str:
    """Why a carried-forward item scores nothing: the mistake it carries was made in a step
    that is not scored, so it is charged here."""
    if item.status == "carried_forward" and verdicts[item.key] == "wrong":
        return (" It scores 0: the mistake it carries was made in a step that is not scored"
                " (" + ", ".join(item.inputs) + "), so it is charged here.")
    return ""


def _without_paths(message: str, root: Path) -> str:
    """A message with the server's folders left out: a submitted file by its name."""
    for folder in (root / "submission", root):
        message = message.replace(f"{folder}{os.sep}", "")
    return message


def gradescope_main(root: Path) -> int:
    """Grade and write results/results.json; a submission that cannot be graded gets a score
    of 0 and the reason in `output` (Gradescope shows students only results.json)."""
    try:
        results = gradescope_results(root)
    except Exception as error:  # every failure must still reach the student
        results = {"score": 0.0, "output": f"Not graded: {_without_paths(str(error), root)}",
                   "tests": []}
    folder = root / "results"
    folder.mkdir(parents=True, exist_ok=True)
    write_file(folder / "results.json", json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(gradescope_main(Path(sys.argv[1] if len(sys.argv) > 1 else "/autograder")))
