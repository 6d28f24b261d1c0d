"""Staff sign-in for the saved records: web sessions (Flask-Login) and API bearer tokens; the records
database session of each request; failed sign-ins slowed down."""

import datetime as dt
import hashlib
import logging

from flask import current_app, g, request
from flask_login import LoginManager, current_user
from flask_smorest import abort
from sqlalchemy import case, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import ServiceUnavailable

from ..records.accounts import end_sessions, user_for_token
from ..records.db import make_engine, make_sessions
from ..records.models import SignInCounter, User, as_utc, utcnow
from .http import http_error_response

log = logging.getLogger(__name__)

login_manager = LoginManager()
login_manager.login_view = "records.login"
login_manager.login_message = "Sign in to see saved estimates."
login_manager.session_protection = "strong"


def db():
    """The records database session of this request (closed at its end)."""
    if "records_session" not in g:
        g.records_session = current_app.extensions["records_sessions"]()
    return g.records_session


@login_manager.user_loader
def load_user(session_id):
    """The user of a session (``<user id>:<session version>``), while that session is theirs: a sign-out,
    a disabled account or a new password raises the version, which ends every earlier session."""
    user_id, _, version = str(session_id).partition(":")
    if not (user_id.isascii() and user_id.isdigit() and len(user_id) < 12 and version.isascii() and version.isdigit()):
        return None
    user = db().get(User, int(user_id))
    if user is None or not user.is_active or str(user.session_version) != version:
        return None
    return user


def end_every_session(user):
    """End every web session of ``user`` (sign-out ends them all, not only this browser's)."""
    end_sessions(user)
    db().commit()


def api_user():
    """The user of the request's bearer token; aborts 401 without a valid one."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    user = user_for_token(db(), token.strip()) if scheme.lower() == "bearer" else None
    if user is None:
        abort(
            401,
            message="Send a valid API token: Authorization: Bearer <token>.",
            headers={"WWW-Authenticate": 'Bearer realm="saved estimates"'},
        )
    g.records_user = user
    return user


def page_user():
    """The signed-in staff user of a page, or None."""
    return current_user if current_user.is_authenticated else None


class SignInLimits:
    """How many sign-ins fail, counted in the records database (so every worker and server shares the
    counts), atomically, before the password is checked:

    - for an address and an account together: past ``LOGIN_ATTEMPTS`` in ``LOGIN_WINDOW`` seconds, that
      address may not try that account until the window ends;
    - for an address, across accounts (``LOGIN_ADDRESS_ATTEMPTS``), and for an account, across addresses
      (``LOGIN_ACCOUNT_ATTEMPTS``): past either, sign-in waits for the window's end, except from an
      address where that account signed in before (in ``LOGIN_KNOWN_DAYS``): someone guessing from
      elsewhere, or rotating addresses, does not lock a real user out of the clinic they work from.

    Keys are hashes of the address and the email, never the values themselves.
    """

    def _keys(self, email):
        address, account = request.remote_addr or "", email.strip().lower()[:254]
        return {
            kind: hashlib.sha256(f"{kind}\n{text}".encode()).hexdigest()
            for kind, text in (("pair", f"{address}\n{account}"), ("address", address), ("account", account))
        }

    def attempt(self, email):
        """Count an attempt (before its password is checked); returns the seconds to wait (0: go on)."""
        config = current_app.config
        window = dt.timedelta(seconds=config["LOGIN_WINDOW"])
        now = utcnow()
        counts = {kind: self._count(key, now, window) for kind, key in self._keys(email).items()}
        pair = counts["pair"]
        known = pair.last_success is not None and now - as_utc(pair.last_success) <= dt.timedelta(
            days=config["LOGIN_KNOWN_DAYS"]
        )
        over = [pair] if pair.failures > config["LOGIN_ATTEMPTS"] else []
        if not known:
            limits = (("address", "LOGIN_ADDRESS_ATTEMPTS"), ("account", "LOGIN_ACCOUNT_ATTEMPTS"))
            over += [counts[kind] for kind, limit in limits if counts[kind].failures > config[limit]]
        if not over:
            return 0
        ends = max(as_utc(count.window_start) + window for count in over)
        return max(1, int((ends - now).total_seconds()) + 1)

    def _count(self, key, now, window):
        """Add one to ``key``'s count (a new window when its window has passed) and return its row: one
        statement, so that concurrent attempts each see their own count."""
        session = db()
        insert = (postgresql_insert if session.bind.dialect.name == "postgresql" else sqlite_insert)(SignInCounter)
        table = SignInCounter.__table__
        stale = table.c.window_start < now - window
        statement = (
            insert.values(key=key, failures=1, window_start=now)
            .on_conflict_do_update(
                index_elements=[table.c.key],
                set_={
                    "failures": case((stale, 1), else_=table.c.failures + 1),
                    "window_start": case((stale, now), else_=table.c.window_start),
                },
            )
            .returning(table.c.failures, table.c.window_start, table.c.last_success)
        )
        row = session.execute(statement).one()
        session.commit()
        return row

    def succeeded(self, email):
        """The password was right: this attempt was no failure, and the address is known for the account."""
        session = db()
        keys = self._keys(email)
        table = SignInCounter.__table__
        session.execute(update(table).where(table.c.key == keys["pair"]).values(failures=0, last_success=utcnow()))
        session.execute(
            update(table)
            .where(table.c.key.in_([keys["address"], keys["account"]]), table.c.failures > 0)
            .values(failures=table.c.failures - 1)
        )
        session.commit()


def sign_in_limits():
    """This app's sign-in limits."""
    return current_app.extensions["sign_in_limits"]


def init_app(app):
    """The records database and sign-in: engine made once, a session per request."""
    engine = make_engine(app.config["DATABASE_URL"])
    app.extensions["records_engine"] = engine
    app.extensions["records_sessions"] = make_sessions(engine)
    app.extensions["sign_in_limits"] = SignInLimits()
    login_manager.init_app(app)

    @app.errorhandler(SQLAlchemyError)
    def records_unavailable(error):
        # The type only: a database error's text may quote the statement's values (patient details).
        log.error("records database error on %s %s: %s", request.method, request.path, type(error).__name__)
        session = g.get("records_session")
        if session is not None:
            session.rollback()
        message = "The records database cannot be used now (is its schema up to date? python -m estimator db upgrade)."
        return http_error_response(ServiceUnavailable(message), app.extensions.get("html_error_renderer"))

    @app.teardown_appcontext
    def close_records_session(_error):
        session = g.pop("records_session", None)
        if session is not None:
            session.close()
