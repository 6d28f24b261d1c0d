"""One answer whatever the door and the history: hypothesis writes whole fee-schedule directories and long
sequences of requests and visits (valid and not), sends them one after another to one running app and
to one process's ``estimate``, and each answer must be the batch engine's answer for that request alone.

The schedules have payers with ``*`` and exact rows on every basis, codes with and without RVUs, ranges
of dates that overlap in time across rows, that ended and that start later, prior-authorization rules,
and every optional column and file present or absent; the requests name codes, payers and regions on
file and not, every setting, network, modifier and units case, and dates before, within and after the
rows' periods.
"""

import datetime as dt
import json
import tempfile
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from estimator.core.answer import to_answer, to_encounter_answer
from estimator.core.engine import estimate
from estimator.core.errors import RequestError
from estimator.core.schedules import load_schedules
from estimator.core.service import as_text, encounter_rows, estimate_encounter, estimate_one
from estimator.web.app import create_app

TODAY = dt.date(2025, 6, 1)
CODES = ("10001", "10002", "10003", "20001", "20002", "0213T", "A4550")
REGIONS = ("north", "south", "east")
ZIP3 = {"north": "100", "south": "770", "east": "021"}
DAYS = ("2024-01-01", "2024-06-30", "2024-07-01", "2024-12-31", "2025-01-01", "2025-06-30", "2025-07-01")


def _csv(header, rows):
    return ",".join(header) + "\n" + "".join(",".join(str(c) for c in row) + "\n" for row in rows)


@st.composite
def periods(draw):
    """One to three consecutive, non-overlapping date ranges (the last may be open), starting on a day of
    ``DAYS``: rows of one key may not overlap."""
    start = draw(st.sampled_from(DAYS[:4]))
    out = []
    for _ in range(draw(st.integers(1, 3))):
        if draw(st.booleans()) or len(out) == 2:
            out.append((start, ""))
            break
        end = dt.date.fromisoformat(start) + dt.timedelta(days=draw(st.sampled_from([30, 181, 365])))
        out.append((start, end.isoformat()))
        start = (end + dt.timedelta(days=draw(st.sampled_from([1, 1, 60])))).isoformat()
    return out


@st.composite
def schedule_directories(draw):
    """The files of a valid fee-schedule directory, as ``{name: text}``."""
    codes = draw(st.lists(st.sampled_from(CODES), min_size=3, max_size=len(CODES), unique=True))
    optional_columns = draw(st.booleans())
    procedures, has_rvu = [], {}
    for code in codes:
        low = draw(st.integers(10, 500))
        typical, high = low * draw(st.sampled_from([1, 2])), low * draw(st.sampled_from([2, 3, 4]))
        rvu = draw(st.sampled_from(["all", "none", "office only", "all", "none"]))
        has_rvu[code] = rvu
        values = {
            "all": ("0.66", "0.84", "0.36", "0.07"),
            "office only": ("1.2", "2.5", "", "0.1"),
            "none": ("", "", "", ""),
        }[rvu]
        row = [code, f"Test code {code}", "Test", low, typical, high, draw(st.sampled_from("01239")), *values]
        if optional_columns:
            addon = draw(st.sampled_from([""] * 4 + [c for c in codes if c != code]))
            row += [draw(st.sampled_from(["", "0", "2", "2", "9"])) if not addon else "0", addon]
        procedures.append(row)
    procedure_header = [
        "cpt_code",
        "description",
        "category",
        "baseline_low",
        "baseline_typical",
        "baseline_high",
        "bilateral_indicator",
        "work_rvu",
        "pe_rvu_nonfacility",
        "pe_rvu_facility",
        "mp_rvu",
    ] + (["multiple_procedure_indicator", "addon_to"] if optional_columns else [])

    payers = ["acme", "beta", "cash"][: draw(st.integers(2, 3))]
    payer_rows = []
    for payer in payers:
        row = [
            payer,
            f"Payer {payer}",
            "self_pay" if payer == "cash" else draw(st.sampled_from(["commercial", "medicare", "medicaid"])),
            draw(st.sampled_from(["", 0, 250, 1500])),
            draw(st.sampled_from(["", 0, 0.2, 0.35])),
            draw(st.sampled_from(["", 0, 20])),
            draw(st.sampled_from(["", 800, 5000])),
            draw(st.sampled_from(["", 0.6, 0.95])),
            draw(st.sampled_from(["true", "false"])),
        ]
        if optional_columns:
            row.append(draw(st.sampled_from(["", 0.5, 1])))
        payer_rows.append(row)
    payer_header = [
        "payer_id",
        "name",
        "kind",
        "deductible",
        "coinsurance",
        "copay",
        "oop_max",
        "oon_factor",
        "balance_billing",
    ] + (["multiple_procedure_factor"] if optional_columns else [])

    rates = []
    for payer in payers:
        keys = set()
        for k in range(draw(st.integers(1, 6))):
            code = "*" if k == 0 or draw(st.integers(0, 4)) else draw(st.sampled_from(codes))
            component = "professional" if k == 0 else draw(st.sampled_from(["professional", "facility"]))
            setting = draw(st.sampled_from(["*", "office", "asc", "hospital_outpatient"]))
            if component == "facility" and setting == "office":
                setting = "asc"
            region = draw(st.sampled_from(["*", "*", *REGIONS]))
            bases = ["amount", "baseline"]
            rvu_ok = code == "*" or has_rvu[code] == "all" or (has_rvu[code] == "office only" and setting == "office")
            if component == "professional" and rvu_ok:
                bases.append("rvu")
            basis = draw(st.sampled_from(bases + (["rvu"] if "rvu" in bases else [])))
            key = (code, setting, component, region)
            if key in keys:
                continue
            keys.add(key)
            value = {"amount": draw(st.sampled_from([40, 125.5, 900])), "baseline": 0.8, "rvu": 32.3465}[basis]
            for start, end in draw(periods()):
                rates.append([payer, code, setting, component, region, basis, value, start, end, ""])
                value = round(value * 1.1, 4)
    rate_header = [
        "payer_id",
        "cpt_code",
        "setting",
        "component",
        "region_id",
        "basis",
        "value",
        "effective_from",
        "effective_to",
        "note",
    ]

    rules = []
    for payer in payers:  # each rule of a payer as exact as no other: never two equally exact
        for exact in sorted(draw(st.sets(st.integers(1, 5), max_size=3))):
            fields = [
                payer,
                draw(st.sampled_from(codes)) if exact >= 2 else "*",
                draw(st.sampled_from(["office", "asc"])) if exact >= 3 else "*",
                draw(st.sampled_from(["in", "out"])) if exact >= 4 else "*",
                draw(st.sampled_from(["NY", "TX"])) if exact >= 5 else "*",
            ]
            start, end = draw(periods())[0]
            status = draw(st.sampled_from(["required", "not_required", "conditional"]))
            rules.append([*fields, status, f"Rule {exact}", "", "Test source", start, end])
    rule_header = [
        "payer_id",
        "cpt_code",
        "setting",
        "network",
        "state",
        "status",
        "reason",
        "documentation",
        "source",
        "effective_from",
        "effective_to",
    ]

    files = {
        "procedures.csv": _csv(procedure_header, procedures),
        "payers.csv": _csv(payer_header, payer_rows),
        "payer_fee_schedule.csv": _csv(rate_header, rates),
        "regions.csv": _csv(
            ["region_id", "name", "state", "geo_factor", "gpci_work", "gpci_pe", "gpci_mp"],
            [
                ["north", "North", "NY", 1.2, 1.1, 1.2, 0.9],
                ["south", "South", "TX", 0.8, 1, 0.9, 0.5],
                ["east", "East", "MA", 1, 1, 1, 1],
            ],
        ),
        "zip_regions.csv": _csv(["zip3", "region_id"], [[ZIP3["north"], "north"], [ZIP3["south"], "south"]]),
        "prior_auth_rules.csv": _csv(rule_header, rules),
    }
    if draw(st.booleans()):
        rows = []
        for payer in payers:
            if draw(st.booleans()):
                for start, end in draw(periods()):
                    rows.append([payer, start, end, draw(st.sampled_from(["", 100, 2000])), "", "", "", ""])
        files["benefit_periods.csv"] = _csv(
            ["payer_id", "effective_from", "effective_to", "deductible", "coinsurance", "copay", "oop_max", "source"],
            rows,
        )
    return files


def _mostly(draw, good, bad):
    """A good value, and one time in eight a bad one."""
    return draw(st.sampled_from(bad)) if draw(st.integers(0, 7)) == 0 else draw(st.sampled_from(good))


@st.composite
def shared_fields(draw, dates):
    """The fields a request shares with a visit's other lines, JSON-typed, now and then a bad one."""
    fields = {
        "payer_id": _mostly(draw, ["acme", "acme", "acme", "ACME", "beta", "cash"], ["nobody", ""]),
        "date_of_service": _mostly(draw, dates, ["2025-02-30"]),
    }
    where = draw(st.sampled_from(["none", "none", "region", "zip"]))
    if where == "region":
        fields["region_id"] = _mostly(draw, list(REGIONS), ["west"])
    elif where == "zip":
        fields["zip"] = _mostly(draw, list(ZIP3.values()), ["999", "1"]) + "01"
    if draw(st.integers(0, 30)) == 0:
        fields.update(region_id="north", zip="10001")
    if draw(st.booleans()):
        fields["setting"] = _mostly(draw, ["office", "asc", "hospital_outpatient"], ["home"])
    if draw(st.booleans()):
        fields["network"] = _mostly(draw, ["in", "out"], ["maybe"])
    for field, values in (
        ("deductible", [0, 500, 2500.5]),
        ("deductible_met", [0, 100, 3000]),
        ("coinsurance", [0, 0.2, 0.5]),
        ("copay", [0, 25]),
        ("oop_max", [0, 1000, 6000]),
        ("oop_met", [0, 900]),
    ):
        if draw(st.integers(0, 3)) == 0:
            fields[field] = _mostly(draw, values, [-1, 1e9] if field != "coinsurance" else [1.5])
    return fields


@st.composite
def line_fields(draw, codes):
    line = {"cpt_code": _mostly(draw, codes, ["99999", "", *CODES])}
    if draw(st.booleans()):
        line["modifiers"] = _mostly(draw, [[], ["RT"], ["50"], ["RT", "LT"], ["LT"]], [["50", "LT"], ["ZZ"]])
    if draw(st.booleans()):
        line["units"] = _mostly(draw, [1, 2, 3], [0, 100])
    return line


@st.composite
def request_sequences(draw, codes):
    """A long sequence of single requests and visits of 1 to 4 lines, in the order they are sent: a few
    days' requests for a few of the codes, as a clinic's are, so that one request follows another of the
    same payer, place and day."""
    all_dates = [*DAYS, "2023-06-01", "2026-03-01", "2027-01-15", ""]
    dates = draw(st.lists(st.sampled_from(all_dates), min_size=1, max_size=2, unique=True))
    codes = draw(st.lists(st.sampled_from(codes), min_size=2, max_size=3, unique=True))
    codes += [code.lower() for code in codes if not code.isdigit()][:1]
    out = []
    for _ in range(draw(st.integers(30, 80))):
        shared = draw(shared_fields(dates))
        if draw(st.integers(0, 3)) == 0:
            out.append({**shared, "lines": draw(st.lists(line_fields(codes), min_size=1, max_size=4))})
        else:
            out.append({**shared, **draw(line_fields(codes))})
    return out


@st.composite
def scenarios(draw):
    """A fee-schedule directory and a sequence of requests for it."""
    files = draw(schedule_directories())
    codes = [line.split(",")[0] for line in files["procedures.csv"].splitlines()[1:]]
    return files, draw(request_sequences(codes))


def engine_answer(request, schedules):
    """The batch engine's answer for one request or visit estimated alone (no lookups kept from before):
    (answer, None), or (None, the fields of a single request's messages; empty for a visit)."""
    for index in (schedules.rate_index, schedules.rule_index, schedules.benefit_index):
        index.forget()
    if "lines" in request:
        rows, messages = encounter_rows(request)
        raw = {f: [as_text(row.get(f)) for row in rows] for f in {k for row in rows for k in row}}
        result = estimate(raw, schedules, TODAY, encounter=np.zeros(len(rows), dtype=np.int64))
        if messages or not result.columns["valid"].all():
            return None, set()
        return to_encounter_answer([result.row(i) for i in range(len(rows))], schedules), None
    raw = {k: [as_text(v)] for k, v in request.items()}
    result = estimate(raw, schedules, TODAY)
    if not result.columns["valid"][0]:
        return None, set(result.intake.row_messages(0))
    return to_answer(result.row(0), schedules), None


def _same(a, b):
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def _trap():
    """A lookup kept for one code must not answer another: a payer's only rate is a ``*`` row on the rvu
    basis; 0213T has no RVUs (the baseline), 10001 has (the rvu row). Neither is named by a rate row."""
    files = {
        "procedures.csv": _csv(
            ["cpt_code", "description", "category", "baseline_low", "baseline_typical", "baseline_high"]
            + ["bilateral_indicator", "work_rvu", "pe_rvu_nonfacility", "pe_rvu_facility", "mp_rvu"],
            [
                ["0213T", "No RVUs", "Test", 100, 200, 400, 1, "", "", "", ""],
                ["10001", "RVUs", "Test", 10, 20, 40, 1] + [1, 2, 1, 0.5],
            ],
        ),
        "payers.csv": _csv(
            ["payer_id", "name", "kind", "deductible", "coinsurance", "copay", "oop_max", "oon_factor"]
            + ["balance_billing"],
            [["acme", "Payer acme", "commercial", 0, 0.2, 0, "", "", "false"]],
        ),
        "payer_fee_schedule.csv": _csv(
            ["payer_id", "cpt_code", "setting", "component", "region_id", "basis", "value", "effective_from"]
            + ["effective_to", "note"],
            [["acme", "*", "*", "professional", "*", "rvu", 20, "2024-01-01", "", ""]],
        ),
        "regions.csv": _csv(["region_id", "name", "state", "geo_factor", "gpci_work", "gpci_pe", "gpci_mp"], []),
        "zip_regions.csv": _csv(["zip3", "region_id"], []),
        "prior_auth_rules.csv": _csv(
            ["payer_id", "cpt_code", "setting", "network", "state", "status", "reason", "documentation", "source"]
            + ["effective_from", "effective_to"],
            [],
        ),
    }
    day = {"payer_id": "acme", "date_of_service": "2025-05-01"}
    return files, [{**day, "cpt_code": "0213T"}, {**day, "cpt_code": "10001"}, {**day, "cpt_code": "0213T"}]


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@example(scenario=_trap())
@given(scenario=scenarios())
def test_every_door_gives_the_engines_answer_for_the_request_alone(scenario):
    files, sequence = scenario
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        for name, text in files.items():
            (directory / name).write_text(text)
        running = load_schedules(directory)  # one process's: kept from request to request
        alone = load_schedules(directory)  # the reference: nothing kept
        client = create_app({"TESTING": True, "FEE_SCHEDULES": str(directory), "RELOAD_INTERVAL": 0}).test_client()
        for request in sequence:
            expected, refused = engine_answer(request, alone)
            door = estimate_encounter if "lines" in request else estimate_one
            try:
                answer = door(request, running, TODAY)
            except RequestError as exc:
                answer, messages = None, set(exc.messages)
            assert (answer is None) == (expected is None), (request, refused)
            if answer is not None:
                assert _same(answer, expected), request
            elif "lines" not in request:
                assert messages == refused, request
            if not request["date_of_service"]:
                continue  # the service's today is the calendar's, not the test's
            response = client.post("/api/v1/encounters" if "lines" in request else "/api/v1/estimates", json=request)
            if expected is not None:
                assert response.status_code == 200, (request, response.get_json())
                assert _same(response.get_json(), expected), request
            else:
                assert response.status_code == 422, request
