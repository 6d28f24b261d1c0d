"""Batch CSV in and out (SPEC section 6): streamed in chunks, every row kept, in order.

Rows are read with the csv module, so a row with the wrong number of fields or bytes that are not
UTF-8 is reported in its own ``error`` cell instead of stopping the file.
"""

import csv
import datetime as dt
import io
import os
import re
import sys
import time
from collections import Counter, deque
from itertools import chain, islice

import numpy as np
import pandas as pd

from ..core import encounters
from ..core.csvrecords import RUN_ON, LineTap, first_line_cells, span
from ..core.errors import InputFileError
from ..core.glossary import BATCH_COLUMNS, ENCOUNTER_COLUMNS, ENCOUNTER_ID, REQUEST_FIELDS, REQUIRED_FIELDS
from ..core.matching import categorical_codes, factorize
from ..core.service import batch_table, stripped_cells

#: Cells a spreadsheet would run as a formula.
FORMULA_START = re.compile(r"^[=+\-@\t\r]")
_NEEDS_QUOTES = re.compile(r'[",\r\n]')
#: A cell that is neutralised or quoted: the two patterns above in one.
_TO_QUOTE = re.compile(r'^[=+\-@\t\r]|[",\r\n]')
#: The figure columns of the output (the first eight added columns).
MONEY_COLUMNS = BATCH_COLUMNS[:8]
_BAD_BYTES = re.compile(r"[\udc80-\udcff]")
DEFAULT_CHUNK_ROWS = 50_000


def neutral_texts(column, quote=False):
    """(codes, texts) of a text column: each distinct cell once, formula-like cells prefixed with an
    apostrophe and bytes that were not UTF-8 written as U+FFFD, so the output is always valid UTF-8.
    ``texts`` is an Arrow array that ends with ``""``, the text of a missing cell (code -1 is mapped to
    it).

    With ``quote``, each text is also quoted as ``csv.writer`` would (minimal quoting), so that rows can
    be joined with commas directly. The cells to change are found by Arrow's regular expressions; only
    those few are changed in Python.
    """
    codes, uniques = factorize(column)
    return _neutral_dictionary(codes, uniques, quote)


def _neutral_dictionary(codes, uniques, quote):
    """:func:`neutral_texts` of a column given as its codes and distinct values."""
    import pyarrow as pa
    import pyarrow.compute as pc

    text = pa.large_string()
    try:
        texts = pa.array(uniques, type=text).fill_null("")
    except (pa.ArrowInvalid, pa.ArrowTypeError, UnicodeEncodeError):  # bytes that were not UTF-8, or not text
        texts = pa.array([_clean_text(u) if isinstance(u, str) else "" for u in uniques], type=text)
    flagged = pc.match_substring_regex(texts, _TO_QUOTE.pattern if quote else FORMULA_START.pattern)
    if len(texts) and pc.any(flagged).as_py():
        fixed = [_neutral_text(t) for t in texts.filter(flagged).to_pylist()]
        if quote:
            fixed = ['"' + t.replace('"', '""') + '"' if _NEEDS_QUOTES.search(t) else t for t in fixed]
        texts = pc.replace_with_mask(texts, flagged, pa.array(fixed, type=text))
    texts = pa.concat_arrays([texts, pa.array([""], type=text)])
    if len(codes) and codes.min() < 0:
        codes = np.where(codes < 0, len(texts) - 1, codes)
    return codes, texts


def neutralise(column, quote=False):
    """A text column with formula-like cells neutralised and undecodable bytes replaced (see
    :func:`neutral_texts`), as an object array."""
    codes, texts = neutral_texts(column, quote)
    return np.array(texts.to_pylist(), dtype=object)[codes]


def clean_cells(column):
    """A text column with bytes that were not UTF-8 written as U+FFFD (once per distinct value)."""
    codes, uniques = factorize(column)
    fixed = [_clean_text(u) if isinstance(u, str) else "" for u in uniques] + [""]
    return np.array(fixed, dtype=object)[codes]


def money_texts(values):
    """(codes, texts) of dollar amounts with two decimals, blank for NaN (the last text).

    Amounts are whole cents (the engine rounds them), so their text is built from integer cents by
    Arrow; any amount that is not, or is negative, is formatted by Python as ``f"{v:.2f}"``.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    codes, uniques = pd.factorize(np.asarray(values, dtype="float64"), use_na_sentinel=True)
    uniques = np.asarray(uniques, dtype="float64")
    text = pa.large_string()
    with np.errstate(invalid="ignore", over="ignore"):
        cents = np.rint(uniques * 100.0)
        exact = (uniques >= 0) & (cents < 2.0**53) & (cents / 100.0 == uniques)
    whole = cents.astype("int64", copy=False) if exact.all() else np.where(exact, cents, 0).astype("int64")
    texts = pc.binary_join_element_wise(
        pc.cast(pa.array(whole // 100), text),
        pc.utf8_lpad(pc.cast(pa.array(whole % 100), text), 2, "0"),
        pa.scalar(".", text),
    )
    if not exact.all():
        odd = ~exact
        fixed = pa.array([f"{v:.2f}" for v in uniques[odd].tolist()], type=text)
        texts = pc.replace_with_mask(texts, pa.array(odd), fixed)
    texts = pa.concat_arrays([texts, pa.array([""], type=text)])
    return np.where(codes < 0, len(texts) - 1, codes), texts


def factor_texts(values):
    """(codes, texts) of factors as short text (``0.5``, ``0.6667``), blank for NaN (the last text)."""
    import pyarrow as pa

    codes, uniques = pd.factorize(np.asarray(values, dtype="float64"), use_na_sentinel=True)
    texts = pa.array([f"{v:.4g}" for v in uniques.tolist()] + [""], type=pa.large_string())
    return np.where(codes < 0, len(texts) - 1, codes), texts


def not_utf8(column):
    """Rows whose cell held bytes that are not UTF-8 (decoded as surrogates), once per distinct value."""
    codes, uniques = factorize(column)
    bad = np.array([isinstance(u, str) and bool(_BAD_BYTES.search(u)) for u in uniques] or [False])
    return bad[codes] if bad.any() else np.zeros(len(codes), dtype=bool)


_LINE_END = re.compile(rb"\r\n?|\n")
_READ_SIZE = 1 << 22


class _ByteLines:
    """A binary stream as lines of text (UTF-8, undecodable bytes kept as surrogates, a leading BOM
    dropped, each line ending at ``\\n``, ``\\r\\n`` or ``\\r`` as ``open(newline="")`` reads them), or, where the
    file is plain, as whole blocks of lines for a CSV parser in C (:meth:`plain_block`)."""

    def __init__(self, stream):
        self.stream = stream
        self.buffer = b""
        self.start = 0  # the unread part of ``buffer`` begins here
        self.eof = False
        self._read()
        if self.buffer.startswith(b"\xef\xbb\xbf"):
            self.start = 3

    def _read(self):
        data = self.stream.read(_READ_SIZE)
        if not data:
            self.eof = True
        self.buffer = self.buffer[self.start :] + data if self.start else self.buffer + data
        self.start = 0

    def __iter__(self):
        return self

    def __next__(self):
        while True:
            match = _LINE_END.search(self.buffer, self.start)
            if match is not None and (match.group() != b"\r" or match.end() < len(self.buffer) or self.eof):
                line, self.start = self.buffer[self.start : match.end()], match.end()
                return line.decode("utf-8", "surrogateescape")
            if self.eof:
                if self.start >= len(self.buffer):
                    raise StopIteration
                line, self.start = self.buffer[self.start :], len(self.buffer)
                return line.decode("utf-8", "surrogateescape")
            self._read()  # a line end not yet seen, or a ``\\r`` that a ``\\n`` may follow

    def plain_block(self, rows):
        """The bytes of the next ``rows`` lines (fewer at the end of the file) if they are plain CSV that
        any reader splits alike: no quote, NUL or lone carriage return, and no line longer than the csv
        module's field limit (which it refuses and Arrow would not); else ``None``, and nothing is
        consumed. The caller takes the block with :meth:`consume`."""
        found = self.buffer.count(b"\n", self.start)
        while not self.eof and found < rows:
            kept = len(self.buffer) - self.start
            self._read()  # the unread bytes move to the front; only the new ones are counted
            found += self.buffer.count(b"\n", kept)
        ends = np.flatnonzero(np.frombuffer(self.buffer, dtype=np.uint8, offset=self.start) == 10)
        if len(ends) >= rows:
            ends = ends[:rows]
            end = self.start + int(ends[-1]) + 1
        elif self.eof:
            end = len(self.buffer)
        else:
            return None
        starts = np.concatenate([[0], ends + 1])  # each line's first byte, and the block's end
        if len(starts) and np.diff(np.append(starts, end - self.start)).max(initial=0) > csv.field_size_limit():
            return None
        block = self.buffer[self.start : end]
        if b'"' in block or b"\x00" in block or block.count(b"\r") != block.count(b"\r\n"):
            return None
        return block

    def consume(self, block):
        self.start += len(block)


#: Most columns a batch file may have: a header beyond this is refused before any other work.
MAX_COLUMNS = 1_000


def _clean_text(text):
    """Text with each byte that was not UTF-8 (read as a surrogate) replaced by U+FFFD."""
    return _BAD_BYTES.sub("\ufffd", text) if _BAD_BYTES.search(text) else text


def added_columns(names):
    """The columns a batch output adds after the input's: SPEC section 6's, and section 7's four more
    when the input has an ``encounter_id`` column."""
    return (*BATCH_COLUMNS, *ENCOUNTER_COLUMNS) if ENCOUNTER_ID in names else BATCH_COLUMNS


def passthrough_names(names, added=None):
    """Input column names, each that an output column also has renamed ``input_<name>`` (prefixed again
    until unique), so that feeding a batch's output back in keeps every column and adds fresh ones."""
    added = added_columns(names) if added is None else added
    taken = set(names) | set(added)
    out = []
    for name in names:
        if name in added:
            new = "input_" + name
            while new in taken:
                new = "input_" + new
            taken.add(new)
            name = new
        out.append(name)
    return out


def _open_reader(lines):
    """The CSV reader positioned after a checked header: (reader, tap, header as written, names stripped).

    Header cells that were not UTF-8 are written with U+FFFD, and input columns that share a name with
    an output column are renamed (see :func:`passthrough_names`).
    """
    tap = LineTap(lines)
    reader = csv.reader(tap, strict=True)  # a quote still open at the end of the file is an error
    try:
        header = next(reader, None)
        while header is not None and not any(h.strip() for h in header):
            header = next(reader, None)  # blank lines before the header
    except csv.Error as exc:
        raise InputFileError(f"the header row is not valid CSV: {exc}") from None
    if header is None:
        raise InputFileError("the file is empty: a header row with cpt_code and payer_id is required")
    if len(header) > MAX_COLUMNS:
        raise InputFileError(f"the header has {len(header):,} columns; a batch may have at most {MAX_COLUMNS:,}")
    header = [_clean_text(h) for h in header]
    names = [h.strip() for h in header]
    missing = [f for f in REQUIRED_FIELDS if f not in names]
    if missing:
        raise InputFileError(f"the header has no {' and no '.join(missing)} column")
    twice = sorted(n for n, count in Counter(names).items() if n and count > 1)
    if twice:
        raise InputFileError(f"the header names {', '.join(twice)} more than once")
    renamed = passthrough_names(names)
    header = [h if n == r else r for h, n, r in zip(header, names, renamed, strict=True)]
    return reader, tap, header, renamed


def _read_chunk(reader, tap, chunk_rows, width):
    """Up to ``chunk_rows`` rows, each of ``width`` cells, {row index: problem} for broken rows, and
    whether the file has ended (a chunk may hold no row when its lines are all blank).

    Rows are pulled by the csv module in C; only the rare broken record is handled in Python. A record
    that is not valid CSV (a field over the size limit), or that has the wrong number of fields and
    line breaks in its cells (a stray quote swallowed the lines after it), is reported as its first
    line alone, and its other lines are given back to the reader to be read again as rows of their
    own. So every line of the file comes back exactly once, in order, whatever the file holds.
    """
    rows, problems = [], {}
    while len(rows) < chunk_rows:
        tap.lines.clear()
        start = len(rows)
        failure = None
        try:
            rows.extend(islice(reader, chunk_rows - start))
        except csv.Error as exc:  # the rows read before the broken record are already in ``rows``
            failure = f"row is not valid CSV: {exc}"
        lengths = np.fromiter(map(len, rows[start:]), dtype=np.int64, count=len(rows) - start)
        wrong = np.flatnonzero((lengths != width) & (lengths > 0)).tolist()
        run_on = next((i for i in wrong if any("\n" in c or "\r" in c for c in rows[start + i])), None)
        if run_on is not None:
            failure = RUN_ON
            del rows[start + run_on :]
        if failure is None:
            break
        used = sum(map(span, rows[start:]))
        record = tap.lines[used:] or [""]
        if len(record) > 1:
            failure = RUN_ON
            tap.push_back(record[1:])  # read again, after the broken line, as rows of their own
        problems[len(rows)] = failure
        rows.append(first_line_cells(record[0]))
    exhausted = len(rows) < chunk_rows  # blank lines included: fewer records than asked is the file's end
    lengths = np.fromiter(map(len, rows), dtype=np.int64, count=len(rows))
    if (lengths == 0).any():  # a blank line is not a row
        keep = np.flatnonzero(lengths != 0)
        new_index = {old: new for new, old in enumerate(keep.tolist())}
        problems = {new_index[i]: m for i, m in problems.items() if i in new_index}
        rows = [rows[i] for i in keep.tolist()]
        lengths = lengths[keep]
    for i in np.flatnonzero(lengths != width).tolist():
        problems.setdefault(i, f"row has {lengths[i]} fields; the header has {width}")
        rows[i] = (rows[i] + [""] * width)[:width]
    return rows, problems, exhausted


def _counts(values):
    """Count of each distinct value of an array of text (vectorised)."""
    distinct, counts = np.unique(values.astype(str), return_counts=True)
    return dict(zip(distinct.tolist(), counts.tolist(), strict=True))


def chunk_counts(error, fallback, status):
    """A chunk's counts for :class:`Tally`: rows, failed, fallbacks, rows per status, rows per error."""
    ok = error == ""
    return len(error), int((~ok).sum()), int((fallback & ok).sum()), _counts(status[ok]), _counts(error[~ok])


class Tally:
    """Counts of a batch as it goes: rows, failures by message, baseline fallbacks, prior-auth statuses."""

    def __init__(self):
        self.rows = self.failed = self.fallbacks = 0
        self.prior_auth, self.errors = Counter(), Counter()

    def add(self, error, fallback, status):
        self.merge(chunk_counts(error, fallback, status))

    def merge(self, counts):
        """Add the counts of one chunk (see :func:`chunk_counts`)."""
        rows, failed, fallbacks, prior_auth, errors = counts
        self.rows += rows
        self.failed += failed
        self.fallbacks += fallbacks
        self.prior_auth.update(prior_auth)
        self.errors.update(errors)

    def summary(self):
        return {
            "rows": self.rows,
            "estimated": self.rows - self.failed,
            "failed": self.failed,
            "fallbacks": self.fallbacks,
            "prior_auth": dict(self.prior_auth),
            "errors": dict(self.errors.most_common()),
        }


def open_csv(source, chunk_rows=DEFAULT_CHUNK_ROWS):
    """Check the header of a CSV read from binary stream ``source`` now; returns (header as written,
    names stripped, chunks).

    ``chunks`` yields (text cells as a DataFrame of categorical columns, {row index: problem}) of up to
    ``chunk_rows`` rows. Runs of plain lines (no quotes, NUL bytes or lone carriage returns, valid
    UTF-8, every row as wide as the header) are parsed by Arrow in C; any other run is read row by row
    with the csv module, so that a broken row is reported in its own ``error`` cell. Both give the same
    cells. Raises ``InputFileError`` when the file as a whole cannot be read.
    """
    lines = _ByteLines(source)
    reader, tap, header, names = _open_reader(lines)

    def chunks():
        while True:
            frame = None if tap.pending else _plain_chunk(lines, chunk_rows, names)
            if frame is not None:
                if len(frame):
                    yield frame, {}
                continue
            rows, problems, exhausted = _read_chunk(reader, tap, chunk_rows, len(header))
            if not rows:
                if exhausted:
                    return
                continue  # a chunk of blank lines only: the file goes on
            frame = _coded_frame(zip(*rows, strict=True), names)
            del rows  # only one chunk of rows alive at a time
            yield frame, problems
            del frame

    return header, names, chunks()


def _plain_chunk(lines, chunk_rows, names):
    """The next ``chunk_rows`` lines parsed by Arrow as text cells, or ``None`` (nothing consumed) when
    they are not plain, not UTF-8 or not all as wide as the header; an empty frame for blank lines."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    # Arrow's own Ctrl-C handler, set while it parses, hands a signal to a helper thread that may see it
    # only after the parse has ended: the signal is then lost. A chunk parses in milliseconds, so Python's
    # handler, left in place, stops the batch as soon as the parse returns.
    pa.enable_signal_handlers(False)
    block = lines.plain_block(chunk_rows)
    if not block:
        return None
    keys = [str(i) for i in range(len(names))]
    coded = pa.dictionary(pa.int32(), pa.string())  # each column as codes into its distinct texts
    try:
        table = pacsv.read_csv(
            pa.py_buffer(block),
            read_options=pacsv.ReadOptions(column_names=keys, block_size=len(block) + 1),  # one dictionary
            parse_options=pacsv.ParseOptions(quote_char=False),
            convert_options=pacsv.ConvertOptions(
                column_types=dict.fromkeys(keys, coded), strings_can_be_null=False, check_utf8=True
            ),
        )
    except (pa.ArrowInvalid, ValueError):  # a row of another width, or bytes that are not UTF-8
        return None
    lines.consume(block)
    _release_arrow_memory()
    columns = []
    for column in table.unify_dictionaries().columns:
        encoded = column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
        if not len(encoded):
            encoded = pa.array([], type=pa.string()).dictionary_encode()
        columns.append((encoded.indices.to_numpy(zero_copy_only=False), encoded.dictionary.to_pylist()))
    return _frame(columns, names)


def _coded_frame(columns, names):
    """A frame of categorical columns from columns of text cells (each factorised once)."""
    coded = []
    for cells in columns:
        codes, uniques = pd.factorize(np.asarray(cells, dtype=object))
        coded.append((codes, uniques.tolist() if hasattr(uniques, "tolist") else list(uniques)))
    return _frame(coded, names)


def _frame(coded, names):
    data = {}
    for name, (codes, uniques) in zip(names, coded, strict=True):
        categories = pd.Index(uniques, dtype=object)
        data[name] = pd.Categorical.from_codes(codes, categories=categories, validate=False)
    return pd.DataFrame(data, copy=False)


def iter_csv(source, schedules, today=None, chunk_rows=DEFAULT_CHUNK_ROWS, progress=None, summary=None, jobs=1):
    """Estimate a CSV from binary stream ``source``, yielding the output CSV as bytes, chunk by chunk.

    The header is checked before the first yield, so ``InputFileError`` (empty file, no ``cpt_code`` or
    ``payer_id`` column) comes before any output. Memory stays bounded by ``chunk_rows`` whatever the
    file's size. With ``jobs`` over 1, chunks are estimated by that many worker processes while this one
    reads and writes (see :func:`estimated_chunks`); the output is the same. When the generator is
    exhausted, ``summary`` (a dict, if given) holds ``rows``, ``estimated``, ``failed``, ``fallbacks``
    (rows priced on the national baseline), ``prior_auth`` (rows per status) and ``errors`` (rows per
    error message).
    """
    header, names, chunks = open_csv(source, chunk_rows)
    yield header_bytes(header)
    today = today or dt.date.today()  # one day for every chunk, in every process
    tally = Tally()
    started = time.perf_counter()
    carry = EncounterCarry() if ENCOUNTER_ID in names else None
    if carry is not None:
        chunks = ((raw, problems) for _, raw, problems in carry.regroup((None, r, q) for r, q in chunks))
    # The id checks across chunks keep state, so they run here, in order, before a chunk is handed out.
    work = ((raw, problems, carry.problems(raw) if carry is not None else None) for raw, problems in chunks)
    for data, counts in estimated_chunks(work, schedules, today, len(names), jobs):
        yield data
        tally.merge(counts)
        if progress:
            progress(tally.rows, tally.failed, time.perf_counter() - started)
    if summary is not None:
        summary.update(tally.summary())


def _estimate_chunk(raw, problems, across, schedules, today, inputs):
    """One chunk's output CSV bytes and its counts (the unit of work of a worker process)."""
    table, error, fallback, status = estimate_rows(raw, schedules, today, problems, across=across)
    return csv_bytes(table, inputs), chunk_counts(error, fallback, status)


_WORKER = {}


def _start_worker(schedules, today, lifeline):
    import signal
    import threading

    # Ctrl-C and SIGTERM are the main process's to handle: it stops the pool, and these workers with it.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    threading.Thread(target=_exit_with_main, args=(lifeline,), daemon=True).start()
    _WORKER.update(schedules=schedules, today=today)


def _exit_with_main(lifeline):
    """Wait on the pipe only the main process holds open: when it dies (even by SIGKILL), the pipe ends and
    this worker exits at once, with whatever chunk it was estimating."""
    try:
        lifeline.recv()
    except (EOFError, OSError):
        pass
    os._exit(1)


def _worker_chunk(raw, problems, across, inputs):
    out = _estimate_chunk(raw, problems, across, _WORKER["schedules"], _WORKER["today"], inputs)
    _release_arrow_memory()
    return out


def _release_arrow_memory():
    """Give the memory Arrow's pool keeps for reuse back to the system (a chunk's worth at a time)."""
    import pyarrow as pa

    pa.default_memory_pool().release_unused()


def estimated_chunks(work, schedules, today, inputs, jobs=1):
    """(output bytes, counts) per chunk of ``work`` ((text cells, row problems, id problems) per chunk),
    in order.

    With ``jobs`` over 1 and more than one chunk, a pool of ``jobs`` worker processes (started by a
    fork server that has imported the package) estimates the chunks, at most ``2 * jobs`` at a time,
    while this process reads the next ones and writes the finished ones in their order. Cells travel
    between processes in memory only. A file of one chunk is estimated here, without starting workers.
    """
    work = iter(work)
    first = next(work, None)
    if first is None:
        return
    second = next(work, None) if jobs > 1 else None
    if second is None:
        for raw, problems, across in chain([first], work):
            yield _estimate_chunk(raw, problems, across, schedules, today, inputs)
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    if "forkserver" in multiprocessing.get_all_start_methods():
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload([__name__])
    else:  # no fork server on this system: each worker starts a fresh interpreter
        context = multiprocessing.get_context("spawn")
    lifeline, held = context.Pipe(duplex=False)  # the workers wait on one end; this process holds the other
    pool = ProcessPoolExecutor(
        jobs, mp_context=context, initializer=_start_worker, initargs=(schedules, today, lifeline)
    )
    pending = deque()
    try:
        for raw, problems, across in chain([first, second], work):
            pending.append(pool.submit(_worker_chunk, raw, problems, across, inputs))
            del raw, problems, across
            while len(pending) > jobs:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        held.close()
        lifeline.close()


def header_bytes(header):
    """The output's header line as UTF-8 (see :func:`csv_header`)."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(csv_header(header))
    return buffer.getvalue().encode("utf-8", errors="replace")  # cells are clean already: a safety net


def estimate_csv(source, sink, schedules, today=None, chunk_rows=DEFAULT_CHUNK_ROWS, progress=None, jobs=1):
    """Estimate a CSV from binary stream ``source`` into binary stream ``sink``; returns the summary.

    See :func:`iter_csv` for ``jobs``, the summary and the errors raised.
    """
    summary = {}
    for data in iter_csv(source, schedules, today, chunk_rows, progress, summary, jobs):
        sink.write(data)
    sink.flush()
    return summary


def _neutral_text(text):
    return "'" + text if FORMULA_START.match(text) else text


def estimate_rows(raw, schedules, today=None, problems=None, carry=None, across=None):
    """Estimate a chunk given as text cells, with row problems found while reading it.

    A row with a problem (broken CSV, request text that is not UTF-8) fails before intake, and so does
    the rest of its encounter. ``carry`` (an :class:`EncounterCarry`) checks encounter ids against the
    earlier chunks (or ``across`` gives the problems it found, per row). Returns the table (the input
    columns, then the added columns, figures as floats)
    and, per row, the error text, whether the payer's rate was missing (baseline fallback) and the
    prior-auth status.
    """
    row_problems = np.full(len(raw), None, dtype=object)
    for name in REQUEST_FIELDS:
        if name in raw.columns:
            row_problems[not_utf8(raw[name])] = f"{name}: not valid UTF-8 text"
    for i, problem in (problems or {}).items():
        row_problems[i] = problem
    if carry is not None and ENCOUNTER_ID in raw.columns:
        across = carry.problems(raw)
    table, fallback = batch_table(raw, schedules, today, row_problems, across)
    error = table["error"].to_numpy(object).copy()
    has_problem = row_problems != None  # noqa: E711
    error[has_problem] = row_problems[has_problem]  # the problem itself, not "row: ..."
    newly = (error != "") & (table["error"] == "").to_numpy()
    if newly.any():
        table.loc[newly, list(MONEY_COLUMNS)] = np.nan
        table.loc[newly, ["prior_auth", "warnings"]] = ""
    table["error"] = pd.Series(error, index=table.index, dtype=object)  # text may hold undecodable bytes
    return table, error, fallback, table["prior_auth"].to_numpy(object)


class EncounterCarry:
    """Keeps every encounter of a batch in one chunk, and its id checks across chunks.

    :meth:`regroup` holds back the rows of a chunk's last encounter (at most ``MAX_LINES``) and puts
    them before the next chunk, so that an encounter that straddles two chunks is estimated whole and
    once, its rows in order. :meth:`problems` remembers the ids of the earlier chunks (as 64-bit
    hashes), so that an id that appears again after another one is refused there too.
    """

    def __init__(self):
        self.seen = set()
        self.spill = None  # the id of an over-long encounter that a chunk ended in

    def regroup(self, chunks):
        """Chunks of (passthrough or None, text cells, {row: problem}), regrouped at encounter bounds.

        The chunk after each one is read before it is given out, so that the last chunk is never split.
        """
        chunks = iter(chunks)
        chunk, pending = next(chunks, None), None
        while chunk is not None:
            if pending is not None:
                chunk, pending = _join(pending, chunk), None
            upcoming = next(chunks, None)
            if upcoming is not None:
                ids = stripped_cells(chunk[1][ENCOUNTER_ID])
                run = _trailing_run(ids)
                if 0 < run <= encounters.MAX_LINES:
                    if run == len(ids):
                        pending, chunk = chunk, upcoming
                        continue
                    chunk, pending = _split(chunk, len(ids) - run)
            yield chunk
            chunk = upcoming

    def problems(self, raw):
        """Per row of a regrouped chunk, the id problems that only the earlier chunks show."""
        ids = stripped_cells(raw[ENCOUNTER_ID])
        out = np.full(len(ids), None, dtype=object)
        lead = _leading_run(ids, self.spill) if self.spill else 0
        out[:lead] = encounters.TOO_MANY_LINES
        heads = np.flatnonzero(encounters.starts_of(ids) & (ids != ""))
        heads = heads[heads >= lead]
        keys = np.array([i.encode("utf-8", "surrogateescape") for i in ids[heads].tolist()], dtype=object)
        hashes = pd.util.hash_array(keys).tolist() if len(heads) else []  # bytes: ids may not be UTF-8
        again = [h in self.seen for h in hashes]
        if any(again):
            run_of = np.cumsum(encounters.starts_of(ids)) - 1
            flagged = np.zeros(run_of.max() + 1, dtype=bool)
            flagged[run_of[heads[np.array(again)]]] = True
            mask = flagged[run_of] & (out == None)  # noqa: E711
            out[mask] = [encounters.ID_REAPPEARS.format(id=i) for i in ids[mask]]
        self.seen.update(hashes)
        run = _trailing_run(ids)
        self.spill = ids[-1] if run > encounters.MAX_LINES else None
        return out


def _trailing_run(ids):
    """Rows at the end sharing the last (non-blank) id."""
    if not len(ids) or ids[-1] == "":
        return 0
    differ = np.flatnonzero(ids != ids[-1])
    return len(ids) - (differ[-1] + 1 if len(differ) else 0)


def _leading_run(ids, value):
    differ = np.flatnonzero(ids != value)
    return int(differ[0]) if len(differ) else len(ids)


def _split(chunk, at):
    passthrough, raw, problems = chunk
    head = (
        passthrough.slice(0, at) if passthrough is not None else None,
        raw.iloc[:at],
        {i: m for i, m in problems.items() if i < at},
    )
    tail = (
        passthrough.slice(at) if passthrough is not None else None,
        raw.iloc[at:].reset_index(drop=True),
        {i - at: m for i, m in problems.items() if i >= at},
    )
    return head, tail


def _join(first, second):
    (p1, r1, q1), (p2, r2, q2) = first, second
    passthrough = None
    if p1 is not None:
        import pyarrow as pa

        passthrough = pa.concat_tables([p1, p2])
    problems = {**q1, **{i + len(r1): m for i, m in q2.items()}}
    return passthrough, _concat(r1, r2), problems


def _concat(first, second):
    """Two frames of text cells, one after the other; categorical columns stay categorical, the first
    frame's cells coded in the second's categories (the first is the few rows held back)."""
    columns = {}
    for name in first.columns:
        a, b = first[name], second[name]
        if categorical_codes(b) is None:
            cells = np.concatenate([np.asarray(a, dtype=object), np.asarray(b, dtype=object)])
            columns[name] = pd.Series(cells, dtype=object)  # never inferred as Arrow strings
            continue
        cells = pd.Index(np.asarray(a, dtype=object), dtype=object)  # text, never inferred as Arrow strings
        categories = pd.Index(b.array.categories, dtype=object)
        codes = categories.get_indexer(cells)
        extra = list(dict.fromkeys(cells[codes < 0].tolist()))
        if extra:
            categories = pd.Index(categories.tolist() + extra, dtype=object)
            codes = categories.get_indexer(cells)
        both = np.concatenate([codes, np.asarray(b.array.codes)]).astype("int64")
        columns[name] = pd.Categorical.from_codes(both, categories=categories, validate=False)
    return pd.DataFrame(columns, columns=first.columns, copy=False)


#: Added columns written as dollars with two decimals, and as a plain factor.
MONEY_OUTPUT = frozenset({*MONEY_COLUMNS, "encounter_allowed_expected", "encounter_patient_expected"})
FACTOR_OUTPUT = frozenset({"reduction_factor"})


def coded_cells(table, inputs, quote=False):
    """Per output column, (codes, texts): figures with two decimals, factors as they are, text
    neutralised (and, with ``quote``, quoted as ``csv.writer`` would). Each distinct value is formatted
    once (the amounts of all money columns together); ``texts[codes]`` is the column's cells."""
    names = list(table.columns)
    money = [i for i, name in enumerate(names) if i >= inputs and name in MONEY_OUTPUT]
    out = [None] * len(names)
    if money:
        stacked = np.concatenate([table.iloc[:, i].to_numpy("float64") for i in money])
        codes, texts = money_texts(stacked)
        for k, i in enumerate(money):
            out[i] = (codes[k * len(table) : (k + 1) * len(table)], texts)
    for i, (name, column) in enumerate(table.items()):
        if out[i] is not None:
            continue
        if i >= inputs and name in FACTOR_OUTPUT:
            out[i] = factor_texts(column)
        elif i >= inputs and categorical_codes(column) is None:
            out[i] = _neutral_dictionary(*_by_identity(column), quote)  # texts the engine made: few objects
        else:
            out[i] = neutral_texts(column, quote)
    return out


def _by_identity(column):
    """(codes, distinct objects) of an object column: equal texts held in different objects may come
    twice, which is harmless for writing and cheaper than hashing long texts such as the warnings."""
    cells = np.asarray(column, dtype=object)
    codes, _ = pd.factorize(np.fromiter(map(id, cells), dtype=np.int64, count=len(cells)))
    _, position = np.unique(codes, return_index=True)
    return codes.astype("int64"), cells[position].tolist()


def csv_cells(table, inputs, quote=False):
    """The output columns as CSV text cells (object arrays); see :func:`coded_cells`."""
    return [np.array(texts.to_pylist(), dtype=object)[codes] for codes, texts in coded_cells(table, inputs, quote)]


def csv_bytes(table, inputs):
    """The output rows of a chunk as UTF-8 CSV, one line per row.

    Each column's distinct texts get their separator (a comma, or the line end for the last column);
    then one Arrow ``take`` over all columns' texts, row by row, lays the cells out in file order, so
    the taken array's data is the CSV itself.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    if not len(table):
        return b""
    text = pa.large_string()
    cells = coded_cells(table, inputs, quote=True)
    order = np.empty((len(table), len(cells)), dtype=np.int64)
    dictionaries, start = [], 0
    for j, (codes, texts) in enumerate(cells):
        end = "\n" if j == len(cells) - 1 else ","
        dictionaries.append(pc.binary_join_element_wise(texts, pa.scalar("", text), pa.scalar(end, text)))
        order[:, j] = codes
        order[:, j] += start
        start += len(texts)
    laid_out = pc.take(pa.concat_arrays(dictionaries), pa.array(order.ravel()))
    offsets = np.frombuffer(laid_out.buffers()[1], dtype=np.int64)
    first, last = offsets[laid_out.offset], offsets[laid_out.offset + len(laid_out)]
    return laid_out.buffers()[2][int(first) : int(last)].to_pybytes()


def csv_text(table, inputs):
    """The output rows of a chunk as CSV text, one line per row."""
    return csv_bytes(table, inputs).decode("utf-8")


def csv_header(header):
    """The output header: the input's names (neutralised), then the added columns."""
    return [*(_neutral_text(h) for h in header), *added_columns([h.strip() for h in header])]


def rows_words(read, estimated, failed):
    """The batch's counts in the words the progress line and the summary share: rows read, estimated, failed."""
    return f"{read:,} rows read: {estimated:,} estimated, {failed:,} failed"


class StderrProgress:
    """Rows and rate on standard error: one line rewritten in place on a terminal, a line per chunk otherwise."""

    def __init__(self, stream=None):
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()

    def __call__(self, rows, failed, seconds):
        rate = rows / max(seconds, 1e-9)
        text = f"{rows_words(rows, rows - failed, failed)} ({rate:,.0f} rows/s)"
        if self.tty:
            self.stream.write("\r" + text)
        else:
            self.stream.write(text + "\n")
        self.stream.flush()

    def close(self):
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()
