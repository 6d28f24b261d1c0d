"""The operations the formulas are written in, for numpy arrays (a batch) and for plain Python values (one
request): each rule of the contract is one function over numbers that takes one of these namespaces.

``+``, ``-``, ``*``, ``/``, comparisons, ``&`` and ``|`` work on both kinds of value as they are; what
differs is spelled here, with numpy's meaning kept for Python floats (a NaN in ``minimum`` or
``maximum`` gives NaN; ``where`` picks by a condition), so that both give the same figures bit for bit.
"""

import ast
import copy as copy_module
import inspect
import math
import textwrap
from types import SimpleNamespace

import numpy as np

from .matching import distinct

NAN = math.nan


def _minimum(a, b):
    """``numpy.minimum`` of two numbers (NaN if either is NaN)."""
    return a if a <= b else (b if b < a else NAN)


def _maximum(a, b):
    """``numpy.maximum`` of two numbers (NaN if either is NaN)."""
    return a if a >= b else (b if b > a else NAN)


def _where(condition, a, b):
    return a if condition else b


def _isnan(x):
    return x != x


def _not(x):
    return not x


def _take(table, position):
    return table[position]


def _cents_many(values):
    """Each amount of a list in whole cents (:func:`.money.cents`), each distinct amount rounded once; NaN
    stays NaN, and an infinite amount raises ``OverflowError`` (it has no answer)."""
    from .money import cents

    rule, rounded, out = cents.scalar, {}, []
    for value in values:
        whole = rounded.get(value)
        if whole is None:
            whole = rounded[value] = rule(SCALARS, value) if value == value else value
        out.append(whole)
    return out


def _fill(like, value):
    return value


def _each(function, *values, dtype=None):
    return function(*values)


def _any(x):
    return bool(x)


def _isin(x, members):
    return x in members


def _array_take(table, position):
    return np.asarray(table, dtype=object if isinstance(table[0], str) else None)[position]


def _array_each(function, *columns, dtype=object):
    """``function`` of each row's values, called once per distinct combination of them."""
    group, first = distinct(*columns)
    results = [function(*values) for values in zip(*(np.asarray(c)[first].tolist() for c in columns), strict=True)]
    return np.array(results, dtype=dtype)[group] if len(group) else np.zeros(0, dtype=dtype)


def _array_isin(x, members):
    return np.isin(x, np.fromiter(members, dtype="int64", count=len(members)))


def _array_cents_many(values):
    from .money import cents

    return list(cents(ARRAYS, np.vstack(values))) if len(values) else []


def _array_fill(like, value):
    return np.full(len(like), value, dtype=object if isinstance(value, str) or value is None else None)


#: Python values: one request (``bool``, ``int``, ``float``, ``str``).
SCALARS = SimpleNamespace(
    kind="scalars",
    minimum=_minimum,
    maximum=_maximum,
    where=_where,
    isnan=_isnan,
    not_=_not,
    take=_take,
    cents_many=_cents_many,
    rint=round,
    floor=math.floor,
    abs=abs,
    copysign=math.copysign,
    fill=_fill,
    each=_each,
    any=_any,
    isin=_isin,
)

#: numpy arrays: a batch, one entry per request.
ARRAYS = SimpleNamespace(
    kind="arrays",
    minimum=np.minimum,
    maximum=np.maximum,
    where=np.where,
    isnan=np.isnan,
    not_=np.logical_not,
    take=_array_take,
    cents_many=_array_cents_many,
    rint=np.rint,
    floor=np.floor,
    abs=np.abs,
    copysign=np.copysign,
    fill=_array_fill,
    each=_array_each,
    any=np.any,
    isin=_array_isin,
)


# The formulas run with SCALARS as they are; for speed, one request runs each formula's *scalar version*:
# the same source compiled with every ``ops.<name>(...)`` call written out as the Python it stands for
# (``ops.where(c, a, b)`` as ``a if c else b``, ``ops.not_(x)`` as ``not x``, ...), so a single estimate
# pays no call per operation. It is derived from the one definition, never written by hand: the formula
# stays in one place, and the tests prove both versions give the same answers.

_SCALAR_CALLS = {
    "minimum": _minimum,
    "maximum": _maximum,
    "isnan": _isnan,
    "cents_many": _cents_many,
    "rint": round,  # half to even, as numpy.rint; an int, exact; NaN and infinities raise (see _cents_many)
    "floor": math.floor,
    "abs": abs,
    "copysign": math.copysign,
}


class _WriteOut(ast.NodeTransformer):
    """Rewrites the calls of a formula's body for Python values (see :func:`formula`)."""

    def visit_Call(self, node):
        self.generic_visit(node)
        function, args = node.func, node.args
        if isinstance(function, ast.Attribute) and isinstance(function.value, ast.Name) and function.value.id == "ops":
            name = function.attr
            if name == "where":
                return ast.IfExp(test=args[0], body=args[1], orelse=args[2])
            if name == "not_":
                return ast.UnaryOp(op=ast.Not(), operand=args[0])
            if name in ("fill", "any"):
                return args[-1] if name == "fill" else args[0]
            if name == "each":
                return ast.Call(func=args[0], args=args[1:], keywords=[])
            if name == "take":
                return ast.Subscript(value=args[0], slice=args[1], ctx=ast.Load())
            if name == "isin":
                return ast.Compare(left=args[0], ops=[ast.In()], comparators=[args[1]])
            if name == "isnan" and isinstance(args[0], ast.Name):
                return ast.Compare(
                    left=args[0], ops=[ast.NotEq()], comparators=[ast.Name(id=args[0].id, ctx=ast.Load())]
                )
            if name in ("minimum", "maximum") and all(isinstance(a, (ast.Name, ast.Constant)) for a in args):
                return _min_max(name, *args)
            if name not in _SCALAR_CALLS:
                raise TypeError(f"ops.{name} has no scalar form")
            return ast.Call(func=ast.Name(id=f"_arith_scalar_{name}", ctx=ast.Load()), args=args, keywords=[])
        if args and isinstance(args[0], ast.Name) and args[0].id == "ops":  # another formula: its scalar version
            node.func = ast.Attribute(value=function, attr="scalar", ctx=ast.Load())
        return node


def _min_max(name, a, b):
    """``numpy.minimum`` (or ``maximum``) of two names or constants as an expression: ``a if a <= b else (b if
    b < a else nan)``, NaN when either is NaN."""
    first, second = (ast.LtE(), ast.Lt()) if name == "minimum" else (ast.GtE(), ast.Gt())
    copy = copy_module.deepcopy
    return ast.IfExp(
        test=ast.Compare(left=a, ops=[first], comparators=[b]),
        body=copy(a),
        orelse=ast.IfExp(
            test=ast.Compare(left=copy(b), ops=[second], comparators=[copy(a)]),
            body=copy(b),
            orelse=ast.Name(id="_arith_scalar_nan", ctx=ast.Load()),
        ),
    )


def _scalar_version(function):
    """Compile ``function``'s scalar version from its source (line numbers kept for tracebacks)."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(function)))
    tree.body[0].decorator_list = []
    tree = ast.fix_missing_locations(_WriteOut().visit(tree))
    ast.increment_lineno(tree, function.__code__.co_firstlineno - 1)
    module_globals = function.__globals__
    for name, call in {**_SCALAR_CALLS, "nan": NAN}.items():
        module_globals.setdefault(f"_arith_scalar_{name}", call)
    namespace = {}
    exec(compile(tree, function.__code__.co_filename, "exec"), module_globals, namespace)  # noqa: S102
    return namespace[function.__name__]


class _Scalar:
    """A formula's scalar version, compiled on its first call."""

    def __init__(self, function):
        self.function = function

    def __call__(self, *args):
        compiled = self.function.scalar = _scalar_version(self.function)
        return compiled(*args)


def formula(function):
    """Mark ``function`` (its first parameter ``ops``) as a formula: ``function(ARRAYS, ...)`` runs it over
    arrays, ``function.scalar(SCALARS, ...)`` over Python values (the same source, calls written out)."""
    function.scalar = _Scalar(function)
    return function
