"""Command line: ``python -m estimator estimate | benefits | batch | check-schedules | ...``."""

import argparse
import contextlib
import datetime as dt
import json
import os
import signal
import sys

from ..batch.stream import DEFAULT_CHUNK_ROWS, StderrProgress
from ..core.errors import InputFileError, RequestError, ScheduleError
from ..core.glossary import NETWORKS, REQUEST_FIELDS, SETTINGS
from ..core.schedules import RATES_ENDING_DAYS, load_schedules
from ..eligibility import service as eligibility


def _date(text):
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date YYYY-MM-DD: {text!r}") from None


def _positive(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def build_parser():
    parser = argparse.ArgumentParser(
        prog="python -m estimator",
        description="Estimate what a procedure costs the patient, and whether the insurer must approve it first.",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    def schedules_option(p):
        p.add_argument(
            "--fee-schedules",
            metavar="DIR",
            help="fee-schedule directory (default: $ESTIMATOR_FEE_SCHEDULES, else the shipped one)",
        )
        p.add_argument(
            "--today",
            type=_date,
            metavar="YYYY-MM-DD",
            help="date of service for requests that give none (default: today)",
        )

    est = sub.add_parser("estimate", help="estimate one procedure line and print the JSON answer")
    schedules_option(est)
    est.add_argument("--cpt-code", required=True, help="procedure code, e.g. 64483")
    est.add_argument("--payer-id", required=True, help="payer, e.g. medicare or self_pay")
    est.add_argument("--region-id", help="region, e.g. ny-01 (or give --zip)")
    est.add_argument("--zip", help="patient or clinic ZIP code, 5 digits or ZIP+4")
    est.add_argument("--setting", help=f"one of {', '.join(SETTINGS)} (default office)")
    est.add_argument("--network", help=f"one of {', '.join(NETWORKS)} (default in)")
    est.add_argument(
        "--modifiers",
        help="modifiers separated by spaces or commas, e.g. '26 RT': 50, RT, LT (sides), 26, TC (components); "
        "25, 51, 59, 76, 77, 79, XE, XP, XS, XU accepted, changing no figure",
    )
    est.add_argument("--units", help="units, 1 to 99 (default 1)")
    est.add_argument("--date-of-service", help="YYYY-MM-DD (default today)")
    for field in ("deductible", "copay", "oop_max"):
        est.add_argument("--" + field.replace("_", "-"), help=f"{field} (default: the payer's)")
    est.add_argument(
        "--coinsurance", help="the patient's share after the deductible: 20%% or 0.2 (default: the payer's)"
    )
    for field in ("deductible_met", "oop_met"):
        est.add_argument("--" + field.replace("_", "-"), help=f"{field}: paid so far this plan year (default 0)")
    est.add_argument(
        "--eligibility-271",
        metavar="FILE",
        help="the patient's eligibility response (X12 271), or - for standard input: its benefit figures for "
        "this setting and network fill the benefit options not given",
    )
    est.add_argument(
        "--eligibility-patient",
        metavar="WHO",
        help="which patient of the 271 when it answers for several: member ID or name, e.g. 'Jane Doe'",
    )

    ben = sub.add_parser(
        "benefits", help="read a patient's eligibility response (X12 271) and print its benefits as JSON"
    )
    ben.add_argument("file", help="the 271 file, or - for standard input")
    ben.add_argument(
        "--setting", default="office", choices=SETTINGS, help="whose service types are read (default office)"
    )
    ben.add_argument("--patient", metavar="WHO", help="when the 271 answers for several: member ID or name")

    bat = sub.add_parser("batch", help="estimate every row of a CSV file")
    schedules_option(bat)
    bat.add_argument("input", help="input CSV, or - for standard input")
    bat.add_argument("-o", "--output", required=True, help="output CSV, or - for standard output")
    bat.add_argument(
        "--chunk-rows", type=_positive, default=DEFAULT_CHUNK_ROWS, help="rows estimated at a time (at least 1)"
    )
    bat.add_argument(
        "--engine",
        choices=("pandas", "dask"),
        default="pandas",
        help="pandas: stream on this machine (default); dask: partitions on a Dask cluster",
    )
    bat.add_argument(
        "--scheduler", metavar="ADDRESS", help="with --engine dask: a running Dask scheduler (default: a local cluster)"
    )
    bat.add_argument(
        "--jobs",
        type=_positive,
        default=None,
        help="worker processes that estimate CSV chunks while this one reads and writes (default: the "
        "cores this process may use; 1: no workers)",
    )
    bat.add_argument("-q", "--quiet", action="store_true", help="no progress on standard error")
    bat.add_argument("--summary", metavar="FILE", help="also write the summary (counts) as JSON to FILE")

    srv = sub.add_parser("serve", help="start the web service (gunicorn) on a fee-schedule directory")
    srv.add_argument("--fee-schedules", metavar="DIR", help="fee-schedule directory (default: the shipped one)")
    srv.add_argument("--bind", default=None, help="address to listen on (default 127.0.0.1:8000)")
    srv.add_argument("--workers", type=_positive, default=None, help="worker processes (default: cores + 1)")

    imp = sub.add_parser("import", help="import published prices into a fee-schedule directory")
    kinds = imp.add_subparsers(dest="kind", required=True)
    tic = kinds.add_parser("tic", help="a payer's Transparency in Coverage in-network rates file (JSON or .json.gz)")
    tic.add_argument("file", help="the in-network rates file")
    tic.add_argument("--payer-id", required=True, help="our payer these rates belong to (in payers.csv)")
    tic.add_argument("--npi", action="append", default=[], metavar="NPI", help="keep these providers only (repeat)")
    tic.add_argument("--tin", action="append", default=[], metavar="TIN", help="keep these providers only (repeat)")
    hos = kinds.add_parser("hospital", help="a hospital's standard charges file (CMS template: CSV tall or wide, JSON)")
    hos.add_argument("file", help="the standard charges file")
    hos.add_argument("--payer-map", required=True, metavar="MAP.csv", help="payer_name, plan_name, payer_id")
    for p in (tic, hos):
        p.add_argument(
            "--effective-from",
            type=_date,
            metavar="YYYY-MM-DD",
            help="the rows' first day (default: the file's last_updated_on)",
        )
        where = p.add_mutually_exclusive_group(required=True)
        where.add_argument("--region-id", help="the region the prices apply to (in regions.csv)")
        where.add_argument("--zip", help="or a ZIP code of that region")
        p.add_argument("--into", required=True, metavar="DIR", help="the fee-schedule directory to import into")
        p.add_argument("--dry-run", action="store_true", help="print the report and change nothing")
        p.add_argument("--report", metavar="FILE", help="also write the report as JSON to FILE")

    db = sub.add_parser("db", help="the records database: schema migrations and retention")
    dbs = db.add_subparsers(dest="action", required=True)
    dbs.add_parser("upgrade", help="create or update the schema ($ESTIMATOR_DATABASE_URL, else a SQLite file)")
    purge = dbs.add_parser("purge", help="delete saved estimates created before a date (at least 6 years ago)")
    purge.add_argument("--before", type=_date, required=True, metavar="YYYY-MM-DD")
    users = sub.add_parser("users", help="staff accounts")
    us = users.add_subparsers(dest="action", required=True)
    add = us.add_parser("add", help="add a staff user; the password is read from standard input")
    add.add_argument("email")
    add.add_argument("--admin", action="store_true")
    us.add_parser("list", help="list the staff users")
    off = us.add_parser("disable", help="disable a staff user (their sessions and tokens stop working)")
    off.add_argument("email")
    on = us.add_parser("enable", help="enable a disabled staff user again")
    on.add_argument("email")
    pw = us.add_parser("password", help="set a staff user's password, read from standard input (their sessions end)")
    pw.add_argument("email")
    tokens = sub.add_parser("tokens", help="API tokens of staff users")
    ts = tokens.add_subparsers(dest="action", required=True)
    make = ts.add_parser("create", help="print a new API token for the user (its only line)")
    make.add_argument("email")
    make.add_argument(
        "--expires",
        metavar="DURATION",
        help="the token stops working after this long: days, weeks, months or years, e.g. 90d, 12w, 6m, 1y "
        "(default: until revoked)",
    )
    listing = ts.add_parser("list", help="list the tokens (number, user, created, expires, state); never the tokens")
    listing.add_argument("email", nargs="?", help="only this user's tokens")
    revoke = ts.add_parser("revoke", help="revoke a token by its number (from tokens list) or by the token itself")
    revoke.add_argument("token_id")
    audit = sub.add_parser("audit", help="who created, read, printed, exported or superseded a record, and when")
    audit.add_argument("--record", required=True, help="the record's id or number (GFE-YYYY-NNNNNN)")

    chk = sub.add_parser(
        "check-schedules",
        help="validate a fee-schedule directory and list every problem, and the payers whose rates end soon",
    )
    chk.add_argument("directory", nargs="?", help="directory (default: $ESTIMATOR_FEE_SCHEDULES, else the shipped one)")
    chk.add_argument(
        "--today",
        type=_date,
        metavar="YYYY-MM-DD",
        help=f"the day rates ending within {RATES_ENDING_DAYS} days are counted from (default: today)",
    )
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        if args.command == "check-schedules":
            return _check(args.directory, args.today or dt.date.today())
        if args.command == "serve":
            return _serve(args)
        if args.command == "import":
            return _import(args)
        if args.command == "benefits":
            return _benefits(args)
        if args.command in ("db", "users", "tokens", "audit"):
            return _records(args)
        schedules = load_schedules(args.fee_schedules)
        if args.command == "estimate":
            return _estimate(args, schedules)
        return _batch(args, schedules)
    except ScheduleError as exc:
        print(f"Fee schedules refused:\n{exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # Ctrl-C: no traceback
        print("Interrupted.", file=sys.stderr)
        return 130


def _records(args):
    """The records commands: database, users, tokens, audit."""
    from ..records import db
    from ..records import service as records
    from ..records.accounts import (
        AccountError,
        add_user,
        create_token,
        disable_user,
        enable_user,
        expiry,
        list_tokens,
        revoke_token,
        set_password,
    )
    from ..records.models import SavedEstimate, User, as_utc

    if args.command == "db" and args.action == "upgrade":
        db.upgrade()
        print("The records database is up to date.", file=sys.stderr)
        return 0
    session = db.make_sessions(db.make_engine())()
    try:
        if args.command == "db":
            count = records.purge(session, args.before)
            print(f"Deleted {count:,} saved estimates created before {args.before}.", file=sys.stderr)
        elif args.command == "users" and args.action == "add":
            password = sys.stdin.readline().rstrip("\n")
            user = add_user(session, args.email, password, args.admin)
            print(f"Added {user.email}{' (admin)' if user.is_admin else ''}.", file=sys.stderr)
        elif args.command == "users" and args.action == "list":
            from sqlalchemy import select

            for user in session.scalars(select(User).order_by(User.id)):
                state = "active" if user.is_active else "disabled"
                print(f"{user.email}\t{'admin' if user.is_admin else 'staff'}\t{state}")
        elif args.command == "users" and args.action == "disable":
            disable_user(session, args.email)
            print(f"Disabled {args.email}.", file=sys.stderr)
        elif args.command == "users" and args.action == "enable":
            enable_user(session, args.email)
            print(f"Enabled {args.email}.", file=sys.stderr)
        elif args.command == "users":
            set_password(session, args.email, sys.stdin.readline().rstrip("\n"))
            print(f"Set the password of {args.email}; their sessions have ended.", file=sys.stderr)
        elif args.command == "tokens" and args.action == "create":
            print(create_token(session, args.email, expiry(args.expires) if args.expires else None))
        elif args.command == "tokens" and args.action == "list":
            for token, state in list_tokens(session, args.email):
                expires = as_utc(token.expires_at).date().isoformat() if token.expires_at else "never"
                print(f"{token.id}\t{token.user.email}\t{as_utc(token.created_at).date()}\texpires {expires}\t{state}")
        elif args.command == "tokens":
            token = revoke_token(session, args.token_id)
            print(f"Revoked token {token.id}.", file=sys.stderr)
        else:
            from sqlalchemy import select

            key = args.record.strip()
            record_id = (
                int(key)
                if key.isdigit()
                else session.scalar(select(SavedEstimate.id).where(SavedEstimate.number == key.upper()))
            )
            if record_id is None:
                raise records.RecordError(f"no saved estimate {key}")
            for event in records.audit_trail(session, record_id):
                who = event.user.email if event.user else "-"
                print(f"{event.at.isoformat(timespec='seconds')}\t{event.action}\t{who}\t{event.via}")
    except (AccountError, records.RecordError, ValueError) as exc:
        print(str(exc), file=sys.stderr)
        return 2
    except Exception as exc:  # the database is missing, unreachable, or its schema is behind
        from sqlalchemy.exc import SQLAlchemyError

        if not isinstance(exc, SQLAlchemyError):
            raise
        print(
            f"The records database cannot be used ({type(exc).__name__}): run python -m estimator db upgrade, "
            "and check ESTIMATOR_DATABASE_URL.",
            file=sys.stderr,
        )
        return 2
    finally:
        session.close()
        session.bind.dispose()
    return 0


def _import(args):
    """Import a published price file; the report on standard error (and as JSON with --report)."""
    from ..importers.rows import ImportFailed

    problem = writable_problem(args.report)
    if problem:
        print(f"--report {args.report}: {problem}; nothing was imported", file=sys.stderr)
        return 2
    start = args.effective_from and args.effective_from.isoformat()
    try:
        if args.kind == "tic":
            from ..importers.tic import import_tic

            report = import_tic(
                args.file,
                args.into,
                args.payer_id,
                args.region_id,
                args.zip,
                args.npi,
                args.tin,
                start,
                args.dry_run,
            )
        else:
            from ..importers.hospital import import_hospital

            report = import_hospital(
                args.file, args.into, args.payer_map, args.region_id, args.zip, args.dry_run, effective_from=start
            )
    except ImportFailed as exc:
        print(f"{args.file}: {exc}", file=sys.stderr)
        return 2
    print(report.describe(), file=sys.stderr)
    if args.report:
        from ..core.outputs import OutputError, OutputFile

        try:
            with OutputFile(args.report) as out:
                out.write(json.dumps(report.as_dict(), indent=2).encode("utf-8"))
        except OutputError as exc:
            print(f"--report: could not write {exc} (the import itself is done)", file=sys.stderr)
            return 1
    return 0


def _serve(args):
    """Replace this process with gunicorn serving ``wsgi:app`` with the project's settings."""
    import os
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    env = dict(os.environ)
    if args.fee_schedules:
        env["ESTIMATOR_FEE_SCHEDULES"] = str(Path(args.fee_schedules).resolve())
    command = [sys.executable, "-m", "gunicorn", "--config", str(root / "gunicorn.conf.py"), "--chdir", str(root)]
    if args.bind:
        command += ["--bind", args.bind]
    if args.workers:
        command += ["--workers", str(args.workers)]
    os.execve(sys.executable, [*command, "wsgi:app"], env)


def _check(directory, today):
    try:
        schedules = load_schedules(directory)
    except ScheduleError as exc:
        for problem in exc.problems:
            print(problem)
        print(f"{len(exc.problems)} problem(s) found.", file=sys.stderr)
        return 1
    first, last = schedules.coverage()
    dates = f"rates from {first} to {last or 'open'}" if first else "no rates: every code is priced on its baseline"
    print(
        f"{schedules.directory}: OK. {len(schedules.keys['cpt_code']):,} procedure codes "
        f"({len(schedules.procedures) - len(schedules.keys['cpt_code']):,} component rows, 26 or TC), "
        f"{len(schedules.payers)} payers, "
        f"{len(schedules.rates)} rate rows, {len(schedules.regions)} regions, {len(schedules.zip_regions)} ZIP "
        f"prefixes, {len(schedules.prior_auth)} prior-authorization rules; {dates}."
    )
    for payer in schedules.rates_ending(today):
        print(ending_notice(payer))
    return 0


def ending_notice(payer):
    """A payer whose latest rates end soon (or have ended), in words."""
    days = payer["days_left"]
    when = f"in {days} day{'s' if days != 1 else ''}" if days >= 0 else f"{-days} day{'s' if days != -1 else ''} ago"
    return (
        f"Rates ending: {payer['name']} ({payer['payer_id']}): its latest rates end {payer['effective_to']} "
        f"({when}); estimates after that day carry them forward, with a warning, until newer rates are loaded."
    )


def _read_271(path):
    """A 271 file's text (``-``: standard input); ``None`` with a message when it cannot be read."""
    try:
        if path == "-":
            data = sys.stdin.buffer.read(eligibility.MAX_CHARACTERS + 1)
        else:
            with open(path, "rb") as f:
                data = f.read(eligibility.MAX_CHARACTERS + 1)
    except OSError as exc:
        print(f"Cannot read {path}: {exc.strerror or exc}.", file=sys.stderr)
        return None
    if len(data) > eligibility.MAX_CHARACTERS:
        print(eligibility.TOO_LONG, file=sys.stderr)
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        print(f"{path} is not an X12 file: it is not text.", file=sys.stderr)
        return None


def _benefits(args):
    data = _read_271(args.file)
    if data is None:
        return 2
    try:
        answer = eligibility.benefits_answer(data, args.patient, args.setting)
    except RequestError as exc:
        print(json.dumps({"errors": exc.messages}, indent=2), file=sys.stderr)
        return 2
    print(json.dumps(answer, indent=2))
    return 0


def _estimate(args, schedules):
    fields = {f: getattr(args, f) for f in REQUEST_FIELDS if getattr(args, f, None) is not None}
    if args.eligibility_271 is not None:
        fields[eligibility.X12_FIELD] = _read_271(args.eligibility_271)
        if fields[eligibility.X12_FIELD] is None:
            return 2
        if args.eligibility_patient is not None:
            fields[eligibility.PATIENT_FIELD] = args.eligibility_patient
    try:
        answer = eligibility.estimate_one(fields, schedules, args.today)
    except RequestError as exc:
        print(json.dumps({"errors": exc.messages}, indent=2), file=sys.stderr)
        return 2
    print(json.dumps(answer, indent=2))
    return 0


def _usable_cores():
    """The cores this process may run on (all of the machine's where the system cannot say)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _batch(args, schedules):
    if args.engine == "dask":
        from ..batch.cluster import estimate_with_dask

        if args.input == "-" or args.output == "-":
            print("--engine dask reads and writes files, not standard input or output", file=sys.stderr)
            return 2
        try:
            estimate_with_dask(args.input, args.output, schedules, args.today, args.scheduler)
        except (InputFileError, OSError, ValueError) as exc:
            print(f"{args.input}: {exc}", file=sys.stderr)
            return 2
        if not args.quiet:
            print(f"Done: estimates written to {args.output}.", file=sys.stderr)
        return 0
    from concurrent.futures.process import BrokenProcessPool

    from ..batch.files import estimate_file, is_parquet
    from ..core.outputs import OutputError, OutputFile

    if (is_parquet(args.input) or is_parquet(args.output)) and "-" in (args.input, args.output):
        print("Parquet is read and written as files, not standard input or output", file=sys.stderr)
        return 2
    problem = writable_problem(args.summary)  # before the work, not after it
    if problem:
        print(f"--summary {args.summary}: {problem}", file=sys.stderr)
        return 2
    progress = None if args.quiet else StderrProgress()
    try:
        with stopped_by_sigterm():
            jobs = args.jobs or _usable_cores()
            summary = estimate_file(args.input, args.output, schedules, args.today, args.chunk_rows, progress, jobs)
    except OutputError as exc:
        print(f"{exc} (nothing was written to it)", file=sys.stderr)
        return 2
    except InputFileError as exc:
        print(f"{args.input}: {exc}", file=sys.stderr)
        return 2
    except BrokenProcessPool:
        print(
            f"{args.input}: a worker process stopped (out of memory?); {_not_written(args.output)} Try fewer "
            "--jobs or --chunk-rows.",
            file=sys.stderr,
        )
        return 1
    except OSError as exc:
        print(f"{exc.filename or args.input}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:  # Ctrl-C or SIGTERM: the workers are stopped already; no traceback
        name = "Stopped (SIGTERM)" if isinstance(exc, Terminated) else "Interrupted"
        print(f"{name}: {_not_written(args.output)}", file=sys.stderr)
        return 143 if isinstance(exc, Terminated) else 130
    finally:
        if progress:
            progress.close()
    if args.summary:
        try:
            with OutputFile(args.summary) as handle:
                handle.write(json.dumps(summary, indent=2).encode())
        except OutputError as exc:
            print(f"--summary {exc}", file=sys.stderr)
            return 2
    if not args.quiet:
        print(describe_summary(summary), file=sys.stderr)
    return 0


def _not_written(output):
    if output == "-":
        return "the output stream is incomplete (its last lines are missing)."
    return f"the estimates were not written ({output} is as it was)."


class Terminated(KeyboardInterrupt):
    """SIGTERM, handled as Ctrl-C is: the work stops, the workers are stopped, nothing partial is left."""


@contextlib.contextmanager
def stopped_by_sigterm():
    """While inside, SIGTERM raises :class:`Terminated` (in the main thread, as Ctrl-C raises its own)."""

    def stop(signum, frame):
        raise Terminated()

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def writable_problem(path):
    """Why ``path`` could not be written as a file (``None``: it can), checked before any work is done."""
    if not path or path == "-":
        return None
    path = os.path.realpath(path)
    if os.path.isdir(path):
        return "is a folder, not a file"
    folder = os.path.dirname(path) or "."
    if not os.path.isdir(folder):
        return f"{folder} is not a folder" if os.path.exists(folder) else f"the folder {folder} does not exist"
    if not os.access(folder, os.W_OK | os.X_OK) or (os.path.exists(path) and not os.access(path, os.W_OK)):
        return "cannot be written (permission denied)"
    return None


def describe_summary(summary):
    """The batch summary in a few plain lines."""
    lines = [
        f"Done: {summary['rows']:,} rows, {summary['estimated']:,} estimated, {summary['failed']:,} with errors, "
        f"{summary['fallbacks']:,} priced on the national baseline range."
    ]
    if summary["prior_auth"]:
        counts = ", ".join(f"{status.replace('_', ' ')} {n:,}" for status, n in sorted(summary["prior_auth"].items()))
        lines.append(f"Prior authorization: {counts}.")
    for message, n in list(summary["errors"].items())[:10]:
        lines.append(f"  {n:,} x {message}")
    return "\n".join(lines)
