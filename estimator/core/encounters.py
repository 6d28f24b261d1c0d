"""Encounters: the lines of one visit estimated together (SPEC section 7, E1-E6).

A batch's encounters come from its ``encounter_id`` column (:func:`from_ids`): lines are rows, and
``encounter`` gives each row's encounter as an integer, the rows of one encounter adjacent and in line
order. The formulas (:func:`reduction`, :func:`status`, :func:`totals`) read a visit view, the lines of
each visit in the order of their fee: :class:`ArrayVisits` over a batch's arrays, or one request's
lines (:mod:`.single`). A request of section 3 is an encounter of one line.
"""

import numpy as np
import pandas as pd

from .arith import formula
from .glossary import LEVELS
from .money import dollars

#: Most lines one encounter may have.
MAX_LINES = 20
#: The encounter's prior-authorization status is the first of these that any line has (E6).
STATUS_ORDER = ("required", "conditional", "unknown", "not_required")

TOO_MANY_LINES = f"An encounter has at most {MAX_LINES} lines."
SHARED_DISAGREE = "The rows of one encounter must agree on {fields}."
ID_REAPPEARS = "'{id}' appears again after another id: the rows of one encounter must be adjacent."


def starts_of(encounter):
    """Boolean array: the first row of each encounter."""
    first = np.ones(len(encounter), dtype=bool)
    first[1:] = encounter[1:] != encounter[:-1]
    return first


def from_ids(ids, shared_cells):
    """Encounters of a batch from its ``encounter_id`` column (SPEC section 7, batch).

    Adjacent rows with the same non-blank id form one encounter; a blank id is an encounter of its own.

    Parameters
    ----------
    ids : numpy.ndarray of str
        The ``encounter_id`` cells, stripped.
    shared_cells : dict of str -> numpy.ndarray
        The shared request fields' cells (stripped text), which the rows of one encounter must agree on.

    Returns
    -------
    encounter : numpy.ndarray of int64
        The encounter of each row, numbered from 0 in order.
    problems : numpy.ndarray of object
        Per row, the message that makes its whole encounter fail (``None`` where there is none): rows
        that disagree on a shared field, an id that appears again after another one, too many lines.
    """
    n = len(ids)
    ids = np.asarray(ids, dtype=object)
    blank = ids == ""
    new = np.ones(n, dtype=bool)
    new[1:] = blank[1:] | (ids[1:] != ids[:-1])
    encounter = np.cumsum(new) - 1
    problems = np.full(n, None, dtype=object)
    if n == 0:
        return encounter, problems
    multi = _sizes(encounter)[encounter] > 1
    for name, cells in shared_cells.items():
        cells = np.asarray(cells, dtype=object)
        differs = np.zeros(n, dtype=bool)
        differs[1:] = ~new[1:] & (cells[1:] != cells[:-1])
        bad = _spread(differs, encounter) & multi
        _add(problems, bad, name, SHARED_DISAGREE)
    runs = pd.Series(ids[new & ~blank], dtype=object)  # ids may hold bytes that were not UTF-8
    again = runs[runs.duplicated(keep=False)]
    if len(again):
        first_rows = np.flatnonzero(new & ~blank)[again.index.to_numpy()]
        mask = np.zeros(n, dtype=bool)
        mask[first_rows] = True
        reappears = _spread(mask, encounter)
        problems = np.where(
            reappears & (problems == None),  # noqa: E711
            np.array([ID_REAPPEARS.format(id=i) for i in ids], dtype=object),
            problems,
        )
    too_many = _sizes(encounter)[encounter] > MAX_LINES
    problems = np.where(too_many & (problems == None), TOO_MANY_LINES, problems)  # noqa: E711
    return encounter, problems


def _sizes(encounter):
    return np.bincount(encounter) if len(encounter) else np.zeros(0, dtype=np.int64)


def _spread(mask, encounter):
    """True on every row of an encounter where ``mask`` holds on any row."""
    if not len(encounter):
        return mask
    return (np.bincount(encounter, weights=mask) > 0)[encounter]


def _add(problems, mask, field, template):
    """Name ``field`` in the shared-field message of the rows in ``mask``."""
    for i in np.flatnonzero(mask):
        current = problems[i]
        if current is None:
            problems[i] = template.format(fields=field)
        elif current.startswith("The rows of one encounter must agree on "):
            problems[i] = current[:-1] + f", {field}."


def renumber(encounter):
    """Encounter numbers 0, 1, 2, ... in order of appearance (for a subset of rows)."""
    if not len(encounter):
        return encounter
    return np.cumsum(starts_of(encounter)) - 1


@formula
def reduction(ops, visits):
    """E2: each line's ``reduction_factor``, the mean factor of its units.

    Every unit of an ``eligible`` line (multiple-procedure indicator 2, not an add-on) is one
    procedure. The first procedure of the visit by unit fee (the earlier line on ties) keeps 100 %;
    every other one is paid the payer's ``multiple_procedure_factor`` (1.0 when blank). The units of
    one line have the same fee and follow each other in this order, so only the top eligible line's
    first unit keeps 100 %: that line gets ``(1 + (units - 1) x factor) / units``, every other eligible
    line ``factor``, and every other line 1.0.
    """
    factor = visits.head("multiple_procedure_factor")
    seen = ops.fill(factor, False)
    ranked = []
    for eligible, units in zip(visits.ranked("eligible", False), visits.ranked("units", 1), strict=True):
        top = eligible & ops.not_(seen)
        seen = seen | eligible
        ranked.append(ops.where(eligible, ops.where(top, (1.0 + (units - 1) * factor) / units, factor), 1.0))
    visits.store("reduction_factor", ranked)


#: Each status's place in ``STATUS_ORDER`` (``not_applicable`` after them all).
_STATUS_RANK = {status: i for i, status in enumerate(STATUS_ORDER)}
_STATUS_NAMES = (*STATUS_ORDER, "not_applicable")


@formula
def status(ops, visits):
    """E6: ``encounter_pa_status``, the first of ``STATUS_ORDER`` that any line of the visit has
    (``not_applicable`` for ``self_pay``)."""
    for r in visits.parts:
        r["pa_rank"] = ops.each(_pa_rank, r["pa_status"], dtype="int64")
    best = None
    for rank in visits.ranked("pa_rank", len(STATUS_ORDER)):
        best = rank if best is None else ops.minimum(best, rank)
    named = ops.take(_STATUS_NAMES, best)
    visits.spread("encounter_pa_status", ops.where(visits.head("self_pay"), "not_applicable", named))


def _pa_rank(status):
    return _STATUS_RANK.get(status, len(STATUS_ORDER))


#: The figures of a line that a visit totals (E5).
TOTALED = tuple(
    f"{prefix}_{level}" for prefix in ("allowed", "patient", "payer", "balance_billing") for level in LEVELS
)


@formula
def totals(ops, visits):
    """E5: ``encounter_<figure>``, the sum of the visit's lines' rounded figures (in rank order), rounded."""
    if visits.longest == 1:  # visits of one line: their totals are the line's figures
        for name, total in _TOTAL_NAMES:
            visits.spread(total, visits.head(name))
        return
    sums = []
    for name in TOTALED:
        ranked = visits.ranked(name, 0.0)
        total = ranked[0]
        for value in ranked[1:]:
            total = total + value
        sums.append(total)
    for (_, total), value in zip(_TOTAL_NAMES, ops.cents_many(sums), strict=True):
        visits.spread(total, dollars(value))


_TOTAL_NAMES = tuple((name, f"encounter_{name}") for name in TOTALED)


class ArrayVisits:
    """The lines of many visits as one dict of numpy arrays, ``parts[0]``, seen visit by visit: the view
    the formulas of E2-E6 read (:mod:`.pipeline`). ``encounter`` gives each line's visit (0, 1, ...,
    adjacent lines, in line order)."""

    def __init__(self, work, encounter):
        self.parts = [work]
        self.work = work
        self.encounter = encounter
        starts = starts_of(encounter)
        self.single = bool(starts.all())
        self.first = np.flatnonzero(starts)
        self.longest = 1 if self.single else int(np.bincount(encounter).max())

    def rank(self, name):
        """Order each visit's lines by the column ``name``, highest first (equal: the earlier line)."""
        if self.single:
            return
        n = len(self.encounter)
        order = np.lexsort((np.arange(n), -self.work[name], self.encounter))
        starts = starts_of(self.encounter[order])
        place = np.arange(n) - np.maximum.accumulate(np.where(starts, np.arange(n), 0))
        self.rank_of = np.empty(n, dtype=np.int64)
        self.rank_of[order] = place

    def ranked(self, name, pad):
        """Per rank k, the k-th line's ``name`` of every visit (``pad`` where a visit has fewer lines)."""
        values = self.work[name]
        if self.single:
            return [values]
        table = np.full((self.longest, len(self.first)), pad, dtype=values.dtype)
        table[self.rank_of, self.encounter] = values
        return list(table)

    def store(self, name, ranked):
        """Set the column ``name`` from per-rank values (as :meth:`ranked` gives them)."""
        self.work[name] = ranked[0] if self.single else np.vstack(ranked)[self.rank_of, self.encounter]

    def store_many(self, names, ranked):
        """Set the columns ``names`` from per-rank tuples of values (one value per name)."""
        for name, values in zip(names, zip(*ranked, strict=True), strict=True):
            self.store(name, values)

    def head(self, name):
        """Per visit, its first line's ``name`` (the fields its lines share)."""
        values = self.work[name]
        return values if self.single else values[self.first]

    def along(self, per_visit):
        """Per line, its visit's value."""
        return per_visit if self.single else per_visit[self.encounter]

    def spread(self, name, per_visit):
        """Set the column ``name`` of every line to its visit's value."""
        self.work[name] = self.along(per_visit)
