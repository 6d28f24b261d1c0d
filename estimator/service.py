"""Use cases shared by every door: one estimate, and a batch of estimates as an output table."""

import numpy as np
import pandas as pd

from .answer import to_answer
from .engine import estimate
from .errors import RequestError
from .glossary import BATCH_COLUMNS, LEVELS, REQUEST_FIELDS

UNKNOWN_FIELD = "Unknown field."


def as_text(value):
    """A request value as the text cell a CSV would hold (lists joined by spaces; None is blank)."""
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        return " ".join(as_text(v) for v in value)
    if isinstance(value, float):
        return repr(value)
    return str(value)


def estimate_one(fields, schedules, today=None):
    """Estimate one request given as a mapping of field to value: a batch of one.

    Returns the SPEC section 5 answer; raises ``RequestError`` with per-field messages.
    """
    unknown = {k: [UNKNOWN_FIELD] for k in fields if k not in REQUEST_FIELDS}
    if unknown:
        raise RequestError(unknown)
    raw = pd.DataFrame({k: [as_text(v)] for k, v in fields.items()}, index=[0], dtype=object)
    if raw.columns.empty:
        raw = pd.DataFrame(index=[0])
    result = estimate(raw, schedules, today)
    if result.frame.at[0, "error"]:
        raise RequestError(result.intake.row_messages(0))
    return to_answer(result.frame.iloc[0], schedules)


def batch_table(raw, schedules, today=None):
    """Estimate a batch given as text cells; returns the input columns then SPEC section 6's columns.

    Figures are floats (NaN, written blank, on rows that failed); text columns are not yet neutralised.
    """
    result = estimate(raw, schedules, today).frame
    ok = result["valid"].to_numpy()
    added = {}
    for prefix in ("allowed", "patient"):
        for level in LEVELS:
            added[f"{prefix}_{level}"] = result[f"{prefix}_{level}"].to_numpy()
    added["payer_expected"] = result["payer_expected"].to_numpy()
    added["balance_billing_expected"] = result["balance_billing_expected"].to_numpy()
    added["prior_auth"] = np.where(ok, result["pa_status"].to_numpy(object), "")
    added["warnings"] = result["warnings"].to_numpy(object)
    added["error"] = result["error"].to_numpy(object)
    table = pd.DataFrame(added, index=raw.index)
    assert list(table.columns) == list(BATCH_COLUMNS)
    return pd.concat([raw, table], axis=1)
