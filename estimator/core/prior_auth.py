"""Prior-authorization flag from the rules in effect (SPEC section 4, step 9)."""

from .arith import formula
from .glossary import CRD_CODES, NO_RULE_REASON

__all__ = ["NO_RULE_REASON", "SELF_PAY_REASON", "prior_authorization", "rule_case"]

SELF_PAY_REASON = "Self-pay: no insurer is involved, so there is no prior authorization."


def rule_case(r):
    """The case a prior-authorization rule is found for: (payer, code, setting, network, state), the order
    of ``schedules.RULE_FIELDS`` (``state`` is ``""`` with no region: only ``*`` rules match it)."""
    return (r["payer_id"], r["cpt_code"], r["setting"], r["network"], r["state"])


@formula
def prior_authorization(ops, r, rules, row):
    """The prior-authorization answer of each line, from the rule at position ``row`` of ``rules`` (-1:
    no rule matches, whose absent row says ``unknown``). Rules are never carried forward: a program that
    ended no longer applies. Needs ``self_pay``.

    Sets ``pa_status`` (``required``, ``not_required``, ``conditional``, ``unknown`` or
    ``not_applicable``), ``pa_crd_code`` (None where no CRD code applies), ``pa_reason``,
    ``pa_documentation`` and ``pa_source``.
    """
    self_pay = r["self_pay"]
    status = ops.where(self_pay, "not_applicable", rules["status"][row])
    r["pa_status"] = status
    r["pa_crd_code"] = ops.each(CRD_CODES.get, status)
    r["pa_reason"] = ops.where(self_pay, SELF_PAY_REASON, rules["reason"][row])
    r["pa_documentation"] = ops.where(self_pay, "", rules["documentation"][row])
    r["pa_source"] = ops.where(self_pay, "", rules["source"][row])
