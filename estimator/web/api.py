"""The JSON API (SPEC sections 5 and 6): thin adapters over :mod:`estimator.service`."""

import datetime as dt
import io
import json
from itertools import chain
from pathlib import Path

import swagger_ui_bundle
from flask import Response, current_app, jsonify, request, send_from_directory, stream_with_context
from flask.views import MethodView
from flask_smorest import Api, Blueprint, abort
from marshmallow import RAISE
from webargs.flaskparser import FlaskParser
from werkzeug.exceptions import NotFound, RequestEntityTooLarge

from .. import __version__
from ..batch.stream import iter_csv
from ..core.catalog import AMA_POINTER, components, find, is_ama_described
from ..core.errors import InputFileError, RequestError
from ..core.glossary import REQUEST_FIELDS
from ..core.schedules import procedure_key
from ..eligibility.service import (
    EligibilityError,
    benefits_answer,
    check_encounter,
    check_one,
    estimate_encounter,
    estimate_one,
)
from .http import (
    INVALID_FIELDS,
    MAX_DEPTH,
    allow_body,
    http_error_response,
    json_text_problem,
    shallow_enough,
    unkeepable,
)
from .schemas import (
    BenefitsAnswerSchema,
    BenefitsQuerySchema,
    EncounterRequestSchema,
    EncounterSchema,
    ErrorSchema,
    EstimateRequestSchema,
    EstimateSchema,
    HealthSchema,
    PayerSchema,
    ProcedurePageSchema,
    ProcedureQuerySchema,
    ProcedureRowSchema,
    ProcedureSchema,
    RegionQuerySchema,
    RegionSchema,
)

NOT_JSON = "The request body is not valid JSON."
TOO_MANY_DIGITS = "The request body is not valid JSON: a number in it has more than 4,300 digits."
NESTED_TOO_DEEPLY = f"The request body nests objects and lists too deeply (at most {MAX_DEPTH} levels)."


class DuplicateKey(ValueError):
    def __init__(self, key):
        super().__init__(f"The request body names '{key[:100]}' twice in one JSON object: give each field once.")


def _refuse_duplicates(pairs):
    """``object_pairs_hook`` of the JSON reader: a key given twice is an error, not a silent overwrite."""
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen = set()
        raise DuplicateKey(next(k for k, _ in pairs if k in seen or seen.add(k)))
    return obj


def read_json(data):
    """Parse a JSON body; a body that is not JSON aborts 400 with a message saying what is wrong."""
    try:
        decoded = json.loads(data, object_pairs_hook=_refuse_duplicates)
        if shallow_enough(data, decoded):
            found = json_text_problem(data, decoded)
            if found:
                raise unkeepable(*found)
            return decoded
        message = NESTED_TOO_DEEPLY
    except DuplicateKey as exc:
        message = str(exc)
    except json.JSONDecodeError as exc:
        message = f"{NOT_JSON[:-1]}: {exc.msg} at line {exc.lineno}, column {exc.colno}."
    except RecursionError:
        message = NESTED_TOO_DEEPLY
    except ValueError as exc:  # bytes that are not UTF-8 text, or an integer past Python's digit limit
        message = TOO_MANY_DIGITS if "digits" in str(exc) else f"{NOT_JSON[:-1]}: it is not UTF-8 text."
    abort(400, message=message, errors={"_body": [message]})


def dotted(messages, prefix=""):
    """marshmallow's nested messages as ``{"lines.1.units": [...]}`` (list items by index, from 0)."""
    out = {}
    for key, value in messages.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(dotted(value, name + "."))
        else:
            out[name] = [str(v) for v in value] if isinstance(value, (list, tuple)) else [str(value)]
    return out


_REQUEST_ORDER = {name: i for i, name in enumerate(REQUEST_FIELDS)}


def _field_order(key):
    """Errors in the order of the request's fields, lines by their index."""
    parts = key.split(".")
    index = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else -1
    return _REQUEST_ORDER.get(parts[0], len(_REQUEST_ORDER)), index, key


class JSONBodyParser(FlaskParser):
    """Reads the body as JSON whatever its Content-Type, so a body that is not JSON is a 400. Unknown
    query parameters are refused (422) as unknown JSON fields are."""

    DEFAULT_UNKNOWN_BY_LOCATION = {**FlaskParser.DEFAULT_UNKNOWN_BY_LOCATION, "query": RAISE, "querystring": RAISE}

    def _raw_load_json(self, req):
        data = req.get_data(cache=True)
        if req.content_length is None and req.max_content_length is not None and len(data) >= req.max_content_length:
            # A chunked body is read up to the limit and no further: reaching it means there was more.
            raise RequestEntityTooLarge()
        return read_json(data)

    def handle_error(self, error, req, schema, *, error_status_code, error_headers):
        """Report every field's problem at once: the schema's (types, unknown fields) and, for the fields
        that passed it, the request rules' (codes, payers, ZIPs, dates), as the command line does."""
        check = {EstimateRequestSchema: check_one, EncounterRequestSchema: check_encounter}.get(type(schema))
        if check is not None and isinstance(error.data, dict):
            found = dotted(error.messages.get("json", error.messages))
            given = dict(error.valid_data or {})
            if isinstance(error.data.get("lines"), list):  # the rules see every line, even one the schema refused
                given["lines"] = error.data["lines"]
            rules = check(given, schedules())
            merged = {**{k: v for k, v in rules.items() if k not in found and f"{k}._schema" not in found}, **found}
            errors = dict(sorted(merged.items(), key=lambda item: _field_order(item[0])))
            abort(error_status_code or 422, message=INVALID_FIELDS, errors=errors)
        super().handle_error(error, req, schema, error_status_code=error_status_code, error_headers=error_headers)


class EstimatorApi(Api):
    """flask-smorest's Api with the project's one error shape."""

    ERROR_SCHEMA = ErrorSchema

    def handle_http_exception(self, error):
        return http_error_response(error, current_app.extensions.get("html_error_renderer"))


class EstimatorBlueprint(Blueprint):
    ARGUMENTS_PARSER = JSONBodyParser()


api_blp = EstimatorBlueprint(
    "api", __name__, url_prefix="/api/v1", description="Estimates, procedures, payers and regions."
)
health_blp = EstimatorBlueprint("health", __name__, description="Service health.")


def schedules():
    return current_app.extensions["schedule_store"].current()


def _records(frame, columns):
    """Rows of a schedule frame as dicts, NaN as None."""
    subset = frame[columns].astype(object)
    return subset.where(subset.notna(), None).to_dict("records")


ESTIMATE_EXAMPLE = {"cpt_code": "64483", "payer_id": "medicare", "zip": "10001", "date_of_service": "2025-05-01"}


@api_blp.route("/estimates")
class Estimates(MethodView):
    @api_blp.arguments(EstimateRequestSchema(), example=ESTIMATE_EXAMPLE)
    @api_blp.response(200, EstimateSchema)
    @api_blp.alt_response(400, schema=ErrorSchema, description="The body is not JSON.")
    @api_blp.alt_response(413, schema=ErrorSchema, description="The body is too large.")
    @api_blp.alt_response(422, schema=ErrorSchema, description="A field is invalid; messages per field.")
    def post(self, fields):
        """Estimate one procedure line

        Allowed amount, patient and payer shares as low / expected / high, balance bill, prior
        authorization, warnings and a step-by-step explanation.
        """
        try:
            answer = estimate_one(fields, schedules())
        except RequestError as exc:
            abort(422, message=INVALID_FIELDS, errors=exc.messages)
        # The answer is built to EstimateSchema by estimator.answer (a test checks it against the
        # OpenAPI document); returning a Response skips a second pass through the schema.
        return jsonify(answer)


ENCOUNTER_EXAMPLES = {
    "two-level transforaminal": {
        "summary": "Medicare, Manhattan: 64483 with the add-on 64484",
        "value": {
            "payer_id": "medicare",
            "zip": "10001",
            "date_of_service": "2025-05-01",
            "lines": [{"cpt_code": "64483"}, {"cpt_code": "64484"}],
        },
    },
    "facet series": {
        "summary": "Example PPO, hospital outpatient: lumbar facet injections at three levels, both sides",
        "value": {
            "payer_id": "example_ppo",
            "zip": "60601",
            "setting": "hospital_outpatient",
            "date_of_service": "2025-09-15",
            "deductible_met": 1500,
            "lines": [
                {"cpt_code": "64493", "modifiers": ["50"]},
                {"cpt_code": "64494", "modifiers": ["50"]},
                {"cpt_code": "64495", "modifiers": ["50"]},
            ],
        },
    },
    "self-pay visit": {
        "summary": "Self-pay: an office visit and a radiofrequency ablation at two joints",
        "value": {
            "payer_id": "self_pay",
            "zip": "30303",
            "date_of_service": "2025-10-01",
            "lines": [{"cpt_code": "99213"}, {"cpt_code": "64635"}, {"cpt_code": "64636"}],
        },
    },
}


@api_blp.route("/encounters")
class Encounters(MethodView):
    @api_blp.arguments(EncounterRequestSchema(), examples=ENCOUNTER_EXAMPLES)
    @api_blp.response(200, EncounterSchema)
    @api_blp.alt_response(400, schema=ErrorSchema, description="The body is not JSON.")
    @api_blp.alt_response(413, schema=ErrorSchema, description="The body is too large.")
    @api_blp.alt_response(
        422, schema=ErrorSchema, description="A field is invalid; a line's fields are keyed lines.<index>.<field>."
    )
    def post(self, fields):
        """Estimate a visit: several lines at once

        The multiple-procedure reduction, the deductible, coinsurance, copay and out-of-pocket maximum
        across the lines, and the visit's prior-authorization status; totals are the sums of the lines.
        """
        try:
            answer = estimate_encounter(fields, schedules())
        except RequestError as exc:
            abort(422, message=INVALID_FIELDS, errors=exc.messages)
        return jsonify(answer)


X12_EXAMPLE = (
    "ISA*00*          *00*          *ZZ*PAYERID        *ZZ*CLINICID       *251201*1200*^*00501*000000001*0*P*:~"
    "GS*HB*PAYERID*CLINICID*20251201*1200*1*X*005010X279A1~ST*271*0001*005010X279A1~"
    "BHT*0022*11*10001234*20251201*1200~HL*1**20*1~NM1*PR*2*EXAMPLE PAYER*****PI*12345~HL*2*1*21*1~"
    "NM1*1P*2*EXAMPLE CLINIC*****XX*1234567893~HL*3*2*22*0~NM1*IL*1*DOE*JANE****MI*W123456789~"
    "DMG*D8*19700203*F~EB*1**30**EXAMPLE PLAN~EB*C*IND*30***23*1500*****Y~EB*C*IND*30***29*1100*****Y~"
    "EB*A*IND*98*****.2****Y~EB*B*IND*98***27*40*****Y~EB*G*IND*30***23*5000*****Y~EB*G*IND*30***29*3900*****Y~"
    "SE*17*0001~GE*1*1~IEA*1*000000001~"
)
X12_BODY = {
    "required": True,
    "content": {
        "application/edi-x12": {"schema": {"type": "string"}, "example": X12_EXAMPLE},
        "text/plain": {"schema": {"type": "string"}, "example": X12_EXAMPLE},
    },
}


@api_blp.route("/benefits")
class Benefits(MethodView):
    @api_blp.arguments(BenefitsQuerySchema, location="query", as_kwargs=True)
    @api_blp.doc(requestBody=X12_BODY)
    @api_blp.response(200, BenefitsAnswerSchema)
    @api_blp.alt_response(413, schema=ErrorSchema, description="The body is over 64 KiB.")
    @api_blp.alt_response(
        422,
        schema=ErrorSchema,
        description="Not a 271 (not X12, a 270 or an 835, a broken envelope, ...), a rejection (AAA) or coverage "
        "that is not active (`body`), or several patients and none named (`patient`).",
    )
    def post(self, setting="office", patient=None):
        """Read the benefits of an eligibility response (X12 271)

        The patient's payer, coverage, and per network the deductible (and what is met), coinsurance,
        copay and out-of-pocket maximum (and what is spent) for the setting's service types, each with the
        EB segment it came from. The 271 is read, never logged or kept.
        """
        try:
            answer = benefits_answer(request.get_data(cache=False), patient, setting)
        except EligibilityError as exc:
            abort(422, message="The eligibility response cannot be read for benefits.", errors=exc.messages)
        return jsonify(answer)


BATCH_BODY = {
    "required": True,
    "content": {
        "text/csv": {
            "schema": {"type": "string"},
            "example": "claim_id,cpt_code,payer_id,zip\nA-1,64483,medicare,10001\nA-2,20971,self_pay,\n",
        },
        "multipart/form-data": {
            "schema": {"type": "object", "properties": {"file": {"type": "string", "format": "binary"}}},
        },
    },
}


@api_blp.route("/estimates/batch")
class BatchEstimates(MethodView):
    @api_blp.doc(
        requestBody=BATCH_BODY,
        responses={
            "200": {"description": "The estimated CSV", "content": {"text/csv": {"schema": {"type": "string"}}}}
        },
    )
    @api_blp.alt_response(413, schema=ErrorSchema, description="The file is too large.")
    @api_blp.alt_response(422, schema=ErrorSchema, description="The file cannot be read as a batch.")
    def post(self):
        """Estimate a CSV batch

        Send the CSV as the body (`text/csv`) or as the multipart file `file`. Every row comes back
        once, in order, with the estimate columns added; a bad row gets its message in `error`.
        """
        if request.mimetype == "multipart/form-data":
            upload = request.files.get("file")
            if upload is None:
                abort(422, message="No CSV file was sent.", errors={"file": ["Missing data for required field."]})
            source = io.BytesIO(upload.read())  # the upload is closed with the request, before streaming ends
        else:
            source = request.stream
        chunks = iter_csv(source, schedules(), chunk_rows=current_app.config["BATCH_CHUNK_ROWS"])
        try:
            header = next(chunks)  # the file is refused as a whole before any output is sent
        except InputFileError as exc:
            abort(422, message=f"The CSV cannot be estimated: {exc}.", errors={"file": [str(exc)]})
        # Streamed: rows are read, estimated and sent chunk by chunk, so memory stays bounded.
        return Response(
            stream_with_context(chain([header], chunks)),
            mimetype="text/csv",
            headers={"Content-Disposition": 'attachment; filename="estimates.csv"'},
        )


@api_blp.route("/procedures")
class Procedures(MethodView):
    @api_blp.arguments(ProcedureQuerySchema, location="query")
    @api_blp.response(200, ProcedurePageSchema)
    def get(self, query):
        """Find procedure codes by number or words, a page at a time

        `q` matches codes that start with it (`6448`) and descriptions that hold each of its words, in any
        order (`lumbar mri`); no `q` lists every code. Each code lists its 26 and TC rows, if any.
        """
        return procedure_page(schedules(), query["q"], query["page"], query["per_page"])


@api_blp.route("/procedures/<cpt_code>")
class Procedure(MethodView):
    @api_blp.response(200, ProcedureSchema)
    @api_blp.alt_response(404, schema=ErrorSchema, description="No such procedure code.")
    def get(self, cpt_code):
        """One procedure by its code, with its 26 and TC rows"""
        loaded = schedules()
        code = cpt_code.strip().upper()
        if code not in loaded.keys["cpt_code"]:
            abort(404, message=f"Unknown procedure code '{cpt_code}'.")
        return procedure_record(loaded, loaded.procedures.index.get_loc(code))


#: The catalog's columns an answer about a procedure gives.
PROCEDURE_FIELDS = list(ProcedureRowSchema().fields)


def procedure_record(loaded, position):
    """One global row of the catalog as the API gives it, with its components (26, TC) and, for a code the
    catalog only names, where its official descriptor is."""
    frame = loaded.procedures
    record = _records(frame.iloc[[position]], PROCEDURE_FIELDS)[0]
    code = record["cpt_code"]
    record["components"] = [
        _records(frame.loc[[procedure_key(code, m)]], PROCEDURE_FIELDS)[0] for m in components(loaded, code)
    ]
    record["descriptor"] = AMA_POINTER if is_ama_described(code, record["description"]) else None
    return record


def procedure_page(loaded, query, page, per_page):
    """A page of the codes that match ``query`` (:func:`estimator.core.catalog.find`)."""
    found = find(loaded, query)
    start = (page - 1) * per_page
    items = [procedure_record(loaded, int(i)) for i in found[start : start + per_page]]
    return {"items": items, "total": len(found), "page": page, "per_page": per_page, "q": query}


@api_blp.route("/payers")
class Payers(MethodView):
    @api_blp.response(200, PayerSchema(many=True))
    def get(self):
        """List the payers with their default benefits"""
        return _records(schedules().payers, list(PayerSchema().fields))


@api_blp.route("/regions")
class Regions(MethodView):
    @api_blp.arguments(RegionQuerySchema, location="query", as_kwargs=True)
    @api_blp.response(200, RegionSchema(many=True))
    def get(self, state=None):
        """List the regions (Medicare localities) with their geographic factors and GPCIs"""
        frame = schedules().regions
        if state:
            frame = frame.loc[frame["state"] == state.upper()]
        return _records(frame, list(RegionSchema().fields))


@health_blp.route("/healthz")
class Health(MethodView):
    @health_blp.response(200, HealthSchema)
    def get(self):
        """Service health and the fee schedules loaded"""
        store = current_app.extensions["schedule_store"]
        loaded = store.current()
        first, last = loaded.coverage()
        return {
            "status": "ok" if store.reload_error is None else "degraded",
            "fee_schedules": loaded.directory,
            "loaded_at": dt.datetime.fromtimestamp(store.loaded_at, dt.UTC).isoformat(timespec="seconds"),
            "reload_error": store.reload_error,
            "files": store.files(),
            "effective_from": first,
            "effective_to": last,
            "rates_ending": loaded.rates_ending(dt.date.today()),
            "procedures": len(loaded.procedures),
            "payers": len(loaded.payers),
            "regions": len(loaded.regions),
            "version": __version__,
        }


#: The files of the Swagger UI bundle that the API reference page loads.
DOCS_ASSETS = frozenset({"swagger-ui.css", "swagger-ui-bundle.js", "swagger-ui-standalone-preset.js"})


def init_app(app):
    """Register the API, its OpenAPI document and its offline reference page."""
    api = EstimatorApi(
        app,
        spec_kwargs={
            "info": {
                "description": "What a procedure will cost the patient, and whether the insurer must approve it "
                "first. Every error has the shape of the Error schema; 422 carries messages per field."
            }
        },
    )
    api.register_blueprint(api_blp)
    api.register_blueprint(health_blp)
    allow_body(app, "api.BatchEstimates", "MAX_CONTENT_LENGTH")
    assets = Path(swagger_ui_bundle.swagger_ui_path)

    @app.route(app.config["OPENAPI_SWAGGER_UI_URL"] + "<path:filename>")
    def swagger_assets(filename):
        if filename not in DOCS_ASSETS:  # only what the reference page loads, none of the bundle's extras
            raise NotFound()
        return send_from_directory(assets, filename)

    return api
