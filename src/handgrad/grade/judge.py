"""Judging an answer quantity by quantity: the grading loop, error carried forward, the
diagnosis of a wrong value, and the entry points `grade`, `grade_file`, `grade_document`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from handgrad.grade.answers import GivenAnswer, checked, read_answer, validated
from handgrad.grade.derivation import grade_derivation
from handgrad.grade.formula import Syntax
from handgrad.grade.keys import Answer, Key, Values
from handgrad.grade.recipes import Formulas, Recipe
from handgrad.grade.records import EXPLANATIONS, UNKNOWN_MISTAKE, GradeItem, GradeReport, Status
from handgrad.grade.rounding import Move, rounded_from, spread_of
from handgrad.grade.tolerance import Tolerance, answer_decimals, half_units
from handgrad.problem import Problem
from handgrad.solution import Quantity, Solution

# one shared default, as a default argument is: a Tolerance is frozen
_DEFAULT_TOLERANCE = Tolerance()


def grade(
    problem: Problem,
    answer: Answer,
    tolerance: Tolerance = _DEFAULT_TOLERANCE,
    solution: Solution | None = None,
) -> GradeReport:
    """Judge every quantity of an answer {(section, name): value} against the worked solution.

    An answer file is `grade_file`'s, a document {section: {name: value}} `grade_document`'s;
    `solution` saves solving the problem again.
    """
    solution = _solved(problem, solution)
    return _graded(problem, checked(answer, solution), tolerance, solution)


def grade_file(
    problem: Problem, path: str | Path, tolerance: Tolerance = _DEFAULT_TOLERANCE,
    solution: Solution | None = None, syntax: Syntax | None = None,
) -> GradeReport:
    """Grade the answer in a TOML or JSON file (the solver's names, or its JSON output); its
    [derivation] section, Problem 1's formulas, is graded after the numbers (`syntax`: numpy or
    latex for every formula; None detects each one's)."""
    solution = _solved(problem, solution)
    return _graded(problem, read_answer(path, solution), tolerance, solution, syntax)


def grade_document(
    problem: Problem, document: Mapping[str, Any], tolerance: Tolerance = _DEFAULT_TOLERANCE,
    solution: Solution | None = None, syntax: Syntax | None = None,
) -> GradeReport:
    """Grade an answer document {section: {name: value}}, as parsed from TOML or JSON, with
    its "derivation" section {gradient name: formula} if it has one."""
    solution = _solved(problem, solution)
    return _graded(problem, validated(document, solution, "<answer>"), tolerance, solution,
                   syntax)


def _solved(problem: Problem, solution: Solution | None) -> Solution:
    from handgrad.solver import solve

    return solve(problem) if solution is None else solution


def _graded(
    problem: Problem, answer: GivenAnswer, tolerance: Tolerance, solution: Solution,
    syntax: Syntax | None = None,
) -> GradeReport:
    with np.errstate(all="ignore"):  # a student's 0 or negative "probability" gives ±inf, quietly
        report = _Grading(problem, answer, tolerance, solution).report()
    if not answer.formulas:
        return report
    formulas = grade_derivation(problem, answer.formulas, syntax)
    return replace(report, items=[*report.items, *formulas])


class _Reading(dict[Key, np.ndarray]):
    """The values at hand, noting which ones a formula reads (a mistake's formula gets all)."""

    def __init__(self, values: Mapping[Key, np.ndarray]) -> None:
        super().__init__(values)
        self.read: list[Key] = []

    def __getitem__(self, key: Key) -> np.ndarray:
        self.read.append(key)
        return super().__getitem__(key)


class _Grading:
    """One answer graded quantity by quantity, in the order the solution computes them."""

    def __init__(self, problem: Problem, answer: GivenAnswer, tolerance: Tolerance,
                 solution: Solution) -> None:
        self.problem, self.answer, self.tolerance = problem, answer.values, tolerance
        self.solution = solution
        self.formulas = Formulas(problem)
        self.halves = half_units(tolerance, answer.written)
        self.shown_decimals = answer_decimals(answer.written)
        self.expected_rows: Values = {}
        self.student_rows: Values = {}
        self.status_of: dict[Key, Status] = {}
        self.moves: dict[Key, Move] = {}

    def report(self) -> GradeReport:
        items = [self._judge(quantity) for quantity in self.solution.quantities]
        return GradeReport(self.problem.name, self.tolerance, items, self.shown_decimals)

    def _judge(self, quantity: Quantity) -> GradeItem:
        formulas, tolerance = self.formulas, self.tolerance
        key: Key = (quantity.section, quantity.key)
        expected = np.asarray(quantity.value, float)
        self.expected_rows[key] = formulas.rows(key, expected)
        given = self.answer.get(key)
        if given is None:
            self.status_of[key] = "missing"
            self.student_rows[key] = self.expected_rows[key]
            return _item(quantity, "missing", None, expected)
        as_meant = given.T if given.shape != expected.shape else given  # a transposed matrix
        half = self.halves.get(key, 0.0)
        recipe = formulas.recipes.get(key)
        right = given.shape == expected.shape and tolerance.close(given, expected, half)
        recomputed, spread, consistent = None, np.zeros(np.shape(expected)), False
        if recipe is not None:
            own = {d: self.student_rows[d] for d in recipe.inputs}
            recomputed, spread, consistent = self._recompute(key, recipe, own, given, half,
                                                             judge=not right)
        deps_correct = recipe is None or all(
            self.status_of.get(d) in ("correct", "missing") for d in recipe.inputs
        )
        status: Status
        cause = None
        allowance = half + spread
        if right:
            status = "correct"
        elif consistent:
            status = "correct" if deps_correct else "carried_forward"
        else:
            status = "wrong"
            cause = self._diagnose(key, given, expected, recomputed, half + spread)
        self.status_of[key] = status
        self.student_rows[key] = formulas.rows(key, as_meant)
        if tolerance.rounds:
            if status == "correct":  # the student had the true value, or this one rounded
                step = self.expected_rows[key] - self.student_rows[key]
                self.moves[key] = Move(step, both_ways=False)
            else:
                self.moves[key] = Move(np.full(self.student_rows[key].shape, half), True)
        shown_recomputed = recomputed if status == "carried_forward" or (
            recomputed is not None and not deps_correct) else None
        inputs = tuple(f"{s}.{n}" for s, n in (recipe.inputs if recipe else ()))
        return _item(quantity, status, given, expected, shown_recomputed, cause, inputs,
                     allowance if tolerance.rounds else None)

    def _recompute(self, key: Key, recipe: Recipe, own: Mapping[Key, np.ndarray],
                   given: np.ndarray, half: float, judge: bool = True,
                   ) -> tuple[np.ndarray, np.ndarray, bool]:
        """What the student's own inputs give, its rounding spread, and whether the given value
        is consistent with it (with `judge`; otherwise the value alone, for the report).

        Two readings of the same written inputs: the student rounded what they wrote and
        went on from that (the written values), or kept full precision and rounded only what
        they wrote (the true values, for the inputs judged correct). Each is tried with its
        spread; the second saves a value that the written inputs cannot give at all (a
        probability written as 0.00 under a logarithm).
        """
        formulas = self.formulas
        recomputed = formulas.shown(key, recipe.formula(own))
        nothing = np.zeros(recomputed.shape)
        same_shape = given.shape == recomputed.shape
        if not judge or not same_shape:
            return recomputed, nothing, False
        if self.tolerance.close(given, recomputed, half):  # no need to pay for the spread
            return recomputed, nothing, True
        spread = formulas.shown(key, spread_of(recipe.formula, own, recipe.inputs, self.moves,
                                                 self.tolerance))
        if self.tolerance.close(given, recomputed, half + spread):
            return recomputed, spread, True
        exact = {d: self.expected_rows[d] if self.status_of.get(d) == "correct" else value
                 for d, value in own.items()}
        if not self.tolerance.rounds or all(np.array_equal(exact[d], own[d]) for d in own):
            return recomputed, spread, False
        back = {d: Move(-move.step, False) if self.status_of.get(d) == "correct" else move
                for d, move in self.moves.items()}
        other = formulas.shown(key, recipe.formula(exact))
        other_spread = formulas.shown(key, spread_of(recipe.formula, exact, recipe.inputs, back,
                                                       self.tolerance))
        if np.all(np.isfinite(other)) and self.tolerance.close(given, other,
                                                               half + other_spread):
            return other, other_spread, True
        return recomputed, spread, False

    def _diagnose(self, key: Key, given: np.ndarray, expected: np.ndarray, recomputed: Any,
                  allowance: Any) -> str | None:
        """The known mistake that the given value matches, or None."""
        tolerance, formulas = self.tolerance, self.formulas
        if given.shape != expected.shape:
            half = self.halves.get(key, 0.0)
            if tolerance.close(given.T, expected, half) or (
                recomputed is not None and tolerance.close(given.T, recomputed, allowance)
            ):
                return "transposed"
            return None
        if given.ndim == 2 and given.shape[0] == given.shape[1] and tolerance.close(
                given.T, expected, self.halves.get(key, 0.0)):
            return "transposed"
        half = self.halves.get(key, 0.0)
        for own in (False, True):
            inputs = self.student_rows if own else self.expected_rows
            for mistake in formulas.mistakes.get(key, []):
                reading = _Reading(inputs)
                try:
                    candidate = formulas.shown(key, mistake.formula(reading))
                    spread = formulas.shown(key, spread_of(mistake.formula, inputs, reading.read,
                                                           self.moves, tolerance)) if own else 0.0
                except (KeyError, ValueError, FloatingPointError):
                    continue
                if tolerance.close(given, candidate, half + spread) and not tolerance.close(
                        candidate, expected):
                    return mistake.cause
        references = [expected] if recomputed is None else [expected, recomputed]
        if any(rounded_from(given, r) for r in references):
            return "rounding"
        return None


def _item(q: Quantity, status: Status, given: Any, expected: Any, recomputed: Any = None,
          cause: str | None = None, inputs: tuple[str, ...] = (),
          allowance: Any = None) -> GradeItem:
    explanation = EXPLANATIONS.get(cause, "") if cause else ""
    if status == "wrong" and not cause:
        explanation = UNKNOWN_MISTAKE
    return GradeItem(q.section, q.key, status, given, expected, recomputed, cause, explanation,
                     f"{q.symbol.text} {q.relation} {q.formula.text}", inputs, allowance)

