"""What the commands do without --force: sizes measured to finish in seconds on a 2-core machine.

A worked solution shows every value, so a network of millions of parameters is not one to read
(a 1-100000-97 problem wrote 597 MB of JSON in 47 s); exact arithmetic through sigmoid or tanh
grows nested exponentials with every step (a 2-3-3 tanh problem took 25–45 s a step). Each
function says why a problem is over its limit, or None; the command line refuses with that
reason unless --force, and the playground applies the same rules.
"""

from __future__ import annotations

from handgrad.precision import Precision
from handgrad.problem import Problem

SOLVE_MAX_PARAMETERS = 100_000  # every one shown three times: value, gradient, update
SOLVE_MAX_VALUES = 200_000  # the batch's per-instance quantities: B × (d + 2·Σn + 2q)
EXACT_SLOW_ACTIVATIONS = ("sigmoid", "tanh")  # nested exponentials grow with every step
EXACT_SLOW_MAX_STEPS = 1
EXACT_SLOW_MAX_DEPTH = 2  # weight layers


def solve_limit(problem: Problem, precision: Precision) -> str | None:
    """Why working this problem would take more than seconds or print more than can be read."""
    arch = problem.architecture
    parameters = sum(value.size for value in problem.params.values())
    if parameters > SOLVE_MAX_PARAMETERS:
        return (
            f"{parameters:,} parameters: a worked solution shows each one three times; at most"
            f" {SOLVE_MAX_PARAMETERS:,} without --force (train such a network instead)"
        )
    per_instance = arch.layers[0] + 2 * sum(arch.layers[1:-1]) + 2 * arch.layers[-1]
    if problem.batch_size * per_instance > SOLVE_MAX_VALUES:
        return (
            f"a batch of {problem.batch_size} gives {problem.batch_size * per_instance:,} values"
            f" to show; at most {SOLVE_MAX_VALUES:,} without --force"
        )
    if precision.kind == "exact" and arch.depth > 1 and arch.hidden.name in EXACT_SLOW_ACTIVATIONS:
        steps = problem.spec.optimizer.steps
        if steps > EXACT_SLOW_MAX_STEPS or arch.depth > EXACT_SLOW_MAX_DEPTH:
            return (
                f"exact arithmetic through {arch.hidden.name} hidden layers takes tens of seconds"
                f" a step (nested exponentials); without --force at most {EXACT_SLOW_MAX_STEPS}"
                f" step and {EXACT_SLOW_MAX_DEPTH} weight layers. --digits 50 gives 50 correct"
                " digits in a second"
            )
    return None
