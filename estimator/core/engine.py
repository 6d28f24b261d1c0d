"""The estimation pipeline: a frame of requests in, a frame of estimates out (SPEC section 4).

Pure pandas and numpy: no web framework, no per-row Python loops. The JSON API, the web form, the batch
paths and the command line all call :func:`estimate`.
"""

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from . import encounters, pricing
from .cost_sharing import resolve_benefits
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
MULTIPLE_REDUCED = 1 << 13

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
    MULTIPLE_REDUCED: "Paid at a reduced rate as a further procedure of the visit (multiple-procedure reduction).",
}

#: Per line, when another line of its encounter fails validation (the encounter is estimated whole or not).
OTHER_LINE_INVALID = "Another line of this encounter is invalid, so the encounter is not estimated."

#: The money a batch's columns are computed from (see ``explain``).
BATCH_MONEY = ("allowed", "patient_share", "balance_billing")
MONEY_PREFIXES = (
    "allowed",
    "patient_share",
    "balance_billing",
    "billed",
    "in_network",
    "professional",
    "facility",
    "deductible_part",
    "coinsurance_part",
    "copay_part",
    "cap_reduction",
    "deductible_left",
    "cap_left",
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
        """The columns as a DataFrame (text columns stay object columns: they may hold undecodable bytes)."""
        return pd.DataFrame({name: pd.Series(values, dtype=values.dtype) for name, values in self.columns.items()})

    def row(self, i):
        """Row ``i`` as a dict of plain values."""
        return {name: values[i] for name, values in self.columns.items()}


def estimate(raw, schedules, today=None, encounter=None, encounter_problems=None, row_problems=None, explain=True):
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
    requests = {name: values[valid] for name, values in intake.columns.items()}
    work = _context(requests, schedules)
    line_encounter = encounters.renumber(encounter[valid])

    # Bounds at load keep every figure finite; should one not be, the row is refused below, not warned of.
    with np.errstate(over="ignore", invalid="ignore"):
        professional = pricing.price_component(work, schedules, "professional")
        facility = pricing.price_component(work, schedules, "facility")
        # E1-E2: the unit fee ranks the lines; the multiple-procedure reduction scales both components.
        fee = (professional["professional_expected"] + facility["facility_expected"]) / work["units"]
        eligible = (work["multiple_procedure_indicator"] == 2) & (work["addon_to"] == "")
        factor = encounters.reduction(line_encounter, fee, work["units"], eligible, work["multiple_procedure_factor"])
        for component in (professional, facility):
            for key in [k for k in component if k.rsplit("_", 1)[-1] in LEVELS]:
                component[key] = component[key] * factor
        in_network = {level: professional[f"professional_{level}"] + facility[f"facility_{level}"] for level in LEVELS}
        oon = pricing.out_of_network(work, in_network)  # E3: the billed charge is not reduced
        benefits = resolve_benefits(work, schedules)
        benefits.update(deductible_met=work["deductible_met"], oop_met=work["oop_met"])
        allowed = {level: oon[f"allowed_{level}"] for level in LEVELS}
        balance = {level: oon[f"balance_billing_{level}"] for level in LEVELS}
        order, first = encounters.rank(line_encounter, fee)
        shares = encounters.share_costs(line_encounter, order, first, allowed, balance, benefits, work["self_pay"])
        auth = prior_authorization(work, schedules)
        auth["encounter_pa_status"] = encounters.status(line_encounter, auth["pa_status"], work["self_pay"])

        result = {
            **work,
            **professional,
            **facility,
            **{f"in_network_{level}": amount for level, amount in in_network.items()},
            **oon,
            **benefits,
            **shares,
            **auth,
            "encounter": line_encounter,
            "unit_fee": fee,
            "reduction_factor": factor,
        }
        result["addon_note"] = _addon_notes(result, schedules)
        result["warning_flags"] = _warning_flags(result)
        result["warnings"] = _warning_text(result, today)
        result["good_faith_estimate"] = result["self_pay"]
        money = [column for prefix in (MONEY_PREFIXES if explain else BATCH_MONEY) for column in levels(prefix)]
        rounded = round_cents(np.vstack([result[column] for column in money]))
        for i, column in enumerate(money):
            result[column] = rounded[i]
        # Step 10 and E5: the shown figures add up to the cent, line by line and over the encounter.
        shares = [result[f"patient_share_{level}"] for level in LEVELS]
        sums = round_cents(
            np.vstack(
                [share + result[f"balance_billing_{level}"] for share, level in zip(shares, LEVELS, strict=True)]
                + [result[f"allowed_{level}"] - share for share, level in zip(shares, LEVELS, strict=True)]
            )
        )
        for i, level in enumerate(LEVELS):
            result[f"patient_{level}"], result[f"payer_{level}"] = sums[i], sums[len(LEVELS) + i]
        prefixes = ("allowed", "patient", "payer", "balance_billing")
        totals = [f"{prefix}_{level}" for prefix in prefixes for level in LEVELS]
        if encounters.starts_of(line_encounter).all():  # visits of one line: their totals are the line
            for name in totals:
                result[f"encounter_{name}"] = result[name]
        else:
            summed = round_cents(np.vstack([encounters.totals(line_encounter, result[name]) for name in totals]))
            for i, name in enumerate(totals):
                result[f"encounter_{name}"] = summed[i]
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
    work["payer_name"] = payers["name"][y]
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
    work["procedure_position"] = p
    work["multiple_procedure_indicator"] = procedures["multiple_procedure_indicator"][p]
    work["addon_to"] = procedures["addon_to"][p]
    work["multiple_procedure_factor"] = np.nan_to_num(payers["multiple_procedure_factor"][y], nan=1.0)
    return work


def _addon_notes(r, schedules):
    """Per line, a warning for an add-on code whose encounter has none of its primary codes."""
    notes = np.full(len(r["addon_to"]), "", dtype=object)
    addon = r["addon_to"] != ""
    if not addon.any():
        return notes
    # Which codes each encounter has: one boolean per encounter and code on file.
    present = np.zeros((int(r["encounter"].max()) + 1, len(schedules.procedures)), dtype=bool)
    present[r["encounter"], r["procedure_position"]] = True
    for code in np.unique(r["cpt_code"][addon]).tolist():  # one pass per add-on code on file, not per line
        rows = np.flatnonzero(r["cpt_code"] == code)
        primaries = r["addon_to"][rows[0]].split()
        positions = schedules.positions("procedures", primaries)
        has_primary = present[np.ix_(r["encounter"][rows], positions[positions >= 0])].any(axis=1)
        notes[rows[~has_primary]] = (
            f"Add-on code {code} is billed with {' or '.join(primaries)}, which this visit does not include."
        )
    return notes


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
        MULTIPLE_REDUCED: r["reduction_factor"] < 1,
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
    notes = (r["professional_note"], r["facility_note"], r["addon_note"])
    group, first = distinct(r["warning_flags"], *notes)
    texts = [
        MESSAGE_SEPARATOR.join(_messages(flags, line_notes, today))
        for flags, *line_notes in zip(r["warning_flags"][first], *(note[first] for note in notes), strict=True)
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
