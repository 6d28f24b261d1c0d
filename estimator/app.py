"""The Flask application factory."""

from flask import Flask

from . import api, config, http, web
from .schedules import load_schedules


def create_app(test_config=None):
    """Build the app: configuration, fee schedules (loaded once, here), API, pages, errors, headers.

    A fee-schedule directory that fails validation raises ``ScheduleError`` with the loader's
    message, so a server never starts on bad data.
    """
    app = Flask(__name__)
    app.json.sort_keys = False  # answers keep the contract's field order
    config.init_app(app, test_config)
    app.extensions["schedules"] = load_schedules(app.config["FEE_SCHEDULES"])
    http.init_app(app, html_renderer=web.render_error_page)
    api.init_app(app)
    web.init_app(app)
    web.csrf.exempt(api.api_blp)  # the JSON API takes no cookies, so it cannot be forged cross-site
    web.csrf.exempt(api.health_blp)
    return app
