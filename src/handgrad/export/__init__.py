"""Exports to the platforms instructors use: Moodle, Canvas (QTI), PrairieLearn, Gradescope.

Each platform module writes one thing (`write(variants, out)`); this module reads what they all
export: a problem file (or a shipped example's name), or a folder that `handgrad generate` wrote
(plain: `problem-N.toml`; with `--roster`: `problem-ID.toml` and `roster.csv`), as `Variant`s, each
with its worked solution and the quantities the homework asks for.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from handgrad.errors import HandgradError
from handgrad.grade.keys import is_asked
from handgrad.problem import Problem, load_problem, read_document
from handgrad.solution import Quantity, Solution
from handgrad.solver import solve

PLATFORMS = ("moodle", "canvas", "prairielearn", "gradescope")


@dataclass(frozen=True)
class Variant:
    """One problem to export: whose it is, the problem, its worked solution."""

    id: str  # the roster id, the generated problem's number, or the problem file's stem
    name: str  # the student's name from the roster, or ""
    problem: Problem
    document: dict[str, object]  # the problem file as written (for vendoring into a platform)
    solution: Solution

    def asked(self) -> list[Quantity]:
        """The quantities the homework asks for, in the course's order (forward, backward,
        update): every entry of each is a blank to fill in."""
        return [q for q in self.solution.quantities if is_asked(q.section, q.key)]


def load_variants(source: str | Path) -> list[Variant]:
    """The problems of a problem file, a shipped example's name, or a `handgrad generate`
    folder; a folder without problems is an error."""
    path = Path(source)
    if path.is_dir():
        files = sorted(path.glob("problem-*.toml"))
        if not files:
            raise HandgradError(
                f"{source}: holds no problem-*.toml: give a problem file or a folder that"
                " `handgrad generate` wrote"
            )
        names = _roster_names(path)
        return [_variant(file, file.stem[len("problem-"):], names) for file in files]
    problem = load_problem(source)
    stem = Path(problem.source).stem
    return [Variant(stem, "", problem, read_document(Path(problem.source)), solve(problem))]


def _variant(file: Path, identifier: str, names: dict[str, str]) -> Variant:
    problem = load_problem(file)
    return Variant(identifier, names.get(identifier, ""), problem, read_document(file),
                   solve(problem))


def _roster_names(folder: Path) -> dict[str, str]:
    roster = folder / "roster.csv"
    if not roster.is_file():
        return {}
    from handgrad.roster import read_roster

    return read_roster(roster).names()
