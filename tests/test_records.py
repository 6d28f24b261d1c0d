"""Saved estimates and Good Faith Estimate records (SPEC section 9), on SQLite and on PostgreSQL: the API
with a bearer token, the pages with a signed-in user, FHIR, audit, retention, accounts, and numbers that
stay unique when two workers save at once."""

import datetime as dt
import json
import logging
import re
import subprocess
import sys

import pytest
from fhir.resources.R4B.bundle import Bundle
from sqlalchemy import select

from estimator.records import service as records
from estimator.records.accounts import create_token, disable_user, revoke_token
from estimator.records.details import npi_is_valid, tin_is_valid
from estimator.records.fhir import PROFILES
from estimator.records.models import SavedEstimate
from estimator.web.app import create_app

from .conftest import PASSWORD

VISIT = {
    "payer_id": "self_pay",
    "zip": "30303",
    "date_of_service": "2026-12-15",
    "lines": [{"cpt_code": "99213"}, {"cpt_code": "64635"}, {"cpt_code": "64636"}],
}
PROVIDER = {
    "name": "Peachtree Spine Clinic",
    "npi": "1234567893",
    "tin": "12-3456789",
    "address": {"line": "1 Main St", "city": "Atlanta", "state": "GA", "postal_code": "30303"},
}
FACILITY = {**PROVIDER, "name": "Peachtree Surgery Center", "npi": "1245319599", "tin": "98-7654321"}
DETAILS = {
    "patient": {"name": "Ana Example", "birth_date": "1970-02-03"},
    "provider": PROVIDER,
    "facility": FACILITY,
    "diagnosis_codes": ["M54.16"],
}


def save(client, headers, **overrides):
    return client.post("/api/v1/saved-estimates", json={"estimate": VISIT, **DETAILS, **overrides}, headers=headers)


def test_the_api_flow_save_read_list_supersede_export(site):
    app, headers, _ = site
    client = app.test_client()
    created = save(client, headers)
    assert created.status_code == 201
    body = created.get_json()
    assert re.fullmatch(r"GFE-\d{4}-\d{6}", body["number"])
    assert created.headers["Location"].endswith(f"/api/v1/saved-estimates/{body['id']}")
    direct = client.post("/api/v1/encounters", json=VISIT).get_json()
    assert body["answer"]["patient_responsibility"] == direct["patient_responsibility"]
    assert body["fee_schedules"]["hash"] and body["created_by"] == "staff@example.org"

    read = client.get(f"/api/v1/saved-estimates/{body['id']}", headers=headers).get_json()
    assert read["answer"] == body["answer"] and read["patient"] == {**DETAILS["patient"], "sex": "unknown"}

    save(
        client,
        headers,
        patient={"name": "Bo Other", "birth_date": "1980-01-01"},
        estimate={**VISIT, "lines": [{"cpt_code": "20610"}]},
    )
    for query, count in [
        ("name=ana", 1),
        ("name=EXAMPLE", 1),
        ("birth_date=1980-01-01", 1),
        (f"number={body['number']}", 1),
        ("code=64636", 1),
        ("code=20610", 1),
        (f"created_from={dt.date.today()}", 2),
        ("created_to=2000-01-01", 0),
        ("per_page=1&page=2", 2),
    ]:
        listed = client.get(f"/api/v1/saved-estimates?{query}", headers=headers).get_json()
        assert listed["total"] == count, query
    page_two = client.get("/api/v1/saved-estimates?per_page=1&page=2", headers=headers).get_json()
    assert [item["id"] for item in page_two["items"]] == [body["id"]]  # newest first

    corrected = client.post(
        f"/api/v1/saved-estimates/{body['id']}/supersede",
        json={"estimate": {**VISIT, "lines": VISIT["lines"][:2]}},
        headers=headers,
    )
    assert corrected.status_code == 201
    newer = corrected.get_json()
    assert newer["supersedes"] == body["id"] and newer["patient"] == read["patient"]
    old = client.get(f"/api/v1/saved-estimates/{body['id']}", headers=headers).get_json()
    assert old["superseded_by"] == newer["id"] and old["answer"] == body["answer"]  # unchanged
    again = client.post(f"/api/v1/saved-estimates/{body['id']}/supersede", json={"estimate": VISIT}, headers=headers)
    assert again.status_code == 409

    exported = client.get(f"/api/v1/saved-estimates/{body['id']}/fhir", headers=headers)
    assert exported.status_code == 200 and exported.mimetype == "application/fhir+json"
    bundle = Bundle.model_validate(exported.get_json())
    assert bundle.type == "collection" and bundle.meta.profile == [PROFILES["bundle"]]
    claims = {entry.resource.meta.profile[0]: entry.resource for entry in bundle.entry[:2]}
    assert list(claims) == [PROFILES["summary"], PROFILES["professional"]]  # an office visit: no facility fee
    claim = claims[PROFILES["professional"]]
    assert claim.use == "predetermination"
    assert [item.productOrService.coding[0].code for item in claim.item] == ["99213", "64635", "64636"]
    assert [float(item.net.value) for item in claim.item] == [
        line["allowed_amount"]["expected"] for line in body["answer"]["lines"]
    ]
    assert float(claim.total.value) == float(claims[PROFILES["summary"]].total.value)
    assert float(claim.total.value) == body["answer"]["allowed_amount"]["expected"]
    assert "$400 or more" in claim.extension[0].valueString
    resources = {entry.resource.__resource_type__: entry.resource for entry in bundle.entry}
    assert resources["Patient"].birthDate.isoformat() == "1970-02-03"
    organizations = [e.resource for e in bundle.entry if e.resource.__resource_type__ == "Organization"]
    assert {o.identifier[0].value for o in organizations} == {PROVIDER["npi"], FACILITY["npi"]}


@pytest.mark.parametrize(
    ("change", "key"),
    [
        ({"provider": {**PROVIDER, "npi": "1234567890"}}, "provider.npi"),
        ({"provider": {**PROVIDER, "tin": "12345"}}, "provider.tin"),
        ({"provider": {**PROVIDER, "address": {**PROVIDER["address"], "state": "ZZ"}}}, "provider.address.state"),
        ({"patient": {"name": "A", "birth_date": "2999-01-01"}}, "patient.birth_date"),
        ({"patient": {"name": "A", "birth_date": "yesterday"}}, "patient.birth_date"),
        ({"diagnosis_codes": ["pain"]}, "diagnosis_codes"),
        ({"estimate": {**VISIT, "payer_id": "nobody"}}, "estimate.payer_id"),
        ({"estimate": {**VISIT, "lines": [{"cpt_code": "00000"}]}}, "estimate.lines.0.cpt_code"),
    ],
)
def test_details_and_the_estimate_are_validated(site, change, key):
    app, headers, _ = site
    response = save(app.test_client(), headers, **change)
    assert response.status_code == 422
    assert key in response.get_json()["errors"], response.get_json()


def test_npi_check_digits_and_tins():
    assert npi_is_valid("1234567893") and npi_is_valid("1245319599")
    assert not npi_is_valid("1234567890") and not npi_is_valid("123456789") and not npi_is_valid("abcdefghij")
    assert tin_is_valid("12-3456789") and tin_is_valid("123456789") and not tin_is_valid("12-345")


def test_every_saved_estimate_route_needs_a_valid_token(site):
    app, headers, session = site
    client = app.test_client()
    record_id = save(client, headers).get_json()["id"]
    routes = [
        ("get", "/api/v1/saved-estimates"),
        ("get", f"/api/v1/saved-estimates/{record_id}"),
        ("get", f"/api/v1/saved-estimates/{record_id}/fhir"),
        ("post", "/api/v1/saved-estimates"),
        ("post", f"/api/v1/saved-estimates/{record_id}/supersede"),
    ]
    real = headers["Authorization"].split()[1]
    for token in (
        None,
        "Bearer nonsense",
        "Bearer est_1_wrong",
        "Basic abc",
        "Bearer est_²_x",
        f"Bearer est_{'9' * 23}_x",
        "Bearer " + real[:-1] + ("A" if real[-1] != "A" else "B"),  # one character off
        "Bearer " + real + "x",
        "Bearer " + "x" * 10_000,
    ):
        for method, path in routes:
            response = getattr(client, method)(path, json={}, headers={"Authorization": token} if token else {})
            assert response.status_code == 401, (token, path)
            assert response.headers["WWW-Authenticate"].startswith("Bearer")
    revoke_token(session, real)
    assert client.get("/api/v1/saved-estimates", headers=headers).status_code == 401  # revoked: refused at once
    fresh = {"Authorization": "Bearer " + create_token(session, "staff@example.org")}
    assert client.get("/api/v1/saved-estimates", headers=fresh).status_code == 200
    disable_user(session, "staff@example.org")
    assert client.get("/api/v1/saved-estimates", headers=fresh).status_code == 401  # disabled: refused at once
    # the price endpoints stay open
    assert client.post("/api/v1/encounters", json=VISIT).status_code == 200


def token_of(client, path):
    return re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).get_data(as_text=True)).group(1)


def test_the_pages_flow_sign_in_estimate_save_list_print_export_correct(site, caplog):
    app, _, session = site
    caplog.set_level(logging.DEBUG)
    client = app.test_client()
    assert client.get("/records").status_code == 302  # to the sign-in page
    assert "/login" in client.get("/records").headers["Location"]
    bad = client.post(
        "/login", data={"csrf_token": token_of(client, "/login"), "email": "staff@example.org", "password": "wrong"}
    )
    assert bad.status_code == 401
    good = client.post(
        "/login",
        data={
            "csrf_token": token_of(client, "/login"),
            "email": "staff@example.org",
            "password": PASSWORD,
            "next": "/records",
        },
    )
    assert good.status_code == 302 and good.headers["Location"] == "/records"

    form = {
        "csrf_token": token_of(client, "/"),
        "payer_id": "self_pay",
        "zip": "30303",
        "date_of_service": "2026-12-15",
        "line_count": "3",
        "cpt_code": "99213",
        "lines-1-cpt_code": "64635",
        "lines-2-cpt_code": "64636",
    }
    result = client.post("/estimate", data=form).get_data(as_text=True)
    assert "Save as Good Faith Estimate" in result
    estimate = re.search(r'name="estimate" value="([^"]+)"', result).group(1)
    import html

    estimate = html.unescape(estimate)
    details_page = client.post("/records/new", data={"csrf_token": token_of(client, "/"), "estimate": estimate})
    assert "Date of birth" in details_page.get_data(as_text=True)
    fields = {
        "csrf_token": token_of(client, "/"),
        "estimate": estimate,
        "patient_name": "Ana Example",
        "patient_birth_date": "1970-02-03",
        "diagnosis_codes": "M54.16",
        "provider_name": PROVIDER["name"],
        "provider_npi": PROVIDER["npi"],
        "provider_tin": PROVIDER["tin"],
        "provider_address_line": "1 Main St",
        "provider_address_city": "Atlanta",
        "provider_address_state": "GA",
        "provider_address_postal_code": "30303",
    }
    wrong = client.post("/records/new", data={**fields, "provider_npi": "1234567890"})
    assert wrong.status_code == 422 and 'id="provider_npi-error"' in wrong.get_data(as_text=True)
    saved = client.post("/records/new", data=fields)
    assert saved.status_code == 302
    record_page = client.get(saved.headers["Location"]).get_data(as_text=True)
    number = re.search(r'data-field="number">(GFE-\d{4}-\d{6})<', record_page).group(1)
    assert "Ana Example" in record_page and "1234567893" in record_page and "Superseded" not in record_page

    listing = client.post("/records", data={"csrf_token": token_of(client, "/"), "name": "example ana"})
    assert f'data-record="{number}"' in listing.get_data(as_text=True)  # words in any order, by POST
    record = session.scalar(select(SavedEstimate).where(SavedEstimate.number == number))
    assert client.get(f"/records/{record.id}/print").status_code == 200
    export = client.get(f"/records/{record.id}/fhir")
    assert export.mimetype == "application/fhir+json"
    Bundle.model_validate(json.loads(export.get_data()))

    correct = client.get(f"/?supersedes={record.id}&prefill={record_page and json.dumps(record.request)}")
    assert f'name="supersedes" value="{record.id}"' in correct.get_data(as_text=True)
    corrected = client.post("/records/new", data={**fields, "supersedes": str(record.id)})
    assert corrected.status_code == 302
    old_page = client.get(f"/records/{record.id}").get_data(as_text=True)
    assert "Superseded." in old_page

    actions = [e.action for e in records.audit_trail(session, record.id)]
    # saved, then shown (not audited again), printed, exported, opened to correct, corrected, viewed
    assert actions == ["create", "print", "export", "superseded", "view"], actions
    out = subprocess.run(
        [sys.executable, "-m", "estimator", "audit", "--record", number],
        capture_output=True,
        text=True,
        env={**__import__("os").environ, "ESTIMATOR_DATABASE_URL": app.config["DATABASE_URL"]},
    )
    assert out.returncode == 0 and "\tcreate\tstaff@example.org\tweb" in out.stdout

    client.post("/logout", data={"csrf_token": token_of(client, "/")})
    assert client.get("/records").status_code == 302
    # no patient detail ever reaches the application log
    text = caplog.text
    for detail in ("Ana Example", "1970-02-03", "M54.16"):
        assert detail not in text


def test_repeated_failed_sign_ins_are_refused_for_a_while(site):
    app, _, _ = site
    client = app.test_client()
    for _ in range(5):
        token = token_of(client, "/login")
        assert (
            client.post(
                "/login", data={"csrf_token": token, "email": "staff@example.org", "password": "nope"}
            ).status_code
            == 401
        )
    token = token_of(client, "/login")
    locked = client.post("/login", data={"csrf_token": token, "email": "staff@example.org", "password": PASSWORD})
    assert locked.status_code == 429 and "Try again in" in locked.get_data(as_text=True)


def test_purge_keeps_six_years(site):
    app, headers, session = site
    client = app.test_client()
    old_id = save(client, headers).get_json()["id"]
    young_id = save(client, headers).get_json()["id"]
    session.get(SavedEstimate, old_id).created_at = dt.datetime(2015, 1, 1, tzinfo=dt.UTC)
    session.commit()
    with pytest.raises(records.RecordError, match="must be kept 6 years"):
        records.purge(session, dt.date.today() - dt.timedelta(days=365))
    assert records.purge(session, dt.date(2016, 1, 1)) == 1
    session.expire_all()
    assert session.get(SavedEstimate, old_id) is None and session.get(SavedEstimate, young_id) is not None


WORKER = """
import sys
from estimator.core.schedules import load_schedules
from estimator.records import service
from estimator.records.db import make_engine, make_sessions
from estimator.records.accounts import find_user
url, count = sys.argv[1], int(sys.argv[2])
session = make_sessions(make_engine(url))()
user = find_user(session, "staff@example.org")
schedules = load_schedules()
details = {"patient": {"name": "Load Test", "birth_date": "1990-01-01"}, "provider": %r}
for i in range(count):
    service.save(session, user, {"cpt_code": "20610", "payer_id": "self_pay"}, details, schedules, 0.0, "cli")
"""


def test_two_workers_saving_at_once_get_distinct_numbers(site):
    app, _, session = site
    url = app.config["DATABASE_URL"]
    code = WORKER % (PROVIDER,)
    workers = [subprocess.Popen([sys.executable, "-c", code, url, "500"]) for _ in range(2)]
    assert [w.wait(timeout=600) for w in workers] == [0, 0]
    numbers = session.scalars(select(SavedEstimate.number).where(SavedEstimate.patient_name == "Load Test")).all()
    assert len(numbers) == 1000 and len(set(numbers)) == 1000


def test_failed_sign_ins_are_counted_across_workers(site, database):
    first, _, _ = site
    second = create_app({"TESTING": True, "DATABASE_URL": database, "RELOAD_INTERVAL": 0})  # another worker
    for app, times in ((first, 3), (second, 2)):
        client = app.test_client()
        for _ in range(times):
            token = token_of(client, "/login")
            client.post("/login", data={"csrf_token": token, "email": "staff@example.org", "password": "nope"})
    for app in (first, second):
        client = app.test_client()
        token = token_of(client, "/login")
        response = client.post("/login", data={"csrf_token": token, "email": "staff@example.org", "password": PASSWORD})
        assert response.status_code == 429
    second.extensions["records_engine"].dispose()


def test_the_migrations_make_the_schema_the_models_describe(database):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from sqlalchemy import create_engine

    from estimator.records.models import Base

    engine = create_engine(database)
    with engine.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []
    engine.dispose()
