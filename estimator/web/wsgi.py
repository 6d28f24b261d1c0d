"""The WSGI app of ``estimator serve`` (``estimator.web.wsgi:app``): built on import, refusing bad fee schedules
or settings with their message and no traceback."""

import sys

from ..core.errors import ScheduleError
from .app import create_app
from .config import ConfigError

try:
    app = create_app()
except ScheduleError as exc:  # refuse to serve bad data, with the loader's message and no traceback
    print(f"Fee schedules refused, the service does not start:\n{exc}", file=sys.stderr)
    raise SystemExit(1) from None
except ConfigError as exc:
    print(f"The service does not start: {exc}", file=sys.stderr)
    raise SystemExit(1) from None
