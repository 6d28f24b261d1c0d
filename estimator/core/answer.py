"""Turn estimated rows into the answers of SPEC sections 5 and 7, with their plain-language explanations."""

import math

from .glossary import CRD_CODES, GOOD_FAITH_NOTICE, LEVELS, MESSAGE_SEPARATOR, SETTING_WORDS, STATUS_WORDS

_LEVEL_KEYS = {}  # prefix -> ((level, column), ...), made once per prefix


def _levels(row, prefix):
    keys = _LEVEL_KEYS.get(prefix)
    if keys is None:
        keys = _LEVEL_KEYS[prefix] = tuple((level, f"{prefix}_{level}") for level in LEVELS)
    return {level: float(row[key]) for level, key in keys}


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
        "explanation": explain(row),
    }
    if answer["good_faith_estimate"]:
        answer["good_faith_notice"] = GOOD_FAITH_NOTICE
    return answer


def _place(row, schedules):
    """Who pays and where: the fields a visit's lines share."""
    return {
        "payer_id": row["payer_id"],
        "payer_name": schedules.arrays["payers"]["name"][int(row["payer_position"])],
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
    out.append(
        f"Total: allowed {_money(head['encounter_allowed_expected'])}, you pay "
        f"{_money(head['encounter_patient_expected'])}, the plan pays {_money(head['encounter_payer_expected'])} "
        "(expected; each total is the sum of the lines' rounded figures)."
    )
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
    """One plain-language line per step of the calculation (expected figures unless a range is given)."""
    lines = [
        f"Procedure {row['cpt_code']} ({row['description']}), {row['payer_name']}, in "
        f"{SETTING_WORDS[row['setting']]}, on {row['date_of_service']}."
    ]
    lines += _explain_component(row, "professional")
    if row["facility_priced"]:
        lines += _explain_component(row, "facility")
    elif row["setting"] != "office":
        lines.append("Facility fee: no rate on file for this payer and setting, so it is not included.")
    bases = [row["professional_basis"]] + ([row["facility_basis"]] if row["facility_priced"] else [])
    factors = [row["professional_region_factor"]] + ([row["facility_region_factor"]] if row["facility_priced"] else [])
    if row["region_id"]:
        used = []
        if any(f != 1 for b, f in zip(bases, factors, strict=True) if b != "rvu"):
            used.append(f"its geographic factor {_number(row['geo_factor'])} scales the fees above")
        if "rvu" in bases:
            used.append("its GPCIs are in the RVU formula above")
        if not used:
            used.append("the rate on file is already local, so no geographic adjustment is made")
        lines.append(f"Region {row['region_name']}: " + "; ".join(used) + ".")
    else:
        lines.append("No region or ZIP code given: national prices, with no geographic adjustment.")
    if row["bilateral"]:
        lines.append(
            f"Modifiers {row['modifiers']}: bilateral; bilateral indicator {int(row['bilateral_indicator'])} "
            f"pays x {_number(row['modifier_factor'])}."
        )
    elif row["modifiers"]:
        lines.append(f"Modifier {row['modifiers']}: one side, paid x 1.")
    if row["units"] != 1:
        lines.append(f"Units: x {int(row['units'])}.")
    factor = float(row["reduction_factor"])
    if factor != 1:
        lines.append(
            f"Multiple-procedure reduction: x {factor:.4g} (a further procedure of the visit is paid at "
            f"{_number(row['multiple_procedure_factor'])} of its fee)."
        )
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
    lines.append(f"Prior authorization: {STATUS_WORDS[row['pa_status']]}. {row['pa_reason']}")
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
    factor = float(row["reduction_factor"]) or 1.0
    amounts = " / ".join(_money(row[f"{name}_{lv}"] / factor) for lv in LEVELS)
    return [f"{head} = {amounts} after modifiers and units."]


def _explain_sharing(row):
    remaining = row["deductible_left_expected"]
    lines = [
        f"Deductible: {_money(remaining)} left of {_money(row['deductible'])}; the patient pays "
        f"{_money(row['deductible_part_expected'])} of it on this service.",
        f"Coinsurance: {row['coinsurance'] * 100:g} % of "
        f"{_money(row['allowed_expected'] - row['deductible_part_expected'])} (what the deductible leaves) = "
        f"{_money(row['coinsurance_part_expected'])}.",
    ]
    if row["copay"]:
        lines.append(f"Copay: {_money(row['copay_part_expected'])} (plan copay {_money(row['copay'])}).")
    if math.isnan(row["oop_max"]):
        lines.append("Out-of-pocket maximum: none on this plan.")
    else:
        room = row["cap_left_expected"]
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
