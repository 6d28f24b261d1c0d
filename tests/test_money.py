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


def test_the_in_place_rounding_is_numpys_round_to_six_places_then_half_up():
    rng = np.random.default_rng(7)
    values = rng.random((4, 20_000)) * np.array([[1], [100], [1e4], [1e7]])
    values = np.concatenate([values, np.round(values, 3), np.round(values, 2) + 0.005, -values])
    values[0, :4] = [np.nan, -0.0, 1.005, -2.675]
    cents = np.round(values * 100.0, 6)
    expected = np.copysign(np.floor(np.abs(cents) + 0.5), cents) / 100.0 + 0.0
    got = round_cents(values)
    assert np.array_equal(got, expected, equal_nan=True)
    assert not (np.signbit(got) & (got == 0)).any()  # no -0.0
    assert round_cents(2.675) == 2.68  # a scalar too
