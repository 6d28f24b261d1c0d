"""The web pages: the estimate form, the result (or Good Faith Estimate), and batch upload.

Thin adapters over :mod:`estimator.service`, like the API: the same engine, the same messages.
"""

import base64
import datetime as dt
import io
import json
import re

from flask import Blueprint, current_app, render_template, request
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.exceptions import RequestEntityTooLarge

from ..batch.stream import iter_csv
from ..core.catalog import AMA_POINTER, components, find, is_ama_described
from ..core.encounters import MAX_LINES
from ..core.errors import InputFileError, RequestError
from ..core.glossary import REQUEST_FIELDS, SETTINGS, STATUS_WORDS
from ..core.intake import coinsurance_rule
from ..eligibility import service as eligibility
from ..eligibility.benefits import FIGURE_WORDS
from ..records import documents
from .content import PROCEDURE_NOTES
from .http import allow_body, bounded_json, for_people

bp = Blueprint("web", __name__)
csrf = CSRFProtect()

SETTING_LABELS = {
    "office": "Doctor's office",
    "asc": "Ambulatory surgery center (ASC)",
    "hospital_outpatient": "Hospital outpatient department",
}
#: The estimate form's fields as it labels them.
FORM_LABELS = {
    "cpt_code": "Procedure (CPT code)",
    "modifiers": "Modifiers",
    "units": "Units",
    "setting": "Where it is done",
    "date_of_service": "Date of service",
    "zip": "ZIP code",
    "region_id": "Region",
    "payer_id": "Insurance (payer)",
    "network": "Network",
    "deductible": "Yearly deductible",
    "deductible_met": "Deductible already paid this year",
    "coinsurance": "Coinsurance",
    "copay": "Copay",
    "oop_max": "Out-of-pocket maximum",
    "oop_met": "Out-of-pocket already paid this year",
    "lines": "The procedures of the visit",
    "eligibility_271": "Eligibility response (271)",
    "eligibility_patient": "Which patient of the 271",
}
#: The form fields that bring a 271 (the text box, the patient) and the file a 271 may be uploaded as.
X12_FIELDS = eligibility.FIELDS
X12_FILE = "eligibility_271_file"


def field_label(name):
    """A field of the estimate form as it is labelled, from its form name (``lines-2-units``, the third
    line's) or its request path (``lines.2.units``, also the third line's)."""
    parts = re.split(r"[.-]", name)
    if parts[0] == "lines" and len(parts) == 3 and parts[1].isdigit():
        return f"Line {int(parts[1]) + 1}: {FORM_LABELS.get(parts[2], parts[2])}"
    return FORM_LABELS.get(name, name.replace("_", " "))


#: Largest estimated CSV the upload page offers as a download link (bytes).
MAX_PAGE_DOWNLOAD = 20 * 1024 * 1024


def schedules():
    return current_app.extensions["schedule_store"].current()


#: Per schedules (by content), the codes the catalog describes in its own words: the form's suggestions.
_COMMON = {}


def common_codes(loaded):
    """(code, description) of the codes the catalog describes in its own words (the clinic's usual codes),
    offered as suggestions by the form; the others are found with the code finder."""
    found = _COMMON.get(loaded.content_hash)
    if found is None:
        p = loaded.procedures
        mine = [
            (code, text)
            for code, modifier, text, category in zip(
                p["cpt_code"], p["modifier"], p["description"], p["category"], strict=True
            )
            if not modifier and not category.startswith("HCPCS") and not is_ama_described(code, text)
        ]
        if len(_COMMON) > 4:
            _COMMON.clear()
        found = _COMMON[loaded.content_hash] = sorted(mine)
    return found


def _choices():
    loaded = schedules()
    tables = loaded.arrays
    payers, regions = tables["payers"], tables["regions"]
    by_state = sorted(zip(regions["state"], regions["name"], regions["region_id"], strict=True))
    return {
        "procedures": common_codes(loaded),
        "payers": list(zip(payers["payer_id"], payers["name"], strict=True)),
        "regions": [(region_id, name) for _, name, region_id in by_state],
        "settings": [(s, SETTING_LABELS[s]) for s in SETTINGS],
    }


#: Line rows the form shows at first, and at most (the encounter's limit).
FORM_LINES = 3
MAX_FORM_LINES = MAX_LINES
LINE_FIELD_NAMES = ("cpt_code", "modifiers", "units")


def line_field(index, name):
    """The form name of a line's field: the first line's are the plain request names."""
    return name if index == 0 else f"lines-{index}-{name}"


def _line_count(form):
    try:
        count = int(form.get("line_count", FORM_LINES))
    except ValueError:
        count = FORM_LINES
    return max(1, min(count, MAX_FORM_LINES))


_MODIFIER_TOKENS = re.compile(r"[\s,;]+")


def _form_values(form):
    """What the form holds, to show it again: shared fields as typed, and every line row."""
    values = {name: form.get(name, "").strip() for name in REQUEST_FIELDS if name not in LINE_FIELD_NAMES}
    values["supersedes"] = form.get("supersedes", "").strip()
    for name in X12_FIELDS:
        values[name] = form.get(name, "").strip()
    lines = []
    for i in range(_line_count(form)):
        lines.append(
            {
                "cpt_code": form.get(line_field(i, "cpt_code"), "").strip(),
                "modifiers": [
                    t for v in form.getlist(line_field(i, "modifiers")) for t in _MODIFIER_TOKENS.split(v) if t
                ],
                "units": form.get(line_field(i, "units"), "").strip(),
            }
        )
    values["lines"] = lines
    return values


def _request(values):
    """The request of a submitted form: shared fields (blanks left out, coinsurance from a percent) and
    the lines that name a code (the first always); returns (fields, form row of each line, errors)."""
    fields, errors = {}, {}
    for name in (*REQUEST_FIELDS, *X12_FIELDS):
        if name not in LINE_FIELD_NAMES and values.get(name):
            fields[name] = values[name]
    if "coinsurance" in fields:  # typed as text: a fraction, or a percent with its sign (SPEC section 3)
        fraction, message = coinsurance_rule(fields["coinsurance"].strip())
        if message is not None:
            errors["coinsurance"] = [message]
        else:
            fields["coinsurance"] = fraction
    rows = [i for i, line in enumerate(values["lines"]) if i == 0 or line["cpt_code"]]
    lines = []
    for i in rows:
        line = values["lines"][i]
        lines.append({k: v for k, v in line.items() if v})
    return fields, lines, rows, errors


def _form_errors(messages, rows):
    """Request messages keyed by the form's field names (``lines.2.units`` -> ``lines-4-units``)."""
    out = {}
    for key, text in messages.items():
        parts = key.split(".")
        if parts[0] == "lines" and len(parts) == 3 and parts[1].isdigit():
            out[line_field(rows[int(parts[1])], parts[2])] = text
        elif parts[0] == "lines":
            out[line_field(0, "cpt_code")] = text
        else:
            out[key] = text
    return out


def _show_form(values, errors, status=200, read_271=None):
    errors = {name: for_people(messages) for name, messages in errors.items()}
    page = render_template("form.html", values=values, errors=errors, read_271=read_271, **_choices())
    return page, status


@bp.get("/")
def form():
    """The estimate form, with sensible defaults, or filled from a saved estimate being corrected."""
    values = {
        "payer_id": "medicare",
        "setting": "office",
        "network": "in",
        "date_of_service": dt.date.today().isoformat(),
        "lines": [{"cpt_code": "20971", "units": "1"}] + [{} for _ in range(FORM_LINES - 1)],
    }
    prefill = _prefill(request.args.get("prefill"))
    if prefill:
        values = prefill
        values["supersedes"] = request.args.get("supersedes", "")
    code = str(request.args.get("cpt_code", "")).strip().upper()[:5]
    if code and not prefill:  # from the code finder
        values["lines"][0] = {"cpt_code": code, "units": "1"}
    return _show_form(values, {})


#: Codes the code finder shows on a page.
FINDER_PAGE = 25


@bp.get("/procedures")
def procedures():
    """The code finder: codes by number or words, each with a link that starts an estimate with it (no
    JavaScript needed)."""
    loaded = schedules()
    query = str(request.args.get("q", ""))[:100].strip()
    page = request.args.get("page", "1")
    page = int(page) if page.isascii() and page.isdigit() and 0 < len(page) < 7 else 1
    found = find(loaded, query) if query else []
    start = (page - 1) * FINDER_PAGE
    frame = loaded.procedures
    rows = [
        {
            "code": frame["cpt_code"].iat[i],
            "description": frame["description"].iat[i],
            "category": frame["category"].iat[i],
            "ama": is_ama_described(frame["cpt_code"].iat[i], frame["description"].iat[i]),
            "global_days": frame["global_days"].iat[i],
            "components": components(loaded, frame["cpt_code"].iat[i]),
        }
        for i in found[start : start + FINDER_PAGE]
    ]
    return render_template(
        "procedures.html",
        query=query,
        rows=rows,
        total=len(found),
        page=page,
        pages=max(1, -(-len(found) // FINDER_PAGE)),
        ama_pointer=AMA_POINTER,
    )


def percent_text(fraction):
    """A coinsurance fraction as the form shows it: ``0.2`` -> ``20%``."""
    return f"{fraction * 100:g}%"


def _prefill(text):
    """Form values from a saved request (JSON): shared fields as text, coinsurance as a percent, lines.
    Anything not shaped as a request is left out (the form shows its defaults)."""
    saved = bounded_json(text or "")
    if not isinstance(saved, dict):
        return None
    values = {
        k: _text(v) for k, v in saved.items() if k in REQUEST_FIELDS and k not in LINE_FIELD_NAMES and v is not None
    }
    if "coinsurance" in values:
        try:
            values["coinsurance"] = percent_text(float(values["coinsurance"]))
        except ValueError:
            pass
    lines = saved.get("lines") if isinstance(saved.get("lines"), list) else [saved]
    values["lines"] = [
        {
            "cpt_code": _text(line.get("cpt_code", "")),
            "modifiers": [m for m in line.get("modifiers") or [] if isinstance(m, str)]
            if isinstance(line.get("modifiers"), list)
            else [],
            "units": _text(line.get("units", "") or ""),
        }
        for line in lines[:MAX_FORM_LINES]
        if isinstance(line, dict)
    ] or [{}]
    while len(values["lines"]) < FORM_LINES:
        values["lines"].append({})
    return values


def _text(value):
    """A prefilled value as the text of a form field (a number or a word; anything else blank)."""
    return str(value)[:200] if isinstance(value, (str, int, float)) and not isinstance(value, bool) else ""


@bp.post("/estimate")
def estimate():
    """Estimate the submitted form: the result page (one line), the visit's page (several lines), or
    the form again with messages beside fields. "Add a line" shows the form again with one more row."""
    values = _form_values(request.form)
    problem = _uploaded_271(values)
    if problem:
        return _show_form(values, {"eligibility_271": [problem]}, 422)
    if "add_line" in request.form:
        if len(values["lines"]) < MAX_FORM_LINES:
            values["lines"].append({})
        return _show_form(values, {})
    if "read_271" in request.form:
        return _read_271(values)
    fields, lines, rows, errors = _request(values)
    try:
        if len(lines) == 1:
            answer = eligibility.estimate_one({**fields, **lines[0]}, schedules())
        else:
            answer = eligibility.estimate_encounter({**fields, "lines": lines}, schedules())
    except RequestError as exc:
        errors = {**_form_errors(exc.messages, rows), **errors}
    if errors:
        return _show_form(values, errors, 422)
    saved = {**fields, "lines": lines} if len(lines) > 1 else {**fields, **lines[0]}
    extra = {"saved_request": json.dumps(saved), "supersedes": values.get("supersedes", "")}
    if len(lines) > 1:
        return _encounter_page(answer, extra)
    template = "good_faith_estimate.html" if answer["good_faith_estimate"] else "result.html"
    return render_template(
        template,
        **extra,
        a=answer,
        items=documents.gfe_items(answer),
        left=documents.left_out(answer),
        chart=range_chart(answer),
        procedures_about=_about([answer]),
        setting_label=SETTING_LABELS[answer["setting"]],
        today=dt.date.today().isoformat(),
    )


def _uploaded_271(values):
    """A 271 chosen as a file takes the text box's place (the page shows it there); returns a message when
    the file cannot be read as text."""
    upload = request.files.get(X12_FILE)
    if upload is None or not upload.filename:
        return None
    data = upload.read(eligibility.MAX_CHARACTERS + 1)
    if len(data) > eligibility.MAX_CHARACTERS:
        return eligibility.TOO_LONG
    try:
        values["eligibility_271"] = data.decode("utf-8").strip()
    except UnicodeDecodeError:
        return "The chosen file is not an X12 file: it is not text."
    return None


def _read_271(values):
    """The form again with the benefit fields filled from the 271 for its setting and network, each with
    the segment it came from, for the person to check before estimating."""
    if not values.get("eligibility_271"):
        return _show_form(values, {"eligibility_271": ["Paste the 271 or choose its file, then read it."]}, 422)
    setting = values.get("setting") if values.get("setting") in SETTINGS else "office"
    network = values.get("network") if values.get("network") in ("in", "out") else "in"
    try:
        read = eligibility.benefits_answer(values["eligibility_271"], values.get("eligibility_patient"), setting)
    except RequestError as exc:
        keys = {"body": "eligibility_271", "patient": "eligibility_patient"}
        return _show_form(values, {keys.get(k, k): v for k, v in exc.messages.items()}, 422)
    sources = {}
    for field, figure in read["benefits"][network].items():
        if figure is None:
            continue
        value = figure["value"]
        values[field] = percent_text(value) if field == "coinsurance" else f"{value:.2f}".removesuffix(".00")
        sources[field] = figure["sources"]
    return _show_form(values, {}, read_271={**read, "network": network, "sources": sources})


def _encounter_page(answer, extra):
    """The visit's page: a table of lines and the totals (or a Good Faith Estimate listing each line)."""
    ranges = [line["baseline_range"] for line in answer["lines"]]
    baseline = (
        None
        if any(r is None for r in ranges)  # a line whose code has no range on file: the visit has none
        else {level: sum(r[level] for r in ranges) for level in ("low", "expected", "high")}
    )
    chart = range_chart({**answer, "baseline_range": baseline})
    template = "good_faith_estimate.html" if answer["good_faith_estimate"] else "encounter.html"
    return render_template(
        template,
        **extra,
        a=answer,
        items=documents.gfe_items(answer),
        left=documents.left_out(answer),
        chart=chart,
        procedures_about=_about(answer["lines"]),
        setting_label=SETTING_LABELS[answer["setting"]],
        today=dt.date.today().isoformat(),
    )


def _about(lines):
    """Plain-language notes for each distinct code of the lines."""
    seen = {}
    for line in lines:
        code = line["cpt_code"]
        seen.setdefault(code, {"code": code, "description": line["description"], "notes": PROCEDURE_NOTES.get(code)})
    return list(seen.values())


@bp.get("/batch")
def batch_form():
    """The batch upload page."""
    return render_template("batch.html", error=None)


@bp.post("/batch")
def batch_upload():
    """Estimate an uploaded CSV: a summary and the estimated CSV to download.

    The page holds the estimated CSV as its download link, so a file whose estimates would pass
    ``MAX_PAGE_DOWNLOAD`` is stopped as soon as they do, and sent to the API or the command line.
    """
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        return render_template("batch.html", error="Choose a CSV file to upload."), 422
    sink, summary = io.BytesIO(), {}
    chunks = iter_csv(upload.stream, schedules(), chunk_rows=current_app.config["BATCH_CHUNK_ROWS"], summary=summary)
    try:
        for data in chunks:
            sink.write(data)
            if sink.tell() > MAX_PAGE_DOWNLOAD:
                chunks.close()
                reason = f"Its estimates come to more than the {MAX_PAGE_DOWNLOAD / 2**20:g} MiB this page can offer."
                return render_template("batch.html", error=too_large_message(reason)), 413
    except InputFileError as exc:
        return render_template("batch.html", error=f"This file cannot be estimated: {exc}."), 422
    data = sink.getvalue()
    link = "data:text/csv;base64," + base64.b64encode(data).decode("ascii")
    name = (upload.filename.rsplit(".", 1)[0] or "batch") + "-estimates.csv"
    return render_template("batch_result.html", summary=summary, link=link, name=name, size=len(data))


def too_large_message(reason):
    return (
        f"{reason} Estimate it with the command line "
        "(python -m estimator batch FILE -o OUT.csv) or the API (POST /api/v1/estimates/batch), which stream "
        "files of any size."
    )


@bp.errorhandler(RequestEntityTooLarge)
def too_large(error):
    """A file larger than this page takes is refused before any work, with where to send it instead."""
    if request.endpoint != "web.batch_upload":
        return render_error_page(413, "Too large", "The form sent is larger than this page takes."), 413
    limit = current_app.config["MAX_PAGE_UPLOAD_BYTES"]
    reason = f"This file is larger than the {limit / 2**20:g} MiB this page takes."
    return render_template("batch.html", error=too_large_message(reason)), 413


@bp.get("/batch/sample.csv")
def sample_csv():
    """A sample batch file with every request column."""
    sample = (
        "claim_id,cpt_code,payer_id,zip,region_id,setting,network,modifiers,units,date_of_service,"
        "deductible,coinsurance,copay,oop_max,deductible_met,oop_met\n"
        "A-1,64483,medicare,10001,,office,in,,1,2025-05-01,,,,,,\n"
        "A-2,64493,medicare,60601,,hospital_outpatient,in,RT,1,2025-09-15,,,,,257,\n"
        "A-3,20971,example_ppo,94110,,asc,in,50,1,2025-10-01,1500,0.2,0,5000,400,900\n"
        "A-4,20971,example_ppo,,ca-05,office,out,,1,2025-10-01,,,,,,\n"
        "A-5,20971,self_pay,30303,,office,,,1,2025-10-01,,,,,,\n"
        "A-6,62321,medicare,98101,,office,in,50,1,2025-10-01,,,,,,\n"
    )
    return current_app.response_class(
        sample, mimetype="text/csv", headers={"Content-Disposition": 'attachment; filename="sample-batch.csv"'}
    )


def range_chart(answer, width=640):
    """Geometry of the picture of the money: three bars on one dollar scale.

    Returns the scale's ticks and, per bar, its label, the x of low and high, the x of the expected
    figure and the three figures; the template draws them as inline SVG.
    """
    rows = [
        ("National baseline range", answer["baseline_range"]),
        ("Allowed amount", answer["allowed_amount"]),
        ("You pay", answer["patient_responsibility"]),
    ]
    rows = [(label, levels) for label, levels in rows if levels is not None]  # a code with no range on file
    top = max(max(levels["high"] for _, levels in rows), 1.0)
    step = _nice_step(top / 4)
    limit = step * (int(top / step) + 1)
    left, right = 170, width - 20

    def x(value):
        return round(left + (right - left) * value / limit, 1)

    bars = [
        {
            "label": label,
            "x_low": x(lv["low"]),
            "x_high": max(x(lv["high"]), x(lv["low"]) + 2),
            "x_expected": x(lv["expected"]),
            "low": lv["low"],
            "expected": lv["expected"],
            "high": lv["high"],
            "y": 30 + i * 44,
        }
        for i, (label, lv) in enumerate(rows)
    ]
    ticks = [{"x": x(step * k), "label": f"${step * k:,.0f}"} for k in range(int(limit / step) + 1)]
    return {
        "width": width,
        "height": 30 + len(rows) * 44 + 20,
        "left": left,
        "right": right,
        "bars": bars,
        "ticks": ticks,
        "axis_y": 30 + len(rows) * 44,
    }


def _nice_step(raw):
    """A round tick step (1, 2 or 5 times a power of ten) near ``raw``."""
    if raw <= 0:
        return 1.0
    power = 10 ** len(str(int(raw))) / 10 if raw >= 1 else 0.1
    for factor in (1, 2, 5, 10):
        if raw <= factor * power:
            return factor * power
    return 10 * power


def render_error_page(code, name, message):
    """The HTML error page, in the site's look."""
    return render_template("error.html", code=code, name=name, message=message)


def nobreak(text):
    """Text as a page shows it: a figure and its percent sign (``20 %``) kept on one line."""
    return str(text).replace(" %", "\u00a0%")


def init_app(app):
    """Register the pages and protect every form against cross-site request forgery."""
    app.jinja_env.globals.update(
        status_words=STATUS_WORDS,
        line_field=line_field,
        max_form_lines=MAX_FORM_LINES,
        field_label=field_label,
        figure_words=FIGURE_WORDS,
    )
    app.jinja_env.filters["nobreak"] = nobreak
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", None)  # the token lives as long as the session
    allow_body(app, "web.batch_upload", "MAX_PAGE_UPLOAD_BYTES")
    csrf.init_app(app)
    app.register_blueprint(bp)

    @app.errorhandler(CSRFError)
    def csrf_error(error):
        return render_error_page(
            400, "Form expired", "The form was out of date. Go back, reload it and send it again."
        ), 400

    return bp
