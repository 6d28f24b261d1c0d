"""HTTP concerns shared by the API and the pages: one error shape, security headers."""

import json
import logging
import re

from flask import jsonify, request
from werkzeug.exceptions import HTTPException, InternalServerError, UnprocessableEntity

log = logging.getLogger(__name__)

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), interest-cohort=()",
    "Strict-Transport-Security": "max-age=31536000; includeSubDomains",
}
INVALID_FIELDS = "The request has invalid fields."
STRICT_CSP = "default-src 'self'; img-src 'self' data:; style-src 'self'; frame-ancestors 'none'; form-action 'self'"
# The API reference page (Swagger UI, served from this host) starts itself with an inline script.
DOCS_CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
    "script-src 'self' 'unsafe-inline'; frame-ancestors 'none'"
)


#: Most fields, and messages per field, an error answer lists; a longer name is cut. A hostile body
#: may name thousands of unknown fields: the answer stays small.
MAX_ERROR_FIELDS = 50
MAX_FIELD_MESSAGES = 10
MAX_FIELD_NAME = 100
MORE_ERRORS = "_more"


def error_payload(code, name, message, errors=None):
    """The one error shape: ``{"code", "status", "message", "errors": {field: [message]}}``."""
    return {"code": code, "status": name, "message": message, "errors": bounded_errors(errors or {})}


def bounded_errors(errors):
    """At most ``MAX_ERROR_FIELDS`` fields of ``MAX_FIELD_MESSAGES`` messages; the rest counted in ``_more``."""
    if len(errors) <= MAX_ERROR_FIELDS and all(
        len(field) <= MAX_FIELD_NAME and len(messages) <= MAX_FIELD_MESSAGES for field, messages in errors.items()
    ):
        return errors
    out = {}
    for field, messages in list(errors.items())[:MAX_ERROR_FIELDS]:
        name = field if len(field) <= MAX_FIELD_NAME else field[: MAX_FIELD_NAME - 1] + "\u2026"
        out[name] = list(messages[:MAX_FIELD_MESSAGES])
    if len(errors) > MAX_ERROR_FIELDS:
        out[MORE_ERRORS] = [f"{len(errors) - MAX_ERROR_FIELDS:,} more fields have errors."]
    return out


def field_errors(data):
    """Unwrap webargs' ``{"json": {...}}`` (or ``{"query": ...}``) to ``{field: [message]}``."""
    messages = data.get("errors") or data.get("messages") or {}
    if set(messages) <= {"json", "query", "files", "form", "view_args"}:
        flat = {}
        for value in messages.values():
            flat.update(value if isinstance(value, dict) else {"_body": value})
        messages = flat
    return dotted_errors(messages)


#: Request fields as a person reads them inside a message (the API's messages keep the field names).
FIELD_WORDS = {
    "region_id": "a region",
    "zip": "a ZIP code",
    "cpt_code": "the procedure code",
    "payer_id": "the payer",
    "date_of_service": "the date of service",
}
_FIELD_NAME = re.compile(r"\b(" + "|".join(FIELD_WORDS) + r")\b")


def for_people(messages):
    """Messages for a page: the request fields they name in words."""
    return [_FIELD_NAME.sub(lambda match: FIELD_WORDS[match.group(1)], str(m)) for m in messages]


def dotted_errors(messages, prefix=""):
    """Nested objects' messages keyed by their dotted path (``provider.npi``); list items' stay within
    their field's messages."""
    out = {}
    for field, value in messages.items():
        if isinstance(value, dict) and value and not any(_is_position(k) for k in value):
            out.update(dotted_errors(value, f"{prefix}{field}."))
        else:
            out[f"{prefix}{field}"] = _message_list(value)
    return out


def _message_list(value):
    """Messages of one field as a flat list (list items' messages become "item N: ...")."""
    if isinstance(value, dict):
        return [f"item {_position(key)}: {m}" for key, inner in value.items() for m in _message_list(inner)]
    if isinstance(value, (list, tuple)):
        return [m for item in value for m in (_message_list(item) if isinstance(item, (dict, list)) else [str(item)])]
    return [str(value)]


def _is_position(key):
    """Whether a key of marshmallow's messages is a list item's position (not a field's name, even one of
    other digits, such as "²")."""
    return isinstance(key, int) or (isinstance(key, str) and key.isascii() and key.isdigit())


def _position(key):
    """A list item's position counted from 1, as people count (marshmallow counts from 0)."""
    return int(key) + 1 if _is_position(key) else key


#: Deepest nesting of objects and lists a JSON body may have: far beyond any request's, and shallow enough
#: that nothing reading it can recurse without bound.
MAX_DEPTH = 32


def nesting_depth(data, limit=MAX_DEPTH):
    """The nesting depth of a decoded JSON value, counted without recursion (at most ``limit + 1``)."""
    deepest, stack = 0, [(data, 0)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, (dict, list)):
            depth += 1
            if depth > limit:
                return depth
            deepest = max(deepest, depth)
            stack.extend((item, depth) for item in (value.values() if isinstance(value, dict) else value))
    return deepest


def shallow_enough(raw, data):
    """Whether ``data`` (decoded from the text or bytes ``raw``) nests at most ``MAX_DEPTH`` deep: at once
    when ``raw`` has fewer brackets than that, else by walking it."""
    opening = (b"[", b"{") if isinstance(raw, bytes) else ("[", "{")
    if raw.count(opening[0]) + raw.count(opening[1]) <= MAX_DEPTH:
        return True
    return nesting_depth(data) <= MAX_DEPTH


def bounded_json(text):
    """A JSON text from a form field, decoded, or None (not JSON, or nested too deeply)."""
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        return None
    return data if shallow_enough(text, data) else None


#: JSON escapes of what text may not hold: NUL, and a lone half of a UTF-16 surrogate pair.
_BAD_ESCAPE = re.compile(rb"\\u(?:0000|[dD][89a-fA-F][0-9a-fA-F]{2})")


def text_problem(text):
    """Why ``text`` cannot be kept or shown (``None``: it can): a NUL character, or a lone surrogate (half of
    a character pair, which no page, database or FHIR document can hold)."""
    if not isinstance(text, str):  # a multipart part without a name, say: nothing of it is kept
        return None
    if "\x00" in text:
        return "It holds a NUL character (U+0000): remove it."
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        return f"It holds half of a character pair (U+{ord(text[exc.start]):04X}), which is not text: remove it."
    return None


def bad_text(data, path=""):
    """The first string of a decoded JSON value (or key) that cannot be kept: ``(dotted path, problem)``, or
    None. Walked without recursion."""
    stack = [(data, path)]
    while stack:
        value, where = stack.pop()
        if isinstance(value, str):
            problem = text_problem(value)
            if problem:
                return where or "_body", problem
        elif isinstance(value, dict):
            for key, item in value.items():
                name = f"{where}.{key}" if where else str(key)
                problem = text_problem(key)
                if problem:
                    return name, problem
                stack.append((item, name))
        elif isinstance(value, list):
            stack.extend((item, f"{where}.{i}" if where else str(i)) for i, item in enumerate(value))
    return None


def unkeepable(field, problem):
    """The 422 of a field whose text cannot be kept, in the one error shape (and on a page, its message)."""
    error = UnprocessableEntity(f"{field}: {problem}")
    error.data = {"message": f"The field {field} cannot be kept. {problem}", "errors": {field: [problem]}}
    return error


def json_text_problem(raw, data):
    """:func:`bad_text` of a JSON body, looked for only when the body has an escape that could make one."""
    return bad_text(data) if _BAD_ESCAPE.search(raw if isinstance(raw, bytes) else raw.encode()) else None


def wants_json():
    """API paths always answer JSON; elsewhere the client's Accept header decides."""
    if request.path.startswith(("/api/", "/healthz")):
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json"


def http_error_response(error, html_renderer=None):
    """Answer an ``HTTPException`` as JSON or, for a browser, as an HTML page."""
    data = getattr(error, "data", None) or {}
    errors = field_errors(data)
    message = data.get("message") or (INVALID_FIELDS if error.code == 422 else error.description)
    headers = dict(data.get("headers") or {})
    if error.code == 405 and getattr(error, "valid_methods", None):
        headers["Allow"] = ", ".join(error.valid_methods)
    if html_renderer is not None and not wants_json():
        return html_renderer(error.code, error.name, message), error.code, headers
    response = jsonify(error_payload(error.code, error.name, message, errors))
    response.status_code = error.code
    response.headers.update(headers)
    return response


def allow_body(app, endpoint, config_key):
    """Let ``endpoint`` take a body up to ``app.config[config_key]`` bytes instead of ``MAX_BODY_BYTES``."""
    app.extensions["body_limits"][endpoint] = config_key


def init_app(app, html_renderer=None):
    """Register the error handlers, the body limits and the security headers."""
    app.extensions["html_error_renderer"] = html_renderer
    app.extensions["body_limits"] = {}

    @app.before_request
    def limit_body():
        # Before anything reads the body (the CSRF check reads forms): a body over its endpoint's limit
        # is answered 413 as soon as it is read, however it is sent (Content-Length or chunked).
        key = app.extensions["body_limits"].get(request.endpoint, "MAX_BODY_BYTES")
        request.max_content_length = app.config[key]

    @app.before_request
    def refuse_unkeepable_text():
        # A query parameter or form field holding NUL or half a character pair is refused, naming it, before
        # any view reads it (the database refuses NUL; pages and FHIR cannot hold a lone surrogate).
        sources = [request.args]
        if request.method == "POST" and request.mimetype in (
            "application/x-www-form-urlencoded",
            "multipart/form-data",
        ):
            sources.append(request.form)
        for source in sources:
            for key, value in source.items(multi=True):
                if not isinstance(key, str):  # a multipart part with no name: nothing could read it
                    raise unkeepable("_form", "A part of the form has no name.")
                problem = text_problem(key) or text_problem(value)
                if problem:
                    raise unkeepable(key if not text_problem(key) else "_name", problem)

    @app.errorhandler(HTTPException)
    def handle_http(error):
        return http_error_response(error, html_renderer)

    @app.errorhandler(Exception)
    def handle_unexpected(error):
        # Log the exception type and where, never the request body (it may carry patient references).
        log.exception("unexpected error on %s %s", request.method, request.path)
        return http_error_response(InternalServerError(), html_renderer)

    docs_prefix = app.config["OPENAPI_URL_PREFIX"] + "/docs"
    strict = [*SECURITY_HEADERS.items(), ("Content-Security-Policy", STRICT_CSP)]
    relaxed = [*SECURITY_HEADERS.items(), ("Content-Security-Policy", DOCS_CSP)]

    @app.after_request
    def security_headers(response):
        # No view sets these headers itself, so they are appended without a lookup.
        response.headers.extend(relaxed if request.path.startswith(docs_prefix) else strict)
        if request.method == "POST" or request.path.startswith(("/api/v1/estimates", "/api/v1/encounters")):
            response.headers["Cache-Control"] = "no-store"  # answers to what was sent may carry patient details
        return response
