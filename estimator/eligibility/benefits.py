"""SPEC section 10: which patient a 271 answers for, and which of their EB segments give the deductible,
coinsurance, copay and out-of-pocket figures for a setting and a network."""

from __future__ import annotations

import dataclasses
import re
from decimal import Decimal

from ..core.glossary import MAX_MONEY, NETWORKS, SETTING_WORDS
from ..core.notices import BENEFIT_NAMES
from .codes import ACTIVE, COVERAGE_LEVELS, INACTIVE, INDIVIDUAL_LEVELS, REMAINING, SERVICE_TYPES, TOTAL_PERIODS
from .x271 import Benefit

#: The service types that answer for each setting, first preferred (EB03).
SERVICE_ORDER = {
    "office": ("98", "1", "30"),
    "asc": ("2", "1", "30"),
    "hospital_outpatient": ("50", "2", "1", "30"),
}
#: EB12: in network, out of network; ``W`` (both), ``U`` (unknown) and blank apply to both.
NETWORK_CODES = {"in": "Y", "out": "N"}
#: The figures a 271 gives, in the order of the request's fields.
FIGURES = ("deductible", "coinsurance", "copay", "oop_max", "deductible_met", "oop_met")
FIGURE_WORDS = {**BENEFIT_NAMES, "deductible_met": "deductible met", "oop_met": "out-of-pocket spending so far"}
NETWORK_WORDS = {"in": "in network", "out": "out of network"}


class PatientChoice(ValueError):
    """The response answers for several patients and the request names none of them (or one it lacks)."""


class NotCovered(ValueError):
    """The response rejects the inquiry (AAA) or says coverage is not active (EB01 6, 7 or 8)."""


@dataclasses.dataclass(frozen=True)
class Figure:
    """A benefit figure and the EB segments it comes from (the total, then what remains, for a figure
    worked from both); ``service_type`` and ``level`` are the ones the figure was chosen by."""

    value: Decimal
    sources: tuple[Benefit, ...]
    service_type: str
    level: str


@dataclasses.dataclass(frozen=True)
class Benefits:
    """What a 271 says of one patient for a setting: coverage, and per network each figure (``None``
    when the response does not report it), with the warnings of the choice."""

    patient: object
    coverage: Benefit | None
    coverage_type: str | None
    figures: dict
    warnings: tuple[str, ...]


def _words(text):
    return re.findall(r"[A-Z0-9]+", text.upper())


def choose(response, wanted=None):
    """The patient of ``response``: the only one, or the one ``wanted`` names (member id, or name in any
    word order). Raises ``PatientChoice`` listing them otherwise, and ``NotCovered`` when the response names
    nobody because it was rejected."""
    people = response.patients
    if not people:
        rejections = [r for t in response.transactions for r in t.rejections]
        if rejections:
            raise NotCovered("The payer did not answer the inquiry: " + "; ".join(r.words() for r in rejections) + ".")
        raise PatientChoice("The 271 names no subscriber or dependent (no HL level 22 or 23).")
    if wanted is not None and str(wanted).strip():
        key = str(wanted).strip().upper()
        words = sorted(_words(key))
        found = [
            p
            for p in people
            if key in (i.upper() for i in p.ids)
            or words in (sorted(_words(f"{p.first} {p.last}")), sorted(_words(f"{p.first} {p.middle} {p.last}")))
        ]
        if len(found) == 1:
            return found[0]
        listed = "; ".join(p.label() for p in (found or people))
        if found:
            raise PatientChoice(f"Several patients in the 271 match {wanted!r}: {listed}. Give the patient's name.")
        raise PatientChoice(f"No patient in the 271 matches {wanted!r}. It answers for: {listed}.")
    if len(people) == 1:
        return people[0]
    raise PatientChoice(
        f"The 271 answers for {len(people)} patients: {'; '.join(p.label() for p in people)}. Say which one (member "
        "ID or name)."
    )


def rejections_of(person):
    """The AAA segments that concern a patient: the transaction's, their subscriber's, their own."""
    found = list(person.transaction.rejections)
    if person.subscriber is not None:
        found += person.subscriber.rejections
    return found + person.rejections


def _individual(benefit):
    return benefit.level in ("", *INDIVIDUAL_LEVELS)


def _for_network(benefit, network):
    return benefit.network not in NETWORK_CODES.values() or benefit.network == NETWORK_CODES[network]


def _pick(candidates, order, only_level=None):
    """The first candidate by coverage level (individual, then family), then by the setting's service
    types, then in the response's order; with the service type it was chosen by."""
    for individual in (True, False) if only_level is None else (only_level,):
        for service_type in order:
            for benefit in candidates:
                if _individual(benefit) == individual and service_type in benefit.service_types:
                    return benefit, service_type
    return None, None


def coverage(person, setting):
    """The EB segment saying whether coverage is active for the setting (first by its service types), and
    the service type it was found by."""
    statuses = [b for b in person.benefits if b.code in ACTIVE or b.code in INACTIVE]
    for service_type in SERVICE_ORDER[setting]:
        for benefit in statuses:
            if service_type in benefit.service_types:
                return benefit, service_type
    return None, None


def read_benefits(person, setting):
    """The patient's figures for ``setting``, per network (SPEC section 10).

    Raises ``NotCovered`` for a rejection (AAA) in the patient's loops or above them, and for coverage
    that is not active.
    """
    rejections = rejections_of(person)
    if rejections:
        raise NotCovered("The payer rejected the inquiry: " + "; ".join(r.words() for r in rejections) + ".")
    status, status_type = coverage(person, setting)
    if status is not None and status.code in INACTIVE:
        raise NotCovered(
            f"The 271 says {person.name or 'the patient'}'s coverage is {INACTIVE[status.code]} (EB01 "
            f"{status.code}, EB segment {status.number}): no plan pays for this visit."
        )
    warnings = []
    if status is None:
        warnings.append(
            f"The 271 does not say whether coverage is active for care in {SETTING_WORDS[setting]}: check with "
            "the payer."
        )
    figures = {}
    for network in NETWORKS:
        figures[network], found = _figures(person.benefits, SERVICE_ORDER[setting], network)
        warnings += found
    return Benefits(person, status, status_type, figures, tuple(warnings))


def _figures(benefits, order, network):
    usable = [b for b in benefits if _for_network(b, network)]
    out, warnings = {}, []
    where = NETWORK_WORDS[network]

    def checked(benefit, value, field, limit):
        if benefit is None or value is None:
            return None
        if not 0 <= value <= limit:
            warnings.append(
                f"EB segment {benefit.number} gives a {FIGURE_WORDS[field]} of {value} {where}, outside 0 to "
                f"{limit}: it is not used; enter the figure yourself."
            )
            return None
        if not _individual(benefit):
            level = COVERAGE_LEVELS.get(benefit.level, benefit.level)
            warnings.append(
                f"The 271 gives no individual {FIGURE_WORDS[field]} {where}: the {level} figure is used (EB "
                f"segment {benefit.number}, coverage level {benefit.level})."
            )
        return value

    for code, total_field, met_field in (("C", "deductible", "deductible_met"), ("G", "oop_max", "oop_met")):
        of_code = [b for b in usable if b.code == code and b.amount is not None]
        total, service_type = _pick([b for b in of_code if b.period in TOTAL_PERIODS], order)
        remaining_rows = [b for b in of_code if b.period == REMAINING]
        if total is not None:
            same = (service_type, *(s for s in order if s != service_type))
            remaining, _ = _pick(remaining_rows, same, only_level=_individual(total))
        else:
            remaining, service_type = _pick(remaining_rows, order)
        amount = checked(total, total.amount if total else None, total_field, MAX_MONEY)
        left = remaining.amount if remaining is not None else None
        if left is not None and not 0 <= left <= MAX_MONEY:
            warnings.append(
                f"EB segment {remaining.number} gives a remaining {FIGURE_WORDS[total_field]} of {left} {where}, "
                f"outside 0 to {MAX_MONEY}: it is not used."
            )
            left, remaining = None, None
        if amount is None and left is not None:  # only what remains: that is the total, none of it met
            amount, total = checked(remaining, left, total_field, MAX_MONEY), remaining
            out[total_field] = Figure(amount, (remaining,), service_type, remaining.level)
            out[met_field] = Figure(Decimal(0), (remaining,), service_type, remaining.level)
            continue
        if amount is None:
            out[total_field] = out[met_field] = None
            continue
        out[total_field] = Figure(amount, (total,), service_type, total.level)
        if left is None:
            warnings.append(
                f"The 271 gives the {FIGURE_WORDS[total_field]} {where} but not what remains of it: none of it is "
                "counted as met."
            )
            out[met_field] = None
        elif left > amount:
            warnings.append(
                f"EB segment {remaining.number} gives more remaining ({left}) than the {FIGURE_WORDS[total_field]} "
                f"{where} ({amount}): none of it is counted as met."
            )
            out[met_field] = Figure(Decimal(0), (total, remaining), service_type, total.level)
        else:
            out[met_field] = Figure(amount - left, (total, remaining), service_type, total.level)
    for code, field, limit, attr in (("A", "coinsurance", 1, "percent"), ("B", "copay", MAX_MONEY, "amount")):
        benefit, service_type = _pick([b for b in usable if b.code == code and getattr(b, attr) is not None], order)
        value = checked(benefit, getattr(benefit, attr) if benefit else None, field, limit)
        out[field] = Figure(value, (benefit,), service_type, benefit.level) if value is not None else None
    return {field: out[field] for field in FIGURES}, warnings


def service_type_words(code):
    """``98`` -> 'service type 98: office visit'."""
    return f"service type {code}: {SERVICE_TYPES[code]}" if code in SERVICE_TYPES else f"service type {code}"
