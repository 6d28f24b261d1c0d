"""The steps of an estimate, in order (SPEC sections 4 and 7): one table of steps that both paths run.

The batch engine (:mod:`.engine`) runs them on numpy arrays, a single request (:mod:`.single`) on plain
Python values; each passes

- ``ops``, the operations for its kind of value (:mod:`.arith`);
- ``visits``, its lines seen visit by visit: ``parts`` (dicts of columns: every line of a batch in one
  dict of arrays, or one dict of values per line of a request), ``rank(name)``, ``ranked(name, pad)``,
  ``store(name, ranked)``, ``store_many(names, ranked)``, ``head(name)``, ``along(per_visit)``,
  ``spread(name, per_visit)``,
  ``longest`` (:class:`.encounters.ArrayVisits` is the batch's);
- ``finder``, how it finds rows: ``place(r)`` sets ``procedure_position``, ``payer_position``,
  ``region_position`` (-1: none) and what it needs to find rows by date; ``rows(r, index, case, meets,
  applies)`` gives, per line, the (position, carried) of :meth:`.matching.RowIndex.find` for its case on
  its date of service (-1 where ``applies`` does not hold).

Only how rows are found and how a visit's lines are ordered differ between the two paths: every figure
is computed by the same functions, so both give the same answer bit for bit.
"""

import functools

from . import cost_sharing, encounters, notices, pricing
from .arith import formula
from .glossary import COMPONENTS, levels
from .money import dollars
from .prior_auth import prior_authorization, rule_case

#: Procedure columns each line takes (joined by position).
PROCEDURE_COLUMNS = (
    "description",
    "baseline_low",
    "baseline_typical",
    "baseline_high",
    "bilateral_indicator",
    "work_rvu",
    "pe_rvu_nonfacility",
    "pe_rvu_facility",
    "mp_rvu",
    "multiple_procedure_indicator",
    "addon_to",
    "rvu_share",
    "global_days",
    "pe_nonfacility_na",
    "pe_facility_na",
    "is_visit",
    "short_global",
)
REGION_COLUMNS = ("geo_factor", "gpci_work", "gpci_pe", "gpci_mp")


@formula
def context(ops, r, tables):
    """Join what each line needs from the procedure, payer and region tables (by the positions ``place``
    set; a line with no region takes the absent region row: national factors and GPCIs 1.0)."""
    procedures, payers, regions = tables["procedures"], tables["payers"], tables["regions"]
    p, y, g = r["procedure_position"], r["payer_position"], r["region_position"]
    for column in PROCEDURE_COLUMNS:
        r[column] = procedures[column][p]
    r["has_rvu"] = ops.not_(
        ops.isnan(r["work_rvu"]) | ops.isnan(pricing.practice_expense(ops, r)) | ops.isnan(r["mp_rvu"])
    )
    r["has_baseline"] = ops.not_(ops.isnan(r["baseline_typical"]))
    r["payer_name"] = payers["name"][y]
    r["payer_kind"] = payers["kind"][y]
    r["self_pay"] = r["payer_kind"] == "self_pay"
    r["oon_factor"] = payers["oon_factor"][y]
    r["balance_billing"] = payers["balance_billing"][y]
    factor = payers["multiple_procedure_factor"][y]
    r["multiple_procedure_factor"] = ops.where(ops.isnan(factor), 1.0, factor)
    r["state"] = regions["state"][g]
    r["region_name"] = regions["name"][g]
    for column in REGION_COLUMNS:
        r[column] = regions[column][g]
    r["modifier_factor"] = pricing.modifier_factor(ops, r)
    r["eligible"] = (r["multiple_procedure_indicator"] == 2) & (r["addon_to"] == "")


@formula
def estimate_visits(ops, visits, finder, schedules, tables, today, money):
    """Estimate the lines of ``visits`` in place: every column of :func:`.engine.estimate`.

    ``tables`` are ``schedules.arrays`` or ``schedules.lists`` (by ``ops``); ``money`` names the columns
    rounded to cents (step 10).
    """
    rates, rules, periods, payers = tables["rates"], tables["prior_auth"], tables["benefit_periods"], tables["payers"]
    for r in visits.parts:  # E1: each line through steps 1 to 6
        finder.place(r)
        context(ops, r, tables)
        for component in COMPONENTS:
            case, meets = pricing.rate_case(r, component)
            applies = pricing.component_applies(ops, r, component)
            row, carried = finder.rows(r, schedules.rate_index, case, meets, applies)
            pricing.price_component(ops, r, rates, row, carried, component)
        r["unit_fee"] = (r["professional_expected"] + r["facility_expected"]) / r["units"]
    visits.rank("unit_fee")
    encounters.reduction(ops, visits)  # E2
    for r in visits.parts:
        pricing.apply_reduction(ops, r)
        pricing.out_of_network(ops, r)  # step 7, E3
        row, carried = finder.rows(r, schedules.benefit_index, (r["payer_id"],))
        cost_sharing.resolve_benefits(ops, r, periods, payers, row, carried)
        row, _ = finder.rows(r, schedules.rule_index, rule_case(r))
        prior_authorization(ops, r, rules, row)  # step 9
    cost_sharing.share_costs(ops, visits)  # step 8, E4
    encounters.status(ops, visits)  # E6
    notices.addon_notes(ops, visits, tables["procedures"], schedules.addon_pairs)
    notices.global_notes(ops, visits)
    for r in visits.parts:
        notices.carried_notes(ops, r)
        notices.warning_flags(ops, r)
        notices.warning_text(ops, r, today)
        r["good_faith_estimate"] = r["self_pay"]
        round_money(ops, r, money)  # step 10
    encounters.totals(ops, visits)  # E5


@formula
def round_money(ops, r, money):
    """Step 10: the amounts ``money`` rounded to cents; then the patient's responsibility (rounded ``P`` +
    rounded balance bill) and the payer's (rounded ``A`` - rounded ``P``), so the figures add up."""
    whole = ops.cents_many([r[name] for name in money])
    for name, amount in zip(money, whole, strict=True):
        r[name] = dollars(amount)
    for share, balance, allowed, patient, payer in _added_up(money):
        r[patient] = dollars(whole[share] + whole[balance])
        r[payer] = dollars(whole[allowed] - whole[share])


@functools.cache
def _added_up(money):
    """Per level, where ``P``, the balance bill and ``A`` are among ``money``, and the names of the patient's
    and the payer's figures step 10 makes of them."""
    return tuple(
        (money.index(share), money.index(balance), money.index(allowed), patient, payer)
        for share, balance, allowed, patient, payer in _ADDED_UP
    )


#: Per level, the figures step 10 adds up, and the two it makes of them.
_ADDED_UP = tuple(
    zip(
        *(levels(prefix) for prefix in ("patient_share", "balance_billing", "allowed", "patient", "payer")),
        strict=True,
    )
)
