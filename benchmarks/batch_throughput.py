"""Batch estimation against the floor pipeline, measured in the same run.

    python benchmarks/batch_throughput.py [--rows 1000000] [--loop-sample 2000] [--memory-rows 0]
                                          [--encounters 0.3]

1. Generates a realistic request CSV (benchmarks/data/, reused when present).
2. Times the floor (``benchmarks/floor.py``, the team's yardstick) and ``python -m estimator batch`` on it,
   alternately, twice each, each in a child process, and prints the ratio of the best times (target: at
   most 2.0), rows per second and the peak memory of each.
3. Times the single-estimate path in a per-row loop on a sample and prints the batch path's speed-up.
4. With --memory-rows N, runs the command line on an N-row file and prints its peak memory.
5. With --encounters SHARE, also times the command line on a file of the same rows with SHARE of them
   grouped into visits (``encounter_id``), alternating with the plain file, and prints both rates.
"""

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.measure import timed  # noqa: E402
from estimator.core.schedules import load_schedules  # noqa: E402
from estimator.core.service import estimate_one  # noqa: E402

DATA = ROOT / "benchmarks" / "data"


def request_file(rows, encounters=0.0):
    """The request file of ``rows`` rows, generated in a child process (keeps this one small)."""
    path = DATA / (f"requests-{rows}.csv" if not encounters else f"requests-{rows}-visits-{encounters:g}.csv")
    if not path.exists():
        DATA.mkdir(exist_ok=True)
        script = ROOT / "benchmarks" / "generate_requests.py"
        extra = ["--encounters", str(encounters)] if encounters else []
        subprocess.run([sys.executable, str(script), str(rows), str(path), *extra], check=True)
    return path


def run_cli(source, target, jobs=None):
    extra = ["--jobs", str(jobs)] if jobs else []
    return timed([sys.executable, "-m", "estimator", "batch", str(source), "-o", str(target), "-q", *extra])


def floor_schedules():
    """The shipped schedules as the floor reads them: it joins procedures on the code alone, so its
    procedures.csv keeps each code's global row (a code's 26 and TC rows would multiply its rows)."""
    import shutil

    import pandas as pd

    target = DATA / "floor-schedules"
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(ROOT / "fee_schedules", target)
    procedures = pd.read_csv(target / "procedures.csv", dtype=str, keep_default_na=False)
    procedures[procedures["modifier"] == ""].to_csv(target / "procedures.csv", index=False)
    return target


def run_floor(source, target, schedules):
    return timed([sys.executable, str(ROOT / "benchmarks" / "floor.py"), str(source), str(target), str(schedules)])


def loop_rate(source, sample):
    import pandas as pd

    schedules = load_schedules()
    frame = pd.read_csv(source, dtype=str, keep_default_na=False, nrows=sample)
    records = [{k: v for k, v in r.items() if k != "claim_id" and v != ""} for r in frame.to_dict("records")]
    started = time.perf_counter()
    for fields in records:
        try:
            estimate_one(fields, schedules)
        except Exception:  # noqa: BLE001 - bad rows are part of the load
            pass
    return len(records) / (time.perf_counter() - started)


def peak_memory(rows):
    """Peak resident memory (MiB) and seconds of the command line on an ``rows``-row file."""
    target = DATA / "memory-out.csv"
    seconds, peak = run_cli(request_file(rows), target)
    target.unlink()
    return peak, seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--loop-sample", type=int, default=2000)
    parser.add_argument("--memory-rows", type=int, default=0)
    parser.add_argument("--encounters", type=float, default=0.0, metavar="SHARE")
    args = parser.parse_args()
    source = request_file(args.rows, args.encounters)
    for_floor = floor_schedules()
    floor_runs, cli_runs = [], []
    for _ in range(2):
        floor_runs.append(run_floor(source, DATA / "floor-out.csv", for_floor))
        cli_runs.append(run_cli(source, DATA / "batch-out.csv"))
    floor, ours = min(t for t, _ in floor_runs), min(t for t, _ in cli_runs)
    import pandas as pd

    requests = pd.read_csv(source, dtype=str, keep_default_na=False, usecols=["cpt_code", "modifiers"])
    components = requests["modifiers"].str.contains(r"\b(?:26|TC)\b")
    result = {
        "rows": args.rows,
        "file": source.name,
        "distinct_codes": int(requests["cpt_code"].nunique()),
        "rows_with_26_or_tc": int(components.sum()),
        "floor_seconds": round(floor, 2),
        "batch_seconds": round(ours, 2),
        "ratio": round(ours / floor, 2),
        "batch_rows_per_second": round(args.rows / ours),
        "floor_peak_mib": round(max(m for _, m in floor_runs)),
        "batch_peak_mib": round(max(m for _, m in cli_runs)),
    }
    loop = loop_rate(request_file(args.rows), args.loop_sample)
    result["single_estimate_loop_rows_per_second"] = round(loop)
    result["speed_up_over_loop"] = round(args.rows / ours / loop, 1)
    for name in ("floor-out.csv", "batch-out.csv"):
        (DATA / name).unlink()
    print(f"{result['distinct_codes']:,} distinct codes, {result['rows_with_26_or_tc']:,} rows with 26 or TC")
    print(
        f"{args.rows:,} rows ({source.name}): floor {floor:.1f} s, estimator batch {ours:.1f} s "
        f"(start-up included): ratio {ours / floor:.2f}; {args.rows / ours:,.0f} rows/s; peak memory "
        f"floor {result['floor_peak_mib']:,} MiB, batch {result['batch_peak_mib']:,} MiB"
    )
    print(
        f"single-estimate path in a per-row loop: {loop:,.0f} rows/s; the batch path is "
        f"{args.rows / ours / loop:,.1f}x faster"
    )
    if args.encounters:
        plain_file = request_file(args.rows)
        plain_times, visit_times = [], []
        for _ in range(2):
            plain_times.append(run_cli(plain_file, DATA / "batch-out.csv")[0])
            visit_times.append(run_cli(source, DATA / "batch-out.csv")[0])
        (DATA / "batch-out.csv").unlink()
        plain, visit = min(plain_times), min(visit_times)
        result.update(
            encounter_share=args.encounters,
            plain_rows_per_second=round(args.rows / plain),
            encounter_rows_per_second=round(args.rows / visit),
        )
        print(
            f"{args.rows:,} rows without visits {args.rows / plain:,.0f} rows/s; with {args.encounters:.0%} of rows "
            f"in visits of 2-4 lines {args.rows / visit:,.0f} rows/s (ratio {visit / plain:.2f})"
        )
    if args.memory_rows:
        memory, seconds = peak_memory(args.memory_rows)
        result.update(memory_rows=args.memory_rows, peak_memory_mib=round(memory), memory_run_seconds=round(seconds, 1))
        print(f"{args.memory_rows:,} rows: peak memory {memory:,.0f} MiB, {seconds:.1f} s")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
