"""Benefits from an eligibility response (X12 271, SPEC section 10): the reader on public and own examples,
each figure worked by hand from the file; every way a file can be wrong; and the same estimate whether the
figures come from the 271 or are typed, at every door."""

import json
import logging
import re
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from estimator.eligibility import x12, x271
from estimator.eligibility.service import EligibilityError, benefits_answer

X12_DATA = Path(__file__).parent / "data" / "x12"
FIGURES = ("deductible", "deductible_met", "coinsurance", "copay", "oop_max", "oop_met")


def text(name):
    return (X12_DATA / name).read_text()


def figures(answer, network):
    """{figure: (value, [EB numbers])} of a benefits answer, None where not reported."""
    out = {}
    for name, figure in answer["benefits"][network].items():
        out[name] = None if figure is None else (figure["value"], [s["eb"] for s in figure["sources"]])
    return out


def problem(data, patient=None, setting="office"):
    with pytest.raises(EligibilityError) as caught:
        benefits_answer(data, patient, setting)
    return caught.value.messages


# The figures, worked by hand from each file (EB segments counted from 1 in the patient's loop) -----------

FAMILY = "own-dependent-family-deductible.271"
# EB1 status; EB2/3 C FAM 23 4000 / 29 100 (Y); EB4/5 C IND 23 2000 / 29 2000 (N); EB6/7 G IND 23 6000 / 29
# 5100 (Y); EB8 G IND 29 11000 (N); EB9 A 98 .1 (Y); EB10 A 2^50 .25 (Y); EB11 A 30 .2 (Y); EB12 A 30 .4 (N);
# EB13 B 98 35 (Y); EB14 B 50 150 (Y); EB15 B 30 0 (W).
FAMILY_CASES = [
    (
        "office",
        "in",
        {
            "deductible": (4000, [2]),  # the family's: no individual deductible in network
            "deductible_met": (3900, [2, 3]),  # 4000 - 100 remaining
            "coinsurance": (0.1, [9]),  # 98 before 30
            "copay": (35, [13]),  # 98 before the W copay of 30
            "oop_max": (6000, [6]),
            "oop_met": (900, [6, 7]),  # 6000 - 5100
        },
    ),
    (
        "office",
        "out",
        {
            "deductible": (2000, [4]),
            "deductible_met": (0, [4, 5]),  # all 2000 remain
            "coinsurance": (0.4, [12]),
            "copay": (0, [15]),  # W: both networks
            "oop_max": (11000, [8]),  # only what remains: that is the total, none met
            "oop_met": (0, [8]),
        },
    ),
    (
        "asc",
        "in",
        {
            "deductible": (4000, [2]),
            "deductible_met": (3900, [2, 3]),
            "coinsurance": (0.25, [10]),  # 2 (surgical) before 30
            "copay": (0, [15]),  # no copay for 2 or 1: the 30 one
            "oop_max": (6000, [6]),
            "oop_met": (900, [6, 7]),
        },
    ),
    (
        "hospital_outpatient",
        "in",
        {
            "deductible": (4000, [2]),
            "deductible_met": (3900, [2, 3]),
            "coinsurance": (0.25, [10]),  # 50 is among EB10's repeated service types
            "copay": (150, [14]),
            "oop_max": (6000, [6]),
            "oop_met": (900, [6, 7]),
        },
    ),
    (
        "hospital_outpatient",
        "out",
        {
            "deductible": (2000, [4]),
            "deductible_met": (0, [4, 5]),
            "coinsurance": (0.4, [12]),
            "copay": (0, [15]),
            "oop_max": (11000, [8]),
            "oop_met": (0, [8]),
        },
    ),
]


@pytest.mark.parametrize("setting, network, expected", FAMILY_CASES)
def test_a_dependents_figures_per_setting_and_network(setting, network, expected):
    answer = benefits_answer(text(FAMILY), setting=setting)
    assert figures(answer, network) == expected
    assert answer["patient"] == {
        "name": "MARY SMITH",
        "last_name": "SMITH",
        "first_name": "MARY",
        "member_id": "W100200300",  # the subscriber's: the dependent has none of her own
        "birth_date": "2005-07-04",
        "relationship": "dependent",
        "loop": "2000D",
    }
    assert answer["payer"] == {"name": "EXAMPLE HEALTH PLAN", "id": "99999"}
    assert answer["coverage"]["active"] is True and answer["coverage"]["plan"] == "EXAMPLE PPO"
    assert (answer["control_number"], answer["date"], answer["reference"]) == ("000000101", "2025-12-01", "TRACE-0001")
    family = [w for w in answer["warnings"] if "family figure" in w]
    assert family == [
        "The 271 gives no individual deductible in network: the family figure is used (EB segment 2, coverage "
        "level FAM)."
    ]


def test_each_source_names_loop_position_service_type_and_text():
    answer = benefits_answer(text(FAMILY), setting="hospital_outpatient")
    source = answer["benefits"]["in"]["coinsurance"]["sources"][0]
    # EB10 is the 27th segment of the file (ISA = 1)
    assert source == {
        "loop": "2110D",
        "eb": 10,
        "segment": 27,
        "service_type": "50",
        "coverage_level": "IND",
        "period": None,
        "text": "EB*A*IND*2^50*****.25****Y",
    }
    assert text(FAMILY).splitlines()[26] == "EB*A*IND*2^50*****.25****Y~"


POKITDOK = {
    # EB2 B ESP 98 20 Y; EB3 B ESP 98 30 W; EB4 A ESP 98 no EB08 (Y); EB5 A ESP .5 N; EB8/9 C IND 3000 / 2983.57
    # (Y); EB12/13 C IND 6000 / 5983.57 (N); EB14/15 G IND 3000 (no period) / 2983.57 (Y); EB18/19 G IND 12500
    # / 12483.57 (N). Family rows are not used: individual ones exist.
    "in": {
        "deductible": (3000, [8]),
        "deductible_met": (16.43, [8, 9]),
        "coinsurance": None,  # EB4 gives no percent: the payer's default
        "copay": (20, [2]),
        "oop_max": (3000, [14]),
        "oop_met": (16.43, [14, 15]),
    },
    "out": {
        "deductible": (6000, [12]),
        "deductible_met": (16.43, [12, 13]),
        "coinsurance": (0.5, [5]),
        "copay": (30, [3]),
        "oop_max": (12500, [18]),
        "oop_met": (16.43, [18, 19]),
    },
}


def test_a_public_response_with_family_and_individual_figures_in_and_out_of_network():
    answer = benefits_answer(text("pokitdok-family-deductibles.271"))
    assert figures(answer, "in") == POKITDOK["in"]
    assert figures(answer, "out") == POKITDOK["out"]
    # employee-and-spouse copays and coinsurance are not the individual's: said so
    assert sum("employee and spouse figure is used" in w for w in answer["warnings"]) == 3


@pytest.mark.parametrize(
    "name, patient, relationship",
    [
        ("lfh-subscriber.271", ("JOHN DOE", "00000000001", "1970-01-01"), "subscriber"),
        ("lfh-dependent-benefit-check.271", ("MARY SMITH", "123456789", "1998-10-14"), "dependent"),
    ],
)
def test_the_tr3_examples_copays_in_and_out_of_network(name, patient, relationship):
    answer = benefits_answer(text(name))
    assert (answer["patient"]["name"], answer["patient"]["member_id"], answer["patient"]["birth_date"]) == patient
    assert answer["patient"]["relationship"] == relationship
    # EB4 B 1^33^...^98 $10 (Y), EB5 $30 (N); nothing else is reported
    assert figures(answer, "in") == {**dict.fromkeys(FIGURES), "copay": (10, [4])}
    assert figures(answer, "out") == {**dict.fromkeys(FIGURES), "copay": (30, [5])}
    assert answer["coverage"]["plan"] == "GOLD 123 PLAN"


def test_only_what_remains_is_the_total_with_nothing_met():
    data = build(["EB*1**30", "EB*C*IND*30***29*750*****Y"])
    assert figures(benefits_answer(data), "in")["deductible"] == (750, [2])
    assert figures(benefits_answer(data), "in")["deductible_met"] == (0, [2])


def test_a_total_without_what_remains_counts_nothing_met_and_says_so():
    answer = benefits_answer(build(["EB*1**30", "EB*C*IND*30***23*1200*****Y"]))
    assert figures(answer, "in")["deductible"] == (1200, [2])
    assert figures(answer, "in")["deductible_met"] is None
    assert any("not what remains of it" in w for w in answer["warnings"])


def test_an_eb_without_service_type_counts_as_30_and_a_later_setting_type_wins():
    data = build(["EB*1**30", "EB*A*IND******.3", "EB*A*IND*1*****.15", "EB*B*IND*2***27*50"])
    office = figures(benefits_answer(data), "in")
    assert office["coinsurance"] == (0.15, [3])  # 1 before 30, though 30 (blank) comes first in the file
    assert office["copay"] is None  # 2 is surgical: not an office service type
    asc = figures(benefits_answer(data, setting="asc"), "in")
    assert asc["copay"] == (50, [4])


def test_coverage_not_stated_is_a_warning_and_figures_out_of_range_are_not_used():
    answer = benefits_answer(build(["EB*A*IND*30*****20", "EB*C*IND*30***23*-5"]))
    assert answer["coverage"] == {"active": None, "plan": None, "source": None}
    assert figures(answer, "in")["coinsurance"] is None
    assert figures(answer, "in")["deductible"] is None
    words = " ".join(answer["warnings"])
    assert "does not say whether coverage is active" in words
    assert "coinsurance of 20 in network, outside 0 to 1" in words


# Which patient ------------------------------------------------------------------------------------------


def test_several_patients_and_none_named_lists_them():
    messages = problem(text("own-two-subscribers.271"))
    assert list(messages) == ["patient"]
    assert messages["patient"] == [
        "The 271 answers for 2 patients: ANA LOPEZ, member ID A111, born 1980-01-01, subscriber; BEN Q LOPEZ, "
        "member ID B222, born 1982-02-02, subscriber. Say which one (member ID or name)."
    ]


@pytest.mark.parametrize(
    "wanted, name, deductible, met",
    [
        ("B222", "BEN Q LOPEZ", 3000, 0),
        ("b222", "BEN Q LOPEZ", 3000, 0),
        ("Lopez, Ana", "ANA LOPEZ", 1000, 750),
        ("ana lopez", "ANA LOPEZ", 1000, 750),
        ("Ben Q. Lopez", "BEN Q LOPEZ", 3000, 0),
    ],
)
def test_the_request_names_the_patient_by_member_id_or_name(wanted, name, deductible, met):
    answer = benefits_answer(text("own-two-subscribers.271"), wanted)
    assert answer["patient"]["name"] == name
    assert answer["benefits"]["in"]["deductible"]["value"] == deductible
    assert answer["benefits"]["in"]["deductible_met"]["value"] == met


def test_a_name_that_matches_nobody_lists_who_is_there():
    messages = problem(text("own-two-subscribers.271"), "Carla Lopez")
    assert messages["patient"][0].startswith("No patient in the 271 matches 'Carla Lopez'. It answers for: ANA LOPEZ")


# Rejections and inactive coverage ------------------------------------------------------------------------


def test_a_rejected_subscriber_says_why_in_words():
    messages = problem(text("own-subscriber-not-found.271"))
    assert messages == {
        "body": [
            "The payer rejected the inquiry: the subscriber (loop 2100C) was rejected: subscriber/insured not found "
            "(AAA03 75); correct the inquiry and send it again."
        ]
    }


@pytest.mark.parametrize(
    "code, words",
    [
        ("72", "invalid or missing subscriber/insured ID"),
        ("58", "invalid or missing date of birth"),
        ("73", "invalid or missing subscriber/insured name"),
        ("42", "unable to respond at current time"),
    ],
)
def test_each_rejection_reason_is_in_words(code, words):
    data = build([f"AAA*N**{code}*C"], named=True)
    assert f"{words} (AAA03 {code})" in problem(data)["body"][0]


def test_the_public_receiver_rejection_once_its_envelope_is_mended():
    broken = text("lfh-receiver-rejected.271")
    assert problem(broken) == {
        "body": ["Segment 10 (SE) closes transaction '4323', but the transaction opened at segment 3 is '4321'."]
    }
    mended = broken.replace("SE*8*4323", "SE*8*4321")
    assert problem(mended) == {
        "body": [
            "The payer did not answer the inquiry: the provider who asked (loop 2100B) was rejected: provider "
            "ineligible for inquiries (AAA03 50); do not send it again."
        ]
    }


def test_inactive_coverage_is_refused():
    assert problem(text("own-inactive.271")) == {
        "body": ["The 271 says JANE DOE's coverage is inactive (EB01 6, EB segment 1): no plan pays for this visit."]
    }


# Files that are not a 271, or not whole ------------------------------------------------------------------

GOOD = text(FAMILY)


def body_of(data):
    return problem(data)["body"][0]


@pytest.mark.parametrize(
    "data, expected",
    [
        ("", "This is not an X12 file"),
        ('{"deductible": 1500}', "This is not an X12 file"),
        ("cpt_code,payer_id\n64483,medicare\n", "This is not an X12 file"),
        (b"ISA*\xff\xfe", "it is not text"),
        (GOOD[:60], "The ISA segment is cut short: it has 60 characters"),
        (GOOD.replace("*00501*", "*00501**", 1), "is not the 106 characters with 16 elements"),
        (GOOD.replace("^*00501", "~*00501", 1), "separators that cannot be used"),
        (GOOD[:105] + "A" + GOOD[106:], "separators that cannot be used"),
        (GOOD[:106] + GOOD[106:].replace("*", "|"), "does not use the separators its ISA segment declares"),
        (GOOD.replace("HL*1**20*1~", "HL*1**20*1~~", 1), "two segment terminators ('~') in a row"),
        (GOOD.replace("SE*35*0001", "SE*34*0001"), "says the transaction has 34 segments (ST to SE), but it has 35"),
        (GOOD.replace("SE*35*0001", "SE*35*0002"), "closes transaction '0002'"),
        (
            GOOD.replace("SE*35*0001", "SE*xx*0001"),
            "SE01, the number of segments (ST to SE) in the transaction, is not",
        ),
        (GOOD.replace("GE*1*7", "GE*2*7"), "says the functional group has 2 transactions, but it has 1"),
        (GOOD.replace("GE*1*7", "GE*1*8"), "closes functional group '8'"),
        (GOOD.replace("IEA*1*000000101", "IEA*2*000000101"), "has 2 functional groups, but it has 1"),
        (GOOD.replace("IEA*1*000000101", "IEA*1*000000999"), "closes interchange '000000999'"),
        (GOOD.replace("IEA*1*000000101~\n", ""), "The file ends before the IEA segment"),
        (GOOD.split("SE*35")[0], "The file ends before the SE segment"),
        (GOOD.replace("GE*1*7~\n", ""), "IEA) is where a transaction (ST) or the end of the functional group"),
        (GOOD + GOOD, "follows the IEA segment that closes the interchange"),
        (GOOD.replace("EB*C*FAM*30***23*4000", "EB*C*FAM*30***23*4,000"), "EB07, the amount, is '4,000'"),
        (GOOD.replace("EB*A*IND*98*****.1", "EB*A*IND*98*****ten"), "EB08, the percent, is 'ten'"),
        (GOOD.replace("HL*4*3*23*0", "HL*4*3*99*0"), "hierarchical level '99' is not one of a 271"),
        (GOOD.replace("ST*271*0001*005010X279A1", "ST*271*0001*004010X092A1"), "this estimator reads 005010X279A1"),
    ],
)
def test_every_kind_of_bad_file_is_refused_naming_the_problem(data, expected):
    assert expected in body_of(data)


def test_the_eb_amount_message_names_its_segment():
    data = GOOD.replace("EB*C*FAM*30***23*4000", "EB*C*FAM*30***23*4,000")
    assert (
        body_of(data)
        == "Segment 19 (EB, benefit 2 of loop 2110D): EB07, the amount, is '4,000', which is not a number."
    )


@pytest.mark.parametrize(
    "kind, words",
    [
        ("270", "an eligibility inquiry (270)"),
        ("835", "a claim payment and remittance advice (835)"),
        ("837", "a claim (837)"),
    ],
)
def test_another_transaction_than_a_271_is_named(kind, words):
    data = GOOD.replace("ST*271*", f"ST*{kind}*", 1)
    assert body_of(data) == (
        f"This is {words}, not an eligibility response (271): send the payer's answer to the eligibility inquiry."
    )


def test_the_public_270_inquiry_is_refused_as_an_inquiry():
    inquiry = (
        "ISA*03*0123456789*01*1234567890*30*000000005      *30*12345          *131031*1147*^*00501*000000907*1*T*:~"
        "GS*HS*000000005*12345*20131031*1147*1*X*005010X279A1~ST*270*0001*005010X279A1~BHT*0022*13*10001234*20131031*"
        "1147~HL*1**20*1~NM1*PR*2*MOCKPAYER*****PI*MOCKPAYER~HL*2*1*21*1~NM1*1P*2*POKITDOK, INC.*****XX*1912301953~"
        "HL*3*2*22*0~TRN*1*930000000000*9800000004~NM1*IL*1*DOE*JOHN****MI*00000000001~DMG*D8*19700101~DTP*291*D8*"
        "20131031~EQ*30~SE*13*0001~GE*1*1~IEA*1*000000907~"
    )  # PokitDok's API documentation (pokitdok/apidocs-v4, _raw_x12_support.md)
    assert "an eligibility inquiry (270), not an eligibility response" in body_of(inquiry)


def test_separators_are_read_from_the_isa_segment():
    """The same response with other separators: element |, repetition !, component >, segment a line break."""
    other = GOOD.replace("~\n", "\n").replace("*", "|").replace("^", "!")
    other = other[:104] + ">" + other[105:]
    assert other[:106].count("|") == 16 and other[105] == "\n"
    a, b = benefits_answer(other, setting="hospital_outpatient"), benefits_answer(GOOD, setting="hospital_outpatient")
    assert without_texts(a) == without_texts(b)  # the same answer but for the segments as written
    assert a["benefits"]["in"]["coinsurance"]["sources"][0]["text"] == "EB|A|IND|2!50|||||.25||||Y"


def without_texts(answer):
    return json.loads(re.sub(r'"text": "[^"]*"', '"text": ""', json.dumps(answer)))


def test_line_breaks_and_a_byte_order_mark_around_segments_are_ignored():
    crlf = "\ufeff" + GOOD.replace("~\n", "~\r\n")
    single = GOOD.replace("~\n", "~")
    assert figures(benefits_answer(crlf), "in") == figures(benefits_answer(single), "in") == FAMILY_CASES[0][2]


# A file mangled anywhere: a clear refusal or an answer, never anything else -------------------------------


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    cuts=st.lists(st.tuples(st.integers(0, len(GOOD)), st.integers(0, 8), st.text(max_size=4)), max_size=4),
)
def test_a_mangled_response_is_read_or_refused_in_words(cuts):
    data = GOOD
    for at, length, insert in cuts:
        data = data[:at] + insert + data[at + length :]
    try:
        answer = benefits_answer(data)
    except EligibilityError as exc:
        assert set(exc.messages) <= {"body", "patient"}
        assert all(isinstance(m, str) and m for ms in exc.messages.values() for m in ms)
    else:
        assert set(answer["benefits"]) == {"in", "out"}


def test_a_large_response_of_many_benefits_is_read_within_the_limit():
    rows = [f"EB*B*IND*{n % 99 + 1}***27*{n}*****Y" for n in range(2000)]
    data = build(["EB*1**30", *rows, "EB*B*IND*98***27*12*****Y"])
    assert len(data) < 64 * 1024
    assert benefits_answer(data)["benefits"]["in"]["copay"]["value"] == 97  # EB 98 (n = 97): the first with 98


# Helpers -------------------------------------------------------------------------------------------------


def build(benefits, named=True):
    """A one-subscriber 271 with these segments after the subscriber's name (counts worked out here)."""
    body = [
        "BHT*0022*11*T1*20251201*0900",
        "HL*1**20*1",
        "NM1*PR*2*EXAMPLE PLAN*****PI*1",
        "HL*2*1*21*1",
        "NM1*1P*2*EXAMPLE CLINIC*****XX*1234567893",
        "HL*3*2*22*0",
        "NM1*IL*1*DOE*JANE****MI*Z1" if named else "TRN*2*1*1",
        *benefits,
    ]
    isa = "ISA*00*          *00*          *ZZ*P              *ZZ*C              *251201*0900*^*00501*000000009*0*T*:"
    segments = ["ST*271*0001*005010X279A1", *body]
    segments.append(f"SE*{len(segments) + 1}*0001")
    return "~".join([isa, "GS*HB*P*C*20251201*0900*1*X*005010X279A1", *segments, "GE*1*1", "IEA*1*000000009"]) + "~"


def test_the_builder_makes_what_the_reader_reads():
    interchange = x12.read(build(["EB*1**30"]))
    assert interchange.control_number == "000000009"
    assert [s.id for s in interchange.transactions[0].segments][-2:] == ["NM1", "EB"]
    assert len(x271.read(build(["EB*1**30"])).patients) == 1


# The doors: the same figures from a 271 as typed by hand -------------------------------------------------

BASE = {"cpt_code": "64483", "payer_id": "example_ppo", "zip": "10001", "date_of_service": "2025-12-15"}


def typed(expected):
    return {name: value for name, (value, _) in ((k, v) for k, v in expected.items() if v is not None)}


def apart_from_the_271(answer):
    """An answer without what a 271 adds: its ``eligibility``, its explanation line and its warnings."""
    rest = {k: v for k, v in answer.items() if k != "eligibility"}
    rest["explanation"] = [line for line in answer["explanation"] if not line.startswith("Benefits from the eligib")]
    rest["warnings"] = [w for w in answer["warnings"] if "271" not in w and "EB segment" not in w]
    return rest


@pytest.mark.parametrize("setting, network, expected", FAMILY_CASES)
def test_the_api_estimates_a_271_as_its_figures_typed(client, setting, network, expected):
    place = {**BASE, "setting": setting, "network": network}
    from_271 = client.post("/api/v1/estimates", json={**place, "eligibility_271": GOOD})
    by_hand = client.post("/api/v1/estimates", json={**place, **typed(expected)})
    assert from_271.status_code == by_hand.status_code == 200, from_271.get_json()
    a, b = from_271.get_json(), by_hand.get_json()
    assert apart_from_the_271(a) == b
    assert a["eligibility"]["control_number"] == "000000101" and a["eligibility"]["date"] == "2025-12-01"
    assert {k: v["from"] for k, v in a["eligibility"]["figures"].items()} == dict.fromkeys(typed(expected), "271")
    assert a["explanation"][0].startswith("Benefits from the eligibility response (271) of 2025-12-01, control number")


def test_the_office_figures_worked_by_hand(client):
    a = client.post("/api/v1/estimates", json={**BASE, "eligibility_271": GOOD}).get_json()
    # allowed $400 (the example PPO's Manhattan rate); deductible left 4000 - 3900 = 100; coinsurance 10 % of
    # (400 - 100) = 30; copay 35: P = min(400, 35 + 100 + 30) = 165, under the 6000 - 900 left of the cap
    assert a["allowed_amount"]["expected"] == 400
    assert a["patient_responsibility"] == {"low": 165.0, "expected": 165.0, "high": 165.0}
    assert a["payer_responsibility"]["expected"] == 235


def test_a_figure_typed_over_the_271_is_used_and_said_so(client):
    a = client.post("/api/v1/estimates", json={**BASE, "eligibility_271": GOOD, "copay": 0}).get_json()
    assert a["cost_sharing"]["copay"] == 0
    assert a["patient_responsibility"]["expected"] == 130  # 100 + 30, no copay
    assert a["eligibility"]["figures"]["copay"]["from"] == "typed"
    assert a["eligibility"]["figures"]["copay"]["value"] == 0
    assert "Typed instead of the 271's: copay." in a["explanation"][0]


def test_what_the_271_does_not_report_is_the_payers_default_with_the_warning(client):
    a = client.post("/api/v1/estimates", json={**BASE, "eligibility_271": text("lfh-subscriber.271")}).get_json()
    assert a["cost_sharing"]["copay"] == 10
    assert "Not given, so the payer's default was used: deductible, coinsurance, out-of-pocket maximum." in (
        " ".join(a["warnings"])
    )
    assert any("days from the date of service" in w for w in a["warnings"])  # a response of 2013


def test_a_visit_with_a_271(client):
    visit = {k: v for k, v in BASE.items() if k != "cpt_code"}
    lines = [{"cpt_code": "64483"}, {"cpt_code": "64484"}]
    a = client.post("/api/v1/encounters", json={**visit, "lines": lines, "eligibility_271": GOOD}).get_json()
    b = client.post("/api/v1/encounters", json={**visit, "lines": lines, **typed(FAMILY_CASES[0][2])}).get_json()
    assert apart_from_the_271(a) == b
    assert a["eligibility"]["figures"]["deductible"]["value"] == 4000


def test_every_problem_comes_back_at_once(client):
    out = client.post(
        "/api/v1/estimates",
        json={**BASE, "units": 0, "eligibility_271": text("own-two-subscribers.271"), "eligibility_patient": "Zed"},
    )
    assert out.status_code == 422
    errors = out.get_json()["errors"]
    assert set(errors) == {"units", "eligibility_patient"}
    broken = client.post("/api/v1/estimates", json={**BASE, "payer_id": "nobody", "eligibility_271": "ISA*"})
    assert set(broken.get_json()["errors"]) == {"payer_id", "eligibility_271"}
    assert client.post("/api/v1/estimates", json={**BASE, "eligibility_271": 5}).status_code == 422


def test_the_benefits_endpoint(client):
    for kind in ("application/edi-x12", "text/plain"):
        out = client.post("/api/v1/benefits?setting=asc", data=GOOD, content_type=kind)
        assert out.status_code == 200
        assert out.get_json() == benefits_answer(GOOD, setting="asc")
    named = client.post("/api/v1/benefits?patient=ana%20lopez", data=text("own-two-subscribers.271"))
    assert named.get_json()["patient"]["name"] == "ANA LOPEZ"
    several = client.post("/api/v1/benefits", data=text("own-two-subscribers.271"), content_type="text/plain")
    assert several.status_code == 422 and list(several.get_json()["errors"]) == ["patient"]
    bad = client.post("/api/v1/benefits", data="not x12", content_type="text/plain")
    assert bad.status_code == 422 and bad.get_json()["errors"]["body"][0].startswith("This is not an X12 file")
    assert client.post("/api/v1/benefits?setting=home", data=GOOD).status_code == 422
    assert client.post("/api/v1/benefits?color=red", data=GOOD).status_code == 422
    assert client.post("/api/v1/benefits", data="ISA" + "*" * (64 * 1024), content_type="text/plain").status_code == 413
    spec = client.get("/api/openapi.json").get_json()
    assert set(spec["paths"]["/api/v1/benefits"]["post"]["requestBody"]["content"]) == {
        "application/edi-x12",
        "text/plain",
    }


def test_the_271_is_never_logged(client, caplog):
    caplog.set_level(logging.DEBUG)
    client.post("/api/v1/benefits", data=GOOD, content_type="text/plain")
    client.post("/api/v1/estimates", json={**BASE, "eligibility_271": GOOD})
    client.post("/api/v1/benefits", data=GOOD.replace("EB*A*IND*98*****.1", "EB*A*IND*98*****x"))
    assert "SMITH" not in caplog.text and "W100200300" not in caplog.text


def cli(*args, stdin=None):
    return subprocess.run(
        [sys.executable, "-m", "estimator", *args], capture_output=True, text=True, input=stdin, timeout=120
    )


def test_the_command_line_reads_a_271_and_estimates_with_it(tmp_path, client):
    path = X12_DATA / FAMILY
    out = cli("benefits", str(path), "--setting", "hospital_outpatient")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == client.post("/api/v1/benefits?setting=hospital_outpatient", data=GOOD).get_json()
    options = ["estimate", "--cpt-code", "64483", "--payer-id", "example_ppo", "--zip", "10001"]
    options += ["--date-of-service", "2025-12-15"]
    from_271 = cli(*options, "--eligibility-271", str(path))
    from_stdin = cli(*options, "--eligibility-271", "-", stdin=GOOD)
    hand = []
    for name, value in typed(FAMILY_CASES[0][2]).items():
        hand += [f"--{name.replace('_', '-')}", str(value)]
    by_hand = cli(*options, *hand)
    assert from_271.returncode == by_hand.returncode == 0, from_271.stderr
    assert json.loads(from_271.stdout) == json.loads(from_stdin.stdout)
    assert apart_from_the_271(json.loads(from_271.stdout)) == json.loads(by_hand.stdout)
    assert (
        json.loads(from_271.stdout)
        == client.post("/api/v1/estimates", json={**BASE, "eligibility_271": GOOD}).get_json()
    )


def test_the_command_line_refuses_a_bad_271(tmp_path):
    out = cli("benefits", str(X12_DATA / "own-inactive.271"))
    assert out.returncode == 2 and "coverage is inactive" in json.loads(out.stderr)["errors"]["body"][0]
    several = cli("benefits", str(X12_DATA / "own-two-subscribers.271"))
    assert several.returncode == 2 and "Say which one" in several.stderr
    missing = cli("benefits", str(tmp_path / "none.271"))
    assert missing.returncode == 2 and "Cannot read" in missing.stderr and "Traceback" not in missing.stderr
    binary = tmp_path / "x.271"
    binary.write_bytes(b"\xff\xfe\x00")
    assert "not text" in cli("benefits", str(binary)).stderr
    est = cli("estimate", "--cpt-code", "64483", "--payer-id", "medicare", "--eligibility-271", str(binary))
    assert est.returncode == 2 and "Traceback" not in est.stderr


def form_token(client):
    return re.search(r'name="csrf_token" value="([^"]+)"', client.get("/").get_data(as_text=True)).group(1)


def shown(page, name):
    return re.search(rf'id="{name}" name="{name}"[^>]*value="([^"]*)"', page).group(1)


def money_fields(page):
    return dict(re.findall(r'data-field="(patient_expected|payer_expected)">([^<]+)<', page))


@pytest.mark.parametrize("upload", [False, True])
def test_the_form_fills_the_figures_from_a_271_and_estimates_as_typed(client, upload):
    import io

    form = {
        "csrf_token": form_token(client),
        "cpt_code": "64483",
        "payer_id": "example_ppo",
        "zip": "10001",
        "setting": "office",
        "network": "in",
        "date_of_service": "2025-12-15",
        "line_count": "1",
        "read_271": "1",
    }
    if upload:
        form["eligibility_271_file"] = (io.BytesIO(GOOD.encode()), "response.271")
    else:
        form["eligibility_271"] = GOOD
    read = client.post("/estimate", data=form, content_type="multipart/form-data")
    assert read.status_code == 200
    page = read.get_data(as_text=True)
    filled = {name: shown(page, name) for name in FIGURES}
    assert filled == {
        "deductible": "4000",
        "deductible_met": "3900",
        "coinsurance": "10%",
        "copay": "35",
        "oop_max": "6000",
        "oop_met": "900",
    }
    assert 'data-source="deductible">From the 271: EB segment 2 (<code>EB*C*FAM*30***23*4000*****Y</code>)' in page
    assert "the family figure is used" in page and "MARY SMITH" in page
    assert "EB*C*FAM*30***23*4000" in re.search(r"<textarea[^>]*>(.*?)</textarea>", page, re.S).group(1)
    # the person checks the figures and estimates: the 271 goes with them
    estimate = {k: v for k, v in form.items() if k not in ("read_271", "eligibility_271_file")}
    estimate.update(filled, eligibility_271=GOOD, csrf_token=form_token(client))
    result = client.post("/estimate", data=estimate).get_data(as_text=True)
    hand = {k: v for k, v in estimate.items() if k != "eligibility_271"}
    by_hand = client.post("/estimate", data=hand).get_data(as_text=True)
    assert money_fields(result) == money_fields(by_hand) == {"patient_expected": "$165.00", "payer_expected": "$235.00"}
    assert 'data-field="eligibility_control_number">000000101<' in result
    assert "Plan figures from the eligibility response (271)" not in by_hand


def test_the_form_shows_a_bad_271_beside_its_box(client):
    form = {
        "csrf_token": form_token(client),
        "cpt_code": "64483",
        "payer_id": "example_ppo",
        "line_count": "1",
        "eligibility_271": text("own-two-subscribers.271"),
        "read_271": "1",
    }
    page = client.post("/estimate", data=form)
    assert page.status_code == 422
    body = page.get_data(as_text=True)
    assert 'id="eligibility_patient-error"' in body and "Say which one" in body
    assert "Which patient of the 271" in body  # the summary names the field as labelled
    form.update(eligibility_271=GOOD.replace("SE*35", "SE*3"), csrf_token=form_token(client))
    del form["read_271"]
    estimate = client.post("/estimate", data=form)
    assert estimate.status_code == 422 and 'id="eligibility_271-error"' in estimate.get_data(as_text=True)


# A saved estimate: the 271's figures, control number and date; never the 271 ------------------------------

from .conftest import PASSWORD  # noqa: E402
from .test_records import DETAILS, token_of  # noqa: E402


def test_a_saved_estimate_keeps_the_figures_number_and_date_not_the_271(site):
    from estimator.records.models import SavedEstimate

    app, headers, session = site
    client = app.test_client()
    patient = {"name": "Mary Smith", "birth_date": "2005-07-04", "member_id": "W100200300"}
    body = {"estimate": {**BASE, "eligibility_271": GOOD}, **DETAILS, "patient": patient}
    out = client.post("/api/v1/saved-estimates", json=body, headers=headers)
    assert out.status_code == 201, out.get_json()
    record = session.get(SavedEstimate, out.get_json()["id"])
    assert record.request == {**BASE, **typed(FAMILY_CASES[0][2])}  # the figures, not the response
    assert record.answer["eligibility"]["control_number"] == "000000101"
    assert record.answer["eligibility"]["date"] == "2025-12-01"
    stored = json.dumps([record.request, record.answer, record.details])
    assert "ISA*" not in stored and "NM1*" not in stored and "SMITH*MARY" not in stored
    assert record.answer["patient_responsibility"]["expected"] == 165

    client.post(
        "/login", data={"csrf_token": token_of(client, "/login"), "email": "staff@example.org", "password": PASSWORD}
    )
    printed = client.get(f"/records/{record.id}/print").get_data(as_text=True)
    assert 'data-field="eligibility_control_number">000000101<' in printed
    assert "Plan figures from the eligibility response (271)</strong> of 2025-12-01" in printed


def test_the_example_file_is_the_apis_example():
    from estimator.web.api import X12_EXAMPLE

    shipped = (Path(__file__).resolve().parent.parent / "examples" / "eligibility-271.txt").read_text()
    assert shipped.replace("\n", "") == X12_EXAMPLE
    assert benefits_answer(shipped)["benefits"]["in"]["deductible_met"]["value"] == 400  # 1500 - 1100
