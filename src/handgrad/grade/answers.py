"""Reading an answer: a file, a document or loaded values, checked against the solution's
names and shapes, into float arrays and the decimals each shows."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from handgrad.errors import ProblemError, did_you_mean
from handgrad.grade.keys import SECTIONS, SOLVER_KEYS, Answer, Key, Values
from handgrad.grade.tolerance import written_decimals
from handgrad.solution import Solution
from handgrad.text import parse_number, quoted, shown


class AnswerError(ProblemError):
    """An answer file that cannot be graded, with every problem in it."""


NO_QUANTITIES = ("the answer gives no quantities: put them under [forward], [backward] and "
                 "[update] with the solver's names")
DERIVATION = "derivation"  # Problem 1's formulas: {gradient name: formula}
NO_FORMULAS = ("the answer gives no quantities, and its [derivation] section no formula (it is "
               "empty, or every formula is blank): write Problem 1's gradients as formulas "
               "(dW1 = \"x @ dh1.T\"), or the numbers under [forward], [backward] and [update]")
BLANK_SHEET = ('every quantity is blank (""): fill in the values you computed, and leave blank '
               "only what you did not")


@dataclass(frozen=True)
class GivenAnswer:
    """The quantities an answer gives, and how many decimals each shows (its largest over its
    entries; 0 for whole numbers, `EXACT` for fractions)."""

    values: Values
    written: dict[Key, int]
    formulas: dict[str, str] = field(default_factory=dict)  # [derivation]: {name: formula}


def load_answer(path: str | Path, solution: Solution) -> Values:
    """The quantities an answer file (TOML or JSON) gives, checked against the solution."""
    return read_answer(path, solution).values


def read_answer(path: str | Path, solution: Solution) -> GivenAnswer:
    """`load_answer` with the decimals each value shows, for fair rounding."""
    from handgrad.problem import read_document

    return validated(read_document(Path(path)), solution, str(path))


def validate_answer(
    document: Mapping[str, Any], solution: Solution, source: str = "<answer>"
) -> Values:
    """The quantities an answer document {section: {name: value}} gives, checked against the
    solution's names and shapes; every problem is reported at once. A quantity left blank
    (every entry "", as `handgrad template` writes it) is not given."""
    return validated(document, solution, source).values


def validated(document: Mapping[str, Any], solution: Solution, source: str) -> GivenAnswer:
    """The quantities a document {section: {name: value}} gives and the decimals each shows,
    or an `AnswerError` with every problem in it (`source` names the document)."""
    problems: list[str] = []
    answer: Values = {}
    written: dict[Key, int] = {}
    blank = False
    formulas: dict[str, str] = {}
    for section, content in document.items():
        if section in SOLVER_KEYS:
            continue  # the rest of a `solve --format json` file: not graded
        if section == DERIVATION:
            formulas = _formulas(content, solution, problems)
            continue
        if section not in SECTIONS:
            problems.append(_unknown_section(section))
            continue
        if not isinstance(content, Mapping):
            problems.append(f"[{section}] must be a table of quantities, not a single value")
            continue
        expected = solution.section(section)
        for name, value in content.items():
            key = f"{section}.{shown(name)}"
            if name not in expected:
                problems.append(_unknown_name(section, name, expected))
                continue
            blanks = _blanks(value)
            if blanks == "all":
                blank = True
                continue  # a template's blank: not given
            if blanks == "some":
                problems.append(f"{key}: some entries are blank (\"\"); fill them all in, or "
                                "leave every entry blank if you did not compute it")
                continue
            array = _numbers(value, key, problems)
            if array is None:
                continue
            wrong_shape = _shape_problem(key, array, expected[name])
            if wrong_shape:
                problems.append(wrong_shape)
                continue
            answer[(section, name)] = array
            written[(section, name)] = _decimals_of(value)
    if problems:
        raise AnswerError(problems, source)
    if not answer and not formulas:
        empty = NO_FORMULAS if DERIVATION in document and not blank else NO_QUANTITIES
        raise AnswerError([BLANK_SHEET if blank else empty], source)
    return GivenAnswer(answer, written, formulas)


def _formulas(content: Any, solution: Solution, problems: list[str]) -> dict[str, str]:
    """Problem 1's formulas {gradient name: formula}; a blank one ("") is not given. An
    unreadable formula is not a problem of the file: it is graded, with its message."""
    from handgrad.grade.derivation import derivation_problems

    if not isinstance(content, Mapping):
        problems.append(f"[{DERIVATION}] must be a table of formulas: dW1 = \"outer(x, dh1)\"")
        return {}
    found = derivation_problems(content, solution.problem)
    problems.extend(found)
    if found:
        return {}
    return {str(name): value for name, value in content.items() if value.strip()}


def checked(answer: Answer, solution: Solution) -> GivenAnswer:
    """An already-loaded answer as float arrays, held to the same names and shapes as a file."""
    if not all(isinstance(key, tuple) and len(key) == 2 for key in answer):
        raise TypeError("grade takes {(section, name): value}; grade a document "
                        "{section: {name: value}} with grade_document, a file with grade_file")
    problems: list[str] = []
    values: Values = {}
    written: dict[Key, int] = {}
    for (section, name), value in answer.items():
        if section not in SECTIONS:
            problems.append(_unknown_section(section))
            continue
        expected = solution.section(section)
        if name not in expected:
            problems.append(_unknown_name(section, name, expected))
            continue
        array = np.asarray(value, float)
        wrong_shape = _shape_problem(f"{section}.{name}", array, expected[name])
        if wrong_shape:
            problems.append(wrong_shape)
            continue
        values[(section, name)] = array
        written[(section, name)] = _decimals_of(array.tolist())
    if problems:
        raise AnswerError(problems, "<answer>")
    if not values:
        raise AnswerError([NO_QUANTITIES], "<answer>")
    return GivenAnswer(values, written)


def _unknown_section(section: str) -> str:
    return (f"{quoted(section)} is not a section of an answer; use [forward], [backward],"
            f" [update] and [derivation]{did_you_mean(section, (*SECTIONS, DERIVATION))}")


def _unknown_name(section: str, name: str, expected: Mapping[str, Any]) -> str:
    return (f"{section}.{shown(name)}: not a quantity of this problem's {section} section (it has "
            f"{', '.join(expected)}){did_you_mean(name, expected)}")


def _shape_problem(key: str, array: np.ndarray, expected: Any) -> str | None:
    """Why `array` cannot stand for `expected`, or None; a transposed matrix is graded."""
    want = np.shape(expected)
    if array.shape != want and not (array.ndim == 2 and array.shape == want[::-1]):
        return f"{key}: shape {array.shape or 'scalar'}, expected {want or 'a number'}"
    return None


def _leaves(value: Any, depth: int = 0) -> Iterable[Any]:
    """The entries of a nested list, at most 3 levels deep (deeper is an error elsewhere)."""
    if isinstance(value, list) and depth < 3:
        for item in value:
            yield from _leaves(item, depth + 1)
    else:
        yield value


def _blanks(value: Any) -> Literal["none", "some", "all"]:
    """Whether the entries of a value are blank strings: none, some or all of them."""
    leaves = list(_leaves(value))
    blank = [isinstance(leaf, str) and not leaf.strip() for leaf in leaves]
    if leaves and all(blank):
        return "all"
    return "some" if any(blank) else "none"


def _decimals_of(value: Any) -> int:
    """The most decimals any entry of a written value shows (0 for whole numbers)."""
    return max((written_decimals(leaf) for leaf in _leaves(value)), default=0)



def _numbers(value: Any, key: str, problems: list[str]) -> np.ndarray | None:
    def convert(item: Any) -> Any:
        if isinstance(item, list):
            return [convert(entry) for entry in item]
        # N-digit JSON writes numbers as strings; exact JSON writes rationals as 4/5
        return parse_number(item)

    try:
        array = np.array(convert(value), dtype=float)
    except RecursionError:
        problems.append(f"{key}: nested too deeply for a number, a vector or a matrix")
        return None
    except (ValueError, TypeError) as err:
        reason = "a ragged or non-numeric list" if isinstance(err, TypeError) else str(err)
        if "inhomogeneous" in reason or "sequence" in reason:
            reason = "a ragged or non-numeric list"
        problems.append(f"{key}: {reason}")
        return None
    if not np.all(np.isfinite(array)):
        problems.append(f"{key}: has an infinite or NaN entry")
        return None
    return array
