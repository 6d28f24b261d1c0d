"""What every answer carries: no caching of answers to what was sent, a session cookie that is SameSite
and Secure over HTTPS."""

import re

import pytest

from estimator.web.app import create_app


def token(client, path="/"):
    return re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).get_data(as_text=True)).group(1)


def post_estimate(client, **extra):
    data = {"csrf_token": token(client), "cpt_code": "64483", "payer_id": "medicare", **extra}
    return client.post("/estimate", data=data)


POSTS = {
    "result page": lambda c: post_estimate(c),
    "form with errors": lambda c: post_estimate(c, units="0"),
    "Good Faith Estimate": lambda c: post_estimate(c, payer_id="self_pay"),
    "batch page": lambda c: c.post(
        "/batch",
        data={"csrf_token": token(c, "/batch"), "file": (__import__("io").BytesIO(b"cpt_code,payer_id\n"), "a.csv")},
    ),
    "batch page refused": lambda c: c.post("/batch", data={"csrf_token": token(c, "/batch")}),
    "form without token": lambda c: c.post("/estimate", data={}),
    "API estimate": lambda c: c.post("/api/v1/estimates", json={"cpt_code": "64483", "payer_id": "medicare"}),
    "API estimate refused": lambda c: c.post("/api/v1/estimates", json={}),
    "API batch": lambda c: c.post("/api/v1/estimates/batch", data=b"cpt_code,payer_id\n", content_type="text/csv"),
}


@pytest.mark.parametrize("name", POSTS)
def test_every_answer_to_a_post_is_not_stored(client, name):
    response = POSTS[name](client)
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def cookie_of(response):
    (cookie,) = [v for k, v in response.headers.items() if k == "Set-Cookie"]
    return cookie


def test_the_session_cookie_is_samesite_and_httponly_not_secure_over_http(client):
    cookie = cookie_of(client.get("/"))
    assert "SameSite=Lax" in cookie and "HttpOnly" in cookie and "Secure" not in cookie


def test_the_session_cookie_is_secure_over_https(client):
    assert "Secure" in cookie_of(client.get("/", base_url="https://localhost"))


def test_behind_a_trusted_proxy_forwarded_https_makes_it_secure():
    app = create_app({"TESTING": True, "PROXY_HOPS": 1})
    response = app.test_client().get("/", headers={"X-Forwarded-Proto": "https"})
    assert "Secure" in cookie_of(response)


def test_without_a_trusted_proxy_forwarded_headers_are_ignored(client):
    assert "Secure" not in cookie_of(client.get("/", headers={"X-Forwarded-Proto": "https"}))
