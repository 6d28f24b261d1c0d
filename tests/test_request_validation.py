"""Every request rule of SPEC section 3 gives a clear message naming its field."""

import pytest

from estimator.core.errors import RequestError
from estimator.core.intake import COINSURANCE_TEXT
from estimator.core.service import estimate_one

from .conftest import TODAY, run

GOOD = {"cpt_code": "11111", "payer_id": "plan"}

BAD_CASES = [
    ("missing code", {"cpt_code": None}, "cpt_code", "Missing data for required field."),
    ("unknown code", {"cpt_code": "99999"}, "cpt_code", "Unknown procedure code '99999'."),
    ("missing payer", {"cpt_code": "11111", "payer_id": ""}, "payer_id", "Missing data for required field."),
    ("unknown payer", {"payer_id": "acme"}, "payer_id", "Unknown payer 'acme'."),
    ("unknown region", {"region_id": "mars"}, "region_id", "Unknown region 'mars'."),
    ("region and zip", {"region_id": "r1", "zip": "10001"}, "region_id", "Give region_id or zip, not both."),
    ("short zip", {"zip": "1000"}, "zip", "Not a valid ZIP code: give 5 digits, or ZIP+4 as 12345-6789."),
    ("letters in zip", {"zip": "1000A"}, "zip", "Not a valid ZIP code: give 5 digits, or ZIP+4 as 12345-6789."),
    ("unmapped zip", {"zip": "99950"}, "zip", "No region of the fee schedules covers ZIP codes starting 999."),
    ("setting", {"setting": "home"}, "setting", "Must be one of: office, asc, hospital_outpatient."),
    ("network", {"network": "maybe"}, "network", "Must be one of: in, out."),
    ("setting is exact", {"setting": "Office"}, "setting", "Must be one of: office, asc, hospital_outpatient."),
    (
        "unsupported modifier",
        {"modifiers": "QZ"},
        "modifiers",
        "Unsupported modifier 'QZ'; supported: 50, RT, LT, 26, TC, 25, 51, 59, 76, 77, 79, XE, XP, XS, XU.",
    ),
    ("repeated modifier", {"modifiers": "RT RT"}, "modifiers", "Modifier 'RT' is repeated."),
    ("50 with a side", {"modifiers": "50,LT"}, "modifiers", "Modifier 50 cannot be combined with RT or LT."),
    (
        "bilateral indicator 9",
        {"cpt_code": "55555", "modifiers": "50"},
        "modifiers",
        "Bilateral billing does not apply to procedure 55555 (bilateral indicator 9): use RT or LT for one side.",
    ),
    ("units not a number", {"units": "two"}, "units", "Not a valid integer."),
    ("units fraction", {"units": "1.5"}, "units", "Not a valid integer."),
    ("units zero", {"units": "0"}, "units", "Must be a whole number from 1 to 99."),
    ("units too many", {"units": "100"}, "units", "Must be a whole number from 1 to 99."),
    ("date format", {"date_of_service": "06/01/2025"}, "date_of_service", "Not a valid date."),
    ("impossible date", {"date_of_service": "2025-02-30"}, "date_of_service", "Not a valid date."),
    ("deductible text", {"deductible": "lots"}, "deductible", "Not a valid number."),
    (
        "deductible negative",
        {"deductible": "-1"},
        "deductible",
        "Must be an amount from $0 to $10,000,000.",
    ),
    ("copay nan", {"copay": "nan"}, "copay", "Special numeric values (nan or infinity) are not permitted."),
    ("oop_max infinite", {"oop_max": "inf"}, "oop_max", "Special numeric values (nan or infinity) are not permitted."),
    ("coinsurance above 1", {"coinsurance": "20"}, "coinsurance", COINSURANCE_TEXT),
    ("coinsurance negative", {"coinsurance": "-0.1"}, "coinsurance", COINSURANCE_TEXT),
    ("coinsurance percent above 100", {"coinsurance": "150%"}, "coinsurance", COINSURANCE_TEXT),
    ("coinsurance negative percent", {"coinsurance": "-5%"}, "coinsurance", COINSURANCE_TEXT),
    ("coinsurance sign alone", {"coinsurance": "%"}, "coinsurance", "Not a valid number."),
    ("coinsurance two signs", {"coinsurance": "20%%"}, "coinsurance", "Not a valid number."),
    ("coinsurance text percent", {"coinsurance": "lots%"}, "coinsurance", "Not a valid number."),
    (
        "deductible_met negative",
        {"deductible_met": "-5"},
        "deductible_met",
        "Must be an amount from $0 to $10,000,000.",
    ),
    (
        "oop_met huge",
        {"oop_met": "1e300"},
        "oop_met",
        "Must be an amount from $0 to $10,000,000.",
    ),
]


@pytest.mark.parametrize(("change", "field", "message"), [c[1:] for c in BAD_CASES], ids=[c[0] for c in BAD_CASES])
def test_bad_request_names_its_field(small, change, field, message):
    fields = {k: v for k, v in {**GOOD, **change}.items() if v is not None}
    with pytest.raises(RequestError) as caught:
        estimate_one(fields, small, TODAY)
    assert caught.value.messages[field] == [message]
    row = run(small, **fields)
    assert f"{field}: {message}" in row["error"]
    assert row["allowed_expected"] != row["allowed_expected"]  # NaN: no figures for a failed row


def test_unknown_field_is_refused(small):
    with pytest.raises(RequestError) as caught:
        estimate_one({**GOOD, "colour": "blue"}, small, TODAY)
    assert caught.value.messages == {"colour": ["Unknown field."]}


def test_every_bad_field_is_reported_at_once(small):
    with pytest.raises(RequestError) as caught:
        estimate_one({"cpt_code": "x", "payer_id": "y", "units": "0", "network": "?"}, small, TODAY)
    assert set(caught.value.messages) == {"cpt_code", "payer_id", "units", "network"}


@pytest.mark.parametrize(
    "change",
    [
        {"cpt_code": " 11111 "},
        {"payer_id": "PLAN"},
        {"setting": " office "},
        {"modifiers": "rt"},
        {"units": "1.0"},
        {"zip": "75001-0000"},
        {"coinsurance": "0"},
        {"deductible": "1e2"},
    ],
)
def test_lenient_but_unambiguous_input_is_accepted(small, change):
    assert run(small, **{**GOOD, **change})["error"] == ""


@pytest.mark.parametrize(
    ("text", "fraction"),
    [("20%", 0.2), ("20 %", 0.2), ("12.5%", 0.125), ("0%", 0.0), ("100%", 1.0), ("0.2", 0.2), ("1", 1.0), ("0", 0.0)],
)
def test_coinsurance_typed_as_text_is_a_fraction_or_a_percent_with_its_sign(small, text, fraction):
    row = run(small, **{**GOOD, "coinsurance": text})
    assert row["error"] == ""
    assert row["coinsurance"] == fraction
    answer = estimate_one({**GOOD, "coinsurance": text}, small, TODAY)
    assert answer["cost_sharing"]["coinsurance"] == fraction
