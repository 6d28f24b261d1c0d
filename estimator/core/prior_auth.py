"""Prior-authorization flag from the rules in effect (SPEC section 4, step 9)."""

import numpy as np

from .glossary import CRD_CODES
from .matching import distinct
from .schedules import RULE_FIELDS

SELF_PAY_REASON = "Self-pay: no insurer is involved, so there is no prior authorization."
NO_RULE_REASON = (
    "No prior-authorization rule on file for this payer, code and setting: ask the payer whether approval is needed."
)


def prior_authorization(work, schedules):
    """The prior-authorization answer of each request.

    Needs ``payer_id``, ``cpt_code``, ``setting``, ``network``, ``state`` (``""`` with no region: only
    ``*`` rules match), ``period`` and ``self_pay``.

    Returns
    -------
    dict of numpy.ndarray
        ``pa_status`` (``required``, ``not_required``, ``conditional``, ``unknown`` or
        ``not_applicable``), ``pa_crd_code`` (None where no CRD code applies), ``pa_reason``,
        ``pa_documentation``, ``pa_source``.
    """
    fields = schedules.rule_index.canonical([work[f] for f in RULE_FIELDS])
    group, first = distinct(*fields, work["period"])
    day = schedules.period_start(work["period"][first])
    chosen = schedules.rule_index.lookup([f[first] for f in fields], day)[group]
    rules = schedules.arrays["prior_auth"]
    found = (chosen >= 0) & ~work["self_pay"]
    take = np.maximum(chosen, 0)

    def column(name, missing):
        if not len(rules[name]):
            return np.full(len(chosen), missing, dtype=object)
        return np.where(found, rules[name][take], missing)

    status = np.where(work["self_pay"], "not_applicable", column("status", "unknown")).astype(object)
    reason = np.where(work["self_pay"], SELF_PAY_REASON, column("reason", NO_RULE_REASON))
    crd = np.array([CRD_CODES.get(s) for s in ("required", "not_required", "conditional")] + [None], dtype=object)
    crd_position = np.select([status == "required", status == "not_required", status == "conditional"], [0, 1, 2], 3)
    return {
        "pa_status": status,
        "pa_crd_code": crd[crd_position],
        "pa_reason": reason,
        "pa_documentation": column("documentation", ""),
        "pa_source": column("source", ""),
    }
