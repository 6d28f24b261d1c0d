"""The saved records' pages: sign in and out, save a result (a Good Faith Estimate or a patient cost
estimate), the list with its search, a printable record, its FHIR export. Staff only; every access audited."""

import datetime as dt
import json
from urllib.parse import urlsplit

from flask import Blueprint, Response, abort, current_app, flash, redirect, render_template, request, session, url_for
from flask_login import login_required, login_user, logout_user
from marshmallow import ValidationError

from ..core.errors import RequestError
from ..records import details as records_details
from ..records import documents, fhir
from ..records import service as records
from ..records.accounts import sign_in
from .auth import db, end_every_session, page_user, sign_in_limits
from .http import bounded_json, dotted_errors, for_people
from .pages import SETTING_LABELS, field_label
from .saved import saved_details
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


#: The save form's fields as the form labels them (messages name them so), by their form names.
PARTY_LABELS = {
    "name": "Name",
    "npi": "NPI",
    "tin": "Taxpayer ID (TIN)",
    "taxonomy": "Provider taxonomy code",
    "phone": "Phone",
    "address_line": "Street address",
    "address_city": "City",
    "address_state": "State",
    "address_postal_code": "ZIP code",
}
SAVE_LABELS = {
    "patient_name": "Patient: full name",
    "patient_birth_date": "Patient: date of birth",
    "patient_sex": "Patient: sex",
    "patient_member_id": "Patient: member ID",
    "patient_relationship": "Patient: relation to the plan's subscriber",
    "patient_chart_number": "Patient: chart number",
    "diagnosis_codes": "Diagnosis codes",
    **{f"provider_{key}": f"Provider: {label}" for key, label in PARTY_LABELS.items()},
    **{f"facility_{key}": f"Facility: {label}" for key, label in PARTY_LABELS.items()},
    "facility": "Facility",
}
#: The patient's optional fields on the save form.
PATIENT_OPTIONS = ("sex", "member_id", "relationship", "chart_number")


@bp.post("/records/new")
@login_required
def new():
    """From a result page: the details form; with the details: the saved record. Every problem, of the
    details and of the estimate itself, comes back in one answer."""
    estimate = bounded_json(request.form.get("estimate", ""))
    if estimate is None:
        abort(400)
    supersedes = request.form.get("supersedes", "").strip()
    old_id = _record_id(supersedes)
    if supersedes and old_id is None:
        abort(404)
    old = None
    if old_id is not None:
        try:  # the form: audited as opened to correct; the save: audited as the correction
            action = "correct" if "patient_name" not in request.form else None
            old = records.get(db(), page_user(), old_id, "web", action)
        except records.RecordError:
            abort(404)
    store = current_app.extensions["schedule_store"]
    answer, estimate_errors = _answer(estimate, store.current())
    page = {"estimate": estimate, "supersedes": supersedes, "old": old, "answer": answer}
    if "patient_name" not in request.form:
        values = _form_values(old.details) if old is not None else _clinic_defaults()
        return _save_page(page, values, estimate_errors)
    form = request.form
    fields = {
        "patient": {
            "name": form.get("patient_name", ""),
            "birth_date": form.get("patient_birth_date", ""),
            **{key: form.get(f"patient_{key}", "").strip() for key in PATIENT_OPTIONS if form.get(f"patient_{key}")},
        },
        "provider": _party(form, "provider"),
        "diagnosis_codes": [c for c in form.get("diagnosis_codes", "").replace(",", " ").split() if c],
    }
    if any(form.get(f"facility_{key}", "").strip() for key in PARTY_LABELS):
        fields["facility"] = _party(form, "facility")
    errors = {}
    try:
        details = GoodFaithDetailsSchema().load(fields)
    except ValidationError as exc:
        details, errors = None, _form_keys(dotted_errors(exc.messages))
    if answer is not None:
        errors.update(_form_keys(records_details.problems(details if details is not None else fields, answer)))
    if errors or estimate_errors:
        return _save_page(page, form, {**estimate_errors, **errors}, 422)
    details = saved_details(details)
    if old is not None and records.superseded_by(db(), old) is not None:
        abort(409)
    try:
        record = records.save(db(), page_user(), estimate, details, store.current(), store.loaded_at, "web", old)
    except RequestError:
        db().rollback()
        abort(422)
    except records.AlreadySuperseded:
        abort(409)
    session["just_saved"] = record.id  # its page, shown next, is not a reading to audit: "create" is logged
    return redirect(url_for("records.show", record_id=record.id))


def _answer(estimate, schedules):
    """The answer of the estimate being saved, or None and its messages keyed ``estimate_<field>``."""
    try:
        return records.compute(estimate, schedules), {}
    except RequestError as exc:
        return None, {f"estimate_{key}": list(value) for key, value in exc.messages.items()}


def _form_keys(messages):
    """Messages keyed by dotted field paths (``provider.address.state``) keyed by form names."""
    return {key.replace(".", "_"): value for key, value in messages.items()}


def _label(name):
    """A save form's field, or the estimate's, as the forms label it."""
    if name in SAVE_LABELS:
        return SAVE_LABELS[name]
    if name.startswith("estimate_"):
        return f"The estimate: {field_label(name[len('estimate_') :])}"
    return name.replace("_", " ")


def _save_page(page, values, errors, status=200):
    answer = page["answer"]
    errors = {name: for_people(messages) for name, messages in errors.items()}
    return render_template(
        "save.html",
        estimate=page["estimate"],
        supersedes=page["supersedes"],
        old=page["old"],
        answer=answer,
        gfe=answer is not None and documents.is_good_faith_estimate(answer),
        values=values,
        errors=errors,
        problems=[(name, _label(name), messages) for name, messages in errors.items()],
        sexes=records_details.SEXES,
        relationships=records_details.RELATIONSHIPS,
        taxonomies=records_details.TAXONOMIES,
    ), status


def _clinic_defaults():
    """The provider's and facility's details of the latest saved estimate: the clinic's own, as it last gave
    them (nothing for a new installation)."""
    latest = records.latest(db())
    if latest is None:
        return {}
    values = _form_values({**latest.details, "patient": {"name": "", "birth_date": ""}, "diagnosis_codes": []})
    return {key: value for key, value in values.items() if key.startswith(("provider_", "facility_"))}


def _form_values(details):
    """The save form's fields from saved details."""
    values = {
        "patient_name": details["patient"]["name"],
        "patient_birth_date": details["patient"]["birth_date"],
        "diagnosis_codes": " ".join(details.get("diagnosis_codes") or []),
        **{f"patient_{key}": details["patient"][key] for key in PATIENT_OPTIONS if details["patient"].get(key)},
    }
    for prefix in ("provider", "facility"):
        party = details.get(prefix) or {}
        for key in ("name", "npi", "tin", "taxonomy", "phone"):
            values[f"{prefix}_{key}"] = party.get(key, "")
        for key, value in (party.get("address") or {}).items():
            values[f"{prefix}_address_{key}"] = value
    return values


def _party(form, prefix):
    optional = {"taxonomy": form.get(f"{prefix}_taxonomy", "").strip().upper()}
    optional["phone"] = form.get(f"{prefix}_phone", "").strip()
    return {
        **{key: value for key, value in optional.items() if value},
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
