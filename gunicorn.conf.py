"""gunicorn settings for ``gunicorn --config gunicorn.conf.py wsgi:app`` in a checkout: the package's own
(:mod:`estimator.web.gunicorn_settings`), which ``estimator serve`` uses wherever it is installed."""

from estimator.web.gunicorn_settings import *  # noqa: F403
