"""The array-namespace seam: the one place that knows which number type a formula runs on.

Every formula in `core.ops` is written against a small namespace `xp` (the Python Array API
subset it needs: exp, log, tanh, abs, where, sum, max, greater, greater_equal, equal,
zeros_like, ones_like), found from its
arguments with `namespace_of`. NumPy float arrays use NumPy itself (its main namespace follows
the Array API for these functions). NumPy *object* arrays, whose entries are exact (sympy) or
N-digit (mpmath) numbers, use an `ObjectNamespace` that applies scalar functions entry-wise,
chosen from the type of the entries. A GPU namespace (torch) plugs in here and nowhere else.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

Array = Any  # a 2-D array of the namespace in use; NumPy, object-NumPy or torch
Scalar = Callable[[Any], Any]


class ObjectNamespace:
    """Array namespace over NumPy object arrays whose entries bring their own exp/log/tanh."""

    def __init__(
        self, name: str, exp: Scalar, log: Scalar, tanh: Scalar, order_key: Scalar
    ) -> None:
        self.name = name
        self._exp = np.frompyfunc(exp, 1, 1)
        self._log = np.frompyfunc(log, 1, 1)
        self._tanh = np.frompyfunc(tanh, 1, 1)
        # Comparisons decide ReLU masks, |x| and max: done on `order_key` of each entry, which
        # for sympy is a 40-digit numeric value (asking sympy to prove a sign symbolically can
        # take minutes for an expression with tanh or exp in it).
        self._key = np.frompyfunc(order_key, 1, 1)

    def _keys(self, x: Array) -> Array:
        return np.asarray(self._key(np.asarray(x, dtype=object)), dtype=object)

    def greater(self, x1: Array, x2: Any) -> Array:
        return np.asarray(self._keys(x1) > x2, dtype=bool)

    def greater_equal(self, x1: Array, x2: Any) -> Array:
        return np.asarray(self._keys(x1) >= x2, dtype=bool)

    def equal(self, x1: Array, x2: Any) -> Array:
        return np.asarray(self._keys(x1) == x2, dtype=bool)

    def exp(self, x: Array) -> Array:
        return np.asarray(self._exp(x), dtype=object)

    def log(self, x: Array) -> Array:
        return np.asarray(self._log(x), dtype=object)

    def tanh(self, x: Array) -> Array:
        return np.asarray(self._tanh(x), dtype=object)

    def abs(self, x: Array) -> Array:
        return np.where(self.greater_equal(x, 0), x, -x)

    @staticmethod
    def where(condition: Array, x1: Array, x2: Array) -> Array:
        return np.where(np.asarray(condition, dtype=bool), x1, x2)

    @staticmethod
    def sum(x: Array, axis: int | None = None, keepdims: bool = False) -> Array:
        return np.sum(x, axis=axis, keepdims=keepdims)

    def max(self, x: Array, axis: int | None = None, keepdims: bool = False) -> Array:
        if axis is None:
            return x.flat[int(np.argmax(self._keys(x).ravel()))]
        index = np.expand_dims(np.argmax(self._keys(x), axis=axis), axis)
        largest = np.take_along_axis(x, index, axis=axis)
        return largest if keepdims else np.squeeze(largest, axis=axis)

    @staticmethod
    def zeros_like(x: Array) -> Array:
        return np.zeros_like(x)

    @staticmethod
    def ones_like(x: Array) -> Array:
        return np.ones_like(x)


def _mpmath_namespace() -> ObjectNamespace:
    import mpmath  # lazy: only N-digit work needs it

    return ObjectNamespace("mpmath", mpmath.exp, mpmath.log, mpmath.tanh, lambda v: v)


def _sympy_namespace() -> ObjectNamespace:
    import sympy  # lazy: only exact work needs it

    def order_key(value: Any) -> Any:
        return value if value.is_Rational else sympy.N(value, 40)

    return ObjectNamespace("sympy", sympy.exp, sympy.log, sympy.tanh, order_key)


def _exact_namespace() -> ObjectNamespace:
    from handgrad.core.exact import Exact

    return ObjectNamespace("exact", Exact.exp, Exact.log, Exact.tanh, lambda v: v)


_OBJECT_NAMESPACES: dict[str, Callable[[], ObjectNamespace]] = {
    "mpmath": _mpmath_namespace,
    "sympy": _sympy_namespace,
    "handgrad": _exact_namespace,  # core.exact.Exact
}
_made: dict[str, ObjectNamespace] = {}


def namespace_of(x: Array) -> Any:
    """The array namespace that the formulas use for `x` (NumPy, or entry-wise for objects)."""
    if not isinstance(x, np.ndarray):
        raise TypeError(f"no array namespace for {type(x).__name__}")
    if x.dtype != object:
        return np
    library = type(x.flat[0]).__module__.split(".")[0] if x.size else ""
    if library not in _OBJECT_NAMESPACES:
        raise TypeError(
            f"object arrays need exact, sympy or mpmath entries, not {library or 'none'}"
        )
    if library not in _made:
        _made[library] = _OBJECT_NAMESPACES[library]()
    return _made[library]
