"""The web pages in a real browser: Debian's Chromium driven by Playwright.

Skipped when /usr/bin/chromium is missing, unless REQUIRE_BROWSER is set (CI sets it), then it fails.
A screenshot of the result page is saved under test-artifacts/ to be looked at.
"""

import csv
import io
import json
from pathlib import Path

import pytest

from estimator.batch.stream import MONEY_COLUMNS
from estimator.core.glossary import STATUS_WORDS

from .browser_support import require_chromium

require_chromium()

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
FIGURES = list(MONEY_COLUMNS)


@pytest.fixture
def page(browser):
    context = browser.new_context(accept_downloads=True, viewport={"width": 1100, "height": 900})
    page = context.new_page()
    yield page
    context.close()


def figures(page):
    return {f: page.locator(f'[data-field="{f}"]').first.inner_text() for f in [*FIGURES, "prior_auth"]}


def money(value):
    return f"${value:,.2f}"


def fill_form(page, server, **fields):
    page.goto(server + "/")
    if "cpt_code" in fields:
        page.fill("#cpt_code", fields["cpt_code"])
    for name in ("payer_id", "setting", "region_id"):
        if name in fields:
            page.select_option(f"#{name}", fields[name])
    for name in (
        "zip",
        "units",
        "date_of_service",
        "deductible",
        "deductible_met",
        "coinsurance",
        "copay",
        "oop_max",
        "oop_met",
    ):
        if name in fields:
            page.fill(f"#{name}", str(fields[name]))
    if "network" in fields:
        page.check(f'input[name="network"][value="{fields["network"]}"]')
    for modifier in fields.get("modifiers", []):
        page.check(f'input[name="modifiers"][value="{modifier}"]')
    page.click("button[type=submit]")


def test_form_result_matches_the_api(page, server, client):
    request = {
        "cpt_code": "64483",
        "payer_id": "example_ppo",
        "zip": "10001",
        "setting": "asc",
        "network": "out",
        "modifiers": ["RT"],
        "units": "1",
        "date_of_service": "2025-06-02",
        "deductible": "1500",
        "deductible_met": "200",
        "oop_met": "100",
    }
    fill_form(page, server, **request)
    assert page.title().startswith("Estimate for 64483")
    shown = figures(page)
    api = client.post("/api/v1/estimates", json=request).get_json()
    expected = {
        "allowed_low": money(api["allowed_amount"]["low"]),
        "allowed_expected": money(api["allowed_amount"]["expected"]),
        "allowed_high": money(api["allowed_amount"]["high"]),
        "patient_low": money(api["patient_responsibility"]["low"]),
        "patient_expected": money(api["patient_responsibility"]["expected"]),
        "patient_high": money(api["patient_responsibility"]["high"]),
        "payer_expected": money(api["payer_responsibility"]["expected"]),
        "balance_billing_expected": money(api["balance_billing"]["expected"]),
        "prior_auth": STATUS_WORDS[api["prior_authorization"]["status"]],
    }
    assert shown == expected
    assert page.locator("svg[role=img] rect").count() == 3
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "result.png"), full_page=True)


def test_the_20971_page_explains_the_procedure(page, server):
    fill_form(page, server, cpt_code="20971", payer_id="medicare", zip="35203", date_of_service="2025-06-02")
    text = page.inner_text("main")
    assert "How to prepare" in text and "Recovery" in text
    assert "national baseline range" in text  # Medicare has no rate for 20971: the fallback is explained
    assert figures(page)["allowed_expected"] == money(1000 * 0.8994)


def test_bad_input_shows_the_message_beside_its_field(page, server):
    fill_form(page, server, cpt_code="62321", payer_id="medicare", zip="123", units="0", modifiers=["50"])
    assert page.locator("#zip-error").inner_text() == "Not a valid ZIP code: give 5 digits, or ZIP+4 as 12345-6789."
    assert "Must be a whole number from 1" in page.locator("#units-error").inner_text()
    assert "bilateral indicator 9" in page.locator("#modifiers-error").inner_text()
    assert page.locator("#zip").get_attribute("aria-invalid") == "true"
    assert page.input_value("#zip") == "123"  # what was typed is kept


def test_self_pay_gets_a_printable_good_faith_estimate(page, server):
    fill_form(page, server, cpt_code="20971", payer_id="self_pay", zip="30303", date_of_service="2025-06-02")
    assert page.title().startswith("Good Faith Estimate")
    text = page.inner_text("main")
    assert "$400 or more" in text
    assert "National Provider Identifier" in text and "dispute" in text
    assert page.locator("tbody tr").first.inner_text().startswith("20971")
    page.emulate_media(media="print")
    assert page.locator("header.site").is_hidden()
    page.pdf(path=str(ARTIFACTS / "good-faith-estimate.pdf"))  # Chromium prints it


def test_batch_upload_returns_the_estimated_csv(page, server):
    page.goto(server + "/")
    page.click("text=Batch upload")
    sample = page.request.get(server + "/batch/sample.csv").body()
    page.set_input_files("#file", files=[{"name": "claims.csv", "mimeType": "text/csv", "buffer": sample}])
    page.click("button[type=submit]")
    assert page.locator('[data-summary="rows"]').inner_text() == "6"
    assert page.locator('[data-summary="failed"]').inner_text() == "1"
    with page.expect_download() as info:
        page.click("#download")
    download = info.value
    assert download.suggested_filename == "claims-estimates.csv"
    rows = list(csv.DictReader(io.StringIO(Path(download.path()).read_text())))
    assert [r["claim_id"] for r in rows] == ["A-1", "A-2", "A-3", "A-4", "A-5", "A-6"]
    assert rows[0]["allowed_expected"] == "271.66"
    assert "bilateral indicator 9" in rows[5]["error"]


def test_keyboard_only_submission(page, server):
    page.goto(server + "/")
    page.focus("#cpt_code")
    page.keyboard.press("Control+A")
    page.keyboard.type("99213")  # the code typed over the default one
    page.focus("button[type=submit]")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.title() == "Estimate for 99213"


def test_a_pasted_271_fills_the_plan_figures_and_enter_estimates(page, server):
    response = (Path(__file__).parent / "data" / "x12" / "own-dependent-family-deductible.271").read_text()
    page.goto(server + "/")
    page.fill("#cpt_code", "64483")
    page.select_option("#payer_id", "example_ppo")
    page.fill("#zip", "10001")
    page.fill("#date_of_service", "2025-12-15")
    page.fill("#eligibility_271", response)
    page.click("button[name=read_271]")
    assert page.url.endswith("#plan-figures")
    figures = {name: page.input_value(f"#{name}") for name in ("deductible", "deductible_met", "coinsurance", "copay")}
    assert figures == {"deductible": "4000", "deductible_met": "3900", "coinsurance": "10%", "copay": "35"}
    assert "From the 271: EB segment 13" in page.inner_text("[data-source=copay]")
    page.press("#copay", "Enter")  # the form's default button estimates; it does not read the 271 again
    assert page.title() == "Estimate for 64483"
    assert page.inner_text("[data-field=patient_expected]") == "$165.00"
    assert "000000101" in page.inner_text("[data-field=eligibility]")


def test_a_code_found_by_its_words_starts_an_estimate(page, server):
    """The code finder works without JavaScript: a search, then a link that fills the form with the code."""
    page.goto(server + "/")
    page.click("text=Find a code by its number or words")
    page.fill("#q", "mri lower back")
    page.click("button[type=submit]")
    assert page.locator("tr[data-code]").count() == 3
    page.click("text=Estimate 72148")
    assert page.input_value("#cpt_code") == "72148"
    page.select_option("#modifiers-part", "26")
    page.fill("#modifiers-other", "59")
    page.select_option("#payer_id", "medicare")
    page.fill("#zip", "10001")
    page.fill("#date_of_service", "2025-06-01")
    page.click("button[type=submit]")
    assert page.locator('[data-field="allowed_expected"]').inner_text() == "$75.10"  # 72148-26, Manhattan


def test_unknown_page_has_the_site_look(page, server):
    response = page.goto(server + "/no-such-page")
    assert response.status == 404
    assert page.locator("header.site").is_visible()


def test_api_reference_page_renders_offline(page, server):
    blocked = []
    page.on("request", lambda r: blocked.append(r.url) if not r.url.startswith(server) else None)
    page.goto(server + "/api/docs")
    page.wait_for_selector(".opblock", timeout=15000)  # Swagger UI drew the operations
    spec = page.request.get(server + "/api/openapi.json").json()
    verbs = {"get", "post", "put", "patch", "delete"}
    operations = sum(len(verbs & set(methods)) for methods in spec["paths"].values())
    page.locator(".opblock").nth(operations - 1).wait_for(timeout=15000)
    assert page.locator(".opblock").count() == operations
    assert "Estimate one procedure line" in page.inner_text("body")
    assert blocked == []  # every asset came from this host


def test_a_three_line_visit_in_the_browser(page, server, client):
    page.goto(server + "/")
    page.fill("#cpt_code", "64493")
    page.fill("#lines-1-cpt_code", "64494")
    page.click("button[name=add_line]")  # a fourth row, without JavaScript
    page.fill("#lines-2-cpt_code", "64495")
    page.fill("#lines-3-cpt_code", "99213")
    page.select_option("#payer_id", "example_ppo")
    page.fill("#zip", "60601")
    page.fill("#date_of_service", "2025-09-15")
    page.fill("#deductible_met", "1500")
    page.fill("#coinsurance", "20%")
    page.click("text=Estimate the cost")
    assert page.title().startswith("Estimate for a visit of 4 procedures")
    api = client.post(
        "/api/v1/encounters",
        json={
            "payer_id": "example_ppo",
            "zip": "60601",
            "date_of_service": "2025-09-15",
            "deductible_met": 1500,
            "coinsurance": 0.2,
            "lines": [{"cpt_code": c} for c in ("64493", "64494", "64495", "99213")],
        },
    ).get_json()
    rows = page.locator("table.lines tbody tr")
    assert rows.count() == 4
    for i, line in enumerate(api["lines"]):
        assert rows.nth(i).locator('[data-field="line_allowed"]').inner_text() == money(
            line["allowed_amount"]["expected"]
        )
        assert rows.nth(i).locator('[data-field="line_patient"]').inner_text() == money(
            line["patient_responsibility"]["expected"]
        )
    assert page.locator('[data-field="patient_expected"]').inner_text() == money(
        api["patient_responsibility"]["expected"]
    )
    assert page.locator("svg[role=img] rect").count() == 3
    page.locator("details summary").first.click()
    assert page.locator("details").first.locator("ol.steps li").first.is_visible()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "visit.png"), full_page=True)


def test_a_self_pay_visit_prints_as_one_good_faith_estimate(page, server, client):
    page.goto(server + "/")
    page.fill("#cpt_code", "99213")
    page.fill("#lines-1-cpt_code", "64635")
    page.fill("#lines-2-cpt_code", "64636")
    page.select_option("#payer_id", "self_pay")
    page.fill("#zip", "30303")
    page.fill("#date_of_service", "2025-10-01")
    page.click("text=Estimate the cost")
    assert page.title().startswith("Good Faith Estimate for 99213 + 64635 + 64636")
    items = page.locator("tbody tr[data-item]")
    assert [items.nth(i).locator("td").first.inner_text() for i in range(items.count())] == ["99213", "64635", "64636"]
    api = client.post(
        "/api/v1/encounters",
        json={
            "payer_id": "self_pay",
            "zip": "30303",
            "date_of_service": "2025-10-01",
            "lines": [{"cpt_code": "99213"}, {"cpt_code": "64635"}, {"cpt_code": "64636"}],
        },
    ).get_json()
    assert page.locator('[data-field="patient_expected"]').inner_text() == money(
        api["patient_responsibility"]["expected"]
    )
    assert "$400 or more" in page.inner_text("main")
    page.emulate_media(media="print")
    ARTIFACTS.mkdir(exist_ok=True)
    page.pdf(path=str(ARTIFACTS / "visit-good-faith-estimate.pdf"))


def test_a_new_staff_user_saves_a_self_pay_visit_finds_prints_exports_and_corrects_it(page, server, records_url):
    """As a new user would, in Chromium: sign in, estimate a self-pay visit, save it as a Good Faith
    Estimate, find it in the list, open the printable record, export it as FHIR, correct it."""
    from estimator.records.accounts import add_user
    from estimator.records.db import make_engine, make_sessions

    session = make_sessions(make_engine(records_url))()
    add_user(session, "front.desk@clinic.example", "a long passphrase here")
    session.close()
    session.bind.dispose()

    page.goto(server + "/records")
    assert "/login" in page.url
    page.fill("#email", "front.desk@clinic.example")
    page.fill("#password", "a long passphrase here")
    page.click("button[type=submit]")
    assert page.url.endswith("/records")

    page.goto(server + "/")
    page.fill("#cpt_code", "99213")
    page.fill("#lines-1-cpt_code", "64635")
    page.select_option("#payer_id", "self_pay")
    page.fill("#zip", "30303")
    page.fill("#date_of_service", "2026-12-15")
    page.click("text=Estimate the cost")
    page.click("text=Save as Good Faith Estimate")
    page.fill("#patient_name", "Ana Browser")
    page.fill("#patient_birth_date", "1970-02-03")
    page.fill("#provider_name", "Peachtree Spine Clinic")
    page.fill("#provider_npi", "1234567893")
    page.fill("#provider_tin", "12-3456789")
    page.fill("#provider_address_line", "1 Main St")
    page.fill("#provider_address_city", "Atlanta")
    page.fill("#provider_address_state", "GA")
    page.fill("#provider_address_postal_code", "30303")
    page.click("text=Save the Good Faith Estimate")
    number = page.locator('[data-field="number"]').inner_text()
    assert number.startswith("GFE-") and "Ana Browser" in page.inner_text("main")

    page.goto(server + "/records")
    page.fill("#name", "browser ana")  # words in any order; sent by POST, so the name is in no URL
    page.click("text=Search")
    assert "browser" not in page.url.lower()
    assert page.locator(f'tr[data-record="{number}"]').count() == 1
    page.click(f"text={number}")
    page.emulate_media(media="print")
    assert page.locator("header.site").is_hidden()
    ARTIFACTS.mkdir(exist_ok=True)
    page.pdf(path=str(ARTIFACTS / "saved-good-faith-estimate.pdf"))
    page.emulate_media(media="screen")
    with page.expect_download() as info:
        page.click("text=Export as FHIR")
    bundle = json.loads(Path(info.value.path()).read_text())
    assert bundle["resourceType"] == "Bundle" and bundle["identifier"]["value"] == number

    page.click("text=Correct this estimate")
    page.fill("#lines-1-cpt_code", "64636")  # the wrong level was billed
    page.click("text=Estimate the cost")
    page.click("text=Save as the correction")
    for field, value in [
        ("#patient_name", "Ana Browser"),
        ("#patient_birth_date", "1970-02-03"),
        ("#provider_name", "Peachtree Spine Clinic"),
        ("#provider_npi", "1234567893"),
        ("#provider_tin", "12-3456789"),
        ("#provider_address_line", "1 Main St"),
        ("#provider_address_city", "Atlanta"),
        ("#provider_address_state", "GA"),
        ("#provider_address_postal_code", "30303"),
    ]:
        assert page.input_value(field) == value  # the corrected record's details, filled in
    assert f"Correct {number}" in page.inner_text("h1")
    page.click(f"text=Save the correction of {number}")
    newer = page.locator('[data-field="number"]').inner_text()
    assert newer != number
    assert f"This estimate corrects {number}" in page.inner_text("main")
    page.goto(server + "/records?name=browser")
    assert f"corrected by {newer}" in page.inner_text("main")
