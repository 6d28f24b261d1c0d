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
    folder = ROOT / "instance"
    folder.mkdir(exist_ok=True)
    return f"sqlite:///{folder / 'estimator.sqlite3'}"


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


def upgrade(url=None):
    """Bring the database's schema to the latest migration (``python -m estimator db upgrade``)."""
    from alembic import command

    command.upgrade(alembic_config(url or default_url()), "head")
