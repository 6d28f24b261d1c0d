"""Turn estimated rows into the answers of SPEC sections 5 and 7, with their plain-language explanations."""

import functools
import math

from .glossary import CRD_CODES, GOOD_FAITH_NOTICE, MESSAGE_SEPARATOR, SETTING_WORDS, STATUS_WORDS, levels
from .notices import iso


def _levels(row, prefix):
    low, expected, high = _LEVEL_NAMES[prefix]
    return {"low": float(row[low]), "expected": float(row[expected]), "high": float(row[high])}


#: The figures an answer gives per level, by prefix.
_LEVEL_NAMES = {
    prefix: levels(prefix)
    for prefix in (
        "allowed",
        "patient",
        "payer",
        "balance_billing",
        "professional",
        "facility",
        "deductible_part",
        "coinsurance_part",
        "copay_part",
        "cap_reduction",
        "in_network",
        "billed",
        "encounter_allowed",
        "encounter_patient",
        "encounter_payer",
        "encounter_balance_billing",
    )
}


@functools.lru_cache(maxsize=8192)
def _money(x):
    return f"${x:,.2f}"


def _number(x):
    return f"{x:g}"


def to_answer(row, schedules):
    """The JSON-ready answer for one valid estimate row (a mapping of the engine's columns)."""
    answer = {
        "cpt_code": row["cpt_code"],
        "description": row["description"],
        **_place(row, schedules),
        "modifiers": row["modifiers"].split(),
        "units": int(row["units"]),
        "date_of_service": row["date_of_service"],
        "baseline_range": _baseline(row),
        **_figures(row),
        "good_faith_estimate": bool(row["good_faith_estimate"]),
        "warnings": _warnings(row),
        "carried_forward": _carried(row),
        "explanation": explain(row),
    }
    if answer["good_faith_estimate"]:
        answer["good_faith_notice"] = GOOD_FAITH_NOTICE
    return answer


def _place(row, schedules):
    """Who pays and where: the fields a visit's lines share."""
    return {
        "payer_id": row["payer_id"],
        "payer_name": row["payer_name"],
        "region_id": row["region_id"] or None,
        "region_name": row["region_name"] or None,
        "zip": row["zip"] or None,
        "setting": row["setting"],
        "network": row["network"],
    }


def _figures(row):
    """A line's money, its components, its reduction, its cost sharing and its prior authorization."""
    components = [_component(row, "professional")]
    if row["facility_priced"]:
        components.append(_component(row, "facility"))
    return {
        "allowed_amount": _levels(row, "allowed"),
        "patient_responsibility": _levels(row, "patient"),
        "payer_responsibility": _levels(row, "payer"),
        "balance_billing": _levels(row, "balance_billing"),
        "components": components,
        "reduction_factor": float(row["reduction_factor"]),
        "cost_sharing": _cost_sharing(row),
        "prior_authorization": _prior_authorization(row),
    }


def _baseline(row):
    """The code's national range, or None where none is on file."""
    if math.isnan(row["baseline_typical"]):
        return None
    return {
        "low": float(row["baseline_low"]),
        "expected": float(row["baseline_typical"]),
        "high": float(row["baseline_high"]),
    }


def _prior_authorization(row):
    return {
        "status": row["pa_status"],
        "crd_code": row["pa_crd_code"] if isinstance(row["pa_crd_code"], str) else None,
        "reason": row["pa_reason"],
        "documentation": row["pa_documentation"] or None,
        "source": row["pa_source"] or None,
    }


def _warnings(row):
    return row["warnings"].split(MESSAGE_SEPARATOR) if row["warnings"] else []


def _carried(row):
    """The warnings of the rates and benefit figures carried forward past their last day (also in warnings)."""
    return row["carried_notes"].split(MESSAGE_SEPARATOR) if row["carried_notes"] else []


def to_encounter_answer(rows, schedules):
    """The JSON-ready answer of SPEC section 7 for the rows (lines, in order) of one valid encounter."""
    head = rows[0]
    lines = [
        {
            "line": i,
            "cpt_code": row["cpt_code"],
            "description": row["description"],
            "modifiers": row["modifiers"].split(),
            "units": int(row["units"]),
            "baseline_range": _baseline(row),
            **_figures(row),
            "warnings": _warnings(row),
            "carried_forward": _carried(row),
            "explanation": explain(row),
        }
        for i, row in enumerate(rows, start=1)
    ]
    status = head["encounter_pa_status"]
    deciding = [line["line"] for line in lines if line["prior_authorization"]["status"] == status]
    reason = lines[deciding[0] - 1]["prior_authorization"]["reason"] if deciding else ""
    warnings = list(dict.fromkeys(w for line in lines for w in line["warnings"]))
    answer = {
        **_place(head, schedules),
        "date_of_service": head["date_of_service"],
        "lines": lines,
        "allowed_amount": _levels(head, "encounter_allowed"),
        "patient_responsibility": _levels(head, "encounter_patient"),
        "payer_responsibility": _levels(head, "encounter_payer"),
        "balance_billing": _levels(head, "encounter_balance_billing"),
        "cost_sharing": _benefits(head),
        "prior_authorization": {
            "status": status,
            "crd_code": CRD_CODES.get(status),
            "reason": reason,
            "lines": deciding if status != "not_applicable" else [],
        },
        "good_faith_estimate": bool(head["good_faith_estimate"]),
        "warnings": warnings,
        "carried_forward": list(dict.fromkeys(w for line in lines for w in line["carried_forward"])),
        "explanation": explain_encounter(rows, lines),
    }
    if answer["good_faith_estimate"]:
        answer["good_faith_notice"] = GOOD_FAITH_NOTICE
    return answer


def explain_encounter(rows, lines):
    """Plain-language lines for what the encounter adds to its lines: order, reduction, shared benefits."""
    head = rows[0]
    count = len(rows)
    out = [
        f"A visit of {count} line{'s' if count != 1 else ''}, {head['payer_name']}, in "
        f"{SETTING_WORDS[head['setting']]}, on {head['date_of_service']}."
    ]
    ranked = sorted(range(count), key=lambda i: (-float(rows[i]["unit_fee"]), i))
    if count > 1:
        out.append(
            "Lines ranked by fee per unit, highest first: "
            + ", ".join(f"line {i + 1} ({rows[i]['cpt_code']}, {_money(rows[i]['unit_fee'])})" for i in ranked)
            + "."
        )
    reduced = [i for i in range(count) if float(rows[i]["reduction_factor"]) < 1]
    if reduced:
        out.append(
            f"Multiple-procedure reduction: the first procedure is paid in full, each further one x "
            f"{_number(head['multiple_procedure_factor'])}; "
            + ", ".join(
                f"line {i + 1} ({rows[i]['cpt_code']}) x {float(rows[i]['reduction_factor']):.4g}" for i in reduced
            )
            + ". Add-on codes and codes the payer does not reduce are paid in full."
        )
    if not head["self_pay"] and count > 1:
        out.append(
            "The deductible, coinsurance and out-of-pocket maximum run across the lines in that order; "
            "the copay is due once, on the first line."
        )
    sums = (("Total price", "allowed"), ("You pay", "patient"))
    if not head["self_pay"]:
        sums = (("Total allowed", "allowed"), ("You pay", "patient"), ("The plan pays", "payer"))
    for label, prefix in sums:
        parts = " + ".join(_money(row[f"{prefix}_expected"]) for row in rows)
        out.append(f"{label}: {parts} = {_money(head[f'encounter_{prefix}_expected'])} (expected, the lines' sum).")
    status = head["encounter_pa_status"]
    out.append(f"Prior authorization for the visit: {STATUS_WORDS[status]}.")
    return out


def _component(row, name):
    return {
        "component": name,
        "basis": row[f"{name}_basis"],
        "value": float(row[f"{name}_value"]),
        "region_factor": float(row[f"{name}_region_factor"]),
        "allowed_amount": _levels(row, name),
    }


def _optional(x):
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else float(x)


def _benefits(row):
    """The plan figures used (shared by a visit's lines)."""
    return {
        field: _optional(row[field])
        for field in ("deductible", "coinsurance", "copay", "oop_max", "deductible_met", "oop_met")
    }


def _cost_sharing(row):
    out = _benefits(row)
    for part in ("deductible_part", "coinsurance_part", "copay_part", "cap_reduction"):
        out[part] = _levels(row, part)
    return out


def explain(row):
    """One plain-language line per step of the calculation.

    Every line that states arithmetic (``a x b = c``) is true as written: its operands are the figures
    on file or given, or rounded figures of this answer, and its result is the figure of the answer,
    rounded to cents half up.
    """
    lines = [
        f"Procedure {row['cpt_code']} ({row['description']}), {row['payer_name']}, in "
        f"{SETTING_WORDS[row['setting']]}, on {row['date_of_service']}."
    ]
    lines.append(_fee_line(row, "professional"))
    if row["facility_priced"]:
        lines.append(_fee_line(row, "facility"))
    elif row["setting"] != "office":
        lines.append("Facility fee: no rate on file for this payer and setting, so it is left out of this estimate.")
    lines.append(_region_line(row))
    if row["bilateral"]:
        lines.append(
            f"Modifiers {row['modifiers']}: both sides; bilateral indicator {int(row['bilateral_indicator'])} "
            f"pays x {_decimal(row['modifier_factor'])}."
        )
    elif row["modifiers"]:
        lines.append(f"Modifier {row['modifiers']}: one side, paid as one procedure.")
    factor = float(row["reduction_factor"])
    if factor != 1:
        lines.append(
            "Multiple-procedure reduction: a further procedure of the visit is paid at "
            f"{_decimal(row['multiple_procedure_factor'])} of its fee (the first procedure in full)."
        )
    both = " (both fees)" if row["facility_priced"] else ""
    total = "Self-pay price" if row["self_pay"] else "Allowed amount in network"
    lines.append(f"{total}{both}: {_money_levels(row, 'in_network')} (low / expected / high).")
    if row["oon_applied"]:
        lines += _explain_out_of_network(row)
    if row["self_pay"]:
        lines.append(
            f"Self-pay: you pay the whole price, {_money_levels(row, 'patient')} (low / expected / high). "
            "This is a Good Faith Estimate."
        )
    else:
        lines += _explain_sharing(row)
    lines.append(f"Prior authorization: {STATUS_WORDS[row['pa_status']]}. {row['pa_reason']}")
    lines.append("Each figure is computed in full precision and rounded to cents, half up.")
    return lines


def _fee_line(row, name):
    """The fee of one component: its basis times every factor that applies, equal to its allowed amount."""
    label = "Professional fee" if name == "professional" else "Facility fee"
    basis, value = row[f"{name}_basis"], row[f"{name}_value"]
    if row[f"{name}_carried"]:
        label += f" (the rate in effect until {iso(row[f'{name}_rate_end'])}, carried forward)"
    if name == "professional" and row["professional_fallback"]:
        label += " (no rate on file for this payer and code: the national baseline range)"
    if basis == "rvu":
        pe = row["pe_rvu_nonfacility"] if row["setting"] == "office" else row["pe_rvu_facility"]
        rvus = f"{row[f'{name}_rvus']:.6f}".rstrip("0").rstrip(".")
        return (
            f"{label}: RVUs work {_decimal(row['work_rvu'])} x GPCI {_decimal(row['gpci_work'])} + practice expense "
            f"{_decimal(pe)} x GPCI {_decimal(row['gpci_pe'])} + malpractice {_decimal(row['mp_rvu'])} x GPCI "
            f"{_decimal(row['gpci_mp'])} = {rvus} RVUs; {rvus} RVUs x ${_decimal(value)} per RVU"
            f"{_factors(row, name)} = {_money(row[f'{name}_expected'])}."
        )
    if basis == "baseline":
        head = (
            f"baseline range {_money(row['baseline_low'])} / {_money(row['baseline_typical'])} / "
            f"{_money(row['baseline_high'])} x {_decimal(value)}"
        )
        return f"{label}: {head}{_factors(row, name)} = {_money_levels(row, name)}."
    return f"{label}: {_money(value)} per procedure{_factors(row, name)} = {_money(row[f'{name}_expected'])}."


def _factors(row, name):
    """`` x `` each factor after the rate: the region's, the modifiers', the units and the reduction."""
    out = ""
    region = row[f"{name}_region_factor"]
    if row[f"{name}_basis"] != "rvu" and region != 1:
        out += f" x geographic factor {_decimal(region)}"
    if row["modifier_factor"] != 1:
        out += f" x {_decimal(row['modifier_factor'])} (both sides)"
    units, factor = int(row["units"]), float(row["reduction_factor"])
    if factor == 1:
        return out + (f" x {units} units" if units != 1 else "")
    reduced = _decimal(row["multiple_procedure_factor"])
    if factor != row["multiple_procedure_factor"]:  # the top procedure of the visit: its first unit in full
        return out + f" x (1 + {units - 1} x {reduced}) units (the first in full, the others reduced)"
    return out + (f" x {units} units" if units != 1 else "") + f" x {reduced} (multiple-procedure reduction)"


def _region_line(row):
    if not row["region_id"]:
        return "No region or ZIP code given: national prices, with no geographic adjustment."
    bases = [row["professional_basis"]] + ([row["facility_basis"]] if row["facility_priced"] else [])
    factors = [row["professional_region_factor"]] + ([row["facility_region_factor"]] if row["facility_priced"] else [])
    used = []
    if any(f != 1 for b, f in zip(bases, factors, strict=True) if b != "rvu"):
        used.append(f"its geographic factor {_decimal(row['geo_factor'])} scales the fees above")
    if "rvu" in bases:
        used.append("its GPCIs are in the RVU formula above")
    if not used:
        used.append("the rate on file is already local, so no geographic adjustment is made")
    return f"Region {row['region_name']}: " + "; ".join(used) + "."


def _explain_out_of_network(row):
    if row["oon_billed_unknown"]:
        lines = ["Estimated billed charge: unknown (no national range is on file for this code)."]
    else:
        lines = [
            f"Estimated billed charge: baseline range {_money(row['baseline_low'])} / "
            f"{_money(row['baseline_typical'])} / {_money(row['baseline_high'])}{_billed_factors(row)} = "
            f"{_money_levels(row, 'billed')}."
        ]
    if not row["oon_covered"]:
        lines.append("Out of network and not covered: allowed amount $0.00; you owe the whole billed charge.")
        return lines
    if row["oon_billed_unknown"]:
        lines.append(
            f"Out of network: the plan allows {_decimal(row['oon_factor'])} of the in-network amount: "
            f"{_money(row['in_network_expected'])} x {_decimal(row['oon_factor'])} = "
            f"{_money(row['allowed_expected'])} (expected); any balance bill could not be estimated."
        )
        return lines
    lines.append(
        f"Out of network: the plan allows {_decimal(row['oon_factor'])} of the in-network amount: "
        f"{_money(row['in_network_expected'])} x {_decimal(row['oon_factor'])} = {_money(row['allowed_expected'])} "
        "(expected)."
    )
    balance = row["balance_billing_expected"]
    if not row["balance_billing"]:
        lines.append("The provider may not bill you above the allowed amount.")
    elif balance > 0:
        lines.append(
            "The provider may bill you the difference between the billed charge and the allowed amount: "
            f"{_money(balance)} (expected)."
        )
    else:
        lines.append("The billed charge is not above the allowed amount: no balance bill.")
    return lines


def _billed_factors(row):
    out = f" x geographic factor {_decimal(row['geo_factor'])}" if row["geo_factor"] != 1 else ""
    if row["modifier_factor"] != 1:
        out += f" x {_decimal(row['modifier_factor'])} (both sides)"
    units = int(row["units"])
    return out + (f" x {units} units" if units != 1 else "")


def _explain_sharing(row):
    allowed, deductible = row["allowed_expected"], row["deductible_part_expected"]
    lines = [
        f"Deductible: {_money(row['deductible_left_expected'])} left of {_money(row['deductible'])}; you pay "
        f"{_money(deductible)} of it here.",
        f"Coinsurance: {_decimal(round(row['coinsurance'] * 100, 10))} % x ({_money(allowed)} - "
        f"{_money(deductible)}) = {_money(row['coinsurance_part_expected'])}.",
    ]
    if row["copay"]:
        lines.append(f"Copay: {_money(row['copay_part_expected'])} (plan copay {_money(row['copay'])}).")
    if math.isnan(row["oop_max"]):
        lines.append("Out-of-pocket maximum: none on this plan.")
    else:
        lines.append(
            f"Out-of-pocket maximum {_money(row['oop_max'])}, {_money(row['cap_left_expected'])} left: it lowers "
            f"your share by {_money(row['cap_reduction_expected'])}."
        )
    share = row["patient_share_expected"]
    lines.append(f"Your share of the allowed amount, these together: {_money(share)} (expected).")
    balance = row["balance_billing_expected"]
    if balance:
        lines.append(f"You pay {_money(share)} + {_money(balance)} balance bill = {_money(row['patient_expected'])}.")
    lines.append(f"The plan pays {_money(allowed)} - {_money(share)} = {_money(row['payer_expected'])} (expected).")
    lines.append(
        f"In all, you pay {_money_levels(row, 'patient')} and the plan pays {_money_levels(row, 'payer')} "
        "(low / expected / high)."
    )
    return lines


def _money_levels(row, prefix):
    low, expected, high = _LEVEL_NAMES[prefix]
    return f"{_money(row[low])} / {_money(row[expected])} / {_money(row[high])}"


@functools.lru_cache(maxsize=4096)
def _decimal(x):
    """A figure as its shortest exact decimal (``1.5``, ``33.4009``, ``2``)."""
    text = repr(float(x))
    return text[:-2] if text.endswith(".0") else text
