"""The floor pipeline: the least any batch estimator must do, as a yardstick for the real one.

Read the request CSV with codes as text, one merge against a price table (code x payer), numpy cost
sharing (deductible, coinsurance, copay, cap), write the CSV. No validation, regions, modifiers, rules,
warnings or explanation.
"""

import numpy as np
import pandas as pd


def floor_pipeline(source, target, schedules):
    """Run the floor pipeline from CSV ``source`` to CSV ``target``."""
    frame = pd.read_csv(source, dtype=str, keep_default_na=False)
    procedures = schedules.procedures[["baseline_low", "baseline_typical", "baseline_high"]]
    prices = (
        pd.MultiIndex.from_product([procedures.index, schedules.payers.index], names=["cpt_code", "payer_id"])
        .to_frame(index=False)
        .merge(procedures, left_on="cpt_code", right_index=True)
    )
    merged = frame.merge(prices, on=["cpt_code", "payer_id"], how="left")
    deductible = pd.to_numeric(merged["deductible"], errors="coerce").fillna(0).to_numpy()
    coinsurance = pd.to_numeric(merged["coinsurance"], errors="coerce").fillna(0.2).to_numpy()
    copay = pd.to_numeric(merged["copay"], errors="coerce").fillna(0).to_numpy()
    oop_max = pd.to_numeric(merged["oop_max"], errors="coerce").fillna(np.inf).to_numpy()
    out = {}
    for level, column in (("low", "baseline_low"), ("expected", "baseline_typical"), ("high", "baseline_high")):
        allowed = merged[column].to_numpy()
        d = np.minimum(allowed, deductible)
        patient = np.minimum(np.minimum(allowed, copay + d + coinsurance * (allowed - d)), oop_max)
        out[f"allowed_{level}"] = allowed
        out[f"patient_{level}"] = patient
    out["payer_expected"] = out["allowed_expected"] - out["patient_expected"]
    result = pd.concat([frame, pd.DataFrame(out, index=frame.index)], axis=1)
    result.to_csv(target, index=False, float_format="%.2f")
