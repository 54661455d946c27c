"""limits.py: what the commands refuse without --force (issue 11, item 14)."""

from __future__ import annotations

from pathlib import Path

import pytest

from handgrad.cli.common import within_limits
from handgrad.errors import HandgradError
from handgrad.limits import SOLVE_MAX_PARAMETERS, solve_limit
from handgrad.precision import Precision
from handgrad.problem import load_problem
from tests.test_bad_input import assert_user_error, run_cli


def _problem(layers: list[int], activation: str = "relu", steps: int = 1, batch: int = 1):
    x = [0.5] * layers[0]
    return load_problem({
        "network": {"layers": layers, "activation": activation},
        "data": {"x": [x] * batch if batch > 1 else x, "label": [0] * batch if batch > 1 else 0},
        "optimizer": {"learning_rate": 0.1, "steps": steps},
    })


def test_the_homeworks_kind_is_within_every_limit() -> None:
    for name in ("homework3", "deep_batch", "regression"):
        problem = load_problem(name)
        assert solve_limit(problem, Precision()) is None
        assert solve_limit(problem, Precision("digits", 50)) is None
        assert solve_limit(problem, Precision("exact")) is None


def test_a_network_of_millions_of_parameters_is_over_the_limit() -> None:
    wide = _problem([1, 100_000, 97])  # 9.9 million parameters: 597 MB of JSON before
    reason = solve_limit(wide, Precision())
    assert reason is not None and "9,900,097 parameters" in reason
    assert solve_limit(_problem([10, 100, 10]), Precision()) is None
    assert SOLVE_MAX_PARAMETERS == 100_000


def test_a_huge_batch_is_over_the_limit() -> None:
    # 10,000 rows × (10 + 2·10 + 2·2) values = 340,000 > 200,000
    reason = solve_limit(_problem([10, 10, 2], batch=10_000), Precision())
    assert reason is not None and "a batch of 10000" in reason


def test_force_goes_past_the_limit() -> None:
    wide = _problem([1, 100_000, 97])
    with pytest.raises(HandgradError, match="--force"):
        within_limits(wide, Precision(), force=False)
    assert within_limits(wide, Precision(), force=True) is wide


def test_the_command_line_refuses_at_once_with_the_reason(tmp_path: Path) -> None:
    path = tmp_path / "wide.toml"
    path.write_text("[network]\nlayers = [1, 100000, 97]\n[data]\nx = [1]\nlabel = 3\n"
                    "[optimizer]\nlearning_rate = 0.1\n", encoding="utf-8")
    for command in ("solve", "check"):
        assert_user_error(run_cli(command, path), "9,900,097 parameters", "--force")


def test_derivations_past_their_measured_sizes_are_refused_without_force(tmp_path: Path) -> None:
    from handgrad.limits import derive_limit, exact_is_quick

    assert derive_limit(load_problem("homework3")) is None
    assert derive_limit(load_problem("deep_batch")) is None
    assert derive_limit(_problem([8] * 7, "tanh")) is None  # 6 weight layers of 8: measured
    assert "7 weight layers" in (derive_limit(_problem([2] * 8)) or "")
    assert "64 units" in (derive_limit(_problem([2, 64, 3])) or "")
    assert exact_is_quick(load_problem("homework3"))
    assert exact_is_quick(_problem([2, 3, 3], "tanh"))
    deep = tmp_path / "deep.toml"
    deep.write_text("[network]\nlayers = [2, 2, 2, 2, 2, 2, 2, 2]\n[data]\nx = [1, 2]\n"
                    "label = 1\n[optimizer]\nlearning_rate = 0.1\n", encoding="utf-8")
    for command in ("derive", "report"):
        assert_user_error(run_cli(command, str(deep), cwd=tmp_path), "7 weight layers",
                          "--force")


def test_exact_arithmetic_is_no_longer_limited_by_depth_or_steps() -> None:
    """The seed with 3 steps ran past 5 minutes in sympy; with core.exact it takes a second."""
    document = load_problem("homework3").to_dict()
    document["optimizer"]["steps"] = 3
    three = load_problem(document)
    assert solve_limit(three, Precision("exact")) is None
    assert solve_limit(_problem([8] * 7, "tanh"), Precision("exact")) is None


def test_a_missing_answer_file_is_not_offered_a_shipped_example(tmp_path: Path) -> None:
    result = run_cli("grade", "homework3", "myanswer", cwd=tmp_path)
    assert_user_error(result, "myanswer: the file does not exist")
    assert "shipped example" not in result.stderr
    missing = run_cli("solve", "homework4", cwd=tmp_path)
    assert_user_error(missing, "no shipped example is called that")


def test_exact_arithmetic_over_a_large_batch_needs_force() -> None:
    """A 6-layer tanh net over 40 instances took 14 s exactly: refused, with --digits offered."""
    reason = solve_limit(_problem([8] * 7, "tanh", batch=40), Precision("exact")) or ""
    assert "40 instance(s)" in reason and "--digits 50" in reason
    assert solve_limit(_problem([8] * 7, "tanh", batch=40), Precision("digits", 50)) is None
    assert solve_limit(_problem([8] * 7, "tanh", batch=4), Precision("exact")) is None
