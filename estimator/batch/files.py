"""Batch files by path: CSV or Parquet in and out, chosen by extension, ``-`` for standard input or output.

Every path runs the same chunk function as the CSV stream (:func:`estimator.batch.stream.estimate_rows`),
so their figures, warnings and errors are the same; only the reading and writing differ.
"""

import os
import time
from itertools import chain
from pathlib import Path

import numpy as np
import pandas as pd

from ..core.errors import InputFileError
from ..core.glossary import ENCOUNTER_ID, REQUIRED_FIELDS
from ..core.outputs import OutputError, OutputFile
from .stream import (
    DEFAULT_CHUNK_ROWS,
    FACTOR_OUTPUT,
    MONEY_OUTPUT,
    EncounterCarry,
    Tally,
    added_columns,
    clean_cells,
    csv_bytes,
    estimate_csv,
    estimate_rows,
    header_bytes,
    open_csv,
    passthrough_names,
)

PARQUET_SUFFIXES = (".parquet", ".pq")


def is_parquet(path):
    return str(path) != "-" and Path(str(path)).suffix.lower() in PARQUET_SUFFIXES


def check_paths(source, target):
    """Refuse an output that is the input itself (it would be overwritten as it is read)."""
    if "-" in (str(source), str(target)):
        return
    try:
        same = os.path.samefile(source, target)
    except OSError:  # one of them does not exist (yet): not the same file
        return
    if same:
        raise InputFileError(f"the output {target} is the input itself: give another output file")


def estimate_file(source, target, schedules, today=None, chunk_rows=DEFAULT_CHUNK_ROWS, progress=None, jobs=1):
    """Estimate ``source`` into ``target``; each is a path or ``-`` (CSV only), Parquet chosen by extension.

    ``jobs``: worker processes for CSV to CSV (see :func:`estimator.batch.stream.estimated_chunks`). A
    target file is written beside itself and renamed into place only once complete (:class:`OutputFile`):
    a refused input or an interrupted run leaves an existing target as it was.

    Returns the batch summary (see :func:`estimator.batch.iter_csv`).
    """
    check_paths(source, target)
    if not is_parquet(source) and not is_parquet(target):
        with _open(source, "rb") as src, OutputFile(target) as dst:
            return estimate_csv(src, dst, schedules, today, chunk_rows, progress, jobs)
    import pyarrow as pa
    import pyarrow.parquet as pq

    batches = _parquet_batches(source, chunk_rows) if is_parquet(source) else _csv_batches(source, chunk_rows)
    carry = []
    tally = Tally()
    writer = None
    started = time.perf_counter()
    with OutputFile(target) as dst:
        for passthrough, raw, problems in _regrouped(batches, carry):
            table, error, fallback, status = estimate_rows(raw, schedules, today, problems, *carry)
            tally.add(error, fallback, status)
            if is_parquet(target):
                added = pa.table({c: _arrow_column(c, table[c]) for c in added_columns(raw.columns)})
                if passthrough is None:
                    cells = {name: clean_cells(raw[name]) for name in raw.columns}
                    passthrough = pa.table({name: pa.array(c, type=pa.string()) for name, c in cells.items()})
                out = passthrough
                for name in added.column_names:
                    out = out.append_column(name, added[name])
                if writer is None:
                    writer = pq.ParquetWriter(dst.path or dst.handle, out.schema)
                try:
                    writer.write_table(out)
                except OSError as exc:
                    raise OutputError(target, exc) from exc
            else:
                if writer is None:
                    writer = _CsvWriter(dst, list(raw.columns))
                writer.write(table, len(raw.columns))
            if progress:
                progress(tally.rows, tally.failed, time.perf_counter() - started)
        if writer is None:
            raise InputFileError("the file has no rows")
        try:
            writer.close()
        except OSError as exc:
            raise OutputError(target, exc) from exc
    return tally.summary()


def _regrouped(batches, carry):
    """The batches, regrouped so that no encounter straddles two when the file has ``encounter_id``
    (the :class:`EncounterCarry` used is appended to ``carry``)."""
    first = next(batches, None)
    if first is None:
        return
    batches = chain([first], batches)
    if ENCOUNTER_ID not in first[1].columns:
        yield from batches
        return
    carry.append(EncounterCarry())
    yield from carry[0].regroup(batches)


class _CsvWriter:
    def __init__(self, sink, header):
        self.sink = sink
        sink.write(header_bytes(header))

    def write(self, table, inputs):
        self.sink.write(csv_bytes(table, inputs))

    def close(self):
        self.sink.flush()


def _arrow_column(name, column):
    import pyarrow as pa

    if name in MONEY_OUTPUT or name in FACTOR_OUTPUT:
        return pa.array(column.to_numpy("float64"), type=pa.float64(), from_pandas=True)
    return pa.array(clean_cells(column).tolist(), type=pa.string())  # an error may echo bytes that were not UTF-8


def _parquet_batches(source, chunk_rows):
    """(original columns, text cells, no problems) per record batch of a Parquet file."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    parquet = pq.ParquetFile(source)
    names = parquet.schema_arrow.names
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:  # as a CSV header with a column twice is refused: which one would be the request's?
        raise InputFileError(f"the column {', '.join(repr(n) for n in twice)} appears twice")
    missing = [f for f in REQUIRED_FIELDS if f not in names]
    if missing:
        raise InputFileError(f"the file has no {' and no '.join(missing)} column")
    renamed = passthrough_names(names)
    for batch in parquet.iter_batches(batch_size=chunk_rows):
        table = pa.Table.from_batches([batch]).rename_columns(renamed)
        yield table, text_cells(table), {}


def text_cells(table):
    """An Arrow table's columns as text cells (nulls blank), as a CSV of the same data would hold."""
    import pyarrow as pa
    import pyarrow.compute as pc

    columns = {}
    for name, column in zip(table.column_names, table.columns, strict=True):
        kind = column.type
        if pa.types.is_floating(kind):
            values = column.to_numpy(zero_copy_only=False)
            text = [repr(v) if v == v else "" for v in values.tolist()]
        elif pa.types.is_string(kind) or pa.types.is_large_string(kind):
            text = column.fill_null("").to_pylist()
        elif pa.types.is_binary(kind) or pa.types.is_large_binary(kind) or pa.types.is_fixed_size_binary(kind):
            text = [v.decode("utf-8", "replace") if v is not None else "" for v in column.to_pylist()]
        elif pa.types.is_nested(kind) or not _castable(kind):
            text = [_json_text(v) for v in column.to_pylist()]  # a list, a struct, a map: its JSON text
        else:
            text = pc.cast(column, pa.string()).fill_null("").to_pylist()
        columns[name] = pd.Series(np.array(text, dtype=object), dtype=object)
    return pd.DataFrame(columns)


def _castable(kind):
    """Whether Arrow casts a column of this type to text (numbers, dates, times, booleans, ...)."""
    import pyarrow as pa

    try:
        pa.array([], type=kind).cast(pa.string())
    except (pa.ArrowNotImplementedError, pa.ArrowInvalid, TypeError):
        return False
    return True


def _json_text(value):
    """A nested Parquet value as the JSON text a person would read (blank for null)."""
    import json

    return "" if value is None else json.dumps(value, default=str, ensure_ascii=False)


def _csv_batches(source, chunk_rows):
    """(no original columns, text cells, row problems) per chunk of a CSV file."""
    with _open(source, "rb") as src:
        _, _, chunks = open_csv(src, chunk_rows)
        for raw, problems in chunks:
            yield None, raw, problems


class _open:
    """Open a path, or standard input/output for ``-``, as a binary stream."""

    def __init__(self, path, mode):
        self.path, self.mode = str(path), mode

    def __enter__(self):
        import sys

        if self.path == "-":
            self.handle = None
            return sys.stdin.buffer if "r" in self.mode else sys.stdout.buffer
        self.handle = open(self.path, self.mode)  # noqa: SIM115 - closed in __exit__
        return self.handle

    def __exit__(self, *exc):
        if self.handle is not None:
            self.handle.close()
