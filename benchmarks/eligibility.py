"""Reading a large eligibility response (X12 271) for its benefits, against the least any reader must do with
the same bytes, measured in the same run.

    python benchmarks/eligibility.py [--rounds 20] [--benefits 2000]

Builds a 271 just under the 64 KiB body limit: one subscriber with ``--benefits`` EB segments over many
service types and both networks. Times, in alternating rounds, in process:

- the baseline: decode the bytes, split them into segments and each segment into elements (str.split);
- ``benefits_answer``: the whole read (separators from the ISA, envelopes checked, the 271's loops, the
  SPEC section 10 choice of figures for the office, the JSON-ready answer).

Prints the best time of each and their ratio.
"""

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from estimator.eligibility.service import benefits_answer  # noqa: E402

CODES = ("C", "G", "A", "B")
#: Service types of the 271 guide's list, as payers repeat them (EB03).
SERVICE_TYPES = ("1", "2", "30", "33", "35", "47", "48", "50", "86", "88", "98", "AL", "MH", "UC")


def response(count):
    """A 271 with ``count`` EB segments after the subscriber's name; the office's figures come last."""
    rows = []
    for n in range(count):
        code = CODES[n % 4]
        amount = f"*{n % 5000}" if code in "CGB" else "*"
        percent = f"*.{n % 9 + 1}" if code == "A" else "*"
        period = "*23" if code in "CG" else "*27"
        network = "Y" if n % 2 else "N"
        level = "IND" if n % 3 else "FAM"
        types = f"{SERVICE_TYPES[n % 14]}^{SERVICE_TYPES[n % 5]}"
        rows.append(f"EB*{code}*{level}*{types}**{period}{amount}{percent}****{network}")
    rows += ["EB*C*IND*98***23*1500*****Y", "EB*C*IND*98***29*1100*****Y", "EB*A*IND*98*****.2****Y"]
    body = [
        "ST*271*0001*005010X279A1",
        "BHT*0022*11*B1*20251201*0900",
        "HL*1**20*1",
        "NM1*PR*2*EXAMPLE PLAN*****PI*1",
        "HL*2*1*21*1",
        "NM1*1P*2*EXAMPLE CLINIC*****XX*1234567893",
        "HL*3*2*22*0",
        "NM1*IL*1*DOE*JANE****MI*Z1",
        "EB*1**30",
        *rows,
    ]
    body.append(f"SE*{len(body) + 1}*0001")
    isa = "ISA*00*          *00*          *ZZ*P              *ZZ*C              *251201*0900*^*00501*000000001*0*T*:"
    return (
        "~".join([isa, "GS*HB*P*C*20251201*0900*1*X*005010X279A1", *body, "GE*1*1", "IEA*1*000000001"]) + "~"
    ).encode()


def bare(data):
    return [segment.split("*") for segment in data.decode("utf-8").split("~")]


def best(function, data, rounds, results):
    started = time.perf_counter()
    function(data)
    results.append(time.perf_counter() - started)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--benefits", type=int, default=2000)
    args = parser.parse_args()
    data = response(args.benefits)
    answer = benefits_answer(data)
    assert answer["benefits"]["in"]["deductible_met"]["value"] == 400
    baseline, reading = [], []
    for _ in range(args.rounds):
        best(bare, data, args.rounds, baseline)
        best(benefits_answer, data, args.rounds, reading)
    print(f"271 of {len(data):,} bytes, {args.benefits + 4:,} EB segments")
    print(f"baseline (split into segments and elements): best {min(baseline) * 1000:.2f} ms")
    print(f"benefits_answer (read, check, choose):       best {min(reading) * 1000:.2f} ms")
    print(f"ratio: {min(reading) / min(baseline):.1f}")


if __name__ == "__main__":
    main()
