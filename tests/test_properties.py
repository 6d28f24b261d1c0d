"""Invariants of the engine on random requests over the shipped schedules (hypothesis)."""

import datetime as dt

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from estimator.core.engine import estimate
from estimator.core.matching import SMALL
from estimator.core.schedules import DEFAULT_DIRECTORY, load_schedules

from .catalog import coded_line

SCHEDULES = load_schedules(DEFAULT_DIRECTORY)
PAYERS = sorted(SCHEDULES.payers.index)
REGIONS = ["", *sorted(SCHEDULES.regions.index)]
money = st.one_of(st.just(""), st.integers(0, 8000).map(str), st.floats(0, 8000, allow_nan=False).map(repr))


@st.composite
def requests(draw):
    code, modifiers = draw(coded_line(SCHEDULES))
    return {
        "cpt_code": code,
        "payer_id": draw(st.sampled_from(PAYERS)),
        "region_id": draw(st.sampled_from(REGIONS)),
        "setting": draw(st.sampled_from(["office", "asc", "hospital_outpatient"])),
        "network": draw(st.sampled_from(["in", "out"])),
        "modifiers": modifiers,
        "units": str(draw(st.integers(1, 5))),
        "date_of_service": draw(st.dates(dt.date(2024, 1, 1), dt.date(2027, 6, 30))).isoformat(),
        "deductible": draw(money),
        "coinsurance": draw(st.one_of(st.just(""), st.floats(0, 1).map(repr))),
        "copay": draw(money),
        "oop_max": draw(money),
        "deductible_met": draw(money),
        "oop_met": draw(money),
    }


def run_all(reqs):
    frame = estimate(pd.DataFrame(reqs, dtype=object), SCHEDULES, dt.date(2025, 6, 1)).frame
    assert (frame["error"] == "").all(), frame["error"].tolist()
    return frame


def levels(frame, prefix):
    return frame[[f"{prefix}_low", f"{prefix}_expected", f"{prefix}_high"]].to_numpy()


SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(st.lists(requests(), min_size=1, max_size=40))
def test_low_expected_high_are_ordered(reqs):
    frame = run_all(reqs)
    for prefix in ("allowed", "payer"):
        values = levels(frame, prefix)
        assert (np.diff(values, axis=1) >= -0.01).all(), prefix
    share = levels(frame, "patient") - levels(frame, "balance_billing")
    assert (np.diff(share, axis=1) >= -0.015).all()


@SETTINGS
@given(st.lists(requests(), min_size=1, max_size=40))
def test_shares_add_up_and_stay_within_the_allowed_amount(reqs):
    frame = run_all(reqs)
    allowed = levels(frame, "allowed")
    share = levels(frame, "patient") - levels(frame, "balance_billing")
    assert np.allclose(share + levels(frame, "payer"), allowed, atol=0.0201)
    # each figure is rounded on its own, so a derived share may differ from the allowed amount by a cent
    assert (share >= -0.01).all() and (share <= allowed + 0.015).all()
    in_network = (frame["network"] == "in").to_numpy() | frame["self_pay"].to_numpy(bool)
    assert (levels(frame, "balance_billing")[in_network] == 0).all()


@SETTINGS
@given(st.lists(requests(), min_size=1, max_size=40))
def test_out_of_pocket_cap_holds(reqs):
    frame = run_all(reqs)
    capped = frame["oop_max"].notna().to_numpy() & ~frame["self_pay"].to_numpy(bool)
    room = np.maximum(0, frame["oop_max"].to_numpy() - frame["oop_met"].to_numpy())
    share = levels(frame, "patient") - levels(frame, "balance_billing")
    assert (share[capped] <= room[capped, None] + 0.015).all()


@SETTINGS
@given(requests(), st.floats(0, 5000))
def test_more_deductible_met_never_costs_the_patient_more(req, extra):
    base = req["deductible_met"] or "0"
    more = {**req, "deductible_met": repr(float(base) + extra)}
    frame = run_all([req, more])
    before, after = levels(frame, "patient")
    assert (after <= before + 0.005).all()


@SETTINGS
@given(requests())
def test_self_pay_pays_the_allowed_amount(req):
    frame = run_all([{**req, "payer_id": "self_pay"}])
    assert (levels(frame, "patient") == levels(frame, "allowed")).all()
    assert frame["good_faith_estimate"].iloc[0]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(requests(), min_size=SMALL + 1, max_size=SMALL + 30))
def test_a_batch_equals_its_rows_one_by_one(reqs):
    """Batches above SMALL rows take the pandas paths, single estimates the small-input paths."""
    together = run_all(reqs)
    for i, req in enumerate(reqs):
        alone = run_all([req]).iloc[0]
        for column in ("allowed_expected", "patient_high", "payer_low", "pa_status", "warnings"):
            assert together[column].iloc[i] == alone[column], column
