"""Every rule of SPEC section 4, on the small hand-made schedules, with figures computed by hand.

Small schedules (tests/data/schedules): code 11111 has RVUs 1 / 2 (non-facility PE) / 1 (facility PE) /
0.5 and baseline 100 / 200 / 400; the plan pays 20 $/RVU from 2025 (10 in 2024). Region r1 (NY) has
geo_factor 1.2 and GPCIs 1.1 / 1.2 / 0.9; r2 (TX) 0.8 and 1.0 / 0.9 / 0.5. Date of service 2025-06-01.
"""

import pytest

from .conftest import run


def allowed(row):
    return (row["allowed_low"], row["allowed_expected"], row["allowed_high"])


def patient(row):
    return (row["patient_low"], row["patient_expected"], row["patient_high"])


def payer(row):
    return (row["payer_low"], row["payer_expected"], row["payer_high"])


ALLOWED_CASES = [
    # (id, request, allowed low/expected/high, how)
    ("rvu national office", dict(cpt_code="11111", payer_id="plan"), (70, 70, 70), "3.5 RVU x 20"),
    (
        "rvu with GPCIs",
        dict(cpt_code="11111", payer_id="plan", region_id="r1"),
        (79, 79, 79),
        "(1x1.1 + 2x1.2 + 0.5x0.9) x 20",
    ),
    (
        "rvu facility PE plus facility fee",
        dict(cpt_code="11111", payer_id="plan", region_id="r1", setting="hospital_outpatient"),
        (175, 295, 535),
        "(1x1.1 + 1x1.2 + 0.5x0.9) x 20 = 55, plus baseline x 1.0 x geo 1.2",
    ),
    (
        "2024 row by date",
        dict(cpt_code="11111", payer_id="plan", date_of_service="2024-06-01"),
        (35, 35, 35),
        "3.5 x 10",
    ),
    ("baseline national", dict(cpt_code="22222", payer_id="plan"), (500, 750, 1500), "0.5 x baseline"),
    (
        "baseline times geo factor",
        dict(cpt_code="22222", payer_id="plan", zip="75001"),
        (400, 600, 1200),
        "0.5 x baseline x 0.8",
    ),
    (
        "region row beats star region",
        dict(cpt_code="22222", payer_id="plan", region_id="r1"),
        (700, 700, 700),
        "amount 700, local: no geo factor",
    ),
    (
        "region beats setting; facility amount gets geo",
        dict(cpt_code="22222", payer_id="plan", region_id="r1", setting="asc"),
        (1060, 1060, 1060),
        "700 + 300 x 1.2",
    ),
    (
        "setting row when no region row",
        dict(cpt_code="22222", payer_id="plan", setting="asc"),
        (900, 900, 900),
        "600 + 300",
    ),
    ("exact code beats star code", dict(cpt_code="44444", payer_id="plan"), (10, 20, 30), "baseline x 1"),
    ("fallback to baseline", dict(cpt_code="11111", payer_id="bare"), (100, 200, 400), "no row: baseline x 1"),
    ("bilateral indicator 1", dict(cpt_code="11111", payer_id="plan", modifiers="50"), (105, 105, 105), "70 x 1.5"),
    (
        "RT and LT are bilateral",
        dict(cpt_code="11111", payer_id="plan", modifiers="RT, LT"),
        (105, 105, 105),
        "70 x 1.5",
    ),
    ("RT alone", dict(cpt_code="11111", payer_id="plan", modifiers="RT"), (70, 70, 70), "70 x 1"),
    ("bilateral indicator 0", dict(cpt_code="22222", payer_id="plan", modifiers="50"), (500, 750, 1500), "x 1"),
    ("bilateral indicator 2", dict(cpt_code="33333", payer_id="plan", modifiers="50"), (40, 40, 40), "2 RVU x 20 x 1"),
    ("bilateral indicator 3", dict(cpt_code="44444", payer_id="plan", modifiers="lt;rt"), (20, 40, 60), "x 2"),
    ("units", dict(cpt_code="11111", payer_id="plan", units="3"), (210, 210, 210), "70 x 3"),
    (
        "all factors",
        dict(cpt_code="22222", payer_id="plan", zip="75001", modifiers="50", units="2"),
        (800, 1200, 2400),
        "0.5 x baseline x 0.8 x 1 x 2",
    ),
    (
        "out of network, balance billing",
        dict(cpt_code="11111", payer_id="plan", network="out"),
        (35, 35, 35),
        "70 x 0.5",
    ),
    (
        "out of network, no balance billing",
        dict(cpt_code="11111", payer_id="nobb", network="out"),
        (60, 120, 240),
        "baseline x 0.6",
    ),
    ("out of network, not covered", dict(cpt_code="11111", payer_id="hmo", network="out"), (0, 0, 0), "no oon_factor"),
    ("self-pay", dict(cpt_code="11111", payer_id="cash", network="out"), (100, 200, 400), "baseline, no step 7"),
]


@pytest.mark.parametrize(
    ("request_fields", "expected"), [c[1:3] for c in ALLOWED_CASES], ids=[c[0] for c in ALLOWED_CASES]
)
def test_allowed_amount(small, request_fields, expected):
    row = run(small, **request_fields)
    assert row["error"] == ""
    assert allowed(row) == expected


SHARE_CASES = [
    # (id, request, patient l/e/h, payer l/e/h, balance l/e/h)
    ("deductible swallows all", dict(cpt_code="11111", payer_id="plan"), (70, 70, 70), (0, 0, 0), (0, 0, 0)),
    (
        "deductible met: coinsurance and copay",
        dict(cpt_code="11111", payer_id="plan", deductible_met="100"),
        (24, 24, 24),
        (46, 46, 46),
        (0, 0, 0),
    ),
    (
        "cap holds",
        dict(cpt_code="22222", payer_id="plan", deductible_met="100", oop_met="450"),
        (50, 50, 50),
        (450, 700, 1450),
        (0, 0, 0),
    ),
    (
        "cap already reached",
        dict(cpt_code="22222", payer_id="plan", oop_met="600"),
        (0, 0, 0),
        (500, 750, 1500),
        (0, 0, 0),
    ),
    ("copay only", dict(cpt_code="11111", payer_id="hmo"), (25, 25, 25), (75, 75, 75), (0, 0, 0)),
    (
        "request benefits override the payer's",
        dict(cpt_code="11111", payer_id="plan", deductible="0", coinsurance="0.5", copay="0", oop_max=""),
        (35, 35, 35),
        (35, 35, 35),
        (0, 0, 0),
    ),
    (
        "benefit period sets the deductible",
        dict(cpt_code="11111", payer_id="bare"),
        (90, 100, 100),
        (10, 100, 300),
        (0, 0, 0),
    ),
    (
        "payer default outside the period",
        dict(cpt_code="11111", payer_id="bare", date_of_service="2024-06-01"),
        (75, 100, 100),
        (25, 100, 300),
        (0, 0, 0),
    ),
    (
        "balance bill added to the patient",
        dict(cpt_code="11111", payer_id="plan", network="out"),
        (100, 200, 400),
        (0, 0, 0),
        (65, 165, 365),
    ),
    (
        "no coverage: the billed charge",
        dict(cpt_code="11111", payer_id="hmo", network="out"),
        (100, 200, 400),
        (0, 0, 0),
        (100, 200, 400),
    ),
    (
        "no balance billing",
        dict(cpt_code="11111", payer_id="nobb", network="out"),
        (6, 12, 24),
        (54, 108, 216),
        (0, 0, 0),
    ),
    (
        "self-pay pays all",
        dict(cpt_code="11111", payer_id="cash", deductible="5000"),
        (100, 200, 400),
        (0, 0, 0),
        (0, 0, 0),
    ),
    (
        "half cent rounds up, and the payer's share is what the rounded patient share leaves",
        dict(cpt_code="11111", payer_id="hmo", coinsurance="0.12345"),
        (37.35, 37.35, 37.35),  # 37.345 rounds up
        (62.65, 62.65, 62.65),  # 100.00 - 37.35 (step 10): not 62.655 rounded on its own
        (0, 0, 0),
    ),
]


@pytest.mark.parametrize(
    ("request_fields", "patient_share", "payer_share", "balance"),
    [c[1:] for c in SHARE_CASES],
    ids=[c[0] for c in SHARE_CASES],
)
def test_patient_and_payer_shares(small, request_fields, patient_share, payer_share, balance):
    row = run(small, **request_fields)
    assert row["error"] == ""
    assert patient(row) == patient_share
    assert payer(row) == payer_share
    assert (row["balance_billing_low"], row["balance_billing_expected"], row["balance_billing_high"]) == balance


def test_self_pay_is_a_good_faith_estimate(small):
    row = run(small, cpt_code="11111", payer_id="cash", network="out")
    assert row["good_faith_estimate"]
    assert row["pa_status"] == "not_applicable"
    assert "Self-pay" in row["warnings"]
    assert not row["oon_applied"]


WARNING_CASES = [
    ("no region", dict(cpt_code="11111", payer_id="plan"), "national prices"),
    ("fallback", dict(cpt_code="11111", payer_id="bare"), "national baseline range"),
    ("missing facility fee", dict(cpt_code="11111", payer_id="nobb", setting="asc"), "facility"),
    ("bilateral paid as one side", dict(cpt_code="22222", payer_id="plan", modifiers="50"), "one side"),
    ("oon not covered", dict(cpt_code="11111", payer_id="hmo", network="out"), "does not cover out-of-network"),
    ("defaults used", dict(cpt_code="11111", payer_id="plan"), "payer's default was used: deductible, coinsurance"),
    ("rate note", dict(cpt_code="11111", payer_id="plan", date_of_service="2024-06-01"), "Test note for 2024."),
    ("no rule", dict(cpt_code="11111", payer_id="bare"), "No prior-authorization rule"),
]


@pytest.mark.parametrize(("request_fields", "text"), [c[1:] for c in WARNING_CASES], ids=[c[0] for c in WARNING_CASES])
def test_each_fallback_warns(small, request_fields, text):
    assert text in run(small, **request_fields)["warnings"]


def test_a_fully_specified_request_has_no_warnings(small):
    row = run(
        small,
        cpt_code="11111",
        payer_id="plan",
        region_id="r2",
        date_of_service="2025-06-01",
        deductible="0",
        coinsurance="0.2",
        copay="0",
        oop_max="1000",
    )
    assert row["warnings"] == ""


def test_missing_facility_fee_leaves_the_component_out(small):
    row = run(small, cpt_code="11111", payer_id="nobb", setting="asc")
    assert not row["facility_priced"]
    assert allowed(row) == (100, 200, 400)


def test_no_facility_component_in_the_office(small):
    row = run(small, cpt_code="11111", payer_id="plan", setting="office")
    assert not row["facility_priced"]
    assert "facility" not in row["warnings"]


PA_CASES = [
    ("code rule", dict(cpt_code="11111", payer_id="plan", region_id="r1"), "required", "auth-needed"),
    (
        "more exact rule wins",
        dict(cpt_code="11111", payer_id="plan", region_id="r1", setting="asc"),
        "conditional",
        "conditional",
    ),
    (
        "state must match",
        dict(cpt_code="11111", payer_id="plan", region_id="r2", setting="asc"),
        "required",
        "auth-needed",
    ),
    (
        "no region matches only star states",
        dict(cpt_code="11111", payer_id="plan", setting="asc"),
        "required",
        "auth-needed",
    ),
    ("network rule", dict(cpt_code="22222", payer_id="plan", network="out"), "required", "auth-needed"),
    ("payer default", dict(cpt_code="22222", payer_id="plan"), "not_required", "no-auth"),
    (
        "rule in effect that day",
        dict(cpt_code="33333", payer_id="plan", date_of_service="2024-06-01"),
        "required",
        "auth-needed",
    ),
    ("rule expired", dict(cpt_code="33333", payer_id="plan"), "not_required", "no-auth"),
    ("state rule", dict(cpt_code="11111", payer_id="hmo", zip="75001"), "conditional", "conditional"),
    ("no rule", dict(cpt_code="11111", payer_id="hmo", zip="10001"), "unknown", None),
    ("self-pay", dict(cpt_code="11111", payer_id="cash"), "not_applicable", None),
]


@pytest.mark.parametrize(("request_fields", "status", "crd"), [c[1:] for c in PA_CASES], ids=[c[0] for c in PA_CASES])
def test_prior_authorization(small, request_fields, status, crd):
    row = run(small, **request_fields)
    assert row["pa_status"] == status
    assert (row["pa_crd_code"] if isinstance(row["pa_crd_code"], str) else None) == crd


def test_zip_plus_four_maps_through_its_prefix(small):
    assert run(small, cpt_code="11111", payer_id="plan", zip="10001-2345")["region_id"] == "r1"
    assert run(small, cpt_code="11111", payer_id="plan", zip="100012345")["region_id"] == "r1"


def test_blank_date_means_today(small):
    import datetime as dt

    row = run(small, today=dt.date(2024, 6, 1), cpt_code="11111", payer_id="plan")
    assert allowed(row) == (35, 35, 35)
    assert "2024-06-01" in row["warnings"]


def test_rows_do_not_affect_each_other(small):
    import pandas as pd

    from estimator.core.engine import estimate

    from .conftest import TODAY

    requests = [c[1] for c in ALLOWED_CASES]
    raw = pd.DataFrame(requests, dtype=object).fillna("")
    together = estimate(raw, small, TODAY).frame
    for i, fields in enumerate(requests):
        alone = run(small, **fields)
        assert together.loc[i, "allowed_expected"] == alone["allowed_expected"]
        assert together.loc[i, "patient_expected"] == alone["patient_expected"]
        assert together.loc[i, "warnings"] == alone["warnings"]
