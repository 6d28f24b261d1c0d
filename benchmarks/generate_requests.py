"""Write a realistic request CSV for benchmarks: a mix of codes, payers, ZIPs, settings, modifiers and
benefits, with about 5 % bad rows (unknown codes, bad units, bad ZIPs, conflicting modifiers).

    python benchmarks/generate_requests.py ROWS OUT.csv [--seed N] [--encounters SHARE]

With ``--encounters 0.3``, an ``encounter_id`` column groups about 30 % of the rows into visits of 2 to 4
lines that share their payer, place, setting, network, date and benefits.
"""

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from estimator.core.glossary import SHARED_FIELDS  # noqa: E402
from estimator.core.schedules import load_schedules  # noqa: E402

SHARED = [field for field in SHARED_FIELDS if field != "region_id"]  # the generator gives ZIP codes


def group_encounters(frame, share, rng):
    """Group about ``share`` of the rows into visits of 2 to 4 lines (adjacent rows, shared fields)."""
    rows = len(frame)
    chance = share / (3 - 2 * share)  # visits of 3 lines on average: rows in visits / all rows = share
    sizes = np.where(rng.random(rows) < chance, rng.integers(2, 5, rows), 1)
    sizes = sizes[: np.searchsorted(np.cumsum(sizes), rows) + 1]
    sizes[-1] -= sizes.sum() - rows
    group = np.repeat(np.arange(len(sizes)), sizes)
    first = np.concatenate([[0], np.cumsum(sizes)[:-1]])[group]
    for column in SHARED:
        frame[column] = frame[column].to_numpy()[first]
    multi = sizes[group] > 1
    frame.insert(1, "encounter_id", np.where(multi, np.char.add("V", group.astype(str)), ""))
    return frame


def generate(rows, seed=0, schedules=None, encounters=0.0):
    """A DataFrame of ``rows`` request rows as text cells (grouped into visits with ``encounters``)."""
    schedules = schedules or load_schedules()
    rng = np.random.default_rng(seed)
    procedures = schedules.procedures
    catalog = procedures.loc[procedures["modifier"] == "", "cpt_code"].to_numpy()
    # the codes a spine and pain clinic bills (described in the catalog's own words) most often, and now and
    # then any other payable code: a claims file over thousands of distinct codes
    usual = np.array([c for c in catalog if not procedures.at[c, "description"].startswith(("CPT ", "HCPCS"))])
    codes = np.where(rng.random(rows) < 0.6, rng.choice(usual, rows), rng.choice(catalog, rows))
    payers = schedules.payers.index.to_numpy()
    zip3 = schedules.zip_regions.index.to_numpy()
    pick = lambda values, p=None: rng.choice(values, size=rows, p=p)  # noqa: E731
    zips = np.char.add(pick(zip3).astype(str), np.char.zfill(rng.integers(0, 100, rows).astype(str), 2))
    use_zip = rng.random(rows) < 0.85
    days = np.datetime64("2025-01-01") + rng.integers(0, 700, rows)
    benefits = rng.random(rows) < 0.4
    frame = pd.DataFrame(
        {
            "claim_id": np.char.add("C", np.arange(rows).astype(str)),
            "cpt_code": codes,
            "payer_id": pick(payers, [0.35, 0.1, 0.25, 0.15, 0.15] if len(payers) == 5 else None),
            "zip": np.where(use_zip, zips, ""),
            "setting": pick(np.array(["office", "asc", "hospital_outpatient", ""]), [0.4, 0.2, 0.2, 0.2]),
            "network": pick(np.array(["in", "out", ""]), [0.6, 0.1, 0.3]),
            "modifiers": pick(np.array(["", "RT", "LT", "RT LT"]), [0.8, 0.08, 0.08, 0.04]),
            "units": pick(np.array(["1", "1", "2", ""])),
            "date_of_service": days.astype(str),
            "deductible": np.where(benefits, rng.integers(0, 5000, rows).astype(str), ""),
            "coinsurance": np.where(benefits, np.round(rng.random(rows) * 0.4, 2).astype(str), ""),
            "copay": np.where(benefits, rng.choice(["0", "20", "50"], rows), ""),
            "oop_max": np.where(benefits, rng.integers(2000, 9000, rows).astype(str), ""),
            "deductible_met": np.where(benefits, rng.integers(0, 3000, rows).astype(str), ""),
            "oop_met": np.where(benefits, rng.integers(0, 3000, rows).astype(str), ""),
        }
    )
    # modifier 50 only where bilateral billing applies
    bilateral_ok = procedures["bilateral_indicator"].reindex(frame["cpt_code"]).to_numpy() != 9
    frame.loc[bilateral_ok & (rng.random(rows) < 0.05), "modifiers"] = "50"
    frame.loc[~bilateral_ok & frame["modifiers"].eq("RT LT").to_numpy(), "modifiers"] = "RT"
    # a third of the codes that have a professional and a technical component billed as one of them (26, TC),
    # and now and then a modifier that changes no figure (25, 59, XS)
    parts = np.isin(frame["cpt_code"].to_numpy(), procedures.loc[procedures["modifier"] == "26", "cpt_code"])
    part = np.where(rng.random(rows) < 0.5, "26", "TC")
    split = parts & (rng.random(rows) < 0.33)
    frame["modifiers"] = np.where(
        split,
        np.char.strip(np.char.add(np.char.add(frame["modifiers"].to_numpy().astype(str), " "), part)),
        frame["modifiers"],
    )
    other = rng.random(rows) < 0.05
    extra = rng.choice(["25", "59", "XS"], rows)
    frame["modifiers"] = np.where(
        other,
        np.char.strip(np.char.add(np.char.add(frame["modifiers"].to_numpy().astype(str), " "), extra)),
        frame["modifiers"],
    )
    # about 5 % bad rows
    bad = rng.random(rows) < 0.05
    kind = rng.integers(0, 4, rows)
    frame.loc[bad & (kind == 0), "cpt_code"] = "99999"
    frame.loc[bad & (kind == 1), "units"] = "0"
    frame.loc[bad & (kind == 2), "zip"] = "ABCDE"
    frame.loc[bad & (kind == 3), "modifiers"] = "50 RT"
    return group_encounters(frame, encounters, rng) if encounters else frame


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("rows", type=int)
    parser.add_argument("output")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--encounters", type=float, default=0.0, metavar="SHARE", help="share of rows in visits")
    args = parser.parse_args()
    generate(args.rows, args.seed, encounters=args.encounters).to_csv(args.output, index=False)


if __name__ == "__main__":
    main()
