"""One request (SPEC section 3) or one visit (section 7) estimated over plain Python values, so that a
single answer costs a few batch rows instead of a batch's fixed overhead.

The figures come from the same steps as the batch's (:mod:`.pipeline`), run with :data:`.arith.SCALARS`;
what is this path's own is small: reading the fields by the same rules (:data:`.intake.RULES`), finding
rows one case at a time, and ordering the lines of one visit. A request that is not valid, or whose
figures are not finite, gets ``None`` here: its messages come from the vectorised path, which words them
for every field at once.
"""

import bisect
import datetime as dt
import math

from . import pipeline, pricing
from .arith import SCALARS
from .engine import GUARDED, MONEY
from .intake import BLANK, RULES, both_places, line_procedure, refuses_bilateral
from .schedules import day_number

_ISO_EPOCH = dt.date(1970, 1, 1).toordinal()
#: Most cells whose reading one set of schedules keeps (requests repeat codes, payers, dates and ZIPs).
MAX_CELLS_KEPT = 50_000
#: The figures that must be finite for an answer: each line's, and the visit's totals.
_FINITE = (*GUARDED, *(f"encounter_{name}" for name in GUARDED))


def _intake(fields, schedules, today):
    """The typed request by the rules of SPEC section 3, or None when any field would get a message."""
    r = {}
    read = schedules.cells_read
    for field, rule in RULES.items():
        text = fields.get(field)
        if not text:
            value, message = BLANK[field]
        else:
            found = read.get((field, text))
            if found is None:
                if len(read) >= MAX_CELLS_KEPT:
                    read.clear()
                found = read[(field, text)] = rule(text.strip(), schedules)
            value, message = found
        if message is not None:
            return None
        r[field] = value
    if both_places(fields.get("region_id", "").strip(), fields.get("zip", "").strip()):
        return None
    r["zip"], r["region_id"] = fields.get("zip", "").strip(), r["zip"] or r["region_id"]
    r["modifiers"], r["bilateral"], r["component"] = r["modifiers"]
    r["procedure_key"], known = line_procedure(r["cpt_code"], r["component"], schedules._labels["procedures"])
    if not known:
        return None
    r["date_given"] = r["date_of_service"] is not None
    if not r["date_given"]:
        r["date_of_service"] = day_number(today)
    return r


class _Finder:
    """How one request finds its rows: positions by label, each lookup one case at a time."""

    def __init__(self, schedules):
        self.schedules = schedules
        self.labels = schedules._labels

    def place(self, r):
        labels = self.labels
        r["procedure_position"] = labels["procedures"][r["procedure_key"]]
        r["payer_position"] = labels["payers"][r["payer_id"]]
        r["region_position"] = labels["regions"].get(r["region_id"], -1)
        boundaries = self.schedules.boundary_days
        period = bisect.bisect_right(boundaries, r["date_of_service"])
        r["period_start"] = boundaries[period - 1] if period else -(2**40)

    def rows(self, r, index, case, meets=(), applies=None):
        if applies is False:
            return -1, False
        return index.find(case, r["period_start"], meets)


class _Visit:
    """The lines of one visit (a list of dicts of values), seen in the order of their fee."""

    longest = 1

    def __init__(self, rows):
        self.parts = rows
        self.longest = len(rows)
        self.order = range(len(rows))

    def rank(self, name):
        rows = self.parts
        self.order = sorted(range(len(rows)), key=lambda i: (-rows[i][name], i))

    def ranked(self, name, pad):
        rows = self.parts
        return [rows[i][name] for i in self.order]

    def store(self, name, ranked):
        rows = self.parts
        for i, value in zip(self.order, ranked, strict=True):
            rows[i][name] = value

    def store_many(self, names, ranked):
        rows = self.parts
        for i, values in zip(self.order, ranked, strict=True):
            rows[i].update(zip(names, values, strict=True))

    def head(self, name):
        return self.parts[0][name]

    def along(self, per_visit):
        return per_visit

    def spread(self, name, per_visit):
        for r in self.parts:
            r[name] = per_visit


class _Line(_Visit):
    """A visit of one line: the same view, with nothing to order."""

    def __init__(self, rows):
        self.parts = rows
        self.r = rows[0]

    def rank(self, name):
        pass

    def ranked(self, name, pad):
        return [self.r[name]]

    def store(self, name, ranked):
        self.r[name] = ranked[0]

    def store_many(self, names, ranked):
        self.r.update(zip(names, ranked[0], strict=True))

    def spread(self, name, per_visit):
        self.r[name] = per_visit


def estimate_row(fields, schedules, today):
    """The engine's row for one request given as text cells, or None (not valid, or not finite).

    Parameters
    ----------
    fields : mapping of str to str
        Request fields (SPEC section 3) as text, only known field names.
    schedules : Schedules
    today : datetime.date
        The date of service when none is given.
    """
    rows = estimate_lines([fields], schedules, today)
    return rows[0] if rows is not None else None


def estimate_lines(lines, schedules, today):
    """The engine's rows for the lines of one encounter (SPEC section 7), or None (a line not valid, or
    figures not finite). Each line is a mapping of request field to text, the shared fields repeated."""
    rows = []
    indicators = schedules.lists["procedures"]["bilateral_indicator"]
    labels = schedules._labels["procedures"]
    for fields in lines:
        r = _intake(fields, schedules, today)
        if r is None or refuses_bilateral(r["bilateral"], indicators[labels[r["procedure_key"]]]):
            return None
        rows.append(r)
    visit = _Line(rows) if len(rows) == 1 else _Visit(rows)
    try:
        pipeline.estimate_visits.scalar(SCALARS, visit, _Finder(schedules), schedules, schedules.lists, today, MONEY)
    except OverflowError:  # an amount too large to round: the vectorised path refuses it, with its message
        return None
    for r in rows:
        if pricing.cannot_price.scalar(SCALARS, r):  # the vectorised path refuses it, with its message
            return None
        if not math.isfinite(sum([r[name] for name in _FINITE])):  # a NaN, an infinity, or too large
            return None  # the vectorised path refuses it, with its message
        r["date_of_service"] = dt.date.fromordinal(r["date_of_service"] + _ISO_EPOCH).isoformat()
        r["encounter"] = 0
        r["valid"], r["error"] = True, ""
    return rows
