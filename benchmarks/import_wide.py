"""Importing a wide hospital standard charges CSV (one column group per payer and plan) against a bare
``csv.reader`` pass over the same file, in the same run: the import's work should grow with the file's
cells, not with rows x payer columns.

    python benchmarks/import_wide.py [--rounds 2]

For each shape (payer and plan groups x rows; two columns a group, one group priced), prints the bare
pass's time, the import's (in this process, schedules loading included), their ratio and the import's
nanoseconds per cell. Linear work shows as a ratio and a time per cell that stay level as the groups grow.
"""

import argparse
import csv
import io
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from estimator.importers.hospital import import_hospital  # noqa: E402

SHAPES = ((200, 200), (2_000, 200), (20_000, 200))


def wide_file(groups, rows):
    """A wide CSV: ``groups`` payer and plan groups, ``rows`` rows of code 64483, the last group priced."""
    names = [f"Payer {g}|Plan {g}" for g in range(groups - 1)] + ["Platform Health Insurance|PPO"]
    header = ["description", "code|1", "code|1|type", "setting", "standard_charge|gross"]
    header.append("standard_charge|discounted_cash")
    for name in names:
        header += [f"standard_charge|{name}|negotiated_dollar", f"standard_charge|{name}|methodology"]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerows([["hospital_name", "last_updated_on", "version"], ["Wide", "2026-01-01", "3.0.0"], header])
    row = ["Injection", "64483", "CPT", "outpatient", "1000", ""] + ["", ""] * (groups - 1) + ["123.45", "fee schedule"]
    writer.writerows([row] * rows)
    return out.getvalue()


def bare(path):
    with open(path, newline="") as handle:
        return sum(len(row) for row in csv.reader(handle))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        (scratch / "map.csv").write_text("payer_name,plan_name,payer_id\nPlatform Health Insurance,PPO,example_ppo\n")
        for groups, rows in SHAPES:
            source = scratch / f"wide-{groups}.csv"
            source.write_text(wide_file(groups, rows))
            bare_times, import_times = [], []
            for _ in range(args.rounds):
                started = time.perf_counter()
                cells = bare(source)
                bare_times.append(time.perf_counter() - started)
                target = scratch / "schedules"
                shutil.rmtree(target, ignore_errors=True)
                shutil.copytree(ROOT / "fee_schedules", target)
                started = time.perf_counter()
                report = import_hospital(source, target, scratch / "map.csv", zip_code="10001")
                import_times.append(time.perf_counter() - started)
                assert report.written == 1, report.describe()
            b, ours = min(bare_times), min(import_times)
            result = {
                "groups": groups,
                "rows": rows,
                "cells": cells,
                "bare_seconds": round(b, 3),
                "import_seconds": round(ours, 3),
                "ratio": round(ours / b, 2),
                "import_ns_per_cell": round(ours / cells * 1e9),
            }
            results.append(result)
            print(
                f"{groups:,} payer groups x {rows} rows ({cells:,} cells): bare csv pass {b:.2f} s, "
                f"import {ours:.2f} s: ratio {ours / b:.1f}, {result['import_ns_per_cell']} ns a cell"
            )
    print(json.dumps(results))


if __name__ == "__main__":
    main()
