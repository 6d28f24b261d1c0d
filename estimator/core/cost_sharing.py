"""The benefits a request is estimated with, and the patient's and payer's shares of the allowed amount
(SPEC section 4, step 8, and section 7, E4), over the numbers of :mod:`.arith`."""

from .arith import formula
from .glossary import BENEFIT_FIELDS, LEVELS


@formula
def resolve_benefits(ops, r, periods, payers, row, carried):
    """The benefits each line is estimated with, and which came from the payer's defaults.

    A field the request gives wins; otherwise the payer's benefit period (``benefit_periods.csv``, at
    position ``row``, -1 for none; ``carried``: one that ended before the date of service, step 2) where
    it gives that field; otherwise the payer's default in ``payers.csv``. Needs ``payer_position`` and
    the request's benefit columns (NaN = not given).

    Sets ``deductible``, ``coinsurance``, ``copay``, ``oop_max`` (NaN = no cap), ``defaulted_<field>``
    for each, ``benefits_carried`` (a figure used came from a carried-forward period) and
    ``benefits_end`` (that period's last day).
    """
    used_period = ops.fill(row, False)
    for field in BENEFIT_FIELDS:
        given = r[field]
        not_given = ops.isnan(given)
        from_period = periods[field][row]
        in_period = ops.not_(ops.isnan(from_period))
        default = ops.where(in_period, from_period, payers[field][r["payer_position"]])
        r[f"defaulted_{field}"] = not_given
        r[field] = ops.where(not_given, default, given)
        used_period = used_period | (not_given & in_period)
    r["benefits_carried"] = carried & used_period & ops.not_(r["self_pay"])
    r["benefits_end"] = periods["effective_to"][row]


#: What E4 gives each line, per level (see :func:`share_costs`).
SHARE_PARTS = (
    "deductible_left",
    "deductible_part",
    "coinsurance_part",
    "copay_part",
    "cap_left",
    "cap_reduction",
    "patient_share",
)


@formula
def share_costs(ops, visits):
    """E4 (step 8 for a visit of one line): the patient's share of each line's allowed amount.

    The lines of each visit are taken in the order of their fee (``visits.ranked``). With ``R`` the
    deductible not yet met and ``Q`` the room left under the out-of-pocket maximum (NaN: no cap), each
    line with allowed amount ``A`` has ``D = min(A, R)``, ``C = coinsurance x (A - D)``, the copay ``K``
    on the first line only, ``P = min(A, K + D + C)``, capped by ``Q``; then ``R -= D`` and ``Q -= P``.
    ``self_pay``: ``P = A``. The benefits are the first line's (a visit's lines share them).

    Sets per line and level ``deductible_left`` and ``cap_left`` (before the line), ``deductible_part``,
    ``coinsurance_part``, ``copay_part``, ``cap_reduction`` (so that the parts less the reduction are
    ``P``), ``patient_share`` (``P``), ``patient`` (``P`` + balance bill) and ``payer`` (``A - P``).
    """
    head = visits.head
    self_pay = head("self_pay")
    start_deductible = ops.maximum(0.0, head("deductible") - head("deductible_met"))
    start_cap = ops.maximum(0.0, head("oop_max") - head("oop_met"))
    capped = ops.not_(ops.isnan(start_cap))
    coinsurance, copay = head("coinsurance"), head("copay")
    for allowed, balance_billing, patient, payer, names in _SHARE_NAMES:
        ranked = []
        deductible_left, cap_left = start_deductible, start_cap
        for k, a in enumerate(visits.ranked(allowed, 0.0)):
            d = ops.minimum(a, deductible_left)
            c = coinsurance * (a - d)
            before_cap = ops.minimum(a, (copay if k == 0 else 0.0) + d + c)
            p = ops.where(self_pay, a, ops.where(capped, ops.minimum(before_cap, cap_left), before_cap))
            ranked.append(
                (
                    deductible_left,
                    ops.where(self_pay, 0.0, d),
                    ops.where(self_pay, 0.0, c),
                    ops.where(self_pay, 0.0, ops.maximum(0.0, before_cap - d - c)),
                    cap_left,
                    ops.where(self_pay, 0.0, before_cap - p),
                    p,
                )
            )
            deductible_left = deductible_left - d
            cap_left = cap_left - p
        visits.store_many(names, ranked)
        for r in visits.parts:
            share = r[names[-1]]
            r[patient] = share + r[balance_billing]
            r[payer] = r[allowed] - share


#: Per level: the allowed amount, balance bill, patient and payer columns, and those of ``SHARE_PARTS``.
_SHARE_NAMES = tuple(
    (f"allowed_{level}", f"balance_billing_{level}", f"patient_{level}", f"payer_{level}")
    + (tuple(f"{part}_{level}" for part in SHARE_PARTS),)
    for level in LEVELS
)
