"""Requests per second of POST /api/v1/estimates under gunicorn on loopback, against a bare Flask JSON
endpoint served the same way in the same run.

    python benchmarks/api_throughput.py [--seconds 10] [--rounds 3] [--connections 16]

Also ``POST /api/v1/encounters`` with visits of three lines, in the same alternating rounds.

Needs ``wrk`` (Debian package ``wrk``). The two servers are measured in alternating rounds, so that the
shared machine's noise falls on both; the script prints each round and the ratio of the medians.
"""

import argparse
import json
import os
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.generate_requests import generate  # noqa: E402
from estimator.core.glossary import MONEY_FIELDS, REQUEST_FIELDS  # noqa: E402

FIELDS = [f for f in REQUEST_FIELDS if f != "region_id"]
NUMBERS = {"units", "coinsurance", *MONEY_FIELDS}


def request_bodies(count, seed=1):
    """Valid, varied JSON requests drawn from the benchmark request generator."""
    frame = generate(count * 2, seed)
    frame = frame[
        ~frame["cpt_code"].eq("99999")
        & ~frame["units"].eq("0")
        & ~frame["zip"].eq("ABCDE")
        & ~frame["modifiers"].eq("50 RT")
    ]
    bodies = []
    for record in frame.head(count).to_dict("records"):
        body = {}
        for field in FIELDS:
            value = record[field]
            if value == "":
                continue
            if field == "modifiers":
                body[field] = value.split()
            elif field == "units":
                body[field] = int(value)
            elif field in NUMBERS:
                body[field] = float(value)
            else:
                body[field] = value
        bodies.append(json.dumps(body))
    return bodies


def encounter_bodies(count, seed=2):
    """Valid, varied JSON encounters of three lines: a request's shared fields and three of the codes
    of other requests (line fields: cpt_code, modifiers, units)."""
    requests = [json.loads(b) for b in request_bodies(count * 4, seed)]
    bodies = []
    for i in range(count):
        head, *others = requests[4 * i : 4 * i + 4]
        shared = {k: v for k, v in head.items() if k not in ("cpt_code", "modifiers", "units")}
        lines = [{k: r[k] for k in ("cpt_code", "modifiers", "units") if k in r} for r in others]
        bodies.append(json.dumps({**shared, "lines": lines}))
    return bodies


LUA = """
local bodies = {%s}
local i = 0
request = function()
  i = i + 1
  return wrk.format("POST", "%s", {["Content-Type"] = "application/json"}, bodies[(i %% #bodies) + 1])
end
"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(app, port, workers):
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "--config",
        str(ROOT / "gunicorn.conf.py"),
        "--workers",
        str(workers),
        "--bind",
        f"127.0.0.1:{port}",
        "--access-logfile",
        "/dev/null",
        app,
    ]
    env = {"ESTIMATOR_SECRET_KEY": secrets.token_hex(32), **os.environ}
    server = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return server
        except OSError:
            time.sleep(0.2)
    server.kill()
    raise RuntimeError(f"{app} did not start")


def stop(server):
    os.killpg(server.pid, signal.SIGTERM)
    server.wait(timeout=30)


def run_wrk(port, path, bodies, seconds, connections):
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(LUA % (", ".join(json.dumps(b) for b in bodies), path))
    try:
        out = subprocess.run(
            [
                "wrk",
                "-t",
                "2",
                "-c",
                str(connections),
                "-d",
                f"{seconds}s",
                "-s",
                script.name,
                f"http://127.0.0.1:{port}",
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    finally:
        os.unlink(script.name)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors:
        raise RuntimeError(f"{errors.group(1)} failed requests on {path}")
    return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--workers", type=int, default=os.cpu_count() + 1)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is needed: apt-get install wrk")
    bodies = {"bare": request_bodies(200), "estimate": request_bodies(200), "encounter": encounter_bodies(200)}
    port = {"bare": free_port(), "estimator": free_port()}
    servers = {
        "bare": start("benchmarks.bare_app:app", port["bare"], args.workers),
        "estimator": start("wsgi:app", port["estimator"], args.workers),
    }
    targets = {
        "bare": (port["bare"], "/echo"),
        "estimate": (port["estimator"], "/api/v1/estimates"),
        "encounter": (port["estimator"], "/api/v1/encounters"),
    }
    results = {name: [] for name in targets}
    try:
        for name, (where, path) in targets.items():  # warm up
            run_wrk(where, path, bodies[name], 2, args.connections)
        for round_ in range(1, args.rounds + 1):
            for name, (where, path) in targets.items():
                rate = run_wrk(where, path, bodies[name], args.seconds, args.connections)
                results[name].append(rate)
                print(f"round {round_}: {name:9s} {rate:9.0f} requests/s", flush=True)
    finally:
        for server in servers.values():
            stop(server)
    bare, estimate, encounter = (statistics.median(results[k]) for k in ("bare", "estimate", "encounter"))
    print(
        f"\nmedian: bare Flask JSON endpoint {bare:.0f} requests/s; POST /api/v1/estimates {estimate:.0f} "
        f"requests/s, ratio {estimate / bare:.2f} (target 0.5); POST /api/v1/encounters (3 lines) "
        f"{encounter:.0f} requests/s, ratio {encounter / bare:.2f} (target 0.35); {args.workers} workers, "
        f"{args.connections} connections, 200 different bodies each"
    )


if __name__ == "__main__":
    main()
