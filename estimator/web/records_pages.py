"""The saved records' pages: sign in and out, save a result as a Good Faith Estimate, the list with its
search, a printable record, its FHIR export. Staff only; every access audited."""

import datetime as dt
import json
from urllib.parse import urlsplit

from flask import Blueprint, Response, abort, current_app, flash, redirect, render_template, request, session, url_for
from flask_login import login_required, login_user, logout_user
from marshmallow import ValidationError

from ..core.errors import RequestError
from ..records import documents, fhir
from ..records import service as records
from ..records.accounts import sign_in
from .auth import db, end_every_session, page_user, sign_in_limits
from .http import bounded_json, dotted_errors
from .pages import SETTING_LABELS
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
    wait = sign_in_limits().attempt(email)  # counted before the password is checked
    if wait:
        minutes = (wait + 59) // 60
        message = f"Too many failed sign-ins. Try again in {minutes} minute{'s' if minutes != 1 else ''}."
        return render_template("login.html", error=message, email=email, next=request.form.get("next", "")), 429
    user = sign_in(db(), email, password)
    if user is None:
        message = "The email or the password is not right, or the account is disabled."
        return render_template("login.html", error=message, email=email, next=request.form.get("next", "")), 401
    sign_in_limits().succeeded(email)
    login_user(user)
    return redirect(_safe_next(request.form.get("next")) or url_for("records.index"))


@bp.post("/logout")
def logout():
    """Sign out: every session of this user ends, here and in any other browser (or a copied cookie)."""
    user = page_user()
    if user is not None:
        end_every_session(user)
    logout_user()
    flash("Signed out.")
    return redirect(url_for("records.login"))


#: The search's filters: name, label, kind. Searched by POST, so names and birth dates stay out of URLs
#: (proxy logs, browser history).
SEARCH_FIELDS = (
    ("name", "Patient name (words in any order)", "text"),
    ("birth_date", "Date of birth", "date"),
    ("number", "Number (or part of it)", "text"),
    ("code", "Procedure code", "text"),
    ("created_from", "Saved from", "date"),
    ("created_to", "Saved to", "date"),
)
PER_PAGE = 20


@bp.route("/records", methods=["GET", "POST"])
@login_required
def index():
    """The saved estimates, newest first; with a search (sent by POST) the ones it finds."""
    form = request.form if request.method == "POST" else {}
    query, errors = {}, []
    for name, label, kind in SEARCH_FIELDS:
        text = str(form.get(name, "")).strip()[:200]
        if not text:
            continue
        if kind == "date":
            day = _date(text)
            if day is None:
                errors.append(f"{label}: not a date YYYY-MM-DD between 1900 and 2999")
                continue
            query[name] = day
        else:
            query[name] = text
    page = _page(form.get("page") if form else request.args.get("page"))
    found, total = records.search(db(), page_user(), "web", page=page, per_page=PER_PAGE, **query)
    rows = [(r, records.superseded_by(db(), r)) for r in found]
    values = {name: str(form.get(name, "")) for name, _, _ in SEARCH_FIELDS}
    return render_template(
        "records.html",
        rows=rows,
        total=total,
        page=page,
        per_page=PER_PAGE,
        values=values,
        fields=SEARCH_FIELDS,
        searched=bool(query),
        errors=errors,
    )


#: The largest page number and record number a URL or a form may give (beyond any real count).
MAX_NUMBER = 10**9


def _page(text):
    """A page number from a form or a query string: 1 when absent or not a whole number in range."""
    text = str(text or "")
    return int(text) if text.isascii() and text.isdigit() and 0 < len(text) < 10 and int(text) >= 1 else 1


def _date(text):
    """A date YYYY-MM-DD between 1900 and 2999, or None."""
    try:
        day = dt.date.fromisoformat(text) if len(text) == 10 and text.isascii() else None
    except ValueError:
        return None
    return day if day is not None and 1900 <= day.year <= 2999 else None


def _record_id(text):
    """A record id from a form: a whole number in range, or None."""
    text = str(text or "").strip()
    return int(text) if text.isascii() and text.isdigit() and 0 < len(text) < 10 else None


@bp.post("/records/new")
@login_required
def new():
    """From a result page: the details form; with the details: the saved record."""
    estimate = bounded_json(request.form.get("estimate", ""))
    if estimate is None:
        abort(400)
    supersedes = request.form.get("supersedes", "").strip()
    old_id = _record_id(supersedes)
    if supersedes and old_id is None:
        abort(404)
    if "patient_name" not in request.form:
        values = {}
        if old_id is not None:  # a correction: the old record's details, to change where they were wrong
            try:
                values = _form_values(records.get(db(), page_user(), old_id, "web", "correct").details)
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
    if old_id is not None:
        try:
            old = records.get(db(), page_user(), old_id, "web", action=None)
        except records.RecordError:
            abort(404)
        if records.superseded_by(db(), old) is not None:
            abort(409)
    store = current_app.extensions["schedule_store"]
    try:
        record = records.save(db(), page_user(), estimate, details, store.current(), store.loaded_at, "web", old)
    except RequestError:
        db().rollback()
        abort(422)
    except records.AlreadySuperseded:
        abort(409)
    session["just_saved"] = record.id  # its page, shown next, is not a reading to audit: "create" is logged
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
    """The record as it was given, with its number and a banner when it is superseded (audited as a view;
    right after saving it, not again)."""
    return _record_page(record_id, None if session.pop("just_saved", None) == record_id else "view")


@bp.get("/records/<int:record_id>/print")
@login_required
def print_view(record_id):
    """The record laid out for printing (audited as a print)."""
    return _record_page(record_id, "print", printing=True)


def _record_page(record_id, action, printing=False):
    if record_id > MAX_NUMBER:
        abort(404)
    try:
        record = records.get(db(), page_user(), record_id, "web", action)
    except records.RecordError:
        abort(404)
    answer = record.answer
    user = page_user()
    return render_template(
        "record.html",
        record=record,
        a=answer,
        lines=documents.answer_lines(answer),
        gfe=documents.is_good_faith_estimate(answer),
        title=documents.document_title(answer),
        items=documents.gfe_items(answer),
        left=documents.left_out(answer),
        newer=records.superseded_by(db(), record),
        older=record.supersedes,
        setting_label=SETTING_LABELS[answer["setting"]],
        printing=printing,
        trail=records.audit_trail(db(), record.id) if user.is_admin else None,
    )


@bp.get("/records/<int:record_id>/fhir")
@login_required
def export(record_id):
    if record_id > MAX_NUMBER:
        abort(404)
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
