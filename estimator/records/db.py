"""The records database: its URL, engine, sessions and schema migrations (Alembic)."""

import os
from pathlib import Path

from sqlalchemy import create_engine, event
from sqlalchemy.orm import sessionmaker

ROOT = Path(__file__).resolve().parents[2]
MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def default_url():
    """``ESTIMATOR_DATABASE_URL``, else a SQLite file in the instance folder (made on first use)."""
    url = os.environ.get("ESTIMATOR_DATABASE_URL")
    if url:
        return url
    folder = instance_folder()
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    return f"sqlite:///{folder / 'estimator.sqlite3'}"


def instance_folder():
    """Where the default records database lives: ``ESTIMATOR_INSTANCE_DIR``; else a checkout's ``instance/``;
    else, installed, ``$XDG_DATA_HOME/procedure-cost-estimator`` (``~/.local/share/...``)."""
    if os.environ.get("ESTIMATOR_INSTANCE_DIR"):
        return Path(os.environ["ESTIMATOR_INSTANCE_DIR"])
    if (ROOT / "pyproject.toml").is_file() and (ROOT / "estimator").is_dir():
        return ROOT / "instance"
    data = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data) / "procedure-cost-estimator"


def make_engine(url=None):
    url = url or default_url()
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(connection, _record):
            cursor = connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")  # readers do not wait for a writer
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True)


def make_sessions(engine):
    return sessionmaker(engine, expire_on_commit=False)


def alembic_config(url):
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def revision(url):
    """The schema's migration in the database (``None``: a new, empty database)."""
    from alembic.runtime.migration import MigrationContext

    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()


def upgrade(url=None):
    """Bring the database's schema to the latest migration (``estimator db upgrade``).

    Returns the migrations before and after: ``(None, head)`` for a database created now, ``(head, head)``
    for one already up to date."""
    from alembic import command

    url = url or default_url()
    before = revision(url)
    command.upgrade(alembic_config(url), "head")
    return before, revision(url)


def described(url=None):
    """The database's URL as it may be shown: its password left out."""
    from sqlalchemy.engine import make_url

    return make_url(url or default_url()).render_as_string(hide_password=True)
