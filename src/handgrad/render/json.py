"""The Solution as JSON: a stable interface, every number at full float64 precision."""

from __future__ import annotations

import json
from typing import Any

from handgrad.render.numbers import json_value
from handgrad.solution import Solution


def solution_to_dict(solution: Solution) -> dict[str, Any]:
    """The documented JSON layout: problem, forward, backward, update, history, checks."""
    precision = solution.precision

    def plain(value: Any) -> Any:
        return json_value(value, precision)

    problem = solution.problem
    as_understood = problem.to_dict()
    y = problem.y.tolist()  # the one-hot rows labels mean, beside the labels as given
    as_understood["data"] = {
        "x": as_understood["data"]["x"],
        "y": y if problem.batched else y[0],
        "label": problem.spec.data.label,
    }
    if problem.spec.title is None:
        as_understood["title"] = None
    as_understood["params_initialised"] = problem.params_initialised
    return {
        "problem": as_understood,
        "precision": {"kind": precision.kind, "digits": precision.digits}
        if precision.kind == "digits"
        else {"kind": precision.kind},
        "conventions": list(solution.conventions),
        "forward": {k: plain(v) for k, v in solution.forward.items()},
        "backward": {k: plain(v) for k, v in solution.backward.items()},
        "update": {k: plain(v) for k, v in solution.update.items()},
        "history": [plain(v) for v in solution.history],
        "checks": {check.method: dict(check.errors) for check in solution.checks},
        "kinks": [
            {"quantity": k.key, "index": list(k.index), "convention": k.convention}
            for k in solution.kinks
        ],
    }


def dumps(value: Any, indent: str = "") -> str:
    """JSON with nested objects indented and each list of plain values (a vector, a matrix row)
    on one line, so that matrices read as matrices."""
    inner = indent + "  "
    if isinstance(value, dict):
        if not value:
            return "{}"
        items = [
            f"{inner}{json.dumps(k, ensure_ascii=False)}: {dumps(v, inner)}"
            for k, v in value.items()
        ]
        return "{\n" + ",\n".join(items) + "\n" + indent + "}"
    if isinstance(value, list) and any(isinstance(v, dict | list) for v in value):
        return "[\n" + ",\n".join(inner + dumps(v, inner) for v in value) + "\n" + indent + "]"
    return json.dumps(value, ensure_ascii=False, allow_nan=False)


def render_json(solution: Solution) -> str:
    return dumps(solution_to_dict(solution))
