"""No page answers a server error, whatever its query string, form fields or headers, signed in or not: the
cases found by an attack as a table, then hypothesis over every page's parameters."""

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from estimator.records.accounts import AccountError, add_user, create_token
from estimator.records.db import make_engine, make_sessions

PASSWORD = "a long enough password"

HOSTILE = [
    "",
    "0",
    "-1",
    "1",
    "9" * 20,
    "9" * 400,
    "\u00b2",
    "\u0663",  # an Arabic-Indic digit: isdigit() says yes, int() says yes, ASCII it is not
    "\x00",
    "[" * 1500,
    "[" * 5000,
    '{"modifiers":true}',
    '{"lines":[{"modifiers":{"a":1}}]}',
    '{"lines":' + "[" * 40 + "]" * 40 + "}",
    '{"coinsurance": "x", "units": [1]}',
    "9999-12-31",
    "0001-01-01",
    "2025-02-30",
    "GFE-2026-000001",
    "%",
    "' OR 1=1 --",
    "<script>alert(1)</script>",
    "nan",
    "1e400",
]
value = st.one_of(st.sampled_from(HOSTILE), st.text(st.characters(blacklist_categories=["Cs"]), max_size=30))
record_id = st.one_of(st.sampled_from(["1", "2", "0", "9" * 20, "99999999999"]), st.integers(0, 10**6).map(str))

# (method, path template, parameter names)
ROUTES = [
    ("GET", "/", ["prefill", "supersedes"]),
    ("POST", "/estimate", ["cpt_code", "payer_id", "coinsurance", "units", "line_count", "lines-1-cpt_code"]),
    ("GET", "/batch", []),
    ("GET", "/login", ["next"]),
    ("POST", "/login", ["email", "password", "next"]),
    ("GET", "/records", ["page", "name", "birth_date"]),
    ("POST", "/records", ["page", "name", "birth_date", "number", "code", "created_from", "created_to"]),
    ("POST", "/records/new", ["estimate", "supersedes", "patient_name", "patient_birth_date", "provider_npi"]),
    ("GET", "/records/{id}", []),
    ("GET", "/records/{id}/print", []),
    ("GET", "/records/{id}/fhir", []),
    ("GET", "/admin/users", []),
    ("POST", "/admin/users", ["email", "password", "admin"]),
    ("GET", "/admin/users/{id}/tokens", []),
    ("POST", "/admin/users/{id}/tokens", ["expires"]),
    ("POST", "/admin/tokens/{id}/revoke", []),
    ("GET", "/admin/audit", ["page"]),
    ("GET", "/api/v1/saved-estimates", ["created_to", "created_from", "page", "per_page", "name", "number"]),
    ("GET", "/api/v1/saved-estimates/{id}", []),
    ("GET", "/api/v1/saved-estimates/{id}/fhir", []),
]


@pytest.fixture(scope="module")
def clients(app):
    """An anonymous client, a signed-in staff user's, an admin's, each with its CSRF token; a staff token."""
    session = make_sessions(make_engine(app.config["DATABASE_URL"]))()
    for email, admin in (("fuzz-staff@example.org", False), ("fuzz-admin@example.org", True)):
        try:
            add_user(session, email, PASSWORD, admin)
        except AccountError:
            pass
    token = create_token(session, "fuzz-staff@example.org")
    session.close()
    session.bind.dispose()
    out = {}
    for who in ("anonymous", "staff", "admin"):
        client = app.test_client()
        if who != "anonymous":
            csrf = _csrf(client, "/login")
            answer = client.post(
                "/login", data={"csrf_token": csrf, "email": f"fuzz-{who}@example.org", "password": PASSWORD}
            )
            assert answer.status_code == 302, answer.get_data(as_text=True)
        out[who] = (client, _csrf(client, "/"))
    return out, token


def _csrf(client, path):
    return re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).get_data(as_text=True)).group(1)


def _call(clients, who, method, path, params, headers=None):
    (client, csrf), token = clients[0][who], clients[1]
    headers = dict(headers or {})
    if path.startswith("/api/") and who != "anonymous":
        headers.setdefault("Authorization", f"Bearer {token}")
    if method == "GET":
        return client.get(path, query_string=params, headers=headers)
    return client.post(path, data={"csrf_token": csrf, **params}, headers=headers)


@pytest.mark.parametrize(
    ("who", "method", "path", "params"),
    [
        ("anonymous", "GET", "/", {"prefill": '{"modifiers":true}'}),
        ("anonymous", "GET", "/", {"prefill": "[" * 1500}),
        ("anonymous", "GET", "/", {"prefill": '{"lines": [{"cpt_code": ["x"], "modifiers": "50"}]}'}),
        ("staff", "GET", "/records", {"page": "9" * 20}),
        ("staff", "POST", "/records", {"page": "9" * 20, "created_to": "9999-12-31"}),
        ("staff", "GET", "/records/" + "9" * 20, {}),
        ("staff", "GET", "/records/" + "9" * 20 + "/fhir", {}),
        ("staff", "POST", "/records/new", {"estimate": "{}", "supersedes": "9" * 20}),
        ("staff", "POST", "/records/new", {"estimate": "{}", "supersedes": "\u00b2"}),
        ("staff", "POST", "/records/new", {"estimate": "[" * 5000}),
        ("staff", "POST", "/records", {"name": "Jane\x00"}),
        ("staff", "GET", "/api/v1/saved-estimates", {"created_to": "9999-12-31"}),
        ("staff", "GET", "/api/v1/saved-estimates", {"page": "9" * 18}),
        ("staff", "GET", "/api/v1/saved-estimates", {"name": "\x00"}),
        ("staff", "GET", "/api/v1/saved-estimates/" + "9" * 20, {}),
        ("admin", "GET", "/admin/users/" + "9" * 20 + "/tokens", {}),
        ("admin", "POST", "/admin/tokens/" + "9" * 20 + "/revoke", {}),
        ("admin", "GET", "/admin/audit", {"page": "9" * 20}),
    ],
)
def test_the_attacks_found_get_no_server_error(clients, who, method, path, params):
    response = _call(clients, who, method, path, params)
    assert response.status_code < 500, response.get_data(as_text=True)[:500]


@pytest.mark.parametrize(
    "header",
    [
        "Bearer est_\u00b2_x",
        "Bearer est_" + "9" * 23 + "_x",
        "Bearer " + "x" * 100_000,
        "Bearer est_\x00",
        "Basic \u00ff\u00fe",
        "Bearer",
        "",
    ],
)
def test_no_bearer_header_gets_a_server_error(app, header):
    response = app.test_client().get("/api/v1/saved-estimates", headers={"Authorization": header})
    assert response.status_code == 401


def test_a_deeply_nested_encounter_is_refused_not_failed(app):
    deep = '{"payer_id":"medicare","lines":[{"cpt_code":"64483","modifiers":' + "[" * 800 + "]" * 800 + "}]}"
    for path in ("/api/v1/encounters", "/api/v1/saved-estimates"):
        response = app.test_client().post(path, data=deep, content_type="application/json")
        assert response.status_code in (400, 401)


@pytest.mark.parametrize("who", ["anonymous", "staff", "admin"])
def test_every_page_takes_any_parameters_without_a_server_error(clients, who):
    @settings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.sampled_from(ROUTES), st.data())
    def check(route, data):
        method, template, names = route
        path = template.format(id=data.draw(record_id))
        params = data.draw(st.dictionaries(st.sampled_from([*names, "extra"]), value, max_size=len(names) + 1))
        header_value = value.filter(lambda v: "\r" not in v and "\n" not in v and v.isprintable() and v.isascii())
        headers = data.draw(
            st.dictionaries(st.sampled_from(["Accept", "Authorization", "Cookie", "Referer"]), header_value, max_size=2)
        )
        if "Cookie" in headers:  # a forged cookie goes in a fresh client, not the signed-in one
            headers.pop("Cookie")
        response = _call(clients, who, method, path, params, headers)
        assert response.status_code < 500, (method, path, params, response.get_data(as_text=True)[:300])

    check()


@pytest.mark.parametrize("path", ["/api/v1/estimates/batch", "/batch", "/estimate", "/records"])
def test_a_multipart_part_without_a_name_is_no_server_error(app, path):
    boundary = "x-boundary"
    body = f"--{boundary}\r\nContent-Disposition: form-data\r\n\r\nvalue\r\n--{boundary}--\r\n".encode()
    response = app.test_client().post(path, data=body, content_type=f"multipart/form-data; boundary={boundary}")
    assert response.status_code < 500
