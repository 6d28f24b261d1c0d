"""Prior-authorization flag from the rules in effect (SPEC section 4, step 9)."""

import numpy as np
import pandas as pd

from .glossary import CRD_CODES
from .matching import case_ids, most_specific

RULE_FIELDS = ["payer_id", "cpt_code", "setting", "network", "state"]
#: Each exact field counts one: the rule with the most exact fields wins.
RULE_WEIGHTS = [1, 1, 1, 1, 1]


def prior_authorization(work, schedules):
    """The prior-authorization answer of each request.

    Needs ``payer_id``, ``cpt_code``, ``setting``, ``network``, ``state`` (``""`` with no region: only
    ``*`` rules match), ``period`` and ``self_pay``.

    Returns
    -------
    pandas.DataFrame
        ``pa_status`` (``required``, ``not_required``, ``conditional``, ``unknown`` or
        ``not_applicable``), ``pa_crd_code`` (None where no CRD code applies), ``pa_reason``,
        ``pa_documentation``, ``pa_source``.
    """
    per_row, cases = case_ids(work, [*RULE_FIELDS, "period"])
    cases["day"] = schedules.period_start(cases["period"].to_numpy())
    rules = schedules.prior_auth
    chosen = most_specific(cases, rules, RULE_FIELDS, RULE_WEIGHTS)[per_row]
    found = chosen >= 0
    take = np.maximum(chosen, 0)
    self_pay = work["self_pay"].to_numpy(bool)

    def column(name, missing):
        values = rules[name].to_numpy(object)[take] if len(rules) else np.full(len(work), missing, dtype=object)
        return np.where(found & ~self_pay, values, missing)

    status = np.where(self_pay, "not_applicable", np.where(found, column("status", "unknown"), "unknown"))
    reason = np.where(
        self_pay,
        "Self-pay: no insurer is involved, so there is no prior authorization.",
        np.where(
            found,
            column("reason", ""),
            "No prior-authorization rule on file for this payer, code and "
            "setting: ask the payer whether approval is needed.",
        ),
    )
    return pd.DataFrame(
        {
            "pa_status": status,
            "pa_crd_code": pd.Series(status, index=work.index).map(CRD_CODES).to_numpy(object),
            "pa_reason": reason,
            "pa_documentation": column("documentation", ""),
            "pa_source": column("source", ""),
        },
        index=work.index,
    )
