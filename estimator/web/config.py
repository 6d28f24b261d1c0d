"""Configuration: defaults, then ``ESTIMATOR_*`` environment variables, then test overrides."""

import secrets

DEFAULTS = {
    # Fee-schedule directory; None = the shipped fee_schedules/ (ESTIMATOR_FEE_SCHEDULES overrides).
    "FEE_SCHEDULES": None,
    # Seconds between looks at the fee-schedule files for changes (0 = never reload).
    "RELOAD_INTERVAL": 5.0,
    # Largest batch CSV sent to the API (bytes). Larger bodies are answered 413.
    "MAX_CONTENT_LENGTH": 64 * 1024 * 1024,
    # Largest CSV the upload page takes (bytes): its answer is a page holding the whole estimated CSV
    # (about five times the input), so larger files go to the API or the command line instead.
    "MAX_PAGE_UPLOAD_BYTES": 2 * 1024 * 1024,
    # Largest body of every other request: a single estimate, a form (bytes).
    "MAX_BODY_BYTES": 64 * 1024,
    # Rows estimated at a time in a batch.
    "BATCH_CHUNK_ROWS": 50_000,
    "API_TITLE": "Procedure cost estimator",
    "API_VERSION": "v1",
    "OPENAPI_VERSION": "3.0.3",
    "OPENAPI_URL_PREFIX": "/api",
    "OPENAPI_JSON_PATH": "openapi.json",
    "OPENAPI_SWAGGER_UI_PATH": "docs",
    "OPENAPI_SWAGGER_UI_URL": "/api/docs/assets/",
    "JSON_SORT_KEYS": False,
    # The session cookie (it holds the forms' CSRF token) is not sent on cross-site requests; it is
    # Secure over HTTPS (see estimator.app.SessionInterface) or always with ESTIMATOR_SESSION_COOKIE_SECURE.
    "SESSION_COOKIE_SAMESITE": "Lax",
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SECURE": False,
    # Proxies in front of the service whose X-Forwarded-* headers are trusted (0 = none).
    "PROXY_HOPS": 0,
    # The records database (saved estimates, users, audit): ESTIMATOR_DATABASE_URL; None = a SQLite
    # file in the instance folder.
    "DATABASE_URL": None,
    # Failed sign-ins allowed in LOGIN_WINDOW seconds before sign-in waits for the window's end: per address
    # and account; per address across accounts; per account across addresses (these two do not apply
    # where the account signed in before, in LOGIN_KNOWN_DAYS). See estimator.web.auth.SignInLimits.
    "LOGIN_ATTEMPTS": 5,
    "LOGIN_ADDRESS_ATTEMPTS": 30,
    "LOGIN_ACCOUNT_ATTEMPTS": 10,
    "LOGIN_KNOWN_DAYS": 90,
    "LOGIN_WINDOW": 900,
}

#: The shortest secret key taken as real.
MIN_SECRET = 32


class ConfigError(Exception):
    """The configuration cannot serve: the service does not start."""


def init_app(app, test_config=None):
    """Load the configuration into ``app`` in its three layers."""
    app.config.from_mapping(DEFAULTS)
    app.config.from_prefixed_env("ESTIMATOR")
    if test_config:
        app.config.from_mapping(test_config)
    if not app.config.get("SECRET_KEY"):
        if not (app.debug or app.testing):
            # Sessions sign staff sign-ins: a key drawn at start would log everyone out at each restart
            # and differ between servers. No secret is ever committed.
            raise ConfigError(
                "ESTIMATOR_SECRET_KEY is not set: give a random secret of at least 32 characters, for example "
                "from: python3 -c 'import secrets; print(secrets.token_hex(32))'"
            )
        app.config["SECRET_KEY"] = secrets.token_hex(32)  # debug and tests: one for this process
    elif len(str(app.config["SECRET_KEY"])) < MIN_SECRET and not (app.debug or app.testing):
        raise ConfigError(f"ESTIMATOR_SECRET_KEY is too short: give at least {MIN_SECRET} random characters")
