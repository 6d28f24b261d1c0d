"""Allowed amounts: rate rows, basis, region, modifiers, units and out of network (SPEC section 4, steps 1-7).

Each function takes ``ops`` (:mod:`.arith`: numpy arrays for a batch, Python values for one request) and
the working columns of the lines, ``r`` (the request fields with the procedure, payer and region columns
joined), and sets new columns in ``r``. Money is in US dollars, unrounded.
"""

import math

from .arith import formula
from .glossary import levels
from .money import dollars

#: Payment factor for a bilateral request by bilateral indicator 0-9 (SPEC step 5); 9 is refused at intake.
BILATERAL_FACTOR = {0: 1.0, 1: 1.5, 2: 1.0, 3: 2.0}
_FACTOR_BY_INDICATOR = [BILATERAL_FACTOR.get(i, 1.0) for i in range(10)]
FACILITY_SETTINGS = ("asc", "hospital_outpatient")
BASELINES = ("baseline_low", "baseline_typical", "baseline_high")
NAN = math.nan


def rate_case(r, component):
    """The case a component's rate row is found for, and what the case meets (step 1).

    The case is (payer, component, code, region, setting), the order of ``schedules.RATE_FIELDS``; it
    meets (RVUs for its setting, a baseline range), the order of the needs ``schedules`` builds: a rate on
    the rvu basis applies only to a code with RVUs, a ``*``-code rate on the baseline basis only to a code
    with a baseline range (SPEC section 2).
    """
    return (r["payer_id"], component, r["cpt_code"], r["region_id"], r["setting"]), (r["has_rvu"], r["has_baseline"])


def in_facility(setting):
    """Whether a setting bills a facility fee (an ASC or a hospital outpatient department)."""
    return (setting == "asc") | (setting == "hospital_outpatient")


@formula
def component_applies(ops, r, component):
    """Step 1: the professional component is always priced, the facility one only in a facility setting."""
    return in_facility(r["setting"]) if component == "facility" else ops.fill(r["setting"], True)


@formula
def practice_expense(ops, r):
    """The practice-expense RVUs of the setting: non-facility in the office, facility elsewhere."""
    return ops.where(r["setting"] == "office", r["pe_rvu_nonfacility"], r["pe_rvu_facility"])


@formula
def rvu_total(ops, r):
    """GPCI-adjusted RVUs: work x gpci_work + pe x gpci_pe + mp x gpci_mp (step 3, the rvu basis)."""
    return r["work_rvu"] * r["gpci_work"] + practice_expense(ops, r) * r["gpci_pe"] + r["mp_rvu"] * r["gpci_mp"]


@formula
def modifier_factor(ops, r):
    """Step 5: the payment factor of the modifiers. Needs ``bilateral`` and ``bilateral_indicator``."""
    return ops.where(r["bilateral"], ops.take(_FACTOR_BY_INDICATOR, r["bilateral_indicator"]), 1.0)


@formula
def price_component(ops, r, rates, row, carried, component):
    """Steps 1 to 6 for one component: the rate row at position ``row`` of ``rates`` (-1: none), its basis,
    the region, the modifiers and the units. ``carried`` says the row ended before the date of service
    and is carried forward (step 2).

    Sets ``{component}_priced`` (bool), ``_fallback`` (the professional fee on the national baseline
    range because the payer has no row), ``_carried``, ``_rate_end`` (day number), ``_basis``,
    ``_value``, ``_region_factor``, ``_rvus`` (GPCI-adjusted, rvu basis only), ``_note`` and ``_low``,
    ``_expected``, ``_high``. Needs the ``context`` columns and ``modifier_factor``.
    """
    found = row >= 0
    basis = rates["basis"][row]
    value = rates["value"][row]
    star_region = rates["region_id"][row] == "*"
    if component == "professional":
        priced = ops.fill(found, True)
        fallback = ops.not_(found)
        basis = ops.where(fallback, "baseline", basis)
        value = ops.where(fallback, 1.0, value)
    else:
        priced = found
        fallback = ops.fill(found, False)
    is_rvu = basis == "rvu"
    rvus = ops.where(is_rvu, rvu_total(ops, r), NAN)
    region_factor = ops.where(ops.not_(is_rvu) & star_region, r["geo_factor"], 1.0)
    scale = region_factor * r["modifier_factor"] * r["units"]
    names = _COMPONENT_NAMES[component]
    r[names["priced"]] = priced
    r[names["fallback"]] = fallback
    r[names["carried"]] = carried & found
    r[names["rate_end"]] = rates["effective_to"][row]
    r[names["basis"]] = ops.where(priced, basis, None)
    r[names["value"]] = ops.where(priced, value, NAN)
    r[names["region_factor"]] = ops.where(priced, region_factor, NAN)
    r[names["rvus"]] = ops.where(priced, rvus, NAN)
    r[names["note"]] = ops.where(priced, rates["note"][row], "")
    is_baseline = basis == "baseline"
    # amount: the global service's figure, times the row's share of its RVUs for a 26 or TC line (section 11);
    # a component row's baseline range is already its share of the global range (see schedules).
    per_unit = ops.where(is_rvu, rvus, r["rvu_share"]) * value
    for name, baseline in zip(names["levels"], BASELINES, strict=True):
        unit_amount = ops.where(is_baseline, r[baseline] * value, per_unit)
        r[name] = ops.where(priced, unit_amount * scale, 0.0)


#: Per component, the names of the columns :func:`price_component` sets.
_COMPONENT_NAMES = {
    component: {
        **{key: f"{component}_{key}" for key in ("priced", "fallback", "carried", "rate_end", "basis", "value")},
        **{key: f"{component}_{key}" for key in ("region_factor", "rvus", "note")},
        "levels": levels(component),
    }
    for component in ("professional", "facility")
}


@formula
def cannot_price(ops, r):
    """Step 2: the professional fee falls back on the national range, and the code has none (a 422)."""
    return r["professional_fallback"] & ops.not_(r["has_baseline"])


@formula
def apply_reduction(ops, r):
    """E2: both components after the line's ``reduction_factor``, rounded to cents (step 10's rule), and the
    in-network allowed amount ``in_network_*`` (``A`` before step 7), their sum: the fees an estimate shows
    add up to its allowed amount to the cent."""
    factor = r["reduction_factor"]
    whole = ops.cents_many([r[name] * factor for names in _REDUCED for name in names[:2]])
    for i, (professional, facility, in_network) in enumerate(_REDUCED):
        whole_professional, whole_facility = whole[2 * i], whole[2 * i + 1]
        r[professional] = dollars(whole_professional)
        r[facility] = dollars(whole_facility)
        r[in_network] = dollars(whole_professional + whole_facility)


_REDUCED = tuple(zip(levels("professional"), levels("facility"), levels("in_network"), strict=True))


@formula
def out_of_network(ops, r):
    """Step 7 (E3): the allowed amount and balance bill out of network, for each level.

    Needs ``network``, ``self_pay``, ``oon_factor``, ``balance_billing``, ``geo_factor``,
    ``modifier_factor``, ``units``, the baseline columns and ``in_network_*``. Sets ``oon_applied``,
    ``oon_covered``, ``billed_*``, ``allowed_*`` and ``balance_billing_*``. The billed charge is not
    reduced by E2.
    """
    applied = (r["network"] == "out") & ops.not_(r["self_pay"])
    factor = r["oon_factor"]
    covered = ops.not_(ops.isnan(factor))
    scale = r["geo_factor"] * r["modifier_factor"] * r["units"]
    r["oon_applied"] = applied
    r["oon_covered"] = applied & covered
    balance_billing = r["balance_billing"]
    # A code with no baseline range: the billed charge is unknown, and so is any balance bill (shown as 0,
    # with a warning).
    known = r["has_baseline"]
    r["oon_billed_unknown"] = applied & ops.not_(known)
    for in_network, baseline, billed_name, allowed_name, balance_name in _OUT_OF_NETWORK:
        a = r[in_network]
        billed = r[baseline] * scale
        oon_allowed = ops.where(covered, a * factor, 0.0)
        balance = ops.where(covered, ops.where(balance_billing, ops.maximum(0.0, billed - oon_allowed), 0.0), billed)
        balance = ops.where(known, balance, 0.0)
        r[billed_name] = ops.where(applied, billed, NAN)
        r[allowed_name] = ops.where(applied, oon_allowed, a)
        r[balance_name] = ops.where(applied, balance, 0.0)


_OUT_OF_NETWORK = tuple(
    zip(levels("in_network"), BASELINES, levels("billed"), levels("allowed"), levels("balance_billing"), strict=True)
)
