"""Warnings: every assumption an estimate makes, in words (SPEC sections 4 and 7), over the numbers of
:mod:`.arith`."""

import datetime as dt
import functools

from .arith import formula
from .glossary import BENEFIT_FIELDS, MESSAGE_SEPARATOR
from .pricing import in_facility

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
SELF_PAY_BASELINE = 1 << 14
OON_BILLED_UNKNOWN = 1 << 15
RARE_SETTING = 1 << 16

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
    SELF_PAY_BASELINE: "Self-pay price from the national baseline range for this code, scaled to the area: not a "
    "price list of this clinic. Ask the clinic for its own self-pay price.",
    NO_FACILITY_RATE: "No facility fee is on file for this payer and setting: the facility's own bill is "
    "left out of this estimate.",
    BILATERAL_ONE_SIDE: "This code's bilateral billing is paid as one side (bilateral indicator 0).",
    OON_NOT_COVERED: "This plan does not cover out-of-network care: the whole billed charge is the patient's.",
    OON_BILLED: "The out-of-network billed charge is estimated from the national baseline range.",
    SELF_PAY_IGNORED: "Self-pay: network and plan benefits do not apply; the patient pays the whole amount.",
    PA_UNKNOWN: "No prior-authorization rule is on file for this payer, code and setting.",
    OON_BILLED_UNKNOWN: "No national range is on file for this code, so the out-of-network billed charge, and "
    "any balance bill, could not be estimated: the balance bill is shown as $0.00 and may be more.",
    RARE_SETTING: "Medicare's fee schedule marks this service as rarely or never done in this setting: its "
    "practice-expense figures here are those of the other setting.",
    MULTIPLE_REDUCED: "Paid at a reduced rate as a further procedure of the visit (multiple-procedure reduction).",
}

_EPOCH = dt.date(1970, 1, 1).toordinal()


def iso(day):
    """The ISO date of a day number."""
    return dt.date.fromordinal(int(day) + _EPOCH).isoformat()


def carried_rate(payer_name, day, end):
    """Step 2: the professional rate in effect until ``end`` is carried forward to ``day``."""
    return f"No rate of {payer_name} is on file for {iso(day)}: the rate in effect until {iso(end)} is used."


def carried_facility_rate(payer_name, day, end):
    """Step 2: the facility rate in effect until ``end`` is carried forward to ``day``."""
    return (
        f"No facility rate of {payer_name} is on file for {iso(day)}: the facility rate in effect until "
        f"{iso(end)} is used."
    )


def carried_benefits(payer_name, day, end):
    """Step 2: the payer's benefit figures in effect until ``end`` are carried forward to ``day``."""
    return (
        f"No benefit figures of {payer_name} are on file for {iso(day)}: those in effect until {iso(end)} are used "
        "where you gave none."
    )


def addon_without_primary(code, primaries):
    """E: an add-on code billed without any of its primary codes."""
    return f"Add-on code {code} is billed with {' or '.join(primaries.split())}, which this visit does not include."


@formula
def addon_notes(ops, visits, procedures, pairs):
    """Per line, ``addon_note``: the warning of an add-on code whose visit has none of its primary codes.

    ``pairs`` holds ``add-on position x len(procedures) + primary position`` for every add-on code on
    file and each of its primary codes (positions in ``procedures``, whose last row is the absent one).
    """
    size = len(procedures["cpt_code"])
    codes = visits.ranked("procedure_position", -1)
    for r in visits.parts:
        position = r["procedure_position"]
        addon = r["addon_to"] != ""
        note = ops.fill(position, "")
        if ops.any(addon):
            has_primary = ops.fill(position, False)
            for code in codes:
                has_primary = has_primary | ops.isin(position * size + visits.along(code), pairs)
            missing = addon & ops.not_(has_primary)
            note = ops.where(missing, ops.each(addon_without_primary, r["cpt_code"], r["addon_to"]), "")
        r["addon_note"] = note


def global_visit_note(visit, procedure, days):
    """Section 11: an E/M visit billed with a procedure of a 0- or 10-day global period, without modifier 25."""
    return (
        f"Visit {visit} is on the day of procedure {procedure}, which has a {days}-day global period: the visit is "
        "usually paid as part of the procedure unless it is significant and separately identifiable (modifier 25 "
        "on the visit)."
    )


def _without_25(modifiers):
    return "25" not in modifiers.split()


@formula
def global_notes(ops, visits):
    """Per line, ``global_note``: the warning of an E/M visit (99202-99215) without modifier 25 whose visit
    has a procedure of a 0- or 10-day global period (the first such procedure in fee order is named)."""
    found = code = days = None
    for flag, line_code, line_days in zip(
        visits.ranked("short_global", False),
        visits.ranked("cpt_code", ""),
        visits.ranked("global_days", ""),
        strict=True,
    ):
        if found is None:
            found, code, days = flag, ops.where(flag, line_code, ""), ops.where(flag, line_days, "")
        else:
            code = ops.where(found, code, ops.where(flag, line_code, ""))
            days = ops.where(found, days, ops.where(flag, line_days, ""))
            found = found | flag
    for r in visits.parts:
        applies = r["is_visit"] & visits.along(found)
        note = ops.fill(r["cpt_code"], "")
        if ops.any(applies):
            applies = applies & ops.each(_without_25, r["modifiers"], dtype=bool)
            note = ops.where(
                applies, ops.each(global_visit_note, r["cpt_code"], visits.along(code), visits.along(days)), ""
            )
        r["global_note"] = note


@formula
def carried_notes(ops, r):
    """Per line, the warnings of what step 2 carried forward: ``carried_notes`` (text, or "")."""
    notes = []
    for flag, end, message in (
        ("professional_carried", "professional_rate_end", carried_rate),
        ("facility_carried", "facility_rate_end", carried_facility_rate),
        ("benefits_carried", "benefits_end", carried_benefits),
    ):
        carried = r[flag]
        if ops.any(carried):
            notes.append(ops.each(_if_carried(message), carried, r["payer_name"], r["date_of_service"], r[end]))
    joined = ops.fill(r["self_pay"], "")
    for note in notes:
        joined = ops.each(_join, joined, note)
    r["carried_notes"] = joined


def _if_carried(message):
    return lambda carried, *values: message(*values) if carried else ""


def _join(*texts):
    return MESSAGE_SEPARATOR.join(t for t in texts if t)


@formula
def warning_flags(ops, r):
    """Per line, ``warning_flags``: one integer of the warning bits above."""
    self_pay = r["self_pay"]
    conditions = {
        NO_REGION: r["region_id"] == "",
        DEFAULT_DATE: ops.not_(r["date_given"]),
        BASELINE_FALLBACK: r["professional_fallback"],
        SELF_PAY_BASELINE: self_pay & (r["professional_basis"] == "baseline") & ops.not_(r["professional_fallback"]),
        NO_FACILITY_RATE: in_facility(r["setting"]) & ops.not_(r["facility_priced"]),
        BILATERAL_ONE_SIDE: r["bilateral"] & (r["bilateral_indicator"] == 0),
        OON_NOT_COVERED: r["oon_applied"] & ops.not_(r["oon_covered"]),
        OON_BILLED: r["oon_applied"] & ops.not_(r["oon_billed_unknown"]),
        OON_BILLED_UNKNOWN: r["oon_billed_unknown"],
        RARE_SETTING: ops.where(r["setting"] == "office", r["pe_nonfacility_na"], r["pe_facility_na"]),
        PA_UNKNOWN: r["pa_status"] == "unknown",
        MULTIPLE_REDUCED: r["reduction_factor"] < 1,
    }
    benefits_given = ops.fill(self_pay, False)
    for field, bit in DEFAULTED.items():
        defaulted = r[f"defaulted_{field}"]
        conditions[bit] = defaulted & ops.not_(self_pay)
        benefits_given = benefits_given | ops.not_(defaulted)
    conditions[SELF_PAY_IGNORED] = self_pay & ((r["network"] == "out") | benefits_given)
    flags = ops.fill(self_pay, 0)
    for bit, holds in conditions.items():
        flags = flags | ops.where(holds, bit, 0)
    r["warning_flags"] = flags


@formula
def warning_text(ops, r, today):
    """Per line, ``warnings``: the messages of its flags and notes, joined by ``MESSAGE_SEPARATOR``."""
    r["warnings"] = ops.each(
        lambda flags, *notes: _text(flags, notes, today),
        r["warning_flags"],
        r["carried_notes"],
        r["professional_note"],
        r["facility_note"],
        r["addon_note"],
        r["global_note"],
    )


@functools.lru_cache(maxsize=4096)
def _text(flags, notes, today):
    return MESSAGE_SEPARATOR.join(messages(flags, notes, today))


def messages(flags, notes, today):
    """The messages of one line's warning bits, then its notes (rate notes, carried rates, add-ons)."""
    out = [text for bit, text in WARNINGS.items() if flags & bit]
    if flags & DEFAULT_DATE:
        out[0 if flags & NO_REGION == 0 else 1] = WARNINGS[DEFAULT_DATE].format(today=today.isoformat())
    defaulted = [BENEFIT_NAMES[f] for f, bit in DEFAULTED.items() if flags & bit]
    if defaulted:
        out.append(
            f"Not given, so the payer's default was used: {', '.join(defaulted)}. Enter your own plan's "
            "figures for a closer estimate."
        )
    out.extend(note for note in notes if note)
    return out
