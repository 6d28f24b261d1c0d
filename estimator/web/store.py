"""The fee schedules a running service estimates with, reloaded when their files change.

A reload that fails validation keeps the last good schedules in service and records the loader's
message (file, line, column) for ``/healthz``; the next change of the files is tried again.
"""

import datetime as dt
import logging
import os
import threading
import time
from pathlib import Path

from ..core.errors import ScheduleError
from ..core.schedules import FILES, OPTIONAL_FILES, load_schedules

log = logging.getLogger(__name__)


class ScheduleStore:
    """Holds the current :class:`Schedules`; checks the files at most every ``interval`` seconds."""

    def __init__(self, directory=None, interval=5.0, clock=time.monotonic):
        self.schedules = load_schedules(directory)  # a bad directory at start-up raises: nothing to serve
        self.directory = Path(self.schedules.directory)
        self.interval = interval
        self.clock = clock
        self.loaded_at = time.time()
        self.reload_error = None
        self._stamp = self._fingerprint()
        self._checked = clock()
        self._lock = threading.Lock()

    def _fingerprint(self):
        stamp = []
        for name in (*FILES, *OPTIONAL_FILES):
            try:
                info = os.stat(self.directory / name)
                stamp.append((name, info.st_mtime_ns, info.st_size))
            except OSError:
                stamp.append((name, None, None))
        return tuple(stamp)

    def files(self):
        """When each fee-schedule file last changed (UTC, ISO) and its size; ``None`` for an absent file."""
        out = {}
        for name in (*FILES, *OPTIONAL_FILES):
            try:
                info = os.stat(self.directory / name)
            except OSError:
                out[name] = None
                continue
            changed = dt.datetime.fromtimestamp(info.st_mtime, dt.UTC).isoformat(timespec="seconds")
            out[name] = {"modified": changed, "bytes": info.st_size}
        return out

    def current(self):
        """The schedules to estimate with, reloaded first if the files changed since the last look."""
        if self.interval and self.clock() - self._checked >= self.interval:
            self.reload_if_changed()
        return self.schedules

    def reload_if_changed(self):
        """Reload when the files changed; returns True when new schedules went into service."""
        with self._lock:
            self._checked = self.clock()
            stamp = self._fingerprint()
            if stamp == self._stamp:
                return False
            self._stamp = stamp  # a failed attempt is not retried until the files change again
            try:
                schedules = load_schedules(self.directory)
            except ScheduleError as exc:
                self.reload_error = str(exc)
                log.warning("fee schedules in %s refused, still serving the last good ones:\n%s", self.directory, exc)
                return False
            except Exception as exc:  # a loader defect must not take the service down: keep serving, say so
                self.reload_error = f"the fee schedules could not be loaded ({type(exc).__name__}: {exc})"
                log.exception("fee schedules in %s not loaded, still serving the last good ones", self.directory)
                return False
            self.schedules, self.loaded_at, self.reload_error = schedules, time.time(), None
            log.info("fee schedules reloaded from %s", self.directory)
            return True
