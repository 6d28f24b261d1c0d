"""Requests per second of POST /api/v1/estimates under gunicorn on loopback, against a bare Flask JSON
endpoint served the same way in the same run.

    python benchmarks/api_throughput.py [--seconds 10] [--rounds 3] [--connections 16]

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
    bodies = request_bodies(200)
    ports = {"bare": free_port(), "estimate": free_port()}
    servers = {
        "bare": start("benchmarks.bare_app:app", ports["bare"], args.workers),
        "estimate": start("wsgi:app", ports["estimate"], args.workers),
    }
    paths = {"bare": "/echo", "estimate": "/api/v1/estimates"}
    results = {"bare": [], "estimate": []}
    try:
        for name in results:  # warm up
            run_wrk(ports[name], paths[name], bodies, 2, args.connections)
        for round_ in range(1, args.rounds + 1):
            for name in results:
                rate = run_wrk(ports[name], paths[name], bodies, args.seconds, args.connections)
                results[name].append(rate)
                print(f"round {round_}: {name:8s} {rate:9.0f} requests/s", flush=True)
    finally:
        for server in servers.values():
            stop(server)
    bare, estimate = (statistics.median(results[k]) for k in ("bare", "estimate"))
    print(
        f"\nmedian: bare Flask JSON endpoint {bare:.0f} requests/s; POST /api/v1/estimates {estimate:.0f} "
        f"requests/s; ratio {estimate / bare:.2f} ({args.workers} workers, {args.connections} connections, "
        f"{len(bodies)} different requests)"
    )


if __name__ == "__main__":
    main()
