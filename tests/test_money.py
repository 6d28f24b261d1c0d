import numpy as np
import pytest

from estimator.core.money import round_cents


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1.005, 1.01),  # stored as 1.00499999...: still rounds up, as by hand
        (2.675, 2.68),
        (0.125, 0.13),
        (236.12945, 236.13),
        (1.004999, 1.0),
        (37.345, 37.35),
        (0.0, 0.0),
        (1e7 + 0.005, 10000000.01),
    ],
)
def test_rounds_to_cents_half_up(value, expected):
    assert round_cents([value])[0] == expected


def test_nan_stays_nan_and_no_negative_zero():
    out = round_cents([np.nan, -1e-12])
    assert np.isnan(out[0])
    assert str(out[1]) == "0.0"
