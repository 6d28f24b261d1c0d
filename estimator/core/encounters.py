"""Encounters: the lines of one visit estimated together (SPEC section 7, E1-E6).

Every function works on all encounters of a batch at once. Lines are rows; ``encounter`` gives each
row's encounter as an integer, the rows of one encounter adjacent and in line order. A request of
section 3 is an encounter of one line and goes through the same functions.
"""

import numpy as np
import pandas as pd

from .glossary import LEVELS

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


def rank(encounter, fee):
    """The order of E2 and E4: by encounter, then unit fee ``F`` highest first, then line order.

    Returns
    -------
    order : numpy.ndarray of int64
        Row positions in that order.
    first : numpy.ndarray of bool
        Per row: the first line of its encounter in that order.
    """
    n = len(encounter)
    order = np.lexsort((np.arange(n), -fee, encounter))
    first = np.zeros(n, dtype=bool)
    first[order[starts_of(encounter[order])]] = True
    return order, first


def reduction(encounter, fee, units, eligible, factor):
    """E2: each line's ``reduction_factor``, the mean factor of its units.

    Every unit of an ``eligible`` line (multiple-procedure indicator 2, not an add-on) is one
    procedure. The first procedure of the encounter by unit fee (the earlier line on ties) keeps 100 %;
    every other one is paid ``factor`` (the payer's ``multiple_procedure_factor``, 1.0 when blank). The
    units of one line have the same fee and follow each other in this order, so only the top line's
    first unit keeps 100 %: that line gets ``(1 + (units - 1) x factor) / units``, every other eligible
    line ``factor``, and every other line 1.0.
    """
    n = len(encounter)
    if not n:
        return np.ones(0)
    # Rank eligible lines alone: the ineligible ones sort after them within each encounter.
    order = np.lexsort((np.arange(n), np.where(eligible, -fee, np.inf), ~eligible, encounter))
    top = np.zeros(n, dtype=bool)
    top[order[starts_of(encounter[order])]] = True
    top &= eligible
    reduced = np.where(top, (1.0 + (units - 1) * factor) / units, factor)
    return np.where(eligible, reduced, 1.0)


def _running(values, order, encounter, single):
    """Per row, the sum of ``values`` over the rows before it in ``order`` within its encounter (a sum of
    those rows, not a difference of running totals, so that no rounding noise creeps in)."""
    if single:
        return np.zeros(len(values))
    ranked = pd.Series(values[order])
    shifted = ranked.groupby(encounter[order]).shift(1, fill_value=0.0)
    before = shifted.groupby(encounter[order]).cumsum().to_numpy()
    out = np.empty(len(values))
    out[order] = before
    return out


def share_costs(encounter, order, first, allowed, balance, benefits, self_pay):
    """E4: the patient's and payer's shares, line by line in the order of ``rank``.

    The deductible and the out-of-pocket cap run across the lines of an encounter; the copay is due
    on its first line. With ``D = min(A, R)`` taken line after line, the deductible paid up to a line
    is ``min(sum of A, R0)``, so each line's part is the difference of two such minimums; the cap works
    the same way on the patient's shares. Benefits are the same for every line of an encounter.

    Returns
    -------
    dict of numpy.ndarray
        Per level: ``deductible_part``, ``coinsurance_part``, ``copay_part``, ``cap_reduction``,
        ``patient_share`` (of ``A``), ``patient`` (balance bill included), ``payer``, and what was left
        before the line: ``deductible_left``, ``cap_left`` (NaN with no cap).
    """
    single = len(encounter) == 0 or bool(starts_of(encounter).all())
    start_deductible = np.maximum(0.0, benefits["deductible"] - benefits["deductible_met"])
    start_cap = np.maximum(0.0, benefits["oop_max"] - benefits["oop_met"])  # NaN where there is no cap
    copay = np.where(first, benefits["copay"], 0.0)
    coinsurance = benefits["coinsurance"]
    capped = ~np.isnan(start_cap)
    out = {}
    for level in LEVELS:
        a = allowed[level]
        before_a = _running(a, order, encounter, single)
        deductible_left = np.maximum(0.0, start_deductible - np.minimum(before_a, start_deductible))
        d = np.minimum(a, deductible_left)
        c = coinsurance * (a - d)
        before_cap = np.minimum(a, copay + d + c)
        before_p = _running(before_cap, order, encounter, single)
        cap_left = np.where(capped, np.maximum(0.0, start_cap - np.minimum(before_p, start_cap)), np.nan)
        p = np.where(capped, np.minimum(before_cap, np.nan_to_num(cap_left)), before_cap)
        p = np.where(self_pay, a, p)
        out[f"deductible_part_{level}"] = np.where(self_pay, 0.0, d)
        out[f"coinsurance_part_{level}"] = np.where(self_pay, 0.0, c)
        out[f"copay_part_{level}"] = np.where(self_pay, 0.0, np.maximum(0.0, before_cap - d - c))
        out[f"cap_reduction_{level}"] = np.where(self_pay, 0.0, before_cap - p)
        out[f"deductible_left_{level}"] = deductible_left
        out[f"cap_left_{level}"] = cap_left
        out[f"patient_share_{level}"] = p
        out[f"patient_{level}"] = p + balance[level]
        out[f"payer_{level}"] = a - p
    return out


def status(encounter, statuses, self_pay):
    """E6: each row's encounter status, the first of ``STATUS_ORDER`` any of its lines has."""
    if not len(encounter):
        return np.zeros(0, dtype=object)
    if starts_of(encounter).all():
        return np.where(self_pay, "not_applicable", statuses)
    priority = {s: i for i, s in enumerate(STATUS_ORDER)}
    rank_of = np.array([priority.get(s, len(STATUS_ORDER)) for s in statuses.tolist()], dtype=np.int64)
    best = np.full(encounter.max() + 1, len(STATUS_ORDER), dtype=np.int64)
    np.minimum.at(best, encounter, rank_of)
    names = np.array([*STATUS_ORDER, "not_applicable"], dtype=object)
    return np.where(self_pay, "not_applicable", names[best[encounter]])


def totals(encounter, values):
    """Per row, the sum of ``values`` over its encounter (E5: sums of the lines' rounded figures)."""
    if not len(encounter):
        return np.zeros(0)
    return np.bincount(encounter, weights=values)[encounter]
