"""marshmallow schemas of every payload: they document the API and refuse malformed JSON early.

The value rules themselves live in :mod:`estimator.intake`; these schemas check JSON types, refuse
unknown fields, and repeat a rule only with the very message intake gives, so the JSON API and a batch
row refuse the same input with the same words.
"""

import re

from flask import current_app
from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from ..core import intake
from ..core.encounters import MAX_LINES
from ..core.errors import RequestError
from ..core.glossary import (
    MAX_MONEY,
    MAX_UNITS,
    NETWORKS,
    PA_STATUSES,
    PAYER_KINDS,
    SETTINGS,
    SUPPORTED_MODIFIERS,
    US_STATES,
)
from ..eligibility import service as eligibility
from ..records import details
from ..records import service as records_service

#: Most modifiers a line may carry: more than any real claim line, few enough to check cheaply.
MAX_MODIFIERS = 10


class WholeNumber(fields.Integer):
    """An integer that refuses 1.5 rather than truncating it (as a CSV cell "1.5" is refused)."""

    def _validated(self, value):
        if isinstance(value, float) and not value.is_integer():
            raise self.make_error("invalid")
        return super()._validated(value)


def _money(description, example=None, maximum=MAX_MONEY, message=intake.MONEY_RANGE):
    metadata = {"description": description}
    if example is not None:
        metadata["example"] = example
    return fields.Float(
        allow_none=True,
        allow_nan=False,
        validate=validate.Range(0, maximum, error=message),
        metadata=metadata,
    )


def _modifiers():
    return fields.List(
        fields.String(validate=validate.Length(max=20)),
        allow_none=True,
        validate=validate.Length(max=MAX_MODIFIERS),
        metadata={"description": f"Modifiers: {', '.join(SUPPORTED_MODIFIERS)}.", "example": ["RT"]},
    )


def _units():
    return WholeNumber(
        allow_none=True,
        validate=validate.Range(1, MAX_UNITS, error=intake.UNITS_RANGE),
        metadata={"description": "Units; default 1.", "example": 1},
    )


def _cpt_code():
    return fields.String(required=True, metadata={"description": "Procedure code (CPT or HCPCS).", "example": "64483"})


class SharedFieldsSchema(Schema):
    """The request fields every line of an encounter shares (SPEC sections 3 and 7)."""

    class Meta:
        unknown = RAISE

    payer_id = fields.String(
        required=True, metadata={"description": "Payer, from GET /api/v1/payers.", "example": "medicare"}
    )
    region_id = fields.String(
        allow_none=True, metadata={"description": "Region, from GET /api/v1/regions (or give zip).", "example": "ny-01"}
    )
    zip = fields.String(
        allow_none=True,
        metadata={"description": "ZIP code, 5 digits or ZIP+4 (or give region_id).", "example": "10001"},
    )
    setting = fields.String(
        allow_none=True,
        validate=validate.OneOf(SETTINGS, error=intake.SETTING_CHOICES),
        metadata={"description": "Where the procedure is done; default office."},
    )
    network = fields.String(
        allow_none=True,
        validate=validate.OneOf(NETWORKS, error=intake.NETWORK_CHOICES),
        metadata={"description": "In or out of the payer's network; default in."},
    )
    date_of_service = fields.String(
        allow_none=True,
        metadata={"description": "YYYY-MM-DD; default today.", "format": "date", "example": "2025-05-01"},
    )
    deductible = _money("Plan deductible for the year; default the payer's.", 1500)
    coinsurance = _money(
        "Patient's coinsurance after the deductible, as a fraction from 0 to 1 (0.2 = 20 %; JSON takes a number, "
        "not a percent with its sign); default the payer's.",
        0.2,
        1,
        intake.COINSURANCE_FRACTION,
    )
    copay = _money("Copay per service; default the payer's.")
    oop_max = _money("Out-of-pocket maximum for the year; default the payer's.")
    deductible_met = _money("Deductible already paid this plan year; default 0.", 0)
    oop_met = _money("Out-of-pocket spending so far this plan year; default 0.", 0)
    eligibility_271 = fields.String(
        allow_none=True,
        validate=validate.Length(max=eligibility.MAX_CHARACTERS, error=eligibility.TOO_LONG),
        metadata={
            "description": "The patient's eligibility response (ASC X12 271, 005010X279A1) as text: its benefit "
            "figures for this setting and network fill the benefit fields this request leaves out (SPEC section "
            "10); the answer's `eligibility` names the segment of each. Read, never kept."
        },
    )
    eligibility_patient = fields.String(
        allow_none=True,
        validate=validate.Length(max=200),
        metadata={
            "description": "Which patient of the 271, when it answers for several: member ID or name.",
            "example": "W123456789",
        },
    )


class EstimateRequestSchema(SharedFieldsSchema):
    """One procedure line to estimate (SPEC section 3)."""

    cpt_code = _cpt_code()
    modifiers = _modifiers()
    units = _units()


class LineRequestSchema(Schema):
    """One line of an encounter: its code, modifiers and units."""

    class Meta:
        unknown = RAISE

    cpt_code = _cpt_code()
    modifiers = _modifiers()
    units = _units()


class EncounterRequestSchema(SharedFieldsSchema):
    """Several lines of one visit (SPEC section 7): the shared fields and 1 to 20 lines."""

    lines = fields.List(
        fields.Nested(LineRequestSchema),
        required=True,
        validate=validate.Length(1, MAX_LINES, error=f"Give 1 to {MAX_LINES} lines."),
        metadata={"description": "The lines of the visit, in the order billed."},
    )


class LevelsSchema(Schema):
    low = fields.Float(metadata={"description": "US dollars"})
    expected = fields.Float(metadata={"description": "US dollars"})
    high = fields.Float(metadata={"description": "US dollars"})


class ComponentSchema(Schema):
    component = fields.String(metadata={"enum": ["professional", "facility"]})
    basis = fields.String(metadata={"enum": ["amount", "baseline", "rvu"]})
    value = fields.Float(metadata={"description": "The rate row's value (dollars, multiple, or dollars per RVU)."})
    region_factor = fields.Float()
    allowed_amount = fields.Nested(LevelsSchema)


class BenefitsSchema(Schema):
    deductible = fields.Float()
    coinsurance = fields.Float()
    copay = fields.Float()
    oop_max = fields.Float(allow_none=True)
    deductible_met = fields.Float()
    oop_met = fields.Float()


class CostSharingSchema(BenefitsSchema):
    deductible_part = fields.Nested(LevelsSchema)
    coinsurance_part = fields.Nested(LevelsSchema)
    copay_part = fields.Nested(LevelsSchema)
    cap_reduction = fields.Nested(LevelsSchema)


class PriorAuthSchema(Schema):
    status = fields.String(metadata={"enum": [*PA_STATUSES, "unknown", "not_applicable"]})
    crd_code = fields.String(allow_none=True, metadata={"enum": ["auth-needed", "no-auth", "conditional", None]})
    reason = fields.String()
    documentation = fields.String(allow_none=True)
    source = fields.String(allow_none=True)


class EstimateSchema(Schema):
    """The answer for one procedure line (SPEC section 5)."""

    cpt_code = fields.String()
    description = fields.String()
    payer_id = fields.String()
    payer_name = fields.String()
    region_id = fields.String(allow_none=True)
    region_name = fields.String(allow_none=True)
    zip = fields.String(allow_none=True)
    setting = fields.String()
    network = fields.String()
    modifiers = fields.List(fields.String())
    units = WholeNumber()
    date_of_service = fields.String(metadata={"format": "date"})
    baseline_range = fields.Nested(LevelsSchema)
    allowed_amount = fields.Nested(LevelsSchema)
    patient_responsibility = fields.Nested(LevelsSchema)
    payer_responsibility = fields.Nested(LevelsSchema)
    balance_billing = fields.Nested(LevelsSchema)
    components = fields.List(fields.Nested(ComponentSchema))
    reduction_factor = fields.Float(
        metadata={"description": "Multiple-procedure reduction: the mean factor of the line's units (1 = none)."}
    )
    cost_sharing = fields.Nested(CostSharingSchema)
    prior_authorization = fields.Nested(PriorAuthSchema)
    good_faith_estimate = fields.Boolean()
    good_faith_notice = fields.String()
    warnings = fields.List(fields.String())
    carried_forward = fields.List(
        fields.String(),
        metadata={
            "description": "Rates and benefit figures used past their last day, as no newer ones are on file "
            "(SPEC section 4, step 2): the figures rest on them. Also among the warnings."
        },
    )
    explanation = fields.List(fields.String())
    eligibility = fields.Nested(
        lambda: EligibilityUsedSchema(),
        metadata={"description": "Present when the request brought a 271: where its benefit figures came from."},
    )


class EncounterLineSchema(Schema):
    """One line of an encounter's answer (SPEC section 7)."""

    line = fields.Integer(metadata={"description": "1-based, in the order given."})
    cpt_code = fields.String()
    description = fields.String()
    modifiers = fields.List(fields.String())
    units = WholeNumber()
    baseline_range = fields.Nested(LevelsSchema, metadata={"description": "The code's national baseline range."})
    reduction_factor = fields.Float()
    allowed_amount = fields.Nested(LevelsSchema)
    patient_responsibility = fields.Nested(LevelsSchema)
    payer_responsibility = fields.Nested(LevelsSchema)
    balance_billing = fields.Nested(LevelsSchema)
    components = fields.List(fields.Nested(ComponentSchema))
    cost_sharing = fields.Nested(CostSharingSchema)
    prior_authorization = fields.Nested(PriorAuthSchema)
    warnings = fields.List(fields.String())
    carried_forward = fields.List(
        fields.String(),
        metadata={
            "description": "Rates and benefit figures used past their last day, as no newer ones are on file "
            "(SPEC section 4, step 2): the figures rest on them. Also among the warnings."
        },
    )
    explanation = fields.List(fields.String())


class EncounterPriorAuthSchema(Schema):
    status = fields.String(metadata={"enum": [*PA_STATUSES, "unknown", "not_applicable"]})
    crd_code = fields.String(allow_none=True, metadata={"enum": ["auth-needed", "no-auth", "conditional", None]})
    reason = fields.String(metadata={"description": "The reason of the first line with this status."})
    lines = fields.List(fields.Integer(), metadata={"description": "The lines with this status."})


class EncounterSchema(Schema):
    """The answer for a visit (SPEC section 7): its lines and totals (sums of the lines' rounded figures)."""

    payer_id = fields.String()
    payer_name = fields.String()
    region_id = fields.String(allow_none=True)
    region_name = fields.String(allow_none=True)
    zip = fields.String(allow_none=True)
    setting = fields.String()
    network = fields.String()
    date_of_service = fields.String(metadata={"format": "date"})
    lines = fields.List(fields.Nested(EncounterLineSchema))
    allowed_amount = fields.Nested(LevelsSchema)
    patient_responsibility = fields.Nested(LevelsSchema)
    payer_responsibility = fields.Nested(LevelsSchema)
    balance_billing = fields.Nested(LevelsSchema)
    cost_sharing = fields.Nested(BenefitsSchema)
    prior_authorization = fields.Nested(EncounterPriorAuthSchema)
    good_faith_estimate = fields.Boolean()
    good_faith_notice = fields.String()
    warnings = fields.List(fields.String())
    carried_forward = fields.List(
        fields.String(),
        metadata={
            "description": "Rates and benefit figures used past their last day, as no newer ones are on file "
            "(SPEC section 4, step 2): the figures rest on them. Also among the warnings."
        },
    )
    explanation = fields.List(fields.String())
    eligibility = fields.Nested(
        lambda: EligibilityUsedSchema(),
        metadata={"description": "Present when the request brought a 271: where its benefit figures came from."},
    )


class ProcedureRowSchema(Schema):
    cpt_code = fields.String(metadata={"example": "72148"})
    modifier = fields.String(metadata={"description": "Blank for the global service, 26 or TC for a component."})
    description = fields.String(
        metadata={"description": "Plain words (CPT descriptors are the AMA's and are not given), or CPT 12345."}
    )
    category = fields.String()
    baseline_low = fields.Float(allow_none=True, metadata={"description": "National range; null: none on file."})
    baseline_typical = fields.Float(allow_none=True)
    baseline_high = fields.Float(allow_none=True)
    bilateral_indicator = fields.Integer()
    work_rvu = fields.Float(allow_none=True)
    pe_rvu_nonfacility = fields.Float(allow_none=True)
    pe_rvu_facility = fields.Float(allow_none=True)
    mp_rvu = fields.Float(allow_none=True)
    pctc_indicator = fields.String(metadata={"description": "Medicare PC/TC indicator, 0-9 (blank: not given)."})
    global_days = fields.String(metadata={"description": "Global period: 0, 10, 90, MMM, XXX, YYY or ZZZ."})


class ProcedureSchema(ProcedureRowSchema):
    components = fields.List(
        fields.Nested(ProcedureRowSchema), metadata={"description": "The code's 26 and TC rows, if any."}
    )
    descriptor = fields.String(
        allow_none=True, metadata={"description": "Where the official descriptor is, for a code named only."}
    )


class ProcedureQuerySchema(Schema):
    class Meta:
        unknown = RAISE

    q = fields.String(
        load_default="",
        validate=validate.Length(max=100),
        metadata={"description": "A code or its start, or words of the description.", "example": "lumbar mri"},
    )
    page = fields.Integer(load_default=1, validate=validate.Range(1, 100_000))
    per_page = fields.Integer(load_default=50, validate=validate.Range(1, 200))


class ProcedurePageSchema(Schema):
    items = fields.List(fields.Nested(ProcedureSchema))
    total = fields.Integer()
    page = fields.Integer()
    per_page = fields.Integer()
    q = fields.String()


class PayerSchema(Schema):
    payer_id = fields.String()
    name = fields.String()
    kind = fields.String(metadata={"enum": list(PAYER_KINDS)})
    deductible = fields.Float()
    coinsurance = fields.Float()
    copay = fields.Float()
    oop_max = fields.Float(allow_none=True)
    oon_factor = fields.Float(allow_none=True)
    balance_billing = fields.Boolean()


class RegionSchema(Schema):
    region_id = fields.String()
    name = fields.String()
    state = fields.String()
    geo_factor = fields.Float()
    gpci_work = fields.Float()
    gpci_pe = fields.Float()
    gpci_mp = fields.Float()


def _us_state(value):
    if value.upper() not in US_STATES:
        raise ValidationError("Not a US state or territory: give its two-letter postal code.")


class RegionQuerySchema(Schema):
    class Meta:
        unknown = RAISE

    state = fields.String(
        validate=lambda value: _us_state(value),
        metadata={"description": "Only the regions of this state (two-letter postal code).", "example": "NY"},
    )


class FileSchema(Schema):
    modified = fields.String(metadata={"description": "UTC, ISO 8601."})
    bytes = fields.Integer()


class RatesEndingSchema(Schema):
    payer_id = fields.String(metadata={"example": "medicare"})
    name = fields.String(metadata={"example": "Original Medicare (Part B)"})
    effective_to = fields.String(metadata={"description": "The last day of the payer's latest rates."})
    days_left = fields.Integer(metadata={"description": "Days from today to that day (negative: ended)."})


class HealthSchema(Schema):
    status = fields.String(metadata={"example": "ok", "description": "ok, or degraded when a reload was refused."})
    fee_schedules = fields.String(metadata={"description": "The fee-schedule directory loaded."})
    loaded_at = fields.String(metadata={"description": "When the schedules in service were loaded (UTC)."})
    reload_error = fields.String(
        allow_none=True,
        metadata={"description": "Why the last reload was refused (the last good schedules stay in service)."},
    )
    effective_from = fields.String(allow_none=True, metadata={"description": "Earliest rate date on file."})
    effective_to = fields.String(allow_none=True, metadata={"description": "Latest rate date on file (null = open)."})
    files = fields.Dict(
        keys=fields.String(),
        values=fields.Nested(FileSchema, allow_none=True),
        metadata={"description": "When each fee-schedule file last changed, and its size (null: absent)."},
    )
    rates_ending = fields.List(
        fields.Nested(RatesEndingSchema),
        metadata={
            "description": "Payers whose latest rates end within 60 days of today, or have ended: estimates after "
            "that day carry the last rates forward with a warning until newer ones are loaded."
        },
    )
    procedures = fields.Integer()
    payers = fields.Integer()
    regions = fields.Integer()
    version = fields.String()


class X12SourceSchema(Schema):
    """Where a figure was read in the 271."""

    loop = fields.String(metadata={"example": "2110C"})
    eb = fields.Integer(metadata={"description": "The EB segment, counted from 1 in the patient's loop."})
    segment = fields.Integer(metadata={"description": "The segment's position in the file (ISA = 1)."})
    service_type = fields.String(allow_none=True, metadata={"description": "EB03 it was chosen by.", "example": "98"})
    coverage_level = fields.String(allow_none=True, metadata={"description": "EB02.", "example": "IND"})
    period = fields.String(allow_none=True, metadata={"description": "EB06 (23 calendar year, 29 remaining, ...)."})
    text = fields.String(metadata={"example": "EB*C*IND*30***23*1500*****Y"})


class X12FigureSchema(Schema):
    value = fields.Float(
        metadata={"description": "US dollars; coinsurance a fraction (0.2 = 20 %). In an estimate, what was used."}
    )
    sources = fields.List(
        fields.Nested(X12SourceSchema),
        metadata={"description": "The EB segment; for what is met, the total's and the remaining's."},
    )


def _figures_schema(extra=None):
    return Schema.from_dict(
        {name: fields.Nested(X12FigureSchema, allow_none=True) for name in eligibility.FIGURES} | (extra or {})
    )


class UsedFigureSchema(X12FigureSchema):
    source = fields.String(
        data_key="from",
        metadata={"enum": ["271", "typed"], "description": "The 271's figure, or one the request typed instead."},
    )


class EligibilityUsedSchema(Schema):
    """The 271 an estimate's benefits came from (SPEC section 10)."""

    control_number = fields.String(metadata={"description": "ISA13, the interchange control number."})
    date = fields.String(allow_none=True, metadata={"format": "date", "description": "BHT04, the response's date."})
    reference = fields.String(metadata={"description": "BHT03, the response's reference."})
    payer_name = fields.String()
    network = fields.String(metadata={"enum": ["in", "out"]})
    figures = fields.Dict(keys=fields.String(), values=fields.Nested(UsedFigureSchema))


class BenefitsQuerySchema(Schema):
    setting = fields.String(
        load_default="office",
        validate=validate.OneOf(SETTINGS, error=intake.SETTING_CHOICES),
        metadata={"description": "Whose service types are read (SPEC section 10); default office."},
    )
    patient = fields.String(
        validate=validate.Length(max=200),
        metadata={"description": "When the 271 answers for several patients: member ID or name."},
    )


class BenefitsPatientSchema(Schema):
    name = fields.String()
    last_name = fields.String()
    first_name = fields.String()
    member_id = fields.String()
    birth_date = fields.String(allow_none=True, metadata={"format": "date"})
    relationship = fields.String(metadata={"enum": ["subscriber", "dependent"]})
    loop = fields.String(metadata={"enum": ["2000C", "2000D"]})


class BenefitsCoverageSchema(Schema):
    active = fields.Boolean(
        allow_none=True, metadata={"description": "true; null when the 271 does not say (inactive is a 422)."}
    )
    plan = fields.String(allow_none=True)
    source = fields.Nested(X12SourceSchema, allow_none=True)


class BenefitsAnswerSchema(Schema):
    """What a 271 says of the patient's benefits (SPEC section 10)."""

    control_number = fields.String(metadata={"description": "ISA13, the interchange control number."})
    date = fields.String(allow_none=True, metadata={"format": "date"})
    reference = fields.String()
    payer = fields.Dict(keys=fields.String(), values=fields.String())
    patient = fields.Nested(BenefitsPatientSchema)
    coverage = fields.Nested(BenefitsCoverageSchema)
    setting = fields.String(metadata={"enum": list(SETTINGS)})
    benefits = fields.Dict(
        keys=fields.String(metadata={"enum": ["in", "out"]}),
        values=fields.Nested(_figures_schema()),
        metadata={"description": "Per network, each figure (null: not reported, the payer's default applies)."},
    )
    warnings = fields.List(fields.String())


class ErrorSchema(Schema):
    """Every error: HTTP code and name, a message, and per-field messages (422)."""

    code = fields.Integer(metadata={"example": 422})
    status = fields.String(metadata={"example": "Unprocessable Entity"})
    message = fields.String()
    errors = fields.Dict(
        keys=fields.String(),
        values=fields.List(fields.String()),
        metadata={"example": {"units": [intake.UNITS_RANGE]}},
    )


# Saved estimates (SPEC section 9) ------------------------------------------------------------------------


def _check(rule, message):
    def validate_(value):
        if not rule(value):
            raise ValidationError(message)

    return validate_


def _text(maximum, what):
    return validate.Length(1, maximum, error=f"Give {what} (up to {{max}} characters).")


class AddressSchema(Schema):
    class Meta:
        unknown = RAISE

    line = fields.String(required=True, validate=_text(200, "the street address"))
    city = fields.String(required=True, validate=_text(100, "the city"))
    state = fields.String(
        required=True, validate=_check(details.state_is_valid, "Not a US state or territory: give its two-letter code.")
    )
    postal_code = fields.String(required=True, validate=_check(details.zip_is_valid, "Give 5 digits, or ZIP+4."))


class PartySchema(Schema):
    """A provider or facility: name, NPI (with its check digit), TIN, address; its taxonomy and phone."""

    class Meta:
        unknown = RAISE

    name = fields.String(required=True, validate=_text(200, "the name"))
    npi = fields.String(
        required=True,
        validate=_check(details.npi_is_valid, "Not a valid NPI: 10 digits whose last is the check digit."),
        metadata={"example": "1234567893"},
    )
    tin = fields.String(
        required=True,
        validate=_check(details.tin_is_valid, "Not a valid TIN: an EIN such as 12-3456789, or 9 digits."),
        metadata={"example": "12-3456789"},
    )
    address = fields.Nested(AddressSchema, required=True)
    taxonomy = fields.String(
        validate=_check(details.taxonomy_is_valid, "Not a provider taxonomy code: 10 characters such as 208VP0014X."),
        metadata={
            "description": "NUCC provider taxonomy code (default: 208VP0014X for the provider; for a facility, "
            "by the visit's setting: 261QA1903X for an ASC, 282N00000X for a hospital).",
            "example": "208VP0014X",
        },
    )
    phone = fields.String(
        validate=_check(details.phone_is_valid, "Not a US phone number: 10 digits, such as 404-555-0100."),
        metadata={"description": "Where the patient can ask about the estimate.", "example": "404-555-0100"},
    )


class PatientSchema(Schema):
    class Meta:
        unknown = RAISE

    name = fields.String(required=True, validate=_text(200, "the patient's full name"))
    birth_date = fields.Date(
        required=True, validate=_check(details.birth_date_is_valid, "Give a date of birth between 1900 and today.")
    )
    sex = fields.String(
        validate=validate.OneOf(tuple(details.SEXES), error=f"Must be one of: {', '.join(details.SEXES)}."),
        metadata={"description": "female, male, other or unknown (default unknown)."},
    )
    member_id = fields.String(
        validate=_text(40, "the member ID"),
        metadata={"description": "The ID on the insurance card: needed for an insured patient's estimate."},
    )
    relationship = fields.String(
        validate=validate.OneOf(details.RELATIONSHIPS, error=f"Must be one of: {', '.join(details.RELATIONSHIPS)}."),
        metadata={"description": "The patient's relation to the plan's subscriber (default self)."},
    )
    chart_number = fields.String(
        validate=_text(40, "the chart number"),
        metadata={"description": "The clinic's own number for the patient (medical record or account number)."},
    )


ICD10 = re.compile(r"^[A-TV-Z][0-9][0-9A-Z](?:\.?[0-9A-Z]{1,4})?$")
MAX_DIAGNOSES = 12


def _diagnosis_codes(codes):
    """Each code an ICD-10-CM code (positions counted from 1), at most 12."""
    messages = [
        f"Code {i} ({code[:20]}) is not an ICD-10-CM code, such as M54.16."
        for i, code in enumerate(codes, start=1)
        if not ICD10.match(code)
    ]
    if len(codes) > MAX_DIAGNOSES:
        messages.append(f"Give at most {MAX_DIAGNOSES} diagnosis codes ({len(codes)} given).")
    if messages:
        raise ValidationError(messages)


class GoodFaithDetailsSchema(Schema):
    """Who the estimate is for and who gives it."""

    class Meta:
        unknown = RAISE

    patient = fields.Nested(PatientSchema, required=True)
    provider = fields.Nested(PartySchema, required=True)
    facility = fields.Nested(PartySchema, allow_none=True)
    diagnosis_codes = fields.List(fields.String(validate=validate.Length(max=20)), validate=_diagnosis_codes)


def estimate_problems(estimate, given=None):
    """Every problem of a save at once: the estimate's (``estimate.<field>``) on the fee schedules in service,
    and what the details ``given`` lack for its answer (an insured patient's member ID; ``None``: the details
    are not all known yet)."""
    store = current_app.extensions["schedule_store"]
    try:
        answer = records_service.compute(estimate, store.current())
    except RequestError as exc:
        return {f"estimate.{key}": value for key, value in exc.messages.items()}
    return details.problems(given, answer) if given is not None else {}


class _ChecksTheEstimate:
    @validates_schema(skip_on_field_errors=False)
    def _whole(self, data, **kwargs):
        """The estimate's own problems (and, for a new record, the details' for it), reported with the
        fields' in one answer."""
        if isinstance(data.get("estimate"), dict):
            problems = estimate_problems(data["estimate"], data if self.complete else None)
            if problems:
                raise ValidationError(problems)


class SaveEstimateSchema(_ChecksTheEstimate, GoodFaithDetailsSchema):
    """A request of section 3 or an encounter of section 7, and the details of the patient, the provider and
    the facility."""

    estimate = fields.Dict(
        required=True,
        metadata={
            "description": "A request (POST /api/v1/estimates) or an encounter (POST /api/v1/encounters).",
            "example": {
                "payer_id": "self_pay",
                "zip": "30303",
                "date_of_service": "2026-12-15",
                "lines": [{"cpt_code": "99213"}, {"cpt_code": "64635"}],
            },
        },
    )

    complete = True


class SupersedeSchema(_ChecksTheEstimate, GoodFaithDetailsSchema):
    """The corrected request, and the details (the old record's where left out)."""

    complete = False

    estimate = fields.Dict(required=True)
    patient = fields.Nested(PatientSchema)
    provider = fields.Nested(PartySchema)


class SavedEstimateSchema(Schema):
    id = fields.Integer()
    number = fields.String(metadata={"example": "GFE-2026-000123"})
    created_at = fields.String(metadata={"format": "date-time"})
    created_by = fields.String()
    supersedes = fields.Integer(allow_none=True)
    superseded_by = fields.Integer(allow_none=True)
    fee_schedules = fields.Dict(metadata={"description": "directory, content hash and load time"})
    estimate = fields.Dict()
    answer = fields.Dict(metadata={"description": "The answer as computed when saved (sections 5 or 7)."})
    patient = fields.Dict()
    provider = fields.Dict()
    facility = fields.Dict(allow_none=True)
    diagnosis_codes = fields.List(fields.String())


class SavedSummarySchema(Schema):
    id = fields.Integer()
    number = fields.String()
    created_at = fields.String()
    patient_name = fields.String()
    patient_birth_date = fields.String()
    codes = fields.List(fields.String())
    document = fields.String(metadata={"enum": ["Good Faith Estimate", "Patient cost estimate"]})
    total_expected = fields.Float(metadata={"description": "The total estimated charge (the allowed amount)."})
    plan_expected = fields.Float(metadata={"description": "What the plan is expected to pay (0 for self-pay)."})
    patient_expected = fields.Float(metadata={"description": "What the patient is expected to pay."})
    superseded = fields.Boolean()


class SavedListSchema(Schema):
    items = fields.List(fields.Nested(SavedSummarySchema))
    total = fields.Integer()
    page = fields.Integer()
    per_page = fields.Integer()


class SavedQuerySchema(Schema):
    class Meta:
        unknown = RAISE

    name = fields.String(metadata={"description": "Part of the patient's name."})
    birth_date = fields.Date()
    number = fields.String()
    code = fields.String()
    created_from = fields.Date()
    created_to = fields.Date()
    page = fields.Integer(load_default=1, validate=validate.Range(1, 100_000))
    per_page = fields.Integer(load_default=20, validate=validate.Range(1, 100))
