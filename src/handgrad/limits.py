"""What the commands do without --force: sizes measured to finish in seconds on a 2-core machine.

A worked solution shows every value, so a network of millions of parameters is not one to read
(a 1-100000-97 problem wrote 597 MB of JSON in 47 s). Exact arithmetic (core.exact) and the
derivation's check (derive.symbolic) now take seconds at any size a hand-worked problem has:
bench/derive.py measures them. Each function says why a problem is over its limit, or None; the
command line refuses with that reason unless --force, and the playground applies the same rules.
"""

from __future__ import annotations

from handgrad.precision import EXACT_MAX_PARAMETERS, Precision
from handgrad.problem import Problem

SOLVE_MAX_PARAMETERS = 100_000  # every one shown three times: value, gradient, update
SOLVE_MAX_VALUES = 200_000  # the batch's per-instance quantities: B × (d + 2·Σn + 2q)
# exact arithmetic costs about instances × parameters × steps: 6 weight layers of 8 units (432
# parameters) with a batch of 4, 1 step, took 1.7-2.3 s; a batch of 40, 14 s; of 100 with 3
# steps, 29 s (whole processes, 2 cores)
EXACT_MAX_WORK = 5_000


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
    work = problem.batch_size * parameters * problem.spec.optimizer.steps
    if precision.kind == "exact" and work > EXACT_MAX_WORK:
        return (
            f"exact arithmetic over {problem.batch_size} instance(s), {parameters} parameters and"
            f" {problem.spec.optimizer.steps} step(s) takes more than a few seconds (their"
            f" product {work:,} is over {EXACT_MAX_WORK:,}); --digits 50 gives 50 correct"
            " digits in a second"
        )
    return None


# What `handgrad derive` and `handgrad report -f latex` cost as whole processes on a 2-core
# machine (bench/results/derive-2x-xeon.txt, 8 units a layer, a batch of 4, other work running):
# the check differentiates a copy of at most 3 units a layer one entry at a time, so width and
# batch barely count. derive: seed 0.5 s, 3 weight layers 0.6-1.0 s, 6 weight layers 0.9-2.0 s;
# report -f latex (worked exactly): 0.8 s, 2.2-4.3 s, 2.9-6.1 s, for every activation and output.
# The limits are the sizes measured, where a derivation still reads as a page or two a layer.
DERIVE_MAX_DEPTH = 6  # weight layers
DERIVE_MAX_UNITS = 8  # per layer


def derive_limit(problem: Problem) -> str | None:
    """Why deriving this problem (and a report, which carries the derivation) is past the sizes
    measured, or None."""
    arch = problem.architecture
    if arch.depth <= DERIVE_MAX_DEPTH and max(arch.layers) <= DERIVE_MAX_UNITS:
        return None
    return (
        f"derivations are measured to take seconds up to {DERIVE_MAX_DEPTH} weight layers of up"
        f" to {DERIVE_MAX_UNITS} units, and this problem has {arch.depth} weight layers and up"
        f" to {max(arch.layers)} units a layer"
    )


def exact_is_quick(problem: Problem) -> bool:
    """Whether a report works its step in exact arithmetic: whenever `solve --exact` takes
    seconds (within EXACT_MAX_PARAMETERS and EXACT_MAX_WORK), in float64 otherwise."""
    parameters = sum(value.size for value in problem.params.values())
    steps = problem.spec.optimizer.steps
    return parameters <= EXACT_MAX_PARAMETERS and problem.batch_size * parameters * steps <= (
        EXACT_MAX_WORK
    )
