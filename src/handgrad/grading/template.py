"""An answer sheet to fill in: every quantity the homework asks for, blank, with its formula.

Each value is written blank ("" in every entry, in the quantity's shape), which the grader reads
as not given: a sheet handed in half filled has its blanks missing, not wrong (zeros would be
graded as answers). The TOML sheet carries each quantity's formula and shape in a comment; the
JSON one under "notes", which the grader skips.
"""

from __future__ import annotations

import json
from typing import Any

from handgrad.grade import SECTIONS, is_asked
from handgrad.grade import derivation as formulas
from handgrad.solution import Quantity, Solution
from handgrad.text import shown

BLANK = ""


def shape_words(quantity: Quantity, batched: bool) -> str:
    """A quantity's shape in words: a number, a vector of 3, a 2 × 3 matrix (2 rows of 3)."""
    shape = quantity.shape
    if not shape:
        return "a number"
    if len(shape) == 1:
        return f"a vector of {shape[0]}"
    # a batch's per-instance quantities (not the parameters, their gradients or L) have a row
    # for each instance, as the grader reads them
    per_instance = quantity.section != "update" and not quantity.key.startswith(("dW", "db"))
    rows = ("one row per instance" if batched and per_instance
            else f"{shape[0]} rows of {shape[1]}")
    return f"a {shape[0]} × {shape[1]} matrix ({rows})"


def blank(shape: tuple[int, ...]) -> Any:
    """A value of `shape` with every entry blank."""
    if not shape:
        return BLANK
    return [blank(shape[1:]) for _ in range(shape[0])]


def note(quantity: Quantity, batched: bool) -> str:
    """The formula and the shape of a quantity, and whether the homework asks for it."""
    asked = "" if is_asked(quantity.section, quantity.key) else " (not asked: optional)"
    formula = f"{quantity.symbol.text} {quantity.relation} {quantity.formula.text}"
    return f"{formula}, {shape_words(quantity, batched)}{asked}"


def template_document(solution: Solution) -> dict[str, Any]:
    """The sheet as a document {notes: {section.name: note}, section: {name: blank}}: every
    quantity in the order it is computed, the optional ones (yˢ) marked so."""
    batched = solution.problem.batched
    ordered = solution.quantities
    document: dict[str, Any] = {"notes": {f"{q.section}.{q.key}": note(q, batched)
                                          for q in ordered}}
    for quantity in ordered:
        document.setdefault(quantity.section, {})[quantity.key] = blank(quantity.shape)
    return document


def template_json(solution: Solution) -> str:
    return json.dumps(template_document(solution), indent=2, ensure_ascii=False) + "\n"


def template_toml(solution: Solution, problem_name: str = "PROBLEM") -> str:
    """The sheet as TOML, each quantity under its section with its formula in a comment."""
    document = template_document(solution)
    notes = document.pop("notes")
    title = shown(solution.problem.name, 200)
    lines = [
        f"# Answer sheet: {title}",
        "#",
        '# Replace each "" with the number you computed (2 or 3 decimals are fine; rounding is',
        "# allowed for). Matrices are lists of rows. Leave a quantity blank if you did not",
        "# compute it: it is then missing, not wrong.",
        f"# Grade it: handgrad grade {shown(problem_name, 200)} this-file.toml",
    ]
    for section in SECTIONS:
        if section not in document:
            continue
        lines += ["", f"[{section}]"]
        for name, value in document[section].items():
            lines += [f"# {notes[f'{section}.{name}']}", f"{name} = {_toml(value)}"]
    return "\n".join(lines + _derivation_lines(solution)) + "\n"


def _derivation_lines(solution: Solution) -> list[str]:
    """Problem 1's section, commented out: a section left empty would be an error, and an
    answer of numbers alone is graded as one."""
    lines = [
        "",
        "# Problem 1 (optional): to have your gradient formulas graded too, delete the \"# \"",
        "# before [derivation] and before each line you answer, and write the formula as a",
        "# string, NumPy-like (\"W1.T @ x + b1\") or LaTeX ('W_1^\\top x + b_1'); vectors are",
        "# columns. The steps (∂L/∂z, ∂L/∂h, ...) are optional; a formula may use those you",
        "# give.",
        "# [derivation]",
    ]
    for name in formulas.derivation_names(solution.problem):
        optional = "" if formulas.is_asked(name) else " (a step: optional)"
        lines.append(f'# {name} = ""  # {formulas.gradient_symbol(name)}{optional}')
    return lines


def _toml(value: Any) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(_toml(item) for item in value) + "]"
    return json.dumps(value)  # a blank string: ""
