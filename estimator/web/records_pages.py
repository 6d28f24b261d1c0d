"""The saved records' pages: sign in and out, save a result as a Good Faith Estimate, the list with its
search, a printable record, its FHIR export. Staff only; every access audited."""

import datetime as dt
import json
from urllib.parse import urlsplit

from flask import Blueprint, Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import login_required, login_user, logout_user
from marshmallow import ValidationError

from ..core.errors import RequestError
from ..core.glossary import SETTING_WORDS
from ..records import fhir
from ..records import service as records
from ..records.accounts import sign_in
from .auth import db, failed_sign_ins, page_user
from .http import dotted_errors
from .schemas import GoodFaithDetailsSchema

bp = Blueprint("records", __name__)


def _safe_next(target):
    """Only a path on this site (never another host) to go on to after signing in."""
    parts = urlsplit(target or "")
    return target if target and not parts.scheme and not parts.netloc and target.startswith("/") else None


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Sign in with an email and a password."""
    if request.method == "GET":
        return render_template("login.html", error=None, email="", next=request.args.get("next", ""))
    email, password = request.form.get("email", ""), request.form.get("password", "")
    wait = failed_sign_ins().wait(email)
    if wait:
        message = f"Too many failed sign-ins. Try again in {wait // 60 + 1} minutes."
        return render_template("login.html", error=message, email=email, next=request.form.get("next", "")), 429
    user = sign_in(db(), email, password)
    if user is None:
        failed_sign_ins().failed(email)
        message = "The email or the password is not right, or the account is disabled."
        return render_template("login.html", error=message, email=email, next=request.form.get("next", "")), 401
    failed_sign_ins().succeeded(email)
    login_user(user)
    return redirect(_safe_next(request.form.get("next")) or url_for("records.index"))


@bp.post("/logout")
def logout():
    logout_user()
    flash("Signed out.")
    return redirect(url_for("records.login"))


@bp.get("/records")
@login_required
def index():
    """The saved estimates, newest first, with a search."""
    query = {}
    errors = []
    for name in ("name", "number", "code"):
        if request.args.get(name, "").strip():
            query[name] = request.args[name].strip()
    for name in ("birth_date", "created_from", "created_to"):
        text = request.args.get(name, "").strip()
        if text:
            try:
                query[name] = dt.date.fromisoformat(text)
            except ValueError:
                errors.append(f"{name.replace('_', ' ')}: not a date YYYY-MM-DD")
    try:
        page = max(1, int(request.args.get("page", 1)))
    except ValueError:
        page = 1
    found, total = records.search(db(), page_user(), "web", page=page, per_page=20, **query)
    rows = [(r, records.superseded_by(db(), r)) for r in found]
    return render_template("records.html", rows=rows, total=total, page=page, args=request.args, errors=errors)


@bp.post("/records/new")
@login_required
def new():
    """From a result page: the details form; with the details: the saved record."""
    try:
        estimate = json.loads(request.form.get("estimate", ""))
    except ValueError:
        abort(400)
    supersedes = request.form.get("supersedes", "").strip()
    if "patient_name" not in request.form:
        values = {}
        if supersedes.isdigit():  # a correction: the old record's details, to change where they were wrong
            try:
                values = _form_values(records.get(db(), page_user(), int(supersedes), "web").details)
            except records.RecordError:
                abort(404)
        return render_template("save.html", estimate=estimate, supersedes=supersedes, values=values, errors={})
    form = request.form
    fields = {
        "patient": {"name": form.get("patient_name", ""), "birth_date": form.get("patient_birth_date", "")},
        "provider": _party(form, "provider"),
        "diagnosis_codes": [c for c in form.get("diagnosis_codes", "").replace(",", " ").split() if c],
    }
    if form.get("facility_name", "").strip():
        fields["facility"] = _party(form, "facility")
    try:
        details = GoodFaithDetailsSchema().load(fields)
    except ValidationError as exc:
        errors = {key.replace(".", "_"): text for key, text in dotted_errors(exc.messages).items()}
        return render_template("save.html", estimate=estimate, supersedes=supersedes, values=form, errors=errors), 422
    details["patient"]["birth_date"] = details["patient"]["birth_date"].isoformat()
    old = None
    if supersedes.isdigit():
        old = records.get(db(), page_user(), int(supersedes), "web")
        if records.superseded_by(db(), old) is not None:
            abort(409)
    store = current_app.extensions["schedule_store"]
    try:
        record = records.save(db(), page_user(), estimate, details, store.current(), store.loaded_at, "web", old)
    except RequestError:
        db().rollback()
        abort(422)
    return redirect(url_for("records.show", record_id=record.id))


def _form_values(details):
    """The save form's fields from saved details."""
    values = {
        "patient_name": details["patient"]["name"],
        "patient_birth_date": details["patient"]["birth_date"],
        "diagnosis_codes": " ".join(details.get("diagnosis_codes") or []),
    }
    for prefix in ("provider", "facility"):
        party = details.get(prefix) or {}
        for key in ("name", "npi", "tin"):
            values[f"{prefix}_{key}"] = party.get(key, "")
        for key, value in (party.get("address") or {}).items():
            values[f"{prefix}_address_{key}"] = value
    return values


def _party(form, prefix):
    return {
        "name": form.get(f"{prefix}_name", ""),
        "npi": form.get(f"{prefix}_npi", "").strip(),
        "tin": form.get(f"{prefix}_tin", "").strip(),
        "address": {
            "line": form.get(f"{prefix}_address_line", ""),
            "city": form.get(f"{prefix}_address_city", ""),
            "state": form.get(f"{prefix}_address_state", "").strip().upper(),
            "postal_code": form.get(f"{prefix}_address_postal_code", "").strip(),
        },
    }


@bp.get("/records/<int:record_id>")
@login_required
def show(record_id):
    """The printable record: the Good Faith Estimate with every detail, its number, and a banner when
    it is superseded."""
    try:
        record = records.get(db(), page_user(), record_id, "web", "print")
    except records.RecordError:
        abort(404)
    answer = record.answer
    lines = answer["lines"] if "lines" in answer else [{**answer, "line": 1}]
    return render_template(
        "record.html",
        record=record,
        a=answer,
        lines=lines,
        newer=records.superseded_by(db(), record),
        setting=SETTING_WORDS.get(answer["setting"], answer["setting"]),
    )


@bp.get("/records/<int:record_id>/fhir")
@login_required
def export(record_id):
    try:
        record = records.get(db(), page_user(), record_id, "web", "export")
    except records.RecordError:
        abort(404)
    return Response(
        json.dumps(fhir.bundle(record), indent=2),
        mimetype=fhir.MEDIA_TYPE,
        headers={"Content-Disposition": f'attachment; filename="{record.number}.fhir.json"'},
    )


def init_app(app):
    app.register_blueprint(bp)
    return bp
