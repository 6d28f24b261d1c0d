"""Time of one in-process estimate (median and 99th percentile) over varied requests, against the
per-row cost of the same requests estimated as one batch in the same run.

    python benchmarks/single_estimate.py [--requests 2000]
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
    args = parser.parse_args()
    schedules = load_schedules()
    requests = [json.loads(b) for b in request_bodies(args.requests)]
    for fields in requests[:50]:
        estimate_one(fields, schedules)
    times = []
    for fields in requests:
        started = time.perf_counter()
        estimate_one(fields, schedules)
        times.append(time.perf_counter() - started)
    times.sort()
    median = statistics.median(times) * 1000
    p99 = times[int(len(times) * 0.99) - 1] * 1000

    columns = {f: [as_text(r.get(f)) for r in requests] for f in {k for r in requests for k in r}}
    batch_times = []
    for _ in range(5):
        started = time.perf_counter()
        estimate(columns, schedules)
        batch_times.append(time.perf_counter() - started)
    per_row = min(batch_times) / len(requests) * 1000
    print(
        f"one in-process estimate over {len(requests)} different requests: median {median:.2f} ms, "
        f"99th percentile {p99:.2f} ms"
    )
    print(
        f"the same requests as one batch: {per_row * 1000:.1f} us per row; a single estimate costs "
        f"{median / per_row:.0f}x a batch row"
    )


if __name__ == "__main__":
    main()
