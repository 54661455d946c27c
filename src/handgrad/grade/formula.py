"""A formula a student writes for Problem 1, read into one small tree, shown back, evaluated.

Two syntaxes, one tree (`Node`):

- NumPy-like, in the course's convention that vectors are columns: `outer(a1, dz)`,
  `a1 @ dz.T`, `W2 @ dz * (h1 > 0)`, `relu_prime(h1)`, `(yhat - ys) / B`, `sum(dz, axis=1)`;
  `*` and `/` are entry-wise, `@` is the matrix product, `**` an entry-wise power;
- LaTeX as students write it: `a_1 (\\hat{y} - y^{s})^\\top`, `W_2 \\delta \\odot
  \\mathbb{1}[h_1 > 0]`, `\\frac{\\partial L}{\\partial h_1}`, `\\operatorname{diag}(\\hat{y})`;
  juxtaposition, `\\cdot` and `\\times` are the matrix product, `\\odot` and `\\circ` entry-wise.

`read_formula` detects the syntax (a backslash, `^`, a brace or `a_1` means LaTeX) unless told. Both
readers are hand-written (a tokenizer and a recursive-descent parser each), never `eval`: an
unreadable formula is a `FormulaError` with the position and a caret line, and hostile input is
refused before any work grows with it (length, nesting depth, exponents, sizes: `MAX_*`).

The tree is shown back as text in the NumPy-like syntax (`formula_text`) and as LaTeX
(`formula_latex`, which `read_formula(..., "latex")` reads back as the same tree), so a student
sees how their input was read. `evaluate` computes it on float64 arrays: vectors are columns
(k × 1), a batch is k × B (one column per instance), scalars are 0-d.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from handgrad.errors import HandgradError
from handgrad.text import quoted

Syntax = Literal["numpy", "latex"]
SYNTAXES: tuple[Syntax, ...] = ("numpy", "latex")

MAX_LENGTH = 2000  # characters of one formula: a derivation's line is a few dozen
MAX_DEPTH = 40  # nesting of parentheses, fractions and prefix signs
MAX_CHAIN = 120  # operations in a chain (x + x + ... or x.T.T...): the tree's depth
MAX_EXPONENT = 10  # |p| of a power: squares and inverses, never 2**99999
MAX_NUMBER = 1e12  # a number written in a formula
MAX_SIZE = 64  # ones(k), eye(k): evaluation runs on small sizes only


class FormulaError(HandgradError):
    """A formula that cannot be read or evaluated, with the position of the trouble."""

    def __init__(self, message: str, text: str = "", position: int | None = None) -> None:
        self.message, self.text, self.position = message, text, position
        super().__init__(str(self))

    def __str__(self) -> str:
        if self.position is None or not self.text:
            return self.message
        return f"{self.message} (at character {self.position + 1})\n{self.caret()}"

    @property
    def line(self) -> str:
        """The message on one line, with the position."""
        where = "" if self.position is None else f" (at character {self.position + 1})"
        return self.message + where

    def caret(self, width: int = 72) -> str:
        """The formula (a window of it when long) and a caret under the position."""
        text = self.text.replace("\n", " ").replace("\t", " ")
        pos = min(self.position or 0, len(text))
        start = max(0, min(pos - width // 2, len(text) - width))
        window = text[start:start + width]
        prefix = "…" if start > 0 else ""
        suffix = "…" if start + width < len(text) else ""
        return f"  {prefix}{window}{suffix}\n  {' ' * (len(prefix) + pos - start)}^"


@dataclass(frozen=True)
class Node:
    """One operation of a formula.

    op: num (value: float), name (value: the canonical name), call (value: the function, args
    its arguments), add, sub, mul (entry-wise), div (entry-wise), matmul, neg, T (transpose),
    pow (value: the exponent), cmp (value: > >= < <=, an indicator 0/1). `pos`: where it was
    written (0-based character).
    """

    op: str
    args: tuple[Node, ...] = ()
    value: Any = None
    pos: int = 0

    def walk(self) -> list[Node]:
        """This node and every node under it."""
        out, stack = [], [self]
        while stack:
            node = stack.pop()
            out.append(node)
            stack.extend(node.args)
        return out

    def names(self) -> set[str]:
        return {node.value for node in self.walk() if node.op == "name"}

    def depth(self) -> int:
        """The longest path from this node to a leaf (counted without recursion)."""
        deepest, stack = 0, [(self, 1)]
        while stack:
            node, level = stack.pop()
            deepest = max(deepest, level)
            stack.extend((child, level + 1) for child in node.args)
        return deepest


@dataclass(frozen=True)
class Function:
    """A function a formula may call: its arity and how it is written in LaTeX."""

    low: int
    high: int
    latex: str  # with {0}, {1} for the arguments (already typeset)


FUNCTIONS: dict[str, Function] = {
    "outer": Function(2, 2, r"{0}\,{1}^{{\top}}"),
    "relu": Function(1, 1, r"\operatorname{{ReLU}}({0})"),
    "relu_prime": Function(1, 1, r"\operatorname{{ReLU}}'({0})"),
    "leaky_relu": Function(1, 1, r"\operatorname{{LeakyReLU}}({0})"),
    "leaky_relu_prime": Function(1, 1, r"\operatorname{{LeakyReLU}}'({0})"),
    "sigmoid": Function(1, 1, r"\sigma({0})"),
    "sigmoid_prime": Function(1, 1, r"\sigma'({0})"),
    "tanh": Function(1, 1, r"\tanh({0})"),
    "tanh_prime": Function(1, 1, r"\tanh'({0})"),
    "f": Function(1, 1, r"f({0})"),
    "f_prime": Function(1, 1, r"f'({0})"),
    "softmax": Function(1, 1, r"\operatorname{{softmax}}({0})"),
    "log": Function(1, 1, r"\log({0})"),
    "exp": Function(1, 1, r"\exp({0})"),
    "sum": Function(1, 2, r"\operatorname{{sum}}({0})"),
    "mean": Function(1, 2, r"\operatorname{{mean}}({0})"),
    "ones": Function(1, 1, r"\mathbf{{1}}_{{{0}}}"),
    "eye": Function(1, 1, r"I_{{{0}}}"),
    "diag": Function(1, 1, r"\operatorname{{diag}}({0})"),
    "transpose": Function(1, 1, r"({0})^{{\top}}"),
    "maximum": Function(2, 2, r"\max({0}, {1})"),
    "where": Function(3, 3, r"\operatorname{{where}}({0}, {1}, {2})"),
    "heaviside": Function(1, 2, r"\operatorname{{heaviside}}({0}, {1})"),
    "sign": Function(1, 1, r"\operatorname{{sign}}({0})"),
    "cosh": Function(1, 1, r"\cosh({0})"),
    "sech": Function(1, 1, r"\operatorname{{sech}}({0})"),
}
# other spellings of the functions (NumPy's, and words a student uses)
FUNCTION_ALIASES = {
    "relu_grad": "relu_prime", "drelu": "relu_prime", "relu_derivative": "relu_prime",
    "relu_deriv": "relu_prime", "dsigmoid": "sigmoid_prime", "sigma": "sigmoid",
    "dtanh": "tanh_prime", "fprime": "f_prime", "df": "f_prime", "identity": "eye",
    "ln": "log", "Softmax": "softmax", "ReLU": "relu", "Relu": "relu", "LeakyReLU": "leaky_relu",
    "max": "maximum", "H": "heaviside", "sgn": "sign",
}
MATMUL_FUNCTIONS = ("dot", "matmul")  # np.dot(a, b), np.matmul(a, b): a @ b
MULTIPLY_FUNCTIONS = ("multiply",)
AXIS_FUNCTIONS = ("sum", "mean")
SIZE_FUNCTIONS = ("ones", "eye")
DERIVATIVE_OF = {"relu": "relu_prime", "leaky_relu": "leaky_relu_prime",
                 "sigmoid": "sigmoid_prime", "tanh": "tanh_prime", "f": "f_prime"}

Resolve = Callable[[str], str]  # a name as written -> its canonical name (or as written)


def detect_syntax(text: str) -> Syntax:
    """LaTeX when the formula has a backslash, a ^, a brace or a numbered subscript (a_1);
    NumPy-like otherwise."""
    text = _uncommented(text) if "\\" not in text else text
    if any(c in text for c in "\\^{}") or re.search(r"[A-Za-z]_\d", text):
        return "latex"
    return "numpy"


def read_formula(text: str, syntax: Syntax | None = None,
                 resolve: Resolve | None = None) -> Node:
    """The tree of a formula; `lhs = rhs` reads the right-hand side. Raises FormulaError."""
    if not isinstance(text, str):
        raise FormulaError(f"a formula is text, not {type(text).__name__}")
    if len(text) > MAX_LENGTH:
        raise FormulaError(f"{len(text):,} characters: a formula may have at most "
                           f"{MAX_LENGTH:,}", text, MAX_LENGTH)
    chosen = syntax or detect_syntax(text)
    if chosen not in SYNTAXES:
        raise FormulaError(f"unknown syntax {chosen!r}; use numpy or latex")
    start = _right_hand_side(_uncommented(text) if chosen == "numpy" else text)
    if not text[start:].strip():
        raise FormulaError("the formula is empty" if start == 0 else "nothing after '='",
                           text, len(text))
    reader = _NumpyReader if chosen == "numpy" else _LatexReader
    node = reader(text, start, resolve or (lambda name: name)).read()
    if node.depth() > MAX_CHAIN:
        raise FormulaError(f"more than {MAX_CHAIN} operations in a chain: a gradient's formula "
                           "has a few dozen", text, start)
    return node


def _uncommented(text: str) -> str:
    """A NumPy-like formula with its # comments blanked out (positions kept)."""
    return re.sub(r"#[^\n]*", lambda match: " " * len(match.group()), text)


def _right_hand_side(text: str) -> int:
    """Where the part after the last top-level '=' starts (0 when there is none)."""
    depth, start = 0, 0
    for i, char in enumerate(text):
        if char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
        elif (char == "=" and depth == 0 and (i == 0 or text[i - 1] not in "<>=!")
              and (i + 1 == len(text) or text[i + 1] != "=")):
            start = i + 1
    return start


@dataclass(frozen=True)
class _Token:
    kind: str  # num, id (NumPy), letter, word, cmd (LaTeX), op, end
    text: str
    pos: int


class _Reader:
    """What both parsers share: the token stream, depth, errors."""

    def __init__(self, text: str, start: int, resolve: Resolve) -> None:
        self.text, self.resolve = text, resolve
        self.tokens = self.tokenize(start)
        self.i = 0
        self.depth = 0

    def tokenize(self, start: int) -> list[_Token]:
        raise NotImplementedError

    def read(self) -> Node:
        node = self.comparison()
        token = self.peek()
        if token.kind != "end":
            raise self.error(f"unexpected {_what(token)}", token.pos)
        return node

    def comparison(self) -> Node:
        raise NotImplementedError

    # -- the stream
    def peek(self, ahead: int = 0) -> _Token:
        return self.tokens[min(self.i + ahead, len(self.tokens) - 1)]

    def take(self) -> _Token:
        token = self.peek()
        self.i = min(self.i + 1, len(self.tokens) - 1)
        return token

    def at(self, *texts: str) -> bool:
        token = self.peek()
        return token.kind in ("op", "cmd") and token.text in texts

    def expect(self, text: str, why: str = "") -> _Token:
        token = self.peek()
        if not self.at(text):
            raise self.error(f"expected '{text}'{why}, found {_what(token)}", token.pos)
        return self.take()

    def error(self, message: str, position: int) -> FormulaError:
        return FormulaError(message, self.text, position)

    def deeper(self, pos: int) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.error(f"nested more than {MAX_DEPTH} levels deep", pos)

    def number(self, token: _Token) -> Node:
        try:
            value = float(token.text)
        except ValueError:
            raise self.error(f"'{token.text}' is not a number", token.pos) from None
        if not math.isfinite(value) or abs(value) > MAX_NUMBER:
            raise self.error(f"the number '{token.text[:20]}' is too large (at most "
                             f"{MAX_NUMBER:g})", token.pos)
        return Node("num", value=value, pos=token.pos)

    def exponent(self, node: Node, value: float, pos: int) -> Node:
        if abs(value) > MAX_EXPONENT:
            raise self.error(f"the exponent {value:g} is too large: at most {MAX_EXPONENT} "
                             "(a derivation needs squares, not large powers)", pos)
        return Node("pow", (node,), value, pos)

    def call(self, name: str, args: list[Node], pos: int) -> Node:
        """A call checked for its arity; dot/matmul/multiply become operators."""
        if name in MATMUL_FUNCTIONS + MULTIPLY_FUNCTIONS:
            if len(args) != 2:
                raise self.error(f"{name}() takes 2 arguments, got {len(args)}", pos)
            return Node("matmul" if name in MATMUL_FUNCTIONS else "mul", tuple(args), pos=pos)
        function = FUNCTIONS.get(name)
        if function is None and re.fullmatch(r"[A-Za-z]+\d+|x|y|z|ys|yhat|h|a|eps|d[A-Za-z]+\d*",
                                             name):
            raise self.error(f"'{name}' is not a function: write {name} @ (...) for a product "
                             "(a product by juxtaposition is LaTeX's)", pos)
        if function is None:
            raise self.error(f"unknown function '{name}' (known: "
                             f"{', '.join(FUNCTIONS)})", pos)
        if not function.low <= len(args) <= function.high:
            count = (str(function.low) if function.low == function.high
                     else f"{function.low} or {function.high}")
            raise self.error(f"{name}() takes {count} argument"
                             f"{'' if count == '1' else 's'}, got {len(args)}", pos)
        if name in AXIS_FUNCTIONS and len(args) == 2 and not (
                args[1].op == "num" and args[1].value in (0, 1)):
            raise self.error(f"{name}'s axis must be 0 (sum down each column) or 1 (along each "
                             "row)", args[1].pos)
        if name == "heaviside" and len(args) == 1:  # H(h): the value at 0 never matters here
            args = [*args, Node("num", value=0.0, pos=pos)]
        return Node("call", tuple(args), name, pos)


def _what(token: _Token) -> str:
    return "the end of the formula" if token.kind == "end" else f"'{token.text}'"


# ---------------------------------------------------------------------------- NumPy-like

_NUMPY_TOKEN = re.compile(
    r"\s+|(?P<num>\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)"
    r"|(?P<id>[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<op>\*\*|>=|<=|==|!=|[-+*/@(),.<>=\[\];#])"
)
_NUMPY_UNICODE = {"−": ("op", "-"), "⊙": ("op", "*"), "∘": ("op", "*"), "ᵀ": ("op", "ᵀ"),
                  "ŷ": ("id", "yhat"), "ε": ("id", "eps"), "ϵ": ("id", "eps"),
                  "·": ("op", "@"), "×": ("op", "@")}


class _NumpyReader(_Reader):
    """expr: comparison := additive (cmp additive)?; additive := term (± term)*;
    term := unary ((* / @) unary)*; unary := (- +) unary | power; power := postfix (** number)?;
    postfix := atom (.T | ᵀ)*; atom := number | name | name(args) | np.name(args) | (expr)."""

    def tokenize(self, start: int) -> list[_Token]:
        tokens, text, i = [], self.text, start
        while i < len(text):
            char = text[i]
            if char in _NUMPY_UNICODE:
                kind, value = _NUMPY_UNICODE[char]
                if value == "eps" or value == "yhat" or kind == "op":
                    tokens.append(_Token(kind, value, i))
                i += 1
                continue
            if char == "ˢ" and tokens and tokens[-1].text == "y":  # yˢ
                tokens[-1] = _Token("id", "ys", tokens[-1].pos)
                i += 1
                continue
            match = _NUMPY_TOKEN.match(text, i)
            if match is None or match.end() == i:
                raise self.error(f"{quoted(char)} is not part of the NumPy-like syntax"
                                 + (" (LaTeX needs a backslash command, or --syntax latex)"
                                    if char in "$&" else ""), i)
            if match.group() == "#":  # a comment, to the end of its line
                end = text.find("\n", i)
                i = len(text) if end < 0 else end
                continue
            if match.group() == ";":
                if text[i + 1:].strip() and not text[i + 1:].lstrip().startswith("#"):
                    raise self.error("';' separates statements: give one formula per "
                                     "quantity", i)
                i += 1
                continue
            if match.lastgroup:
                tokens.append(_Token(match.lastgroup, match.group(), i))
            i = match.end()
        tokens.append(_Token("end", "", len(text)))
        return tokens

    def comparison(self) -> Node:
        self.deeper(self.peek().pos)
        left = self.additive()
        if self.at(">", ">=", "<", "<=", "!="):
            token = self.take()
            left = Node("cmp", (left, self.additive()), token.text, token.pos)
        if self.at("==", "="):
            raise self.error("'==' is not a formula; write the mask as (h1 > 0)", self.peek().pos)
        self.depth -= 1
        return left

    def additive(self) -> Node:
        node = self.term()
        while self.at("+", "-"):
            token = self.take()
            node = Node("add" if token.text == "+" else "sub", (node, self.term()), pos=token.pos)
        return node

    def term(self) -> Node:
        node = self.unary()
        ops = {"*": "mul", "/": "div", "@": "matmul"}
        while self.at(*ops):
            token = self.take()
            node = Node(ops[token.text], (node, self.unary()), pos=token.pos)
        return node

    def unary(self) -> Node:
        if self.at("-", "+"):
            token = self.take()
            self.deeper(token.pos)
            inner = self.unary()
            self.depth -= 1
            return inner if token.text == "+" else Node("neg", (inner,), pos=token.pos)
        return self.power()

    def power(self) -> Node:
        node = self.postfix()
        if self.at("**"):
            token = self.take()
            sign = -1.0 if self.at("-") else 1.0
            if self.at("-", "+"):
                self.take()
            exponent = self.peek()
            if exponent.kind != "num":
                raise self.error("an exponent must be a number (** 2, ** -1)", exponent.pos)
            self.take()
            node = self.exponent(node, sign * self.number(exponent).value, token.pos)
        if self.at("^"):
            raise self.error("'^' is not a power in NumPy: write ** (or .T for a transpose)",
                             self.peek().pos)
        return node

    def postfix(self) -> Node:
        node = self.atom()
        while True:
            if self.at("ᵀ"):
                node = Node("T", (node,), pos=self.take().pos)
            elif self.at("."):
                dot = self.take()
                name = self.peek()
                if name.kind == "id" and name.text == "T":
                    self.take()
                    node = Node("T", (node,), pos=dot.pos)
                elif name.kind == "id" and name.text in _METHODS and self.peek(1).text == "(":
                    self.take()
                    node = self.method(node, name.text, dot.pos)
                else:
                    raise self.error("only .T (the transpose) and the methods "
                                     f"{', '.join(_METHODS)} may follow a value", dot.pos)
            elif self.at("["):
                raise self.error("indexing is not part of a formula; write whole vectors and "
                                 "matrices", self.peek().pos)
            else:
                return node

    def atom(self) -> Node:
        token = self.peek()
        if token.kind == "num":
            self.take()
            return self.number(token)
        if self.at("("):
            self.take()
            node = self.comparison()
            self.expect(")", " to close the '('")
            return node
        if token.kind == "id":
            self.take()
            name = token.text
            if name in ("np", "numpy") and self.at("."):
                self.take()
                inner = self.peek()
                if inner.kind != "id":
                    raise self.error(f"expected a function after '{name}.'", inner.pos)
                self.take()
                name = inner.text
                if not self.at("("):
                    raise self.error(f"expected '(' after {token.text}.{name}", self.peek().pos)
            if self.at("("):
                return self.arguments(name, token.pos)
            return Node("name", value=self.resolve(name), pos=token.pos)
        raise self.error(f"expected a value, found {_what(token)}", token.pos)

    def arguments(self, name: str, pos: int, first: Node | None = None) -> Node:
        """name(args), keywords included (axis=, keepdims= of sum and mean); `first`: the
        value a method is called on (dz.sum(axis=1))."""
        name = FUNCTION_ALIASES.get(name, name)
        self.expect("(")
        args: list[Node] = [] if first is None else [first]
        axis: Node | None = None
        while not self.at(")"):
            if self.peek().kind == "id" and self.peek(1).text == "=":
                keyword = self.take()
                self.take()
                if name not in AXIS_FUNCTIONS or keyword.text not in ("axis", "keepdims"):
                    raise self.error(f"{name}() takes no argument '{keyword.text}'", keyword.pos)
                if keyword.text == "keepdims":  # a column stays a column either way
                    flag = self.take()
                    if flag.text not in ("True", "False", "1", "0"):
                        raise self.error("keepdims is True or False", flag.pos)
                else:
                    axis = self.axis(self.comparison())
            elif name in SIZE_FUNCTIONS and self.at("(") and not args:
                args += self.size_tuple()
            else:
                args.append(self.comparison())
            if not self.at(","):
                break
            self.take()
        self.expect(")", f" to close {name}(")
        if name in AXIS_FUNCTIONS and len(args) == 2:
            axis = self.axis(args.pop())
        if name in AXIS_FUNCTIONS and not args:
            raise self.error(f"{name}() needs the values to add up: {name}(dz, axis=1)", pos)
        if axis is not None:
            args.append(axis)
        if name == "ones" and len(args) == 2:
            return self.ones_matrix(args, pos)
        return self.call(name, args, pos)

    def axis(self, node: Node) -> Node:
        """An axis: 0 (down each column), 1 (along each row); -1 and -2 as NumPy counts."""
        if node.op == "neg" and node.args[0].op == "num":
            node = Node("num", value=-node.args[0].value, pos=node.pos)
        if node.op != "num" or node.value not in (0, 1, -1, -2):
            raise self.error("the axis must be 0 (sum down each column) or 1 (along each row)",
                             node.pos)
        return Node("num", value=float(node.value % 2), pos=node.pos)

    def size_tuple(self) -> list[Node]:
        """ones((B, 1)): the shape as a tuple."""
        self.expect("(")
        sizes = [self.comparison()]
        while self.at(","):
            self.take()
            if not self.at(")"):
                sizes.append(self.comparison())
        self.expect(")", " to close the shape")
        if len(sizes) > 2:
            raise self.error("a shape has at most 2 sizes", sizes[-1].pos)
        return sizes

    def ones_matrix(self, args: list[Node], pos: int) -> Node:
        """ones(k, 1) is the column ones(k); ones(1, k) the row; ones(m, k) ones(m) ones(k)ᵀ."""
        rows, columns = args
        if columns.op == "num" and columns.value == 1:
            return self.call("ones", [rows], pos)
        if rows.op == "num" and rows.value == 1:
            return Node("T", (self.call("ones", [columns], pos),), pos=pos)
        return self.call("outer", [self.call("ones", [rows], pos),
                                   self.call("ones", [columns], pos)], pos)

    def method(self, node: Node, name: str, pos: int) -> Node:
        """value.sum(axis=1), value.dot(other), value.astype(float), value.transpose()."""
        if name in ("sum", "mean"):
            return self.arguments(name, pos, first=node)
        if name == "dot":
            self.expect("(")
            other = self.comparison()
            self.expect(")", " to close dot(")
            return Node("matmul", (node, other), pos=pos)
        self.expect("(")
        if name == "astype":  # the mask as numbers: (h1 > 0).astype(float) is the mask
            parts: list[str] = []
            while not self.at(")") and self.peek().kind != "end" and len(parts) < 4:
                parts.append(self.take().text)
            if "".join(parts).removeprefix("np.").removeprefix("numpy.") not in _DTYPES:
                raise self.error(f"astype takes a number type ({', '.join(_DTYPES[:3])})",
                                 pos)
            self.expect(")", " to close astype(")
            return node
        self.expect(")", f" to close {name}(")
        return Node("T", (node,), pos=pos)  # transpose()


_METHODS = ("sum", "mean", "dot", "astype", "transpose")
_DTYPES = ("float", "int", "float64", "float32", "int64", "int32", "double")


# ---------------------------------------------------------------------------------- LaTeX

_LATEX_WORDS = ("ReLU", "relu", "Relu", "LeakyReLU", "diag", "softmax", "Softmax", "sum",
                "mean", "exp", "log", "ln", "tanh", "sigmoid", "outer", "max")
_LATEX_NAMES = ("yhat", "ys", "eps", "epsilon", "alpha", "dz", "dyhat")
_LOSS_WORDS = ("L", "Loss", "loss", "J", "E", "\\ell", "\\mathcal{L}", "\\mathcal{J}",
               "\\operatorname{Loss}", "\\text{Loss}", "\\mathrm{Loss}", "\\mathcal{l}")
_SPACING = {"\\,", "\\;", "\\:", "\\!", "\\ ", "\\quad", "\\qquad", "\\left", "\\right",
            "\\big", "\\Big", "\\bigg", "\\Bigg", "\\bigl", "\\bigr", "\\Bigl", "\\Bigr",
            "\\displaystyle", "\\textstyle", "\\limits", "~", "$", "\\[", "\\]"}
_WRAPPERS = {"\\mathbf", "\\boldsymbol", "\\bm", "\\vec", "\\mathit", "\\pmb", "\\mathbold"}
_TEXT = {"\\operatorname", "\\mathrm", "\\text", "\\textrm", "\\textit", "\\mathsf", "\\mbox"}
_ONE = {"\\mathbb", "\\mathds", "\\mathbbm"}
_TRANSPOSES = {"\\top", "T", "\\intercal", "\\mathsf{T}", "\\mathrm{T}", "\\text{T}", "\\mathsfT",
               "\\tau"}
_PRIMES = {"'", "\\prime"}
_COMPARE = {">": ">", "<": "<", "\\gt": ">", "\\lt": "<", "\\geq": ">=", "\\ge": ">=",
            "\\geqslant": ">=", "\\leq": "<=", "\\le": "<=", "\\leqslant": "<=", "\\neq": "!=",
            "\\ne": "!="}
_PRODUCTS = {"\\cdot": "matmul", "\\times": "matmul", "\\odot": "mul", "\\circ": "mul",
             "*": "mul", "/": "div", "\\otimes": "outer"}
_COMMAND_FUNCTIONS = {"\\exp": "exp", "\\log": "log", "\\ln": "log", "\\tanh": "tanh",
                      "\\sigma": "sigmoid", "\\max": "maximum", "\\cosh": "cosh",
                      "\\sech": "sech", "\\operatorname{sgn}": "sign"}
_LATEX_UNICODE = {"−": "-", "⊙": "\\odot", "∘": "\\circ", "·": "\\cdot", "×": "\\times",
                  "ᵀ": "ᵀ", "ŷ": "ŷ", "ε": "\\epsilon", "ϵ": "\\epsilon", "∂": "\\partial",
                  "δ": "\\delta", "≥": "\\geq", "≤": "\\leq", "σ": "\\sigma", "′": "'"}
_CLOSE = {"(": ")", "[": "]", "\\{": "\\}", "{": "}"}
_COMMAND = re.compile(r"\\([A-Za-z]+|.)", re.DOTALL)
_DIGITS = re.compile(r"\d*")
_LATEX_NUMBER = re.compile(r"\d*\.?\d+|\d+")
_FRACTIONS = {"\\tfrac": "\\frac", "\\dfrac": "\\frac", "\\cfrac": "\\frac"}


def _unwrapped(text: str) -> str:
    """\\mathbf{y} → y: a bold or arrowed letter inside \\hat{...}."""
    return re.sub(r"\\(mathbf|boldsymbol|bm|vec|mathit|pmb)\{?([A-Za-z])\}?", r"\2", text)


def _trimmed(tokens: list[_Token], end: int) -> list[_Token]:
    """The tokens of the formula itself: a trailing `\\in \\mathbb{R}^{n \\times q}` (its
    shape) and a sentence's closing '.', ',' or ';' are left out."""
    depth = 0
    for k, token in enumerate(tokens):
        if token.kind == "op" and token.text in "([{":
            depth += 1
        elif token.kind == "op" and token.text in ")]}":
            depth -= 1
        elif token.kind == "cmd" and token.text == "\\in" and depth == 0 and k > 0:
            tokens = tokens[:k]
            break
    while tokens and tokens[-1].kind == "op" and tokens[-1].text in (".", ",", ";"):
        tokens = tokens[:-1]
    return [*tokens, _Token("end", "", end)]


class _LatexReader(_Reader):
    """The LaTeX subset students write for gradients; see the module's docstring.

    comparison := sum (cmp sum)?; sum := product (± product)*; product := signed ((\\cdot
    \\times \\odot \\circ / *)? signed)* (juxtaposition is the matrix product); signed := (- +)
    signed | postfix; postfix := atom (^\\top | ^{p} | ᵀ)*; atom := number | name | \\frac{}{} |
    \\frac{\\partial L}{\\partial name} | function argument | \\mathbb{1}[cond] | \\mathbf{1}_k |
    I_k | ( ) [ ] { } groups.
    """

    def tokenize(self, start: int) -> list[_Token]:
        tokens, text, i = [], self.text, start
        while i < len(text):
            char = text[i]
            if char.isspace() or char == "$" or char == "&":
                if char == "&":
                    raise self.error("'&' (an aligned environment) is not read: give one "
                                     "formula per quantity", i)
                i += 1
                continue
            if char == "\\":
                match = _COMMAND.match(text, i)
                if match is None:
                    raise self.error("a backslash at the end of the formula cannot be read: "
                                     "a command follows it (\\top, \\odot, ...)", i)
                word = match.group()
                i = match.end()
                if word[1:].isspace():  # a backslash before a space or a line break: a space
                    continue
                word = _FRACTIONS.get(word, word)
                if word == "\\\\":
                    raise self.error("a line break '\\\\' is not read: give one formula per "
                                     "quantity", match.start())
                if word not in _SPACING:
                    tokens.append(_Token("cmd", word, match.start()))
                continue
            if char.isalpha() and char.isascii():
                j = i
                while j < len(text) and text[j].isascii() and text[j].isalpha():
                    j += 1
                run = text[i:j]
                digits = _DIGITS.match(text, j)
                if digits is None:  # \d* always matches; never asserted (python -O)
                    raise self.error("cannot be read", j)
                if run in _LATEX_WORDS:
                    tokens.append(_Token("word", run, i))
                elif run in _LATEX_NAMES or (len(run) <= 3 and digits.group()):
                    # NumPy-like names inside LaTeX: W2, h1, dW1, yhat, ys
                    tokens.append(_Token("name", run + digits.group(), i))
                    j = digits.end()
                else:
                    tokens.extend(_Token("letter", c, i + k) for k, c in enumerate(run))
                i = j
                continue
            if char.isdigit() or (char == "." and text[i + 1:i + 2].isdigit()):
                match = _LATEX_NUMBER.match(text, i)
                if match is None:
                    raise self.error(f"{quoted(char)} cannot be read as a number", i)
                tokens.append(_Token("num", match.group(), i))
                i = match.end()
                continue
            if char in _LATEX_UNICODE:
                tokens.append(_Token("op" if _LATEX_UNICODE[char][0] != "\\" else "cmd",
                                     _LATEX_UNICODE[char], i))
                i += 1
                continue
            if char == "ˢ" and tokens and tokens[-1].text == "y":  # yˢ
                tokens += [_Token("op", "^", i), _Token("letter", "s", i)]
                i += 1
                continue
            if char in "{}()[]^_+-*/=<>,'|.;":
                tokens.append(_Token("op", char, i))
                i += 1
                continue
            raise self.error(f"{quoted(char)} is not part of the LaTeX this grader reads", i)
        return _trimmed(tokens, len(text))

    def at(self, *texts: str) -> bool:
        token = self.peek()
        return token.kind in ("op", "cmd") and token.text in texts

    def comparison(self) -> Node:
        self.deeper(self.peek().pos)
        left = self.additive()
        token = self.peek()
        if token.kind in ("op", "cmd") and token.text in _COMPARE:
            self.take()
            left = Node("cmp", (left, self.additive()), _COMPARE[token.text], token.pos)
        self.depth -= 1
        return left

    def additive(self) -> Node:
        node = self.product()
        while self.at("+", "-"):
            token = self.take()
            node = Node("add" if token.text == "+" else "sub", (node, self.product()),
                        pos=token.pos)
        return node

    def starts_factor(self) -> bool:
        token = self.peek()
        if token.kind in ("num", "letter", "word", "name"):
            return True
        if token.kind == "cmd":
            return token.text not in _PRODUCTS and token.text not in _COMPARE and token.text \
                not in ("\\}", "\\top", "\\partial")
        return token.kind == "op" and token.text in ("(", "[", "{")

    def product(self) -> Node:
        """Entry-wise products (⊙, ∘, *), looser than the matrix product: in math notation
        `\\mathbb{1}[h > 0] \\odot W z` is 1[h > 0] ⊙ (W z)."""
        node = self.matrix_product()
        while True:
            token = self.peek()
            if token.kind in ("op", "cmd") and _PRODUCTS.get(token.text) == "mul":
                self.take()
                node = Node("mul", (node, self.matrix_product()), pos=token.pos)
            else:
                return node

    def matrix_product(self) -> Node:
        """Juxtaposition, \\cdot, \\times, / and \\otimes (the outer product u vᵀ), left to
        right."""
        node = self.signed()
        while True:
            token = self.peek()
            kind = _PRODUCTS.get(token.text) if token.kind in ("op", "cmd") else None
            if kind in ("matmul", "div", "outer"):
                self.take()
                right = self.signed()
                node = (self.call("outer", [node, right], token.pos) if kind == "outer"
                        else Node(kind, (node, right), pos=token.pos))
            elif self.starts_factor():
                node = Node("matmul", (node, self.signed()), pos=token.pos)
            else:
                return node

    def signed(self) -> Node:
        if self.at("-", "+"):
            token = self.take()
            self.deeper(token.pos)
            inner = self.signed()
            self.depth -= 1
            return inner if token.text == "+" else Node("neg", (inner,), pos=token.pos)
        return self.postfix()

    def postfix(self) -> Node:
        node = self.atom()
        while True:
            if self.at("ᵀ"):
                node = Node("T", (node,), pos=self.take().pos)
            elif self.at("^"):
                caret = self.take()
                group, pos = self.group_text()
                if group in _TEXT and self.at("{"):  # ^\mathsf{T}: the command's group follows
                    group += "{" + self.group_text()[0] + "}"
                if group in _TRANSPOSES:
                    node = Node("T", (node,), pos=caret.pos)
                elif re.fullmatch(r"[-+]?\d+(\.\d+)?", group):
                    node = self.exponent(node, float(group), caret.pos)
                elif group in ("-1\\top", "\\top-1"):
                    raise self.error("an inverse is not part of a gradient formula", pos)
                else:
                    raise self.error(f"the superscript '{group}' is not read: ^\\top is a "
                                     "transpose, ^{2} a square", pos)
            elif self.at("'"):
                raise self.error("a prime after a value is not read: write ^\\top for a "
                                 "transpose, or f'(h) for a derivative", self.peek().pos)
            else:
                return node

    def group_text(self) -> tuple[str, int]:
        """The text of a sub- or superscript: one token, or a braced group (spaces dropped)."""
        token = self.peek()
        if token.kind == "end":
            raise self.error("expected a sub- or superscript", token.pos)
        if not self.at("{"):
            self.take()
            return token.text, token.pos
        self.take()
        depth, parts = 1, []  # type: tuple[int, list[str]]
        while True:
            inner = self.take()
            if inner.kind == "end":
                raise self.error("expected '}' to close the '{'", token.pos)
            if inner.kind == "op" and inner.text == "{":
                depth += 1
            elif inner.kind == "op" and inner.text == "}":
                depth -= 1
                if depth == 0:
                    return "".join(parts), token.pos
            parts.append(inner.text)
            if len(parts) > 40:
                raise self.error("a sub- or superscript this long is not a name", token.pos)

    def braced(self, what: str) -> Node:
        self.expect("{", f" after {what}")
        node = self.comparison()
        self.expect("}", f" to close {what}")
        return node

    def atom(self) -> Node:
        token = self.peek()
        if token.kind == "num":
            self.take()
            if token.text == "1" and self.at("[", "\\{"):
                return self.indicator(token.pos)
            if token.text == "1" and self.at("_"):  # 1_{h_1 > 0}, 1_B
                return self.one(token.pos)
            return self.number(token)
        if token.kind == "op" and token.text in ("(", "[", "{"):
            self.take()
            node = self.comparison()
            self.expect(_CLOSE[token.text], f" to close the '{token.text}'")
            return node
        if token.kind == "letter":
            return self.name(self.take())
        if token.kind == "name":
            self.take()
            return self.decorated(token.text, token.pos)
        if token.kind == "word":
            self.take()
            return self.function(FUNCTION_ALIASES.get(token.text, token.text), token.pos)
        if token.kind == "op" and token.text == "ŷ":
            self.take()
            return self.decorated("yhat", token.pos)
        if token.kind != "cmd":
            raise self.error(f"expected a value, found {_what(token)}", token.pos)
        command = token.text
        self.take()
        if command == "\\frac":
            return self.fraction(token.pos)
        if command in ("\\hat", "\\widehat"):
            inner = _unwrapped(self.group_text()[0])
            if inner != "y":
                raise self.error(f"\\hat{{{inner}}} is not a quantity; \\hat{{y}} is ŷ",
                                 token.pos)
            return self.decorated("yhat", token.pos)
        if command in ("\\tilde", "\\widetilde"):
            inner = _unwrapped(self.group_text()[0])
            if inner != "y":
                raise self.error(f"\\tilde{{{inner}}} is not a quantity; y^{{s}} is yˢ",
                                 token.pos)
            return self.decorated("ys", token.pos)
        if command in _WRAPPERS:
            following = self.peek()
            if self.at("{") and self.peek(1).kind == "letter" and self.peek(2).text == "}":
                letter = self.peek(1)
                self.i += 3  # \mathbf{a}_1: the subscript follows the brace
                return self.name(letter)
            if self.at("{") and self.peek(1).text == "1" and self.peek(2).text == "}":
                self.i += 3
                return self.one(token.pos)
            if following.kind == "num" and following.text == "1":
                self.take()
                return self.one(token.pos)
            self.deeper(token.pos)
            node = self.braced(command) if self.at("{") else self.atom()
            self.depth -= 1
            if node.op == "name":  # \mathbf{W}_1: the subscript follows the brace
                return self.decorated(node.value, node.pos)
            return node
        if command in _ONE:
            inner, _ = self.group_text()
            if inner not in ("1", "I"):
                raise self.error(f"{command}{{{inner}}} is not read; \\mathbb{{1}}[h > 0] is "
                                 "the indicator", token.pos)
            return self.one(token.pos)
        if command in _TEXT:
            word, _ = self.group_text()
            if word in ("d", "\\partial"):  # \mathrm{d}W_1 is not read as a gradient
                raise self.error("write a gradient as \\frac{\\partial L}{\\partial W_1}",
                                 token.pos)
            function = FUNCTION_ALIASES.get(word, word)
            if function in FUNCTIONS or function in MATMUL_FUNCTIONS:
                return self.function(function, token.pos)
            return self.decorated(word, token.pos)
        if command in _COMMAND_FUNCTIONS:
            return self.function(_COMMAND_FUNCTIONS[command], token.pos)
        if command in ("\\epsilon", "\\varepsilon"):
            return Node("name", value=self.resolve("eps"), pos=token.pos)
        if command == "\\alpha":
            return Node("name", value=self.resolve("alpha"), pos=token.pos)
        if command == "\\delta":
            raise self.error("δ is not read (courses mean different things by it); write "
                             "\\frac{\\partial L}{\\partial h_1}", token.pos)
        if command == "\\{":
            node = self.comparison()
            self.expect("\\}", " to close the '\\{'")
            return node
        if command in ("\\begin", "\\end"):
            raise self.error("an environment (\\begin{...}) is not read: give the formula alone, "
                             "or between $ and $", token.pos)
        if command in ("\\sum", "\\prod", "\\nabla", "\\partial", "\\int"):
            raise self.error(f"{command} is not read: write a gradient as \\frac{{\\partial "
                             "L}{\\partial W_1}, a sum over a batch as a product with "
                             "\\mathbf{1}_B", token.pos)
        raise self.error(f"the command {command} is not read here", token.pos)

    def name(self, token: _Token) -> Node:
        letter = token.text
        if letter == "I" and self.at("_"):
            self.take()
            size, pos = self.group_text()
            return self.call("eye", [self.size(size, pos)], token.pos)
        if (letter == "f" and self.at("'", "(")) or (letter == "f" and self.at("^") and \
                self.peek(1).text in ("\\prime", "{")):
            return self.function("f", token.pos)
        if letter == "H" and self.at("("):  # H(h_1): the Heaviside step, 1 where h > 0
            return self.function("heaviside", token.pos)
        if letter == "d":
            gradient = self.gradient_name(token.pos)
            if gradient is not None:
                return gradient
        return self.decorated(letter, token.pos)

    def gradient_name(self, pos: int) -> Node | None:
        """dh_1, dW_1, d z, d\\hat{y}: a d before a quantity that has a gradient is that
        gradient's name (as dz is), not the size d times it."""
        following = self.peek()
        if not ((following.kind in ("letter", "name") and following.text[:1] in "zhaWbyY") or
                (following.kind == "cmd" and following.text in ("\\hat", "\\widehat"))):
            return None
        save = self.i
        try:
            inner = self.atom()
        except FormulaError:
            inner = None
        if inner is None or inner.op != "name" or not re.fullmatch(
                r"z|yhat|[haWb]\d+", str(inner.value)):
            self.i = save
            return None
        return Node("name", value=self.resolve("d" + inner.value), pos=pos)

    def decorated(self, base: str, pos: int) -> Node:
        """A name with its subscript and name-like superscripts: h_1, W^{(2)}, y^s, y_{s}."""
        name = base
        while True:
            if self.at("_"):
                save = self.i
                self.take()
                sub, sub_pos = self.group_text()
                if re.fullmatch(r"\d+|[a-z]", sub) or (base == "y" and sub in ("s", "S")):
                    name += sub
                    continue
                if re.fullmatch(r"\\(text|mathrm)\{?\w+\}?", sub):
                    name += re.sub(r"\\(text|mathrm)|[{}]", "", sub)
                    continue
                self.i = save
                raise self.error(f"the subscript '{sub}' is not read on {base}", sub_pos)
            if self.at("^") and self.peek(1).kind != "end":
                save = self.i
                self.take()
                sup, _ = self.group_text()
                layer = re.fullmatch(r"\((\d+)\)|\[(\d+)\]", sup)
                if layer:
                    name += layer.group(1) or layer.group(2)
                    continue
                if base == "y" and name == "y" and sup in ("s", "S", "(s)", "\\text{s}",
                                                             "\\mathrm{s}", "ls", "LS"):
                    name = "ys"
                    continue
                self.i = save  # a transpose or a power: the postfix reads it
            if name == "y" and base == "y":
                pass
            return Node("name", value=self.resolve(name), pos=pos)

    def size(self, text: str, pos: int) -> Node:
        if re.fullmatch(r"\d+", text):
            return Node("num", value=float(text), pos=pos)
        if re.fullmatch(r"[A-Za-z]\w*", text):
            return Node("name", value=self.resolve(text), pos=pos)
        raise self.error(f"'{text}' is not a size (d, n, q, B or a number)", pos)

    def one(self, pos: int) -> Node:
        """After \\mathbb{1} or \\mathbf{1}: an indicator [cond] or the ones vector 1_k."""
        if self.at("[", "(", "\\{"):
            return self.indicator(pos)
        if self.at("_"):
            self.take()
            if self.at("{"):
                save = self.i
                inner, inner_pos = self.group_text()
                if any(c in inner for c in "<>") or any(k in inner for k in _COMPARE if
                                                        k.startswith("\\")):
                    self.i = save
                    return self.braced_condition(pos)
                return self.call("ones", [self.size(inner, inner_pos)], pos)
            size, size_pos = self.group_text()
            return self.call("ones", [self.size(size, size_pos)], pos)
        raise self.error("write \\mathbb{1}[h_1 > 0] for the mask, or \\mathbf{1}_{B} for a "
                         "vector of ones", pos)

    def indicator(self, pos: int) -> Node:
        opener = self.take()
        self.deeper(opener.pos)
        condition = self.comparison()
        self.depth -= 1
        self.expect(_CLOSE[opener.text], " to close the indicator")
        if condition.op != "cmp":
            raise self.error("an indicator holds a condition: \\mathbb{1}[h_1 > 0]", pos)
        return condition

    def braced_condition(self, pos: int) -> Node:
        node = self.braced("the indicator's condition")
        if node.op != "cmp":
            raise self.error("an indicator holds a condition: \\mathbb{1}_{h_1 > 0}", pos)
        return node

    def fraction(self, pos: int) -> Node:
        if self.at("{") and (self.peek(1).text == "\\partial" or self.upright_gradient()):
            return self.partial(pos)
        self.deeper(pos)
        top = self.braced("\\frac's numerator")
        bottom = self.braced("\\frac's denominator")
        self.depth -= 1
        return Node("div", (top, bottom), pos=pos)

    def partial(self, pos: int) -> Node:
        """\\frac{\\partial L}{\\partial W_1}: the gradient's name, dW1."""
        self.expect("{")
        upright = self.peek().kind == "letter" and self.peek().text == "d"  # \frac{dL}{dh_1}
        self.take() if upright else self.expect("\\partial")
        loss: list[str] = []
        while not self.at("}") and self.peek().kind != "end" and len(loss) < 8:
            loss.append(self.take().text)
        if "".join(loss) not in {w.replace(" ", "") for w in _LOSS_WORDS}:
            raise self.error(f"∂{''.join(loss)}: the numerator is the loss, ∂L", pos)
        self.expect("}")
        self.expect("{", " for the denominator ∂x")
        if upright and self.peek().kind == "letter" and self.peek().text == "d":
            self.take()
        else:
            self.expect("\\partial", " in the denominator")
        inner = self.atom()
        self.expect("}", " to close the denominator")
        if inner.op != "name":
            raise self.error("the denominator of a gradient is one quantity: ∂W_1, ∂z", pos)
        return Node("name", value=self.resolve("d" + inner.value), pos=pos)

    def upright_gradient(self) -> bool:
        """Whether a fraction is \\frac{dL}{d...}: a gradient written with upright d's."""
        if not (self.peek(1).kind == "letter" and self.peek(1).text == "d"):
            return False
        loss: list[str] = []
        k = 2
        while self.peek(k).kind != "end" and not self.at_offset(k, "}") and len(loss) < 8:
            loss.append(self.peek(k).text)
            k += 1
        return "".join(loss) in {w.replace(" ", "") for w in _LOSS_WORDS} and \
            self.peek(k + 1).text == "{" and self.peek(k + 2).text == "d"

    def at_offset(self, ahead: int, text: str) -> bool:
        token = self.peek(ahead)
        return token.kind in ("op", "cmd") and token.text == text

    def function(self, name: str, pos: int) -> Node:
        """A function and its argument: f(x), f'(x), \\exp z, \\operatorname{sum}_{1}(x)."""
        while self.at("'") or (self.at("^") and self.peek(1).text in ("\\prime", "{") and
                               self.peek(2).text in ("\\prime", "'")):
            if self.at("^"):
                self.take()
                self.group_text()
            else:
                self.take()
            if name not in DERIVATIVE_OF:
                raise self.error(f"the derivative of {name} is not read", pos)
            name = DERIVATIVE_OF[name]
        power: float | None = None
        if self.at("^") and re.fullmatch(r"\d", self.peek(1).text if self.peek(1).kind == "num"
                                         else self.peek(2).text if self.peek(1).text == "{"
                                         else ""):
            caret = self.take()
            exponent, _ = self.group_text()  # \tanh^2(h): the square of tanh(h)
            power = float(exponent)
            power_pos = caret.pos
        axis: Node | None = None
        if name in AXIS_FUNCTIONS and self.at("_"):
            self.take()
            text, text_pos = self.group_text()
            if text not in ("0", "1"):
                raise self.error(f"{name}'s axis must be 0 or 1", text_pos)
            axis = Node("num", value=float(text), pos=text_pos)
        if self.at("(", "[", "{"):
            opener = self.take()
            args = [self.comparison()]
            while self.at(","):
                self.take()
                args.append(self.comparison())
            self.expect(_CLOSE[opener.text], f" to close {name}'s argument")
        else:
            if self.peek().kind == "end":
                raise self.error(f"{name} needs an argument", self.peek().pos)
            self.deeper(pos)
            args = [self.postfix()]
            self.depth -= 1
        if axis is not None:
            args.append(axis)
        called = self.call(name, args, pos)
        if power is not None:
            return self.exponent(called, power, power_pos)
        return called


# ------------------------------------------------------------------------- showing back

# canonical name -> LaTeX; layered names (h1, W2, dW1) are built by `name_latex`
_NAME_LATEX = {"x": "x", "y": "y", "ys": "y^{s}", "yhat": r"\hat{y}", "z": "z", "eps": r"\epsilon",
               "alpha": r"\alpha", "q": "q", "d": "d", "n": "n", "B": "B"}


def name_latex(name: str) -> str:
    """A canonical name in LaTeX: h1 → h_{1}, dW1 → ∂L/∂W_1 as a fraction, yhat → \\hat{y}."""
    if name.startswith("d") and len(name) > 1 and name != "d":
        return rf"\frac{{\partial L}}{{\partial {name_latex(name[1:])}}}"
    if name in _NAME_LATEX:
        return _NAME_LATEX[name]
    match = re.fullmatch(r"([A-Za-z]+?)(\d+)", name)
    if match:
        return f"{match.group(1)}_{{{match.group(2)}}}"
    return name if len(name) == 1 else rf"\mathrm{{{name}}}"


_PRECEDENCE = {"cmp": 6, "add": 1, "sub": 1, "mul": 2, "div": 2, "matmul": 2, "neg": 3,
               "pow": 4, "T": 5, "num": 6, "name": 6, "call": 6}
# LaTeX: the matrix product (juxtaposition) binds tighter than ⊙; a \frac is a block
_LATEX_PRECEDENCE = {**_PRECEDENCE, "matmul": 3, "div": 6}
_TEXT_OPS = {"add": " + ", "sub": " - ", "mul": " * ", "div": " / ", "matmul": " @ "}


def _number_text(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def formula_text(node: Node, grouped: bool = False) -> str:
    """The tree in the NumPy-like syntax, parenthesised only where the reading needs it
    (`grouped`: also where `*`, `/` and `@` meet, `(W2 @ dz) * (h1 > 0)`, as a formula shown to a
    reader is written; it reads the same)."""

    def wrap(child: Node, level: int, right: bool = False) -> str:
        text = formula_text(child, grouped)
        inner = _PRECEDENCE[child.op]
        if child.op == "num" and child.value < 0:
            inner = 3
        if grouped and child.op != op and {child.op, op} <= {"mul", "div", "matmul"}:
            return f"({text})"
        return f"({text})" if inner < level or (right and inner == level) else text

    op, args = node.op, node.args
    if op == "num":
        return _number_text(node.value)
    if op == "name":
        return str(node.value)
    if op == "call":
        inner = ", ".join(formula_text(a, grouped) for a in args)
        if node.value in AXIS_FUNCTIONS and len(args) == 2:
            inner = f"{formula_text(args[0], grouped)}, axis={_number_text(args[1].value)}"
        return f"{node.value}({inner})"
    if op in _TEXT_OPS:
        level = _PRECEDENCE[op]
        return wrap(args[0], level) + _TEXT_OPS[op] + wrap(args[1], level, right=True)
    if op == "neg":
        return "-" + wrap(args[0], 3)
    if op == "T":
        return wrap(args[0], 5) + ".T"
    if op == "pow":
        return f"{wrap(args[0], 5)} ** {_number_text(node.value)}"
    if op == "cmp":
        return f"({formula_text(args[0], grouped)} {node.value} " \
               f"{formula_text(args[1], grouped)})"
    raise ValueError(f"unknown node {op}")


def formula_latex(node: Node) -> str:
    """The tree as LaTeX, as a textbook writes it (read back by `read_formula` as LaTeX)."""

    def wrap(child: Node, level: int, right: bool = False) -> str:
        text = formula_latex(child)
        inner = _LATEX_PRECEDENCE[child.op]
        if child.op == "call" and child.value == "outer":
            inner = 3  # u\,v^⊤ is a chain of products
        if child.op == "num" and child.value < 0:
            inner = 3
        if child.op == "name" and str(child.value).startswith("d") and level >= 4:
            inner = 0  # (∂L/∂z)^⊤
        return rf"\left({text}\right)" if inner < level or (right and inner == level) \
            else text

    op, args = node.op, node.args
    if op == "num":
        return _number_text(node.value)
    if op == "name":
        return name_latex(str(node.value))
    if op == "call":
        name = node.value
        if name == "outer":
            return rf"{wrap(args[0], 3)}\,{wrap(args[1], 5)}^{{\top}}"
        if name in SIZE_FUNCTIONS:
            return FUNCTIONS[name].latex.format(formula_latex(args[0]))
        if name in AXIS_FUNCTIONS and len(args) == 2:
            return (rf"\operatorname{{{name}}}_{{{_number_text(args[1].value)}}}"
                    rf"\left({formula_latex(args[0])}\right)")
        if name == "maximum":
            return rf"\max\left({formula_latex(args[0])}, {formula_latex(args[1])}\right)"
        template = FUNCTIONS[name].latex.replace("({0})", r"\left({0}\right)")
        return template.format(*(formula_latex(a) for a in args))
    if op in ("add", "sub"):
        sign = " + " if op == "add" else " - "
        return wrap(args[0], 1) + sign + wrap(args[1], 1, right=True)
    if op == "mul":
        return wrap(args[0], 2) + r" \odot " + wrap(args[1], 2, right=True)
    if op == "matmul":
        return wrap(args[0], 3) + r"\," + wrap(args[1], 3, right=True)
    if op == "div":
        return rf"\frac{{{formula_latex(args[0])}}}{{{formula_latex(args[1])}}}"
    if op == "neg":
        return "-" + wrap(args[0], 4)  # in LaTeX the sign binds tighter than a product
    if op == "T":
        return wrap(args[0], 5) + r"^{\top}"
    if op == "pow":
        return wrap(args[0], 5) + f"^{{{_number_text(node.value)}}}"
    if op == "cmp":
        symbol = {">": ">", "<": "<", ">=": r"\geq", "<=": r"\leq", "!=": r"\neq"}[node.value]
        # \mathbf{1}: KaTeX has no blackboard-bold digits (\mathbb{1} shows a plain 1)
        return rf"\mathbf{{1}}\left[{formula_latex(args[0])} {symbol} " \
               rf"{formula_latex(args[1])}\right]"
    raise ValueError(f"unknown node {op}")


# ---------------------------------------------------------------------------- evaluation


class EvaluationError(FormulaError):
    """A formula that reads but cannot be computed: sizes that do not fit, mostly."""

    def __init__(self, message: str, text: str = "", position: int | None = None,
                 shape: bool = False) -> None:
        self.shape = shape  # the trouble is a size mismatch (maybe only a square one fits)
        super().__init__(message, text, position)


Sizes = Mapping[int, str]  # a size -> its symbol (d, n, q, B), for messages in symbols
Activations = Mapping[str, Callable[[np.ndarray], np.ndarray]]  # f, f_prime, ...


def shape_words(shape: tuple[int, ...], sizes: Sizes) -> str:
    """A shape in the problem's symbols: (3, 4) → 'n × q'; a number is 'a number'."""
    if len(shape) == 0:
        return "a number"
    return " × ".join(sizes.get(k, str(k)) for k in shape)


def evaluate(node: Node, env: Mapping[str, Any], sizes: Sizes, functions: Activations,
             text: str = "") -> np.ndarray:
    """The formula's value on float64 arrays (vectors as columns); EvaluationError on a size
    that does not fit, worded with the problem's symbols (`sizes`)."""
    with np.errstate(all="ignore"):
        return _Evaluator(env, sizes, functions, text).value(node)


class _Evaluator:
    def __init__(self, env: Mapping[str, Any], sizes: Sizes, functions: Activations,
                 text: str) -> None:
        self.env, self.sizes, self.functions, self.text = env, sizes, functions, text

    def fail(self, message: str, node: Node, shape: bool = True) -> EvaluationError:
        return EvaluationError(message, self.text, node.pos, shape)

    def words(self, value: np.ndarray) -> str:
        return shape_words(np.shape(value), self.sizes)

    def value(self, node: Node) -> np.ndarray:
        op = node.op
        if op == "num":
            return np.asarray(node.value, float)
        if op == "name":
            return np.asarray(self.env[node.value], float)
        values = [self.value(a) for a in node.args] if op != "call" else []
        if op in ("add", "sub", "mul", "div"):
            left, right = values
            try:
                np.broadcast_shapes(left.shape, right.shape)
            except ValueError:
                verb = {"add": "add", "sub": "subtract", "mul": "multiply entry by entry",
                        "div": "divide entry by entry"}[op]
                raise self.fail(f"cannot {verb} {self.words(left)} and {self.words(right)}",
                                node) from None
            return {"add": np.add, "sub": np.subtract, "mul": np.multiply,
                    "div": np.divide}[op](left, right)
        if op == "matmul":
            return self.matmul(values[0], values[1], node)
        if op == "neg":
            return -values[0]
        if op == "T":
            return values[0].T
        if op == "pow":
            return np.power(values[0], node.value)
        if op == "cmp":
            left, right = values
            try:
                np.broadcast_shapes(left.shape, right.shape)
            except ValueError:
                raise self.fail(f"cannot compare {self.words(left)} with {self.words(right)}",
                                node) from None
            compare = {">": np.greater, ">=": np.greater_equal, "<": np.less,
                       "<=": np.less_equal, "!=": np.not_equal}[node.value]
            return compare(left, right).astype(float)
        if op == "call":
            return self.call(node)
        raise self.fail(f"unknown operation {op}", node, shape=False)

    def matmul(self, left: np.ndarray, right: np.ndarray, node: Node) -> np.ndarray:
        if left.ndim == 0 or right.ndim == 0:
            return left * right
        if left.shape[-1] == right.shape[0]:
            return left @ right
        if left.shape == (1, 1) or right.shape == (1, 1):  # a 1 × 1 matrix is a number
            return left * right
        raise self.fail(f"cannot multiply {self.words(left)} by {self.words(right)}: the "
                        f"inner sizes {self.sizes.get(left.shape[-1], left.shape[-1])} and "
                        f"{self.sizes.get(right.shape[0], right.shape[0])} differ", node)

    def column(self, value: np.ndarray, node: Node, what: str) -> np.ndarray:
        if value.ndim == 2 and value.shape[1] == 1:
            return value
        if value.ndim == 2 and value.shape[0] == 1:
            return value.T
        raise self.fail(f"{what} takes a vector, got {self.words(value)}", node)

    def call(self, node: Node) -> np.ndarray:
        name, args = node.value, node.args
        if name in SIZE_FUNCTIONS:
            size = self.value(args[0])
            if size.ndim != 0 or not float(size).is_integer() or not 1 <= size <= MAX_SIZE:
                raise self.fail(f"{name}() takes a size (d, n, q, B or a whole number from 1 "
                                f"to {MAX_SIZE})", args[0], shape=False)
            k = int(size)
            return np.ones((k, 1)) if name == "ones" else np.eye(k)
        values = [self.value(a) for a in args]
        first = values[0]
        if name == "outer":
            u, v = values
            if u.ndim == 2 and v.ndim == 2 and u.shape[1] == v.shape[1] and u.shape[1] > 1:
                return u @ v.T  # a batch: the sum of each instance's outer product
            return self.column(u, args[0], "outer") @ self.column(v, args[1], "outer").T
        if name in AXIS_FUNCTIONS:
            reduce = np.sum if name == "sum" else np.mean
            if len(args) == 1:
                return np.asarray(reduce(first))
            return np.asarray(reduce(np.atleast_2d(first), axis=int(args[1].value),
                                     keepdims=True))
        if name == "diag":
            if first.ndim == 2 and 1 in first.shape:
                return np.diagflat(first)
            if first.ndim == 2 and first.shape[0] == first.shape[1]:
                return np.diag(first)[:, None]
            raise self.fail(f"diag takes a vector or a square matrix, got {self.words(first)}",
                            node)
        if name == "transpose":
            return first.T
        if name == "maximum":
            left, right = values
            try:
                return np.maximum(left, right)
            except ValueError:
                raise self.fail(f"cannot compare {self.words(left)} with {self.words(right)}",
                                node) from None
        if name == "softmax":
            if first.ndim != 2:
                raise self.fail("softmax takes a vector (or a batch of them)", node)
            shifted = np.exp(first - first.max(axis=0, keepdims=True))
            return shifted / shifted.sum(axis=0, keepdims=True)
        if name == "where":
            condition, yes, no = values
            try:
                return np.asarray(np.where(condition != 0, yes, no), float)
            except ValueError:
                raise self.fail(f"where() cannot match {self.words(condition)}, "
                                f"{self.words(yes)} and {self.words(no)}", node) from None
        if name == "heaviside":
            try:
                return np.heaviside(first, values[1])
            except ValueError:
                raise self.fail(f"heaviside() takes a number at 0, got "
                                f"{self.words(values[1])}", node) from None
        if name == "sign":
            return np.sign(first)
        if name == "cosh":
            return np.cosh(np.clip(first, -700.0, 700.0))
        if name == "sech":
            return 1 / np.cosh(np.clip(first, -700.0, 700.0))
        if name == "log":
            return np.log(first)
        if name == "exp":
            return np.exp(np.minimum(first, 700.0))
        function = self.functions.get(name)
        if function is None:
            raise self.fail(f"{name}() is not defined for this problem", node, shape=False)
        return function(first)
