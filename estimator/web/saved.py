"""Saved estimates through the JSON API (SPEC section 9): create, read, list, supersede, FHIR export. Every
route needs a staff user's bearer token; every access is audited."""

import json

from flask import Response, current_app, g, url_for
from flask.views import MethodView
from flask_smorest import abort

from ..core.errors import RequestError
from ..records import details, documents, fhir
from ..records import service as records
from ..records.models import as_utc
from . import schemas
from .api import EstimatorBlueprint
from .auth import api_user, db
from .http import INVALID_FIELDS
from .schemas import (
    ErrorSchema,
    SavedEstimateSchema,
    SavedListSchema,
    SavedQuerySchema,
    SaveEstimateSchema,
    SupersedeSchema,
)

blp = EstimatorBlueprint(
    "saved",
    __name__,
    url_prefix="/api/v1/saved-estimates",
    description="Saved estimates: Good Faith Estimates and patient cost estimates (staff only: a bearer token).",
)
BEARER = [{"bearerAuth": []}]


@blp.before_request
def require_token():
    """Every route needs a staff user's token, before anything of the request is read."""
    api_user()


def schedules_in_service():
    store = current_app.extensions["schedule_store"]
    return store.current(), store.loaded_at


def as_json(record, session):
    newer = records.superseded_by(session, record)
    details = record.details
    return {
        "id": record.id,
        "number": record.number,
        "created_at": as_utc(record.created_at).isoformat(timespec="seconds"),
        "created_by": record.created_by.email,
        "supersedes": record.supersedes_id,
        "superseded_by": newer.id if newer else None,
        "fee_schedules": {
            "directory": record.schedules_directory,
            "hash": record.schedules_hash,
            "loaded_at": as_utc(record.schedules_loaded_at).isoformat(timespec="seconds"),
        },
        "estimate": record.request,
        "answer": record.answer,
        "patient": details["patient"],
        "provider": details["provider"],
        "facility": details.get("facility"),
        "diagnosis_codes": details.get("diagnosis_codes", []),
    }


def saved_details(fields):
    """The details of a save as stored: dates as ISO text, phone numbers written one way."""
    out = {key: fields[key] for key in ("patient", "provider", "facility", "diagnosis_codes") if fields.get(key)}
    out["patient"] = {**out["patient"], "birth_date": str(out["patient"]["birth_date"])}
    for party in ("provider", "facility"):
        if out.get(party) and out[party].get("phone"):
            out[party] = {**out[party], "phone": details.phone_text(out[party]["phone"])}
    return out


def _save(user, request, details, via, supersedes=None):
    schedules, loaded_at = schedules_in_service()
    try:
        return records.save(db(), user, request, details, schedules, loaded_at, via, supersedes)
    except RequestError as exc:
        db().rollback()
        abort(422, message=INVALID_FIELDS, errors={f"estimate.{k}": v for k, v in exc.messages.items()})
    except records.AlreadySuperseded as exc:  # another correction of the same record won
        abort(409, message=str(exc))


def _record(record_id, user, action="read"):
    try:
        return records.get(db(), user, record_id, "api", action)
    except records.RecordError:
        abort(404, message=f"No saved estimate {record_id}.")


@blp.route("")
class SavedEstimates(MethodView):
    @blp.arguments(SaveEstimateSchema)
    @blp.response(201, SavedEstimateSchema)
    @blp.alt_response(401, schema=ErrorSchema, description="No valid bearer token.")
    @blp.alt_response(
        422, schema=ErrorSchema, description="A field is invalid (the estimate's keyed estimate.<field>)."
    )
    @blp.doc(security=BEARER)
    def post(self, fields):
        """Save an estimate: a Good Faith Estimate (self-pay) or a patient cost estimate (insured)

        Computes the estimate on the fee schedules in service and keeps it, with the patient's, provider's
        and facility's details, under a new number. Every problem, of the details and of the estimate, is
        reported in one 422: an insured patient's estimate needs `patient.member_id`, and an estimate with
        a facility fee needs the `facility`.
        """
        user = g.records_user
        record = _save(user, fields["estimate"], saved_details(fields), "api")
        body = as_json(record, db())
        return body, 201, {"Location": url_for("saved.SavedEstimate", record_id=record.id)}

    @blp.arguments(SavedQuerySchema, location="query")
    @blp.response(200, SavedListSchema)
    @blp.alt_response(401, schema=ErrorSchema, description="No valid bearer token.")
    @blp.doc(security=BEARER)
    def get(self, query):
        """List saved estimates, newest first, by patient name, date of birth, number, code and date saved"""
        user = g.records_user
        page, per_page = query.pop("page"), query.pop("per_page")
        found, total = records.search(db(), user, "api", page=page, per_page=per_page, **query)
        session = db()
        items = [
            {
                "id": r.id,
                "number": r.number,
                "created_at": as_utc(r.created_at).isoformat(timespec="seconds"),
                "patient_name": r.patient_name,
                "patient_birth_date": r.patient_birth_date.isoformat(),
                "codes": [line.cpt_code for line in r.lines],
                "document": documents.document_title(r.answer),
                "total_expected": float(r.total_expected),
                "plan_expected": r.answer["payer_responsibility"]["expected"],
                "patient_expected": r.answer["patient_responsibility"]["expected"],
                "superseded": records.superseded_by(session, r) is not None,
            }
            for r in found
        ]
        return {"items": items, "total": total, "page": page, "per_page": per_page}


@blp.route("/<int:record_id>")
class SavedEstimate(MethodView):
    @blp.response(200, SavedEstimateSchema)
    @blp.alt_response(401, schema=ErrorSchema, description="No valid bearer token.")
    @blp.alt_response(404, schema=ErrorSchema, description="No such record.")
    @blp.doc(security=BEARER)
    def get(self, record_id):
        """One saved estimate, as it was computed"""
        return as_json(_record(record_id, g.records_user), db())


@blp.route("/<int:record_id>/supersede")
class Supersede(MethodView):
    @blp.arguments(SupersedeSchema)
    @blp.response(201, SavedEstimateSchema)
    @blp.alt_response(401, schema=ErrorSchema, description="No valid bearer token.")
    @blp.alt_response(404, schema=ErrorSchema, description="No such record.")
    @blp.alt_response(409, schema=ErrorSchema, description="The record is already superseded.")
    @blp.doc(security=BEARER)
    def post(self, fields, record_id):
        """Correct a saved estimate: a new record that supersedes it (both stay readable)"""
        user = g.records_user
        old = _record(record_id, user)
        newer = records.superseded_by(db(), old)
        if newer is not None:
            abort(409, message=str(records.AlreadySuperseded(old, newer)))
        merged = {**old.details, **saved_details({**old.details, **fields})}
        problems = schemas.estimate_problems(fields["estimate"], merged)
        if problems:
            abort(422, message=INVALID_FIELDS, errors=problems)
        record = _save(user, fields["estimate"], merged, "api", supersedes=old)
        return as_json(record, db()), 201, {"Location": url_for("saved.SavedEstimate", record_id=record.id)}


@blp.route("/<int:record_id>/fhir")
class FhirExport(MethodView):
    @blp.doc(
        security=BEARER,
        responses={
            "200": {
                "description": "A Da Vinci PCT GFE Bundle",
                "content": {fhir.MEDIA_TYPE: {"schema": {"type": "object"}}},
            }
        },
    )
    @blp.alt_response(401, schema=ErrorSchema, description="No valid bearer token.")
    @blp.alt_response(404, schema=ErrorSchema, description="No such record.")
    def get(self, record_id):
        """The saved estimate as a FHIR R4 Good Faith Estimate Bundle (Da Vinci Patient Cost Transparency)"""
        record = _record(record_id, g.records_user, "export")
        return Response(json.dumps(fhir.bundle(record)), mimetype=fhir.MEDIA_TYPE)
