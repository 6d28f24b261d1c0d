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
    cents = np.round(np.asarray(values, dtype="float64") * 100.0, 6)
    return np.copysign(np.floor(np.abs(cents) + 0.5), cents) / 100.0 + 0.0  # + 0.0 turns -0.0 into 0.0
