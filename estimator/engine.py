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
from .money import round_cents
from .prior_auth import prior_authorization

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
    """The estimates of a frame of requests, row for row and in order.

    ``frame`` holds the request echo, every intermediate figure (see :func:`estimate`), the answer
    figures rounded to cents, ``warnings`` (joined with ``MESSAGE_SEPARATOR``) and ``error`` (``""``
    when the row was estimated). ``intake`` keeps the per-field validation messages.
    """

    frame: pd.DataFrame
    intake: Intake


def day_number(day):
    """Day number (days since 1970-01-01) of a ``datetime.date``."""
    return int(np.datetime64(day, "D").astype("int64"))


def estimate(raw, schedules, today=None):
    """Estimate every request of ``raw``.

    Parameters
    ----------
    raw : pandas.DataFrame
        Requests as text cells, columns named after the request fields (SPEC section 3).
    schedules : Schedules
    today : datetime.date, optional
        The date of service of requests that give none; default the local date.

    Returns
    -------
    Estimates
        Columns added per request, among others: ``region_id`` (resolved), ``state``, ``geo_factor``,
        ``modifier_factor``, ``professional_*`` and ``facility_*`` (basis, value, region factor, amounts),
        ``in_network_*`` (``A`` before step 7), ``billed_*``, ``allowed_*``, the benefit figures used,
        ``deductible_part_*``, ``coinsurance_part_*``, ``copay_part_*``, ``cap_reduction_*``,
        ``patient_*``, ``payer_*``, ``balance_billing_*``, ``pa_*``, ``good_faith_estimate``,
        ``warning_flags``, ``warnings`` and ``error``.
    """
    today = today or dt.date.today()
    raw = raw.reset_index(drop=True)
    intake = parse_requests(raw, schedules, day_number(today))
    valid = ~intake.invalid
    work = _context(intake.frame.loc[valid], schedules)

    professional = pricing.price_component(work, schedules, "professional")
    facility = pricing.price_component(work, schedules, "facility")
    in_network = {
        level: professional[f"professional_{level}"].to_numpy() + facility[f"facility_{level}"].to_numpy()
        for level in LEVELS
    }
    oon = pricing.out_of_network(work, in_network)
    benefits = resolve_benefits(work, schedules)
    benefits = benefits.assign(deductible_met=work["deductible_met"], oop_met=work["oop_met"])
    allowed = {level: oon[f"allowed_{level}"].to_numpy() for level in LEVELS}
    balance = {level: oon[f"balance_billing_{level}"].to_numpy() for level in LEVELS}
    shares = share_costs(allowed, balance, benefits, work["self_pay"].to_numpy())
    auth = prior_authorization(work, schedules)

    result = pd.concat(
        [
            work.drop(columns=[*BENEFIT_FIELDS, "deductible_met", "oop_met"]),
            professional,
            facility,
            pd.DataFrame({f"in_network_{k}": v for k, v in in_network.items()}, index=work.index),
            oon,
            benefits,
            shares,
            auth,
        ],
        axis=1,
    )
    result["warning_flags"] = _warning_flags(result)
    result["warnings"] = _warning_text(result, today)
    result["good_faith_estimate"] = result["self_pay"]
    for prefix in MONEY_PREFIXES:
        for column in levels(prefix):
            result[column] = round_cents(result[column])

    frame = result.reindex(intake.frame.index)
    frame["valid"] = valid
    for column in ("cpt_code", "payer_id", "zip", "setting", "network", "modifiers", "units"):
        frame[column] = intake.frame[column]
    frame["region_id"] = frame["region_id"].where(valid, intake.frame["region_id"])
    frame["date_of_service"] = np.asarray(intake.frame["date_of_service"], dtype="datetime64[D]").astype(str)
    frame["warnings"] = frame["warnings"].fillna("")
    frame["error"] = intake.error_text()
    return Estimates(frame=frame, intake=intake)


def _context(requests, schedules):
    """Join what each request needs from the procedure, payer and region files."""
    procedures = schedules.procedures.reindex(requests["cpt_code"])
    payers = schedules.payers.reindex(requests["payer_id"])
    regions = schedules.regions.reindex(requests["region_id"])
    setting = requests["setting"].to_numpy()
    pe = np.where(setting == "office", procedures["pe_rvu_nonfacility"], procedures["pe_rvu_facility"])
    work = requests.assign(
        description=procedures["description"].to_numpy(),
        baseline_low=procedures["baseline_low"].to_numpy(),
        baseline_typical=procedures["baseline_typical"].to_numpy(),
        baseline_high=procedures["baseline_high"].to_numpy(),
        bilateral_indicator=procedures["bilateral_indicator"].to_numpy(),
        work_rvu=procedures["work_rvu"].to_numpy(),
        pe_rvu_nonfacility=procedures["pe_rvu_nonfacility"].to_numpy(),
        pe_rvu_facility=procedures["pe_rvu_facility"].to_numpy(),
        mp_rvu=procedures["mp_rvu"].to_numpy(),
        has_rvu=~(
            np.isnan(procedures["work_rvu"].to_numpy()) | np.isnan(pe) | np.isnan(procedures["mp_rvu"].to_numpy())
        ),
        payer_kind=payers["kind"].to_numpy(),
        self_pay=(payers["kind"] == "self_pay").to_numpy(),
        oon_factor=payers["oon_factor"].to_numpy(),
        balance_billing=payers["balance_billing"].to_numpy(bool),
        state=regions["state"].fillna("").to_numpy(),
        region_name=regions["name"].fillna("").to_numpy(),
        geo_factor=regions["geo_factor"].fillna(1.0).to_numpy(),
        gpci_work=regions["gpci_work"].fillna(1.0).to_numpy(),
        gpci_pe=regions["gpci_pe"].fillna(1.0).to_numpy(),
        gpci_mp=regions["gpci_mp"].fillna(1.0).to_numpy(),
        period=schedules.period_of(requests["date_of_service"].to_numpy()),
    )
    return work.assign(modifier_factor=pricing.modifier_factor(work))


def _warning_flags(r):
    """One integer of warning bits per row."""
    self_pay = r["self_pay"].to_numpy(bool)
    benefits_given = np.zeros(len(r), dtype=bool)
    flags = np.zeros(len(r), dtype="int64")

    def flag(bit, mask):
        nonlocal flags
        flags = flags | np.where(np.asarray(mask, dtype=bool), bit, 0)

    flag(NO_REGION, r["region_id"] == "")
    flag(DEFAULT_DATE, ~r["date_given"].to_numpy(bool))
    flag(BASELINE_FALLBACK, r["professional_fallback"])
    flag(NO_FACILITY_RATE, r["setting"].isin(pricing.FACILITY_SETTINGS).to_numpy() & ~r["facility_priced"])
    flag(BILATERAL_ONE_SIDE, r["bilateral"].to_numpy(bool) & (r["bilateral_indicator"] == 0).to_numpy())
    flag(OON_NOT_COVERED, r["oon_applied"].to_numpy(bool) & ~r["oon_covered"].to_numpy(bool))
    flag(OON_BILLED, r["oon_applied"])
    for field, bit in DEFAULTED.items():
        flag(bit, r[f"defaulted_{field}"].to_numpy(bool) & ~self_pay)
        benefits_given |= ~r[f"defaulted_{field}"].to_numpy(bool)
    flag(SELF_PAY_IGNORED, self_pay & ((r["network"] == "out").to_numpy() | benefits_given))
    flag(PA_UNKNOWN, r["pa_status"] == "unknown")
    return flags


def _warning_text(r, today):
    """Warning messages per row, built once per distinct combination of flags and rate notes."""
    keys = pd.MultiIndex.from_arrays(
        [r["warning_flags"].to_numpy(), r["professional_note"].to_numpy(object), r["facility_note"].to_numpy(object)]
    )
    codes, combos = keys.factorize()
    texts = [MESSAGE_SEPARATOR.join(_messages(flags, notes, today)) for flags, *notes in combos]
    return np.asarray(texts + [""], dtype=object)[codes]


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
