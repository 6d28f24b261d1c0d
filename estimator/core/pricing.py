"""Allowed amounts: rate rows, basis, region, modifiers, units and out of network (SPEC section 4, steps 1-7).

Every function takes the engine's working columns (a dict of equal-length numpy arrays, one entry per
valid request, with the procedure, payer and region columns joined) and returns new columns; none
mutates its input. Money is in US dollars, unrounded.
"""

import numpy as np

from .glossary import LEVELS
from .matching import distinct

#: Payment factor for a bilateral request by bilateral indicator (SPEC step 5); 9 is refused at intake.
BILATERAL_FACTOR = {0: 1.0, 1: 1.5, 2: 1.0, 3: 2.0}
_FACTOR_BY_INDICATOR = np.array([BILATERAL_FACTOR.get(i, 1.0) for i in range(10)])
FACILITY_SETTINGS = ("asc", "hospital_outpatient")


def in_facility(setting):
    """Rows whose setting bills a facility fee (an ASC or a hospital outpatient department)."""
    return (setting == "asc") | (setting == "hospital_outpatient")


BASELINES = ("baseline_low", "baseline_typical", "baseline_high")
RATE_KEYS = ("payer_id", "cpt_code", "region_id", "setting", "period", "has_rvu")


def rvu_total(work):
    """GPCI-adjusted RVUs: work x gpci_work + pe x gpci_pe + mp x gpci_mp.

    Needs ``work_rvu``, ``pe_rvu_nonfacility``, ``pe_rvu_facility``, ``mp_rvu``, ``setting`` and the
    region's ``gpci_work``, ``gpci_pe``, ``gpci_mp``; the non-facility PE applies in the office.
    """
    pe = np.where(work["setting"] == "office", work["pe_rvu_nonfacility"], work["pe_rvu_facility"])
    return work["work_rvu"] * work["gpci_work"] + pe * work["gpci_pe"] + work["mp_rvu"] * work["gpci_mp"]


def select_rates(work, schedules, component):
    """Position in ``schedules.rates`` of the rate row for ``component`` of each request, or -1.

    Needs ``payer_id``, ``cpt_code``, ``setting``, ``region_id``, ``period`` and ``has_rvu`` (whether
    the code has the RVUs its setting needs): a ``*``-code row on the ``rvu`` basis is skipped for a
    code without them (SPEC step 1 and section 2).
    """
    index = schedules.rate_index
    component_column = np.full(len(work["payer_id"]), component, dtype=object)
    fields = index.canonical([work["payer_id"], component_column, work["cpt_code"], work["region_id"], work["setting"]])
    group, first = distinct(*fields, work["period"], work["has_rvu"])
    has_rvu = work["has_rvu"][first]
    is_rvu = schedules.arrays["rates"]["basis"] == "rvu"

    def keep(case, rows):
        return ~is_rvu[rows] | has_rvu[case]

    chosen = index.lookup([f[first] for f in fields], schedules.period_start(work["period"][first]), keep)
    return chosen[group]


def _take(values, row, found, fill):
    """``values[row]`` where ``found``, else ``fill`` (also when there are no rate rows at all)."""
    if not len(values):
        return np.full(len(row), fill, dtype=object if fill is None or isinstance(fill, str) else "float64")
    return np.where(found, values[np.maximum(row, 0)], fill)


def price_component(work, schedules, component):
    """Price one component of each request through steps 1 to 6 (units included).

    Returns columns ``{component}_priced`` (bool), ``_fallback`` (bool: baseline used because the payer
    has no professional row), ``_basis``, ``_value``, ``_region_factor``, ``_rvus`` (GPCI-adjusted, rvu
    basis only), ``_note`` and ``_low``, ``_expected``, ``_high``.
    """
    if component == "professional":
        row = select_rates(work, schedules, component)
    else:  # a facility fee is priced only in a facility setting
        facility = in_facility(work["setting"])
        row = np.full(len(facility), -1, dtype="int64")
        if facility.any():
            subset = {k: work[k][facility] for k in RATE_KEYS}
            row[facility] = select_rates(subset, schedules, component)
    found = row >= 0
    rates = schedules.arrays["rates"]
    basis = _take(rates["basis"], row, found, None)
    value = _take(rates["value"], row, found, np.nan)
    star_region = _take(rates["region_id"], row, found, "*") == "*"
    note = _take(rates["note"], row, found, "")

    if component == "professional":
        priced = np.ones(len(row), dtype=bool)
        fallback = ~found
        basis = np.where(fallback, "baseline", basis)
        value = np.where(fallback, 1.0, value)
    else:
        priced = found
        fallback = np.zeros(len(row), dtype=bool)

    rvus = np.where(basis == "rvu", rvu_total(work), np.nan)
    region_factor = np.where((basis != "rvu") & star_region, work["geo_factor"], 1.0)
    scale = region_factor * work["modifier_factor"] * work["units"]
    out = {
        f"{component}_priced": priced,
        f"{component}_fallback": fallback,
        f"{component}_basis": np.where(priced, basis, None),
        f"{component}_value": np.where(priced, value, np.nan),
        f"{component}_region_factor": np.where(priced, region_factor, np.nan),
        f"{component}_rvus": np.where(priced, rvus, np.nan),
        f"{component}_note": np.where(priced, note, ""),
    }
    for level, baseline in zip(LEVELS, BASELINES, strict=True):
        unit_amount = np.where(basis == "baseline", work[baseline] * value, np.where(basis == "rvu", rvus, 1.0) * value)
        out[f"{component}_{level}"] = np.where(priced, unit_amount * scale, 0.0)
    return out


def modifier_factor(work):
    """Payment factor of the modifiers (SPEC step 5). Needs ``bilateral`` and ``bilateral_indicator``."""
    return np.where(work["bilateral"], _FACTOR_BY_INDICATOR[work["bilateral_indicator"]], 1.0)


def out_of_network(work, in_network):
    """Allowed amount and balance bill after step 7, for each level.

    Needs ``network``, ``self_pay``, ``oon_factor``, ``balance_billing``, ``geo_factor``,
    ``modifier_factor``, ``units`` and the baseline columns; ``in_network`` maps each level to ``A``.
    Returns ``oon_applied``, ``oon_covered``, and ``billed_*``, ``allowed_*``, ``balance_billing_*``.
    """
    applied = (work["network"] == "out") & ~work["self_pay"]
    factor = work["oon_factor"]
    covered = ~np.isnan(factor)
    scale = work["geo_factor"] * work["modifier_factor"] * work["units"]
    out = {"oon_applied": applied, "oon_covered": applied & covered}
    for level, baseline in zip(LEVELS, BASELINES, strict=True):
        a = in_network[level]
        billed = work[baseline] * scale
        oon_allowed = np.where(covered, a * factor, 0.0)
        balance = np.where(
            covered, np.where(work["balance_billing"], np.maximum(0.0, billed - oon_allowed), 0.0), billed
        )
        out[f"billed_{level}"] = np.where(applied, billed, np.nan)
        out[f"allowed_{level}"] = np.where(applied, oon_allowed, a)
        out[f"balance_billing_{level}"] = np.where(applied, balance, 0.0)
    return out
