"""The single-request path (plain Python values, :mod:`estimator.core.single`) gives the vectorised
engine's answer, field for field, on random requests over the shipped schedules and the hand-made test
schedules: valid and invalid alike (an invalid request must be refused by both)."""

import datetime as dt
import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from estimator.core import single
from estimator.core.answer import to_answer, to_encounter_answer
from estimator.core.engine import estimate
from estimator.core.schedules import DEFAULT_DIRECTORY, load_schedules

from .catalog import coded_line
from .conftest import DATA, TEST_SCHEDULES

SCHEDULE_SETS = {
    "shipped": load_schedules(DEFAULT_DIRECTORY),
    "small": load_schedules(TEST_SCHEDULES),
    "encounters": load_schedules(DATA / "encounter_schedules"),
}
TODAY = dt.date(2025, 6, 1)
GOOD_MONEY = st.one_of(st.just(""), st.integers(0, 8000).map(str), st.floats(0, 8000, allow_nan=False).map(repr))
BAD_MONEY = st.sampled_from(["-1", "abc", "1e400", "nan", "10000001"])


@st.composite
def request_fields(draw, schedules):
    """A request whose fields are each valid most of the time (one time in 40, a bad value)."""

    def pick(good, bad):
        return draw(bad if draw(st.integers(0, 39)) == 0 else good)

    code, modifiers = draw(coded_line(schedules))
    payers = sorted(schedules.payers.index)
    regions = sorted(schedules.regions.index)
    zips = sorted(schedules.zip_map)
    fields = {
        "cpt_code": pick(st.sampled_from([code, code.lower() + " "]), st.sampled_from(["", "00000"])),
        "payer_id": pick(st.sampled_from([*payers, payers[0].upper()]), st.sampled_from(["", "nobody"])),
        "setting": pick(st.sampled_from(["", "office", "asc", "hospital_outpatient"]), st.just("home")),
        "network": pick(st.sampled_from(["", "in", "out"]), st.just("maybe")),
        "modifiers": pick(
            st.sampled_from([modifiers, modifiers.lower().replace(" ", ",")]), st.sampled_from(["50 RT", "XX", "26 TC"])
        ),
        "units": pick(st.sampled_from(["", "1", "2", "3", "7", "2.0", " 4 "]), st.sampled_from(["0", "1.5", "two"])),
        "date_of_service": pick(
            st.one_of(st.just(""), st.dates(dt.date(2023, 6, 1), dt.date(2027, 12, 31)).map(dt.date.isoformat)),
            st.sampled_from(["2025-02-30", "05/01/2025"]),
        ),
    }
    where = pick(st.sampled_from(["none", "region", "zip"]), st.sampled_from(["both", "bad region", "bad zip"]))
    if where in ("region", "both"):
        fields["region_id"] = draw(st.sampled_from(regions))
    if where in ("zip", "both") and zips:
        fields["zip"] = draw(st.sampled_from(zips)) + draw(st.sampled_from(["01", "99", "12-3456"]))
    if where == "bad region":
        fields["region_id"] = "nowhere"
    if where == "bad zip":
        fields["zip"] = draw(st.sampled_from(["1234", "00000"]))
    for field in ("deductible", "copay", "oop_max", "deductible_met", "oop_met"):
        if draw(st.booleans()):
            fields[field] = pick(GOOD_MONEY, BAD_MONEY)
    if draw(st.booleans()):
        fields["coinsurance"] = pick(st.one_of(st.just(""), st.floats(0, 1).map(repr)), st.sampled_from(["1.5", "x"]))
    return fields


def vectorised_answer(fields, schedules):
    result = estimate({k: [v] for k, v in fields.items()} or {"cpt_code": [""]}, schedules, TODAY)
    return to_answer(result.row(0), schedules) if result.columns["valid"][0] else None


@pytest.mark.parametrize("name", sorted(SCHEDULE_SETS))
def test_the_single_path_answers_as_the_vectorised_engine(name):
    schedules = SCHEDULE_SETS[name]

    @settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
    @given(request_fields(schedules))
    def check(fields):
        expected = vectorised_answer(fields, schedules)
        row = single.estimate_row(fields, schedules, TODAY)
        assert (row is None) == (expected is None)
        if row is not None:
            assert json.dumps(to_answer(row, schedules)) == json.dumps(expected)

    check()


def test_the_valid_share_of_the_generated_requests_is_large_enough_to_mean_something():
    schedules = SCHEDULE_SETS["shipped"]
    valid = []

    @settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
    @given(request_fields(schedules))
    def count(fields):
        valid.append(single.estimate_row(fields, schedules, TODAY) is not None)

    count()
    assert sum(valid) > 0.3 * len(valid)


@st.composite
def encounter_fields(draw, schedules):
    """An encounter: one request's shared fields and 1 to 6 lines (a few more rarely), some codes twice."""
    shared = {k: v for k, v in draw(request_fields(schedules)).items() if k not in ("cpt_code", "modifiers", "units")}
    count = draw(st.one_of(st.integers(1, 6), st.integers(7, 20)))
    lines = []
    for _ in range(count):
        code, modifiers = draw(coded_line(schedules))
        line = {
            "cpt_code": code,
            "modifiers": modifiers,
            "units": draw(st.sampled_from(["", "1", "2", "3"])),
        }
        if draw(st.integers(0, 49)) == 0:  # now and then a line the rules refuse
            drawn = draw(request_fields(schedules))
            line = {k: drawn[k] for k in ("cpt_code", "modifiers", "units")}
        lines.append(line)
        if lines and draw(st.integers(0, 5)) == 0:
            lines.append(dict(lines[0]))  # the same code again: equal fees, ranked by line order
    return shared, lines[:20]


def vectorised_encounter(shared, lines, schedules):

    rows = [{**shared, **line} for line in lines]
    names = {k for row in rows for k in row}
    raw = {name: [row.get(name, "") for row in rows] for name in names}
    result = estimate(raw, schedules, TODAY, encounter=np.zeros(len(rows), dtype=np.int64))
    if not result.columns["valid"].all():
        return None
    return to_encounter_answer([result.row(i) for i in range(len(rows))], schedules)


@pytest.mark.parametrize("name", sorted(SCHEDULE_SETS))
def test_the_single_path_answers_encounters_as_the_vectorised_engine(name):
    schedules = SCHEDULE_SETS[name]
    valid = []

    @settings(max_examples=250, deadline=None, suppress_health_check=list(HealthCheck))
    @given(encounter_fields(schedules))
    def check(encounter):
        shared, lines = encounter
        expected = vectorised_encounter(shared, lines, schedules)
        rows = single.estimate_lines([{**shared, **line} for line in lines], schedules, TODAY)
        assert (rows is None) == (expected is None)
        valid.append(rows is not None)
        if rows is not None:
            assert json.dumps(to_encounter_answer(rows, schedules)) == json.dumps(expected)

    check()
    assert sum(valid) > 0.3 * len(valid)  # enough valid visits to mean something


def test_the_cases_rows_are_found_for_name_their_fields_in_the_indexes_order():
    from estimator.core.pricing import rate_case
    from estimator.core.prior_auth import rule_case
    from estimator.core.schedules import RATE_FIELDS, RULE_FIELDS

    r = {f: f for f in (*RATE_FIELDS, *RULE_FIELDS)} | {"has_rvu": True, "has_baseline": False}
    assert rate_case(r, "component") == (tuple(RATE_FIELDS), (True, False))
    assert rule_case(r) == tuple(RULE_FIELDS)
