"""Hostile and careless requests, as tables: body limits per endpoint, long lists, many unknown fields,
unknown query parameters, every field's problem in one answer, only the reference page's assets."""

import json
import re
import time

import pytest

from estimator.web.http import MAX_ERROR_FIELDS
from estimator.web.schemas import MAX_MODIFIERS

from .conftest import upload_form

ESTIMATE = "/api/v1/estimates"
GOOD = {"cpt_code": "64483", "payer_id": "medicare", "zip": "10001", "date_of_service": "2025-05-01"}


def token(client, path="/"):
    return re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).get_data(as_text=True)).group(1)


def test_a_single_estimate_body_over_64_kib_is_413_before_it_is_parsed(client):
    started = time.perf_counter()
    body = json.dumps({**GOOD, "modifiers": ["RT"] * 5_000_000}).encode()  # about 30 MB
    response = client.post(ESTIMATE, data=body, content_type="application/json")
    assert response.status_code == 413
    assert response.get_json()["code"] == 413
    assert time.perf_counter() - started < 5  # it once took 50 s and 2 GB; this only catches that


@pytest.mark.parametrize("size", [64 * 1024 + 1, 1024 * 1024])
@pytest.mark.parametrize("path", ["/estimate", "/api/v1/estimates"])
def test_every_body_but_a_batch_file_is_at_most_64_kib(client, path, size):
    if path == "/estimate":
        response = client.post(path, data={"csrf_token": token(client), "note": "x" * size})
        assert "Too large" in response.get_data(as_text=True)
    else:
        response = client.post(path, data=b" " * size, content_type="application/json")
        assert response.get_json()["status"] == "Request Entity Too Large"
    assert response.status_code == 413


def test_the_api_batch_endpoint_takes_large_files(client):
    body = b"cpt_code,payer_id\n" + b"64483,medicare\n" * 20_000  # 300 KB
    response = client.post("/api/v1/estimates/batch", data=body, content_type="text/csv")
    assert response.status_code == 200
    assert response.get_data().count(b"\n") == 20_001


def test_the_upload_page_refuses_a_file_over_its_limit_before_any_work_and_says_what_to_use(app, client):
    limit = app.config["MAX_PAGE_UPLOAD_BYTES"]
    body = b"cpt_code,payer_id\n" + b"64483,medicare\n" * (limit // 15 + 1)
    form, content_type = upload_form({"csrf_token": token(client, "/batch")}, body)
    started = time.perf_counter()
    response = client.post("/batch", data=form, content_type=content_type)
    assert response.status_code == 413
    page = response.get_data(as_text=True)
    assert "python -m estimator batch" in page and "POST /api/v1/estimates/batch" in page
    assert time.perf_counter() - started < 2  # refused, not estimated


REALISTIC_ROW = b"CLM-000123456,64483,medicare,10001,,office,in,RT,1,2025-05-01,,,,,,\n"
REALISTIC_HEADER = (
    b"claim_id,cpt_code,payer_id,zip,region_id,setting,network,modifiers,units,date_of_service,"
    b"deductible,coinsurance,copay,oop_max,deductible_met,oop_met\n"
)


def test_a_file_of_realistic_rows_just_under_the_page_limit_is_estimated_and_offered(app, client):
    rows = (app.config["MAX_PAGE_UPLOAD_BYTES"] - 2_000) // len(REALISTIC_ROW)
    form, content_type = upload_form({"csrf_token": token(client, "/batch")}, REALISTIC_HEADER + REALISTIC_ROW * rows)
    response = client.post("/batch", data=form, content_type=content_type)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert 'href="data:text/csv;base64,' in page and f"{rows:,}" in page


def test_a_small_file_whose_estimates_outgrow_the_page_is_stopped_as_soon_as_they_do(client):
    from estimator.web.pages import MAX_PAGE_DOWNLOAD

    body = b"cpt_code,payer_id\n" + b"64483,medicare\n" * 120_000  # 1.8 MB in, about 50 MB of estimates
    assert len(body) < 2 * 2**20
    form, content_type = upload_form({"csrf_token": token(client, "/batch")}, body)
    response = client.post("/batch", data=form, content_type=content_type)
    assert response.status_code == 413
    page = response.get_data(as_text=True)
    assert f"more than the {MAX_PAGE_DOWNLOAD / 2**20:g} MiB" in page and "python -m estimator batch" in page


def test_modifier_lists_are_capped(client):
    response = client.post(ESTIMATE, json={**GOOD, "modifiers": ["RT"] * (MAX_MODIFIERS + 1)})
    assert response.status_code == 422
    assert "modifiers" in response.get_json()["errors"]


def test_thousands_of_unknown_fields_get_a_short_answer(client):
    body = {**GOOD, **{f"k{i}": 1 for i in range(5_000)}}  # under the 64 KiB limit
    response = client.post(ESTIMATE, json=body)
    assert response.status_code == 422
    errors = response.get_json()["errors"]
    assert len(errors) == MAX_ERROR_FIELDS + 1
    assert errors["_more"] == [f"{5_000 - MAX_ERROR_FIELDS:,} more fields have errors."]
    assert len(response.get_data()) < 10_000


def test_a_long_unknown_field_name_is_cut_in_the_answer(client):
    response = client.post(ESTIMATE, json={**GOOD, "x" * 5_000: 1})
    (name,) = [k for k in response.get_json()["errors"]]
    assert len(name) == 100 and name.endswith("\u2026")


ALL_AT_ONCE = [
    (
        {"payer_id": "acme", "zip": "00000", "units": 0},
        {"cpt_code", "payer_id", "zip", "units"},
    ),
    (
        {"cpt_code": "99999", "payer_id": "medicare", "extra": 1, "zip": "1", "setting": "home"},
        {"cpt_code", "zip", "setting", "extra"},
    ),
    (
        {"cpt_code": 64483, "payer_id": "nobody", "units": "x", "coinsurance": 2, "date_of_service": "2025-13-01"},
        {"cpt_code", "payer_id", "units", "coinsurance", "date_of_service"},
    ),
    (
        {"cpt_code": "64483", "payer_id": "medicare", "region_id": "ny-01", "zip": "10001", "modifiers": ["50", "RT"]},
        {"region_id", "modifiers"},
    ),
]


@pytest.mark.parametrize(("body", "fields"), ALL_AT_ONCE)
def test_every_fields_problem_is_reported_in_one_answer_by_api_and_command_line(client, body, fields):
    response = client.post(ESTIMATE, json=body)
    assert response.status_code == 422
    errors = response.get_json()["errors"]
    assert set(errors) == fields, errors


def test_the_api_and_the_form_give_the_same_messages_for_the_same_bad_fields(client):
    body = {"cpt_code": "99999", "payer_id": "acme", "zip": "00000", "units": "0"}
    api = client.post(ESTIMATE, json=body).get_json()["errors"]
    page = client.post("/estimate", data={"csrf_token": token(client), **body}).get_data(as_text=True)
    for messages in api.values():
        for message in messages:
            assert message.replace("'", "&#39;") in page


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ("", 200),
        ("?state=NY", 200),
        ("?state=ny", 200),
        ("?state=GU", 200),
        ("?foo=bar", 422),
        ("?state[]=NY", 422),
        ("?state=ZZ", 422),
        ("?state=NY&foo=1", 422),
        ("?state=New%20York", 422),
    ],
)
def test_region_query_parameters_are_validated(client, query, status):
    response = client.get("/api/v1/regions" + query)
    assert response.status_code == status, response.get_json()
    if status == 200 and "state" in query:
        assert {r["state"] for r in response.get_json()} <= {query.split("=")[1].upper()}
    if status == 422:
        assert response.get_json()["errors"]


@pytest.mark.parametrize(
    ("asset", "status"),
    [
        ("swagger-ui.css", 200),
        ("swagger-ui-bundle.js", 200),
        ("swagger-ui-standalone-preset.js", 200),
        ("index.html", 404),
        ("index.j2", 404),
        ("swagger-ui-bundle.js.map", 404),
        ("swagger-ui.js", 404),
        ("oauth2-redirect.html", 404),
        ("../__init__.py", 404),
    ],
)
def test_only_the_assets_the_reference_page_loads_are_served(client, asset, status):
    with client.get("/api/docs/assets/" + asset) as response:
        assert response.status_code == status


def test_the_reference_page_loads_only_served_assets(client):
    page = client.get("/api/docs").get_data(as_text=True)
    assets = re.findall(r'(?:src|href)="/api/docs/assets/([^"]+)"', page)
    assert len(assets) == 3
    for asset in assets:
        with client.get("/api/docs/assets/" + asset) as response:
            assert response.status_code == 200
