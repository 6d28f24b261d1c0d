"""The one rounding rule for money: cents, half up, applied once at the end."""

import numpy as np


def round_cents(values):
    """Round dollar amounts to cents, halves away from zero.

    Parameters
    ----------
    values : array-like of float
        Dollar amounts in full precision; NaN stays NaN.

    Returns
    -------
    numpy.ndarray of float
        Amounts rounded to cents. Binary noise below 1e-6 cent is removed first, so that a figure such
        as 1.005 (stored as 1.00499999...) rounds up as a person computing by hand would expect.
    """
    # In place, the same operations as np.copysign(np.floor(np.abs(c) + 0.5), c) / 100 + 0.0 with
    # c = np.round(values * 100, 6) (which is rint(c * 1e6) / 1e6), without their temporary arrays.
    cents = np.array(values, dtype="float64")  # a copy, also of a scalar (a 0-d array)
    cents *= 100.0
    np.multiply(cents, 1e6, out=cents)
    np.rint(cents, out=cents)
    np.divide(cents, 1e6, out=cents)
    out = np.abs(cents, out=np.empty_like(cents))
    out += 0.5
    np.floor(out, out=out)
    np.copysign(out, cents, out=out)
    out /= 100.0
    out += 0.0  # turns -0.0 into 0.0
    return out[()]  # a scalar for a scalar
