"""The procedure catalog and its modifiers (SPEC sections 2 and 11): every payable code priced as CMS's
formula prices it, 26 and TC on their rows, the modifiers billers use accepted, a visit inside a procedure's
global period warned of, codes without a range handled as step 2 and step 7 say, bad catalog files refused
with file, line and column, and no CPT descriptor shipped."""

import csv
import datetime as dt
import io
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from estimator.batch.stream import estimate_csv
from estimator.core.engine import estimate
from estimator.core.errors import RequestError, ScheduleError
from estimator.core.glossary import SUPPORTED_MODIFIERS
from estimator.core.schedules import DEFAULT_DIRECTORY, load_schedules
from estimator.core.service import estimate_encounter, estimate_one

CMS = Path(__file__).parent / "data" / "cms"
TODAY = dt.date(2025, 6, 1)
CONVERSION_FACTOR_2025 = 32.3465


def cents_half_up(value):
    """Dollars to cents, halves up, as a person rounds (the decimal module: no binary noise)."""
    from decimal import ROUND_HALF_UP, Decimal

    return float(Decimal(repr(value)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def test_medicare_figures_of_every_sampled_code_in_every_locality_equal_cms_formula(shipped):
    """614 codes (every 12th payable code, with their 26 and TC rows: 752 rows) x 109 localities x office
    and facility: the estimator's 2025 Medicare allowed amount equals (work x PW GPCI + PE x PE GPCI + MP x MP
    GPCI) x 32.3465 computed here from CMS's own files."""
    with open(CMS / "PPRRVU25_JAN1-sample.csv", newline="") as handle:
        rvus = list(csv.DictReader(handle))
    with open(CMS / "GPCI2025.csv", newline="") as handle:
        localities = list(csv.DictReader(handle))
    assert len({r["HCPCS"] for r in rvus}) >= 500 and len(localities) == 109
    requests, expected = [], []
    for locality in localities:
        region = f"{locality['STATE'].lower()}-{int(locality['LOCALITY']):02d}"
        gpci = [float(locality[k]) for k in ("PW GPCI", "PE GPCI", "MP GPCI")]
        for row in rvus:
            for setting, pe in (("office", "NON-FAC PE RVU"), ("hospital_outpatient", "FACILITY PE RVU")):
                total = sum(float(row[k]) * g for k, g in zip(("WORK RVU", pe, "MP RVU"), gpci, strict=True))
                requests.append(
                    {
                        "cpt_code": row["HCPCS"],
                        "modifiers": row["MOD"],
                        "payer_id": "medicare",
                        "region_id": region,
                        "setting": setting,
                        "date_of_service": "2025-06-01",
                    }
                )
                expected.append(cents_half_up(total * CONVERSION_FACTOR_2025))
    frame = estimate(pd.DataFrame(requests, dtype=object), shipped, TODAY).frame
    assert (frame["error"] == "").all(), frame.loc[frame["error"] != "", "error"].head().tolist()
    assert frame["professional_expected"].tolist() == expected
    office = frame["setting"] == "office"
    assert frame.loc[office, "allowed_expected"].tolist() == [e for e, o in zip(expected, office, strict=True) if o]
    assert len(frame) > 150_000


def one(shipped, **fields):
    return estimate_one({"payer_id": "medicare", "zip": "10001", "date_of_service": "2025-06-01", **fields}, shipped)


def test_26_and_tc_are_priced_on_their_rows_and_add_up_to_the_global_rvus(shipped):
    whole = one(shipped, cpt_code="72148")
    professional = one(shipped, cpt_code="72148", modifiers=["26"])
    technical = one(shipped, cpt_code="72148", modifiers=["TC"])
    # Manhattan GPCIs 1.065 / 1.166 / 1.656; 72148-26: work 1.48, PE 0.54, MP 0.07; TC: 0, 3.71, 0.02
    assert professional["allowed_amount"]["expected"] == cents_half_up(
        (1.48 * 1.065 + 0.54 * 1.166 + 0.07 * 1.656) * CONVERSION_FACTOR_2025
    )
    assert technical["allowed_amount"]["expected"] == cents_half_up(
        (0 * 1.065 + 3.71 * 1.166 + 0.02 * 1.656) * CONVERSION_FACTOR_2025
    )
    assert professional["description"].endswith("professional component (modifier 26)")
    assert (
        abs(
            professional["allowed_amount"]["expected"]
            + technical["allowed_amount"]["expected"]
            - whole["allowed_amount"]["expected"]
        )
        <= 0.02
    )


@pytest.fixture
def priced_copy(tmp_path):
    """The shipped schedules with a range for 72148 and a plan that pays it a flat amount and by the range."""
    target = tmp_path / "schedules"
    shutil.copytree(DEFAULT_DIRECTORY, target)
    procedures = (target / "procedures.csv").read_text().splitlines(keepends=True)
    header = procedures[0].rstrip("\n").split(",")
    out = [procedures[0]]
    for line in procedures[1:]:
        cells = next(csv.reader([line]))
        if cells[0] == "72148" and cells[1] == "":
            cells[header.index("baseline_low")], cells[header.index("baseline_typical")] = "200", "400"
            cells[header.index("baseline_high")] = "800"
            buffer = io.StringIO()
            csv.writer(buffer, lineterminator="\n").writerow(cells)
            line = buffer.getvalue()
        out.append(line)
    (target / "procedures.csv").write_text("".join(out))
    with open(target / "payers.csv", "a") as handle:
        handle.write("flat,Flat plan (test),commercial,0,0,0,,0.5,true,0.5\n")
        handle.write("bare,Bare plan (test),commercial,0,0.2,0,,0.6,true,0.5\n")
    with open(target / "payer_fee_schedule.csv", "a") as handle:
        handle.write("flat,72148,*,professional,*,amount,500,2024-01-01,,\n")
        handle.write("flat,72149,*,professional,*,baseline,1,2024-01-01,,\n")
    return target


def test_amount_and_baseline_rates_price_a_component_by_its_share_of_the_global_rvus(priced_copy):
    schedules = load_schedules(priced_copy)
    share_26 = (1.48 + 4.25 * 0 + 0.54 + 0.07) / (1.48 + 4.25 + 0.09)  # 72148-26 over 72148, non-facility
    answer = estimate_one({"cpt_code": "72148", "modifiers": ["26"], "payer_id": "flat"}, schedules, TODAY)
    assert answer["allowed_amount"]["expected"] == cents_half_up(500 * share_26)
    # the range of a component row is its share of the global range
    bare = estimate_one({"cpt_code": "72148", "modifiers": ["26"], "payer_id": "bare"}, schedules, TODAY)
    assert bare["baseline_range"] == pytest.approx(
        {"low": 200 * share_26, "expected": 400 * share_26, "high": 800 * share_26}
    )
    assert bare["allowed_amount"]["expected"] == cents_half_up(400 * share_26)


def test_a_fallback_needs_a_range_and_an_unknown_billed_charge_is_said(priced_copy):
    schedules = load_schedules(priced_copy)
    with pytest.raises(RequestError) as caught:
        estimate_one({"cpt_code": "72149", "payer_id": "bare"}, schedules, TODAY)
    assert caught.value.messages == {
        "cpt_code": [
            "No rate of Bare plan (test) for procedure 72149 and no national range is on file, so it cannot be "
            "estimated."
        ]
    }
    # a visit with such a line is not estimated (its other line says why)
    with pytest.raises(RequestError) as caught:
        estimate_encounter({"payer_id": "bare", "lines": [{"cpt_code": "72148"}, {"cpt_code": "72149"}]}, schedules)
    assert "lines.1.cpt_code" in caught.value.messages
    out = io.BytesIO()
    estimate_csv(io.BytesIO(b"cpt_code,payer_id\n72149,bare\n72148,bare\n"), out, schedules, TODAY)
    rows = list(csv.DictReader(io.StringIO(out.getvalue().decode())))
    assert rows[0]["error"].startswith("cpt_code: No rate of Bare plan (test) for procedure 72149")
    assert rows[1]["error"] == "" and rows[1]["allowed_expected"] == "400.00"
    # out of network, a code without a range: the billed charge is unknown, the balance bill 0 with a warning
    answer = estimate_one(
        {"cpt_code": "72149", "payer_id": "example_ppo", "network": "out", "zip": "10001"}, schedules, TODAY
    )
    assert answer["balance_billing"] == {"low": 0.0, "expected": 0.0, "high": 0.0}
    assert any(
        "out-of-network billed charge, and any balance bill, could not be estimated" in w for w in answer["warnings"]
    )
    assert answer["baseline_range"] is None


def test_the_modifiers_billers_use_are_accepted_and_change_no_figure(shipped):
    plain = one(shipped, cpt_code="64483")
    for modifier in ("25", "51", "59", "76", "77", "79", "XE", "XP", "XS", "XU"):
        answer = one(shipped, cpt_code="64483", modifiers=[modifier, "RT"])
        assert answer["allowed_amount"] == plain["allowed_amount"], modifier
        assert answer["modifiers"] == [modifier, "RT"]


@pytest.mark.parametrize(
    ("modifiers", "message"),
    [
        (["QZ"], "Unsupported modifier 'QZ'; supported: " + ", ".join(SUPPORTED_MODIFIERS) + "."),
        (["26", "TC"], "Modifiers 26 and TC cannot be combined"),
        (["26"], "Procedure 64483 has no professional component (modifier 26) on file: bill it without 26."),
        (["TC"], "Procedure 64483 has no technical component (modifier TC) on file: bill it without TC."),
        (["59", "59"], "Modifier '59' is repeated."),
    ],
)
def test_other_modifiers_are_refused_with_the_accepted_ones(shipped, modifiers, message):
    with pytest.raises(RequestError) as caught:
        one(shipped, cpt_code="64483", modifiers=modifiers)
    assert caught.value.messages["modifiers"][0].startswith(message)


def test_a_visit_in_a_procedures_global_period_is_warned_of_unless_it_has_25(shipped, client):
    visit = {"payer_id": "medicare", "zip": "10001", "date_of_service": "2025-06-01"}
    note = "Visit 99213 is on the day of procedure 64483, which has a 0-day global period"
    cases = [
        ([{"cpt_code": "99213"}, {"cpt_code": "64483"}], True),
        ([{"cpt_code": "64483"}, {"cpt_code": "99214"}], "Visit 99214"),
        ([{"cpt_code": "99213", "modifiers": ["25"]}, {"cpt_code": "64483"}], False),
        ([{"cpt_code": "99213"}, {"cpt_code": "72148"}], False),  # imaging: no global period (XXX)
        ([{"cpt_code": "99213"}, {"cpt_code": "64624"}], "10-day global period"),
        ([{"cpt_code": "99213"}], False),
    ]
    for lines, expected in cases:
        answer = client.post("/api/v1/encounters", json={**visit, "lines": lines}).get_json()
        warned = [w for w in answer["warnings"] if "global period" in w]
        if expected is False:
            assert warned == [], lines
        else:
            assert len(warned) == 1, lines
            assert (note if expected is True else expected) in warned[0]
        visit_line = next(line for line in answer["lines"] if line["cpt_code"].startswith("992"))
        assert bool([w for w in visit_line["warnings"] if "global period" in w]) == (expected is not False)
        # the batch says the same, on the visit's row
        rows = "encounter_id,cpt_code,payer_id,zip,date_of_service,modifiers\n" + "".join(
            f"v,{line['cpt_code']},medicare,10001,2025-06-01,{' '.join(line.get('modifiers', []))}\n" for line in lines
        )
        out = io.BytesIO()
        estimate_csv(io.BytesIO(rows.encode()), out, shipped, TODAY)
        batch = list(csv.DictReader(io.StringIO(out.getvalue().decode())))
        assert [("global period" in r["warnings"]) for r in batch] == [
            line["warnings"] == visit_line["warnings"] and expected is not False for line in answer["lines"]
        ]


def test_a_setting_the_fee_schedule_marks_na_is_warned_of(shipped):
    rare = "rarely or never done in this setting"
    assert any(rare in w for w in one(shipped, cpt_code="71046", setting="asc")["warnings"])  # facility PE NA
    assert not any(rare in w for w in one(shipped, cpt_code="71046")["warnings"])
    assert not any(rare in w for w in one(shipped, cpt_code="71046", modifiers=["26"], setting="asc")["warnings"])


def test_every_code_of_the_catalog_is_estimated_for_every_payer(shipped):
    """A claims file of every payable code (and its 26 and TC), each payer: no "unknown code", no
    "unsupported modifier", no other error; the self-pay example prices every code too."""
    procedures = shipped.procedures
    codes = procedures["cpt_code"].to_numpy()
    modifiers = procedures["modifier"].to_numpy()
    rows = []
    for payer in shipped.payers.index:
        for code, modifier in zip(codes, modifiers, strict=True):
            rows.append({"cpt_code": code, "modifiers": modifier, "payer_id": payer, "zip": "10001"})
    frame = estimate(pd.DataFrame(rows, dtype=object), shipped, TODAY).frame
    assert (frame["error"] == "").all(), frame.loc[frame["error"] != "", ["cpt_code", "payer_id", "error"]].head()
    assert np.isfinite(frame["allowed_expected"]).all() and (frame["allowed_expected"] > 0).all()


def test_a_claims_file_of_real_codes_with_the_usual_modifiers(shipped):
    claims = (
        "claim_id,encounter_id,cpt_code,modifiers,payer_id,zip,setting\n"
        "1,a,99214,25,example_ppo,60601,office\n"
        "2,a,64483,RT,example_ppo,60601,office\n"
        "3,a,77003,26,example_ppo,60601,office\n"
        "4,b,72148,TC,medicare,30303,office\n"
        "5,c,20610,59 LT,medicaid_example,98101,office\n"
        "6,c,97110,,medicaid_example,98101,office\n"
        "7,d,G2211,,medicare,10001,office\n"
        "8,e,0446T,XS,self_pay,94110,asc\n"
    )
    out = io.BytesIO()
    summary = estimate_csv(io.BytesIO(claims.encode()), out, shipped, TODAY)
    rows = list(csv.DictReader(io.StringIO(out.getvalue().decode())))
    assert summary["failed"] == 0, [r["error"] for r in rows]
    assert all(float(r["allowed_expected"]) > 0 for r in rows)


def test_the_catalog_ships_no_cpt_descriptor(shipped):
    """A CPT code (five digits, or four and a letter) is described in the project's own words only where it
    chose to (the clinic's usual codes); every other is named "CPT 12345"."""
    procedures = shipped.procedures[shipped.procedures["modifier"] == ""]
    cpt = procedures[~procedures["cpt_code"].str.match(r"^[A-Z]")]
    own = cpt[cpt["description"] != "CPT " + cpt["cpt_code"]]
    assert 100 <= len(own) <= 130, len(own)
    assert set(own["cpt_code"]) >= {"20971", "64483", "99213", "99214", "72148"}


def line_of(text, prefix):
    return next(i for i, line in enumerate(text.splitlines(), start=1) if line.startswith(prefix))


@pytest.mark.parametrize(
    ("change", "column", "message"),
    [
        (lambda rows: rows + [rows[_find(rows, "64483,")]], "cpt_code", "'64483' is listed twice"),
        (lambda rows: rows + [rows[_find(rows, "72148,26,")]], "cpt_code", "'72148 26' is listed twice"),
        (
            lambda rows: rows + [rows[_find(rows, "72148,26,")].replace("72148,26,", "99999,26,", 1)],
            "modifier",
            "a '26' row needs a row of code '99999' without a modifier (the global service)",
        ),
        (lambda rows: _cell(rows, "72148,,", "pctc_indicator", "X"), "pctc_indicator", "'X' is not one of"),
        (lambda rows: _cell(rows, "64483,,", "global_days", "45"), "global_days", "'45' is not one of"),
        (lambda rows: _cell(rows, "64483,,", "modifier", "25"), "modifier", "'25' is not one of: 26, TC"),
        (lambda rows: _cell(rows, "64483,,", "baseline_high", ""), "baseline_high", "give all three baseline"),
    ],
)
def test_a_bad_catalog_is_refused_with_file_line_and_column(tmp_path, change, column, message):
    target = tmp_path / "schedules"
    shutil.copytree(DEFAULT_DIRECTORY, target)
    rows = (target / "procedures.csv").read_text().splitlines()
    changed = change(rows)
    (target / "procedures.csv").write_text("\n".join(changed) + "\n")
    with pytest.raises(ScheduleError) as caught:
        load_schedules(target)
    problems = [p for p in caught.value.problems if p.column == column]
    assert problems and problems[0].file == "procedures.csv" and message in problems[0].message, caught.value
    assert problems[0].line in range(2, len(changed) + 1)


def _find(rows, prefix):
    return next(i for i, row in enumerate(rows) if row.startswith(prefix))


def _cell(rows, prefix, column, value):
    header = rows[0].split(",")
    at = _find(rows, prefix)
    cells = next(csv.reader([rows[at]]))
    cells[header.index(column)] = value
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="").writerow(cells)
    return [*rows[:at], buffer.getvalue(), *rows[at + 1 :]]


def test_finding_codes_by_number_and_words(client):
    found = client.get("/api/v1/procedures", query_string={"q": "lumbar mri"}).get_json()
    assert [item["cpt_code"] for item in found["items"]] == ["72148", "72149", "72158"]
    assert [c["modifier"] for c in found["items"][0]["components"]] == ["26", "TC"]
    by_number = client.get("/api/v1/procedures", query_string={"q": "6448", "per_page": 2, "page": 2}).get_json()
    assert by_number["total"] == 7 and [i["cpt_code"] for i in by_number["items"]] == ["64484", "64486"]
    exact = client.get("/api/v1/procedures", query_string={"q": "99214"}).get_json()
    assert exact["items"][0]["cpt_code"] == "99214"
    named = client.get("/api/v1/procedures/71046").get_json()
    assert named["description"] == "CPT 71046" and "AMA" in named["descriptor"]
    assert client.get("/api/v1/procedures", query_string={"per_page": 500}).status_code == 422
    page = client.get("/procedures?q=facet+lower+back").get_data(as_text=True)
    assert re.findall(r'data-code="(\w+)"', page)[:3] == ["64493", "64494", "64495"]
    assert 'href="/?cpt_code=64493"' in page
