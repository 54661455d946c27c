"""solve(problem) -> Solution: run the core's step loop and record every quantity.

The numbers come from `core.network.descend` alone; `words` names them in the course's notation.
`check_problem` adds the independent references of `verify` (PyTorch, JAX) to the solver's
finite-difference check.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from handgrad import verify, words
from handgrad.core import network
from handgrad.errors import HandgradError
from handgrad.precision import EXACT_MAX_PARAMETERS, EXACT_MAX_STEPS, Precision
from handgrad.problem import Problem, load_problem
from handgrad.solution import CheckReport, GradientCheck, Quantity, Solution

FLOAT64 = Precision()


def solve(problem: Problem | Any, precision: Precision = FLOAT64) -> Solution:
    """Work the problem: forward, backward and update for every step, checked by finite differences.

    `problem` is a Problem, or anything `load_problem` reads (a path, a shipped example's name or
    a dict). With an exact or N-digit `precision` the same formulas run on sympy or mpmath
    numbers, and the float64 solution is computed too, for the finite-difference check and an
    agreement check against it.
    """
    if not isinstance(problem, Problem):
        problem = load_problem(problem)
    if precision.is_float64:
        return _solve_float64(problem)
    _require_small_enough(problem)
    reference = _solve_float64(problem)
    with precision.context():
        run, target = _descend(problem, precision)
        quantities = tuple(
            replace(q, value=precision.closed_form(q.value))
            for q in words.quantities(problem, run, target)
        )
    agreement = _agreement(quantities, reference, precision)
    return Solution(
        problem=problem,
        quantities=quantities,
        history=tuple(precision.closed_form(loss) for loss in run.losses),
        conventions=(
            *words.conventions(problem),
            words.PRECISION_NOTES[precision.kind].format(precision),
        ),
        kinks=tuple(words.kinks(problem, run.first_forward)),
        checks=(*reference.checks, agreement),
        precision=precision,
    )


def _descend(problem: Problem, precision: Precision) -> tuple[network.Descent, Any]:
    """The core's step loop on the problem's numbers, in the precision's number type."""
    arch = precision.architecture(problem.architecture)
    loss, opt = problem.spec.loss, problem.spec.optimizer
    x = precision.array(problem.x)
    target = network.target_for(
        precision.array(problem.y),
        arch.loss,
        precision.number(loss.label_smoothing),
        loss.smoothing,
    )
    params = {name: precision.array(value) for name, value in problem.params.items()}
    run = network.descend(
        params, x, target, arch, precision.number(opt.learning_rate), opt.steps, opt.frozen
    )
    return run, target


def _solve_float64(problem: Problem) -> Solution:
    # Overflow is detected by the finiteness checks and reported as a user error,
    # so NumPy's own overflow warnings would only repeat it less clearly.
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        run, target = _descend(problem, FLOAT64)
        _require_finite(problem, run)
        check = verify.finite_difference_check(
            lambda p: network.loss_value(p, problem.x, target, problem.architecture),
            problem.params,
            run.first_backward.grads,
            input_scale=float(np.max(np.abs(problem.x))),
        )
    return Solution(
        problem=problem,
        quantities=tuple(words.quantities(problem, run, target)),
        history=tuple(float(loss) for loss in run.losses),
        conventions=tuple(words.conventions(problem)),
        kinks=tuple(words.kinks(problem, run.first_forward)),
        checks=(check,),
    )


def check_problem(source: Problem | Any) -> CheckReport:
    """Solve the problem, then compare its gradients with finite differences, torch and jax."""
    solution = solve(source)
    problem = solution.problem
    grads = solution.backward
    ours = {f"d{name}": np.asarray(grads[f"d{name}"]) for name in problem.params}
    checks = list(solution.checks)
    unavailable = {}
    for method, compute in (("torch", verify.torch_gradients), ("jax", verify.jax_gradients)):
        if verify.framework_available(method):
            scale = float(np.max(np.abs(problem.x)))
            reference = compute(problem)[1]
            checks.append(verify.compare(method, reference, ours, solution.history[0], scale))
        else:
            unavailable[method] = verify.INSTALL_HINTS[method]
    return CheckReport(problem, tuple(checks), unavailable, solution.kinks)


def _require_small_enough(problem: Problem) -> None:
    """Exact arithmetic grows expressions with every step and unit: keep it to hand-sized work."""
    count = sum(value.size for value in problem.params.values())
    steps = problem.spec.optimizer.steps
    if count > EXACT_MAX_PARAMETERS or steps > EXACT_MAX_STEPS:
        raise HandgradError(
            f"{problem.source}: exact and N-digit answers are for hand-sized problems (at most"
            f" {EXACT_MAX_PARAMETERS} parameters and {EXACT_MAX_STEPS} steps); this one has"
            f" {count} parameters and {steps} steps"
        )


def _agreement(
    quantities: tuple[Quantity, ...], reference: Solution, precision: Precision
) -> GradientCheck:
    """How far the float64 gradients are from the exact or N-digit ones (float64 rounding)."""
    ours = {q.key: q.value for q in quantities if q.section == "backward"}
    errors = {
        name: verify.max_relative_error(
            np.asarray(reference.backward[name], dtype=float),
            np.asarray(ours[name], dtype=float),
        )
        for name in reference.checks[0].errors
    }
    checked = {name: (int(np.size(ours[name])),) * 2 for name in errors}
    return GradientCheck(
        f"float64_vs_{precision.kind}", errors, checked, verify.TOLERANCES["float64"]
    )


def _require_finite(problem: Problem, run: network.Descent) -> None:
    """Raise a user error when the numbers overflow float64: in the first step, or later."""
    fwd, bwd = run.first_forward, run.first_backward
    named = {"z": fwd.z, "L": fwd.loss, "∂L/∂z": bwd.dz, **bwd.grads}
    named.update({f"h{i}": h for i, h in enumerate(fwd.h, start=1)})
    bad = [name for name, value in named.items() if not np.all(np.isfinite(value))]
    if bad:
        raise HandgradError(
            f"{problem.source}: the numbers overflow float64 (infinite or NaN values in"
            f" {', '.join(bad)}): the problem's parameters or inputs are too large to work"
            " with; scale them down"
        )
    opt = problem.spec.optimizer
    finite = np.isfinite(np.asarray(run.losses, dtype=float))
    if not finite.all() or not all(np.all(np.isfinite(v)) for v in run.params.values()):
        step = int(np.argmin(finite)) if not finite.all() else opt.steps
        shown = run.losses[step] if not finite.all() else run.losses[-1]
        raise HandgradError(
            f"{problem.source}: optimizer.learning_rate: the loss diverged at step"
            f" {step} (L = {shown:g}); η = {opt.learning_rate:g} is too large for"
            " this problem, try a smaller learning_rate or fewer steps"
        )
