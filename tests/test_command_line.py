"""The command line as a newcomer meets it: every option explains itself, a visit of several lines, the
payers and procedures it takes, a closed pipe, a password typed at a terminal, what ``db upgrade`` did,
one vocabulary for a batch's rows, and the package installed and run from another folder."""

import argparse
import json
import os
import pty
import select
import signal
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest

from estimator.cli import build_parser

ROOT = Path(__file__).resolve().parent.parent


def cli(*args, env=None, cwd=None, stdin=None):
    return subprocess.run(
        [sys.executable, "-m", "estimator", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd or ROOT,
        input=stdin,
        timeout=300,
    )


def parsers(parser=None, path=("estimator",)):
    """Every parser of the command line with its path: the top one, each command's, each action's."""
    parser = parser or build_parser()
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                yield from parsers(child, (*path, name))


def test_every_command_and_option_says_what_it_takes_with_an_example():
    checked = 0
    for path, parser in parsers():
        for action in parser._actions:
            if isinstance(action, argparse._HelpAction):
                continue
            where = f"{' '.join(path)} {action.option_strings or action.dest}"
            if isinstance(action, argparse._SubParsersAction):
                for choice in action._choices_actions:
                    assert choice.help and len(choice.help) >= 15, (where, choice.dest)
                continue
            assert action.help and action.help != argparse.SUPPRESS, where
            assert len(action.help) >= 20 and action.help.strip() != action.dest, (where, action.help)
            takes_value = action.nargs != 0
            if takes_value:
                assert action.metavar or action.choices, (where, "names what it takes")
                assert "e.g." in action.help or action.choices, (where, "gives an example", action.help)
            checked += 1
    assert checked > 60


def test_money_options_name_their_unit_and_the_help_runs():
    out = cli("estimate", "--help")
    assert out.returncode == 0
    text = " ".join(out.stdout.split())
    for option in ("--deductible DOLLARS", "--copay DOLLARS", "--oop-max DOLLARS", "--deductible-met DOLLARS"):
        assert option in text
    assert "in dollars, e.g. 1500" in text and "e.g. 20% or 0.2" in text
    assert "--line CODE[:MODIFIERS][xUNITS]" in text and "see `estimator payers`" in text
    for path, _ in parsers():
        shown = cli(*path[1:], "--help")
        assert shown.returncode == 0 and "Traceback" not in shown.stderr, path


def test_batch_help_and_the_upload_page_explain_encounter_id(client):
    text = cli("batch", "--help").stdout
    assert "encounter_id" in text and "A-1,V1,64483,RT,medicare" in text
    assert "encounter_id" in client.get("/batch").get_data(as_text=True)


# A visit on the command line ---------------------------------------------------------------------------

VISIT = ["--payer-id", "example_ppo", "--zip", "10001", "--date-of-service", "2025-06-02", "--deductible-met", "500"]


def test_a_visit_of_several_lines_is_the_encounters_answer(client):
    out = cli("estimate", "--line", "64483:RT", "--line", "64484:RT,XS", "--line", "99213:25x1", *VISIT)
    assert out.returncode == 0, out.stderr
    body = {
        "payer_id": "example_ppo",
        "zip": "10001",
        "date_of_service": "2025-06-02",
        "deductible_met": 500,
        "lines": [
            {"cpt_code": "64483", "modifiers": ["RT"]},
            {"cpt_code": "64484", "modifiers": ["RT", "XS"]},
            {"cpt_code": "99213", "modifiers": ["25"], "units": 1},
        ],
    }
    assert json.loads(out.stdout) == client.post("/api/v1/encounters", json=body).get_json()


def test_one_line_given_as_line_is_the_single_answer(client):
    out = cli("estimate", "--line", "64493:50x2", *VISIT)
    single = {"cpt_code": "64493", "modifiers": ["50"], "units": 2, "payer_id": "example_ppo", "zip": "10001"}
    single.update(date_of_service="2025-06-02", deductible_met=500)
    assert json.loads(out.stdout) == client.post("/api/v1/estimates", json=single).get_json()


@pytest.mark.parametrize(
    "args, message",
    [
        (["--cpt-code", "64483", "--cpt-code", "64484"], "--cpt-code is given more than once"),
        (["--line", "64483", "--units", "2"], "give modifiers and units in each line"),
        (["--line", "64483:RTx"], "not a line CODE[:MODIFIERS][xUNITS]"),
        (["--cpt-code", "64483", "--line", "64484"], "not allowed with argument"),
        ([], "one of the arguments --cpt-code --line is required"),
    ],
)
def test_a_request_of_lines_given_wrong_says_how_to_give_it(args, message):
    out = cli("estimate", *args, "--payer-id", "medicare")
    assert out.returncode == 2 and message in out.stderr and "Traceback" not in out.stderr, out.stderr


def test_a_bad_line_of_a_visit_is_named():
    out = cli("estimate", "--line", "64483", "--line", "99999", "--payer-id", "medicare")
    assert out.returncode == 2
    assert json.loads(out.stderr)["errors"] == {"lines.1.cpt_code": ["Unknown procedure code '99999'."]}


# What the options take ---------------------------------------------------------------------------------


def test_payers_lists_every_payer_id_with_its_defaults():
    out = cli("payers")
    rows = [line.split("\t") for line in out.stdout.splitlines()]
    payers = (ROOT / "fee_schedules" / "payers.csv").read_text().splitlines()[1:]
    assert [row[0] for row in rows[1:]] == [line.split(",")[0] for line in payers]
    medicare = next(row for row in rows if row[0] == "medicare")
    assert medicare == ["medicare", "medicare", "Original Medicare (Part B)", "$283.00", "20%", "$0.00", "none"]


def test_procedures_finds_codes_by_number_and_words():
    by_number = cli("procedures", "6448").stdout.splitlines()
    assert by_number[0].startswith("cpt_code") and [row.split("\t")[0] for row in by_number[1:]] == [
        "64480",
        "64483",
        "64484",
        "64486",
        "64487",
        "64488",
        "64489",
    ]
    words = cli("procedures", "facet", "neck", "--limit", "2")
    assert [row.split("\t")[0] for row in words.stdout.splitlines()[1:]] == ["64490", "64491"]
    assert "codes match: narrow the search" in words.stderr
    nothing = cli("procedures", "zzzz")
    assert nothing.returncode == 1 and "No procedure code matches 'zzzz'." in nothing.stderr


# A closed pipe ends quietly ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["procedures", "--limit", "10000"],
        ["batch", "examples/requests.csv", "-o", "-", "--chunk-rows", "1", "--jobs", "1"],
        ["batch", "examples/requests.csv", "-o", "-", "-q", "--jobs", "1"],
    ],
)
def test_output_cut_short_by_its_reader_ends_quietly(args):
    """As ``estimator ... | head -1``: the reader takes one line and goes."""
    if args[0] == "batch":  # enough rows that the output outgrows the pipe's buffer
        rows = (ROOT / "examples" / "requests.csv").read_text().splitlines()
        big = ROOT / "test-artifacts" / "pipe.csv"
        big.parent.mkdir(exist_ok=True)
        big.write_text("\n".join([rows[0], *rows[1:] * 3000]) + "\n")
        args = [str(big) if a == "examples/requests.csv" else a for a in args]
    with subprocess.Popen(
        [sys.executable, "-m", "estimator", *args], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    ) as process:
        assert process.stdout.readline()
        process.stdout.close()
        stderr = process.stderr.read().decode()
        assert process.wait(timeout=120) == 128 + signal.SIGPIPE
    assert "Traceback" not in stderr and "Broken pipe" not in stderr and "Exception ignored" not in stderr, stderr


# Passwords at a terminal -------------------------------------------------------------------------------


def at_a_terminal(args, typed, env):
    """Run the command with a terminal as its standard input and output; type each of ``typed`` when the
    command asks (a prompt ending in ': '); return everything the terminal showed, and the exit status."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: its controlling terminal is the pty
        os.chdir(ROOT)
        os.execve(sys.executable, [sys.executable, "-m", "estimator", *args], env)
    shown, answers = b"", list(typed)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.5)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            shown += chunk
            if answers and shown.endswith(b": "):  # a prompt, just written (not the line break after one)
                os.write(fd, answers.pop(0).encode() + b"\n")
    else:
        os.kill(pid, signal.SIGKILL)  # never left waiting: the test fails on what was shown
    _, status = os.waitpid(pid, 0)
    return shown.decode(errors="replace"), os.waitstatus_to_exitcode(status)


def test_users_add_asks_for_the_password_without_echo(tmp_path):
    env = {**os.environ, "ESTIMATOR_DATABASE_URL": f"sqlite:///{tmp_path / 'r.sqlite3'}"}
    assert cli("db", "upgrade", env=env).returncode == 0
    secret = "a long enough secret phrase"
    shown, code = at_a_terminal(["users", "add", "desk@clinic.example"], [secret, secret], env)
    assert code == 0, shown
    assert "Password for desk@clinic.example:" in shown and "The same again, to check:" in shown
    assert secret not in shown
    assert "Added desk@clinic.example." in shown
    shown, code = at_a_terminal(["users", "password", "desk@clinic.example"], [secret, "something else"], env)
    assert code == 2 and "The two passwords differ: nothing was changed." in shown and secret not in shown
    piped = cli("users", "add", "script@clinic.example", env=env, stdin=secret + "\n")  # scripts pipe it in
    assert piped.returncode == 0 and "Added script@clinic.example." in piped.stderr


def test_db_upgrade_says_what_it_did(tmp_path):
    env = {**os.environ, "ESTIMATOR_DATABASE_URL": f"sqlite:///{tmp_path / 'r.sqlite3'}"}
    first = cli("db", "upgrade", env=env)
    assert first.stderr.startswith("Created the records database at sqlite:///") and "(schema 0004)" in first.stderr
    again = cli("db", "upgrade", env=env)
    assert "is up to date (schema 0004)" in again.stderr
    from alembic import command

    from estimator.records.db import alembic_config

    command.downgrade(alembic_config(env["ESTIMATOR_DATABASE_URL"]), "0003")
    assert "from schema 0003 to 0004" in cli("db", "upgrade", env=env).stderr


def test_a_database_password_is_never_shown():
    from estimator.records.db import described

    assert described("postgresql+psycopg://clinic:s3cret@db.example/records") == (
        "postgresql+psycopg://clinic:***@db.example/records"
    )


# One vocabulary for a batch's rows ---------------------------------------------------------------------


def test_progress_and_summary_count_rows_in_the_same_words(tmp_path):
    out = cli("batch", "examples/requests.csv", "-o", str(tmp_path / "out.csv"), "--chunk-rows", "4", "--jobs", "1")
    lines = out.stderr.splitlines()
    progress = [line for line in lines if line[0].isdigit()]
    assert progress[0].startswith("4 rows read: ") and "failed" in progress[0]
    assert progress[-1].startswith("10 rows read: 8 estimated, 2 failed (")
    assert lines[len(progress)] == "Done: 10 rows read: 8 estimated, 2 failed; 3 priced on the national baseline range."


# The package, installed and run from elsewhere ---------------------------------------------------------


def test_pyproject_lists_every_folder_of_the_package():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    folders = {
        ".".join(p.relative_to(ROOT).parts[:-1])
        for p in (ROOT / "estimator").rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and p.parent != ROOT
    }
    assert set(config["packages"]) == folders | {"estimator.fee_schedules"}
    assert config["package-dir"] == {"estimator.fee_schedules": "fee_schedules"}
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts == {"estimator": "estimator.cli:main"}


@pytest.mark.slow
def test_the_built_package_works_from_any_folder(tmp_path):
    wheels, site, elsewhere = tmp_path / "wheels", tmp_path / "site", tmp_path / "elsewhere"
    elsewhere.mkdir()
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "wheel", "--no-deps", "-w", str(wheels), str(ROOT)], check=True, capture_output=True)
    (wheel,) = wheels.glob("procedure_cost_estimator-*.whl")
    subprocess.run([*pip, "install", "--no-deps", "--target", str(site), str(wheel)], check=True, capture_output=True)
    env = {
        **os.environ,
        "PYTHONPATH": str(site),
        "ESTIMATOR_CACHE_DIR": "off",
        "ESTIMATOR_INSTANCE_DIR": str(tmp_path / "instance"),
    }
    env.pop("ESTIMATOR_FEE_SCHEDULES", None)

    def run(*args):
        out = subprocess.run([str(site / "bin" / "estimator"), *args], cwd=elsewhere, env=env, capture_output=True)
        assert out.returncode == 0, out.stderr.decode()
        return out

    answer = json.loads(run("estimate", "--cpt-code", "64483", "--payer-id", "medicare", "--zip", "10001").stdout)
    assert answer["allowed_amount"]["expected"] > 0 and answer["description"]
    assert b"medicare" in run("payers").stdout
    assert str(site / "estimator" / "fee_schedules") in run("check-schedules").stdout.decode()
    assert b"Created the records database" in run("db", "upgrade").stderr
    assert (tmp_path / "instance" / "estimator.sqlite3").exists()
    module = subprocess.run(
        [sys.executable, "-m", "estimator", "procedures", "20971"], cwd=elsewhere, env=env, capture_output=True
    )
    assert module.returncode == 0 and b"20971" in module.stdout
    installed = subprocess.run(
        [sys.executable, "-c", "import estimator.web.templates as t, estimator.web.wsgi; print(t.__path__[0])"],
        cwd=elsewhere,
        env={**env, "ESTIMATOR_SECRET_KEY": "x" * 40},
        capture_output=True,
        text=True,
    )
    assert installed.returncode == 0, installed.stderr
    assert installed.stdout.strip().startswith(str(site)) and Path(installed.stdout.strip(), "form.html").exists()


def free_port():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_serve_as_the_readme_runs_it(tmp_path):
    """``ESTIMATOR_SECRET_KEY=... estimator serve``: the service answers; without the key it says what is
    missing and stops, without a traceback."""
    import secrets
    import urllib.request

    env = {**os.environ, "ESTIMATOR_DATABASE_URL": f"sqlite:///{tmp_path / 'r.sqlite3'}"}
    env.pop("ESTIMATOR_SECRET_KEY", None)
    port = free_port()
    serve = ["serve", "--bind", f"127.0.0.1:{port}", "--workers", "1"]
    refused = subprocess.run(
        [sys.executable, "-m", "estimator", *serve], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert refused.returncode != 0 and "ESTIMATOR_SECRET_KEY" in refused.stderr and "Traceback" not in refused.stderr
    env["ESTIMATOR_SECRET_KEY"] = secrets.token_hex(32)
    with subprocess.Popen(
        [sys.executable, "-m", "estimator", *serve],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    ) as process:
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as answer:
                        assert json.load(answer)["status"] == "ok"
                        break
                except OSError:
                    assert time.monotonic() < deadline and process.poll() is None
                    time.sleep(0.3)
        finally:
            process.terminate()
            process.wait(timeout=30)
