"""The Solution as JSON: a stable interface, every number at full float64 precision."""

from __future__ import annotations

import json
import re
from typing import Any

from handgrad.render.numbers import json_value
from handgrad.solution import Solution


def solution_to_dict(solution: Solution) -> dict[str, Any]:
    """The documented JSON layout: problem, forward, backward, update, history, checks."""
    precision = solution.precision

    def plain(value: Any) -> Any:
        return json_value(value, precision)

    return {
        "problem": solution.problem.to_dict(),
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


_NUMBER_LIST = re.compile(r"\[\s*([-+0-9.eE]+(?:,\s*[-+0-9.eE]+)*)\s*\]")


def render_json(solution: Solution) -> str:
    """Indented JSON with each innermost list of numbers (a vector, a matrix row) on one line."""
    text = json.dumps(solution_to_dict(solution), indent=2, ensure_ascii=False, allow_nan=False)
    return _NUMBER_LIST.sub(
        lambda m: "[" + ", ".join(m.group(1).split()).replace(",,", ",") + "]", text
    )
