"""CSV read so that nothing is lost: every line of a file comes back once, in order, as part of a record
or as a reported problem with its line number. The batch reader and the hospital importer read alike.

A stray quote makes Python's ``csv`` module read every later line into one cell (and a quote still open
at the end of the file is an error, so nothing after it is read). Here a record with line breaks in its
cells and the wrong number of cells is taken for such a run-on: its first line is reported and read
leniently, and its other lines are given back to be read again as records of their own.
"""

import csv
import re
from collections import deque
from typing import NamedTuple

_LINE_BREAK = re.compile(r"\r\n|\r|\n")
RUN_ON = "row has an unclosed quote; the lines after its first are read as rows of their own"


class LineTap:
    """Feeds the csv reader line by line, keeping the lines it gave since the last ``clear``; lines
    given back with :meth:`push_back` are fed again before the rest of the stream."""

    def __init__(self, stream):
        self.stream = stream
        self.lines = []
        self.pending = deque()

    def __iter__(self):
        return self

    def __next__(self):
        line = self.pending.popleft() if self.pending else next(self.stream)
        self.lines.append(line)
        return line

    def push_back(self, lines):
        self.pending.extendleft(reversed(lines))


def span(row):
    """Lines a record took in the file: one, plus each line break inside its quoted cells."""
    return 1 + sum(len(_LINE_BREAK.findall(cell)) for cell in row if "\n" in cell or "\r" in cell)


def first_line_cells(line):
    """The cells of one physical line, read leniently (an unclosed quote runs to the line's end)."""
    line = line.rstrip("\r\n")
    try:
        return next(csv.reader([line]), None) or [""]
    except csv.Error:  # a field over the csv module's size limit: split on commas, nothing dropped
        return line.split(",")


class Record(NamedTuple):
    """One record: its first line's number, its cells, the problem that made it be read leniently
    (``None``: none), and its text as written (line ends included)."""

    line: int
    cells: list
    problem: str | None
    text: str


def records(lines, width=None, first_line=1):
    """The records of text ``lines`` (as ``open(newline="")`` gives them), blank lines included (no
    cells). With ``width``, a record with another number of cells and a line break in a cell is a
    run-on (see the module's note); a record that is not valid CSV is reported likewise."""
    tap = LineTap(iter(lines))
    reader = csv.reader(tap, strict=True)
    line = first_line
    while True:
        tap.lines.clear()
        problem = None
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            problem = f"row is not valid CSV: {exc}"
        else:
            if width is not None and len(cells) not in (0, width) and any("\n" in c or "\r" in c for c in cells):
                problem = RUN_ON
        text = tap.lines[:] or [""]
        if problem is None:
            yield Record(line, cells, None, "".join(text))
            line += len(text)
            continue
        if len(text) > 1:
            problem = RUN_ON
            tap.push_back(text[1:])  # read again, after the broken line, as records of their own
        yield Record(line, first_line_cells(text[0]), problem, text[0])
        line += 1
