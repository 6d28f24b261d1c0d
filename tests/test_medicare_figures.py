"""The shipped Medicare schedule reproduces the CMS CY2025 payment figures for 64483."""

import pytest

from .conftest import run


@pytest.mark.parametrize(
    ("where", "setting", "expected"),
    [
        ({}, "office", 236.13),
        ({}, "hospital_outpatient", 107.71),
        ({"region_id": "ny-01"}, "office", 271.66),
        ({"region_id": "ny-01"}, "hospital_outpatient", 121.92),
        ({"region_id": "al-00"}, "office", 211.73),
        ({"region_id": "al-00"}, "asc", 100.13),
        ({"zip": "10001"}, "office", 271.66),
        ({"zip": "35203-1234"}, "office", 211.73),
    ],
)
def test_64483_in_2025_matches_cms(shipped, where, setting, expected):
    row = run(shipped, cpt_code="64483", payer_id="medicare", setting=setting, date_of_service="2025-03-01", **where)
    assert row["error"] == ""
    assert row["professional_basis"] == "rvu"
    assert (row["allowed_low"], row["allowed_expected"], row["allowed_high"]) == (expected,) * 3


@pytest.mark.parametrize(
    ("day", "factor"),
    [("2024-02-01", 32.7442), ("2024-03-09", 33.2875), ("2025-12-31", 32.3465), ("2026-01-01", 33.4009)],
)
def test_conversion_factor_follows_the_date_of_service(shipped, day, factor):
    row = run(shipped, cpt_code="64483", payer_id="medicare", date_of_service=day)
    assert row["professional_value"] == factor
    assert row["allowed_expected"] == round(7.30 * factor + 1e-9, 2)


@pytest.mark.parametrize(("day", "deductible"), [("2024-06-01", 240), ("2025-06-01", 257), ("2026-06-01", 283)])
def test_part_b_deductible_by_year(shipped, day, deductible):
    row = run(shipped, cpt_code="64483", payer_id="medicare", date_of_service=day)
    assert row["deductible"] == deductible
    allowed = row["allowed_expected"]
    assert row["patient_expected"] == pytest.approx(
        min(allowed, deductible) + 0.2 * max(0, allowed - deductible), abs=0.006
    )


def test_2026_estimate_warns_that_rvus_are_2025(shipped):
    row = run(shipped, cpt_code="64483", payer_id="medicare", date_of_service="2026-02-01")
    assert "CY2025 RVUs" in row["warnings"]


def test_20971_has_no_medicare_rvus_and_falls_back_to_the_baseline(shipped):
    row = run(shipped, cpt_code="20971", payer_id="medicare", date_of_service="2025-06-01")
    assert row["professional_fallback"]
    assert (row["allowed_low"], row["allowed_expected"], row["allowed_high"]) == (500.0, 1000.0, 2000.0)
    assert "national baseline range" in row["warnings"]


@pytest.mark.parametrize(
    ("code", "setting", "state_zip", "day", "status"),
    [
        ("64493", "hospital_outpatient", "10001", "2025-06-01", "required"),
        ("64493", "office", "10001", "2025-06-01", "not_required"),
        ("64493", "hospital_outpatient", "10001", "2023-06-30", "unknown"),
        ("64483", "office", "85001", "2026-01-15", "required"),  # WISeR, Arizona
        ("64483", "office", "85001", "2026-01-14", "not_required"),
        ("64483", "office", "10001", "2026-03-01", "not_required"),  # New York is not in WISeR
        ("64490", "office", "85001", "2026-03-01", "not_required"),  # WISeR excludes facet injections
    ],
)
def test_medicare_prior_authorization_rules(shipped, code, setting, state_zip, day, status):
    row = run(shipped, cpt_code=code, payer_id="medicare", setting=setting, zip=state_zip, date_of_service=day)
    assert row["pa_status"] == status
