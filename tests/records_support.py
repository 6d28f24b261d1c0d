"""Databases for the records tests: SQLite always; PostgreSQL when ESTIMATOR_TEST_POSTGRES_URL names a
server whose user may create databases (CI starts one; REQUIRE_POSTGRES makes its absence a failure)."""

import os
import secrets

import pytest

POSTGRES = os.environ.get("ESTIMATOR_TEST_POSTGRES_URL")


def database_url(kind, tmp_path):
    """A new, empty records database of ``kind``, its schema made by the migrations; and a drop function."""
    from estimator.records.db import upgrade

    if kind == "sqlite":
        url = f"sqlite:///{tmp_path / 'records.sqlite3'}"
        upgrade(url)
        return url, lambda: None
    if not POSTGRES:
        if os.environ.get("REQUIRE_POSTGRES"):
            raise RuntimeError("ESTIMATOR_TEST_POSTGRES_URL is required (CI starts a PostgreSQL server)")
        pytest.skip("no PostgreSQL server (set ESTIMATOR_TEST_POSTGRES_URL)")
    import psycopg

    name = f"estimator_test_{secrets.token_hex(4)}"
    admin = POSTGRES.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    url = POSTGRES.rsplit("/", 1)[0] + f"/{name}"
    upgrade(url)

    def drop():
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return url, drop
