"""Start-up of the command line with the whole procedure catalog, against the yardstick of importing the
libraries it cannot start without, measured in the same run.

    python benchmarks/startup.py [--rounds 10]

Runs, alternately, each ``--rounds`` times in a child process, and prints the best time of each:

- ``python -c "import numpy, pandas"``: the least any start-up of this code base costs;
- ``python -m estimator estimate ...`` with its schedules cache (the usual case) and without it
  (``ESTIMATOR_CACHE_DIR=off``: the catalog read and checked);
- ``python -m estimator check-schedules`` likewise;
- one estimate and one batch row in process (``single_estimate.py`` measures those in depth).

The targets (issue: every payable code) are: ``estimate`` under 0.6 s, ``check-schedules`` under 2 s.
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ESTIMATE = ["-m", "estimator", "estimate", "--cpt-code", "64483", "--payer-id", "medicare", "--zip", "10001"]


def best(command, env, rounds):
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        subprocess.run([sys.executable, *command], cwd=ROOT, env=env, check=True, capture_output=True)
        times.append(time.perf_counter() - started)
    return min(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as cache:
        warm = {**os.environ, "ESTIMATOR_CACHE_DIR": cache}
        cold = {**os.environ, "ESTIMATOR_CACHE_DIR": "off"}
        subprocess.run([sys.executable, *ESTIMATE], cwd=ROOT, env=warm, check=True, capture_output=True)
        cases = {
            "import numpy, pandas": (["-c", "import numpy, pandas"], warm),
            "estimate (cache)": (ESTIMATE, warm),
            "estimate (no cache)": (ESTIMATE, cold),
            "check-schedules (cache)": (["-m", "estimator", "check-schedules"], warm),
            "check-schedules (no cache)": (["-m", "estimator", "check-schedules"], cold),
        }
        found = {name: [] for name in cases}
        for _ in range(args.rounds):  # alternately, so that the machine's load falls on every case alike
            for name, (command, env) in cases.items():
                found[name].append(best(command, env, 1))
    floor = min(found["import numpy, pandas"])
    for name, times in found.items():
        print(
            f"{name:28} best {min(times):.3f} s (median {sorted(times)[len(times) // 2]:.3f} s), "
            f"{min(times) - floor:+.3f} s over the imports"
        )


if __name__ == "__main__":
    main()
