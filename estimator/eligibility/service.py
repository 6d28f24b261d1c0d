"""What every door does with an eligibility response: read it into the benefits answer, and estimate with
its figures in place of the payer's defaults (figures the request gives itself win over the 271's)."""

from __future__ import annotations

import datetime as dt
import math

from ..core import intake, service
from ..core.errors import RequestError
from ..core.glossary import SETTINGS
from . import x271
from .benefits import (
    FIGURE_WORDS,
    FIGURES,
    NETWORK_WORDS,
    NotCovered,
    PatientChoice,
    choose,
    read_benefits,
    service_type_words,
)
from .codes import COVERAGE_LEVELS
from .x12 import X12Error

#: The request fields that bring a 271: its text, and which patient when it answers for several.
X12_FIELD = "eligibility_271"
PATIENT_FIELD = "eligibility_patient"
FIELDS = (X12_FIELD, PATIENT_FIELD)
#: Largest 271 read, in characters (the body limit of every form).
MAX_CHARACTERS = 64 * 1024
TOO_LONG = f"The 271 is longer than {MAX_CHARACTERS // 1024} KiB: send one patient's response."


class EligibilityError(RequestError):
    """A 271 that cannot give benefits; ``messages`` keyed by the field that brought it (or its patient)."""


def _read(data, patient, setting, x12_field, patient_field):
    if len(data) > MAX_CHARACTERS:
        raise EligibilityError({x12_field: [TOO_LONG]})
    try:
        response = x271.read(data)
        person = choose(response, patient)
        return response, read_benefits(person, setting)
    except (X12Error, NotCovered) as exc:
        raise EligibilityError({x12_field: [str(exc)]}) from None
    except PatientChoice as exc:
        raise EligibilityError({patient_field: [str(exc)]}) from None


def benefits_answer(data, patient=None, setting="office"):
    """The JSON-ready answer of ``POST /api/v1/benefits`` (and the ``benefits`` command) for a 271.

    Raises ``EligibilityError`` keyed ``body`` (the 271) or ``patient``.
    """
    response, benefits = _read(data, patient, setting, "body", "patient")
    person = benefits.patient
    transaction = person.transaction
    status = benefits.coverage
    return {
        "control_number": response.control_number,
        "date": _iso(transaction.date or response.date),
        "reference": transaction.reference,
        "payer": {"name": transaction.payer_name, "id": transaction.payer_id},
        "patient": {
            "name": person.name,
            "last_name": person.last,
            "first_name": person.first,
            "member_id": (person.ids or [""])[0],
            "birth_date": _iso(person.birth_date),
            "relationship": person.relationship,
            "loop": person.loop,
        },
        "coverage": {
            "active": True if status is not None else None,
            "plan": next((b.plan for b in person.benefits if b.plan), None),
            "source": _source(status, benefits.coverage_type) if status is not None else None,
        },
        "setting": setting,
        "benefits": {
            network: {field: _figure_json(figure) for field, figure in figures.items()}
            for network, figures in benefits.figures.items()
        },
        "warnings": list(benefits.warnings),
    }


def _iso(date):
    return date.isoformat() if date else None


def _number(value):
    return float(value) if value is not None else None


def _source(benefit, service_type):
    return {
        "loop": benefit.loop,
        "eb": benefit.number,
        "segment": benefit.segment,
        "service_type": service_type,
        "coverage_level": benefit.level or None,
        "period": benefit.period or None,
        "text": benefit.text,
    }


def _figure_json(figure):
    if figure is None:
        return None
    return {
        "value": _number(figure.value),
        "sources": [_source(b, figure.service_type) for b in figure.sources],
    }


def _present(value):
    return value is not None and not (isinstance(value, str) and not value.strip())


def _typed(field, given):
    """A figure the request gives, read by the request rules (``20%`` is 0.2); ``None`` when it is not one
    (the request's own message says why)."""
    value, message = intake.RULES[field](str(given).strip())
    return None if message is not None or math.isnan(value) else value


def with_271(fields):
    """The request with the 271's figures in the benefit fields it leaves blank, without the 271 itself.

    Returns ``(fields, used)``: ``used`` (``None`` without a 271) is the answer's ``eligibility`` part
    and its explanation line. Raises ``EligibilityError`` for a 271 that cannot be read or gives no
    benefits for this patient.
    """
    if not isinstance(fields, dict) or not _present(fields.get(X12_FIELD)):
        rest = {k: v for k, v in fields.items() if k not in FIELDS} if isinstance(fields, dict) else fields
        return rest, None
    data = fields[X12_FIELD]
    if not isinstance(data, str):
        raise EligibilityError({X12_FIELD: ["Give the 271 as text."]})
    setting = fields.get("setting") or "office"
    network = fields.get("network") or "in"
    rest = {k: v for k, v in fields.items() if k not in FIELDS}
    if setting not in SETTINGS or network not in ("in", "out"):
        # The request's own messages say what is wrong; the 271 is still read, for its own.
        _read(data, fields.get(PATIENT_FIELD), "office", X12_FIELD, PATIENT_FIELD)
        return rest, None
    response, benefits = _read(data, fields.get(PATIENT_FIELD), setting, X12_FIELD, PATIENT_FIELD)
    figures = benefits.figures[network]
    used, typed = {}, []
    for field in FIGURES:
        figure = figures[field]
        given = fields.get(field)
        if _present(given):
            value = _typed(field, given)
            if figure is not None and value == float(figure.value):
                used[field] = {**_figure_json(figure), "from": "271"}
            elif figure is not None:
                used[field] = {**_figure_json(figure), "value": value, "from": "typed"}
                typed.append(field)
            continue
        if figure is not None:
            rest[field] = _number(figure.value)
            used[field] = {**_figure_json(figure), "from": "271"}
    transaction = benefits.patient.transaction
    warnings = list(benefits.warnings)
    checked = transaction.date or response.date
    stale = _days_apart(checked, fields.get("date_of_service"))
    if stale is not None and stale > STALE_DAYS:
        warnings.append(
            f"The eligibility response (271) is of {checked.isoformat()}, {stale} days from the date of service: "
            "benefits and what is met change; check coverage again nearer the visit."
        )
    eligibility = {
        "control_number": response.control_number,
        "date": _iso(transaction.date or response.date),
        "reference": transaction.reference,
        "payer_name": transaction.payer_name,
        "network": network,
        "figures": used,
    }
    return rest, {
        "eligibility": eligibility,
        "line": _explanation(eligibility, figures, typed),
        "warnings": warnings,
    }


#: An eligibility response further than this from the date of service is warned of (days).
STALE_DAYS = 30


def _days_apart(checked, date_of_service):
    """Days between the 271's date and the date of service (today when none is given); ``None`` when
    either is unknown (a date of service that is not a date is the request's own error)."""
    if checked is None:
        return None
    if _present(date_of_service):
        try:
            day = dt.date.fromisoformat(str(date_of_service).strip())
        except ValueError:
            return None
    else:
        day = dt.date.today()
    return abs((day - checked).days)


def _figure_words(field, value):
    if field == "coinsurance":
        return f"{FIGURE_WORDS[field]} {float(value * 100):g} %"
    return f"{FIGURE_WORDS[field]} ${value:,.2f}"


def _explanation(eligibility, figures, typed):
    parts = []
    for field in FIGURES:
        figure = figures[field]
        if figure is None or field in typed:
            continue
        segments = " and ".join(str(b.number) for b in figure.sources)
        level = figure.sources[0].level
        level = f", {COVERAGE_LEVELS.get(level, level)}" if level and level != "IND" else ""
        parts.append(
            f"{_figure_words(field, figure.value)} (EB {segments}, {service_type_words(figure.service_type)}{level})"
        )
    line = (
        f"Benefits from the eligibility response (271) of {eligibility['date'] or 'an unknown date'}, control "
        f"number {eligibility['control_number']}, {NETWORK_WORDS[eligibility['network']]}: "
        + ("; ".join(parts) if parts else "none of the figures asked for")
        + "."
    )
    if typed:
        line += " Typed instead of the 271's: " + ", ".join(FIGURE_WORDS[f] for f in typed) + "."
    return line


def _annotated(answer, used):
    if used is None:
        return answer
    return {
        **answer,
        "warnings": list(dict.fromkeys([*answer["warnings"], *used["warnings"]])),
        "explanation": [used["line"], *answer["explanation"]],
        "eligibility": used["eligibility"],
    }


def estimate_one(fields, schedules, today=None):
    """``core.service.estimate_one`` with a 271's figures (``eligibility_271``) in place."""
    rest, used = _resolved(fields, schedules, today, service.check_one)
    return _annotated(service.estimate_one(rest, schedules, today), used)


def estimate_encounter(fields, schedules, today=None):
    """``core.service.estimate_encounter`` with a 271's figures in place."""
    rest, used = _resolved(fields, schedules, today, service.check_encounter)
    return _annotated(service.estimate_encounter(rest, schedules, today), used)


def estimate(request, schedules, today=None):
    """An encounter (with ``lines``) or a single request."""
    if isinstance(request, dict) and "lines" in request:
        return estimate_encounter(request, schedules, today)
    return estimate_one(request, schedules, today)


def _resolved(fields, schedules, today, check):
    try:
        return with_271(fields)
    except EligibilityError:  # with every other field's message
        raise RequestError(_checked(fields, schedules, today, check)) from None


def check_one(fields, schedules, today=None):
    """Every message of a single request, its 271's among them."""
    return _checked(fields, schedules, today, service.check_one)


def check_encounter(fields, schedules, today=None):
    """Every message of an encounter, its 271's among them."""
    return _checked(fields, schedules, today, service.check_encounter)


def _checked(fields, schedules, today, check):
    try:
        rest, _ = with_271(fields)
        problems = {}
    except EligibilityError as exc:
        rest, problems = {k: v for k, v in fields.items() if k not in FIELDS}, exc.messages
    return {**check(rest, schedules, today), **problems}


def kept(request):
    """What a saved record keeps of a request: the 271's figures, never the 271 (its control number and
    date are in the answer's ``eligibility``)."""
    return with_271(request)[0]
