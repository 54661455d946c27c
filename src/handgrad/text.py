"""User-supplied text, handled with care: shown as inert text, and numbers read with bounded work.

A title, a class name or a key comes from a file someone else may have written: shown raw, an
escape sequence in it would clear or rewrite the user's terminal, and a million-item value would
fill it. A number written as text ("1e99999999", a 100,000-digit fraction) must never make the
reader build a huge exact integer while holding the interpreter.
"""

from __future__ import annotations

import unicodedata
from fractions import Fraction
from typing import Any

EXCERPT = 60  # characters of a user's value quoted in a message
MAX_NUMBER_TEXT = 100  # characters of a number written as text


def shown(value: Any, limit: int = EXCERPT) -> str:
    """`value` as printable text: control and format characters (escape sequences, bidi
    overrides) written as \\x1b-style escapes, lone surrogates as \\udXXX, at most `limit`
    characters with the rest counted."""
    text = value if isinstance(value, str) else repr(value)
    cut = len(text) > limit
    pieces = []
    for char in text[:limit] if cut else text:
        category = unicodedata.category(char)
        if category in ("Cc", "Cf", "Cs", "Zl", "Zp") and char != " ":
            code = ord(char)
            pieces.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
        else:
            pieces.append(char)
    if cut:
        pieces.append(f"… ({len(text):,} characters)")
    return "".join(pieces)


def quoted(value: Any, limit: int = EXCERPT) -> str:
    """shown(value) in quotes, for a message that quotes what the user wrote."""
    return f"'{shown(value, limit)}'" if isinstance(value, str) else shown(value, limit)


def has_lone_surrogate(text: str) -> bool:
    """Whether `text` holds half of a UTF-16 pair (JSON's "\\ud800"): not encodable as UTF-8."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def parse_number(item: Any) -> float:
    """A number from a file: an int, a float, or text such as "0.25", "-1e-3" or "4/5".

    Raises ValueError with a reason. Work is bounded: text is at most MAX_NUMBER_TEXT
    characters, a fraction's two integers are parsed as such (never an exact 10^(10^8)), and a
    value beyond float64 is "too large", never an OverflowError.
    """
    if isinstance(item, bool):
        raise ValueError(f"{item!r} is not a number")
    if isinstance(item, int):
        try:
            return float(item)
        except OverflowError:
            raise ValueError("a whole number too large for float64 (above 1.8e308)") from None
    if isinstance(item, float):
        return item
    if not isinstance(item, str):
        raise ValueError(f"{quoted(item)} is not a number")
    text = item.strip()
    if len(text) > MAX_NUMBER_TEXT:
        raise ValueError(f"{quoted(item)} is too long to be a number")
    numerator, slash, denominator = text.partition("/")
    try:
        if not slash:
            return float(text)  # float() parses "1e99999999" as inf in constant time
        return float(Fraction(int(numerator), int(denominator)))
    except (ValueError, ZeroDivisionError):
        raise ValueError(f"{quoted(item)} is not a number") from None
    except OverflowError:
        raise ValueError(f"{quoted(item)} is too large for float64") from None


# characters of one line of an error message: handgrad's own lines are kept whole (a line
# listing several problems joined with "; " runs past 400), since the user's values inside them
# are already cut to EXCERPT by `quoted`/`shown`; only a runaway line is cut
MESSAGE_LINE = 2_000
MESSAGE_LINES = 40


def shown_message(message: str) -> str:
    """An error message made safe for a terminal: each line `shown` (control characters as
    escapes, long lines cut), at most MESSAGE_LINES lines; the line breaks themselves kept."""
    lines = message.split("\n")
    kept = [shown(line, MESSAGE_LINE) for line in lines[:MESSAGE_LINES]]
    if len(lines) > MESSAGE_LINES:
        kept.append(f"  … and {len(lines) - MESSAGE_LINES} more lines")
    return "\n".join(kept)
