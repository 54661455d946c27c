"""Exact numbers that stay fast through deep networks: rationals folded at once, everything else
an expression whose shared parts are built once, each carrying its size and its decimal value.

sympy canonicalises every sum and product as it builds it and proves signs numerically; through
a softmax or tanh layers its expressions share parts (every unit of a layer holds the same tanh
of the layer before), which its str, count_ops and evalf walk as trees, so the cost doubles with
each layer (a 4-8-8-3 ReLU net with a batch of 4 took 68 s, a 2-3-3 tanh net 16 s). Here the
formulas run on `Exact` values: a rational stays a Fraction; any other value is a node (+, ×,
power, exp, ln, tanh) over its arguments with its tree size and its value to DIGITS digits,
computed once when it is made. Comparisons (ReLU masks, max) read the value; a node becomes a
sympy expression, with sympy's own canonical form, only when it is shown and small enough to read.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

DIGITS = 70  # working digits of the values: 50 are shown at most; comparisons need a sign
SYMPY_MAX_SIZE = 200  # larger values are not made sympy expressions (its simplifications crawl)
WRITE_MAX_SIZE = 5_000  # a closed form larger than this (as a tree) is not written out
_SIZE_CAP = 10**15


class Exact:
    """An exact number: a rational, or an operation on exact numbers (see the module)."""

    __slots__ = ("_args", "_op", "_sympy", "rational", "size", "value")

    def __init__(
        self, op: str, args: tuple[Exact, ...], rational: Fraction | None, value: Any, size: int
    ) -> None:
        self._op, self._args, self.rational, self.value, self.size = op, args, rational, value, size
        self._sympy: Any = None

    # --- making values -------------------------------------------------------------------
    @classmethod
    def of(cls, number: Any) -> Exact:
        """A number as an exact value: an Exact as it is, an int or Fraction, a float or sympy
        rational by the decimal or fraction it spells."""
        if isinstance(number, Exact):
            return number
        if isinstance(number, (int, Fraction)):
            rational = Fraction(number)
        elif isinstance(number, float):
            rational = Fraction(repr(number))
        elif getattr(number, "is_Rational", False):
            rational = Fraction(int(number.p), int(number.q))
        else:
            raise TypeError(f"no exact value for {type(number).__name__}")
        mp = _mp()
        with mp.workdps(DIGITS):
            value = mp.mpf(rational.numerator) / rational.denominator
        return cls("rational", (), rational, value, 1)

    @classmethod
    def _node(cls, op: str, args: tuple[Exact, ...]) -> Exact:
        mp = _mp()
        with mp.workdps(DIGITS):
            value = _OPERATIONS[op](mp, *(arg.value for arg in args))
        return cls(op, args, None, value, min(_SIZE_CAP, 1 + sum(arg.size for arg in args)))

    # --- arithmetic: rationals fold, the rest builds nodes --------------------------------
    def __add__(self, other: Any) -> Exact:
        other = _coerced(other)
        if other is None:
            return NotImplemented
        if self.rational is not None and other.rational is not None:
            return Exact.of(self.rational + other.rational)
        if other.rational == 0:
            return self
        if self.rational == 0:
            return other
        return Exact._node("add", (self, other))

    __radd__ = __add__

    def __neg__(self) -> Exact:
        if self.rational is not None:
            return Exact.of(-self.rational)
        return Exact._node("mul", (Exact.of(-1), self))

    def __pos__(self) -> Exact:
        return self

    def __sub__(self, other: Any) -> Exact:
        other = _coerced(other)
        return NotImplemented if other is None else self + (-other)

    def __rsub__(self, other: Any) -> Exact:
        other = _coerced(other)
        return NotImplemented if other is None else other + (-self)

    def __mul__(self, other: Any) -> Exact:
        other = _coerced(other)
        if other is None:
            return NotImplemented
        if self.rational is not None and other.rational is not None:
            return Exact.of(self.rational * other.rational)
        if self.rational == 0 or other.rational == 0:
            return Exact.of(0)
        if self.rational == 1:
            return other
        if other.rational == 1:
            return self
        return Exact._node("mul", (self, other))

    __rmul__ = __mul__

    def __pow__(self, exponent: Any) -> Exact:
        exponent = Exact.of(exponent)
        power = exponent.rational
        if power is not None and power.denominator == 1:
            if self.rational is not None and (self.rational != 0 or power >= 0):
                return Exact.of(self.rational ** int(power))
            if power == 1:
                return self
            if power == 0:
                return Exact.of(1)
        return Exact._node("pow", (self, exponent))

    def __truediv__(self, other: Any) -> Exact:
        other = _coerced(other)
        if other is None:
            return NotImplemented
        if other.rational == 0:
            raise ZeroDivisionError("exact division by zero")
        return self * other ** -1

    def __rtruediv__(self, other: Any) -> Exact:
        other = _coerced(other)
        return NotImplemented if other is None else other / self

    # --- functions -----------------------------------------------------------------------
    def exp(self) -> Exact:
        return Exact.of(1) if self.rational == 0 else Exact._node("exp", (self,))

    def log(self) -> Exact:
        if self.value <= 0:  # the formulas take ln of positive sums only; say so if not
            raise ValueError(f"ln of a number that is not positive (≈ {self.decimal(6)})")
        return Exact.of(0) if self.rational == 1 else Exact._node("log", (self,))

    def tanh(self) -> Exact:
        return Exact.of(0) if self.rational == 0 else Exact._node("tanh", (self,))

    # --- comparisons and conversions -----------------------------------------------------
    def _key(self, other: Any) -> tuple[Any, Any]:
        other = _coerced(other)
        if other is None:
            raise TypeError("not an exact number")
        if self.rational is not None and other.rational is not None:
            return self.rational, other.rational
        return self.value, other.value

    def __lt__(self, other: Any) -> bool:
        mine, theirs = self._key(other)
        return bool(mine < theirs)

    def __le__(self, other: Any) -> bool:
        mine, theirs = self._key(other)
        return bool(mine <= theirs)

    def __gt__(self, other: Any) -> bool:
        mine, theirs = self._key(other)
        return bool(mine > theirs)

    def __ge__(self, other: Any) -> bool:
        mine, theirs = self._key(other)
        return bool(mine >= theirs)

    def __eq__(self, other: object) -> bool:
        try:
            mine, theirs = self._key(other)
        except TypeError:
            return NotImplemented
        return bool(mine == theirs)

    def __hash__(self) -> int:
        # equal values (== compares values) hash alike: a rational by itself, a node by its float
        return hash(self.rational) if self.rational is not None else hash(float(self.value))

    def __float__(self) -> float:
        return float(self.value)

    def __abs__(self) -> Exact:
        return -self if self < 0 else self

    def to_sympy(self) -> Any:
        """The same number as a sympy expression, built (once) as sympy would have built it."""
        import sympy

        stack: list[Exact] = [self]
        while stack:
            node = stack[-1]
            if node._sympy is not None:
                stack.pop()
                continue
            pending = [arg for arg in node._args if arg._sympy is None]
            if pending:
                stack.extend(pending)
                continue
            stack.pop()
            node._sympy = _to_sympy(sympy, node)
        return self._sympy

    @property
    def is_Rational(self) -> bool:
        return self.rational is not None

    @property
    def is_Integer(self) -> bool:
        return self.rational is not None and self.rational.denominator == 1

    @property
    def untold(self) -> str:
        """What a document says in place of a closed form too large to typeset."""
        if self.size <= WRITE_MAX_SIZE:
            return f"closed form of {self.size:,} terms: handgrad solve --exact --format json"
        return f"closed form of {self.size:,} terms, too long to write out"

    def decimal(self, digits: int = 50) -> str:
        mp = _mp()
        return str(mp.nstr(self.value, digits))

    def __str__(self) -> str:
        """sympy's form when small; a large one as computed (still readable by sympify); past
        WRITE_MAX_SIZE the decimal and the size, for its tree would be megabytes."""
        if self.size <= SYMPY_MAX_SIZE:
            return str(self.to_sympy())
        if self.size <= WRITE_MAX_SIZE:
            return _written(self)
        return f"{self.decimal()} (closed form of {self.size:,} terms not written)"

    def __repr__(self) -> str:
        return f"Exact({self})" if self.size <= 50 else f"Exact(≈{self.decimal(20)})"


def _coerced(number: Any) -> Exact | None:
    """The number as an Exact, or None for what is not a number (an array answers instead)."""
    try:
        return Exact.of(number)
    except TypeError:
        return None


def _mp() -> Any:
    import mpmath  # lazy: only exact work needs it

    return mpmath


_OPERATIONS: dict[str, Any] = {
    "add": lambda mp, a, b: a + b,
    "mul": lambda mp, a, b: a * b,
    "pow": lambda mp, a, b: a**b,
    "exp": lambda mp, a: mp.exp(a),
    "log": lambda mp, a: mp.log(a),
    "tanh": lambda mp, a: mp.tanh(a),
}


def _written(node: Exact) -> str:
    """The expression as computed, in sympy's syntax (exp, log, tanh, **), fully parenthesised."""
    if node.rational is not None:
        return str(node.rational) if node.rational >= 0 else f"({node.rational})"
    args = [_written(arg) for arg in node._args]
    if node._op == "add":
        return f"({args[0]} + {args[1]})"
    if node._op == "mul":
        return f"{args[0]}*{args[1]}"
    if node._op == "pow":
        return f"{args[0]}**{args[1]}"
    return f"{node._op}({args[0]})"


def _to_sympy(sympy: Any, node: Exact) -> Any:
    if node.rational is not None:
        return sympy.Rational(node.rational.numerator, node.rational.denominator)
    args = [arg._sympy for arg in node._args]
    build = {
        "add": lambda: sympy.Add(*args),
        "mul": lambda: sympy.Mul(*args),
        "pow": lambda: sympy.Pow(*args),
        "exp": lambda: sympy.exp(args[0]),
        "log": lambda: sympy.log(args[0]),
        "tanh": lambda: sympy.tanh(args[0]),
    }
    return build[node._op]()

