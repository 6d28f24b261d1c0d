"""The JSON API: each endpoint's happy and unhappy paths, one error shape, the same figures as the CLI."""

import csv
import io
import json
import subprocess
import sys

import pytest

from estimator.core.errors import ScheduleError
from estimator.core.glossary import REQUEST_FIELDS

from .conftest import DATA, TEST_SCHEDULES

ESTIMATE = "/api/v1/estimates"
MANHATTAN = {"cpt_code": "64483", "payer_id": "medicare", "zip": "10001", "date_of_service": "2025-05-01"}


def test_estimate_answers_with_the_contract_fields(client):
    response = client.post(ESTIMATE, json=MANHATTAN)
    assert response.status_code == 200
    body = response.get_json()
    for field in (
        "cpt_code",
        "payer_id",
        "region_id",
        "setting",
        "network",
        "allowed_amount",
        "patient_responsibility",
        "payer_responsibility",
        "balance_billing",
        "components",
        "prior_authorization",
        "good_faith_estimate",
        "warnings",
        "explanation",
    ):
        assert field in body
    assert body["allowed_amount"] == {"low": 271.66, "expected": 271.66, "high": 271.66}
    assert body["patient_responsibility"]["expected"] == 259.93  # 257 + 20 % of 14.65
    assert body["components"] == [
        {
            "component": "professional",
            "basis": "rvu",
            "value": 32.3465,
            "region_factor": 1.0,
            "allowed_amount": {"low": 271.66, "expected": 271.66, "high": 271.66},
        }
    ]
    assert body["prior_authorization"]["crd_code"] == "no-auth"
    assert response.headers["Cache-Control"] == "no-store"
    assert list(body)[:3] == ["cpt_code", "description", "payer_id"]


def test_modifiers_are_a_json_list(client):
    body = client.post(
        ESTIMATE,
        json={"cpt_code": "20971", "payer_id": "self_pay", "modifiers": ["RT", "LT"], "date_of_service": "2025-05-01"},
    ).get_json()
    assert body["allowed_amount"] == {"low": 750.0, "expected": 1500.0, "high": 3000.0}
    assert body["good_faith_estimate"] is True
    assert "$400 or more" in body["good_faith_notice"]


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"payer_id": "medicare"}, "cpt_code", "Missing data for required field."),
        ({**MANHATTAN, "cpt_code": "99999"}, "cpt_code", "Unknown procedure code '99999'."),
        ({**MANHATTAN, "units": 0}, "units", "Must be a whole number from 1 to 99."),
        ({**MANHATTAN, "units": "two"}, "units", "Not a valid integer."),
        ({**MANHATTAN, "units": 1.5}, "units", "Not a valid integer."),
        ({**MANHATTAN, "setting": "home"}, "setting", "Must be one of: office, asc, hospital_outpatient."),
        ({**MANHATTAN, "coinsurance": 2}, "coinsurance", "Give coinsurance as a fraction from 0 to 1 (0.2 = 20 %)."),
        ({**MANHATTAN, "coinsurance": "20%"}, "coinsurance", "Not a valid number."),
        ({**MANHATTAN, "modifiers": ["50", "RT"]}, "modifiers", "Modifier 50 cannot be combined with RT or LT."),
        ({**MANHATTAN, "modifiers": "RT"}, "modifiers", "Not a valid list."),
        ({**MANHATTAN, "zip": "00012"}, "zip", "No region of the fee schedules covers ZIP codes starting 000."),
        ({**MANHATTAN, "region_id": "ny-01"}, "region_id", "Give region_id or zip, not both."),
        ({**MANHATTAN, "date_of_service": "2025-13-01"}, "date_of_service", "Not a valid date."),
        ({**MANHATTAN, "colour": "blue"}, "colour", "Unknown field."),
    ],
)
def test_bad_fields_get_422_with_per_field_messages(client, body, field, message):
    response = client.post(ESTIMATE, json=body)
    assert response.status_code == 422
    payload = response.get_json()
    assert payload["errors"][field] == [message]
    assert payload["code"] == 422 and payload["status"] == "Unprocessable Entity"


def test_nan_and_infinity_are_refused(client):
    response = client.post(
        ESTIMATE, data='{"cpt_code": "64483", "payer_id": "medicare", "copay": NaN}', content_type="application/json"
    )
    assert response.status_code == 422
    assert response.get_json()["errors"]["copay"] == ["Special numeric values (nan or infinity) are not permitted."]


NOT_JSON_BODIES = [
    (b"", "not valid JSON: Expecting value at line 1, column 1."),
    (b"not json", "not valid JSON: Expecting value at line 1, column 1."),
    (b'{\n "cpt_code": "64483",', "not valid JSON: Expecting property name enclosed in double quotes at line 2"),
    (b"\xff\xfe", "not valid JSON"),
    (b'{"cpt_code": "\xe9"}', "not valid JSON: it is not UTF-8 text."),
    (b"[" * 50_000, "too deeply"),
    (b'{"units": ' + b"7" * 5_000 + b"}", "a number in it has more than 4,300 digits."),
    (b'{"cpt_code": "64483", "payer_id": "medicare", "cpt_code": "20971"}', "names 'cpt_code' twice"),
    (b'{"cpt_code": "64483", "payer_id": "medicare", "zip": {"a": 1, "a": 2}}', "names 'a' twice"),
]


@pytest.mark.parametrize(("body", "message"), NOT_JSON_BODIES)
def test_a_body_that_is_not_json_is_a_400_saying_what_is_wrong(client, body, message):
    response = client.post(ESTIMATE, data=body, content_type="application/json")
    assert response.status_code == 400
    payload = response.get_json()
    assert list(payload["errors"]) == ["_body"]
    assert message in payload["errors"]["_body"][0]
    assert payload["message"] == payload["errors"]["_body"][0]


def test_json_sent_without_a_json_content_type_is_still_read(client):
    response = client.post(ESTIMATE, data=json.dumps(MANHATTAN), content_type="text/plain")
    assert response.status_code == 200


def test_json_that_is_not_an_object_is_a_422(client):
    response = client.post(ESTIMATE, json=[MANHATTAN])
    assert response.status_code == 422
    assert response.get_json()["errors"] == {"_schema": ["Invalid input type."]}


def test_method_not_allowed_has_allow_header(client):
    response = client.get(ESTIMATE)
    assert response.status_code == 405
    assert set(response.headers["Allow"].split(", ")) >= {"POST"}
    assert response.get_json()["code"] == 405


def test_unknown_path_is_a_json_404(client):
    response = client.get("/api/v1/nothing")
    assert response.status_code == 404
    assert response.get_json()["status"] == "Not Found"


def test_too_large_a_body_is_a_413(small_app):
    small_app.config["MAX_CONTENT_LENGTH"] = 1000
    try:
        response = small_app.test_client().post("/api/v1/estimates/batch", data=b"x" * 5000, content_type="text/csv")
    finally:
        small_app.config["MAX_CONTENT_LENGTH"] = 64 * 1024 * 1024
    assert response.status_code == 413
    assert response.get_json()["code"] == 413


def test_procedures(client):
    everything = client.get("/api/v1/procedures").get_json()
    assert everything["total"] == 7360 and len(everything["items"]) == 50  # a page at a time
    one = client.get("/api/v1/procedures/64483").get_json()
    assert (one["work_rvu"], one["pe_rvu_nonfacility"], one["mp_rvu"], one["bilateral_indicator"]) == (
        1.9,
        5.24,
        0.16,
        1,
    )
    assert client.get("/api/v1/procedures/20971").get_json()["work_rvu"] is None
    missing = client.get("/api/v1/procedures/00000")
    assert missing.status_code == 404
    assert missing.get_json()["message"] == "Unknown procedure code '00000'."


def test_payers_and_regions(client):
    payers = {p["payer_id"]: p for p in client.get("/api/v1/payers").get_json()}
    assert payers["medicare"]["coinsurance"] == 0.2 and payers["medicare"]["oop_max"] is None
    regions = client.get("/api/v1/regions?state=NY").get_json()
    assert {r["region_id"] for r in regions} == {"ny-01", "ny-02", "ny-03", "ny-04", "ny-99"}
    assert len(client.get("/api/v1/regions").get_json()) == 109


def test_healthz_names_the_schedules_and_their_dates(client):
    body = client.get("/healthz").get_json()
    assert body["status"] == "ok"
    assert body["fee_schedules"].endswith("fee_schedules")
    assert body["effective_from"] == "2024-01-01"


def test_security_headers_on_every_answer(client):
    for response in (client.get("/healthz"), client.get("/api/v1/nothing"), client.post(ESTIMATE, data=b"x")):
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["X-Frame-Options"] == "DENY"
        assert "default-src 'self'" in response.headers["Content-Security-Policy"]


def test_openapi_document_and_offline_reference_page(client):
    spec = client.get("/api/openapi.json").get_json()
    assert spec["openapi"].startswith("3.")
    assert {
        "/api/v1/estimates",
        "/api/v1/estimates/batch",
        "/api/v1/procedures",
        "/api/v1/procedures/{cpt_code}",
        "/api/v1/payers",
        "/api/v1/regions",
        "/healthz",
    } <= set(spec["paths"])
    post = spec["paths"]["/api/v1/estimates"]["post"]
    assert post["requestBody"]["content"]["application/json"]["example"]["cpt_code"] == "64483"
    assert {"200", "400", "422"} <= set(post["responses"])
    page = client.get("/api/docs")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "http" not in html.replace("http-equiv", "")  # no CDN: every asset from this host
    with client.get("/api/docs/assets/swagger-ui-bundle.js") as asset:
        assert asset.status_code == 200


def read_csv(data):
    return list(csv.DictReader(io.StringIO(data.decode())))


def test_batch_endpoint_with_a_csv_body_matches_the_golden_file(small_app):
    client = small_app.test_client()
    response = client.post(
        "/api/v1/estimates/batch", data=(DATA / "batch_input.csv").read_bytes(), content_type="text/csv"
    )
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert response.get_data() == (DATA / "batch_expected.csv").read_bytes()


def test_batch_endpoint_with_a_multipart_file(small_app):
    client = small_app.test_client()
    upload = {"file": (io.BytesIO((DATA / "batch_input.csv").read_bytes()), "claims.csv")}
    response = client.post("/api/v1/estimates/batch", data=upload, content_type="multipart/form-data")
    assert response.status_code == 200
    assert response.get_data() == (DATA / "batch_expected.csv").read_bytes()


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"data": b"", "content_type": "text/csv"}, "file"),
        ({"data": b"a,b\n1,2\n", "content_type": "text/csv"}, "file"),
        ({"data": {"other": (io.BytesIO(b"x"), "x.csv")}, "content_type": "multipart/form-data"}, "file"),
    ],
)
def test_batch_endpoint_refuses_unreadable_files(small_app, kwargs, field):
    response = small_app.test_client().post("/api/v1/estimates/batch", **kwargs)
    assert response.status_code == 422
    assert field in response.get_json()["errors"]


def test_api_and_command_line_give_identical_figures(small_app, tmp_path):
    client = small_app.test_client()
    out = tmp_path / "cli.csv"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "estimator",
            "batch",
            str(DATA / "batch_input.csv"),
            "-o",
            str(out),
            "--fee-schedules",
            str(TEST_SCHEDULES),
            "-q",
        ],
        check=True,
    )
    for row in read_csv(out.read_bytes()):
        fields = {k: v for k, v in row.items() if k in REQUEST_FIELDS and k != "modifiers" and v != ""}
        if row["modifiers"]:
            fields["modifiers"] = row["modifiers"].replace(";", " ").replace(",", " ").split()
        response = client.post(ESTIMATE, json=fields)
        if row["error"]:
            assert response.status_code == 422, row
            continue
        body = response.get_json()
        assert f"{body['allowed_amount']['expected']:.2f}" == row["allowed_expected"]
        assert f"{body['patient_responsibility']['low']:.2f}" == row["patient_low"]
        assert f"{body['patient_responsibility']['high']:.2f}" == row["patient_high"]
        assert f"{body['payer_responsibility']['expected']:.2f}" == row["payer_expected"]
        assert f"{body['balance_billing']['expected']:.2f}" == row["balance_billing_expected"]
        assert body["prior_authorization"]["status"] == row["prior_auth"]
        assert " | ".join(body["warnings"]) == row["warnings"]


def test_a_bad_schedule_directory_stops_start_up(tmp_path):
    from estimator.web.app import create_app

    (tmp_path / "procedures.csv").write_text("cpt_code\n")
    with pytest.raises(ScheduleError, match="procedures.csv, line 1, column description"):
        create_app({"FEE_SCHEDULES": str(tmp_path), "SECRET_KEY": "x" * 32})


def test_batch_answer_is_streamed_and_uploads_stay_in_memory(small_app):
    from estimator.web.app import InMemoryUploadRequest

    client = small_app.test_client()
    response = client.post(
        "/api/v1/estimates/batch", data=(DATA / "batch_input.csv").read_bytes(), content_type="text/csv", buffered=False
    )
    assert response.is_streamed
    assert b"".join(response.response) == (DATA / "batch_expected.csv").read_bytes()
    assert isinstance(InMemoryUploadRequest({})._get_file_stream(10**9, "text/csv", "big.csv"), io.BytesIO)


def test_wsgi_refuses_to_start_on_bad_schedules_with_the_loaders_message(tmp_path):
    import os
    from pathlib import Path

    (tmp_path / "procedures.csv").write_text("cpt_code\n")
    env = {**os.environ, "ESTIMATOR_FEE_SCHEDULES": str(tmp_path), "ESTIMATOR_SECRET_KEY": "k" * 64}
    root = Path(__file__).resolve().parent.parent
    done = subprocess.run([sys.executable, "-c", "import wsgi"], cwd=root, env=env, capture_output=True, text=True)
    assert done.returncode == 1
    assert "procedures.csv, line 1, column description: required column is missing" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(("key", "message"), [(None, "ESTIMATOR_SECRET_KEY is not set"), ("short", "too short")])
def test_the_service_refuses_to_start_without_a_real_secret_key(key, message):
    import os
    from pathlib import Path

    env = {k: v for k, v in os.environ.items() if k != "ESTIMATOR_SECRET_KEY"}
    if key:
        env["ESTIMATOR_SECRET_KEY"] = key
    root = Path(__file__).resolve().parent.parent
    done = subprocess.run([sys.executable, "-c", "import wsgi"], cwd=root, env=env, capture_output=True, text=True)
    assert done.returncode == 1 and message in done.stderr and "Traceback" not in done.stderr
