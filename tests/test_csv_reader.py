"""The batch reader gives the same cells whichever way a run of lines is read: by Arrow, in C, when the
lines are plain (no quotes, NUL bytes or lone carriage returns, valid UTF-8, every row as wide as the
header), or row by row with the csv module otherwise. Checked against the csv module reading the whole
file, over generated files and chunk sizes."""

import csv
import io

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from estimator.batch import stream

HEADER = ["claim_id", "cpt_code", "payer_id", "note"]
PLAIN = st.text(alphabet=st.sampled_from(list("abcXYZ019 -=+@.;é€\t")), max_size=6)
ANY = st.text(alphabet=st.sampled_from(list('ab ,"\n\r=é') + ["\x00"]), max_size=6)


def read_all(body, chunk_rows):
    """Every cell of every chunk, and how many chunks Arrow read."""
    arrow = []
    original = stream._plain_chunk

    def counting(*args):
        frame = original(*args)
        arrow.append(frame is not None and len(frame) > 0)
        return frame

    stream._plain_chunk = counting
    try:
        header, names, chunks = stream.open_csv(io.BytesIO(body), chunk_rows)
        rows = []
        for frame, problems in chunks:
            assert not problems
            cells = [np.asarray(frame[name], dtype=object).tolist() for name in names]
            rows.extend(list(r) for r in zip(*cells, strict=True))
    finally:
        stream._plain_chunk = original
    return header, rows, sum(arrow)


def expected_rows(body):
    text = body.decode("utf-8-sig")
    return [r for r in csv.reader(io.StringIO(text, newline="")) if r][1:]


def file_bytes(rows, ending, bom, quote_all):
    """A valid CSV file (a cell with a line break is quoted: the csv module of Python 3.11 quotes only the
    characters of its own line terminator, and CR, LF and CR LF all end a line for every reader here)."""
    quote_all = quote_all or any("\r" in cell or "\n" in cell for row in rows for cell in row)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator=ending, quoting=csv.QUOTE_ALL if quote_all else csv.QUOTE_MINIMAL)
    writer.writerow(HEADER)
    writer.writerows(rows)
    return (b"\xef\xbb\xbf" if bom else b"") + buffer.getvalue().encode("utf-8")


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    rows=st.lists(st.lists(PLAIN, min_size=4, max_size=4), max_size=30),
    ending=st.sampled_from(["\n", "\r\n"]),
    bom=st.booleans(),
    chunk_rows=st.integers(1, 12),
    blank_lines=st.sets(st.integers(0, 30), max_size=3),
)
def test_plain_files_are_read_by_arrow_with_the_csv_modules_cells(rows, ending, bom, chunk_rows, blank_lines):
    body = file_bytes(rows, ending, bom, quote_all=False)
    lines = body.split(ending.encode())
    for i in sorted(blank_lines, reverse=True):
        lines.insert(min(i + 1, len(lines) - 1), b"")
    body = ending.encode().join(lines)
    header, got, arrow_chunks = read_all(body, chunk_rows)
    assert header == HEADER
    assert got == expected_rows(body)
    if rows:
        assert arrow_chunks > 0  # plain lines do take the fast path


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    rows=st.lists(st.lists(st.one_of(PLAIN, ANY), min_size=4, max_size=4), max_size=30),
    ending=st.sampled_from(["\n", "\r\n", "\r"]),
    bom=st.booleans(),
    quote_all=st.booleans(),
    chunk_rows=st.integers(1, 12),
)
def test_files_with_quotes_and_line_breaks_in_cells_give_the_same_cells(rows, ending, bom, quote_all, chunk_rows):
    body = file_bytes(rows, ending, bom, quote_all)
    header, got, _ = read_all(body, chunk_rows)
    assert got == expected_rows(body)


def test_a_file_without_a_final_line_end_and_bytes_that_are_not_utf8():
    body = b"claim_id,cpt_code,payer_id,note\nA,1,p,x\nB,2,p,caf\xe9\nC,3,p,last"
    _, rows, arrow_chunks = read_all(body, 1)
    assert rows == [["A", "1", "p", "x"], ["B", "2", "p", "caf\udce9"], ["C", "3", "p", "last"]]
    assert arrow_chunks == 2  # the line that is not UTF-8 alone is read by the csv module
