"""The records under attack, on SQLite and on PostgreSQL: concurrent corrections, tokens that cost nothing
to refuse, sign-in limits that are atomic and do not lock a real user out, sessions that end, admins and
staff, the audit trail."""

import concurrent.futures
import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select

from estimator.records import accounts
from estimator.records import service as records
from estimator.records.accounts import add_user, create_token, disable_user, set_password
from estimator.records.db import make_engine, make_sessions
from estimator.records.models import AuditEvent, SavedEstimate
from estimator.web.app import create_app

from .test_records import DETAILS, PASSWORD, VISIT, save, token_of

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def site(database):
    app = create_app({"TESTING": True, "DATABASE_URL": database, "RELOAD_INTERVAL": 0})
    session = make_sessions(make_engine(database))()
    add_user(session, "staff@example.org", PASSWORD)
    add_user(session, "admin@example.org", PASSWORD, admin=True)
    token = create_token(session, "staff@example.org")
    yield app, {"Authorization": f"Bearer {token}"}, session
    session.close()
    session.bind.dispose()
    app.extensions["records_engine"].dispose()


def sign_in(client, email="staff@example.org", password=PASSWORD, address="127.0.0.1"):
    return client.post(
        "/login",
        data={"csrf_token": token_of(client, "/login"), "email": email, "password": password},
        environ_base={"REMOTE_ADDR": address},
    )


# Corrections: exactly one of several at once -------------------------------------------------------------

CORRECTOR = """
import json, os, sys, time
from estimator.web.app import create_app
url, record_id, door, go, token, password, index = sys.argv[1:8]
client = create_app({"TESTING": True, "DATABASE_URL": url, "RELOAD_INTERVAL": 0}).test_client()
visit = json.loads(os.environ["VISIT"])
if door == "web":
    time.sleep(0.4 * int(index))  # eight staff signing in one after another, as people do
    page = client.get("/login").get_data(as_text=True)
    csrf = page.split('name="csrf_token" value="')[1].split('"')[0]
    client.post("/login", data={"csrf_token": csrf, "email": "staff@example.org", "password": password})
    csrf = client.get("/").get_data(as_text=True).split('name="csrf_token" value="')[1].split('"')[0]
    details = json.loads(os.environ["DETAILS"])
    form = {"csrf_token": csrf, "estimate": json.dumps(visit), "supersedes": record_id,
            "patient_name": details["patient"]["name"], "patient_birth_date": details["patient"]["birth_date"]}
    for key in ("name", "npi", "tin"):
        form[f"provider_{key}"] = details["provider"][key]
    for key, value in details["provider"]["address"].items():
        form[f"provider_address_{key}"] = value
print("ready", flush=True)
while not os.path.exists(go):
    time.sleep(0.005)
if door == "web":
    answer = client.post("/records/new", data=form)
    status = answer.status_code if "/records/" in answer.headers.get("Location", "/records/") else 401
else:
    status = client.post(f"/api/v1/saved-estimates/{record_id}/supersede", json={"estimate": visit},
                         headers={"Authorization": f"Bearer {token}"}).status_code
print(status)
"""


@pytest.mark.slow
@pytest.mark.parametrize("door", ["api", "web"])
def test_eight_corrections_of_one_record_at_once_one_wins(site, tmp_path, door):
    app, headers, session = site
    record_id = save(app.test_client(), headers).get_json()["id"]
    go = tmp_path / "go"
    env = {**os.environ, "VISIT": json.dumps(VISIT), "DETAILS": json.dumps(DETAILS), "PYTHONPATH": str(ROOT)}
    token = headers["Authorization"].split()[1]
    url = app.config["DATABASE_URL"]
    runs = [
        subprocess.Popen(
            [sys.executable, "-c", CORRECTOR, url, str(record_id), door, str(go), token, PASSWORD, str(i)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            cwd=ROOT,
        )
        for i in range(8)
    ]
    for run in runs:  # each has started (and signed in) and waits for the go
        assert run.stdout.readline().strip() == b"ready", run.stderr.read().decode()[-2000:]
    go.touch()
    statuses = []
    for run in runs:
        out, err = run.communicate(timeout=120)
        assert run.returncode == 0, err.decode()[-2000:]
        statuses.append(int(out.split()[-1]))
    created = 201 if door == "api" else 302
    assert sorted(statuses) == [created] + [409] * 7, statuses
    session.expire_all()
    corrections = session.scalars(select(SavedEstimate).where(SavedEstimate.supersedes_id == record_id)).all()
    assert len(corrections) == 1


# Tokens ----------------------------------------------------------------------------------------------------


def test_a_bad_token_costs_no_slow_hash(site, monkeypatch):
    app, headers, _ = site
    client = app.test_client()
    real = headers["Authorization"].split()[1]

    def slow(*args, **kwargs):
        raise AssertionError("a bearer token was checked with argon2")

    monkeypatch.setattr(PasswordHasher, "verify", slow)
    monkeypatch.setattr(PasswordHasher, "hash", slow)
    for text in (real[:-2] + "xx", "est_" + "A" * 43, "est_1_wrong", real):
        status = client.get("/api/v1/saved-estimates", headers={"Authorization": f"Bearer {text}"}).status_code
        assert status == (200 if text == real else 401)


def test_tokens_are_kept_as_digests_expire_and_are_listed(site, capsys):
    app, _, session = site
    client = app.test_client()
    text = create_token(session, "staff@example.org")
    stored = session.scalars(select(accounts.ApiToken.token_hash)).all()
    assert text not in stored and accounts.token_digest(text) in stored
    past = create_token(session, "staff@example.org", dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
    soon = create_token(session, "staff@example.org", accounts.expiry("90d"))
    assert client.get("/api/v1/saved-estimates", headers={"Authorization": f"Bearer {past}"}).status_code == 401
    assert client.get("/api/v1/saved-estimates", headers={"Authorization": f"Bearer {soon}"}).status_code == 200
    states = [state for _, state in accounts.list_tokens(session, "staff@example.org")]
    assert states == ["active", "active", "expired", "active"]
    with pytest.raises(accounts.AccountError, match="not a duration"):
        accounts.expiry("soon")
    with pytest.raises(accounts.AccountError, match="1 to 3650 days"):
        accounts.expiry("20y")
    env = {**os.environ, "ESTIMATOR_DATABASE_URL": app.config["DATABASE_URL"]}
    made = subprocess.run(
        [sys.executable, "-m", "estimator", "tokens", "create", "staff@example.org", "--expires", "12w"],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
    )
    assert made.returncode == 0 and accounts.TOKEN_PATTERN.fullmatch(made.stdout.strip())
    listed = subprocess.run(
        [sys.executable, "-m", "estimator", "tokens", "list"], capture_output=True, text=True, env=env, cwd=ROOT
    )
    rows = listed.stdout.splitlines()
    assert len(rows) == 5 and all("staff@example.org" in row for row in rows)
    assert made.stdout.strip() not in listed.stdout and "expired" in rows[2]


# Sign-in limits ----------------------------------------------------------------------------------------


def test_forty_wrong_passwords_at_once_get_at_most_five_checks(site, monkeypatch):
    app, _, _ = site
    checks = []
    real_check = accounts.check_password
    monkeypatch.setattr(accounts, "check_password", lambda user, pw: checks.append(1) or real_check(user, pw))

    def attempt(_):
        return sign_in(app.test_client(), password="wrong password!").status_code

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(attempt, range(40)))
    assert len(checks) <= 5 and statuses.count(401) == len(checks)
    assert statuses.count(429) == 40 - len(checks)


def test_rotating_addresses_cannot_guess_an_account_and_do_not_lock_its_owner_out(site):
    app, _, _ = site
    assert sign_in(app.test_client(), address="10.0.0.1").status_code == 302  # the clinic's usual address
    for i in range(10):  # a guesser elsewhere, one try per address
        assert sign_in(app.test_client(), password="guess", address=f"203.0.113.{i}").status_code == 401
    blocked = sign_in(app.test_client(), password=PASSWORD, address="203.0.113.200")
    assert blocked.status_code == 429  # the account is slowed for addresses it never signed in from
    assert sign_in(app.test_client(), address="10.0.0.1").status_code == 302  # its owner signs in as usual


def test_rotating_accounts_from_one_address_are_stopped_and_a_known_user_there_is_not(site):
    app, _, _ = site
    assert sign_in(app.test_client(), address="10.0.0.2").status_code == 302
    for i in range(30):
        response = sign_in(app.test_client(), email=f"guess{i}@example.org", password="x" * 12, address="10.0.0.2")
        assert response.status_code == 401
    stranger = sign_in(app.test_client(), email="admin@example.org", address="10.0.0.2")
    assert stranger.status_code == 429  # the address is blocked for accounts it does not know
    assert sign_in(app.test_client(), address="10.0.0.2").status_code == 302  # a known account there still signs in


def test_five_wrong_tries_elsewhere_leave_the_clinic_alone(site):
    app, _, _ = site
    for _ in range(6):
        sign_in(app.test_client(), password="wrong", address="198.51.100.7")
    assert sign_in(app.test_client(), address="198.51.100.7").status_code == 429  # that address and account
    assert sign_in(app.test_client(), address="10.0.0.3").status_code == 302  # the clinic: as usual


def test_a_disabled_account_takes_as_long_to_refuse_as_a_live_one(site, monkeypatch):
    app, _, session = site
    checked = []
    real_check = accounts.check_password
    monkeypatch.setattr(accounts, "check_password", lambda user, pw: checked.append(user.email) or real_check(user, pw))
    disable_user(session, "staff@example.org")
    assert sign_in(app.test_client()).status_code == 401
    assert checked == ["staff@example.org"]  # the slow check ran, as for a live account


# Sessions ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["sign-out", "disabled", "new password"])
def test_a_copied_session_cookie_stops_working(site, how):
    app, _, session = site
    client = app.test_client()
    assert sign_in(client).status_code == 302
    cookie = client.get_cookie("session").value
    thief = app.test_client()
    thief.set_cookie("session", cookie)
    assert thief.get("/records").status_code == 200
    if how == "sign-out":
        client.post("/logout", data={"csrf_token": token_of(client, "/")})
    elif how == "disabled":
        disable_user(session, "staff@example.org")
    else:
        set_password(session, "staff@example.org", "another long password")
    assert thief.get("/records").status_code == 302  # to the sign-in page: the session ended


# Admins and staff --------------------------------------------------------------------------------------


def test_admin_pages_are_for_admins(site):
    app, _, _ = site
    staff = app.test_client()
    sign_in(staff)
    for path in ("/admin/users", "/admin/audit", "/admin/users/1/tokens"):
        assert staff.get(path).status_code == 403
    assert "Staff accounts" not in staff.get("/records").get_data(as_text=True)
    anonymous = app.test_client()
    assert anonymous.get("/admin/users").status_code == 302


def test_an_admin_manages_accounts_and_tokens_and_reads_the_trail(site):
    app, headers, session = site
    admin = app.test_client()
    assert sign_in(admin, email="admin@example.org").status_code == 302
    csrf = token_of(admin, "/admin/users")
    added = admin.post("/admin/users", data={"csrf_token": csrf, "email": "new@example.org", "password": PASSWORD})
    assert added.status_code == 302
    page = admin.get("/admin/users").get_data(as_text=True)
    assert 'data-user="new@example.org"' in page and "Added new@example.org." in page
    user_id = accounts.find_user(session, "new@example.org").id
    made = admin.post(f"/admin/users/{user_id}/tokens", data={"csrf_token": csrf, "expires": "90d"})
    assert made.headers["Cache-Control"] == "no-store"
    token = made.get_data(as_text=True).split('data-field="new_token">')[1].split("<")[0]
    assert (
        app.test_client().get("/api/v1/saved-estimates", headers={"Authorization": f"Bearer {token}"}).status_code
        == 200
    )
    token_id = session.scalars(select(accounts.ApiToken.id).where(accounts.ApiToken.user_id == user_id)).one()
    admin.post(f"/admin/tokens/{token_id}/revoke", data={"csrf_token": csrf})
    assert (
        app.test_client().get("/api/v1/saved-estimates", headers={"Authorization": f"Bearer {token}"}).status_code
        == 401
    )
    admin.post(f"/admin/users/{user_id}/password", data={"csrf_token": csrf, "password": "short"})
    assert "at least 12 characters" in admin.get("/admin/users").get_data(as_text=True)
    admin.post(f"/admin/users/{user_id}/disable", data={"csrf_token": csrf})
    assert sign_in(app.test_client(), email="new@example.org").status_code == 401

    record_id = save(app.test_client(), headers).get_json()["id"]
    staff = app.test_client()
    sign_in(staff)
    staff.get(f"/records/{record_id}")
    staff.post("/records", data={"csrf_token": token_of(staff, "/"), "name": "ana"})
    trail = admin.get("/admin/audit").get_data(as_text=True)
    number = session.get(SavedEstimate, record_id).number
    assert "search" in trail and f"listed 1: {number}" in trail and "by name" in trail
    assert "token created new@example.org" in trail and "disable new@example.org" in trail
    record_page = admin.get(f"/records/{record_id}").get_data(as_text=True)
    assert "Who did what with this record" in record_page and "staff@example.org" in record_page
    assert "Who did what with this record" not in staff.get(f"/records/{record_id}").get_data(as_text=True)


def test_each_search_is_audited_with_the_records_it_listed(site):
    app, headers, session = site
    ids = [save(app.test_client(), headers).get_json()["id"] for _ in range(3)]
    client = app.test_client()
    client.get("/api/v1/saved-estimates?name=ana&per_page=2", headers=headers)
    event = session.scalars(select(AuditEvent).where(AuditEvent.action == "search").order_by(AuditEvent.id)).all()[-1]
    assert event.detail == {"filters": ["name"], "page": 1, "listed": [ids[2], ids[1]]}
    assert event.via == "api"
    records.search(session, None, "cli", number="000")
    assert session.scalars(select(AuditEvent.detail).order_by(AuditEvent.id.desc())).first()["filters"] == ["number"]


@pytest.mark.parametrize("email", ["staff\x00@example.org", "staff\udcff@example.org"])
def test_the_command_line_refuses_text_that_cannot_be_kept(site, email):
    app, _, session = site
    with pytest.raises(accounts.AccountError, match="NUL|not text"):
        add_user(session, email, PASSWORD)
    with pytest.raises(accounts.AccountError, match="NUL|not text"):
        create_token(session, email)
    with pytest.raises(accounts.AccountError, match="NUL|not text"):
        add_user(session, "ok@example.org", "a long password\x00")
