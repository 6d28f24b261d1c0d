"""Patient and payer shares of the allowed amount (SPEC section 4, step 8)."""

import numpy as np
import pandas as pd

from .glossary import BENEFIT_FIELDS, LEVELS
from .matching import case_ids, most_specific


def resolve_benefits(work, schedules):
    """The benefits each request is estimated with, and which came from the payer's defaults.

    A field the request gives wins; otherwise the payer's benefit period in effect on the date of
    service (``benefit_periods.csv``, where it gives that field); otherwise the payer's default in
    ``payers.csv``. Needs ``payer_id``, ``period`` and the request's benefit columns (NaN = not given).

    Returns
    -------
    pandas.DataFrame
        ``deductible``, ``coinsurance``, ``copay``, ``oop_max`` (NaN = no cap), and ``defaulted_<field>``
        (bool) for each.
    """
    per_row, cases = case_ids(work, ["payer_id", "period"])
    cases["day"] = schedules.period_start(cases["period"].to_numpy())
    periods = schedules.benefit_periods
    chosen = most_specific(cases, periods, ["payer_id"], [1])[per_row]
    found = chosen >= 0
    take = np.maximum(chosen, 0)
    payers = schedules.payers.reindex(work["payer_id"])
    out = {}
    for field in BENEFIT_FIELDS:
        given = work[field].to_numpy()
        from_period = np.where(found, periods[field].to_numpy()[take] if len(periods) else np.nan, np.nan)
        default = np.where(np.isnan(from_period), payers[field].to_numpy(), from_period)
        out[field] = np.where(np.isnan(given), default, given)
        out[f"defaulted_{field}"] = np.isnan(given)
    return pd.DataFrame(out, index=work.index)


def share_costs(allowed, balance, benefits, self_pay):
    """Split each level of the allowed amount between patient and payer.

    Parameters
    ----------
    allowed, balance : dict of level -> numpy.ndarray
        The allowed amount ``A`` and the balance bill per level, in dollars.
    benefits : pandas.DataFrame
        ``deductible``, ``coinsurance``, ``copay``, ``oop_max`` (NaN = no cap), ``deductible_met``,
        ``oop_met``.
    self_pay : numpy.ndarray of bool
        Rows where the patient pays ``A`` whatever the benefits.

    Returns
    -------
    pandas.DataFrame
        Per level: ``deductible_part``, ``coinsurance_part``, ``copay_part``, ``cap_reduction``
        (they add up to the patient's share of ``A``), ``patient`` (balance bill included) and ``payer``.
    """
    remaining_deductible = np.maximum(0.0, benefits["deductible"].to_numpy() - benefits["deductible_met"].to_numpy())
    coinsurance = benefits["coinsurance"].to_numpy()
    copay = benefits["copay"].to_numpy()
    oop_max = benefits["oop_max"].to_numpy()
    cap_room = np.maximum(0.0, oop_max - benefits["oop_met"].to_numpy())  # NaN where there is no cap
    out = {}
    for level in LEVELS:
        a = allowed[level]
        d = np.minimum(a, remaining_deductible)
        c = coinsurance * (a - d)
        before_cap = np.minimum(a, copay + d + c)
        p = np.where(np.isnan(cap_room), before_cap, np.minimum(before_cap, cap_room))
        p = np.where(self_pay, a, p)
        out[f"deductible_part_{level}"] = np.where(self_pay, 0.0, d)
        out[f"coinsurance_part_{level}"] = np.where(self_pay, 0.0, c)
        out[f"copay_part_{level}"] = np.where(self_pay, 0.0, np.maximum(0.0, before_cap - d - c))
        out[f"cap_reduction_{level}"] = np.where(self_pay, 0.0, before_cap - p)
        out[f"patient_{level}"] = p + balance[level]
        out[f"payer_{level}"] = a - p
    return pd.DataFrame(out, index=benefits.index)
