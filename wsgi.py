"""WSGI entry point: ``gunicorn --config gunicorn.conf.py wsgi:app`` or ``flask --app wsgi run``."""

import sys

from estimator.core.errors import ScheduleError
from estimator.web.app import create_app
from estimator.web.config import ConfigError

try:
    app = create_app()
except ScheduleError as exc:  # refuse to serve bad data, with the loader's message and no traceback
    print(f"Fee schedules refused, the service does not start:\n{exc}", file=sys.stderr)
    raise SystemExit(1) from None
except ConfigError as exc:
    print(f"The service does not start: {exc}", file=sys.stderr)
    raise SystemExit(1) from None
