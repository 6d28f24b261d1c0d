"""The browser tests' guard: Debian's Chromium, driven by Playwright, or the test module is skipped (a
failure instead where REQUIRE_BROWSER is set, as CI sets it). Their fixtures, ``server`` and ``browser``,
are in conftest.py."""

import os
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"


def require_chromium():
    """Call at a browser test module's top: skip it (or fail, in CI) without Chromium and Playwright."""
    if not Path(CHROMIUM).exists():
        if os.environ.get("REQUIRE_BROWSER"):
            raise RuntimeError(f"{CHROMIUM} is required for the browser tests (apt-get install chromium)")
        pytest.skip(f"{CHROMIUM} is not installed", allow_module_level=True)
    pytest.importorskip("playwright.sync_api")
