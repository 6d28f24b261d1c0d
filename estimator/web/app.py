"""The Flask application factory."""

import io

from flask import Flask, Request, request
from flask.sessions import SecureCookieSessionInterface
from werkzeug.middleware.proxy_fix import ProxyFix

from . import admin, api, auth, config, http, pages, records_pages, saved
from .store import ScheduleStore


class InMemoryUploadRequest(Request):
    """Uploads stay in memory (bounded by MAX_CONTENT_LENGTH): a batch file may carry patient details, and
    nothing the user did not ask to keep is written to disk, not even a temporary file."""

    def _get_file_stream(self, total_content_length, content_type, filename=None, content_length=None):
        return io.BytesIO()


class SessionInterface(SecureCookieSessionInterface):
    """The session cookie is ``Secure`` whenever the request came over HTTPS (or always, by configuration)."""

    def get_cookie_secure(self, app):
        return bool(app.config["SESSION_COOKIE_SECURE"] or request.is_secure)

    def open_session(self, app, request):
        # Without a session cookie (every API call) the session is new and empty: no need to build the
        # signing serializer, as Flask would on every request.
        if not request.cookies.get(self.get_cookie_name(app)):
            return self.session_class() if app.secret_key else None
        return super().open_session(app, request)


def create_app(test_config=None):
    """Build the app: configuration, fee schedules (loaded here, reloaded when their files change), API,
    pages, errors, headers.

    A fee-schedule directory that fails validation raises ``ScheduleError`` with the loader's
    message, so a server never starts on bad data.
    """
    app = Flask(__name__)
    app.request_class = InMemoryUploadRequest
    app.session_interface = SessionInterface()
    app.json.sort_keys = False  # answers keep the contract's field order
    config.init_app(app, test_config)
    if app.config["PROXY_HOPS"]:  # behind a proxy: trust its X-Forwarded-For and -Proto (HTTPS, client address)
        hops = int(app.config["PROXY_HOPS"])
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)
    app.extensions["schedule_store"] = ScheduleStore(app.config["FEE_SCHEDULES"], app.config["RELOAD_INTERVAL"])
    http.init_app(app, html_renderer=pages.render_error_page)
    auth.init_app(app)
    smorest = api.init_app(app)
    smorest.spec.components.security_scheme("bearerAuth", {"type": "http", "scheme": "bearer"})
    smorest.register_blueprint(saved.blp)
    pages.init_app(app)
    records_pages.init_app(app)
    admin.init_app(app)
    for blueprint in (api.api_blp, api.health_blp, saved.blp):
        pages.csrf.exempt(blueprint)  # the JSON API takes no cookies (a bearer token), so it cannot be forged
    return app
