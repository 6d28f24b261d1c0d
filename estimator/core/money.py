"""The one rounding rule for money: cents, half up, applied once at the end."""

import numpy as np

from .arith import ARRAYS, formula


@formula
def cents(ops, values):
    """Dollar amounts as whole cents, halves away from zero: the one rounding rule.

    Parameters
    ----------
    values : numpy.ndarray of float, or float
        Dollar amounts in full precision; NaN stays NaN.

    Returns
    -------
    numpy.ndarray of float, or float
        Whole numbers of cents. Binary noise below 1e-6 cent is removed first, so that a figure such as
        1.005 (stored as 1.00499999...) rounds up as a person computing by hand would expect. Sums and
        differences of whole cents are exact, so figures added up after rounding add up to the cent.
    """
    rounded = ops.rint(values * 100.0 * 1e6) / 1e6
    return ops.copysign(ops.floor(ops.abs(rounded) + 0.5), rounded)


def dollars(whole_cents):
    """Whole cents (:func:`cents`) as dollars, ``/ 100``, and never -0.0 (arrays and Python floats alike)."""
    return whole_cents / 100.0 + 0.0  # + 0.0 turns -0.0 into 0.0


def round_cents(values):
    """Round dollar amounts to cents, halves away from zero (:func:`cents` in dollars).

    Parameters
    ----------
    values : array-like of float, or float
        Dollar amounts in full precision; NaN stays NaN.

    Returns
    -------
    numpy.ndarray of float
        Amounts rounded to cents (a scalar for a scalar).
    """
    return dollars(cents(ARRAYS, np.asarray(values, dtype="float64")))[()]
