"""Use cases shared by every door: one estimate, and a batch of estimates as an output table."""

import datetime as dt

import numpy as np
import pandas as pd

from .answer import to_answer
from .engine import estimate
from .errors import RequestError
from .glossary import BATCH_COLUMNS, LEVELS, REQUEST_FIELDS
from .intake import parse_requests
from .schedules import day_number

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


def check_one(fields, schedules, today=None):
    """The request rules' messages for one request, ``{field: [message]}`` (empty when it is valid)."""
    unknown = {k: [UNKNOWN_FIELD] for k in fields if k not in REQUEST_FIELDS}
    raw = {k: [as_text(v)] for k, v in fields.items() if k in REQUEST_FIELDS} or {"cpt_code": [""]}
    intake = parse_requests(raw, schedules, day_number(today or dt.date.today()))
    return {**intake.row_messages(0), **unknown}


def estimate_one(fields, schedules, today=None):
    """Estimate one request given as a mapping of field to value: a batch of one.

    Returns the SPEC section 5 answer; raises ``RequestError`` with per-field messages.
    """
    if any(k not in REQUEST_FIELDS for k in fields):
        raise RequestError(check_one(fields, schedules, today))  # every field's problem, not just these
    raw = {k: [as_text(v)] for k, v in fields.items()} or {"cpt_code": [""]}
    result = estimate(raw, schedules, today)
    if result.columns["error"][0]:
        raise RequestError(result.intake.row_messages(0))
    return to_answer(result.row(0), schedules)


def batch_table(raw, schedules, today=None):
    """Estimate a batch given as text cells.

    Returns the table (the input columns, then SPEC section 6's columns; figures are floats, NaN on rows
    that failed; text is not yet neutralised) and a boolean array: the rows priced on the national
    baseline because the payer has no rate for the code.
    """
    result = estimate(raw, schedules, today).columns
    ok = result["valid"]
    added = {}
    for prefix in ("allowed", "patient"):
        for level in LEVELS:
            added[f"{prefix}_{level}"] = result[f"{prefix}_{level}"].astype("float64")
    added["payer_expected"] = result["payer_expected"].astype("float64")
    added["balance_billing_expected"] = result["balance_billing_expected"].astype("float64")
    added["prior_auth"] = np.where(ok, result["pa_status"], "").astype(object)
    added["warnings"] = result["warnings"].astype(object)
    added["error"] = result["error"]
    # Text stays in object columns: cells may hold undecodable bytes (kept as surrogates) that an
    # Arrow-backed string column would refuse.
    table = pd.DataFrame({k: pd.Series(v, index=raw.index, dtype=v.dtype) for k, v in added.items()})
    assert list(table.columns) == list(BATCH_COLUMNS)
    fallback = ok & (result["professional_fallback"] == True)  # noqa: E712 - None on failed rows
    return pd.concat([raw, table], axis=1), fallback
