"""Staff sign-in for the saved records: web sessions (Flask-Login) and API bearer tokens; the records
database session of each request; failed sign-ins slowed down."""

import datetime as dt
import hashlib
import logging

from flask import current_app, g, request
from flask_login import LoginManager, current_user
from flask_smorest import abort
from sqlalchemy import delete, select
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import ServiceUnavailable

from ..records.accounts import user_for_token
from ..records.db import make_engine, make_sessions
from ..records.models import SignInFailure, User, as_utc, utcnow
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
def load_user(user_id):
    user = db().get(User, int(user_id)) if str(user_id).isdigit() else None
    return user if user is not None and user.is_active else None  # a disabled user is signed out at once


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


class FailedSignIns:
    """Failed sign-ins per address and email in a sliding window, kept in the records database (by a
    hash of the two), so that every worker and server sees them: past the limit, sign-in waits."""

    def _key(self, email):
        text = f"{request.remote_addr or ''}\n{email.strip().lower()}"
        return hashlib.sha256(text.encode()).hexdigest()

    def _since(self):
        return utcnow() - dt.timedelta(seconds=current_app.config["LOGIN_WINDOW"])

    def wait(self, email):
        """Seconds before another try is allowed (0: now)."""
        session = db()
        times = session.scalars(
            select(SignInFailure.at)
            .where(SignInFailure.key == self._key(email), SignInFailure.at >= self._since())
            .order_by(SignInFailure.at)
        ).all()
        if len(times) < current_app.config["LOGIN_ATTEMPTS"]:
            return 0
        oldest = as_utc(times[-current_app.config["LOGIN_ATTEMPTS"]])
        return int((oldest - self._since()).total_seconds()) + 1

    def failed(self, email):
        session = db()
        session.add(SignInFailure(key=self._key(email)))
        session.execute(delete(SignInFailure).where(SignInFailure.at < self._since()))  # old ones go
        session.commit()

    def succeeded(self, email):
        session = db()
        session.execute(delete(SignInFailure).where(SignInFailure.key == self._key(email)))
        session.commit()


def failed_sign_ins():
    """This app's count of failed sign-ins."""
    return current_app.extensions["failed_sign_ins"]


def init_app(app):
    """The records database and sign-in: engine made once, a session per request."""
    engine = make_engine(app.config["DATABASE_URL"])
    app.extensions["records_engine"] = engine
    app.extensions["records_sessions"] = make_sessions(engine)
    app.extensions["failed_sign_ins"] = FailedSignIns()
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
