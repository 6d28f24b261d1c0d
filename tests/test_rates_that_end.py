"""Rates that end (SPEC section 4, step 2): when no row is in effect on the date of service, the latest
rows that ended before it are carried forward with a warning naming the payer and the day they ended;
benefit periods likewise; prior-authorization rules never. ``check-schedules`` and ``/healthz`` name
every payer whose latest rates end within 60 days."""

import datetime as dt
import io
import json
import subprocess
import sys

import pytest

from estimator.batch.stream import estimate_csv
from estimator.core.schedules import load_schedules
from estimator.core.service import estimate_encounter, estimate_one
from estimator.web.app import create_app

from .conftest import TEST_SCHEDULES

JANUARY = {"cpt_code": "64483", "payer_id": "medicare", "zip": "10001", "date_of_service": "2027-01-15"}
CARRIED = (
    "No rate of Original Medicare (Part B) is on file for 2027-01-15: the rate in effect until 2026-12-31 is used."
)
BENEFITS_CARRIED = (
    "No benefit figures of Original Medicare (Part B) are on file for 2027-01-15: those in effect until 2026-12-31 "
    "are used where you gave none."
)


def test_medicare_in_january_2027_carries_the_2026_rates_forward(shipped):
    january = estimate_one(JANUARY, shipped)
    december = estimate_one({**JANUARY, "date_of_service": "2026-12-15"}, shipped)
    assert (
        january["allowed_amount"] == december["allowed_amount"] == {"low": 280.51, "expected": 280.51, "high": 280.51}
    )
    assert january["components"][0]["basis"] == "rvu"
    assert CARRIED in january["warnings"]
    assert BENEFITS_CARRIED in january["warnings"]
    assert january["cost_sharing"]["deductible"] == 283  # the 2026 Part B deductible, carried
    assert not any("baseline" in w for w in january["warnings"])  # no longer blamed on the code
    assert CARRIED not in december["warnings"]
    assert any("carried forward" in line for line in january["explanation"])


def test_given_benefits_need_no_carried_period(shipped):
    given = {"deductible": 0, "coinsurance": 0.2, "copay": 0, "oop_max": 9000}
    answer = estimate_one({**JANUARY, **given}, shipped)
    assert CARRIED in answer["warnings"]
    assert BENEFITS_CARRIED not in answer["warnings"]


def _schedules(tmp_path, rates, rules=None, periods=None):
    target = tmp_path / "schedules"
    target.mkdir()
    for path in TEST_SCHEDULES.iterdir():
        (target / path.name).write_bytes(path.read_bytes())
    header = "payer_id,cpt_code,setting,component,region_id,basis,value,effective_from,effective_to,note\n"
    (target / "payer_fee_schedule.csv").write_text(header + "".join(line + "\n" for line in rates))
    if rules is not None:
        rule_header = (
            "payer_id,cpt_code,setting,network,state,status,reason,documentation,source,effective_from,effective_to\n"
        )
        (target / "prior_auth_rules.csv").write_text(rule_header + "".join(line + "\n" for line in rules))
    if periods is not None:
        period_header = "payer_id,effective_from,effective_to,deductible,coinsurance,copay,oop_max,source\n"
        (target / "benefit_periods.csv").write_text(period_header + "".join(line + "\n" for line in periods))
    return target


def test_the_latest_of_the_ended_rows_is_carried_and_the_most_specific_of_them(tmp_path):
    directory = _schedules(
        tmp_path,
        [
            "plan,*,*,professional,*,amount,100,2024-01-01,2024-06-30,",
            "plan,*,*,professional,*,amount,200,2024-07-01,2024-12-31,",  # the latest generic row
            "plan,11111,*,professional,*,amount,300,2024-07-01,2024-12-31,",  # as late, more specific: wins
            "plan,22222,*,professional,*,amount,400,2024-01-01,2024-03-31,",  # earlier: the generic row wins
            "plan,*,asc,facility,*,amount,50,2024-01-01,2024-12-31,",
            "plan,33333,*,professional,*,amount,999,2026-01-01,,",  # not yet in effect: never carried back
        ],
    )
    schedules = load_schedules(directory)
    day = {"payer_id": "plan", "date_of_service": "2025-03-01"}
    assert estimate_one({**day, "cpt_code": "11111"}, schedules)["allowed_amount"]["expected"] == 300
    assert estimate_one({**day, "cpt_code": "22222"}, schedules)["allowed_amount"]["expected"] == 200
    answer = estimate_one({**day, "cpt_code": "33333"}, schedules)
    assert answer["allowed_amount"]["expected"] == 200
    asc = estimate_one({**day, "cpt_code": "11111", "setting": "asc"}, schedules)
    assert asc["allowed_amount"]["expected"] == 350
    assert (
        "No facility rate of Test plan is on file for 2025-03-01: the facility rate in effect until 2024-12-31 is "
        "used." in asc["warnings"]
    )
    assert (
        "No rate of Test plan is on file for 2025-03-01: the rate in effect until 2024-12-31 is used."
        in (asc["warnings"])
    )
    # A rate in effect on the day is used, even a less specific one, and nothing is said of ended rows.
    in_effect = estimate_one({**day, "cpt_code": "33333", "date_of_service": "2026-02-01"}, schedules)
    assert in_effect["allowed_amount"]["expected"] == 999
    assert not any("is on file for" in w for w in in_effect["warnings"])
    # Before any row starts there is nothing to carry: the national baseline, as before.
    early = estimate_one({**day, "cpt_code": "11111", "date_of_service": "2023-06-01"}, schedules)
    assert early["components"][0]["basis"] == "baseline"


def test_rules_are_never_carried_forward_and_benefit_periods_are(tmp_path):
    directory = _schedules(
        tmp_path,
        ["plan,*,*,professional,*,amount,100,2024-01-01,2024-12-31,"],
        rules=["plan,*,*,*,*,required,Program of 2024,,Test source,2024-01-01,2024-12-31"],
        periods=["plan,2024-01-01,2024-12-31,700,0.3,,,Test period"],
    )
    schedules = load_schedules(directory)
    answer = estimate_one({"payer_id": "plan", "cpt_code": "11111", "date_of_service": "2025-02-01"}, schedules)
    assert answer["prior_authorization"]["status"] == "unknown"  # the program ended: it no longer applies
    assert answer["cost_sharing"]["deductible"] == 700 and answer["cost_sharing"]["coinsurance"] == 0.3
    assert answer["cost_sharing"]["copay"] == 10  # not in the period: the payer's default
    assert (
        "No benefit figures of Test plan are on file for 2025-02-01: those in effect until 2024-12-31 are used "
        "where you gave none." in answer["warnings"]
    )


def test_every_door_carries_the_rates_forward(shipped, client):
    expected = estimate_one(JANUARY, shipped)
    assert client.post("/api/v1/estimates", json=JANUARY).get_json() == expected
    visit = {k: v for k, v in JANUARY.items() if k != "cpt_code"} | {"lines": [{"cpt_code": "64483"}]}
    assert CARRIED in client.post("/api/v1/encounters", json=visit).get_json()["warnings"]
    assert CARRIED in estimate_encounter(visit, shipped)["warnings"]
    out = io.BytesIO()
    text = "cpt_code,payer_id,zip,date_of_service\n64483,medicare,10001,2027-01-15\n"
    estimate_csv(io.BytesIO(text.encode()), out, shipped)
    row = out.getvalue().decode().splitlines()[1]
    assert ",280.51," in row and CARRIED in row
    cli = subprocess.run(
        [sys.executable, "-m", "estimator", "estimate", *[f"--{k.replace('_', '-')}={v}" for k, v in JANUARY.items()]],
        capture_output=True,
        text=True,
    )
    assert json.loads(cli.stdout) == expected


def test_the_result_page_shows_the_carried_rate_where_the_figures_are(client):
    from .test_web import token

    page = client.post("/estimate", data={**JANUARY, "csrf_token": token(client)}).get_data(as_text=True)
    figures = page.index('data-field="allowed_expected"')
    notice = page.index("the rate in effect until 2026-12-31 is used")
    assert abs(notice - figures) < 1500  # beside the figures, not only in the list of warnings further down
    assert page.index("the rate in effect until 2026-12-31 is used", notice + 1) > notice  # and in the list


@pytest.mark.parametrize(
    ("today", "days_left"),
    [
        ("2026-10-01", None),  # 91 days before the end
        ("2026-10-31", None),  # 61 days
        ("2026-11-01", 60),
        ("2026-12-31", 0),
        ("2027-02-01", -32),  # ended already
    ],
)
def test_check_schedules_names_the_payers_whose_rates_end_within_60_days(shipped, today, days_left):
    ending = shipped.rates_ending(dt.date.fromisoformat(today))
    assert [p["days_left"] for p in ending] == ([] if days_left is None else [days_left])
    out = subprocess.run(
        [sys.executable, "-m", "estimator", "check-schedules", "--today", today], capture_output=True, text=True
    )
    assert out.returncode == 0
    named = "Rates ending: Original Medicare (Part B) (medicare): its latest rates end 2026-12-31" in out.stdout
    assert named == (days_left is not None)


def test_healthz_names_the_payers_whose_rates_end_soon(tmp_path):
    today = dt.date.today()
    soon, ended = today + dt.timedelta(days=30), today - dt.timedelta(days=3)
    directory = _schedules(
        tmp_path,
        [
            f"plan,*,*,professional,*,amount,100,2024-01-01,{soon.isoformat()},",
            f"hmo,*,*,professional,*,amount,100,2024-01-01,{ended.isoformat()},",
            "nobb,*,*,professional,*,amount,100,2024-01-01,,",  # open: never listed
            f"cash,*,*,professional,*,amount,100,2024-01-01,{(today + dt.timedelta(days=61)).isoformat()},",
        ],
    )
    app = create_app({"TESTING": True, "FEE_SCHEDULES": str(directory), "RELOAD_INTERVAL": 0})
    body = app.test_client().get("/healthz").get_json()
    assert body["rates_ending"] == [
        {"payer_id": "hmo", "name": "Test HMO", "effective_to": ended.isoformat(), "days_left": -3},
        {"payer_id": "plan", "name": "Test plan", "effective_to": soon.isoformat(), "days_left": 30},
    ]
