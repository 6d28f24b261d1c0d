"""The web pages without a browser: form fields, CSRF, errors, batch page."""

import io
import re

import pytest

from estimator.batch.stream import MONEY_COLUMNS
from estimator.core.glossary import REQUEST_FIELDS

from .conftest import DATA


def token(client, path="/"):
    page = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def test_the_form_has_one_control_per_request_field(client):
    page = client.get("/").get_data(as_text=True)
    for field in REQUEST_FIELDS:
        assert f'name="{field}"' in page, field
    assert page.count('name="modifiers"') == 5  # three sides, the part of the service, the other modifiers
    assert '<option value="64483">' in page  # a suggestion: the form takes any code (the finder finds them)
    assert '<option value="self_pay"' in page and '<option value="ny-01"' in page
    assert page.count('<datalist id="procedure-codes">') == 1
    assert page.count("<label") >= len(REQUEST_FIELDS)


def test_a_form_without_its_csrf_token_is_refused(client):
    response = client.post("/estimate", data={"cpt_code": "64483", "payer_id": "medicare"})
    assert response.status_code == 400
    assert "Form expired" in response.get_data(as_text=True)


def test_form_errors_come_back_beside_their_fields(client):
    response = client.post(
        "/estimate",
        data={"csrf_token": token(client), "cpt_code": "64483", "payer_id": "medicare", "coinsurance": "150"},
    )
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert 'id="coinsurance-error">Give coinsurance as a fraction from 0 to 1 (0.2 = 20 %) or as a percent' in page
    assert 'value="150"' in page  # what was typed comes back


def test_form_result_has_every_data_field(client):
    response = client.post(
        "/estimate",
        data={
            "csrf_token": token(client),
            "cpt_code": "64483",
            "payer_id": "medicare",
            "zip": "10001",
            "date_of_service": "2025-05-01",
        },
    )
    page = response.get_data(as_text=True)
    for field in (*MONEY_COLUMNS, "prior_auth"):
        assert f'data-field="{field}"' in page, field
    assert 'data-field="allowed_expected">$271.66<' in page


@pytest.mark.parametrize("path", ["/", "/batch", "/no-such-page"])
def test_pages_carry_security_headers(client, path):
    response = client.get(path, headers={"Accept": "text/html"})
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]


def test_unknown_page_is_an_html_404_for_browsers_and_json_for_clients(client):
    html = client.get("/no-such-page", headers={"Accept": "text/html"})
    assert html.status_code == 404 and html.mimetype == "text/html"
    api = client.get("/no-such-page", headers={"Accept": "application/json"})
    assert api.status_code == 404 and api.get_json()["code"] == 404


def test_batch_page_without_a_file(client):
    response = client.post("/batch", data={"csrf_token": token(client, "/batch")}, content_type="multipart/form-data")
    assert response.status_code == 422
    assert "Choose a CSV file" in response.get_data(as_text=True)


def test_batch_page_with_an_unreadable_file(client):
    upload = {"csrf_token": token(client, "/batch"), "file": (io.BytesIO(b"a,b\n1,2\n"), "x.csv")}
    response = client.post("/batch", data=upload, content_type="multipart/form-data")
    assert response.status_code == 422
    assert "no cpt_code and no payer_id column" in response.get_data(as_text=True)


def test_batch_page_summary_and_download_link(small_app):
    client = small_app.test_client()
    upload = {"csrf_token": token(client, "/batch"), "file": ((DATA / "batch_input.csv").open("rb"), "claims.csv")}
    page = client.post("/batch", data=upload, content_type="multipart/form-data").get_data(as_text=True)
    assert 'data-summary="rows">12<' in page and 'data-summary="failed">4<' in page
    assert 'data-summary="fallbacks">4<' in page  # rows 6, 10, 11 and 12 (see test_batch)
    assert 'download="claims-estimates.csv"' in page


def test_sample_csv_is_a_valid_batch(client):
    response = client.get("/batch/sample.csv")
    assert response.mimetype == "text/csv"
    assert response.get_data(as_text=True).startswith("claim_id,cpt_code,payer_id")
