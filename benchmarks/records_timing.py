"""Time to save and to read a saved estimate, in process, on SQLite and (given its URL) on PostgreSQL.

    python benchmarks/records_timing.py [--postgres postgresql+psycopg://USER@HOST:PORT/DB] [--count 300]

Each save computes a three-line self-pay visit and writes it with its lines and an audit event; each read
fetches a record and audits it. Prints the median and 95th percentile of each, per database. The
PostgreSQL database named is used as scratch: a new database is made in it and dropped afterwards.
"""

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from estimator.core.schedules import load_schedules  # noqa: E402
from estimator.records import service  # noqa: E402
from estimator.records.accounts import add_user  # noqa: E402
from estimator.records.db import make_engine, make_sessions, upgrade  # noqa: E402

VISIT = {
    "payer_id": "self_pay",
    "zip": "30303",
    "date_of_service": "2026-12-15",
    "lines": [{"cpt_code": "99213"}, {"cpt_code": "64635"}, {"cpt_code": "64636"}],
}
DETAILS = {
    "patient": {"name": "Timing Patient", "birth_date": "1970-02-03"},
    "provider": {
        "name": "Clinic",
        "npi": "1234567893",
        "tin": "12-3456789",
        "address": {"line": "1 Main St", "city": "Atlanta", "state": "GA", "postal_code": "30303"},
    },
}


def measure(url, count):
    upgrade(url)
    engine = make_engine(url)
    session = make_sessions(engine)()
    user = add_user(session, "timing@example.org", "a long enough password")
    schedules = load_schedules()
    saves, reads, ids = [], [], []
    for _ in range(count):
        started = time.perf_counter()
        ids.append(service.save(session, user, VISIT, DETAILS, schedules, 0.0, "cli").id)
        saves.append(time.perf_counter() - started)
    for record_id in ids:
        session.expire_all()
        started = time.perf_counter()
        record = service.get(session, user, record_id, "cli")
        _ = record.answer, [line.cpt_code for line in record.lines]
        reads.append(time.perf_counter() - started)
    session.close()
    engine.dispose()
    return saves, reads


def report(name, values):
    ms = sorted(v * 1000 for v in values)
    return f"{name} median {statistics.median(ms):.2f} ms, p95 {ms[int(len(ms) * 0.95)]:.2f} ms"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--postgres")
    parser.add_argument("--count", type=int, default=300)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        saves, reads = measure(f"sqlite:///{scratch}/timing.sqlite3", args.count)
        print(f"SQLite: {report('save', saves)}; {report('read', reads)}")
    if args.postgres:
        import psycopg

        admin = args.postgres.replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute("DROP DATABASE IF EXISTS estimator_timing WITH (FORCE)")
            connection.execute("CREATE DATABASE estimator_timing")
        try:
            saves, reads = measure(args.postgres.rsplit("/", 1)[0] + "/estimator_timing", args.count)
            print(f"PostgreSQL: {report('save', saves)}; {report('read', reads)}")
        finally:
            with psycopg.connect(admin, autocommit=True) as connection:
                connection.execute("DROP DATABASE IF EXISTS estimator_timing WITH (FORCE)")


if __name__ == "__main__":
    main()
