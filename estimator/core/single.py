"""One request (SPEC section 3) estimated over plain Python values: the same steps as :mod:`.engine`, with
no arrays, so that a single answer costs a few batch rows instead of a batch's fixed overhead.

Every step mirrors the vectorised engine operation for operation (the same IEEE arithmetic in the same
order, NaN carried the way numpy carries it), and a property test checks the two agree on random
requests, answer for answer. A request that is not valid, or whose figures are not finite, gets
``None`` here: its messages come from the vectorised path, which owns their wording.
"""

import bisect
import datetime as dt
import math

from . import engine
from .encounters import STATUS_ORDER
from .glossary import BENEFIT_FIELDS, CRD_CODES, LEVELS, MAX_MONEY, MAX_UNITS, MESSAGE_SEPARATOR, NETWORKS, SETTINGS
from .intake import _ZIP, _modifiers, _number
from .pricing import BASELINES, BILATERAL_FACTOR, FACILITY_SETTINGS
from .prior_auth import NO_RULE_REASON, SELF_PAY_REASON
from .schedules import RULE_FIELDS, day_from_iso, day_number

NAN = math.nan
_ISO_EPOCH = dt.date(1970, 1, 1).toordinal()
#: E6: the encounter's status is the first of these any line has (``not_applicable`` otherwise).
_STATUS_RANK = {status: i for i, status in enumerate(STATUS_ORDER)}
_RATE_FIELDS_CASE = ("payer_id", "component", "cpt_code", "region_id", "setting")
#: Column names per level, made once: (level, its baseline column, ...).
_PRICE_KEYS = {
    c: tuple((f"{c}_{v}", b) for v, b in zip(LEVELS, BASELINES, strict=True)) for c in ("professional", "facility")
}
_OON_KEYS = tuple(
    (f"in_network_{v}", b, f"billed_{v}", f"allowed_{v}", f"balance_billing_{v}")
    for v, b in zip(LEVELS, BASELINES, strict=True)
)
_SHARE_KEYS = tuple(
    tuple(
        f"{p}_{v}"
        for p in (
            "allowed",
            "deductible_part",
            "coinsurance_part",
            "copay_part",
            "cap_reduction",
            "deductible_left",
            "cap_left",
            "patient_share",
            "patient",
            "payer",
            "balance_billing",
        )
    )
    for v in LEVELS
)
_IN_NETWORK_KEYS = tuple((f"in_network_{v}", f"professional_{v}", f"facility_{v}") for v in LEVELS)
_MONEY = tuple(f"{prefix}_{level}" for prefix in engine.MONEY_PREFIXES for level in LEVELS)
_SHARES = tuple(
    (f"patient_share_{v}", f"balance_billing_{v}", f"allowed_{v}", f"patient_{v}", f"payer_{v}") for v in LEVELS
)
_TOTALS = tuple(
    (f"{p}_{v}", f"encounter_{p}_{v}") for p in ("allowed", "patient", "payer", "balance_billing") for v in LEVELS
)


def _min(a, b):
    """``numpy.minimum`` of two floats (NaN if either is NaN)."""
    return a if a <= b else (b if b < a else NAN)


def _max(a, b):
    """``numpy.maximum`` of two floats (NaN if either is NaN)."""
    return a if a >= b else (b if b > a else NAN)


def round_cents(x):
    """:func:`estimator.core.money.round_cents` of one float, operation for operation."""
    if x == 0.0:
        return 0.0
    cents = x * 100.0 * 1e6
    if not math.isfinite(cents):
        return cents  # NaN stays NaN; an amount too large to scale stays infinite, as in numpy
    cents = round(cents) / 1e6  # numpy's rint rounds half to even, as round() does
    return math.copysign(math.floor(abs(cents) + 0.5), cents) / 100.0 + 0.0


def _intake(fields, schedules, today):
    """The typed request, or None when any field would get a message."""
    text = {name: value.strip() for name, value in fields.items()}
    code = text.get("cpt_code", "").upper()
    payer = text.get("payer_id", "").lower()
    keys = schedules.keys
    if code not in keys["cpt_code"] or payer not in keys["payer_id"]:
        return None
    region, zip_code = text.get("region_id", ""), text.get("zip", "")
    if region and (region not in keys["region_id"] or zip_code):
        return None
    if zip_code:
        if not _ZIP.fullmatch(zip_code):
            return None
        region = schedules.zip_map.get(zip_code[:3], "")
        if not region:
            return None
    setting = text.get("setting", "") or "office"
    network = text.get("network", "") or "in"
    if setting not in SETTINGS or network not in NETWORKS:
        return None
    modifiers, bilateral, problem = _modifiers(text.get("modifiers", ""))
    if problem is not None:
        return None
    units_text = text.get("units", "")
    units, message = _number(units_text)
    if message is not None or (units_text and (not units.is_integer() or not 1 <= units <= MAX_UNITS)):
        return None
    date_text = text.get("date_of_service", "")
    day = day_from_iso(date_text) if date_text else day_number(today)
    if day is None:
        return None
    request = {
        "cpt_code": code,
        "payer_id": payer,
        "region_id": region,
        "zip": zip_code,
        "setting": setting,
        "network": network,
        "modifiers": modifiers,
        "bilateral": bilateral,
        "units": int(units) if units_text else 1,
        "date_of_service": day,
        "date_given": bool(date_text),
    }
    for field in ("deductible", "copay", "oop_max", "deductible_met", "oop_met", "coinsurance"):
        value, message = _number(text.get(field, ""))
        high = 1 if field == "coinsurance" else MAX_MONEY
        if message is not None or (value == value and not 0 <= value <= high):
            return None
        request[field] = 0.0 if value != value and field in ("deductible_met", "oop_met") else value
    return request


def _lookup(index, case, day, keep=None, keep_key=None):
    """The winning row of one case in a :class:`~estimator.core.matching.RowIndex`, or -1.

    Answers are kept per index and folded case (``keep_key`` names what ``keep`` depends on): the
    schedules never change once loaded, and a folded case holds only values some row names, so there
    are at most as many as the schedules allow.
    """
    folded = [value if value in named else "" for value, named in zip(case, index.named, strict=True)]
    key = (*folded, day, keep_key)
    found = index.answers.get(key)
    if found is not None:
        return found
    found = -1
    for pattern in index.patterns:
        rows = pattern.rows.get(tuple(folded[f] for f in pattern.exact))
        if rows is None:
            continue
        for row in rows.tolist():
            if index.starts[row] <= day <= index.ends[row] and (keep is None or keep(row)):
                found = row
                break
        if found >= 0:
            break
    index.answers[key] = found
    return found


def _context(r, schedules):
    """The procedure, payer and region columns the request needs (the engine's ``_context``)."""
    tables = schedules.lists
    procedures, payers, regions = tables["procedures"], tables["payers"], tables["regions"]
    labels = schedules._labels
    p = labels["procedures"][r["cpt_code"]]
    y = labels["payers"][r["payer_id"]]
    g = labels["regions"].get(r["region_id"], -1)
    for column in (
        "description",
        "baseline_low",
        "baseline_typical",
        "baseline_high",
        "work_rvu",
        "pe_rvu_nonfacility",
        "pe_rvu_facility",
        "mp_rvu",
    ):
        r[column] = procedures[column][p]
    r["bilateral_indicator"] = int(procedures["bilateral_indicator"][p])
    pe = r["pe_rvu_nonfacility"] if r["setting"] == "office" else r["pe_rvu_facility"]
    r["has_rvu"] = not (math.isnan(r["work_rvu"]) or math.isnan(pe) or math.isnan(r["mp_rvu"]))
    r["payer_position"] = y
    r["payer_name"] = payers["name"][y]
    r["payer_kind"] = payers["kind"][y]
    r["self_pay"] = r["payer_kind"] == "self_pay"
    r["oon_factor"] = float(payers["oon_factor"][y])
    r["balance_billing"] = bool(payers["balance_billing"][y])
    r["state"] = regions["state"][g] if g >= 0 else ""
    r["region_name"] = regions["name"][g] if g >= 0 else ""
    for column in ("geo_factor", "gpci_work", "gpci_pe", "gpci_mp"):
        r[column] = float(regions[column][g]) if g >= 0 else 1.0
    r["period"] = bisect.bisect_right(schedules.boundaries, r["date_of_service"])
    r["period_start"] = int(schedules.boundaries[r["period"] - 1]) if r["period"] else -(2**40)
    r["modifier_factor"] = BILATERAL_FACTOR.get(r["bilateral_indicator"], 1.0) if r["bilateral"] else 1.0
    r["procedure_position"] = p
    r["multiple_procedure_indicator"] = int(procedures["multiple_procedure_indicator"][p])
    r["addon_to"] = procedures["addon_to"][p]
    factor = float(payers["multiple_procedure_factor"][y])
    r["multiple_procedure_factor"] = 1.0 if factor != factor else factor


def _price(r, schedules, component):
    """One component through steps 1 to 6 (the engine's ``price_component``)."""
    rates = schedules.lists["rates"]
    row = -1
    if component == "professional" or r["setting"] in FACILITY_SETTINGS:
        case = [r[f] if f != "component" else component for f in _RATE_FIELDS_CASE]
        is_rvu = rates["basis"]
        row = _lookup(schedules.rate_index, case, r["period_start"], lambda i: is_rvu[i] != "rvu" or r["has_rvu"])
    found = row >= 0
    basis = rates["basis"][row] if found else None
    value = float(rates["value"][row]) if found else NAN
    star_region = rates["region_id"][row] == "*" if found else True
    note = rates["note"][row] if found else ""
    if component == "professional":
        priced, fallback = True, not found
        if fallback:
            basis, value = "baseline", 1.0
    else:
        priced, fallback = found, False
    if basis == "rvu":
        pe = r["pe_rvu_nonfacility"] if r["setting"] == "office" else r["pe_rvu_facility"]
        rvus = r["work_rvu"] * r["gpci_work"] + pe * r["gpci_pe"] + r["mp_rvu"] * r["gpci_mp"]
    else:
        rvus = NAN
    region_factor = r["geo_factor"] if basis != "rvu" and star_region else 1.0
    scale = region_factor * r["modifier_factor"] * r["units"]
    r[f"{component}_priced"] = priced
    r[f"{component}_fallback"] = fallback
    r[f"{component}_basis"] = basis if priced else None
    r[f"{component}_value"] = value if priced else NAN
    r[f"{component}_region_factor"] = region_factor if priced else NAN
    r[f"{component}_rvus"] = rvus if priced else NAN
    r[f"{component}_note"] = note if priced else ""
    for name, baseline in _PRICE_KEYS[component]:
        if basis == "baseline":
            unit_amount = r[baseline] * value
        else:
            unit_amount = (rvus if basis == "rvu" else 1.0) * value
        r[name] = unit_amount * scale if priced else 0.0


def _out_of_network(r):
    """Step 7 (the engine's ``out_of_network``)."""
    applied = r["network"] == "out" and not r["self_pay"]
    factor = r["oon_factor"]
    covered = factor == factor
    scale = r["geo_factor"] * r["modifier_factor"] * r["units"]
    r["oon_applied"], r["oon_covered"] = applied, applied and covered
    for in_network, baseline, billed_name, allowed_name, balance_name in _OON_KEYS:
        a = r[in_network]
        billed = r[baseline] * scale
        oon_allowed = a * factor if covered else 0.0
        if covered:
            balance = _max(0.0, billed - oon_allowed) if r["balance_billing"] else 0.0
        else:
            balance = billed
        r[billed_name] = billed if applied else NAN
        r[allowed_name] = oon_allowed if applied else a
        r[balance_name] = balance if applied else 0.0


def _benefits(r, schedules):
    """The benefits used and which were defaulted (the engine's ``resolve_benefits``)."""
    chosen = _lookup(schedules.benefit_index, [r["payer_id"]], r["period_start"])
    periods, payers = schedules.lists["benefit_periods"], schedules.lists["payers"]
    for field in BENEFIT_FIELDS:
        given = r[field]
        from_period = float(periods[field][chosen]) if chosen >= 0 and len(periods[field]) else NAN
        default = float(payers[field][r["payer_position"]]) if from_period != from_period else from_period
        r[f"defaulted_{field}"] = given != given
        r[field] = default if given != given else given


def _running(values, order):
    """Per line, the sum of ``values`` over the lines before it in ``order``, added as pandas' grouped
    ``cumsum`` adds them (Kahan's compensated sum; a NaN line gets NaN and is skipped)."""
    before = [0.0] * len(values)
    total = compensation = 0.0
    for k, i in enumerate(order):
        before[i] = total if k else 0.0
        x = values[i]
        if x == x:
            y = x - compensation
            t = total + y
            compensation = t - total - y
            total = t
    if any(values[i] != values[i] for i in order[:-1]):  # a NaN before a line makes its sum NaN
        for k in range(1, len(order)):
            if values[order[k - 1]] != values[order[k - 1]]:
                before[order[k]] = NAN
    return before


def _store_share(r, keys, a, deductible_left, d, c, before_cap, cap_left, capped, self_pay):
    """One line's share of one level after the cap (the end of the engine's ``share_costs``)."""
    _, d_part, c_part, copay_part, cap_part, d_left, c_left, share, patient, payer, balance = keys
    p = _min(before_cap, cap_left if cap_left == cap_left else 0.0) if capped else before_cap
    if self_pay:
        p = a
    r[d_part] = 0.0 if self_pay else d
    r[c_part] = 0.0 if self_pay else c
    r[copay_part] = 0.0 if self_pay else _max(0.0, before_cap - d - c)
    r[cap_part] = 0.0 if self_pay else before_cap - p
    r[d_left] = deductible_left
    r[c_left] = cap_left
    r[share] = p
    r[patient] = p + r[balance]
    r[payer] = a - p


def _share(rows, order):
    """E4 over the lines of one encounter (the engine's ``share_costs``), lines taken in ``order``."""
    head = rows[0]
    self_pay = head["self_pay"]
    start_deductible = _max(0.0, head["deductible"] - head["deductible_met"])
    start_cap = _max(0.0, head["oop_max"] - head["oop_met"])
    capped = start_cap == start_cap
    coinsurance = head["coinsurance"]
    if len(rows) == 1:  # nothing runs before the line: the running sums are 0
        deductible_left = _max(0.0, start_deductible - _min(0.0, start_deductible))
        cap_left = _max(0.0, start_cap - _min(0.0, start_cap)) if capped else NAN
        copay = head["copay"]
        for keys in _SHARE_KEYS:
            a = head[keys[0]]
            d = _min(a, deductible_left)
            c = coinsurance * (a - d)
            before_cap = _min(a, copay + d + c)
            _store_share(head, keys, a, deductible_left, d, c, before_cap, cap_left, capped, self_pay)
        return
    copays = [0.0] * len(rows)
    copays[order[0]] = head["copay"]
    for keys in _SHARE_KEYS:
        amounts = [r[keys[0]] for r in rows]
        before_a = _running(amounts, order)
        parts = []
        for i, a in enumerate(amounts):
            deductible_left = _max(0.0, start_deductible - _min(before_a[i], start_deductible))
            d = _min(a, deductible_left)
            c = coinsurance * (a - d)
            parts.append((deductible_left, d, c, _min(a, copays[i] + d + c)))
        before_p = _running([part[3] for part in parts], order)
        for i, (r, a, (deductible_left, d, c, before_cap)) in enumerate(zip(rows, amounts, parts, strict=True)):
            cap_left = _max(0.0, start_cap - _min(before_p[i], start_cap)) if capped else NAN
            _store_share(r, keys, a, deductible_left, d, c, before_cap, cap_left, capped, self_pay)


def _prior_authorization(r, schedules):
    """Step 9 (the engine's ``prior_authorization``)."""
    rules = schedules.lists["prior_auth"]
    chosen = _lookup(schedules.rule_index, [r[f] for f in RULE_FIELDS], r["period_start"])
    found = chosen >= 0 and not r["self_pay"] and len(rules["status"]) > 0
    if r["self_pay"]:
        status, reason = "not_applicable", SELF_PAY_REASON
    else:
        status = rules["status"][chosen] if found else "unknown"
        reason = rules["reason"][chosen] if found else NO_RULE_REASON
    r["pa_status"] = status
    r["pa_crd_code"] = CRD_CODES.get(status)
    r["pa_reason"] = reason
    r["pa_documentation"] = rules["documentation"][chosen] if found else ""
    r["pa_source"] = rules["source"][chosen] if found else ""


def _warnings(r, codes, today):
    """The warning flags and text (the engine's ``_addon_notes``, ``_warning_flags`` and ``_warning_text``);
    ``codes`` are the codes of the encounter's lines."""
    addon_note = ""
    if r["addon_to"]:
        primaries = r["addon_to"].split()
        if not any(code in codes for code in primaries):
            addon_note = (
                f"Add-on code {r['cpt_code']} is billed with {' or '.join(primaries)}, which this visit does "
                "not include."
            )
    self_pay = r["self_pay"]
    flags = 0
    conditions = (
        (engine.NO_REGION, r["region_id"] == ""),
        (engine.DEFAULT_DATE, not r["date_given"]),
        (engine.BASELINE_FALLBACK, r["professional_fallback"]),
        (engine.NO_FACILITY_RATE, r["setting"] in FACILITY_SETTINGS and not r["facility_priced"]),
        (engine.BILATERAL_ONE_SIDE, r["bilateral"] and r["bilateral_indicator"] == 0),
        (engine.OON_NOT_COVERED, r["oon_applied"] and not r["oon_covered"]),
        (engine.OON_BILLED, r["oon_applied"]),
        (engine.PA_UNKNOWN, r["pa_status"] == "unknown"),
        (engine.MULTIPLE_REDUCED, r["reduction_factor"] < 1),
    )
    for bit, holds in conditions:
        if holds:
            flags |= bit
    benefits_given = False
    for field, bit in engine.DEFAULTED.items():
        if r[f"defaulted_{field}"] and not self_pay:
            flags |= bit
        benefits_given |= not r[f"defaulted_{field}"]
    if self_pay and (r["network"] == "out" or benefits_given):
        flags |= engine.SELF_PAY_IGNORED
    r["addon_note"] = addon_note
    r["warning_flags"] = flags
    notes = (r["professional_note"], r["facility_note"], addon_note)
    r["warnings"] = MESSAGE_SEPARATOR.join(engine._messages(flags, notes, today))


def estimate_row(fields, schedules, today):
    """The engine's row for one request given as text cells, or None (not valid, or not finite).

    Parameters
    ----------
    fields : mapping of str to str
        Request fields (SPEC section 3) as text, only known field names.
    schedules : Schedules
    today : datetime.date
        The date of service when none is given.
    """
    rows = estimate_lines([fields], schedules, today)
    return rows[0] if rows is not None else None


def estimate_lines(lines, schedules, today):
    """The engine's rows for the lines of one encounter (SPEC section 7), or None (a line not valid, or
    figures not finite). Each line is a mapping of request field to text, the shared fields repeated."""
    rows = []
    for fields in lines:
        r = _intake(fields, schedules, today)
        if r is None:
            return None
        _context(r, schedules)
        if r["bilateral"] and r["bilateral_indicator"] == 9:
            return None
        _price(r, schedules, "professional")
        _price(r, schedules, "facility")
        r["unit_fee"] = (r["professional_expected"] + r["facility_expected"]) / r["units"]
        rows.append(r)
    # E1-E2: the top eligible line by unit fee keeps its first unit at 100 %.
    eligible = [r["multiple_procedure_indicator"] == 2 and r["addon_to"] == "" for r in rows]
    ranked = sorted((i for i, e in enumerate(eligible) if e), key=lambda i: (-rows[i]["unit_fee"], i))
    top = ranked[0] if ranked else -1
    for i, r in enumerate(rows):
        units, factor = r["units"], r["multiple_procedure_factor"]
        if not eligible[i]:
            factor = 1.0
        elif i == top:
            factor = (1.0 + (units - 1) * factor) / units
        r["reduction_factor"] = factor
        for component in ("professional", "facility"):
            for name, _ in _PRICE_KEYS[component]:
                r[name] = r[name] * factor
        for in_network, professional, facility in _IN_NETWORK_KEYS:
            r[in_network] = r[professional] + r[facility]
        _out_of_network(r)
        _benefits(r, schedules)
        _prior_authorization(r, schedules)
        r["encounter"] = 0
    order = sorted(range(len(rows)), key=lambda i: (-rows[i]["unit_fee"], i))
    _share(rows, order)
    if rows[0]["self_pay"]:
        status = "not_applicable"
    else:
        status = min((r["pa_status"] for r in rows), key=lambda s: _STATUS_RANK.get(s, len(_STATUS_RANK)))
        status = status if status in _STATUS_RANK else "not_applicable"
    codes = {r["cpt_code"] for r in rows}
    floor = math.floor
    for r in rows:
        r["encounter_pa_status"] = status
        _warnings(r, codes, today)
        r["good_faith_estimate"] = r["self_pay"]
        for name in _MONEY:
            x = r[name]
            if 0.0 < x < 1e300:  # round_cents for a positive amount: no sign to restore, no -0.0 to clear
                r[name] = floor(round(x * 100.0 * 1e6) / 1e6 + 0.5) / 100.0
            else:
                r[name] = round_cents(x)
        for share, balance, allowed, patient, payer in _SHARES:
            r[patient] = round_cents(r[share] + r[balance])
            r[payer] = round_cents(r[allowed] - r[share])
        if not math.isfinite(sum([r[name] for name, _ in _TOTALS])):  # a NaN or an infinity, or too large
            return None  # the vectorised path refuses it (or, if only the sum overflowed, answers it)
        r["date_of_service"] = dt.date.fromordinal(r["date_of_service"] + _ISO_EPOCH).isoformat()
        r["valid"], r["error"] = True, ""
    for name, total in _TOTALS:  # E5: sums of the lines' rounded figures, added in line order
        if len(rows) == 1:
            value = rows[0][name]
        else:
            value = 0.0
            for r in rows:
                value += r[name]
            value = round_cents(value)
        for r in rows:
            r[total] = value
    return rows
