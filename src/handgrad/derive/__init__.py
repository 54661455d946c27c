"""Problem 1 of the homework: the derivation of every gradient, step by step, verified by sympy.

`derive(problem)` gives a `Derivation`, a record of its `Step`s; `check_backward(problem)` is the
machine check alone. Nothing here imports a renderer at module level: a `Derivation` shows itself
in a notebook through a lazy import, and the renderers import this package, not the reverse.
"""

from handgrad.derive.steps import Derivation, Step, derive
from handgrad.derive.symbolic import check_backward

__all__ = ["Derivation", "Step", "check_backward", "derive"]
