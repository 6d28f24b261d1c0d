"""Every fee-schedule file in every form it can take: absent, empty, header only, blank lines only, with
an extra column, with a byte-order mark, with CR LF line ends. Each either loads, and then estimates as
it should, or is refused with a ScheduleError naming that file: never another exception."""

import pytest

from estimator.cli import main as cli_main
from estimator.core.errors import ScheduleError
from estimator.core.schedules import FILES, OPTIONAL_FILES, load_schedules
from estimator.core.service import estimate_one
from estimator.web.app import create_app

from .conftest import TODAY

ALL_FILES = [*FILES, *OPTIONAL_FILES]
REQUEST = {"cpt_code": "11111", "payer_id": "plan", "region_id": "r1", "date_of_service": "2025-06-01"}


def header_only(text):
    return text.splitlines(keepends=True)[0]


def with_extra_column(text):
    lines = text.splitlines()
    return "\n".join([lines[0] + ",comment"] + [line + ",x" for line in lines[1:]]) + "\n"


FORMS = {
    "absent": None,
    "empty": lambda text: "",
    "header only": header_only,
    "header only without a line end": lambda text: header_only(text).rstrip("\n"),
    "blank lines only": lambda text: "\n\n \n",
    "header and blank lines": lambda text: header_only(text) + "\n\n",
    "extra column": with_extra_column,
    "byte-order mark": lambda text: "\ufeff" + text,
    "CR LF": lambda text: text.replace("\n", "\r\n"),
    "header only with an extra column": lambda text: header_only(with_extra_column(text)),
}
#: Forms that change nothing the loader keeps: the same estimate must come out.
SAME_DATA = {"extra column", "byte-order mark", "CR LF"}


@pytest.mark.parametrize("form", FORMS, ids=list(FORMS))
@pytest.mark.parametrize("name", ALL_FILES)
def test_every_file_in_every_form_loads_or_is_refused_by_name(schedule_copy, small, name, form, capsys):
    path = schedule_copy / name
    if FORMS[form] is None:
        path.unlink()
    else:
        path.write_text(FORMS[form](path.read_text()), newline="")
    try:
        loaded = load_schedules(schedule_copy)
    except ScheduleError as exc:
        assert exc.problems, exc
        # the file itself, or the rows of other files that refer to what it no longer holds
        assert any(p.file == name or name in p.message for p in exc.problems), exc.problems
        assert form not in SAME_DATA, exc
        if form == "absent":
            assert name in FILES  # only a required file may be refused for its absence
        assert cli_main(["check-schedules", str(schedule_copy)]) == 1
        assert str(exc.problems[0]) in capsys.readouterr().out
        with pytest.raises(ScheduleError):
            create_app({"TESTING": True, "FEE_SCHEDULES": str(schedule_copy)})
        return
    assert cli_main(["check-schedules", str(schedule_copy)]) == 0
    assert ": OK." in capsys.readouterr().out
    client = create_app({"TESTING": True, "FEE_SCHEDULES": str(schedule_copy)}).test_client()
    assert client.get("/healthz").json["status"] == "ok"
    assert client.get("/").status_code == 200
    assert client.post("/api/v1/estimates", json=REQUEST).status_code == 200
    answer = estimate_one(REQUEST, loaded, TODAY)
    if form in SAME_DATA:
        assert answer == estimate_one(REQUEST, small, TODAY)
    assert answer["allowed_amount"]["expected"] >= 0


@pytest.mark.parametrize("name", ALL_FILES)
def test_empty_and_blank_files_say_they_are_empty(schedule_copy, name):
    for text in ("", "\n\n \n"):
        (schedule_copy / name).write_text(text)
        with pytest.raises(ScheduleError, match=f"{name}, line 1: is empty"):
            load_schedules(schedule_copy)


def test_without_the_optional_file_the_payer_defaults_apply(schedule_copy, small):
    (schedule_copy / "benefit_periods.csv").unlink()
    loaded = load_schedules(schedule_copy)
    assert len(loaded.benefit_periods) == 0
    request = {**REQUEST, "payer_id": "bare"}
    # the payer "bare" has a deductible of 50 in payers.csv, and of 80 in 2025 in benefit_periods.csv
    with_periods = estimate_one(request, small, TODAY)["cost_sharing"]["deductible"]
    without = estimate_one(request, loaded, TODAY)["cost_sharing"]["deductible"]
    assert (with_periods, without) == (80.0, 50.0)


@pytest.mark.parametrize("form", FORMS, ids=list(FORMS))
@pytest.mark.parametrize("name", ALL_FILES)
def test_a_running_service_takes_every_form_of_every_file_or_keeps_the_last_good_ones(schedule_copy, name, form):
    app = create_app({"TESTING": True, "FEE_SCHEDULES": str(schedule_copy), "RELOAD_INTERVAL": 0})
    client = app.test_client()
    before = client.post("/api/v1/estimates", json=REQUEST).json
    path = schedule_copy / name
    if FORMS[form] is None:
        path.unlink()
    else:
        path.write_text(FORMS[form](path.read_text()), newline="")
    app.extensions["schedule_store"].reload_if_changed()
    health = client.get("/healthz").json
    answer = client.post("/api/v1/estimates", json=REQUEST)
    assert answer.status_code == 200
    try:
        load_schedules(schedule_copy)
    except ScheduleError as exc:
        assert (health["status"], health["reload_error"]) == ("degraded", str(exc))
        assert answer.json == before  # the last good schedules are still in service
    else:
        assert (health["status"], health["reload_error"]) == ("ok", None)
        if form in SAME_DATA:
            assert answer.json == before


NUMBER_COLUMNS = [
    (name, column.name, column.maximum)
    for name, spec in {**FILES, **OPTIONAL_FILES}.items()
    for column in spec
    if column.kind == "number"
]


@pytest.mark.parametrize(("name", "column", "maximum"), NUMBER_COLUMNS, ids=[f"{n}:{c}" for n, c, _ in NUMBER_COLUMNS])
@pytest.mark.parametrize("value", ["1e300", "1e400", "above"])
def test_every_number_on_file_is_bounded(schedule_copy, name, column, maximum, value):
    assert maximum is not None, f"{name} {column} has no upper bound"
    path = schedule_copy / name
    lines = path.read_text().splitlines()
    if column not in lines[0].split(","):  # an optional column the file leaves out: add it
        lines = [lines[0] + "," + column] + [line + "," for line in lines[1:]]
    header = lines[0].split(",")
    cells = lines[1].split(",")
    cells[header.index(column)] = repr(maximum * 1.01 + 1) if value == "above" else value
    path.write_text("\n".join([lines[0], ",".join(cells), *lines[2:]]) + "\n")
    with pytest.raises(ScheduleError) as caught:
        load_schedules(schedule_copy)
    assert any((p.file, p.line, p.column) == (name, 2, column) for p in caught.value.problems), caught.value.problems


@pytest.mark.parametrize(
    ("basis", "value", "ok"),
    [
        ("baseline", "100", True),
        ("baseline", "101", False),
        ("rvu", "10000", True),
        ("rvu", "10001", False),
        ("amount", "10000000", True),
        ("amount", "10000001", False),
    ],
)
def test_rate_values_are_bounded_by_basis(schedule_copy, basis, value, ok):
    path = schedule_copy / "payer_fee_schedule.csv"
    path.write_text(path.read_text() + f"hmo,11111,office,professional,r2,{basis},{value},2030-01-01,,\n")
    line = path.read_text().count("\n")
    if ok:
        load_schedules(schedule_copy)
        return
    with pytest.raises(ScheduleError) as caught:
        load_schedules(schedule_copy)
    assert [(p.line, p.column) for p in caught.value.problems] == [(line, "value")]
    assert "must be at most" in caught.value.problems[0].message
