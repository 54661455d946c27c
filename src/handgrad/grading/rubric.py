"""A rubric: the points each quantity earns, and a grade report turned into a score.

A rubric file (TOML) says, all keys optional:

    carried_forward = 1.0          # the share of its points a carried-forward step earns
    default_points = 1             # each required quantity's points, unless listed below
    required = ["forward.h1", ...] # the quantities scored (default: what the homework asks)
    optional = ["forward.loss"]    # taken out of the required ones
    [points]
    "backward.dW1" = 2             # a quantity listed here is required

Required quantities count towards the maximum, given or not (a missing one earns nothing);
the others are optional: neither missing nor scored. A mistake made in an optional quantity
(yˢ written as the one-hot y) is charged where it first reaches a required one: the steps that
carry it forward from there earn nothing, the steps after those their full carried-forward
credit. So writing yˢ or leaving it out never changes the score of the same mistake.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from handgrad.errors import ProblemError, did_you_mean
from handgrad.grade import GradeReport, is_asked
from handgrad.grade.records import charged_verdicts
from handgrad.text import quoted, shown

RUBRIC_KEYS = ("carried_forward", "default_points", "required", "optional", "points")
CREDIT = {"correct": 1.0, "wrong": 0.0, "missing": 0.0}  # carried_forward: the rubric's share
MAX_POINTS = 1e6  # a quantity's points: more is a slip (1e308 would make every sum inf, NaN)


class RubricError(ProblemError):
    """A rubric file that cannot be used, with every problem in it."""


@dataclass(frozen=True)
class Rubric:
    """Points per quantity (`section.name`), the credit for a carried-forward step, and which
    quantities are required (None: every quantity the homework asks for)."""

    points: Mapping[str, float] = field(default_factory=dict)
    default_points: float = 1.0
    carried_forward: float = 1.0
    required: frozenset[str] | None = None
    optional: frozenset[str] = frozenset()
    source: str = "the default rubric"

    def __post_init__(self) -> None:
        """A rubric built in code is held to what a rubric file is: points finite, from 0 to
        MAX_POINTS, a share from 0 to 1, no quantity both required and optional."""
        problems: list[str] = []
        for key, value in (("default_points", self.default_points),
                           *((f"points.{shown(k)}", v) for k, v in self.points.items())):
            _number(value, key, problems)
        if not (isinstance(self.carried_forward, int | float)
                and 0 <= self.carried_forward <= 1):
            problems.append(f"carried_forward = {quoted(self.carried_forward)}: the share of a "
                            "step's points, from 0 (nothing) to 1 (full credit)")
        _both(self.points, self.required, self.optional, problems)
        if problems:
            raise RubricError(problems, self.source)

    def is_required(self, key: str) -> bool:
        """Whether the quantity `section.name` is scored."""
        if key in self.optional:
            return False
        if key in self.points:
            return True
        if self.required is not None:
            return key in self.required
        section, _, name = key.partition(".")
        return is_asked(section, name)

    def points_of(self, key: str) -> float:
        """What a required quantity is worth (0 for an optional one)."""
        if not self.is_required(key):
            return 0.0
        return float(self.points.get(key, self.default_points))

    def names(self) -> set[str]:
        """Every quantity the rubric names, to check against the problems it grades."""
        return set(self.points) | set(self.required or ()) | set(self.optional)

    def check_names(self, known: Iterable[str]) -> None:
        """Refuse a rubric naming a quantity that no problem graded with it has."""
        known = set(known)
        unknown = sorted(self.names() - known)
        by_case = {name.lower(): name for name in known}  # dw1 is dW1, not db1

        def hint(name: str) -> str:
            if name.lower() in by_case:
                return f"; did you mean '{by_case[name.lower()]}'?"
            return did_you_mean(name, known)

        if unknown:
            raise RubricError([
                f"{quoted(name)} is not a quantity of the problem (write section.name, e.g. "
                f"backward.dW1){hint(name)}" for name in unknown], self.source)
        if known and not any(self.points_of(name) > 0 for name in known):
            raise RubricError(["the quantities it scores add up to 0 points: every score would "
                               "be 0 of 0; give the required quantities points (default_points "
                               "= 1)"], self.source)

    def describe(self) -> str:
        """The rubric in a line, as the summary shows it."""
        share = (f"carried forward earns {self.carried_forward:.0%}"
                 if self.carried_forward != 1 else "carried forward earns full credit")
        return f"{self.source}: {share}"


@dataclass(frozen=True)
class Score:
    """A report scored by a rubric: points earned and possible, and each quantity's verdict as
    the rubric counts it."""

    points: float
    max_points: float
    earned: dict[str, float]  # every required quantity: the points it earned
    verdicts: dict[str, str]  # every quantity: correct, carried_forward, wrong, missing, not_asked
    charged: tuple[str, ...] = ()  # carried-forward steps charged for an optional one's mistake

    @property
    def percent(self) -> float:
        return 100.0 * self.points / self.max_points if self.max_points else 0.0


def score(report: GradeReport, rubric: Rubric) -> Score:
    """The points a report earns under `rubric`.

    A carried-forward step is charged (earns nothing, and counts as wrong) when every mistake
    it carries was made in optional quantities: that is where the mistake first reaches a
    scored step. Each step's mistakes are traced through its inputs (`GradeItem.inputs`).
    """
    verdicts, charged = charged_verdicts(report.items, rubric.is_required)
    earned: dict[str, float] = {}
    for item in report.items:
        key = item.key
        required = rubric.is_required(key)
        if item.status == "missing" and not required:
            verdicts[key] = "not_asked"
        if required:
            verdict = verdicts[key]
            points = rubric.points_of(key)
            share = rubric.carried_forward if verdict == "carried_forward" else CREDIT[verdict]
            earned[key] = points * share
    # a formula the rubric scores that the answer does not give has no item (the derivation
    # grader lists only the asked dW/db as missing): it is missing and worth 0, so leaving a
    # scored step out never raises a percent
    named = {*(rubric.required or ()), *rubric.points}
    has_formulas = any(item.is_formula for item in report.items)
    for key in sorted(named - set(verdicts)):
        if key.startswith("derivation.") and has_formulas and rubric.is_required(key):
            verdicts[key], earned[key] = "missing", 0.0
    total = sum(earned.values())
    possible = sum(rubric.points_of(key) for key in earned)
    return Score(total, possible, earned, verdicts, charged)


def load_rubric(path: str | Path) -> Rubric:
    """A rubric from a TOML (or JSON) file; every problem in it is reported at once."""
    from handgrad.problem import read_document

    return rubric_from_document(read_document(Path(path)), str(path))


def rubric_from_document(document: Mapping[str, Any], source: str = "<rubric>") -> Rubric:
    """A rubric from a parsed document (see the module's docstring for the keys)."""
    problems: list[str] = []
    for key in document:
        if key not in RUBRIC_KEYS:
            problems.append(f"{quoted(key)} is not a rubric setting (there are "
                            f"{', '.join(RUBRIC_KEYS)}){did_you_mean(str(key), RUBRIC_KEYS)}")
    carried = _number(document.get("carried_forward", 1.0), "carried_forward", problems)
    if carried is not None and not 0 <= carried <= 1:
        problems.append(f"carried_forward = {carried:g}: the share of a step's points, from 0 "
                        "(nothing) to 1 (full credit)")
    default = _number(document.get("default_points", 1.0), "default_points", problems)
    required = _names(document.get("required"), "required", problems)
    optional = _names(document.get("optional", []), "optional", problems)
    points: dict[str, float] = {}
    table = document.get("points", {})
    if not isinstance(table, Mapping):
        problems.append('[points] must be a table: "backward.dW1" = 2')
        table = {}
    for name, value in _flattened(table):
        number = _number(value, f"points.{shown(name)}", problems)
        if number is not None:
            points[name] = number
    _both(points, required, optional or (), problems)
    if problems:
        raise RubricError(problems, source)
    return Rubric(points, default if default is not None else 1.0,
                  carried if carried is not None else 1.0,
                  None if required is None else frozenset(required),
                  frozenset(optional or ()), source)


def _flattened(table: Mapping[str, Any]) -> list[tuple[str, Any]]:
    """[points] as (section.name, value): `"backward.dW1" = 2`, or the dotted key
    `backward.dW1 = 2` that TOML reads as a table {backward: {dW1: 2}}."""
    pairs: list[tuple[str, Any]] = []
    for key, value in table.items():
        if isinstance(value, Mapping):
            pairs += [(f"{key}.{name}", inner) for name, inner in value.items()]
        else:
            pairs.append((str(key), value))
    return pairs


def _both(points: Iterable[str], required: Iterable[str] | None, optional: Iterable[str],
          problems: list[str]) -> None:
    """A quantity both scored (given points, or required) and optional: refused, naming it."""
    optional = set(optional)
    for scored, how in ((points, "given points"), (required or (), "required")):
        both = sorted(set(scored) & optional)
        if both:
            problems.append(f"{', '.join(quoted(name) for name in both)}: both {how} and "
                            "listed as optional; an optional quantity earns none")


def _number(value: Any, key: str, problems: list[str]) -> float | None:
    # compared, never converted first: 10**400 is refused, not an OverflowError; NaN fails both
    if isinstance(value, bool) or not isinstance(value, int | float) or not (
            0 <= value <= MAX_POINTS):
        problems.append(f"{key} = {quoted(value)}: give a number of points from 0 to "
                        f"{MAX_POINTS:,.0f}")
        return None
    return float(value)


def _names(value: Any, key: str, problems: list[str]) -> list[str] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(name, str) for name in value):
        problems.append(f'{key} must be a list of quantities: ["forward.h1", "backward.dW1"]')
        return []
    return list(value)
