"""The estimation pipeline: a frame of requests in, a frame of estimates out (SPEC section 4).

Pure pandas and numpy: no web framework, no per-row Python loops. The JSON API, the web form, the batch
paths and the command line all call :func:`estimate`.
"""

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from . import pricing
from .cost_sharing import resolve_benefits, share_costs
from .glossary import BENEFIT_FIELDS, LEVELS, MESSAGE_SEPARATOR, levels
from .intake import Intake, parse_requests
from .matching import distinct
from .money import round_cents
from .prior_auth import prior_authorization
from .schedules import day_number

NO_REGION = 1 << 0
DEFAULT_DATE = 1 << 1
BASELINE_FALLBACK = 1 << 2
NO_FACILITY_RATE = 1 << 3
BILATERAL_ONE_SIDE = 1 << 4
OON_NOT_COVERED = 1 << 5
OON_BILLED = 1 << 6
SELF_PAY_IGNORED = 1 << 7
PA_UNKNOWN = 1 << 8
DEFAULTED = {field: 1 << (9 + i) for i, field in enumerate(BENEFIT_FIELDS)}

BENEFIT_NAMES = {
    "deductible": "deductible",
    "coinsurance": "coinsurance",
    "copay": "copay",
    "oop_max": "out-of-pocket maximum",
}

WARNINGS = {
    NO_REGION: "No region or ZIP code given: national prices were used (geographic factor and GPCIs 1.0).",
    DEFAULT_DATE: "No date of service given: the rates and rules in effect on {today} were used.",
    BASELINE_FALLBACK: "This payer has no fee-schedule rate for this code: the professional fee is the "
    "national baseline range.",
    NO_FACILITY_RATE: "No facility fee is on file for this payer and setting: the facility's own bill is "
    "left out of this estimate.",
    BILATERAL_ONE_SIDE: "This code's bilateral billing is paid as one side (bilateral indicator 0).",
    OON_NOT_COVERED: "This plan does not cover out-of-network care: the whole billed charge is the patient's.",
    OON_BILLED: "The out-of-network billed charge is estimated from the national baseline range.",
    SELF_PAY_IGNORED: "Self-pay: network and plan benefits do not apply; the patient pays the whole amount.",
    PA_UNKNOWN: "No prior-authorization rule is on file for this payer, code and setting.",
}

MONEY_PREFIXES = (
    "allowed",
    "patient",
    "payer",
    "balance_billing",
    "billed",
    "in_network",
    "professional",
    "facility",
    "deductible_part",
    "coinsurance_part",
    "copay_part",
    "cap_reduction",
)


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
        """The columns as a DataFrame."""
        return pd.DataFrame(self.columns)

    def row(self, i):
        """Row ``i`` as a dict of plain values."""
        return {name: values[i] for name, values in self.columns.items()}


def estimate(raw, schedules, today=None):
    """Estimate every request of ``raw``.

    Parameters
    ----------
    raw : pandas.DataFrame or mapping of column name to sequence
        Requests as text cells, columns named after the request fields (SPEC section 3).
    schedules : Schedules
    today : datetime.date, optional
        The date of service of requests that give none; default the local date.

    Returns
    -------
    Estimates
        Columns per request, among others: ``region_id`` (resolved), ``state``, ``geo_factor``,
        ``modifier_factor``, ``professional_*`` and ``facility_*`` (basis, value, region factor, amounts),
        ``in_network_*`` (``A`` before step 7), ``billed_*``, ``allowed_*``, the benefit figures used,
        ``deductible_part_*``, ``coinsurance_part_*``, ``copay_part_*``, ``cap_reduction_*``,
        ``patient_*``, ``payer_*``, ``balance_billing_*``, ``pa_*``, ``good_faith_estimate``,
        ``warning_flags``, ``warnings`` and ``error``.
    """
    today = today or dt.date.today()
    intake = parse_requests(raw, schedules, day_number(today))
    valid = ~intake.invalid
    requests = {name: values[valid] for name, values in intake.columns.items()}
    work = _context(requests, schedules)

    # Bounds at load keep every figure finite; should one not be, the row is refused below, not warned of.
    with np.errstate(over="ignore", invalid="ignore"):
        professional = pricing.price_component(work, schedules, "professional")
        facility = pricing.price_component(work, schedules, "facility")
        in_network = {level: professional[f"professional_{level}"] + facility[f"facility_{level}"] for level in LEVELS}
        oon = pricing.out_of_network(work, in_network)
        benefits = resolve_benefits(work, schedules)
        benefits.update(deductible_met=work["deductible_met"], oop_met=work["oop_met"])
        allowed = {level: oon[f"allowed_{level}"] for level in LEVELS}
        balance = {level: oon[f"balance_billing_{level}"] for level in LEVELS}
        shares = share_costs(allowed, balance, benefits, work["self_pay"])
        auth = prior_authorization(work, schedules)

        result = {
            **work,
            **professional,
            **facility,
            **{f"in_network_{level}": amount for level, amount in in_network.items()},
            **oon,
            **benefits,
            **shares,
            **auth,
        }
        result["warning_flags"] = _warning_flags(result)
        result["warnings"] = _warning_text(result, today)
        result["good_faith_estimate"] = result["self_pay"]
        money = [column for prefix in MONEY_PREFIXES for column in levels(prefix)]
        rounded = round_cents(np.vstack([result[column] for column in money]))
        for i, column in enumerate(money):
            result[column] = rounded[i]
    result, valid = _refuse_non_finite(result, valid, intake)

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


def _refuse_non_finite(result, valid, intake):
    """Turn the valid requests whose figures are not finite into failed ones (``fee_schedules`` message)."""
    finite = np.isfinite(np.vstack([result[column] for column in GUARDED])).all(axis=0)
    if finite.all():
        return result, valid
    n = int(valid.sum())
    result = {k: v[finite] if isinstance(v, np.ndarray) and len(v) == n else v for k, v in result.items()}
    failed = np.flatnonzero(valid)[~finite]
    messages = np.full(intake.size, None, dtype=object)
    messages[failed] = NOT_FINITE
    intake.messages["fee_schedules"] = messages
    valid = valid.copy()
    valid[failed] = False
    return result, valid


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


def _context(requests, schedules):
    """Join what each request needs from the procedure, payer and region files."""
    p = schedules.positions("procedures", requests["cpt_code"])
    y = schedules.positions("payers", requests["payer_id"])
    r = schedules.positions("regions", requests["region_id"])
    procedures, payers, regions = (schedules.arrays[t] for t in ("procedures", "payers", "regions"))
    has_region = r >= 0
    r = np.maximum(r, 0)
    work = dict(requests)
    for column in (
        "description",
        "baseline_low",
        "baseline_typical",
        "baseline_high",
        "bilateral_indicator",
        "work_rvu",
        "pe_rvu_nonfacility",
        "pe_rvu_facility",
        "mp_rvu",
    ):
        work[column] = procedures[column][p]
    pe = np.where(work["setting"] == "office", work["pe_rvu_nonfacility"], work["pe_rvu_facility"])
    work["has_rvu"] = ~(np.isnan(work["work_rvu"]) | np.isnan(pe) | np.isnan(work["mp_rvu"]))
    work["payer_position"] = y
    work["payer_kind"] = payers["kind"][y]
    work["self_pay"] = work["payer_kind"] == "self_pay"
    work["oon_factor"] = payers["oon_factor"][y]
    work["balance_billing"] = payers["balance_billing"][y].astype(bool)
    work["state"] = np.where(has_region, regions["state"][r], "")
    work["region_name"] = np.where(has_region, regions["name"][r], "")
    for column in ("geo_factor", "gpci_work", "gpci_pe", "gpci_mp"):
        work[column] = np.where(has_region, regions[column][r], 1.0)
    work["period"] = schedules.period_of(requests["date_of_service"])
    work["modifier_factor"] = pricing.modifier_factor(work)
    return work


def _warning_flags(r):
    """One integer of warning bits per row."""
    self_pay = r["self_pay"]
    conditions = {
        NO_REGION: r["region_id"] == "",
        DEFAULT_DATE: ~r["date_given"],
        BASELINE_FALLBACK: r["professional_fallback"],
        NO_FACILITY_RATE: pricing.in_facility(r["setting"]) & ~r["facility_priced"],
        BILATERAL_ONE_SIDE: r["bilateral"] & (r["bilateral_indicator"] == 0),
        OON_NOT_COVERED: r["oon_applied"] & ~r["oon_covered"],
        OON_BILLED: r["oon_applied"],
        PA_UNKNOWN: r["pa_status"] == "unknown",
    }
    benefits_given = np.zeros(len(self_pay), dtype=bool)
    for field, bit in DEFAULTED.items():
        conditions[bit] = r[f"defaulted_{field}"] & ~self_pay
        benefits_given |= ~r[f"defaulted_{field}"]
    conditions[SELF_PAY_IGNORED] = self_pay & ((r["network"] == "out") | benefits_given)
    flags = np.zeros(len(self_pay), dtype="int64")
    for bit, mask in conditions.items():
        flags |= np.where(mask, bit, 0)
    return flags


def _warning_text(r, today):
    """Warning messages per row, built once per distinct combination of flags and rate notes."""
    group, first = distinct(r["warning_flags"], r["professional_note"], r["facility_note"])
    texts = [
        MESSAGE_SEPARATOR.join(_messages(flags, (p_note, f_note), today))
        for flags, p_note, f_note in zip(
            r["warning_flags"][first], r["professional_note"][first], r["facility_note"][first], strict=True
        )
    ]
    return np.asarray(texts, dtype=object)[group] if len(group) else np.zeros(0, dtype=object)


def _messages(flags, notes, today):
    out = [text.format(today=today.isoformat()) for bit, text in WARNINGS.items() if flags & bit]
    defaulted = [BENEFIT_NAMES[f] for f, bit in DEFAULTED.items() if flags & bit]
    if defaulted:
        out.append(
            f"Not given, so the payer's default was used: {', '.join(defaulted)}. Enter your own plan's "
            "figures for a closer estimate."
        )
    out.extend(note for note in notes if note)
    return out
