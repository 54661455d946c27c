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
    steps = problem.spec.optimizer.steps
    if precision.kind == "exact" and steps > 1 and arch.output != "identity":
        # after one step every parameter holds exp terms of the output, which the next steps
        # nest (the seed with 2 steps: 50 s; with 3: past 5 minutes)
        return (
            f"exact arithmetic through a {arch.output} output takes minutes beyond one step"
            " (each step nests the last one's exponentials); without --force at most 1 step."
            " --digits 50 gives 50 correct digits in a second"
        )
    slow_hidden = arch.depth > 1 and arch.hidden.rule.exact_is_slow
    if precision.kind == "exact" and slow_hidden and (
        steps > EXACT_SLOW_MAX_STEPS or arch.depth > EXACT_SLOW_MAX_DEPTH
    ):
        return (
            f"exact arithmetic through {arch.hidden.name} hidden layers takes tens of seconds"
            f" a step (nested exponentials); without --force at most {EXACT_SLOW_MAX_STEPS}"
            f" step and {EXACT_SLOW_MAX_DEPTH} weight layers. --digits 50 gives 50 correct"
            " digits in a second"
        )
    return None


# What `handgrad.derive.steps.derive` costs, in CPU seconds on a 2-core machine, by weight layers,
# instances and output, over the five hidden activations (ReLU cheapest, tanh and sigmoid
# dearest). sympy differentiates a copy of the network of at most 3 units a layer and 2
# instances for a batch: the width and the batch size do not count, the depth and the exp of a
# softmax or sigmoid output do. The limits keep a derivation under 8 s (the seed's: 4-5 s) and a
# report under 10 s; past them it takes 9 s to minutes (8-8-8-8 with a batch of 4: 51 to 212 s).
#                      one instance                     a batch of 4
#   weight layers  softmax   sigmoid  identity     softmax    sigmoid    identity
#   1              1.2-1.4   0.6      0.4          2.6-2.7    1.1-1.2    0.8
#   2              3.7-7.9   2.0-4.0  1.5-2.4      9.2-20     4.5-9.1    3.3-5.0
#   3              22 (ReLU)          6.2 (ReLU)                         7.0 (identity)
DERIVE_MAX_DEPTH = 2  # weight layers
DERIVE_MAX_DEPTH_BATCH = 1  # for a batch through a softmax or sigmoid output
DERIVE_MAX_UNITS = 8  # per layer


def derive_limit(problem: Problem) -> str | None:
    """Why deriving this problem (and a report, which carries the derivation) would take more
    than seconds, or None."""
    arch = problem.architecture
    batch_exp = problem.batched and arch.output in ("softmax", "sigmoid")
    depth = DERIVE_MAX_DEPTH_BATCH if batch_exp else DERIVE_MAX_DEPTH
    if arch.depth <= depth and max(arch.layers) <= DERIVE_MAX_UNITS:
        return None
    through = f" and a batch through a {arch.output} output" if batch_exp else ""
    return (
        "the derivation's sympy check grows steeply with depth; it takes a few seconds up to"
        f" {DERIVE_MAX_DEPTH} weight layers ({DERIVE_MAX_DEPTH_BATCH} for a batch through a"
        f" softmax or sigmoid output) of up to {DERIVE_MAX_UNITS} units, and this problem has"
        f" {arch.depth} weight layers{through} and up to {max(arch.layers)} units a layer"
    )


def exact_is_quick(problem: Problem) -> bool:
    """Whether exact arithmetic takes about a second (measured on a 2-core machine): rational
    arithmetic always (ReLU-like or identity hidden layers and an identity output: 8-8-8, a
    batch of 4, 3 steps: 0.1 s), exp through the output for one step of up to 3 units and 4
    instances (2-3-3: 0.8 s, a batch of 4: 1.5 s), never through tanh or sigmoid hidden layers
    (2-3-3, one step: 11 s). It grows fast: 8 units 12 s, 32 instances 4 s, 2 steps over 30 s.
    """
    arch = problem.architecture
    if arch.depth > 1 and arch.hidden.rule.exact_is_slow:
        return False
    if arch.output == "identity":
        return True
    return (
        problem.spec.optimizer.steps == 1 and max(arch.layers) <= 3 and problem.batch_size <= 4
    )
