"""The web form with several lines: the visit's page agrees with the API; add a line without JavaScript;
errors beside their line's field; coinsurance as a percent with its sign or a fraction; statuses in words."""

import re
from html import unescape

import pytest

from estimator.core.glossary import STATUS_WORDS


def token(client, path="/"):
    return re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).get_data(as_text=True)).group(1)


def post(client, **data):
    return client.post("/estimate", data={"csrf_token": token(client), "line_count": "3", **data})


VISIT = {
    "payer_id": "medicare",
    "zip": "10001",
    "date_of_service": "2025-05-01",
    "cpt_code": "64493",
    "lines-1-cpt_code": "64494",
    "lines-2-cpt_code": "64490",
}


def visible_text(html):
    text = re.sub(r"<(script|style)[^>]*>.*?</\1>", " ", html, flags=re.S)
    text = re.sub(r"<[^>]+>", " ", text)  # attributes (CSS classes, data values) are not shown
    return unescape(text)


def test_the_form_shows_three_line_rows_and_a_way_to_add_more(client):
    page = client.get("/").get_data(as_text=True)
    for name in ("cpt_code", "lines-1-cpt_code", "lines-2-cpt_code", "lines-2-units", "lines-1-modifiers"):
        assert f'name="{name}"' in page
    assert 'name="lines-3-cpt_code"' not in page
    assert 'name="add_line"' in page
    assert page.index(">Estimate the cost</button>") < page.index('name="add_line"')  # Enter estimates


def test_add_a_line_keeps_what_was_typed_and_shows_one_more_row(client):
    response = post(client, **VISIT, add_line="1", deductible="1000")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'name="lines-3-cpt_code"' in page and 'name="line_count" value="4"' in page
    typed = dict(re.findall(r'name="(lines-\d-cpt_code|cpt_code)" type="text"[^>]*value="([^"]*)"', page))
    assert typed == {
        "cpt_code": "64493",
        "lines-1-cpt_code": "64494",
        "lines-2-cpt_code": "64490",
        "lines-3-cpt_code": "",
    }
    assert 'value="1000"' in page


def test_a_visit_gives_the_apis_figures_line_by_line(client):
    response = post(client, **VISIT)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    api = client.post(
        "/api/v1/encounters",
        json={
            "payer_id": "medicare",
            "zip": "10001",
            "date_of_service": "2025-05-01",
            "lines": [{"cpt_code": "64493"}, {"cpt_code": "64494"}, {"cpt_code": "64490"}],
        },
    ).get_json()
    lines = re.findall(r'data-field="line_allowed">\$([\d,.]+)<', page)
    assert lines == [f"{line['allowed_amount']['expected']:,.2f}" for line in api["lines"]]
    shares = re.findall(r'data-field="line_patient">\$([\d,.]+)<', page)
    assert shares == [f"{line['patient_responsibility']['expected']:,.2f}" for line in api["lines"]]
    assert f'data-field="patient_expected">${api["patient_responsibility"]["expected"]:,.2f}<' in page
    assert re.findall(r'data-field="reduction_factor">([^<]+)<', page) == ["50%", "100%", "100%"]
    assert page.count("<details") == 3  # each line's warnings and explanation


def test_blank_lines_are_skipped_and_one_line_is_a_single_estimate(client):
    response = post(client, **{**VISIT, "lines-1-cpt_code": "", "lines-2-cpt_code": ""})
    assert response.status_code == 200
    assert "<title>Estimate for 64493" in response.get_data(as_text=True)


def test_a_bad_line_shows_its_message_beside_that_lines_field(client):
    response = post(client, **{**VISIT, "lines-2-units": "0"})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert 'id="lines-2-units-error">Must be a whole number from 1' in page
    assert 'aria-invalid="true"' in page


@pytest.mark.parametrize("typed", ["35%", "35 %", "0.35"])
def test_coinsurance_is_a_percent_with_its_sign_or_a_fraction_in_the_form(client, typed):
    form = post(client, **{**VISIT, "lines-1-cpt_code": "", "lines-2-cpt_code": "", "coinsurance": typed})
    api = client.post(
        "/api/v1/estimates",
        json={
            "cpt_code": "64493",
            "payer_id": "medicare",
            "zip": "10001",
            "date_of_service": "2025-05-01",
            "coinsurance": 0.35,
        },
    ).get_json()
    assert f'data-field="patient_expected">${api["patient_responsibility"]["expected"]:,.2f}<' in form.get_data(
        as_text=True
    )


@pytest.mark.parametrize("payer", ["medicare", "example_ppo", "self_pay", "medicaid_example"])
def test_statuses_are_shown_in_words_never_as_codes(client, payer):
    text = visible_text(post(client, **{**VISIT, "payer_id": payer}).get_data(as_text=True))
    for code in ("not_required", "not_applicable", "hospital_outpatient"):
        assert code not in text
    assert any(words in text for words in STATUS_WORDS.values())


def test_equal_low_and_high_are_one_figure(client):
    text = visible_text(
        post(client, **{**VISIT, "lines-1-cpt_code": "", "lines-2-cpt_code": ""}).get_data(as_text=True)
    )
    assert re.search(r"\$[\d,.]+, no range", text)
    assert not re.search(r"From (\$[\d,.]+) to \1", text)


def test_a_self_pay_visit_is_one_good_faith_estimate_listing_every_line(client):
    response = post(client, **{**VISIT, "payer_id": "self_pay"})
    page = response.get_data(as_text=True)
    assert "<h1>Good Faith Estimate</h1>" in page
    items = re.findall(r'<tr data-item="\d+">\s*<td>([^<]+)</td>', page)
    assert [i.strip() for i in items] == ["64493", "64494", "64490"]
    api = client.post(
        "/api/v1/encounters",
        json={
            "payer_id": "self_pay",
            "zip": "10001",
            "date_of_service": "2025-05-01",
            "lines": [{"cpt_code": "64493"}, {"cpt_code": "64494"}, {"cpt_code": "64490"}],
        },
    ).get_json()
    assert f'data-field="patient_expected">${api["patient_responsibility"]["expected"]:,.2f}<' in page


def test_coinsurance_above_one_without_its_sign_says_what_is_meant(client):
    form = post(client, **{**VISIT, "lines-1-cpt_code": "", "lines-2-cpt_code": "", "coinsurance": "35"})
    assert form.status_code == 422
    assert "a fraction from 0 to 1 (0.2 = 20 %) or as a percent with its sign (20%)" in form.get_data(as_text=True)
