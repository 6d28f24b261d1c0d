"""Batch CSV in and out (SPEC section 6): streamed in chunks, every row kept, in order.

Rows are read with the csv module, so a row with the wrong number of fields or bytes that are not
UTF-8 is reported in its own ``error`` cell instead of stopping the file.
"""

import csv
import io
import re
import sys
import time
from collections import Counter
from itertools import islice

import numpy as np
import pandas as pd

from .errors import InputFileError
from .glossary import BATCH_COLUMNS, REQUEST_FIELDS, REQUIRED_FIELDS
from .service import batch_table

#: Cells a spreadsheet would run as a formula.
FORMULA_START = re.compile(r"^[=+\-@\t\r]")
_BAD_BYTES = re.compile(r"[\udc80-\udcff]")
DEFAULT_CHUNK_ROWS = 50_000


def neutralise(column):
    """Prefix formula-like cells of a text column with an apostrophe (vectorised)."""
    cells = pd.Series(column, dtype="object")
    risky = cells.str.match(FORMULA_START.pattern).fillna(False).to_numpy(bool)
    if not risky.any():
        return cells
    return cells.where(~risky, "'" + cells)


def _chunks(text_stream, chunk_rows):
    """Read the header, then yield (rows, problems) chunk by chunk; problems are (index, message)."""
    reader = csv.reader(text_stream)
    try:
        header = next(reader, None)
    except csv.Error as exc:
        raise InputFileError(f"the header row is not valid CSV: {exc}") from None
    if header is None or not any(h.strip() for h in header):
        raise InputFileError("the file is empty: a header row with cpt_code and payer_id is required")
    names = [h.strip() for h in header]
    missing = [f for f in REQUIRED_FIELDS if f not in names]
    if missing:
        raise InputFileError(f"the header has no {' and no '.join(missing)} column")
    twice = sorted({n for n in names if n and names.count(n) > 1})
    if twice:
        raise InputFileError(f"the header names {', '.join(twice)} more than once")
    width = len(header)

    def rows():
        while True:
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                yield [""] * width, f"row {reader.line_num} is not valid CSV: {exc}"
                continue
            if not row:
                continue  # a blank line is not a row
            if len(row) != width:
                yield (row + [""] * width)[:width], f"row has {len(row)} fields; the header has {width}"
            else:
                yield row, None

    source = rows()
    return header, names, source


def estimate_csv(source, sink, schedules, today=None, chunk_rows=DEFAULT_CHUNK_ROWS, progress=None):
    """Estimate a CSV from binary stream ``source`` into binary stream ``sink``, chunk by chunk.

    Returns a summary dict: ``rows``, ``estimated``, ``failed``, ``fallbacks`` (rows priced on the
    national baseline), ``prior_auth`` (rows per status) and ``errors`` (rows per error message). Raises
    ``InputFileError`` when the file as a whole cannot be read (empty, or no ``cpt_code`` or ``payer_id``
    column).
    """
    text_in = io.TextIOWrapper(source, encoding="utf-8-sig", errors="surrogateescape", newline="")
    text_out = io.TextIOWrapper(sink, encoding="utf-8", errors="surrogateescape", newline="", write_through=True)
    try:
        header, names, rows = _chunks(text_in, chunk_rows)
        out_header = [*(_neutral_text(h) for h in header), *BATCH_COLUMNS]
        csv.writer(text_out, lineterminator="\n").writerow(out_header)
        total = failed = fallbacks = 0
        prior_auth, errors = Counter(), Counter()
        started = time.perf_counter()
        while True:
            chunk = list(islice(rows, chunk_rows))
            if not chunk:
                break
            table, error, fallback, status = _estimate_chunk(chunk, names, schedules, today)
            table.to_csv(text_out, index=False, header=False, float_format="%.2f", lineterminator="\n")
            total += len(table)
            failed += int((error != "").sum())
            fallbacks += int((fallback & (error == "")).sum())
            prior_auth.update(_tally(status[error == ""]))
            errors.update(_tally(error[error != ""]))
            if progress:
                rate = total / max(time.perf_counter() - started, 1e-9)
                progress(f"{total:,} rows estimated ({rate:,.0f} rows/s), {failed:,} with errors")
        text_out.flush()
    finally:
        text_out.detach()
        text_in.detach()
    return {
        "rows": total,
        "estimated": total - failed,
        "failed": failed,
        "fallbacks": fallbacks,
        "prior_auth": dict(prior_auth),
        "errors": dict(errors.most_common()),
    }


def _neutral_text(text):
    return "'" + text if FORMULA_START.match(text) else text


def _estimate_chunk(chunk, names, schedules, today):
    raw = pd.DataFrame([row for row, _ in chunk], columns=names, dtype=object)
    table, fallback = batch_table(raw, schedules, today)
    error = table["error"].to_numpy(object).copy()
    for name in REQUEST_FIELDS:
        if name in raw.columns:
            bad = raw[name].str.contains(_BAD_BYTES.pattern).to_numpy(bool)
            error[bad] = f"{name}: not valid UTF-8 text"
    for i, (_, problem) in enumerate(chunk):
        if problem:
            error[i] = problem
    newly = (error != "") & (table["error"] == "").to_numpy()
    if newly.any():
        figures = [c for c in BATCH_COLUMNS if c not in ("prior_auth", "warnings", "error")]
        table.loc[newly, figures] = np.nan
        table.loc[newly, ["prior_auth", "warnings"]] = ""
    table["error"] = error
    status = table["prior_auth"].to_numpy(object)
    columns = {}
    for i, (_, column) in enumerate(table.items()):
        columns[i] = neutralise(column) if column.dtype == object else column
    return pd.DataFrame(columns), error, fallback, status


def _tally(values):
    """Count of each distinct value of an array of text."""
    distinct, counts = np.unique(values.astype(str), return_counts=True)
    return dict(zip(distinct.tolist(), counts.tolist(), strict=True))


def stderr_progress(message):
    """Progress reporter that writes one line to standard error."""
    print(message, file=sys.stderr, flush=True)
