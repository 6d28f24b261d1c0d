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
}


def init_app(app, test_config=None):
    """Load the configuration into ``app`` in its three layers."""
    app.config.from_mapping(DEFAULTS)
    app.config.from_prefixed_env("ESTIMATOR")
    if test_config:
        app.config.from_mapping(test_config)
    if not app.config.get("SECRET_KEY"):
        # No secret is ever committed: without ESTIMATOR_SECRET_KEY each process draws its own, which
        # serves one process (or gunicorn with --preload, where workers share the master's app).
        app.config["SECRET_KEY"] = secrets.token_hex(32)
