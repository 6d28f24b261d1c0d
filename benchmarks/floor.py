"""The floor for batch estimation: the least work that any CSV-to-CSV estimator of this kind must do.
Copied from the team's yardstick script `bench/floor.py`, changed only in this paragraph and in layout (the
project's formatter), so that the project's benchmarks stand alone.

    python floor.py REQUESTS.csv OUT.csv FEE_SCHEDULE_DIR

Reads the request CSV as text (pyarrow), joins the procedure, region and payer tables, maps ZIP3 to a
region, computes low / expected / high allowed and patient amounts with the deductible, coinsurance,
copay and cap formula in numpy, looks up a prior-authorization status per payer and code, attaches a
warning text per row (picked from a few precomputed messages by flags), and writes every input column
plus the figures as CSV (pyarrow). It validates nothing, applies no modifiers, rate rows, dates or
out-of-network rules: a real estimator does more, so its time over this one is the price of that work.
Compare the two in the same run, on the same machine, on the same file.
"""

import sys

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

src, dst, sched = sys.argv[1], sys.argv[2], sys.argv[3]
NUMBERS = ("deductible", "deductible_met", "coinsurance", "copay", "oop_max", "oop_met")
with open(src, newline="") as f:
    header = f.readline().strip().split(",")
types = {c: (pa.float64() if c in NUMBERS else pa.string()) for c in header}
table = pacsv.read_csv(
    src, convert_options=pacsv.ConvertOptions(column_types=types, null_values=[""], strings_can_be_null=False)
)
df = table.to_pandas()
proc = pd.read_csv(f"{sched}/procedures.csv", dtype={"cpt_code": str})
reg = pd.read_csv(f"{sched}/regions.csv", dtype={"region_id": str})
pay = pd.read_csv(f"{sched}/payers.csv", dtype={"payer_id": str})
zips = pd.read_csv(f"{sched}/zip_regions.csv", dtype=str)
rules = pd.read_csv(f"{sched}/prior_auth_rules.csv", dtype=str, keep_default_na=False)

n = len(df)
region = df["region_id"].to_numpy(dtype=object) if "region_id" in df else np.full(n, "", dtype=object)
if "zip" in df:
    z3 = df["zip"].str.slice(0, 3)
    by_zip = z3.map(zips.set_index("zip3")["region_id"]).fillna("").to_numpy(dtype=object)
    region = np.where(region == "", by_zip, region)
out = df.copy()
out["_region"] = region
out = out.merge(proc[["cpt_code", "baseline_low", "baseline_typical", "baseline_high"]], on="cpt_code", how="left")
out = out.merge(reg[["region_id", "geo_factor"]].rename(columns={"region_id": "_region"}), on="_region", how="left")
out = out.merge(
    pay[["payer_id", "deductible", "coinsurance", "copay", "oop_max"]].add_prefix("d_"),
    left_on="payer_id",
    right_on="d_payer_id",
    how="left",
)
status = (
    rules[rules["cpt_code"] != "*"]
    .drop_duplicates(["payer_id", "cpt_code"])[["payer_id", "cpt_code", "status"]]
    .rename(columns={"status": "prior_auth"})
)
out = out.merge(status, on=["payer_id", "cpt_code"], how="left")


def number(column, default):
    given = out[column].to_numpy(dtype=float) if column in out else np.full(n, np.nan)
    fallback = out[f"d_{column}"].to_numpy(dtype=float) if f"d_{column}" in out else np.full(n, default)
    return np.where(np.isnan(given), np.where(np.isnan(fallback), default, fallback), given)


geo = out["geo_factor"].fillna(1.0).to_numpy()
ded, coins, copay = number("deductible", 0.0), number("coinsurance", 0.2), number("copay", 0.0)
cap = number("oop_max", np.inf)
met = np.nan_to_num(out["deductible_met"].to_numpy(dtype=float)) if "deductible_met" in out else np.zeros(n)
oop_met = np.nan_to_num(out["oop_met"].to_numpy(dtype=float)) if "oop_met" in out else np.zeros(n)
figures = {}
for part, col in (("low", "baseline_low"), ("expected", "baseline_typical"), ("high", "baseline_high")):
    a = out[col].to_numpy(dtype=float) * geo
    d = np.minimum(a, np.maximum(0, ded - met))
    p = np.minimum(np.minimum(a, copay + d + coins * (a - d)), np.maximum(0, cap - oop_met))
    figures[f"allowed_{part}"] = np.round(a, 2)
    figures[f"patient_{part}"] = np.round(p, 2)
figures["payer_expected"] = np.round(figures["allowed_expected"] - figures["patient_expected"], 2)
figures["balance_billing_expected"] = np.zeros(n)
figures["prior_auth"] = out["prior_auth"].fillna("unknown").to_numpy(dtype=object)
no_benefits = np.isnan(out["deductible"].to_numpy(dtype=float)) if "deductible" in out else np.ones(n, dtype=bool)
flags = (region == "").astype(int) + 2 * no_benefits
texts = np.array(
    [
        "",
        "No region or ZIP code given: national prices were used (geographic factor and GPCIs 1.0).",
        "Not given, so the payer's default was used: deductible, coinsurance, copay, out-of-pocket maximum. "
        "Enter your own plan's figures for a closer estimate.",
        "No region or ZIP code given: national prices were used (geographic factor and GPCIs 1.0). | Not given, "
        "so the payer's default was used: deductible, coinsurance, copay, out-of-pocket maximum. Enter your own "
        "plan's figures for a closer estimate.",
    ],
    dtype=object,
)
figures["warnings"] = texts[flags]
figures["error"] = np.where(np.isnan(figures["allowed_expected"]), "unknown code", "")
result = pd.concat([df, pd.DataFrame(figures)], axis=1)
pacsv.write_csv(pa.Table.from_pandas(result, preserve_index=False), dst)
