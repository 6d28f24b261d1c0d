"""Every line of an explanation that states arithmetic is true as written: its numbers are parsed and
the arithmetic redone, for every basis, modifier, region, units and network case, one line and visits."""

import datetime as dt
import re
from fractions import Fraction

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from estimator.core.errors import RequestError
from estimator.core.schedules import DEFAULT_DIRECTORY, load_schedules
from estimator.core.service import estimate_encounter, estimate_one

from .catalog import coded_line, codes
from .conftest import DATA, TEST_SCHEDULES

SCHEDULE_SETS = {
    "shipped": load_schedules(DEFAULT_DIRECTORY),
    "small": load_schedules(TEST_SCHEDULES),
    "encounters": load_schedules(DATA / "encounter_schedules"),
}
TODAY = dt.date(2025, 6, 1)

_NUMBER = re.compile(r"\$?(\d[\d,]*(?:\.\d+)?)( %)?")
_TOKEN = re.compile(r"\$?\d[\d,]*(?:\.\d+)?(?: %)?| / | x |\+|-|\(|\)")


class Interval:
    """A number shown rounded to its last digit: the interval of the values it may stand for."""

    def __init__(self, low, high):
        self.low, self.high = low, high

    @classmethod
    def shown(cls, text):
        """An amount (``$1,234.56``) stands for the values it rounds; a factor or a percent is exact (shown
        as the figure on file, or as given)."""
        text = text.strip()
        number, percent = _NUMBER.fullmatch(text).groups()
        digits = number.replace(",", "")
        value = Fraction(digits)
        half = Fraction(1, 2 * 10 ** len(digits.split(".")[1])) if text.startswith("$") and "." in digits else 0
        scale = Fraction(1, 100) if percent else 1
        return cls((value - half) * scale, (value + half) * scale)

    def __add__(self, other):
        return Interval(self.low + other.low, self.high + other.high)

    def __sub__(self, other):
        return Interval(self.low - other.high, self.high - other.low)

    def __mul__(self, other):
        products = [a * b for a in (self.low, self.high) for b in (other.low, other.high)]
        return Interval(min(products), max(products))

    def meets(self, other):
        return self.low <= other.high and other.low <= self.high


def _evaluate(tokens):
    """Evaluate ``+``, ``-``, `` x `` and parentheses over intervals (the usual precedence)."""

    def expression(i):
        value, i = term(i)
        while i < len(tokens) and tokens[i] in ("+", "-"):
            right, j = term(i + 1)
            value, i = (value + right if tokens[i] == "+" else value - right), j
        return value, i

    def term(i):
        value, i = factor(i)
        while i < len(tokens) and tokens[i] == " x ":
            right, i = factor(i + 1)
            value = value * right
        return value, i

    def factor(i):
        if tokens[i] == "(":
            value, i = expression(i + 1)
            assert tokens[i] == ")", tokens
            return value, i + 1
        return Interval.shown(tokens[i]), i + 1

    value, end = expression(0)
    assert end == len(tokens), tokens
    return value


def claims(line):
    """The arithmetic a line states, as (left tokens per level, right text per level)."""
    if " = " not in line:
        return []
    out = []
    for part in line.split("; "):
        if " = " not in part:
            continue
        left, right = part.rsplit(" = ", 1)
        left = left.rsplit(": ", 1)[-1]
        left = re.sub(r"\([^()\d]*\)", "", left)  # annotations in words: "(both sides)"
        right = re.match(r"\s*(\$?[\d,.]+(?: / \$?[\d,.]+)*)", right).group(1).rstrip(".")
        tokens = _TOKEN.findall(left)
        levels = right.split(" / ")
        per_level = [[] for _ in levels]
        i = 0
        while i < len(tokens):  # a run "a / b / c" is one figure per level
            if i + 4 < len(tokens) and tokens[i + 1] == " / " and tokens[i + 3] == " / ":
                for k in range(len(levels)):
                    per_level[k].append(tokens[i + 2 * k])
                i += 5
            else:
                for k in range(len(levels)):
                    per_level[k].append(tokens[i])
                i += 1
        out += [([t for t in level if t != " / "], result) for level, result in zip(per_level, levels, strict=True)]
    return out


def check_explanation(lines):
    """Check every claim of the lines; returns how many there were.

    A sum or difference of amounts (``$1.00 + $2.00 = $3.00``) must hold exactly: the answer's totals are
    sums of its rounded figures. A product holds up to the rounding of the figures shown: each stands for
    the values it rounds (``0.2 x $14.67`` may be ``$2.93``), as the explanation says it rounds.
    """
    checked = 0
    for line in lines:
        for tokens, result in claims(line):
            if " x " in tokens or any(not t.startswith("$") for t in tokens if t not in ("+", "-", "(", ")")):
                assert _evaluate(tokens).meets(Interval.shown(result)), line
            else:
                shown = Interval.shown(result)
                assert _exact(tokens) == (shown.low + shown.high) / 2, line
            checked += 1
    return checked


def _exact(tokens):
    """The exact value of a sum or difference of amounts (each shown to the cent)."""
    total, sign = Fraction(0), 1
    for token in tokens:
        if token in ("+", "-"):
            sign = 1 if token == "+" else -1
        elif token not in ("(", ")"):
            total += sign * Fraction(token.lstrip("$").replace(",", ""))
    return total


@pytest.mark.parametrize(
    ("line", "count"),
    [
        ("Fee: baseline range $500.00 / $1,000.00 / $2,000.00 x 1.5 x 2 units = $1,500.00 / $3,000.00 / $6,000.00.", 3),
        ("Coinsurance: 20 % x ($271.66 - $257.00) = $2.93.", 1),
        ("RVUs work 1.9 x GPCI 1.065 + practice expense 5.24 x GPCI 1.166 = 8.13334 RVUs; 8.13334 x $2 = $16.27.", 2),
    ],
)
def test_the_checker_reads_claims(line, count):
    assert check_explanation([line]) == count


@pytest.mark.parametrize(
    "line",
    [
        "Professional fee: baseline $500.00 x 1 = $750.00.",  # the defect as reported: a factor left out
        "Coinsurance: 20 % x ($271.66 - $257.00) = $2.94.",
        "Total allowed: $1.00 + $2.00 = $3.01 (expected, the lines' sum).",
        "Fee: baseline range $500.00 / $1,000.00 / $2,000.00 x 1.5 = $750.00 / $1,500.00 / $3,001.00.",
    ],
)
def test_the_checker_finds_false_arithmetic(line):
    with pytest.raises(AssertionError):
        check_explanation([line])


@st.composite
def requests(draw, schedules):
    code, modifiers = draw(coded_line(schedules))
    fields = {
        "cpt_code": code,
        "payer_id": draw(st.sampled_from(sorted(schedules.payers.index))),
        "setting": draw(st.sampled_from(["office", "asc", "hospital_outpatient"])),
        "network": draw(st.sampled_from(["in", "out"])),
        "modifiers": modifiers.split(),
        "units": draw(st.integers(1, 5)),
        "date_of_service": draw(st.dates(dt.date(2024, 1, 1), dt.date(2027, 6, 30))).isoformat(),
    }
    where = draw(st.sampled_from(["none", "region", "zip"]))
    if where == "region":
        fields["region_id"] = draw(st.sampled_from(sorted(schedules.regions.index)))
    elif where == "zip" and schedules.zip_map:
        fields["zip"] = draw(st.sampled_from(sorted(schedules.zip_map))) + "01"
    for field, top in (("deductible", 3000), ("copay", 80), ("oop_max", 6000), ("deductible_met", 3000)):
        if draw(st.booleans()):
            fields[field] = draw(st.floats(0, top).map(lambda x: round(x, 2)))
    if draw(st.booleans()):
        fields["coinsurance"] = draw(st.sampled_from([0, 0.1, 0.15, 0.2, 0.333, 0.5]))
    return fields


@pytest.mark.parametrize("name", sorted(SCHEDULE_SETS))
def test_every_explanation_line_is_true_as_written(name):
    schedules = SCHEDULE_SETS[name]
    checked = []

    @settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
    @given(requests(schedules), st.lists(st.sampled_from(codes(schedules)), max_size=4))
    def check(fields, more):
        try:
            answer = estimate_one(fields, schedules, TODAY)
        except RequestError:
            return
        checked.append(check_explanation(answer["explanation"]))
        if not more:
            return
        shared = {k: v for k, v in fields.items() if k not in ("cpt_code", "modifiers", "units")}
        lines = [{"cpt_code": fields["cpt_code"], "modifiers": fields["modifiers"], "units": fields["units"]}]
        try:
            visit = estimate_encounter({**shared, "lines": lines + [{"cpt_code": c} for c in more]}, schedules, TODAY)
        except RequestError:
            return
        checked.append(check_explanation(visit["explanation"]))
        for line in visit["lines"]:
            checked.append(check_explanation(line["explanation"]))

    check()
    assert sum(checked) > 1000  # enough claims checked to mean something
