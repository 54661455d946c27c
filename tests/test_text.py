"""text.py: user text shown inert, numbers read with bounded work."""

from __future__ import annotations

import pytest

from handgrad.text import has_lone_surrogate, parse_number, quoted, shown, shown_message


def test_control_and_format_characters_are_written_as_escapes() -> None:
    assert shown("a\u001b[2Jb") == "a\\x1b[2Jb"
    assert shown("right\u202eleft") == "right\\u202eleft"  # a bidi override
    assert shown("tab\tnewline\n") == "tab\\x09newline\\x0a"
    assert shown("中文 é ∂L/∂z") == "中文 é ∂L/∂z"  # text is text


def test_long_values_are_cut_with_their_length() -> None:
    assert shown("x" * 100, limit=10) == "x" * 10 + "… (100 characters)"
    assert shown(list(range(10**5)), limit=5).startswith("[0, 1… (")
    assert quoted("ab") == "'ab'" and quoted(3) == "3"


def test_a_message_keeps_its_lines_and_loses_its_escapes() -> None:
    message = "file: 2 problems:\n  - a\u001b]0;x\u0007\n  - " + "y" * 10_000
    lines = shown_message(message).split("\n")
    assert lines[0] == "file: 2 problems:" and lines[1] == "  - a\\x1b]0;x\\x07"
    assert len(lines[2]) < 2_100 and lines[2].endswith("(10,004 characters)")  # a runaway line
    assert len(shown_message("\n".join(["z"] * 100)).split("\n")) == 41


def test_handgrad_s_own_long_lines_are_kept_whole() -> None:
    # a generate error listing several problems joined with "; " ran past 400 characters and
    # was cut to "… (404 characters)"; the user's values in it are cut by `quoted` already
    problems = "; ".join(f"variant {i}: {quoted('x' * 100)} gives a saturated sigmoid at h1[0]"
                         for i in range(12))
    assert len(problems) > 1_000
    assert shown_message(f"--roster r.csv: {problems}") == f"--roster r.csv: {problems}"


def test_lone_surrogates_are_found() -> None:
    assert has_lone_surrogate("\ud800x") and not has_lone_surrogate("🎉")


@pytest.mark.parametrize(
    ("item", "value"),
    [(3, 3.0), (-0.25, -0.25), ("4/5", 0.8), (" -1e-3 ", -0.001), ("1e400", float("inf")),
     ("-7/-2", 3.5), ("1" * 40 + "/" + "1" * 39, 10.0)],
)
def test_numbers(item, value) -> None:
    assert parse_number(item) == pytest.approx(value)


@pytest.mark.parametrize(
    ("item", "reason"),
    [(True, "not a number"), ("abc", "not a number"), ("1/0", "not a number"),
     ("9" * 101, "too long"), (10**400, "too large"), ("1" * 50 + "/1", None),
     ([1], "not a number")],
)
def test_what_is_not_a_number(item, reason) -> None:
    if reason is None:
        assert parse_number(item) == pytest.approx(float("1" * 50))
        return
    with pytest.raises(ValueError, match=reason):
        parse_number(item)
