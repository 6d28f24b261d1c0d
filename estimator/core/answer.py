"""Turn one estimated row into the answer of SPEC section 5, with its plain-language explanation."""

import math

from .glossary import GOOD_FAITH_NOTICE, LEVELS, MESSAGE_SEPARATOR


def _levels(row, prefix):
    return {level: float(row[f"{prefix}_{level}"]) for level in LEVELS}


def _money(x):
    return f"${x:,.2f}"


def _number(x):
    return f"{x:g}"


def to_answer(row, schedules):
    """The JSON-ready answer for one valid estimate row (a mapping of the engine's columns)."""
    components = [_component(row, "professional")]
    if row["facility_priced"]:
        components.append(_component(row, "facility"))
    payers = schedules.arrays["payers"]
    payer_name = payers["name"][int(row["payer_position"])]
    answer = {
        "cpt_code": row["cpt_code"],
        "description": row["description"],
        "payer_id": row["payer_id"],
        "payer_name": payer_name,
        "region_id": row["region_id"] or None,
        "region_name": row["region_name"] or None,
        "zip": row["zip"] or None,
        "setting": row["setting"],
        "network": row["network"],
        "modifiers": row["modifiers"].split(),
        "units": int(row["units"]),
        "date_of_service": row["date_of_service"],
        "baseline_range": {
            "low": float(row["baseline_low"]),
            "expected": float(row["baseline_typical"]),
            "high": float(row["baseline_high"]),
        },
        "allowed_amount": _levels(row, "allowed"),
        "patient_responsibility": _levels(row, "patient"),
        "payer_responsibility": _levels(row, "payer"),
        "balance_billing": _levels(row, "balance_billing"),
        "components": components,
        "cost_sharing": _cost_sharing(row),
        "prior_authorization": {
            "status": row["pa_status"],
            "crd_code": row["pa_crd_code"] if isinstance(row["pa_crd_code"], str) else None,
            "reason": row["pa_reason"],
            "documentation": row["pa_documentation"] or None,
            "source": row["pa_source"] or None,
        },
        "good_faith_estimate": bool(row["good_faith_estimate"]),
        "warnings": row["warnings"].split(MESSAGE_SEPARATOR) if row["warnings"] else [],
        "explanation": explain(row),
    }
    if answer["good_faith_estimate"]:
        answer["good_faith_notice"] = GOOD_FAITH_NOTICE
    return answer


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


def _cost_sharing(row):
    out = {
        field: _optional(row[field])
        for field in ("deductible", "coinsurance", "copay", "oop_max", "deductible_met", "oop_met")
    }
    for part in ("deductible_part", "coinsurance_part", "copay_part", "cap_reduction"):
        out[part] = _levels(row, part)
    return out


def explain(row):
    """One plain-language line per step of the calculation (expected figures unless a range is given)."""
    lines = [
        f"Procedure {row['cpt_code']} ({row['description']}) for payer {row['payer_id']}, setting "
        f"{row['setting'].replace('_', ' ')}, date of service {row['date_of_service']}."
    ]
    lines += _explain_component(row, "professional")
    if row["facility_priced"]:
        lines += _explain_component(row, "facility")
    elif row["setting"] != "office":
        lines.append("Facility fee: no rate on file for this payer and setting, so it is not included.")
    if row["region_id"]:
        lines.append(
            f"Region {row['region_id']} ({row['region_name']}): geographic factor {_number(row['geo_factor'])}, "
            f"GPCIs work {_number(row['gpci_work'])}, practice expense {_number(row['gpci_pe'])}, "
            f"malpractice {_number(row['gpci_mp'])}."
        )
    else:
        lines.append("No region given: national prices (factor and GPCIs 1.0).")
    if row["bilateral"]:
        lines.append(
            f"Modifiers {row['modifiers']}: bilateral; bilateral indicator {int(row['bilateral_indicator'])} "
            f"pays x {_number(row['modifier_factor'])}."
        )
    elif row["modifiers"]:
        lines.append(f"Modifier {row['modifiers']}: one side, paid x 1.")
    if row["units"] != 1:
        lines.append(f"Units: x {int(row['units'])}.")
    lines.append(
        "Allowed amount in network: "
        + " / ".join(_money(row[f"in_network_{lv}"]) for lv in LEVELS)
        + " (low / expected / high)."
    )
    if row["oon_applied"]:
        billed = " / ".join(_money(row[f"billed_{lv}"]) for lv in LEVELS)
        if row["oon_covered"]:
            lines.append(
                f"Out of network: the plan allows {_number(row['oon_factor'])} of the in-network amount, "
                f"{_money(row['allowed_expected'])} expected; estimated billed charge {billed}."
            )
            if row["balance_billing"]:
                lines.append(
                    f"The provider may bill the difference: balance bill {_money(row['balance_billing_expected'])} "
                    "expected."
                )
            else:
                lines.append("The provider may not bill the patient above the allowed amount.")
        else:
            lines.append(
                f"Out of network and not covered: allowed amount $0.00; the patient owes the billed charge {billed}."
            )
    if row["self_pay"]:
        lines.append(
            f"Self-pay: the patient pays the whole amount, {_money(row['patient_expected'])} expected. "
            "This is a Good Faith Estimate."
        )
    else:
        lines += _explain_sharing(row)
    lines.append(f"Prior authorization: {row['pa_status'].replace('_', ' ')}. {row['pa_reason']}")
    lines.append("Each figure is computed in full precision and rounded to cents, half up.")
    return lines


def _explain_component(row, name):
    label = "Professional fee" if name == "professional" else "Facility fee"
    basis, value = row[f"{name}_basis"], row[f"{name}_value"]
    if name == "professional" and row["professional_fallback"]:
        head = f"{label}: no rate on file for this payer and code, so the national baseline range is used (x 1.0)"
    elif basis == "rvu":
        pe = row["pe_rvu_nonfacility"] if row["setting"] == "office" else row["pe_rvu_facility"]
        head = (
            f"{label}: (work {_number(row['work_rvu'])} x {_number(row['gpci_work'])} + practice expense "
            f"{_number(pe)} x {_number(row['gpci_pe'])} + malpractice {_number(row['mp_rvu'])} x "
            f"{_number(row['gpci_mp'])}) = {row[f'{name}_rvus']:.4f} RVUs x ${value:g} per RVU"
        )
    elif basis == "baseline":
        head = (
            f"{label}: baseline range {_money(row['baseline_low'])} / {_money(row['baseline_typical'])} / "
            f"{_money(row['baseline_high'])} x {_number(value)}"
        )
    else:
        head = f"{label}: {_money(value)} per procedure"
    factor = row[f"{name}_region_factor"]
    if basis != "rvu" and factor != 1:
        head += f" x geographic factor {_number(factor)}"
    amounts = " / ".join(_money(row[f"{name}_{lv}"]) for lv in LEVELS)
    return [f"{head} = {amounts} after modifiers and units."]


def _explain_sharing(row):
    remaining = max(0.0, row["deductible"] - row["deductible_met"])
    lines = [
        f"Deductible: {_money(remaining)} left of {_money(row['deductible'])}; the patient pays "
        f"{_money(row['deductible_part_expected'])} of it on this service.",
        f"Coinsurance: {row['coinsurance'] * 100:g} % of the rest = {_money(row['coinsurance_part_expected'])}.",
    ]
    if row["copay"]:
        lines.append(f"Copay: {_money(row['copay_part_expected'])} (plan copay {_money(row['copay'])}).")
    if math.isnan(row["oop_max"]):
        lines.append("Out-of-pocket maximum: none on this plan.")
    else:
        room = max(0.0, row["oop_max"] - row["oop_met"])
        lines.append(
            f"Out-of-pocket maximum {_money(row['oop_max'])}, {_money(room)} left: it lowers the patient's "
            f"share by {_money(row['cap_reduction_expected'])}."
        )
    lines.append(
        "Patient pays "
        + " / ".join(_money(row[f"patient_{lv}"]) for lv in LEVELS)
        + "; payer pays "
        + " / ".join(_money(row[f"payer_{lv}"]) for lv in LEVELS)
        + " (low / expected / high)."
    )
    return lines
