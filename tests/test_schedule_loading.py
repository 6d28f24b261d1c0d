"""Bad fee-schedule files are refused at load, naming file, line and column."""

import subprocess
import sys

import pytest

from estimator.core.errors import ScheduleError
from estimator.core.schedules import load_schedules


def append(directory, name, row):
    """Append ``row`` to a schedule file; returns its line number."""
    path = directory / name
    text = path.read_text()
    path.write_text(text + row + "\n")
    return text.count("\n") + 1


APPENDED = [
    ("procedures.csv", "1234,Bad code,Test,1,2,3,1,,,,", "cpt_code", "must be a 5-character CPT or HCPCS code"),
    ("procedures.csv", "66666,Out of order,Test,5,2,3,1,,,,", "baseline_typical", "must be at least baseline_low"),
    ("procedures.csv", "66666,Bad indicator,Test,1,2,3,5,,,,", "bilateral_indicator", "'5' is not one of"),
    ("procedures.csv", "66666,Negative RVU,Test,1,2,3,1,-1,1,1,1", "work_rvu", "must be at least 0"),
    ("procedures.csv", "11111,Twice,Test,1,2,3,1,,,,", "cpt_code", "is listed twice (first on line 2)"),
    ("procedures.csv", "66666,,Test,1,2,3,1,,,,", "description", "a value is required"),
    ("payers.csv", "p2,P2,commercial,0,1.5,0,,,false", "coinsurance", "must be at most 1"),
    ("payers.csv", "p2,P2,hmo,0,0.1,0,,,false", "kind", "'hmo' is not one of"),
    ("payers.csv", "p2,P2,commercial,0,0.1,0,,,yes", "balance_billing", "must be true or false"),
    ("payers.csv", "Plan X,P2,commercial,0,0.1,0,,,false", "payer_id", "lower-case letters"),
    ("payers.csv", "p2,P2,commercial,0,0.1,0,,0,false", "oon_factor", "must be greater than 0"),
    ("payer_fee_schedule.csv", "acme,*,*,professional,*,amount,1,2024-01-01,,", "payer_id", "not a payer"),
    ("payer_fee_schedule.csv", "plan,99999,*,professional,*,amount,1,2024-01-01,,", "cpt_code", "not a code"),
    ("payer_fee_schedule.csv", "plan,44444,*,professional,r9,amount,1,2024-01-01,,", "region_id", "not a region"),
    ("payer_fee_schedule.csv", "plan,44444,*,professional,r1,amount,0,2024-01-01,,", "value", "greater than 0"),
    (
        "payer_fee_schedule.csv",
        "plan,44444,*,professional,r1,amount,1,01/01/2024,,",
        "effective_from",
        "must be a date YYYY-MM-DD",
    ),
    (
        "payer_fee_schedule.csv",
        "plan,44444,*,professional,r1,amount,1,2024-01-01,2023-01-01,",
        "effective_to",
        "is before effective_from",
    ),
    (
        "payer_fee_schedule.csv",
        "plan,44444,*,professional,*,amount,1,2024-06-01,,",
        "effective_from",
        "as specific as the row on line 7",
    ),
    ("payer_fee_schedule.csv", "plan,44444,asc,facility,*,rvu,1,2024-01-01,,", "basis", "professional component only"),
    ("payer_fee_schedule.csv", "plan,22222,office,professional,r2,rvu,1,2024-01-01,,", "cpt_code", "has no RVUs"),
    ("payer_fee_schedule.csv", "plan,44444,home,professional,r2,amount,1,2024-01-01,,", "setting", "not one of"),
    ("regions.csv", "r3,Region three,NY,-1,1,1,1", "geo_factor", "must be greater than 0"),
    ("regions.csv", "r3,Region three,New York,1,1,1,1", "state", "two capital letters"),
    ("zip_regions.csv", "10,r1", "zip3", "three digits"),
    ("zip_regions.csv", "200,r9", "region_id", "not a region"),
    ("prior_auth_rules.csv", "plan,*,*,*,*,maybe,Why,,Src,2024-01-01,", "status", "not one of"),
    ("prior_auth_rules.csv", "plan,*,*,*,Texas,required,Why,,Src,2024-01-01,", "state", "two capital letters"),
    ("prior_auth_rules.csv", "plan,*,*,*,*,required,Why,,,2024-01-01,", "source", "a value is required"),
    (
        "benefit_periods.csv",
        "bare,2025-06-01,2026-12-31,10,,,,Overlap",
        "effective_from",
        "as specific as the row on line 2",
    ),
]


@pytest.mark.parametrize(("name", "row", "column", "text"), APPENDED, ids=[f"{a[0]}:{a[2]}" for a in APPENDED])
def test_bad_row_is_refused_with_file_line_and_column(schedule_copy, name, row, column, text):
    line = append(schedule_copy, name, row)
    with pytest.raises(ScheduleError) as caught:
        load_schedules(schedule_copy)
    found = [p for p in caught.value.problems if p.file == name and p.line == line and p.column == column]
    assert found, caught.value.problems
    assert text in found[0].message
    assert f"{name}, line {line}, column {column}: " in str(caught.value)


def test_equally_exact_prior_auth_rules_that_can_meet_are_refused(schedule_copy):
    line = append(schedule_copy, "prior_auth_rules.csv", "*,11111,asc,*,*,required,Clash,,Src,2024-01-01,")
    with pytest.raises(ScheduleError) as caught:
        load_schedules(schedule_copy)
    assert any(p.line == line and "as exact as the rule on line" in p.message for p in caught.value.problems)


def test_a_more_exact_rule_resolves_an_apparent_clash(schedule_copy):
    line = append(schedule_copy, "prior_auth_rules.csv", "hmo,*,asc,*,*,required,A,,Src,2024-01-01,")
    with pytest.raises(ScheduleError) as caught:
        load_schedules(schedule_copy)
    assert [p.line for p in caught.value.problems] == [line]
    append(schedule_copy, "prior_auth_rules.csv", "hmo,*,asc,*,TX,conditional,C,,Src,2024-01-01,")
    assert len(load_schedules(schedule_copy).prior_auth) == 8


def test_every_problem_is_reported_not_just_the_first(schedule_copy):
    append(schedule_copy, "payers.csv", "p2,P2,hmo,0,0.1,0,,,false")
    append(schedule_copy, "regions.csv", "r3,Region three,NY,-1,1,1,1")
    with pytest.raises(ScheduleError) as caught:
        load_schedules(schedule_copy)
    assert {p.file for p in caught.value.problems} == {"payers.csv", "regions.csv"}


def test_missing_file(schedule_copy):
    (schedule_copy / "regions.csv").unlink()
    with pytest.raises(ScheduleError, match="regions.csv: is missing"):
        load_schedules(schedule_copy)


def test_missing_column(schedule_copy):
    path = schedule_copy / "payers.csv"
    path.write_text(path.read_text().replace(",balance_billing", ",billing"))
    with pytest.raises(ScheduleError, match="payers.csv, line 1, column balance_billing: required column is missing"):
        load_schedules(schedule_copy)


def test_wrong_number_of_fields(schedule_copy):
    line = append(schedule_copy, "regions.csv", "r3,Region three,NY,1")
    with pytest.raises(ScheduleError, match=f"regions.csv, line {line}: has 4 fields; the header has 7"):
        load_schedules(schedule_copy)


def test_bad_utf8(schedule_copy):
    path = schedule_copy / "procedures.csv"
    path.write_bytes(path.read_bytes() + b"66666,Caf\xe9,Test,1,2,3,1,,,,\n")
    with pytest.raises(ScheduleError, match="procedures.csv, line 7: is not valid UTF-8 text"):
        load_schedules(schedule_copy)


def test_stray_quote(schedule_copy):
    line = append(schedule_copy, "regions.csv", 'r3,"Region three,NY,1,1,1,1')
    with pytest.raises(ScheduleError, match=f"regions.csv, line {line}: is not well-formed CSV"):
        load_schedules(schedule_copy)


def test_empty_file(schedule_copy):
    (schedule_copy / "zip_regions.csv").write_text("")
    with pytest.raises(ScheduleError, match="zip_regions.csv, line 1: is empty"):
        load_schedules(schedule_copy)


def test_extra_columns_are_ignored(schedule_copy):
    path = schedule_copy / "regions.csv"
    lines = path.read_text().splitlines()
    path.write_text("\n".join([lines[0] + ",comment"] + [line + ",x" for line in lines[1:]]) + "\n")
    assert len(load_schedules(schedule_copy).regions) == 2


def test_environment_variable_points_at_another_directory(monkeypatch, schedule_copy):
    monkeypatch.setenv("ESTIMATOR_FEE_SCHEDULES", str(schedule_copy))
    assert load_schedules().directory == str(schedule_copy)


def test_shipped_schedules_load(shipped):
    assert len(shipped.keys["cpt_code"]) == 7360  # the CY2025 RVU file's payable codes, and 20971
    assert (shipped.procedures["modifier"].value_counts().to_dict()) == {"": 7360, "26": 825, "TC": 825}
    assert len(shipped.regions) == 109
    assert shipped.zip_regions["zip3"].str.len().eq(3).all()


def test_check_schedules_command_reports_line_and_column(schedule_copy):
    line = append(schedule_copy, "payers.csv", "p2,P2,commercial,0,1.5,0,,,false")
    out = subprocess.run(
        [sys.executable, "-m", "estimator", "check-schedules", str(schedule_copy)], capture_output=True, text=True
    )
    assert out.returncode == 1
    assert f"payers.csv, line {line}, column coinsurance: must be at most 1" in out.stdout
    assert "1 problem(s) found." in out.stderr


def test_check_schedules_command_accepts_the_shipped_data():
    out = subprocess.run([sys.executable, "-m", "estimator", "check-schedules"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "OK. 7,360 procedure codes (1,650 component rows, 26 or TC)" in out.stdout


ENCOUNTER_COLUMNS = [
    ("procedures.csv", "multiple_procedure_indicator", "X", "'X' is not one of: 0, 1, 2, 3, 4, 5, 6, 7, 8, 9"),
    ("procedures.csv", "addon_to", "99999", "'99999' is not a code in procedures.csv"),
    ("procedures.csv", "addon_to", "SELF", "an add-on code cannot be its own primary"),
    ("payers.csv", "multiple_procedure_factor", "0", "must be greater than 0"),
    ("payers.csv", "multiple_procedure_factor", "1.5", "must be at most 1"),
    ("payers.csv", "multiple_procedure_factor", "half", "must be a number"),
]


@pytest.mark.parametrize(
    ("name", "column", "value", "text"), ENCOUNTER_COLUMNS, ids=[f"{c[1]}={c[2]}" for c in ENCOUNTER_COLUMNS]
)
def test_the_encounter_columns_are_checked(schedule_copy, name, column, value, text):
    path = schedule_copy / name
    lines = path.read_text().splitlines()
    lines = [lines[0] + "," + column] + [line + "," for line in lines[1:]]
    code = lines[1].split(",")[0]
    lines[1] += code if value == "SELF" else value  # the new last cell of the first row
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(ScheduleError) as caught:
        load_schedules(schedule_copy)
    found = [p for p in caught.value.problems if (p.file, p.line, p.column) == (name, 2, column)]
    assert found and text in found[0].message, caught.value.problems


def test_a_directory_without_the_encounter_columns_loads_as_before(small):
    assert set(small.procedures["multiple_procedure_indicator"]) == {0}
    assert set(small.procedures["addon_to"]) == {""}
    assert small.payers["multiple_procedure_factor"].isna().all()


def test_the_shipped_addon_codes_and_indicators(shipped):
    procedures = shipped.procedures
    assert procedures.loc["64484", "addon_to"] == "64483"
    assert procedures.loc["64495", "addon_to"] == "64493 64494"
    assert procedures.loc["64483", "multiple_procedure_indicator"] == 2
    assert procedures.loc["64484", "multiple_procedure_indicator"] == 0
    assert procedures.loc["99213", "multiple_procedure_indicator"] == 0
    assert shipped.payers.loc["medicare", "multiple_procedure_factor"] == 0.5
    assert shipped.payers["multiple_procedure_factor"].isna().sum() == 1  # self-pay
