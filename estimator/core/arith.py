"""The operations the formulas are written in, for numpy arrays (a batch) and for plain Python values (one
request): each rule of the contract is one function over numbers that takes one of these namespaces.

``+``, ``-``, ``*``, ``/``, comparisons, ``&`` and ``|`` work on both kinds of value as they are; what
differs is spelled here, with numpy's meaning kept for Python floats (a NaN in ``minimum`` or
``maximum`` gives NaN; ``where`` picks by a condition), so that both give the same figures bit for bit.
"""

import math
from types import SimpleNamespace

import numpy as np

from .matching import distinct
from .money import round_cents

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


def _round_many(values):
    """Each amount of a list rounded to cents, by the one rounding rule (a batch of them at once)."""
    return round_cents(np.array(values, dtype="float64")).tolist()


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


def _array_round_many(values):
    return list(round_cents(np.vstack(values))) if len(values) else []


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
    round_many=_round_many,
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
    round_many=_array_round_many,
    fill=_array_fill,
    each=_array_each,
    any=np.any,
    isin=_array_isin,
)
