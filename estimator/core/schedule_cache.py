"""Validated fee schedules kept between runs, so that a command's start-up does not read and check the
catalog's 9,000 rows again each time (SPEC section 2's checks still run whenever anything changes).

An entry is keyed by the schedule files' content (the hash :class:`.schedules.Schedules` records) and by
the loader's own code and libraries: change a file, or the rules that check it, and the directory is
loaded and checked afresh. Only schedules that passed every check are kept; nothing about requests or
patients is. The folder is ``$ESTIMATOR_CACHE_DIR`` (``off`` or empty: no cache), else
``$XDG_CACHE_HOME/procedure-cost-estimator`` or ``~/.cache/procedure-cost-estimator``; an entry is read
only from a folder and file of this user that no one else may write, and the newest few are kept.
"""

import functools
import hashlib
import os
import pickle
import sys
import tempfile
import time
from pathlib import Path

#: Entries kept (the newest); older ones are removed when a new one is written.
KEEP = 8
#: Age after which a partial entry (its writer was killed) is removed by the next writer.
STALE_SECONDS = 600
#: The modules whose rules and tables an entry was built by.
_CODE = ("schedules.py", "matching.py", "glossary.py", "errors.py", "schedule_cache.py")


def folder():
    """The cache folder, or None when caching is off."""
    value = os.environ.get("ESTIMATOR_CACHE_DIR")
    if value is not None:
        value = value.strip()
        return Path(value) if value and value.lower() != "off" else None
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "procedure-cost-estimator"


@functools.cache
def code_version():
    """A digest of the loader's code and the versions of Python, numpy and pandas."""
    import numpy
    import pandas

    digest = hashlib.sha256(f"{sys.version_info[:3]} {numpy.__version__} {pandas.__version__}".encode())
    here = Path(__file__).resolve().parent
    for name in _CODE:
        digest.update((here / name).read_bytes())
    return digest.hexdigest()


def _private(path):
    """Whether ``path`` belongs to this user and no one else may write it."""
    try:
        status = path.stat()
    except OSError:
        return False
    return status.st_uid == os.getuid() and not status.st_mode & 0o022


def read(content_hash):
    """The schedules kept for this content (and this code), or None."""
    place = folder()
    if place is None or not _private(place):
        return None
    path = place / f"schedules-{content_hash[:32]}-{code_version()[:16]}.pickle"
    if not _private(path):
        return None
    try:
        with open(path, "rb") as handle:
            kept = pickle.load(handle)
    except Exception:  # noqa: BLE001 - a damaged or foreign entry is only a cache miss
        return None
    return kept if getattr(kept, "content_hash", None) == content_hash else None


def write(schedules):
    """Keep validated ``schedules`` (written beside the entry and renamed; any failure is only no cache)."""
    place = folder()
    if place is None:
        return
    try:
        place.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not _private(place):
            return
        path = place / f"schedules-{schedules.content_hash[:32]}-{code_version()[:16]}.pickle"
        handle, partial = tempfile.mkstemp(dir=place, prefix=".schedules-", suffix=".part")
        try:
            with os.fdopen(handle, "wb") as out:
                pickle.dump(schedules, out, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(partial, path)
        except BaseException:
            os.unlink(partial)
            raise
        entries = sorted(place.glob("schedules-*.pickle"), key=lambda p: p.stat().st_mtime, reverse=True)
        for old in entries[KEEP:]:
            old.unlink(missing_ok=True)
        now = time.time()
        for left in place.glob(".schedules-*.part"):  # what a writer killed halfway left (never read)
            if now - left.stat().st_mtime > STALE_SECONDS:
                left.unlink(missing_ok=True)
    except OSError:
        return
