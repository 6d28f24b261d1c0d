"""Patient and payer shares of the allowed amount (SPEC section 4, step 8)."""

import numpy as np

from .glossary import BENEFIT_FIELDS, LEVELS
from .matching import distinct


def resolve_benefits(work, schedules):
    """The benefits each request is estimated with, and which came from the payer's defaults.

    A field the request gives wins; otherwise the payer's benefit period in effect on the date of
    service (``benefit_periods.csv``, where it gives that field); otherwise the payer's default in
    ``payers.csv``. Needs ``payer_id``, ``period``, ``payer_position`` and the request's benefit columns
    (NaN = not given).

    Returns
    -------
    dict of numpy.ndarray
        ``deductible``, ``coinsurance``, ``copay``, ``oop_max`` (NaN = no cap), and ``defaulted_<field>``
        (bool) for each.
    """
    group, first = distinct(work["payer_id"], work["period"])
    chosen = schedules.benefit_index.lookup([work["payer_id"][first]], schedules.period_start(work["period"][first]))[
        group
    ]
    found = chosen >= 0
    take = np.maximum(chosen, 0)
    periods, payers = schedules.arrays["benefit_periods"], schedules.arrays["payers"]
    out = {}
    for field in BENEFIT_FIELDS:
        given = work[field]
        from_period = periods[field][take] if len(periods[field]) else np.full(len(take), np.nan)
        from_period = np.where(found, from_period, np.nan)
        default = np.where(np.isnan(from_period), payers[field][work["payer_position"]], from_period)
        out[field] = np.where(np.isnan(given), default, given)
        out[f"defaulted_{field}"] = np.isnan(given)
    return out


def share_costs(allowed, balance, benefits, self_pay):
    """Split each level of the allowed amount between patient and payer.

    Parameters
    ----------
    allowed, balance : dict of level -> numpy.ndarray
        The allowed amount ``A`` and the balance bill per level, in dollars.
    benefits : dict of numpy.ndarray
        ``deductible``, ``coinsurance``, ``copay``, ``oop_max`` (NaN = no cap), ``deductible_met``,
        ``oop_met``.
    self_pay : numpy.ndarray of bool
        Rows where the patient pays ``A`` whatever the benefits.

    Returns
    -------
    dict of numpy.ndarray
        Per level: ``deductible_part``, ``coinsurance_part``, ``copay_part``, ``cap_reduction``
        (``deductible_part + coinsurance_part + copay_part - cap_reduction`` is the patient's share of
        ``A``), ``patient`` (balance bill included) and ``payer``.
    """
    remaining_deductible = np.maximum(0.0, benefits["deductible"] - benefits["deductible_met"])
    coinsurance = benefits["coinsurance"]
    copay = benefits["copay"]
    cap_room = np.maximum(0.0, benefits["oop_max"] - benefits["oop_met"])  # NaN where there is no cap
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
    return out
