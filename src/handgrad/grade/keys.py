"""The keys of an answer's quantities: its sections, (section, name) pairs, and which are asked."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from handgrad.solution import Section

SECTIONS: tuple[Section, ...] = ("forward", "backward", "update")
# the rest of a `solve --format json` file, and the notes of a `handgrad template` sheet
SOLVER_KEYS = ("problem", "precision", "conventions", "history", "checks", "kinks", "notes")
Key = tuple[str, str]  # (section, name)
Values = dict[Key, np.ndarray]
Answer = Mapping[Key, np.ndarray]  # what `grade` judges: {(section, name): value}

# What a homework of this kind asks for is every quantity of the worked solution but these:
# yˢ is a definition, not a step; the per-instance losses Lᵦ are the way to L, which is asked;
# the loss after the step checks the update but is not part of it. A student who leaves them
# out has missed nothing; `rubric` makes them optional by default.
NOT_ASKED: frozenset[Key] = frozenset(
    {("forward", "ys"), ("forward", "losses"), ("update", "loss")})

# the quantities the formulas and recipes name one by one
Z, YHAT, YS = ("forward", "z"), ("forward", "yhat"), ("forward", "ys")
LOSS, LOSSES = ("forward", "loss"), ("forward", "losses")
DZ, DYHAT = ("backward", "dz"), ("backward", "dyhat")


def is_asked(section: str, name: str) -> bool:
    """Whether a homework of this kind asks for the quantity (everything but `NOT_ASKED`; of
    Problem 1's formulas, ∂L/∂W and ∂L/∂b, not the intermediate steps)."""
    if section == "derivation":
        return name.startswith(("dW", "db"))
    return (section, name) not in NOT_ASKED
