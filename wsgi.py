"""WSGI entry point in a checkout: ``gunicorn --config gunicorn.conf.py wsgi:app`` or ``flask --app wsgi run``
(the app of :mod:`estimator.web.wsgi`)."""

from estimator.web.wsgi import app  # noqa: F401
