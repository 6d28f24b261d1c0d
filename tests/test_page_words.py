"""Every page in a patient's and a front desk's words: the codes are the API's (CRD codes, field names,
basis names), never the pages'; a figure and its percent sign stay on one line."""

import html
import re
from pathlib import Path

import pytest

#: Words of the API and the engine that a page never shows.
JARGON = re.compile(
    r"\bcrd\b|no-auth|auth-needed|One figure|recognis|\bpayer_id\b|\bcpt_code\b|_expected\b|\bpa_status\b|"
    r"\bbaseline_(low|typical|high)\b|\bnot_required\b|\bnot_applicable\b|\bhospital_outpatient\b|(?-i:\bNaN\b|\bNone\b)",
    re.IGNORECASE,
)


def visible(page):
    """The text a reader sees: no tags, scripts, styles, attribute values or hidden form values."""
    text = re.sub(r"<(script|style|datalist|select)[^>]*>.*?</\1>", " ", page, flags=re.S)
    text = re.sub(r"<textarea[^>]*>.*?</textarea>", " ", text, flags=re.S)
    text = re.sub(r"<code>.*?</code>", " ", text, flags=re.S)  # X12 segments shown as written
    return html.unescape(re.sub(r"<[^>]+>", " ", text))


FORM = {"payer_id": "example_ppo", "zip": "10001", "date_of_service": "2025-06-02", "line_count": "3"}


def pages(client):
    x12 = (Path(__file__).parent / "data" / "x12" / "own-dependent-family-deductible.271").read_text()
    yield "form", client.get("/")
    yield "code finder", client.get("/procedures?q=facet")
    yield "upload", client.get("/batch")
    for setting in ("office", "asc", "hospital_outpatient"):
        for network in ("in", "out"):
            yield (
                f"result {setting} {network}",
                client.post("/estimate", data={**FORM, "cpt_code": "64483", "setting": setting, "network": network}),
            )
    yield "self-pay", client.post("/estimate", data={**FORM, "cpt_code": "20971", "payer_id": "self_pay"})
    yield "medicare", client.post("/estimate", data={**FORM, "cpt_code": "64483", "payer_id": "medicare"})
    visit = {**FORM, "cpt_code": "64493", "lines-1-cpt_code": "64494", "lines-2-cpt_code": "99213"}
    yield "visit", client.post("/estimate", data=visit)
    yield "self-pay visit", client.post("/estimate", data={**visit, "payer_id": "self_pay"})
    yield "bad form", client.post("/estimate", data={**FORM, "cpt_code": "99999", "zip": "1"})
    yield "from a 271", client.post("/estimate", data={**FORM, "cpt_code": "64483", "eligibility_271": x12})
    yield (
        "reading a 271",
        client.post("/estimate", data={**FORM, "cpt_code": "64483", "eligibility_271": x12, "read_271": "1"}),
    )


@pytest.fixture
def form_client(app):
    app.config["WTF_CSRF_ENABLED"] = False
    yield app.test_client()
    app.config["WTF_CSRF_ENABLED"] = True


def test_no_page_shows_the_apis_words(form_client):
    seen = 0
    for name, response in pages(form_client):
        assert response.status_code in (200, 422), name
        text = visible(response.get_data(as_text=True))
        found = JARGON.search(text)
        assert found is None, (name, found and text[max(0, found.start() - 80) : found.end() + 80])
        spaced = re.search(r"\d %", text)
        assert spaced is None, (name, text[max(0, spaced.start() - 60) : spaced.end() + 20])
        seen += 1
    assert seen == 16
