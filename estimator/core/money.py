"""The one rounding rule for money: cents, half up, applied once at the end."""

import numpy as np


def cents(values):
    """Dollar amounts as whole cents, halves away from zero: the one rounding rule.

    Parameters
    ----------
    values : array-like of float
        Dollar amounts in full precision; NaN stays NaN.

    Returns
    -------
    numpy.ndarray of float
        Whole numbers of cents. Binary noise below 1e-6 cent is removed first, so that a figure such as
        1.005 (stored as 1.00499999...) rounds up as a person computing by hand would expect. Sums and
        differences of whole cents are exact, so figures added up after rounding add up to the cent.
    """
    # In place, the same operations as np.copysign(np.floor(np.abs(c) + 0.5), c) with
    # c = np.round(values * 100, 6) (which is rint(c * 1e6) / 1e6), without their temporary arrays.
    rounded = np.array(values, dtype="float64")  # a copy, also of a scalar (a 0-d array)
    rounded *= 100.0
    np.multiply(rounded, 1e6, out=rounded)
    np.rint(rounded, out=rounded)
    np.divide(rounded, 1e6, out=rounded)
    out = np.abs(rounded, out=np.empty_like(rounded))
    out += 0.5
    np.floor(out, out=out)
    np.copysign(out, rounded, out=out)
    return out


def dollars(whole_cents):
    """Whole cents (:func:`cents`) as dollars, in place: ``/ 100``, and never -0.0."""
    whole_cents /= 100.0
    whole_cents += 0.0  # turns -0.0 into 0.0
    return whole_cents


def round_cents(values):
    """Round dollar amounts to cents, halves away from zero (:func:`cents` in dollars).

    Parameters
    ----------
    values : array-like of float
        Dollar amounts in full precision; NaN stays NaN.

    Returns
    -------
    numpy.ndarray of float
        Amounts rounded to cents (a scalar for a scalar).
    """
    return dollars(cents(values))[()]
