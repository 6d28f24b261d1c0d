"""The README's command-line examples work as written after its first command (no activated virtualenv)."""

import re
import shlex
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
PLACEHOLDERS = (
    "DIR",
    "claims",
    "big.csv",
    "tcp://",
    "in-network-rates",
    "standard-charges",
    "my_schedules",
    "users ",
    "tokens ",
    "db ",
    "audit ",
    "serve",
)


def examples():
    blocks = re.findall(r"```sh\n(.*?)```", README, re.S)
    lines = [line.split("  #")[0].strip() for block in blocks for line in block.splitlines()]
    return [line for line in lines if re.search(r"(^|\s)\S*estimator [a-z]", line)]


def test_every_command_line_example_runs_the_virtualenvs_command():
    assert examples()
    for line in examples():
        for command in re.findall(r"(?:^|\s)(\S*estimator) [a-z]", line):
            assert command == ".venv/bin/estimator", line


def test_the_runnable_examples_run(tmp_path):
    ran = 0
    for line in examples():
        if not line.startswith(".venv/bin/estimator") or any(p in line for p in PLACEHOLDERS):
            continue
        args = shlex.split(line.replace("OUT.csv", str(tmp_path / "out.csv")))[1:]
        command = ROOT / ".venv/bin/estimator"  # as the README runs it; else this interpreter's module
        start = [str(command)] if command.exists() else [sys.executable, "-m", "estimator"]
        out = subprocess.run([*start, *args], cwd=ROOT, capture_output=True, text=True)
        assert out.returncode == 0, (line, out.stderr)
        ran += 1
    assert ran >= 3
    assert (tmp_path / "out.csv").read_text().startswith("claim_id")
