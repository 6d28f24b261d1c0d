"""Saved estimates as documents (SPEC section 9): an insured patient's is a patient cost estimate whose lines
add up to its totals, a self-pay patient's a Good Faith Estimate that says all the unsaved one says; every
printed record carries every warning of its answer; searches find names in any order and part of a number;
a save reports every problem at once, in the forms' words."""

import csv
import datetime as dt
import io
import json
import re
import shutil
from html import unescape

import pytest

from estimator.batch.stream import estimate_csv
from estimator.core.schedules import DEFAULT_DIRECTORY, load_schedules
from estimator.records.accounts import add_user, create_token
from estimator.records.db import make_engine, make_sessions
from estimator.web.app import create_app

from .records_support import database_url
from .test_pct_conformance import FACILITY, PASSWORD, PROVIDER, signed_in, token_of, web_fields

MEDICARE_VISIT = {
    "payer_id": "medicare",
    "zip": "10001",
    "date_of_service": "2026-06-01",
    "lines": [{"cpt_code": "64483"}, {"cpt_code": "64484"}],
}
SELF_PAY_ASC = {
    "payer_id": "self_pay",
    "zip": "10001",
    "setting": "asc",
    "date_of_service": "2026-06-01",
    "lines": [{"cpt_code": "64483"}, {"cpt_code": "64484"}],
}
DISPUTE_NOTICE = ("120 calendar days", "$25 fee", "www.cms.gov/nosurprises", "1-800-985-3059", "Keep a copy")


def open_site(tmp_path, schedules=None):
    url, _ = database_url("sqlite", tmp_path)
    config = {"TESTING": True, "DATABASE_URL": url, "RELOAD_INTERVAL": 0}
    if schedules:
        config["FEE_SCHEDULES"] = str(schedules)
    app = create_app(config)
    session = make_sessions(make_engine(url))()
    add_user(session, "staff@example.org", PASSWORD)
    headers = {"Authorization": f"Bearer {create_token(session, 'staff@example.org')}"}
    return app, headers, session


@pytest.fixture
def site(tmp_path):
    app, headers, session = open_site(tmp_path)
    yield app, headers
    session.close()
    session.bind.dispose()
    app.extensions["records_engine"].dispose()


def save(site, estimate, patient=None, facility=None, **more):
    app, headers = site
    body = {
        "estimate": estimate,
        "patient": patient or {"name": "Jane Q. Doe", "birth_date": "1970-02-03", "member_id": "1EG4-TE5-MK73"},
        "provider": PROVIDER,
        **more,
    }
    if facility:
        body["facility"] = facility
    response = app.test_client().post("/api/v1/saved-estimates", json=body, headers=headers)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def text_of(page):
    """What a reader sees of a page: its text without tags, scripts or hidden elements, spaces collapsed."""
    page = re.sub(r"<(script|style)\b.*?</\1>", " ", page, flags=re.S)
    page = re.sub(r"<p hidden>.*?</p>|<span hidden[^>]*>.*?</span>", " ", page, flags=re.S)
    text = re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", page))).strip()
    return re.sub(r" ([:.,])", r"\1", text)


def money(value):
    return f"${value:,.2f}"


def cents(text):
    return round(float(text.replace("$", "").replace(",", "")) * 100)


def test_an_insured_visit_is_a_patient_cost_estimate_whose_lines_add_up(site):
    saved = save(site, MEDICARE_VISIT)
    answer = saved["answer"]
    client = signed_in(site[0])
    for path in (f"/records/{saved['id']}", f"/records/{saved['id']}/print"):
        page = client.get(path).get_data(as_text=True)
        seen = text_of(page)
        assert "Good Faith Estimate" not in re.search(r"<title>(.*?)</title>", page, re.S).group(1)
        assert "<h1>Patient cost estimate" in page and "Good Faith Estimate" not in re.search(
            r"<h1>.*?</h1>", page
        ).group(0)
        for column in ("line_allowed", "line_payer", "line_patient"):
            figures = re.findall(rf'data-field="{column}">(\$[\d,.]+)<', page)
            assert len(figures) == 2
        allowed = [cents(v) for v in re.findall(r'data-field="line_allowed">(\$[\d,.]+)<', page)]
        payer = [cents(v) for v in re.findall(r'data-field="line_payer">(\$[\d,.]+)<', page)]
        patient = [cents(v) for v in re.findall(r'data-field="line_patient">(\$[\d,.]+)<', page)]
        assert [a - b for a, b in zip(allowed, payer, strict=True)] == patient  # in network: no balance bill
        totals = {
            f: cents(re.search(rf'data-field="{f}">(\$[\d,.]+)<', page).group(1))
            for f in ("allowed_expected", "payer_expected", "patient_expected")
        }
        assert totals == {
            "allowed_expected": sum(allowed),
            "payer_expected": sum(payer),
            "patient_expected": sum(patient),
        }
        assert totals["allowed_expected"] == round(answer["allowed_amount"]["expected"] * 100)
        assert totals["patient_expected"] == round(answer["patient_responsibility"]["expected"] * 100)
        for label in ("Allowed amount", "Plan pays", "Patient pays", "Total: allowed amount, plan pays, patient pays"):
            assert label in seen
        for warning in answer["warnings"]:
            assert warning in seen
        assert "Member ID: 1EG4-TE5-MK73" in seen
    listed = site[0].test_client().get("/api/v1/saved-estimates", headers=site[1]).get_json()["items"][0]
    assert listed["document"] == "Patient cost estimate"
    assert listed["total_expected"] == answer["allowed_amount"]["expected"]
    assert listed["patient_expected"] == answer["patient_responsibility"]["expected"]
    assert listed["plan_expected"] == answer["payer_responsibility"]["expected"]


def test_a_saved_good_faith_estimate_says_all_the_unsaved_one_says(site):
    app, _ = site
    saved = save(site, SELF_PAY_ASC, facility=FACILITY, diagnosis_codes=["M54.16"])
    answer = saved["answer"]
    client = signed_in(app)
    form = {
        "csrf_token": token_of(client, "/"),
        "payer_id": "self_pay",
        "zip": "10001",
        "setting": "asc",
        "date_of_service": "2026-06-01",
        "line_count": "2",
        "cpt_code": "64483",
        "lines-1-cpt_code": "64484",
    }
    unsaved = client.post("/estimate", data=form).get_data(as_text=True)
    printed = client.get(f"/records/{saved['id']}/print").get_data(as_text=True)

    def items(page):
        return re.findall(r'<tr data-item="\d+">(.*?)</tr>', page, re.S)

    assert items(printed) == items(unsaved) and len(items(printed)) == 4  # 2 lines x clinician and facility fees
    for page in (unsaved, printed):
        seen = text_of(page)
        assert "<h1>Good Faith Estimate" in page
        for words in DISPUTE_NOTICE:
            assert words in seen, words
        for warning in answer["warnings"]:
            assert warning in seen
        low, high = answer["patient_responsibility"]["low"], answer["patient_responsibility"]["high"]
        assert f"{money(low)} to {money(high)}" in seen  # the range
        charges = [cents(v) for v in re.findall(r'data-field="item_expected">(\$[\d,.]+)<', page)]
        total = cents(re.search(r'data-field="patient_expected">(\$[\d,.]+)<', page).group(1))
        assert sum(charges) == total == round(answer["patient_responsibility"]["expected"] * 100)
        assert "Planned date" in seen and seen.count("2026-06-01") >= 4
        assert "plan pays" not in seen.lower() and "balance bill" not in seen.lower()
        assert "in network" not in seen
    seen = text_of(printed)
    assert "Phone: 404-555-0100" in seen and "Peachtree Surgery Center" in seen and "M54.16" in seen
    document = printed[printed.index('<article class="gfe">') : printed.index("</article>")]
    assert "staff@example.org" not in printed.split("</header>")[1] and "fingerprint" not in printed
    assert "Peachtree Spine Clinic" in document  # the provider, not the staff member, is the contact
    details = text_of(client.get(f"/records/{saved['id']}").get_data(as_text=True))
    assert "staff@example.org" in details and "fingerprint" in details


def test_a_charge_left_out_is_said_on_the_printed_record(site, tmp_path):
    """An insured ASC visit without a facility rate on file; and a self-pay one, on schedules whose self-pay
    facility fees are taken out."""
    saved = save(site, {**MEDICARE_VISIT, "setting": "asc"})
    client = signed_in(site[0])
    seen = text_of(client.get(f"/records/{saved['id']}/print").get_data(as_text=True))
    assert "Not included in this estimate" in seen
    assert "The facility's own fee for 64483, 64484" in seen
    schedules = tmp_path / "schedules"
    shutil.copytree(DEFAULT_DIRECTORY, schedules)
    rates = (schedules / "payer_fee_schedule.csv").read_text().splitlines(keepends=True)
    (schedules / "payer_fee_schedule.csv").write_text(
        "".join(line for line in rates if not (line.startswith("self_pay,") and ",facility," in line))
    )
    (tmp_path / "other").mkdir()
    app, headers, session = open_site(tmp_path / "other", schedules)
    saved = save((app, headers), SELF_PAY_ASC)
    seen = text_of(signed_in(app).get(f"/records/{saved['id']}/print").get_data(as_text=True))
    assert "Good Faith Estimate" in seen and "Not included in this estimate" in seen
    assert "the facility's own bill is left out of this estimate" in seen
    session.close()
    session.bind.dispose()
    app.extensions["records_engine"].dispose()


def test_self_pay_prices_from_the_baseline_say_so_and_are_counted(site):
    saved = save(site, {"payer_id": "self_pay", "zip": "10001", "cpt_code": "20971", "date_of_service": "2026-06-01"})
    assert saved["answer"]["allowed_amount"]["expected"] == 1150.60  # $1,000 typical x Manhattan's 1.1506
    warning = next(w for w in saved["answer"]["warnings"] if w.startswith("Self-pay price from the national baseline"))
    seen = text_of(signed_in(site[0]).get(f"/records/{saved['id']}/print").get_data(as_text=True))
    assert warning in seen and "Price from the national baseline range for this code" in seen
    rows = "cpt_code,payer_id,zip\n20971,self_pay,10001\n20610,medicare,10001\n20610,self_pay,10001\n"
    response = site[0].test_client().post("/api/v1/estimates/batch", data=rows, content_type="text/csv")
    out = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    # 20971 has no Medicare RVUs: the self-pay example prices it on its range; 20610 on its RVUs
    assert ["Self-pay price from the national baseline" in row["warnings"] for row in out] == [True, False, False]
    summary = estimate_csv(io.BytesIO(rows.encode()), io.BytesIO(), load_schedules(), dt.date(2026, 6, 1), 100)
    assert summary["fallbacks"] == 1  # the self-pay 20971 row: priced on the national baseline range


def test_a_correction_says_it_is_one(site):
    app, headers = site
    old = save(site, MEDICARE_VISIT)
    client = signed_in(app)
    form = {"csrf_token": token_of(client, "/"), "estimate": json.dumps(MEDICARE_VISIT), "supersedes": str(old["id"])}
    page = client.post("/records/new", data=form).get_data(as_text=True)
    assert f"<h1>Correct {old['number']}</h1>" in page and "correction" in text_of(page)
    assert 'value="Jane Q. Doe"' in page and 'value="1EG4-TE5-MK73"' in page  # the old record's details
    fields = {
        **form,
        "patient_name": "Jane Q. Doe",
        "patient_birth_date": "1970-02-03",
        "patient_member_id": "1EG4-TE5-MK73",
        **web_fields("provider", PROVIDER),
    }
    saved = client.post("/records/new", data=fields)
    assert saved.status_code == 302
    newer = client.get(saved.headers["Location"]).get_data(as_text=True)
    assert f'This estimate corrects <a href="/records/{old["id"]}">{old["number"]}</a>' in newer
    assert "(record " not in newer


def test_a_new_save_starts_from_the_clinics_last_provider_and_facility(site):
    save(site, SELF_PAY_ASC, facility=FACILITY)
    client = signed_in(site[0])
    form = {"csrf_token": token_of(client, "/"), "estimate": json.dumps(SELF_PAY_ASC)}
    page = client.post("/records/new", data=form).get_data(as_text=True)
    assert f'value="{PROVIDER["npi"]}"' in page and f'value="{FACILITY["name"]}"' in page
    assert 'id="patient_name" name="patient_name" type="text" value=""' in page
    assert "<h1>Save as Good Faith Estimate</h1>" in page and "patient_member_id" not in page


@pytest.mark.parametrize(
    ("query", "names"),
    [
        ("Jane Doe", ["Jane Q. Doe"]),
        ("doe jane", ["Jane Q. Doe"]),
        ("smith john", ["John Smith"]),
        ("JOHN", ["John Smith"]),
        ("O", ["John Smith", "Jane Q. Doe"]),
        ("Jane Smith", []),
    ],
)
def test_names_match_in_any_order(site, query, names):
    app, headers = site
    for name in ("Jane Q. Doe", "John Smith"):
        save(site, MEDICARE_VISIT, {"name": name, "birth_date": "1970-02-03", "member_id": "X1"})
    listed = app.test_client().get("/api/v1/saved-estimates", query_string={"name": query}, headers=headers).get_json()
    assert sorted(item["patient_name"] for item in listed["items"]) == sorted(names)
    client = signed_in(app)
    page = client.post("/records", data={"csrf_token": token_of(client, "/"), "name": query}).get_data(as_text=True)
    assert sorted(re.findall(r'<td class="text">(Jane Q\. Doe|John Smith)</td>', page)) == sorted(names)


def test_part_of_a_number_finds_the_record(site):
    app, headers = site
    first = save(site, MEDICARE_VISIT)
    second = save(site, MEDICARE_VISIT)
    for part, found in (
        (second["number"][-3:], [second["number"]]),
        (first["number"][4:], [first["number"]]),
        ("gfe-", None),
    ):
        listed = (
            app.test_client().get("/api/v1/saved-estimates", query_string={"number": part}, headers=headers).get_json()
        )
        numbers = [item["number"] for item in listed["items"]]
        assert numbers == (found or [second["number"], first["number"]]), part


def test_every_problem_of_a_save_in_one_answer_in_the_forms_words(site):
    app, headers = site
    bad_estimate = {
        **MEDICARE_VISIT,
        "region_id": "ny-01",
        "lines": [{"cpt_code": "64483", "units": 0}, {"cpt_code": "99999"}],
    }
    body = {
        "estimate": bad_estimate,
        "patient": {"name": "", "birth_date": "2999-01-01"},
        "provider": {**PROVIDER, "npi": "1234567890"},
        "facility": {"name": "Half a facility"},
        "diagnosis_codes": ["M54.16", "pain"],
    }
    response = app.test_client().post("/api/v1/saved-estimates", json=body, headers=headers)
    assert response.status_code == 422
    errors = response.get_json()["errors"]
    for key in (
        "patient.name",
        "patient.birth_date",
        "provider.npi",
        "facility.npi",
        "facility.address",
        "diagnosis_codes",
        "estimate.region_id",
        "estimate.lines.0.units",
        "estimate.lines.1.cpt_code",
    ):
        assert key in errors, (key, errors)
    assert errors["diagnosis_codes"] == ["Code 2 (pain) is not an ICD-10-CM code, such as M54.16."]
    assert errors["estimate.lines.0.units"] == ["Must be a whole number from 1 to 99."]
    # a good estimate for an insured patient needs the member ID, named with the details' other problems
    response = app.test_client().post(
        "/api/v1/saved-estimates",
        json={**body, "estimate": MEDICARE_VISIT, "facility": None, "diagnosis_codes": []},
        headers=headers,
    )
    assert "patient.member_id" in response.get_json()["errors"] and "provider.npi" in response.get_json()["errors"]

    client = signed_in(app)
    fields = {
        "csrf_token": token_of(client, "/"),
        "estimate": json.dumps({**bad_estimate, "deductible": 20_000_000}),
        "patient_name": "A",
        "patient_birth_date": "1970-01-01",
        "diagnosis_codes": "M54.16 pain",
        **web_fields("provider", PROVIDER),
        "facility_name": "Half a facility",
    }
    page = client.post("/records/new", data=fields)
    assert page.status_code == 422
    seen = text_of(page.get_data(as_text=True))
    for words in (
        "The estimate: Region: Give a region or a ZIP code, not both.",
        "The estimate: Line 1: Units: Must be a whole number from 1 to 99.",
        "The estimate: Line 2: Procedure (CPT code): Unknown procedure code '99999'.",
        "The estimate: Yearly deductible: Must be an amount from $0 to $10,000,000.",
        "Diagnosis codes: Code 2 (pain) is not an ICD-10-CM code, such as M54.16.",
        "Facility: NPI: Not a valid NPI",
        "Facility: ZIP code: Give 5 digits, or ZIP+4.",
        "A facility needs its name, NPI, TIN and full address.",
    ):
        assert words in seen, words
    for internal in ("region_id", "postal code", "less than or equal", "10000000", "item 0", "Length must be"):
        assert internal not in seen, internal


def test_the_migration_lists_old_records_by_their_total_charge(site, tmp_path):
    """Records saved before migration 0004 listed the patient's share as their total; after it, the charge."""
    from alembic import command
    from sqlalchemy import create_engine, text

    from estimator.records.db import alembic_config

    saved = save(site, MEDICARE_VISIT)
    url = f"sqlite:///{tmp_path / 'old.sqlite3'}"
    command.upgrade(alembic_config(url), "0003")
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO users (id, email, password_hash, is_admin, is_active, created_at, session_version) "
                "VALUES (1, 'a@example.org', 'x', 0, 1, '2026-01-01', 0)"
            )
        )
        connection.execute(
            text(
                "INSERT INTO saved_estimates (id, number, request, answer, details, patient_name, patient_birth_date, "
                "total_expected, schedules_directory, schedules_hash, schedules_loaded_at, created_by_id, created_at) "
                "VALUES (1, 'GFE-2026-000001', '{}', :answer, '{}', 'A', '1970-01-01', :share, 'd', 'h', "
                "'2026-01-01', 1, '2026-01-01')"
            ),
            {"answer": json.dumps(saved["answer"]), "share": saved["answer"]["patient_responsibility"]["expected"]},
        )
    command.upgrade(alembic_config(url), "head")
    with engine.connect() as connection:
        total = connection.execute(text("SELECT total_expected FROM saved_estimates")).scalar_one()
    assert (
        float(total)
        == saved["answer"]["allowed_amount"]["expected"]
        != saved["answer"]["patient_responsibility"]["expected"]
    )
    command.downgrade(alembic_config(url), "0003")
    with engine.connect() as connection:
        total = connection.execute(text("SELECT total_expected FROM saved_estimates")).scalar_one()
    assert float(total) == saved["answer"]["patient_responsibility"]["expected"]
    engine.dispose()


def test_a_field_named_with_other_digits_is_an_unknown_field_not_a_position(site):
    """Keys such as "²" or "٣" are digits to str.isdigit but no list position: a 422 naming them by their
    path, as any unknown field ("0", a position in marshmallow's messages, stays within its field's)."""
    app, headers = site
    for key, where in (("²", "facility.²"), ("٣", "facility.٣"), ("0", "facility")):
        response = app.test_client().post(
            "/api/v1/saved-estimates",
            json={"estimate": {}, "patient": {"name": "A", "birth_date": "1970-01-01"}, "facility": {key: None}},
            headers=headers,
        )
        assert response.status_code == 422, key
        assert any("Unknown field." in m for m in response.get_json()["errors"][where]), response.get_json()
