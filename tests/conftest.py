import atexit
import datetime as dt
import os
import shutil
import tempfile
from pathlib import Path

# The schedules cache of the test session (and of the commands it starts) is its own, removed at the end.
if "ESTIMATOR_CACHE_DIR" not in os.environ:
    os.environ["ESTIMATOR_CACHE_DIR"] = tempfile.mkdtemp(prefix="estimator-test-cache-")
    atexit.register(shutil.rmtree, os.environ["ESTIMATOR_CACHE_DIR"], True)

import pandas as pd
import pytest
from hypothesis import Phase, settings

from estimator.core.engine import estimate
from estimator.core.schedules import DEFAULT_DIRECTORY, load_schedules

from .records_support import database_url

# For tests/mutate.py: find a failure and stop, without shrinking it.
settings.register_profile("no-shrink", phases=[Phase.explicit, Phase.reuse, Phase.generate])

DATA = Path(__file__).parent / "data"
TEST_SCHEDULES = DATA / "schedules"
TODAY = dt.date(2025, 6, 1)


@pytest.fixture(scope="session")
def shipped():
    """The shipped default fee schedules."""
    return load_schedules(DEFAULT_DIRECTORY)


@pytest.fixture(scope="session")
def small():
    """The small hand-made schedules of tests/data/schedules, with round numbers."""
    return load_schedules(TEST_SCHEDULES)


@pytest.fixture
def schedule_copy(tmp_path):
    """A writable copy of the small schedules, for load-error tests."""
    target = tmp_path / "schedules"
    shutil.copytree(TEST_SCHEDULES, target)
    return target


def run(schedules, today=TODAY, **fields):
    """Estimate one request through the engine; returns its result row as a dict."""
    raw = pd.DataFrame([{k: str(v) for k, v in fields.items()}], dtype=object)
    return estimate(raw, schedules, today).frame.iloc[0].to_dict()


@pytest.fixture(scope="session")
def records_url(tmp_path_factory):
    """A records database for the test session (SQLite, its schema made by the migrations)."""
    from estimator.records.db import upgrade

    url = f"sqlite:///{tmp_path_factory.mktemp('records') / 'records.sqlite3'}"
    upgrade(url)
    return url


@pytest.fixture(scope="session")
def app(records_url):
    """The app on the shipped fee schedules."""
    from estimator.web.app import create_app

    return create_app({"TESTING": True, "DATABASE_URL": records_url})


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture(scope="session")
def small_app(records_url):
    """The app on the small hand-made schedules."""
    from estimator.web.app import create_app

    return create_app({"TESTING": True, "FEE_SCHEDULES": str(TEST_SCHEDULES), "DATABASE_URL": records_url})


def upload_form(fields, file_bytes, filename="in.csv"):
    """A multipart/form-data body with ``fields`` and one ``file``: (body, content type).

    Built by hand so that a large upload is not spooled to a temporary file by the test client."""
    boundary = "----estimator-test-boundary"
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in fields.items()
    ]
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
        "Content-Type: text/csv\r\n\r\n".encode()
        + file_bytes
        + b"\r\n"
    )
    return b"".join(parts) + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


@pytest.fixture
def into(tmp_path):
    """A copy of the small schedules with the importers' example files' codes and payers added."""
    target = tmp_path / "schedules"
    shutil.copytree(TEST_SCHEDULES, target)
    with open(target / "procedures.csv", "a") as handle:
        for code in ("27447", "27448", "70551", "49505", "80048", "92626", "J1450", "64483"):
            handle.write(f"{code},Imported code {code},Test,100,200,400,0,,,,\n")
    with open(target / "payers.csv", "a") as handle:
        handle.write("platform,Platform,commercial,0,0.2,0,,,false\n")
        handle.write("region,Region,commercial,0,0.2,0,,,false\n")
    return target


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request, tmp_path):
    """A new, empty records database on SQLite, then on PostgreSQL (see records_support)."""
    url, drop = database_url(request.param, tmp_path)
    yield url
    drop()


PASSWORD = "correct horse battery staple"


@pytest.fixture
def site(database):
    """The app on a new records database with a staff user: (app, API headers with their token, session)."""
    from estimator.records.accounts import add_user, create_token
    from estimator.records.db import make_engine, make_sessions
    from estimator.web.app import create_app

    app = create_app({"TESTING": True, "DATABASE_URL": database, "RELOAD_INTERVAL": 0})
    session = make_sessions(make_engine(database))()
    add_user(session, "staff@example.org", PASSWORD)
    token = create_token(session, "staff@example.org")
    yield app, {"Authorization": f"Bearer {token}"}, session
    session.close()
    session.bind.dispose()
    app.extensions["records_engine"].dispose()


@pytest.fixture(scope="module")
def server(app):
    """The app (the shipped schedules) served on a free local port, in a thread."""
    import threading

    from werkzeug.serving import make_server

    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()
    thread.join()


@pytest.fixture(scope="module")
def browser():
    """Debian's Chromium, headless, for the browser tests (which call browser_support.require_chromium)."""
    from playwright.sync_api import sync_playwright

    from .browser_support import CHROMIUM

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                "--disable-quic",
            ],
        )
        yield browser
        browser.close()
