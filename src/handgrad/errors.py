"""The errors a user can cause. The CLI prints their message and exits with status 2."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence


class HandgradError(Exception):
    """An error the user can fix: the message names what is wrong and how to fix it."""


class ProblemError(HandgradError):
    """A problem (or answer) file with one or more problems, all reported at once."""

    def __init__(self, problems: Sequence[str], source: str | None = None) -> None:
        self.problems = list(problems)
        self.source = source
        super().__init__(str(self))

    def __str__(self) -> str:
        where = f"{self.source}: " if self.source else ""
        if len(self.problems) == 1:
            return f"{where}{self.problems[0]}"
        listed = "\n".join(f"  - {problem}" for problem in self.problems)
        return f"{where}{len(self.problems)} problems:\n{listed}"


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """'; did you mean 'x'?' for the nearest valid choice, or '' when nothing is close."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"; did you mean '{close[0]}'?" if close else ""
