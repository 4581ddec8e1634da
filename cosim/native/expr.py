"""SPICE expressions for the native solver: parse, resolve, and evaluate with derivatives.

The netlist core only checks that an expression is *safe* text; this module gives it a
meaning.  An expression is parsed into a small tuple tree; :func:`resolve` replaces
parameters by numbers and node / source names by solver variables; :func:`template`
turns a resolved tree into a hashable shape with its constants and variables pulled out,
so that many B-sources of the same shape (one per crossbar cell, say) are evaluated
together on numpy arrays by :func:`evaluate`, which returns the value and the partial
derivatives with respect to each variable (for Newton's method).

Supported: numbers with SPICE scale suffixes, ``+ - * / ^ **``, unary ``- + !``,
parentheses and braces (``{lin}*v(n1)``: ngspice substitutes the value of ``lin``),
comparisons, ``&& ||``, ``c ? a : b``, ``v(node)``, ``v(a, b)``, ``i(vsource)``, and the
functions in :data:`FUNCTIONS`.  Anything else raises :class:`ExpressionError`; nothing is
ever passed to Python's ``eval``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

import numpy as np

from cosim.errors import NetlistError
from cosim.netlist.validate import parse_number


class ExpressionError(NetlistError):
    """An expression the native solver cannot evaluate (unknown name, function, syntax)."""


_TOKEN_RE = re.compile(r"""
    (?P<num>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?[A-Za-z]*)
  | (?P<name>[A-Za-z_][A-Za-z0-9_.]*)
  | (?P<op>\*\*|<=|>=|==|!=|&&|\|\||[-+*/^(){},?:<>!])
  | (?P<ws>\s+)
""", re.VERBOSE)


def _tokenize(text: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    text = text.strip()
    while pos < len(text):
        m = _TOKEN_RE.match(text, pos)
        if not m:
            raise ExpressionError(f"expression {text!r}: cannot read {text[pos:pos + 10]!r}")
        pos = m.end()
        kind = m.lastgroup
        if kind != "ws":
            out.append((kind, m.group()))
    return out


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.toks = _tokenize(text)
        self.i = 0

    def peek(self) -> str | None:
        return self.toks[self.i][1] if self.i < len(self.toks) else None

    def take(self, want: str | None = None) -> tuple[str, str]:
        if self.i >= len(self.toks):
            raise ExpressionError(f"expression {self.text!r}: unexpected end")
        tok = self.toks[self.i]
        if want is not None and tok[1] != want:
            raise ExpressionError(f"expression {self.text!r}: expected {want!r}, got {tok[1]!r}")
        self.i += 1
        return tok

    def parse(self):
        tree = self.ternary()
        if self.i != len(self.toks):
            raise ExpressionError(f"expression {self.text!r}: unexpected {self.peek()!r}")
        return tree

    def ternary(self):
        cond = self.binary(0)
        if self.peek() == "?":
            self.take()
            a = self.ternary()
            self.take(":")
            b = self.ternary()
            return ("tern", cond, a, b)
        return cond

    _LEVELS = (("||",), ("&&",), ("==", "!=", "<", ">", "<=", ">="), ("+", "-"), ("*", "/"))

    def binary(self, level: int):
        if level == len(self._LEVELS):
            return self.unary()
        left = self.binary(level + 1)
        while self.peek() in self._LEVELS[level]:
            op = self.take()[1]
            left = ("bin", op, left, self.binary(level + 1))
        return left

    def unary(self):
        if self.peek() in ("-", "+", "!"):
            op = self.take()[1]
            arg = self.unary()
            return arg if op == "+" else ("neg" if op == "-" else "not", arg)
        return self.power()

    def power(self):
        base = self.primary()
        if self.peek() in ("^", "**"):
            self.take()
            return ("bin", "^", base, self.unary())  # right associative
        return base

    def primary(self):
        kind, tok = self.take()
        if kind == "num":
            return ("num", parse_number(tok, f"expression {self.text!r}"))
        if tok in ("(", "{"):              # {p} inside an expression: p's value
            inner = self.ternary()
            self.take(")" if tok == "(" else "}")
            return inner
        if kind != "name":
            raise ExpressionError(f"expression {self.text!r}: unexpected {tok!r}")
        if self.peek() == "(":
            self.take()
            args = []
            if self.peek() != ")":
                args.append(self.ternary())
                while self.peek() == ",":
                    self.take()
                    args.append(self.ternary())
            self.take(")")
            name = tok.lower()
            if name == "v":
                if not 1 <= len(args) <= 2 or any(a[0] != "param" for a in args):
                    raise ExpressionError(f"expression {self.text!r}: v() takes one or two "
                                          "node names")
                return ("v",) + tuple(a[1] for a in args)
            if name == "i":
                if len(args) != 1 or args[0][0] != "param":
                    raise ExpressionError(f"expression {self.text!r}: i() takes one "
                                          "voltage-source name")
                return ("i", args[0][1])
            if name not in FUNCTIONS:
                raise ExpressionError(f"expression {self.text!r}: function {tok!r} is not "
                                      f"supported by the native solver; have {sorted(FUNCTIONS)}")
            return ("call", name) + tuple(args)
        return ("param", tok)


def parse_expression(text: str):
    """Parse SPICE expression text into a tuple tree."""
    return _Parser(text).parse()


# ----------------------------------------------------------------------------- resolve
def resolve(tree, params: Mapping[str, float], node: Callable[[str], str],
            source: Callable[[str], str]):
    """Replace parameters by numbers, ``v(n)`` by ``("var", ("v", flat_node))`` and
    ``i(V)`` by ``("var", ("i", flat_source))``.  ``params`` keys are lower-case."""
    tag = tree[0]
    if tag == "num":
        return tree
    if tag == "param":
        key = tree[1].lower()
        if key in params:
            return ("num", float(params[key]))
        raise ExpressionError(f"unknown parameter {tree[1]!r} in an expression; known: "
                              f"{sorted(params)}")
    if tag == "v":
        a = ("var", ("v", node(tree[1])))
        if len(tree) == 3:
            return ("bin", "-", a, ("var", ("v", node(tree[2]))))
        return a
    if tag == "i":
        return ("var", ("i", source(tree[1])))
    if tag == "bin":
        return ("bin", tree[1], resolve(tree[2], params, node, source),
                resolve(tree[3], params, node, source))
    if tag in ("neg", "not"):
        return (tag, resolve(tree[1], params, node, source))
    if tag == "tern":
        return ("tern",) + tuple(resolve(t, params, node, source) for t in tree[1:])
    if tag == "call":
        return ("call", tree[1]) + tuple(resolve(t, params, node, source) for t in tree[2:])
    raise ExpressionError(f"internal: unknown expression node {tag!r}")


def constant_value(tree) -> float:
    """Value of a resolved tree without variables (raises if it has any)."""
    t, consts, variables = template(tree)
    if variables:
        raise ExpressionError(f"expression depends on circuit variables {variables}; a "
                              "constant is needed here")
    val, _ = evaluate(t, np.array(consts, dtype=float).reshape(-1, 1), np.zeros((0, 1)))
    return float(val[0])


def template(tree):
    """Split a resolved tree into (shape, constants, variables)."""
    consts: list[float] = []
    variables: list[tuple[str, str]] = []

    def walk(t):
        tag = t[0]
        if tag == "num":
            consts.append(t[1])
            return ("c", len(consts) - 1)
        if tag == "var":
            if t[1] not in variables:
                variables.append(t[1])
            return ("x", variables.index(t[1]))
        if tag == "bin":
            return ("bin", t[1], walk(t[2]), walk(t[3]))
        if tag in ("neg", "not"):
            return (tag, walk(t[1]))
        if tag == "tern":
            return ("tern",) + tuple(walk(s) for s in t[1:])
        if tag == "call":
            return ("call", t[1]) + tuple(walk(s) for s in t[2:])
        raise ExpressionError(f"internal: unresolved expression node {tag!r}")

    return walk(tree), consts, variables


# ----------------------------------------------------------------------------- evaluate
def _sgn(x):
    return np.sign(x)


# name -> (value function, list of partial-derivative functions of the arguments)
FUNCTIONS: dict[str, tuple[Callable, tuple[Callable, ...]]] = {
    "exp": (np.exp, (np.exp,)),
    "ln": (np.log, (lambda x: 1.0 / x,)),
    "log": (np.log, (lambda x: 1.0 / x,)),
    "log10": (np.log10, (lambda x: 1.0 / (x * np.log(10.0)),)),
    "sqrt": (np.sqrt, (lambda x: 0.5 / np.sqrt(x),)),
    "sinh": (np.sinh, (np.cosh,)),
    "cosh": (np.cosh, (np.sinh,)),
    "tanh": (np.tanh, (lambda x: 1.0 - np.tanh(x) ** 2,)),
    "sin": (np.sin, (np.cos,)),
    "cos": (np.cos, (lambda x: -np.sin(x),)),
    "atan": (np.arctan, (lambda x: 1.0 / (1.0 + x * x),)),
    "abs": (np.abs, (_sgn,)),
    "sgn": (_sgn, (np.zeros_like,)),
    "u": (lambda x: (x > 0).astype(float), (np.zeros_like,)),
    "uramp": (lambda x: np.maximum(x, 0.0), (lambda x: (x > 0).astype(float),)),
    "min": (np.minimum, (lambda a, b: (a <= b).astype(float), lambda a, b: (a > b).astype(float))),
    "max": (np.maximum, (lambda a, b: (a >= b).astype(float), lambda a, b: (a < b).astype(float))),
    "pow": (np.power, (lambda a, b: b * np.power(a, b - 1.0),
                       lambda a, b: np.power(a, b) * np.log(np.abs(a) + 1e-300))),
    "pwr": (lambda a, b: np.sign(a) * np.abs(a) ** b,
            (lambda a, b: b * np.abs(a) ** (b - 1.0),
             lambda a, b: np.sign(a) * np.abs(a) ** b * np.log(np.abs(a) + 1e-300))),
}

_COMPARE = {"==": np.equal, "!=": np.not_equal, "<": np.less, ">": np.greater,
            "<=": np.less_equal, ">=": np.greater_equal}


def evaluate(t, consts: np.ndarray, xs: np.ndarray):  # noqa: C901 (one branch per node kind)
    """Evaluate a template on arrays.

    Parameters
    ----------
    t
        Template from :func:`template`.
    consts
        Constants, shape (n_constants, n): column j belongs to instance j.
    xs
        Variable values, shape (n_variables, n).

    Returns
    -------
    value : ndarray, shape (n,)
    grad : ndarray, shape (n_variables, n)
        Partial derivatives with respect to each variable.
    """
    nv, n = xs.shape[0], consts.shape[1] if consts.size else xs.shape[1]

    def zero():
        return np.zeros((nv, n))

    def ev(t):  # noqa: C901 (one branch per node kind)
        tag = t[0]
        if tag == "c":
            return consts[t[1]] * np.ones(n), zero()
        if tag == "x":
            g = zero()
            g[t[1]] = 1.0
            return xs[t[1]], g
        if tag == "neg":
            a, ga = ev(t[1])
            return -a, -ga
        if tag == "not":
            a, _ = ev(t[1])
            return (a == 0).astype(float), zero()
        if tag == "tern":
            c, _ = ev(t[1])
            a, ga = ev(t[2])
            b, gb = ev(t[3])
            sel = c != 0
            return np.where(sel, a, b), np.where(sel, ga, gb)
        if tag == "bin":
            op = t[1]
            a, ga = ev(t[2])
            b, gb = ev(t[3])
            if op == "+":
                return a + b, ga + gb
            if op == "-":
                return a - b, ga - gb
            if op == "*":
                return a * b, ga * b + a * gb
            if op == "/":
                return a / b, (ga * b - a * gb) / (b * b)
            if op == "^":
                val = np.power(a, b)
                with np.errstate(divide="ignore", invalid="ignore"):
                    da = np.where(b == 0, 0.0, b * np.power(a, b - 1.0))
                    db = np.where(gb.any(axis=0), val * np.log(np.abs(a) + 1e-300), 0.0)
                return val, ga * da + gb * db
            if op in _COMPARE:
                return _COMPARE[op](a, b).astype(float), zero()
            if op == "&&":
                return ((a != 0) & (b != 0)).astype(float), zero()
            if op == "||":
                return ((a != 0) | (b != 0)).astype(float), zero()
            raise ExpressionError(f"internal: operator {op!r}")
        if tag == "call":
            fn, dfs = FUNCTIONS[t[1]]
            args = [ev(s) for s in t[2:]]
            if len(args) != len(dfs):
                raise ExpressionError(f"function {t[1]}() takes {len(dfs)} argument(s), "
                                      f"got {len(args)}")
            vals = [a for a, _ in args]
            g = zero()
            for (_, ga), df in zip(args, dfs):
                if ga.any():
                    g = g + ga * df(*vals)
            return fn(*vals), g
        raise ExpressionError(f"internal: template node {tag!r}")

    with np.errstate(over="ignore"):
        return ev(t)
