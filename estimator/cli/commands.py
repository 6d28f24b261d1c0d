"""Command line: ``python -m estimator estimate | benefits | batch | check-schedules | ...``."""

import argparse
import contextlib
import datetime as dt
import json
import os
import re
import signal
import sys

from ..batch.stream import DEFAULT_CHUNK_ROWS, StderrProgress, rows_words
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


#: What a batch file holds, for ``batch --help``.
BATCH_COLUMNS_HELP = """\
The input CSV has a header; its columns are the request fields: cpt_code and payer_id are required, and
region_id, zip, setting, network, modifiers, units, date_of_service, deductible, coinsurance, copay,
oop_max, deductible_met, oop_met may be given (a blank cell takes the default). An encounter_id column
groups adjacent rows with the same id into one visit (up to 20 lines, sharing every field but cpt_code,
modifiers and units): the multiple-procedure reduction and the benefits apply across the visit. Other
columns (a claim id, say) pass through. Example:

  claim_id,encounter_id,cpt_code,modifiers,payer_id,zip,date_of_service
  A-1,V1,64483,RT,medicare,10001,2025-05-01
  A-2,V1,64484,RT,medicare,10001,2025-05-01
  A-3,,20971,50,self_pay,30303,2025-05-01

Each row comes back once, in order, with allowed_low/expected/high, patient_low/expected/high,
payer_expected, balance_billing_expected, prior_auth, warnings and error added (and, with encounter_id,
reduction_factor and the visit's totals)."""


def _line(text):
    """A ``--line`` value: ``CODE[:MODIFIER,MODIFIER...][xUNITS]`` as a line of a visit."""
    match = re.fullmatch(r"\s*([^:\s]+?)(?::([^x]*))?(?:x(\d+))?\s*", text)
    if not match:
        raise argparse.ArgumentTypeError(f"not a line CODE[:MODIFIERS][xUNITS], e.g. 64484:RT or 99213x1: {text!r}")
    code, modifiers, units = match.groups()
    line = {"cpt_code": code}
    if modifiers:
        line["modifiers"] = [m for m in re.split(r"[\s,;]+", modifiers) if m]
    if units:
        line["units"] = units
    return line


def build_parser():
    parser = argparse.ArgumentParser(
        prog="estimator",
        description="Estimate what a procedure costs the patient, and whether the insurer must approve it first. "
        "Run as `estimator COMMAND` once the package is installed, or `python -m estimator COMMAND` in a checkout.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def schedules_option(p):
        p.add_argument(
            "--fee-schedules",
            metavar="DIR",
            help="fee-schedule directory to use, e.g. ~/clinic_schedules (default: $ESTIMATOR_FEE_SCHEDULES, else the "
            "shipped one)",
        )
        p.add_argument(
            "--today",
            type=_date,
            metavar="YYYY-MM-DD",
            help="the date of service of requests that give none, e.g. 2025-05-01 (default: today)",
        )

    def money(p, name, what, default="the payer's"):
        p.add_argument(
            "--" + name.replace("_", "-"), metavar="DOLLARS", help=f"{what}, in dollars, e.g. 1500 (default: {default})"
        )

    est = sub.add_parser(
        "estimate",
        help="estimate a procedure, or a visit of several lines, and print the JSON answer",
        description="Estimate one procedure line (--cpt-code) or a visit of several lines (--line, once per line) "
        "and print the JSON answer, as POST /api/v1/estimates and POST /api/v1/encounters give it.",
        epilog="examples:\n  estimator estimate --cpt-code 64483 --payer-id medicare --zip 10001\n"
        "  estimator estimate --line 64483:RT --line 64484:RT --payer-id example_ppo --zip 10001 --deductible-met 500",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    schedules_option(est)
    what = est.add_mutually_exclusive_group(required=True)
    what.add_argument(
        "--cpt-code",
        action="append",
        metavar="CODE",
        help="the procedure code of a single line, e.g. 64483 (see `estimator procedures`); for a visit, use --line",
    )
    what.add_argument(
        "--line",
        action="append",
        type=_line,
        metavar="CODE[:MODIFIERS][xUNITS]",
        help="one line of a visit, repeated for each, e.g. --line 64483:RT --line 64484:RT,XS --line 99213:25x1 "
        "(modifiers after ':', separated by commas; units after 'x', default 1)",
    )
    est.add_argument(
        "--payer-id",
        required=True,
        metavar="PAYER",
        help="the payer, e.g. medicare, example_ppo or self_pay (see `estimator payers`)",
    )
    est.add_argument("--region-id", metavar="REGION", help="the region, e.g. ny-01 (or give --zip; default national)")
    est.add_argument("--zip", metavar="ZIP", help="ZIP code where it is done, 5 digits or ZIP+4, e.g. 10001")
    est.add_argument(
        "--setting", metavar="SETTING", help=f"where it is done: {', '.join(SETTINGS)}, e.g. asc (default office)"
    )
    est.add_argument(
        "--network",
        metavar="NETWORK",
        help=f"in or out of the payer's network: {' or '.join(NETWORKS)}, e.g. out (default in)",
    )
    est.add_argument(
        "--modifiers",
        metavar="MODIFIERS",
        help="a single line's modifiers, separated by spaces or commas, e.g. '26 RT': 50, RT, LT (sides), 26, TC "
        "(components); 25, 51, 59, 76, 77, 79, XE, XP, XS, XU accepted, changing no figure",
    )
    est.add_argument("--units", metavar="N", help="a single line's units, a whole number 1 to 99, e.g. 2 (default 1)")
    est.add_argument(
        "--date-of-service", metavar="YYYY-MM-DD", help="the day it is done, e.g. 2025-05-01 (default today)"
    )
    money(est, "deductible", "the plan's yearly deductible")
    est.add_argument(
        "--coinsurance",
        metavar="SHARE",
        help="the patient's share after the deductible, a percent with its sign or a fraction, e.g. 20%% or 0.2 "
        "(default: the payer's)",
    )
    money(est, "copay", "the copay per service")
    money(est, "oop_max", "the plan's yearly out-of-pocket maximum")
    money(est, "deductible_met", "deductible already paid this plan year", "0")
    money(est, "oop_met", "out-of-pocket spending so far this plan year", "0")
    est.add_argument(
        "--eligibility-271",
        metavar="FILE",
        help="the patient's eligibility response (X12 271) file, or - for standard input, e.g. response.271: its "
        "benefit figures for this setting and network fill the benefit options not given",
    )
    est.add_argument(
        "--eligibility-patient",
        metavar="WHO",
        help="which patient of the 271 when it answers for several: member ID or name, e.g. 'Jane Doe'",
    )

    ben = sub.add_parser(
        "benefits",
        help="read a patient's eligibility response (X12 271) and print its benefits as JSON",
        description="Read an eligibility response (X12 271) and print, as POST /api/v1/benefits does, the payer, "
        "the patient, whether coverage is active, and per network the benefit figures with their segments.",
    )
    ben.add_argument("file", metavar="FILE", help="the 271 file, or - for standard input, e.g. response.271")
    ben.add_argument(
        "--setting",
        default="office",
        choices=SETTINGS,
        help="whose service types are read: office (98, 1, 30), asc (2, 1, 30), hospital_outpatient (50, 2, 1, 30); "
        "default office",
    )
    ben.add_argument(
        "--patient", metavar="WHO", help="when the 271 answers for several: member ID or name, e.g. W123456789"
    )

    pay = sub.add_parser(
        "payers",
        help="list the payers of the fee schedules: id, kind, name and default benefits",
        description="List the payers of the fee schedules, one per line: payer id (what --payer-id takes), kind, "
        "name, and the default benefits used when a request gives none.",
    )
    schedules_option(pay)
    pro = sub.add_parser(
        "procedures",
        help="find procedure codes by number or words and list them with their descriptions",
        description="List the procedure codes that match a code's start or words of its description (in any "
        "order), one per line: code, description, national range.",
    )
    schedules_option(pro)
    pro.add_argument("query", metavar="QUERY", nargs="*", help="a code or its start, or words, e.g. 6448 or lumbar mri")
    pro.add_argument(
        "--limit", type=_positive, default=50, metavar="N", help="at most this many codes, e.g. 200 (default 50)"
    )

    bat = sub.add_parser(
        "batch",
        help="estimate every row of a CSV (or Parquet) file",
        description="Estimate every row of a CSV or Parquet file of requests, streamed in chunks.",
        epilog=BATCH_COLUMNS_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    schedules_option(bat)
    bat.add_argument(
        "input", metavar="INPUT", help="input CSV or Parquet file, or - for standard input, e.g. claims.csv"
    )
    bat.add_argument(
        "-o",
        "--output",
        required=True,
        metavar="OUTPUT",
        help="output CSV or Parquet file, or - for standard output, e.g. estimates.csv",
    )
    bat.add_argument(
        "--chunk-rows",
        type=_positive,
        default=DEFAULT_CHUNK_ROWS,
        metavar="N",
        help=f"rows estimated at a time, at least 1, e.g. 10000 (default {DEFAULT_CHUNK_ROWS:,})",
    )
    bat.add_argument(
        "--engine",
        choices=("pandas", "dask"),
        default="pandas",
        help="pandas: stream on this machine (default); dask: partitions on a Dask cluster",
    )
    bat.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="with --engine dask: a running Dask scheduler, e.g. tcp://10.0.0.5:8786 (default: a local cluster)",
    )
    bat.add_argument(
        "--jobs",
        type=_positive,
        default=None,
        metavar="N",
        help="worker processes that estimate chunks while this one reads and writes, e.g. 4 (default: the "
        "cores this process may use; 1: no workers)",
    )
    bat.add_argument("-q", "--quiet", action="store_true", help="print no progress on standard error")
    bat.add_argument(
        "--summary",
        metavar="FILE",
        help="also write the summary (rows read, estimated, failed, ...) as JSON to FILE, e.g. summary.json",
    )

    srv = sub.add_parser(
        "serve",
        help="start the web service (gunicorn) on a fee-schedule directory",
        description="Start the web service: the form, the API and the records. Needs ESTIMATOR_SECRET_KEY (at "
        "least 32 random characters) in the environment.",
        epilog="example:\n  ESTIMATOR_SECRET_KEY=$(python3 -c 'import secrets; print(secrets.token_hex(32))') "
        "estimator serve --bind 0.0.0.0:8000",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    srv.add_argument(
        "--fee-schedules",
        metavar="DIR",
        help="fee-schedule directory, e.g. ~/clinic_schedules (default: $ESTIMATOR_FEE_SCHEDULES, else the "
        "shipped one)",
    )
    srv.add_argument(
        "--bind",
        default=None,
        metavar="HOST:PORT",
        help="address to listen on, e.g. 0.0.0.0:8080 (default 127.0.0.1:8000)",
    )
    srv.add_argument(
        "--workers", type=_positive, default=None, metavar="N", help="worker processes, e.g. 4 (default: cores + 1)"
    )

    imp = sub.add_parser("import", help="import published prices into a fee-schedule directory")
    kinds = imp.add_subparsers(dest="kind", required=True, metavar="KIND")
    tic = kinds.add_parser("tic", help="a payer's Transparency in Coverage in-network rates file (JSON or .json.gz)")
    tic.add_argument("file", metavar="FILE", help="the in-network rates file, e.g. in-network-rates.json.gz")
    tic.add_argument(
        "--payer-id", required=True, metavar="PAYER", help="our payer these rates belong to (in payers.csv), e.g. aetna"
    )
    tic.add_argument(
        "--npi", action="append", default=[], metavar="NPI", help="keep this provider only, repeatable, e.g. 1234567893"
    )
    tic.add_argument(
        "--tin", action="append", default=[], metavar="TIN", help="keep this provider only, repeatable, e.g. 12-3456789"
    )
    hos = kinds.add_parser("hospital", help="a hospital's standard charges file (CMS template: CSV tall or wide, JSON)")
    hos.add_argument("file", metavar="FILE", help="the standard charges file, e.g. 12-3456789_standardcharges.csv")
    hos.add_argument(
        "--payer-map",
        required=True,
        metavar="MAP.csv",
        help="a CSV with columns payer_name, plan_name, payer_id mapping the file's payers to ours, e.g. payer_map.csv",
    )
    for p in (tic, hos):
        p.add_argument(
            "--effective-from",
            type=_date,
            metavar="YYYY-MM-DD",
            help="the rows' first day, e.g. 2026-01-01 (default: the file's last_updated_on)",
        )
        where = p.add_mutually_exclusive_group(required=True)
        where.add_argument(
            "--region-id", metavar="REGION", help="the region the prices apply to (in regions.csv), e.g. ny-01"
        )
        where.add_argument("--zip", metavar="ZIP", help="or a ZIP code of that region, e.g. 10001")
        p.add_argument(
            "--into", required=True, metavar="DIR", help="the fee-schedule directory to import into, e.g. ~/schedules"
        )
        p.add_argument("--dry-run", action="store_true", help="print the report and change nothing")
        p.add_argument("--report", metavar="FILE", help="also write the report as JSON to FILE, e.g. report.json")

    db = sub.add_parser("db", help="the records database: schema migrations and retention")
    dbs = db.add_subparsers(dest="action", required=True, metavar="ACTION")
    dbs.add_parser(
        "upgrade",
        help="create the records database or bring its schema up to date ($ESTIMATOR_DATABASE_URL, else a SQLite file)",
    )
    purge = dbs.add_parser("purge", help="delete saved estimates created before a date (at least 6 years ago)")
    purge.add_argument(
        "--before",
        type=_date,
        required=True,
        metavar="YYYY-MM-DD",
        help="delete records created before this day, at least 6 years ago, e.g. 2019-01-01",
    )
    users = sub.add_parser("users", help="staff accounts: add, list, disable, enable, set a password")
    us = users.add_subparsers(dest="action", required=True, metavar="ACTION")
    add = us.add_parser(
        "add",
        help="add a staff user; the password is asked for (without echo) at a terminal, else read from standard input",
    )
    add.add_argument("email", metavar="EMAIL", help="the user's email address, e.g. frontdesk@clinic.example")
    add.add_argument("--admin", action="store_true", help="may also manage users and tokens on the admin pages")
    us.add_parser("list", help="list the staff users")
    off = us.add_parser("disable", help="disable a staff user (their sessions and tokens stop working)")
    off.add_argument("email", metavar="EMAIL", help="the user's email address, e.g. frontdesk@clinic.example")
    on = us.add_parser("enable", help="enable a disabled staff user again")
    on.add_argument("email", metavar="EMAIL", help="the user's email address, e.g. frontdesk@clinic.example")
    pw = us.add_parser(
        "password",
        help="set a staff user's password, asked for at a terminal, else read from standard input (their sessions end)",
    )
    pw.add_argument("email", metavar="EMAIL", help="the user's email address, e.g. frontdesk@clinic.example")
    tokens = sub.add_parser("tokens", help="API tokens of staff users: create, list, revoke")
    ts = tokens.add_subparsers(dest="action", required=True, metavar="ACTION")
    make = ts.add_parser("create", help="print a new API token for the user (its only line)")
    make.add_argument("email", metavar="EMAIL", help="the user's email address, e.g. frontdesk@clinic.example")
    make.add_argument(
        "--expires",
        metavar="DURATION",
        help="the token stops working after this long: days, weeks, months or years, e.g. 90d, 12w, 6m, 1y "
        "(default: until revoked)",
    )
    listing = ts.add_parser("list", help="list the tokens (number, user, created, expires, state); never the tokens")
    listing.add_argument(
        "email", nargs="?", metavar="EMAIL", help="only this user's tokens, e.g. frontdesk@clinic.example"
    )
    revoke = ts.add_parser("revoke", help="revoke a token by its number (from tokens list) or by the token itself")
    revoke.add_argument("token_id", metavar="TOKEN", help="the token's number from `tokens list`, e.g. 3, or the token")
    audit = sub.add_parser("audit", help="who created, read, printed, exported or superseded a record, and when")
    audit.add_argument(
        "--record", required=True, metavar="RECORD", help="the record's id or number, e.g. 12 or GFE-2026-000012"
    )

    chk = sub.add_parser(
        "check-schedules",
        help="validate a fee-schedule directory and list every problem, and the payers whose rates end soon",
    )
    chk.add_argument(
        "directory",
        nargs="?",
        metavar="DIR",
        help="the directory, e.g. ~/clinic_schedules (default: $ESTIMATOR_FEE_SCHEDULES, else the shipped one)",
    )
    chk.add_argument(
        "--today",
        type=_date,
        metavar="YYYY-MM-DD",
        help=f"the day rates ending within {RATES_ENDING_DAYS} days are counted from, e.g. 2025-12-01 (default: today)",
    )
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return _run(parser, args)
    except ScheduleError as exc:
        print(f"Fee schedules refused:\n{exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # Ctrl-C: no traceback
        print("Interrupted.", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (`estimator ... | head`): end quietly, as other tools do, with SIGPIPE's status.
        # Standard output is pointed at /dev/null so that the flush at exit cannot fail again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 128 + signal.SIGPIPE


def _run(parser, args):
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
        return _estimate(parser, args, schedules)
    if args.command == "payers":
        return _payers(schedules)
    if args.command == "procedures":
        return _procedures(schedules, " ".join(args.query), args.limit)
    return _batch(args, schedules)


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
        before, after = db.upgrade()
        where = db.described()
        if before is None:
            print(f"Created the records database at {where} (schema {after}).", file=sys.stderr)
        elif before != after:
            print(f"Upgraded the records database at {where} from schema {before} to {after}.", file=sys.stderr)
        else:
            print(f"The records database at {where} is up to date (schema {after}).", file=sys.stderr)
        return 0
    session = db.make_sessions(db.make_engine())()
    try:
        if args.command == "db":
            count = records.purge(session, args.before)
            print(f"Deleted {count:,} saved estimates created before {args.before}.", file=sys.stderr)
        elif args.command == "users" and args.action == "add":
            password = _password(f"Password for {args.email}")
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
            set_password(session, args.email, _password(f"New password for {args.email}"))
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


def _password(prompt):
    """A password: asked for twice without echo at a terminal; else the first line of standard input (for
    scripts)."""
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\n")
    import getpass

    first = getpass.getpass(f"{prompt}: ")
    if getpass.getpass("The same again, to check: ") != first:
        raise ValueError("The two passwords differ: nothing was changed.")
    return first


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
    """Replace this process with gunicorn serving the package's app with the package's settings (from any
    folder: nothing of a checkout is needed)."""
    from pathlib import Path

    env = dict(os.environ)
    if args.fee_schedules:
        env["ESTIMATOR_FEE_SCHEDULES"] = str(Path(args.fee_schedules).resolve())
    command = [sys.executable, "-m", "gunicorn", "--config", "python:estimator.web.gunicorn_settings"]
    if args.bind:
        command += ["--bind", args.bind]
    if args.workers:
        command += ["--workers", str(args.workers)]
    os.execve(sys.executable, [*command, "estimator.web.wsgi:app"], env)


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


def _estimate(parser, args, schedules):
    """One line (``--cpt-code``), or a visit of several (``--line`` each): the answer of POST /api/v1/estimates
    or of POST /api/v1/encounters."""
    if args.cpt_code and len(args.cpt_code) > 1:
        parser.error("--cpt-code is given more than once: give each line of a visit as --line CODE[:MODIFIERS][xUNITS]")
    lines = args.line
    if lines and (args.modifiers is not None or args.units is not None):
        parser.error("with --line, give modifiers and units in each line, e.g. --line 64483:RT or --line 99213x1")
    names = [f for f in REQUEST_FIELDS if f != "cpt_code"]
    fields = {f: getattr(args, f) for f in names if getattr(args, f, None) is not None}
    if args.cpt_code:
        fields["cpt_code"] = args.cpt_code[0]
    if args.eligibility_271 is not None:
        fields[eligibility.X12_FIELD] = _read_271(args.eligibility_271)
        if fields[eligibility.X12_FIELD] is None:
            return 2
        if args.eligibility_patient is not None:
            fields[eligibility.PATIENT_FIELD] = args.eligibility_patient
    try:
        if lines and len(lines) > 1:
            answer = eligibility.estimate_encounter({**fields, "lines": lines}, schedules, args.today)
        else:
            answer = eligibility.estimate_one({**fields, **(lines[0] if lines else {})}, schedules, args.today)
    except RequestError as exc:
        print(json.dumps({"errors": exc.messages}, indent=2), file=sys.stderr)
        return 2
    print(json.dumps(answer, indent=2))
    return 0


def _payers(schedules):
    """Every payer: id, kind, name and the default benefits, tab-separated, under a header."""
    payers = schedules.payers
    print("payer_id\tkind\tname\tdefault deductible\tcoinsurance\tcopay\tout-of-pocket maximum")
    for row in payers.itertuples(index=False):
        oop = "none" if row.oop_max != row.oop_max else f"${row.oop_max:,.2f}"  # NaN: no maximum
        print(
            f"{row.payer_id}\t{row.kind}\t{row.name}\t${row.deductible:,.2f}\t{row.coinsurance * 100:g}%\t"
            f"${row.copay:,.2f}\t{oop}"
        )
    return 0


def _procedures(schedules, query, limit):
    """The codes matching ``query`` (a code's start or words), global rows only: code, description, range."""
    from ..core.catalog import find

    frame = schedules.procedures
    found = find(schedules, query)
    shown = 0
    print("cpt_code\tdescription\tnational range (low / typical / high)")
    for i in found:
        if shown == limit:
            print(f"({len(found):,} codes match: narrow the search, or give --limit)", file=sys.stderr)
            break
        low, typical, high = (frame[c].iat[i] for c in ("baseline_low", "baseline_typical", "baseline_high"))
        span = "none on file" if low != low else f"${low:,.0f} / ${typical:,.0f} / ${high:,.0f}"
        print(f"{frame['cpt_code'].iat[i]}\t{frame['description'].iat[i]}\t{span}")
        shown += 1
    if not shown:
        print(f"No procedure code matches {query!r}.", file=sys.stderr)
        return 1
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
        if isinstance(exc.__cause__, BrokenPipeError):  # `batch ... -o - | head`: the reader went away
            raise exc.__cause__ from None
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
        f"Done: {rows_words(summary['rows'], summary['estimated'], summary['failed'])}; "
        f"{summary['fallbacks']:,} priced on the national baseline range."
    ]
    if summary["prior_auth"]:
        counts = ", ".join(f"{status.replace('_', ' ')} {n:,}" for status, n in sorted(summary["prior_auth"].items()))
        lines.append(f"Prior authorization: {counts}.")
    for message, n in list(summary["errors"].items())[:10]:
        lines.append(f"  {n:,} x {message}")
    return "\n".join(lines)
