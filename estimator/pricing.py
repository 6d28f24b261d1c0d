"""Allowed amounts: rate rows, basis, region, modifiers, units and out of network (SPEC section 4, steps 1-7).

Every function takes the working frame of the engine (one row per valid request, with the procedure,
payer and region columns joined) and returns new columns; none mutates its input. Money is in US
dollars, unrounded.
"""

import numpy as np
import pandas as pd

from .glossary import LEVELS
from .matching import case_ids, most_specific

RATE_FIELDS = ["cpt_code", "region_id", "setting"]
#: An exact code beats an exact region, which beats an exact setting (SPEC step 1).
RATE_WEIGHTS = [4, 2, 1]

#: Payment factor for a bilateral request by bilateral indicator (SPEC step 5); 9 is refused at intake.
BILATERAL_FACTOR = {0: 1.0, 1: 1.5, 2: 1.0, 3: 2.0}

FACILITY_SETTINGS = ("asc", "hospital_outpatient")


def rvu_total(work):
    """GPCI-adjusted RVUs: work x gpci_work + pe x gpci_pe + mp x gpci_mp.

    Needs ``work_rvu``, ``pe_rvu_nonfacility``, ``pe_rvu_facility``, ``mp_rvu``, ``setting`` and the
    region's ``gpci_work``, ``gpci_pe``, ``gpci_mp``; the non-facility PE applies in the office.
    """
    pe = np.where(work["setting"] == "office", work["pe_rvu_nonfacility"], work["pe_rvu_facility"])
    return (
        work["work_rvu"].to_numpy() * work["gpci_work"].to_numpy()
        + pe * work["gpci_pe"].to_numpy()
        + work["mp_rvu"].to_numpy() * work["gpci_mp"].to_numpy()
    )


def select_rates(work, schedules, component):
    """The rate row for ``component`` of each request, or -1 where the payer has none.

    Needs ``payer_id``, ``cpt_code``, ``setting``, ``region_id``, ``period`` and ``has_rvu`` (whether
    the code has the RVUs its setting needs). A ``*``-code row on the ``rvu`` basis is skipped for a
    code without them.
    """
    rates = schedules.rates
    table = rates.loc[rates["component"] == component]
    keys = ["payer_id", "cpt_code", "setting", "region_id", "period", "has_rvu"]
    per_row, cases = case_ids(work, keys)
    cases["day"] = schedules.period_start(cases["period"].to_numpy())

    def keep(cand):
        return (cand["basis"] != "rvu").to_numpy() | cand["has_rvu"].to_numpy(bool)

    chosen = np.full(len(cases), -1, dtype="int64")
    for payer, group in cases.groupby("payer_id", sort=False):
        rows = table.loc[table["payer_id"] == payer]
        if rows.empty:
            continue
        picked = most_specific(group, rows, RATE_FIELDS, RATE_WEIGHTS, keep)
        positions = rows.index.to_numpy()
        chosen[group.index.to_numpy()] = np.where(picked >= 0, positions[np.maximum(picked, 0)], -1)
    return chosen[per_row]


def price_component(work, schedules, component):
    """Price one component of each request through steps 1 to 6 (units included).

    Returns a frame with ``{component}_priced`` (bool), ``_fallback`` (bool: baseline used because the
    payer has no professional row), ``_basis``, ``_value``, ``_region_factor``, ``_rvus`` (GPCI-adjusted,
    rvu basis only), ``_note`` and ``_low``, ``_expected``, ``_high``.
    """
    row = select_rates(work, schedules, component)
    found = row >= 0
    rates = schedules.rates
    take = np.maximum(row, 0)
    basis = np.where(found, rates["basis"].to_numpy(object)[take], None)
    value = np.where(found, rates["value"].to_numpy()[take], np.nan)
    star_region = np.where(found, rates["region_id"].to_numpy(object)[take] == "*", True)
    note = np.where(found, rates["note"].to_numpy(object)[take], "")

    if component == "professional":
        priced = np.ones(len(work), dtype=bool)
        fallback = ~found
        basis = np.where(fallback, "baseline", basis)
        value = np.where(fallback, 1.0, value)
    else:
        priced = found & work["setting"].isin(FACILITY_SETTINGS).to_numpy()
        fallback = np.zeros(len(work), dtype=bool)

    rvus = np.where(basis == "rvu", rvu_total(work), np.nan)
    region_factor = np.where((basis != "rvu") & star_region, work["geo_factor"].to_numpy(), 1.0)
    scale = region_factor * work["modifier_factor"].to_numpy() * work["units"].to_numpy()
    out = {
        f"{component}_priced": priced,
        f"{component}_fallback": fallback,
        f"{component}_basis": np.where(priced, basis, None),
        f"{component}_value": np.where(priced, value, np.nan),
        f"{component}_region_factor": np.where(priced, region_factor, np.nan),
        f"{component}_rvus": np.where(priced, rvus, np.nan),
        f"{component}_note": np.where(priced, note, ""),
    }
    for level, baseline in zip(LEVELS, ("baseline_low", "baseline_typical", "baseline_high"), strict=True):
        unit_amount = np.select(
            [basis == "amount", basis == "baseline", basis == "rvu"],
            [value, work[baseline].to_numpy() * value, rvus * value],
            default=np.nan,
        )
        out[f"{component}_{level}"] = np.where(priced, unit_amount * scale, 0.0)
    return pd.DataFrame(out, index=work.index)


def modifier_factor(work):
    """Payment factor of the modifiers (SPEC step 5). Needs ``bilateral`` and ``bilateral_indicator``."""
    indicator = work["bilateral_indicator"].to_numpy()
    factor = np.select([indicator == k for k in BILATERAL_FACTOR], list(BILATERAL_FACTOR.values()), 1.0)
    return np.where(work["bilateral"].to_numpy(bool), factor, 1.0)


def out_of_network(work, in_network):
    """Allowed amount and balance bill after step 7, for each level.

    Needs ``network``, ``self_pay``, ``oon_factor``, ``balance_billing``, ``geo_factor``,
    ``modifier_factor``, ``units`` and the baseline columns; ``in_network`` holds ``A`` per level.
    Returns a frame with ``oon_applied``, ``oon_covered``, ``billed_*``, ``allowed_*`` and
    ``balance_billing_*`` per level.
    """
    applied = (work["network"] == "out").to_numpy() & ~work["self_pay"].to_numpy(bool)
    factor = work["oon_factor"].to_numpy()
    covered = ~np.isnan(factor)
    may_bill = work["balance_billing"].to_numpy(bool)
    scale = work["geo_factor"].to_numpy() * work["modifier_factor"].to_numpy() * work["units"].to_numpy()
    out = {"oon_applied": applied, "oon_covered": applied & covered}
    for level, baseline in zip(LEVELS, ("baseline_low", "baseline_typical", "baseline_high"), strict=True):
        a = in_network[level]
        billed = work[baseline].to_numpy() * scale
        oon_allowed = np.where(covered, a * np.nan_to_num(factor), 0.0)
        balance = np.where(covered, np.where(may_bill, np.maximum(0.0, billed - oon_allowed), 0.0), billed)
        out[f"billed_{level}"] = np.where(applied, billed, np.nan)
        out[f"allowed_{level}"] = np.where(applied, oon_allowed, a)
        out[f"balance_billing_{level}"] = np.where(applied, balance, 0.0)
    return pd.DataFrame(out, index=work.index)
