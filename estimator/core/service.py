"""Use cases shared by every door: one estimate, and a batch of estimates as an output table."""

import datetime as dt

import numpy as np
import pandas as pd

from . import encounters, single
from .answer import to_answer, to_encounter_answer
from .engine import estimate
from .errors import RequestError
from .glossary import (
    BATCH_COLUMNS,
    ENCOUNTER_COLUMNS,
    ENCOUNTER_ID,
    LEVELS,
    LINE_FIELDS,
    REQUEST_FIELDS,
    SHARED_FIELDS,
    levels,
)
from .intake import parse_requests
from .matching import factorize
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
    today = today or dt.date.today()
    row = single.estimate_row({k: as_text(v) for k, v in fields.items()}, schedules, today)
    if row is not None:
        return to_answer(row, schedules)
    # Not valid (or not finite): the request rules word every field's message; what only the estimate finds
    # (no rate and no range, figures not finite), the vectorised path.
    messages = check_one(fields, schedules, today)
    if messages:
        raise RequestError(messages)
    raw = {k: [as_text(v)] for k, v in fields.items()} or {"cpt_code": [""]}
    result = estimate(raw, schedules, today)
    if result.columns["error"][0]:
        raise RequestError(result.intake.row_messages(0))
    return to_answer(result.row(0), schedules)


NOT_A_LIST = "Give the lines as a list of 1 to {max} objects."
NOT_AN_OBJECT = "Give each line as an object with cpt_code, modifiers and units."


def encounter_rows(fields):
    """The request rows of an encounter given as ``{shared fields..., "lines": [...]}``, and the
    messages of its structure (``lines`` not a list, a line not an object, unknown fields)."""
    messages = {k: [UNKNOWN_FIELD] for k in fields if k not in SHARED_FIELDS and k != "lines"}
    lines = fields.get("lines")
    if not isinstance(lines, list) or not 1 <= len(lines) <= encounters.MAX_LINES:
        messages["lines"] = [NOT_A_LIST.format(max=encounters.MAX_LINES)]
        lines = []
    shared = {k: v for k, v in fields.items() if k in SHARED_FIELDS}
    rows = []
    for i, line in enumerate(lines):
        if not isinstance(line, dict):
            messages[f"lines.{i}"] = [NOT_AN_OBJECT]  # and nothing more about this line
            line = {"cpt_code": None}
        for key in line:
            if key not in LINE_FIELDS:
                messages[f"lines.{i}.{key}"] = [UNKNOWN_FIELD]
        rows.append({**shared, **{k: v for k, v in line.items() if k in LINE_FIELDS}})
    return rows, messages


def estimate_encounter(fields, schedules, today=None):
    """Estimate one encounter (SPEC section 7): shared request fields and ``lines``.

    Returns the section 7 answer; raises ``RequestError`` with messages keyed by field, a line's
    fields keyed ``lines.<index>.<field>`` (from 0).
    """
    today = today or dt.date.today()
    rows, messages = encounter_rows(fields)
    if rows and not messages:
        lines = [{k: as_text(v) for k, v in row.items()} for row in rows]
        estimated = single.estimate_lines(lines, schedules, today)
        if estimated is not None:
            return to_encounter_answer(estimated, schedules)
    # Not valid (or not finite): the vectorised path words every line's and field's message.
    result, rows, messages = _encounter(fields, schedules, today)
    if messages:
        raise RequestError(messages)
    return to_encounter_answer([result.row(i) for i in range(len(rows))], schedules)


def check_encounter(fields, schedules, today=None):
    """The messages of one encounter's fields and lines (empty when it is valid)."""
    return _encounter(fields, schedules, today)[2]


def _encounter(fields, schedules, today):
    rows, messages = encounter_rows(fields)
    if not rows:
        return None, rows, messages or {"lines": [NOT_A_LIST.format(max=encounters.MAX_LINES)]}
    raw = {name: [as_text(row.get(name)) for row in rows] for name in REQUEST_FIELDS}
    result = estimate(raw, schedules, today, encounter=np.zeros(len(rows), dtype=np.int64))
    for i in range(len(rows)):
        if f"lines.{i}" in messages:
            continue
        for field, text in result.intake.row_messages(i).items():
            if field in LINE_FIELDS:
                messages.setdefault(f"lines.{i}.{field}", text)
            elif field in SHARED_FIELDS:
                messages.setdefault(field, text)
            elif field != "encounter":  # a line's own problem beyond its fields (figures not finite)
                messages.setdefault(f"lines.{i}.{field}", text)
    if not messages and not result.columns["valid"].all():  # never an answer built from refused lines
        messages["lines"] = [text for i in range(len(rows)) for text in [result.columns["error"][i]] if text][:1]
    return result, rows, messages


#: The computed columns a batch's table is made of.
BATCH_RESULT = frozenset(
    (
        *levels("allowed"),
        *levels("patient"),
        "payer_expected",
        "balance_billing_expected",
        "pa_status",
        "warnings",
        "reduction_factor",
        "encounter_allowed_expected",
        "encounter_patient_expected",
        "encounter_pa_status",
        "professional_basis",
    )
)


def batch_table(raw, schedules, today=None, row_problems=None, encounter_problems=None):
    """Estimate a batch given as text cells.

    With an ``encounter_id`` column, adjacent rows of one id are one encounter (SPEC section 7) and four
    columns follow ``error``. ``row_problems`` (per row, a message or ``None``) makes rows fail before
    intake, with their encounters; ``encounter_problems`` adds to the id checks (across chunks).

    Returns the table (the input columns, then SPEC section 6's columns; figures are floats, NaN on rows
    that failed; text is not yet neutralised) and a boolean array: the rows priced on the national
    baseline because the payer has no rate for the code.
    """
    encounter = None
    if ENCOUNTER_ID in raw:
        ids = stripped_cells(raw[ENCOUNTER_ID])
        shared = {f: stripped_cells(raw[f]) for f in SHARED_FIELDS if f in raw}
        encounter, problems = encounters.from_ids(ids, shared)
        if encounter_problems is not None:
            problems = np.where(problems == None, encounter_problems, problems)  # noqa: E711
        encounter_problems = problems
    result = estimate(
        raw, schedules, today, encounter, encounter_problems, row_problems, explain=False, keep=BATCH_RESULT
    ).columns
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
    if encounter is not None:
        added["reduction_factor"] = result["reduction_factor"].astype("float64")
        added["encounter_allowed_expected"] = result["encounter_allowed_expected"].astype("float64")
        added["encounter_patient_expected"] = result["encounter_patient_expected"].astype("float64")
        added["encounter_prior_auth"] = np.where(ok, result["encounter_pa_status"], "").astype(object)
    # Text stays in object columns: cells may hold undecodable bytes (kept as surrogates) that an
    # Arrow-backed string column would refuse.
    table = pd.DataFrame({k: pd.Series(v, index=raw.index, dtype=v.dtype) for k, v in added.items()})
    assert list(table.columns) == list(BATCH_COLUMNS) + (list(ENCOUNTER_COLUMNS) if encounter is not None else [])
    # Priced on the national baseline range: the payer had no rate, or its rate (self-pay's, say) is on it.
    fallback = ok & (result["professional_basis"] == "baseline")
    return pd.concat([raw, table], axis=1), fallback


def stripped_cells(column):
    """A column of text cells, stripped, blank for a missing cell (once per distinct value)."""
    codes, uniques = factorize(column)
    stripped = np.array([u.strip() if isinstance(u, str) else "" for u in uniques] + [""], dtype=object)
    return stripped[codes]
