"""Time of one in-process estimate (median and 99th percentile) over varied requests, against the
per-row cost of the same requests estimated as one batch in the same run.

    python benchmarks/single_estimate.py [--requests 2000] [--rounds 5]
"""

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.api_throughput import request_bodies  # noqa: E402
from estimator.core.engine import estimate  # noqa: E402
from estimator.core.schedules import load_schedules  # noqa: E402
from estimator.core.service import as_text, estimate_one  # noqa: E402


def main():
    import json

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    schedules = load_schedules()
    requests = [json.loads(b) for b in request_bodies(args.requests)]
    for fields in requests[:50]:
        estimate_one(fields, schedules)
    columns = {f: [as_text(r.get(f)) for r in requests] for f in {k for r in requests for k in r}}
    rounds = []
    for _ in range(args.rounds):  # alternating, so that both see the same machine
        times = []
        for fields in requests:
            started = time.perf_counter()
            estimate_one(fields, schedules)
            times.append(time.perf_counter() - started)
        times.sort()
        batch_times = []
        for _ in range(3):
            started = time.perf_counter()
            estimate(columns, schedules)
            batch_times.append(time.perf_counter() - started)
        per_row = min(batch_times) / len(requests)
        rounds.append((statistics.median(times), times[int(len(times) * 0.99) - 1], per_row))
    median, p99, per_row = sorted(rounds, key=lambda r: r[0] / r[2])[len(rounds) // 2]
    print(
        f"one in-process estimate over {len(requests)} different requests: median {median * 1000:.3f} ms, "
        f"99th percentile {p99 * 1000:.3f} ms"
    )
    print(
        f"the same requests as one batch: {per_row * 1e6:.1f} us per row; a single estimate costs "
        f"{median / per_row:.1f}x a batch row (the median of {args.rounds} alternating rounds; each: "
        + ", ".join(f"{m / r:.1f}x" for m, _, r in rounds)
        + ")"
    )


if __name__ == "__main__":
    main()
