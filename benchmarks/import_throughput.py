"""Importing a large Transparency in Coverage file against a bare ijson pass over the same file, in the
same run, with the import's peak memory.

    python benchmarks/import_throughput.py [--megabytes 2000] [--rounds 2]

1. Generates a synthetic in-network rates file (``generate_tic.py``; benchmarks/data/, reused when present).
2. Times, alternately, a bare pass that reads every ``in_network`` item with ijson's C backend and does
   nothing with it (the least any streaming importer must do), and ``python -m estimator import tic``
   into a copy of the shipped fee schedules, each in a child process; prints the ratio of the best times
   (target: at most 1.5) and the import's peak resident memory (kernel high-water mark; target: under
   300 MB).
"""

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.measure import timed  # noqa: E402

DATA = ROOT / "benchmarks" / "data"
BARE = (
    "import ijson, sys\n"
    "with open(sys.argv[1], 'rb') as f:\n"
    "    print(sum(1 for _ in ijson.items(f, 'in_network.item', use_float=True)))\n"
)


def tic_file(megabytes):
    path = DATA / f"tic-{megabytes}mb.json"
    if not path.exists():
        DATA.mkdir(exist_ok=True)
        script = ROOT / "benchmarks" / "generate_tic.py"
        subprocess.run([sys.executable, str(script), str(path), "--megabytes", str(megabytes)], check=True)
    return path


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--megabytes", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    source = tic_file(args.megabytes)
    bare_times, import_times, peaks = [], [], []
    with tempfile.TemporaryDirectory() as scratch:
        for _ in range(args.rounds):
            bare_times.append(timed([sys.executable, "-c", BARE, str(source)], quiet=True)[0])
            target = Path(scratch) / "schedules"
            shutil.rmtree(target, ignore_errors=True)
            shutil.copytree(ROOT / "fee_schedules", target)
            command = [
                sys.executable,
                "-m",
                "estimator",
                "import",
                "tic",
                str(source),
                "--payer-id",
                "example_ppo",
                "--zip",
                "10001",
                "--into",
                str(target),
            ]
            seconds, peak = timed(command, quiet=True)
            import_times.append(seconds)
            peaks.append(peak)
    bare, ours = min(bare_times), min(import_times)
    size = source.stat().st_size / 1e6
    result = {
        "megabytes": round(size),
        "bare_ijson_seconds": round(bare, 2),
        "import_seconds": round(ours, 2),
        "ratio": round(ours / bare, 2),
        "import_peak_mib": round(max(peaks)),
    }
    print(
        f"{size:,.0f} MB TiC file: bare ijson pass {bare:.1f} s, import {ours:.1f} s (start-up included): "
        f"ratio {ours / bare:.2f}; import peak memory {max(peaks):,.0f} MiB"
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
