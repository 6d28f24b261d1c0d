"""The estimation pipeline: a frame of requests in, a frame of estimates out (SPEC sections 4 and 7).

Pure pandas and numpy: no web framework, no per-row Python loops. The batch paths call :func:`estimate`
directly; one request (:mod:`.single`) runs the same steps (:mod:`.pipeline`) over Python values. This
module holds what is the batch's own: validation messages per row, how rows are found for many distinct
cases at once, and refusing what cannot be estimated.
"""

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from . import encounters, pipeline, pricing
from .arith import ARRAYS
from .glossary import LEVELS, levels
from .intake import Intake, parse_requests
from .matching import distinct
from .schedules import day_number

#: Per line, when another line of its encounter fails validation (the encounter is estimated whole or not).
OTHER_LINE_INVALID = "Another line of this encounter is invalid, so the encounter is not estimated."

#: The money a batch's columns are computed from (see ``explain``).
BATCH_MONEY = ("allowed", "patient_share", "balance_billing")
#: (The fees and the in-network amount they sum to are whole cents already: ``pricing.apply_reduction``.)
MONEY_PREFIXES = (
    "allowed",
    "patient_share",
    "balance_billing",
    "billed",
    "deductible_part",
    "coinsurance_part",
    "copay_part",
    "cap_reduction",
    "deductible_left",
    "cap_left",
)
#: The columns rounded to cents: every amount of an answer, or only those a batch writes.
MONEY = tuple(column for prefix in MONEY_PREFIXES for column in levels(prefix))
BATCH_MONEY_COLUMNS = tuple(column for prefix in BATCH_MONEY for column in levels(prefix))


@dataclass(frozen=True)
class Estimates:
    """The estimates of a batch of requests, row for row and in order.

    ``columns`` maps every column name to an array with one entry per request: the request echo, every
    intermediate figure (see :func:`estimate`), the answer figures rounded to cents, ``warnings``
    (joined with ``MESSAGE_SEPARATOR``), ``valid`` and ``error`` (``""`` when the row was estimated).
    ``intake`` keeps the per-field validation messages.
    """

    columns: dict
    intake: Intake

    @property
    def frame(self):
        """The columns as a DataFrame (text columns stay object columns: they may hold undecodable bytes)."""
        return pd.DataFrame({name: pd.Series(values, dtype=values.dtype) for name, values in self.columns.items()})

    def row(self, i):
        """Row ``i`` as a dict of plain values."""
        return {name: values[i] for name, values in self.columns.items()}


def estimate(
    raw, schedules, today=None, encounter=None, encounter_problems=None, row_problems=None, explain=True, keep=None
):
    """Estimate every request of ``raw``: each row a line, the lines of one encounter estimated together.

    Parameters
    ----------
    raw : pandas.DataFrame or mapping of column name to sequence
        Requests as text cells, columns named after the request fields (SPEC section 3).
    schedules : Schedules
    today : datetime.date, optional
        The date of service of requests that give none; default the local date.
    encounter : numpy.ndarray of int, optional
        Each row's encounter, the rows of one encounter adjacent and in line order (SPEC section 7);
        default: every row an encounter of one line (a request of section 3).
    encounter_problems : numpy.ndarray of object, optional
        Per row, a message that makes the row's encounter fail (``None``: none), such as the batch's
        shared-field and id checks (:func:`estimator.core.encounters.from_ids`).
    row_problems : numpy.ndarray of object, optional
        Per row, a problem found before intake (a broken CSV row) that makes the row fail.
    explain : bool, default True
        With False (a batch's table), only the figures a batch writes are rounded to cents: the
        allowed amounts, the patient's shares and the balance bills, from which the patient and payer
        figures and the encounter totals follow; the other money columns stay unrounded.
    keep : collection of str, optional
        The computed columns wanted (a batch's few): the others are left out of the answer, not spread over
        the rows that failed. Default: every column.

    Returns
    -------
    Estimates
        Columns per request, among others: ``region_id`` (resolved), ``state``, ``geo_factor``,
        ``modifier_factor``, ``professional_*`` and ``facility_*`` (basis, value, region factor, amounts),
        ``in_network_*`` (``A`` before step 7), ``billed_*``, ``allowed_*``, the benefit figures used,
        ``deductible_part_*``, ``coinsurance_part_*``, ``copay_part_*``, ``cap_reduction_*``,
        ``patient_*``, ``payer_*``, ``balance_billing_*``, ``pa_*``, ``good_faith_estimate``,
        ``reduction_factor``, ``unit_fee``, the encounter's ``encounter_pa_status`` and totals
        ``encounter_allowed_*``, ``encounter_patient_*``, ``encounter_payer_*``,
        ``encounter_balance_billing_*``, ``warning_flags``, ``warnings`` and ``error``.
    """
    today = today or dt.date.today()
    intake = parse_requests(raw, schedules, day_number(today))
    n = intake.size
    encounter = np.arange(n) if encounter is None else np.asarray(encounter, dtype=np.int64)
    for key, problems in (("row", row_problems), ("encounter_id", encounter_problems)):
        if problems is not None and (problems != None).any():  # noqa: E711
            intake.messages[key] = np.asarray(problems, dtype=object)
    valid = ~intake.invalid
    if not valid.all() and not encounters.starts_of(encounter).all():
        whole = np.bincount(encounter, weights=~valid)[encounter] == 0
        if (valid & ~whole).any():
            blocked = np.full(n, None, dtype=object)
            blocked[valid & ~whole] = OTHER_LINE_INVALID
            intake.messages["encounter"] = blocked
            valid &= whole
    result = {name: values[valid] for name, values in intake.columns.items()}
    visits = encounters.ArrayVisits(result, encounters.renumber(encounter[valid]))
    # Bounds at load keep every figure finite; should one not be, the row is refused below, not warned of.
    with np.errstate(over="ignore", invalid="ignore"):
        pipeline.estimate_visits(
            ARRAYS,
            visits,
            _Finder(schedules),
            schedules,
            schedules.arrays,
            today,
            MONEY if explain else BATCH_MONEY_COLUMNS,
        )
    result["encounter"] = visits.encounter
    result, valid = _refuse_unpriced(result, valid, intake)
    result, valid = _refuse_non_finite(result, valid, intake)

    if keep is not None:
        result = {name: values for name, values in result.items() if name in keep}
    columns = result if valid.all() else {name: _expand(values, valid) for name, values in result.items()}
    for name in ("cpt_code", "payer_id", "region_id", "zip", "setting", "network", "modifiers", "units"):
        columns[name] = intake.columns[name]
    columns["date_of_service"] = np.asarray(intake.columns["date_of_service"], dtype="datetime64[D]").astype(str)
    columns["warnings"] = np.where(valid, columns["warnings"], "")
    columns["valid"] = valid
    columns["error"] = intake.error_text()
    return Estimates(columns=columns, intake=intake)


#: The message of a request whose figures the fee schedules make too large to compute (their bounds at
#: load keep this from happening; this is the last guard that no answer ever holds a non-finite number).
NOT_FINITE = "The fee schedules give this request figures too large to compute."
GUARDED = [f"{prefix}_{level}" for prefix in ("allowed", "patient", "payer", "balance_billing") for level in LEVELS]


def no_rate_and_no_range(payer_name, code):
    """Step 2: the message of a code the payer has no rate for and no national range is on file for."""
    return f"No rate of {payer_name} for procedure {code} and no national range is on file, so it cannot be estimated."


def _refuse_unpriced(result, valid, intake):
    """Refuse the lines whose professional fee would fall back on a national range the code does not have
    (a 422 on ``cpt_code``), and the other lines of their encounters."""
    unpriced = pricing.cannot_price(ARRAYS, result)
    if not unpriced.any():
        return result, valid
    encounter = result["encounter"]
    blocked = np.isin(encounter, encounter[unpriced])
    rows = np.flatnonzero(valid)
    codes = np.full(intake.size, None, dtype=object)
    for i in np.flatnonzero(unpriced):
        codes[rows[i]] = no_rate_and_no_range(result["payer_name"][i], result["cpt_code"][i])
    intake.messages["cpt_code"] = _merged(intake.messages.get("cpt_code"), codes)
    others = np.full(intake.size, None, dtype=object)
    others[rows[blocked & ~unpriced]] = OTHER_LINE_INVALID
    intake.messages["encounter"] = _merged(intake.messages.get("encounter"), others)
    return _without(result, valid, blocked)


def _without(result, valid, failing):
    """The result without the lines ``failing`` (a mask over the valid rows), which are no longer valid."""
    n = int(valid.sum())
    keep = ~failing
    result = {k: v[keep] if isinstance(v, np.ndarray) and len(v) == n else v for k, v in result.items()}
    valid = valid.copy()
    valid[np.flatnonzero(valid)[failing]] = False
    return result, valid


def _merged(messages, more):
    """Per row, the messages already there, else the new ones."""
    if messages is None:
        return more
    return np.where(messages != None, messages, more)  # noqa: E711 - elementwise on object arrays


def _refuse_non_finite(result, valid, intake):
    """Turn the valid requests whose figures are not finite into failed ones (``fee_schedules`` message)."""
    finite = np.isfinite(np.vstack([result[column] for column in GUARDED])).all(axis=0)
    if finite.all():
        return result, valid
    messages = np.full(intake.size, None, dtype=object)
    messages[np.flatnonzero(valid)[~finite]] = NOT_FINITE
    intake.messages["fee_schedules"] = messages
    return _without(result, valid, ~finite)


def _expand(values, valid):
    """Spread the values of the valid rows over all rows (None or NaN on invalid rows)."""
    kind = values.dtype.kind
    if kind == "f":
        out = np.full(len(valid), np.nan)
    elif kind in "iub":
        out = np.full(len(valid), None, dtype=object) if not valid.any() else np.zeros(len(valid), values.dtype)
    else:
        out = np.full(len(valid), None, dtype=object)
    out[valid] = values
    return out


class _Finder:
    """How a batch finds its rows: positions by label, and each rate, rule or benefit lookup once per
    distinct case (requests repeat payers, codes, settings, regions and dates)."""

    def __init__(self, schedules):
        self.schedules = schedules

    def place(self, r):
        schedules = self.schedules
        r["procedure_position"] = schedules.positions("procedures", r["procedure_key"])
        r["payer_position"] = schedules.positions("payers", r["payer_id"])
        r["region_position"] = schedules.positions("regions", r["region_id"])
        r["period"] = schedules.period_of(r["date_of_service"])

    def rows(self, r, index, case, meets=(), applies=None):
        n = len(r["period"])
        rows = np.full(n, -1, dtype=np.int64)
        carried = np.zeros(n, dtype=bool)
        subset = np.flatnonzero(applies) if applies is not None and not applies.all() else None
        if subset is not None and not len(subset):
            return rows, carried

        def pick(values):
            values = np.full(n, values, dtype=object) if isinstance(values, str) else values
            return values if subset is None else values[subset]

        fields = index.canonical([pick(v) for v in case])
        period, met = pick(r["period"]), [pick(m) for m in meets]
        group, first = distinct(*fields, period, *met)
        found, was_carried = index.lookup(
            [f[first] for f in fields], self.schedules.period_start(period[first]), [m[first] for m in met]
        )
        if subset is None:
            return found[group], was_carried[group]
        rows[subset], carried[subset] = found[group], was_carried[group]
        return rows, carried
