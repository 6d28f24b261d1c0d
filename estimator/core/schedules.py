"""Load and validate a fee-schedule directory (SPEC section 2); the only code that reads those files.

Every problem is collected, located by file, line and column, and raised together as ``ScheduleError``.
Dates become whole days since 1970-01-01 (``int64``), with ``OPEN_END`` for a blank ``effective_to``.
"""

import csv
import dataclasses
import datetime as dt
import functools
import hashlib
import io
import os
import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd

from . import schedule_cache
from .errors import ScheduleError, ScheduleProblem
from .glossary import (
    BASES,
    BILATERAL_INDICATORS,
    COMPONENTS,
    MAX_MONEY,
    NO_RULE_REASON,
    PA_STATUSES,
    PAYER_KINDS,
    SETTINGS,
    SHORT_GLOBAL_DAYS,
    VISIT_CODES,
)
from .matching import SMALL, RowIndex, factorize

#: Rate rows: payer and component always match exactly; then an exact code beats an exact region,
#: which beats an exact setting (SPEC section 4, step 1).
RATE_FIELDS = ["payer_id", "component", "cpt_code", "region_id", "setting"]
RATE_WEIGHTS = [0, 0, 4, 2, 1]
#: Prior-authorization rules: each exact field counts one; the most exact rule wins (step 9).
RULE_FIELDS = ["payer_id", "cpt_code", "setting", "network", "state"]
RULE_WEIGHTS = [1, 1, 1, 1, 1]

#: Day number standing for "no end date".
OPEN_END = np.int64(2**40)

CPT_PATTERN = r"^(?:\d{5}|\d{4}[A-Z]|[A-Z]\d{4})$"
PAYER_PATTERN = r"^[a-z0-9_-]+$"
REGION_PATTERN = r"^[A-Za-z0-9_.-]+$"
STATE_PATTERN = r"^[A-Z]{2}$"
DATE_PATTERN = r"^\d{4}-\d{2}-\d{2}$"


def _shipped():
    """The shipped fee schedules: the checkout's ``fee_schedules/``, else the copy installed in the package."""
    checkout = Path(__file__).resolve().parents[2] / "fee_schedules"
    return checkout if checkout.is_dir() else Path(__file__).resolve().parents[1] / "fee_schedules"


DEFAULT_DIRECTORY = _shipped()


_EPOCH = dt.date(1970, 1, 1).toordinal()
_ISO_DATE = re.compile(DATE_PATTERN)


def day_number(day):
    """Day number (days since 1970-01-01) of a ``datetime.date``."""
    return day.toordinal() - _EPOCH


@functools.lru_cache(maxsize=8192)
def day_from_iso(text):
    """Day number of an ISO ``YYYY-MM-DD`` text, or None: the one date rule of schedules and requests."""
    if not isinstance(text, str) or not _ISO_DATE.fullmatch(text):
        return None
    try:
        return day_number(dt.date.fromisoformat(text))
    except ValueError:
        return None


def days_from_iso(text):
    """Parse ISO ``YYYY-MM-DD`` texts to day numbers; returns (days int64 array, valid mask).

    Each distinct text is parsed once, so a column of a million dates with a few hundred distinct
    values costs a few hundred parses.
    """
    codes, uniques = factorize(np.asarray(text, dtype=object))
    parsed = [day_from_iso(u) for u in uniques]
    valid = np.array([d is not None for d in parsed] or [False])[codes]
    days = np.array([d or 0 for d in parsed] or [0], dtype="int64")[codes]
    return days, valid


def iso_from_days(days):
    """Format one day number as ``YYYY-MM-DD`` (``None`` for ``OPEN_END``)."""
    if days >= OPEN_END:
        return None
    return str(np.datetime64(int(days), "D"))


#: How far ahead ``check-schedules`` and ``/healthz`` look for payers whose rates end (SPEC section 4, step 2).
RATES_ENDING_DAYS = 60

#: Upper bounds of the numbers on file: far beyond any real figure, and small enough that every product
#: of them the engine forms (with at most 99 units) stays finite and exact to the cent.
MAX_RVU = 1_000
MAX_FACTOR = 10
#: Largest rate ``value`` on the bases other than ``amount`` (dollars, bounded by ``MAX_MONEY`` as every
#: money column): a multiple of the baseline range, dollars per RVU.
MAX_VALUE = {"baseline": 100, "rvu": 10_000}


@dataclass(frozen=True)
class Column:
    """How one column of a schedule file is read: its kind, whether blank is allowed, its limits."""

    name: str
    kind: str
    required: bool = True
    choices: tuple = ()
    minimum: float | None = None
    maximum: float | None = None
    above: float | None = None
    #: The column may be left out of the header (an optional column of SPEC section 7): then all blank.
    optional: bool = False


#: Multiple-procedure indicators (SPEC section 7; the RVU file's 0-9): only 2 is reduced when several
#: procedures are done.
MULTIPLE_PROCEDURE_INDICATORS = tuple(str(i) for i in range(10))
#: A procedure row's modifier (SPEC section 11): blank for the global service, or one of its components.
COMPONENT_MODIFIERS = ("26", "TC")
#: Global periods (SPEC section 2); the three-digit forms are read as the others.
GLOBAL_DAYS = ("0", "10", "90", "MMM", "XXX", "YYY", "ZZZ", "000", "010", "090")
BASELINE_COLUMNS = ("baseline_low", "baseline_typical", "baseline_high")

#: The benefit figures of payers.csv and of benefit_periods.csv.
BENEFIT_COLUMNS = (
    Column("deductible", "number", required=False, minimum=0, maximum=MAX_MONEY),
    Column("coinsurance", "number", required=False, minimum=0, maximum=1),
    Column("copay", "number", required=False, minimum=0, maximum=MAX_MONEY),
    Column("oop_max", "number", required=False, minimum=0, maximum=MAX_MONEY),
)

FILES = {
    "procedures.csv": (
        Column("cpt_code", "pattern", choices=(CPT_PATTERN, "a 5-character CPT or HCPCS code")),
        Column("modifier", "choice", required=False, choices=COMPONENT_MODIFIERS, optional=True),
        Column("description", "text"),
        Column("category", "text", required=False),
        *(Column(name, "number", required=False, minimum=0, maximum=MAX_MONEY) for name in BASELINE_COLUMNS),
        Column("bilateral_indicator", "choice", choices=tuple(str(i) for i in BILATERAL_INDICATORS)),
        Column("work_rvu", "number", required=False, minimum=0, maximum=MAX_RVU),
        Column("pe_rvu_nonfacility", "number", required=False, minimum=0, maximum=MAX_RVU),
        Column("pe_rvu_facility", "number", required=False, minimum=0, maximum=MAX_RVU),
        Column("mp_rvu", "number", required=False, minimum=0, maximum=MAX_RVU),
        Column(
            "multiple_procedure_indicator",
            "choice",
            required=False,
            choices=MULTIPLE_PROCEDURE_INDICATORS,
            optional=True,
        ),
        Column("addon_to", "text", required=False, optional=True),
        Column("pctc_indicator", "choice", required=False, choices=tuple(str(i) for i in range(10)), optional=True),
        Column("global_days", "choice", required=False, choices=GLOBAL_DAYS, optional=True),
        Column("pe_nonfacility_na", "choice", required=False, choices=("NA",), optional=True),
        Column("pe_facility_na", "choice", required=False, choices=("NA",), optional=True),
    ),
    "payers.csv": (
        Column("payer_id", "pattern", choices=(PAYER_PATTERN, "lower-case letters, digits, '-' and '_'")),
        Column("name", "text"),
        Column("kind", "choice", choices=PAYER_KINDS),
        *BENEFIT_COLUMNS,
        Column("oon_factor", "number", required=False, above=0, maximum=MAX_FACTOR),
        Column("balance_billing", "bool"),
        Column("multiple_procedure_factor", "number", required=False, above=0, maximum=1, optional=True),
    ),
    "payer_fee_schedule.csv": (
        Column("payer_id", "text"),
        Column("cpt_code", "text"),
        Column("setting", "choice", choices=(*SETTINGS, "*")),
        Column("component", "choice", choices=COMPONENTS),
        Column("region_id", "text"),
        Column("basis", "choice", choices=BASES),
        Column("value", "number", above=0, maximum=MAX_MONEY),
        Column("effective_from", "date"),
        Column("effective_to", "date", required=False),
        Column("note", "text", required=False),
    ),
    "regions.csv": (
        Column("region_id", "pattern", choices=(REGION_PATTERN, "letters, digits, '.', '-' and '_'")),
        Column("name", "text"),
        Column("state", "pattern", choices=(STATE_PATTERN, "two capital letters")),
        Column("geo_factor", "number", above=0, maximum=MAX_FACTOR),
        Column("gpci_work", "number", above=0, maximum=MAX_FACTOR),
        Column("gpci_pe", "number", above=0, maximum=MAX_FACTOR),
        Column("gpci_mp", "number", above=0, maximum=MAX_FACTOR),
    ),
    "zip_regions.csv": (
        Column("zip3", "pattern", choices=(r"^\d{3}$", "three digits")),
        Column("region_id", "text"),
    ),
    "prior_auth_rules.csv": (
        Column("payer_id", "text"),
        Column("cpt_code", "text"),
        Column("setting", "choice", choices=(*SETTINGS, "*")),
        Column("network", "choice", choices=("in", "out", "*")),
        Column("state", "pattern", choices=(r"^(?:[A-Z]{2}|\*)$", "two capital letters or '*'")),
        Column("status", "choice", choices=PA_STATUSES),
        Column("reason", "text"),
        Column("documentation", "text", required=False),
        Column("source", "text"),
        Column("effective_from", "date"),
        Column("effective_to", "date", required=False),
    ),
}

#: Optional file (an extension of SPEC section 2): payer benefit defaults that change by date.
OPTIONAL_FILES = {
    "benefit_periods.csv": (
        Column("payer_id", "text"),
        Column("effective_from", "date"),
        Column("effective_to", "date", required=False),
        *BENEFIT_COLUMNS,
        Column("source", "text", required=False),
    ),
}


class _Collector:
    """Collects problems for one file, addressing rows by their line numbers in the file."""

    def __init__(self, file, lines, problems):
        self.file, self.lines, self.problems = file, np.asarray(lines), problems

    def add(self, mask, column, message):
        """Report ``message`` (a string, or one string per row) for every row where ``mask`` holds."""
        mask = np.asarray(mask, dtype=bool)
        for i in np.flatnonzero(mask):
            text = message if isinstance(message, str) else message[i]
            self.problems.append(ScheduleProblem(self.file, int(self.lines[i]), column, text))


def _read_table(name, raw, problems):
    """Read a CSV file's bytes as text cells; returns (frame, line numbers) or (None, None) if unreadable."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        problems.append(ScheduleProblem(name, line, None, "is not valid UTF-8 text"))
        return None, None
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    rows, lines = [], []
    try:
        header = next(reader, None)
        while header is not None and not any(cell.strip() for cell in header):
            header = next(reader, None)  # blank lines before the header
        if header is None:
            problems.append(ScheduleProblem(name, 1, None, "is empty: a header row is required"))
            return None, None
        header = [h.strip() for h in header]
        seen = set()
        for h in header:
            if h in seen:
                problems.append(ScheduleProblem(name, 1, h, "column appears twice in the header"))
            seen.add(h)
        start = reader.line_num + 1
        for row in reader:
            if any(cell.strip() for cell in row):
                if len(row) != len(header):
                    problems.append(
                        ScheduleProblem(name, start, None, f"has {len(row)} fields; the header has {len(header)}")
                    )
                else:
                    rows.append(row)
                    lines.append(start)
            start = reader.line_num + 1
    except csv.Error as exc:
        problems.append(ScheduleProblem(name, reader.line_num, None, f"is not well-formed CSV: {exc}"))
        return None, None
    frame = pd.DataFrame(rows, columns=header, dtype="object")
    if len(seen) != len(header):
        return None, None
    return frame.apply(lambda col: col.str.strip()) if len(frame) else frame, np.array(lines, dtype="int64")


def _parse_columns(file, frame, lines, spec, problems):
    """Check every column against its spec; returns a frame of typed values (only the spec's columns)."""
    out = {}
    report = _Collector(file, lines, problems)
    for col in spec:
        if col.name in frame.columns:
            cells = frame[col.name].reset_index(drop=True)
        elif col.optional or (not col.required and col.kind == "text"):
            cells = pd.Series([""] * len(frame), dtype="object")
        else:
            problems.append(ScheduleProblem(file, 1, col.name, "required column is missing from the header"))
            continue
        blank = (cells == "").to_numpy()
        if col.required:
            report.add(blank, col.name, "a value is required")
        if col.kind == "text":
            out[col.name] = cells
        elif col.kind == "pattern":
            pattern, what = col.choices
            bad = ~blank & ~cells.str.fullmatch(pattern).to_numpy(bool)
            report.add(bad, col.name, ("must be " + what + ", not '" + cells + "'").tolist())
            out[col.name] = cells
        elif col.kind == "choice":
            bad = ~blank & ~cells.isin(col.choices).to_numpy()
            allowed = ", ".join(col.choices)
            report.add(bad, col.name, ("'" + cells + "' is not one of: " + allowed).tolist())
            out[col.name] = cells
        elif col.kind == "bool":
            lowered = cells.str.lower()
            bad = ~blank & ~lowered.isin(["true", "false"]).to_numpy()
            report.add(bad, col.name, ("must be true or false, not '" + cells + "'").tolist())
            out[col.name] = (lowered == "true").to_numpy()
        elif col.kind == "number":
            values = pd.to_numeric(cells.where(~blank), errors="coerce").to_numpy("float64")
            bad_number = ~blank & ~np.isfinite(values)
            report.add(bad_number, col.name, ("must be a number, not '" + cells + "'").tolist())
            ok = ~blank & ~bad_number
            if col.minimum is not None:
                report.add(ok & (values < col.minimum), col.name, f"must be at least {col.minimum:,.10g}")
            if col.maximum is not None:
                report.add(ok & (values > col.maximum), col.name, f"must be at most {col.maximum:,.10g}")
            if col.above is not None:
                report.add(ok & (values <= col.above), col.name, f"must be greater than {col.above:,.10g}")
            out[col.name] = np.where(ok, values, np.nan)
        elif col.kind == "date":
            days, valid = days_from_iso(cells.where(~blank).to_numpy(object))
            report.add(~blank & ~valid, col.name, ("must be a date YYYY-MM-DD, not '" + cells + "'").tolist())
            out[col.name] = np.where(blank, OPEN_END, days)
        else:  # pragma: no cover - the spec table above names only these kinds
            raise AssertionError(col.kind)
    typed = pd.DataFrame(out)
    typed["line"] = lines
    return typed


def _unique_key(file, typed, key, problems, also=()):
    """Each value of ``key`` (with the columns ``also``: together the key) once; the second and later rows
    of a value are reported on ``key``."""
    columns = [key, *also]
    dup = typed.duplicated(columns, keep=False).to_numpy() & (typed[key] != "").to_numpy()
    report = _Collector(file, typed["line"], problems)
    first_line = typed.groupby(columns)["line"].transform("min").to_numpy()
    shown = typed[key].str.cat([typed[c] for c in also], sep=" ").str.strip() if also else typed[key]
    report.add(
        dup & (typed["line"].to_numpy() != first_line),
        key,
        [f"'{v}' is listed twice (first on line {f})" for v, f in zip(shown, first_line, strict=True)],
    )


def _reference(file, typed, column, valid, what, problems, star=False):
    cells = typed[column]
    ok = cells.isin(valid) | (cells == "")
    if star:
        ok |= cells == "*"
    _Collector(file, typed["line"], problems).add(~ok.to_numpy(), column, ("'" + cells + f"' is not a {what}").tolist())


def _dates_in_order(file, typed, problems):
    bad = (typed["effective_to"] < typed["effective_from"]).to_numpy()
    _Collector(file, typed["line"], problems).add(bad, "effective_to", "is before effective_from")


def _overlaps(file, typed, key, problems, what):
    """Report rows with the same ``key`` whose effective date ranges overlap."""
    if len(typed) < 2:
        return
    order = typed.sort_values([*key, "effective_from", "line"])
    same = np.ones(len(order), dtype=bool)
    for k in key:
        values = order[k].to_numpy()
        same[1:] &= values[1:] == values[:-1]
    same[0] = False
    prev_to = order.groupby(key, sort=False)["effective_to"].cummax().shift(1).to_numpy()
    prev_line = order["line"].shift(1).to_numpy()
    clash = same & (order["effective_from"].to_numpy() <= np.nan_to_num(prev_to, nan=-1))
    lines = order["line"].to_numpy()
    for i in np.flatnonzero(clash):
        problems.append(
            ScheduleProblem(
                file,
                int(lines[i]),
                "effective_from",
                f"{what} is as specific as the row on line {int(prev_line[i])} and their dates overlap",
            )
        )


def _prior_auth_conflicts(file, rules, problems):
    """Rules with equal exactness that can match the same case on the same day are a load error."""
    fields = ["payer_id", "cpt_code", "setting", "network", "state"]
    n = len(rules)
    if n < 2:
        return
    values = {f: rules[f].to_numpy(object) for f in fields}
    star = {f: values[f] == "*" for f in fields}
    exact = sum((~star[f]).astype(int) for f in fields)
    lo, hi = rules["effective_from"].to_numpy(), rules["effective_to"].to_numpy()
    lines = rules["line"].to_numpy()
    for i in range(n - 1):
        j = np.arange(i + 1, n)
        ok = (exact[j] == exact[i]) & (np.maximum(lo[j], lo[i]) <= np.minimum(hi[j], hi[i]))
        for f in fields:
            ok &= (values[f][j] == values[f][i]) | star[f][j] | star[f][i]
        for k in j[ok]:
            if not _resolved(i, k, values, star, exact, lo, hi, fields):
                problems.append(
                    ScheduleProblem(
                        file,
                        int(lines[k]),
                        None,
                        f"rule is as exact as the rule on line {int(lines[i])} and both can apply to the same case",
                    )
                )


def _resolved(i, k, values, star, exact, lo, hi, fields):
    """True if a more exact rule covers every case and day on which rules ``i`` and ``k`` both apply."""
    meet = {f: (values[f][k] if star[f][i] else values[f][i]) for f in fields}
    start, end = max(lo[i], lo[k]), min(hi[i], hi[k])
    covers = (exact > exact[i]) & (lo <= start) & (hi >= end)
    for f in fields:
        covers &= star[f] | (values[f] == meet[f])
    return bool(covers.any())


@dataclass(frozen=True)
class Schedules:
    """A validated fee-schedule directory, ready for the engine. Frames are never mutated."""

    directory: str
    #: SHA-256 of the files' names and bytes as loaded: which version of the schedules an answer used.
    content_hash: str
    procedures: pd.DataFrame
    payers: pd.DataFrame
    rates: pd.DataFrame
    regions: pd.DataFrame
    zip_regions: pd.DataFrame
    prior_auth: pd.DataFrame
    benefit_periods: pd.DataFrame
    #: Sorted day numbers at which some row starts or stops being in effect.
    boundaries: np.ndarray
    #: Most-specific-row lookups over the rates, the prior-authorization rules and the benefit periods.
    rate_index: RowIndex
    rule_index: RowIndex
    benefit_index: RowIndex

    @cached_property
    def arrays(self):
        """Every column of every table as a numpy array, ``arrays["procedures"]["baseline_low"]``, with one
        row more at the end: the *absent* row, which position -1 takes (no region: the national factors;
        no rate row; no prior-authorization rule: ``unknown``)."""
        tables = {
            "procedures": self.procedures,
            "payers": self.payers,
            "rates": self.rates,
            "regions": self.regions,
            "prior_auth": self.prior_auth,
            "benefit_periods": self.benefit_periods,
        }
        return {
            name: {c: _with_absent(frame[c].to_numpy(), ABSENT.get(name, {}).get(c)) for c in frame.columns}
            for name, frame in tables.items()
        }

    @cached_property
    def lists(self):
        """:attr:`arrays` as Python lists of plain values, for the one-request path (no numpy scalars); each
        column is converted when first used (a request needs a few of the catalog's)."""
        return {name: _Lists(table) for name, table in self.arrays.items()}

    @cached_property
    def cells_read(self):
        """Request cells already read by the rules of SPEC section 3 against these schedules, keyed by field
        and text: ``{(field, text): (value, message)}`` (the one-request path's; it clears it when full)."""
        return {}

    @cached_property
    def addon_pairs(self):
        """Each add-on code with each of its primary codes, as ``add-on position x (procedures + 1) + primary
        position`` (the ``+ 1``: the absent row of :attr:`arrays`)."""
        size = len(self.procedures) + 1
        labels = self._labels["procedures"]
        return frozenset(
            labels[code] * size + labels[primary]
            for code, primaries in zip(self.procedures["cpt_code"], self.procedures["addon_to"], strict=True)
            for primary in primaries.split()
        )

    @cached_property
    def search_text(self):
        """Each procedure's description and category in lower case, for finding a code by its words."""
        return (self.procedures["description"] + " " + self.procedures["category"]).str.lower().reset_index(drop=True)

    @cached_property
    def zip_map(self):
        """ZIP3 prefix to region id."""
        return dict(zip(self.zip_regions["zip3"], self.zip_regions["region_id"], strict=True))

    @cached_property
    def keys(self):
        """The sets of known procedure codes, payer ids and region ids."""
        return {
            "cpt_code": frozenset(self.procedures.loc[self.procedures["modifier"] == "", "cpt_code"]),
            "payer_id": frozenset(self.payers.index),
            "region_id": frozenset(self.regions.index),
        }

    @cached_property
    def _labels(self):
        tables = {"procedures": self.procedures, "payers": self.payers, "regions": self.regions}
        return {name: {label: i for i, label in enumerate(frame.index)} for name, frame in tables.items()}

    def positions(self, table, labels):
        """Row position of each label in ``procedures``, ``payers`` or ``regions`` (-1 where absent): a
        dictionary lookup per label (faster than a pandas index's for the catalog's thousands of codes)."""
        lookup = self._labels[table]
        if len(labels) <= SMALL:
            return np.array([lookup.get(label, -1) for label in labels], dtype="int64")
        codes, distinct = factorize(labels)  # each distinct label looked up once
        found = np.fromiter((lookup.get(label, -1) for label in distinct), dtype=np.int64, count=len(distinct))
        return found[codes] if len(codes) else codes

    @cached_property
    def boundary_days(self):
        """:attr:`boundaries` as a list of ints (bisected by the one-request path)."""
        return self.boundaries.tolist()

    def period_of(self, days):
        """Index of the date period of each day: within a period every row's in-effect status is fixed."""
        return np.searchsorted(self.boundaries, days, side="right")

    def period_start(self, periods):
        """First day of each period (a very early day for period 0)."""
        padded = np.concatenate([[np.int64(-(2**40))], self.boundaries])
        return padded[periods]

    def rates_ending(self, today, within_days=RATES_ENDING_DAYS):
        """The payers whose latest rates end within ``within_days`` of ``today`` (or have ended already):
        after that day their estimates carry the last rates forward, with a warning (SPEC section 4, step 2).

        Returns a list of ``{"payer_id", "name", "effective_to" (ISO), "days_left"}`` (negative: ended), in
        order of that day.
        """
        if not len(self.rates):
            return []
        last = self.rates.groupby("payer_id")["effective_to"].max()
        limit = day_number(today) + within_days
        ending = last[last <= limit].sort_values()
        return [
            {
                "payer_id": payer,
                "name": self.payers.at[payer, "name"],
                "effective_to": iso_from_days(end),
                "days_left": int(end) - day_number(today),
            }
            for payer, end in ending.items()
        ]

    def coverage(self):
        """Earliest and latest day covered by any rate row, as ISO dates (``None`` = open, or no rows)."""
        if not len(self.rates):
            return None, None
        return iso_from_days(self.rates["effective_from"].min()), iso_from_days(self.rates["effective_to"].max())


class _Lists(dict):
    """A table's columns as Python lists, each made from its array on first use."""

    def __init__(self, arrays):
        super().__init__()
        self.arrays = arrays

    def __missing__(self, column):
        values = self[column] = self.arrays[column].tolist()
        return values


#: The values of the absent row of a table (see :attr:`Schedules.arrays`) where a blank would not do.
ABSENT = {
    "regions": {"geo_factor": 1.0, "gpci_work": 1.0, "gpci_pe": 1.0, "gpci_mp": 1.0},
    "rates": {"region_id": "*", "effective_to": OPEN_END},
    "prior_auth": {"status": "unknown", "reason": NO_RULE_REASON},
}


def _with_absent(values, absent=None):
    """``values`` with one more entry: ``absent``, else the column's blank (NaN, 0, False or "")."""
    if absent is None:
        absent = {"f": np.nan, "i": 0, "u": 0, "b": False}.get(values.dtype.kind, "")
    out = np.empty(len(values) + 1, dtype=values.dtype)
    out[:-1] = values
    out[-1] = absent
    return out


def load_schedules(directory=None):
    """Load and validate a fee-schedule directory.

    Parameters
    ----------
    directory : str or Path, optional
        The directory; default ``$ESTIMATOR_FEE_SCHEDULES`` or the shipped ``fee_schedules/``.

    Raises
    ------
    ScheduleError
        With every problem found, each naming its file, line and column.
    """
    directory = Path(directory or os.environ.get("ESTIMATOR_FEE_SCHEDULES") or DEFAULT_DIRECTORY)
    if not directory.is_dir():
        raise ScheduleError([ScheduleProblem(str(directory), None, None, "is not a directory")])
    files = _read_files(directory)
    content_hash = _content_hash(files)
    kept = schedule_cache.read(content_hash) if content_hash else None
    if kept is not None:
        return dataclasses.replace(kept, directory=str(directory))
    schedules = _load(directory, files, content_hash)
    schedule_cache.write(schedules)
    return schedules


def _read_files(directory):
    """Each file's bytes by name; ``None`` for a file that is not there, the ``OSError`` of one that cannot
    be read. Every file is read once, for its hash and for its checks."""
    files = {}
    for name in (*FILES, *OPTIONAL_FILES):
        try:
            files[name] = (directory / name).read_bytes()
        except FileNotFoundError:
            files[name] = None
        except OSError as exc:
            files[name] = exc
    return files


def _content_hash(files):
    """The hash of the files' names and bytes (:attr:`Schedules.content_hash`), or None when a file cannot
    be read or a required one is not there (the load says why)."""
    digest = hashlib.sha256()
    for name, raw in files.items():
        if isinstance(raw, OSError) or (raw is None and name in FILES):
            return None
        if raw is not None:
            digest.update(name.encode() + b"\0" + raw)
    return digest.hexdigest()


def _load(directory, files, content_hash):
    """Check every file of ``directory`` (read as ``files``): the Schedules, or ScheduleError with every
    problem."""
    problems = []
    typed = {}
    for name, spec in {**FILES, **OPTIONAL_FILES}.items():
        raw = files[name]
        if raw is None:
            if name in FILES:
                problems.append(ScheduleProblem(name, None, None, "is missing from the fee-schedule directory"))
            else:
                typed[name] = _parse_columns(name, pd.DataFrame(columns=[c.name for c in spec]), [], spec, [])
            continue
        if isinstance(raw, OSError):
            problems.append(ScheduleProblem(name, None, None, f"cannot be read: {raw.strerror}"))
            continue
        frame, lines = _read_table(name, raw, problems)
        if frame is not None:
            before = len(problems)
            typed[name] = _parse_columns(name, frame, lines, spec, problems)
            if any(p.line == 1 and p.file == name for p in problems[before:]):
                typed.pop(name)  # header problems: the row checks below would only repeat them
    if set(typed) != set(FILES) | set(OPTIONAL_FILES):
        raise ScheduleError(problems)
    _cross_checks(typed, problems)
    if problems:
        raise ScheduleError(problems)
    return _build(directory, typed, content_hash)


def _cross_checks(t, problems):
    procedures, payers, rates = t["procedures.csv"], t["payers.csv"], t["payer_fee_schedule.csv"]
    regions, zips, rules = t["regions.csv"], t["zip_regions.csv"], t["prior_auth_rules.csv"]
    periods = t["benefit_periods.csv"]

    _unique_key("procedures.csv", procedures, "cpt_code", problems, also=("modifier",))
    _components_of_known_codes(procedures, problems)
    _unique_key("payers.csv", payers, "payer_id", problems)
    _unique_key("regions.csv", regions, "region_id", problems)
    _unique_key("zip_regions.csv", zips, "zip3", problems)

    _addon_references(procedures, problems)

    order = procedures[list(BASELINE_COLUMNS)].to_numpy()
    report = _Collector("procedures.csv", procedures["line"], problems)
    report.add(order[:, 0] > order[:, 1], "baseline_typical", "must be at least baseline_low")
    report.add(order[:, 1] > order[:, 2], "baseline_high", "must be at least baseline_typical")
    given = ~np.isnan(order)
    partial = given.any(axis=1) & ~given.all(axis=1)
    for i, name in enumerate(BASELINE_COLUMNS):
        report.add(partial & ~given[:, i], name, "give all three baseline columns, or none (no range known)")

    global_rows = procedures[procedures["modifier"] == ""]
    codes, payer_ids, region_ids = global_rows["cpt_code"], payers["payer_id"], regions["region_id"]
    _reference("payer_fee_schedule.csv", rates, "payer_id", payer_ids, "payer in payers.csv", problems)
    _reference("payer_fee_schedule.csv", rates, "cpt_code", codes, "code in procedures.csv", problems, star=True)
    _reference("payer_fee_schedule.csv", rates, "region_id", region_ids, "region in regions.csv", problems, star=True)
    _reference("zip_regions.csv", zips, "region_id", region_ids, "region in regions.csv", problems)
    _reference("prior_auth_rules.csv", rules, "payer_id", payer_ids, "payer in payers.csv", problems, star=True)
    _reference("prior_auth_rules.csv", rules, "cpt_code", codes, "code in procedures.csv", problems, star=True)
    _reference("benefit_periods.csv", periods, "payer_id", payer_ids, "payer in payers.csv", problems)

    report = _Collector("payer_fee_schedule.csv", rates["line"], problems)
    for basis, limit in MAX_VALUE.items():
        over = (rates["basis"] == basis).to_numpy() & (rates["value"].to_numpy() > limit)
        report.add(over, "value", f"must be at most {limit:,} on the {basis} basis")
    rvu = (rates["basis"] == "rvu").to_numpy()
    report.add(
        rvu & (rates["component"] == "facility").to_numpy(),
        "basis",
        "the rvu basis prices the professional component only",
    )
    # An exact-code rvu row needs the RVUs of its setting (the code's global row).
    rvus = global_rows.drop_duplicates("cpt_code").set_index("cpt_code")
    has_work_mp = rvus["work_rvu"].notna() & rvus["mp_rvu"].notna()
    needs_nf = rates["setting"].isin(["office", "*"]).to_numpy()
    needs_f = rates["setting"].isin(["asc", "hospital_outpatient", "*"]).to_numpy()
    known = rates["cpt_code"].isin(rvus.index).to_numpy()
    lookup = rates["cpt_code"].where(known, rvus.index[0] if len(rvus) else "")
    if len(rvus):
        ok = has_work_mp.reindex(lookup).to_numpy(bool, copy=True)
        ok &= ~needs_nf | rvus["pe_rvu_nonfacility"].notna().reindex(lookup).to_numpy(bool)
        ok &= ~needs_f | rvus["pe_rvu_facility"].notna().reindex(lookup).to_numpy(bool)
        report.add(
            rvu & known & ~ok,
            "cpt_code",
            (
                "code '" + rates["cpt_code"] + "' has no RVUs for this setting in procedures.csv, "
                "so it cannot be priced on the rvu basis"
            ).tolist(),
        )

    for name, frame in (
        ("payer_fee_schedule.csv", rates),
        ("prior_auth_rules.csv", rules),
        ("benefit_periods.csv", periods),
    ):
        _dates_in_order(name, frame, problems)
    _overlaps(
        "payer_fee_schedule.csv",
        rates,
        ["payer_id", "cpt_code", "setting", "component", "region_id"],
        problems,
        "rate row",
    )
    _overlaps("benefit_periods.csv", periods, ["payer_id"], problems, "benefit period")
    _prior_auth_conflicts("prior_auth_rules.csv", rules.reset_index(drop=True), problems)


def addon_primaries(text):
    """The primary codes an ``addon_to`` cell names (separated by spaces; commas and semicolons too)."""
    return [code for code in re.split(r"[\s,;]+", text) if code]


def _components_of_known_codes(procedures, problems):
    """A ``26`` or ``TC`` row prices a component of a code whose global row (no modifier) is in the file."""
    known = set(procedures.loc[procedures["modifier"] == "", "cpt_code"])
    orphan = (procedures["modifier"] != "").to_numpy() & ~procedures["cpt_code"].isin(known).to_numpy()
    _Collector("procedures.csv", procedures["line"], problems).add(
        orphan,
        "modifier",
        (
            "a '"
            + procedures["modifier"]
            + "' row needs a row of code '"
            + procedures["cpt_code"]
            + "' without a modifier (the global service)"
        ).tolist(),
    )


def _addon_references(procedures, problems):
    """Each code an add-on names must be a code of the file, and not the add-on itself."""
    known = set(procedures["cpt_code"])
    report = _Collector("procedures.csv", procedures["line"], problems)
    messages = []
    for code, text in zip(procedures["cpt_code"], procedures["addon_to"], strict=True):
        primaries = addon_primaries(text)
        unknown = [p for p in primaries if p not in known]
        if unknown:
            messages.append(f"'{' '.join(unknown)}' is not a code in procedures.csv")
        elif code in primaries:
            messages.append(f"an add-on code cannot be its own primary ('{code}')")
        else:
            messages.append(None)
    bad = np.array([m is not None for m in messages], dtype=bool)
    report.add(bad, "addon_to", messages)


def procedure_key(code, modifier):
    """The label of a procedure row: its code, or for a component row its code and modifier (71046-26)."""
    return f"{code}-{modifier}" if modifier else code


def _components(procedures):
    """Per row, its share of its code's global RVUs (1.0 for a global row: SPEC section 11, how ``amount``
    and ``baseline`` rates price a component); and each component row's baseline range, the global range
    times that share where the file gives none."""
    total_nf = procedures["work_rvu"] + procedures["pe_rvu_nonfacility"] + procedures["mp_rvu"]
    total_f = procedures["work_rvu"] + procedures["pe_rvu_facility"] + procedures["mp_rvu"]
    is_global = (procedures["modifier"] == "").to_numpy()
    global_at = pd.Series(np.flatnonzero(is_global), index=procedures["cpt_code"].to_numpy()[is_global])
    at = global_at.reindex(procedures["cpt_code"]).to_numpy()
    with np.errstate(invalid="ignore", divide="ignore"):
        share_nf = total_nf.to_numpy() / total_nf.to_numpy()[at]
        share_f = total_f.to_numpy() / total_f.to_numpy()[at]
    share = np.where(np.isfinite(share_nf), share_nf, share_f)
    share = np.where(is_global | ~np.isfinite(share), 1.0, share)
    procedures["rvu_share"] = share
    for name in BASELINE_COLUMNS:
        own = procedures[name].to_numpy()
        procedures[name] = np.where(is_global | ~np.isnan(own), own, procedures[name].to_numpy()[at] * share)


def _build(directory, t, content_hash):
    procedures = t["procedures.csv"].drop(columns="line").reset_index(drop=True)
    _components(procedures)
    procedures["global_days"] = procedures["global_days"].replace({"000": "0", "010": "10", "090": "90"})
    # section 11: an office visit, and a procedure whose short global period includes a same-day visit
    procedures["is_visit"] = (procedures["cpt_code"].isin(VISIT_CODES) & (procedures["modifier"] == "")).to_numpy()
    procedures["short_global"] = procedures["global_days"].isin(SHORT_GLOBAL_DAYS).to_numpy()
    for column in ("pe_nonfacility_na", "pe_facility_na"):
        procedures[column] = (procedures[column] == "NA").to_numpy()
    procedures["key"] = [
        procedure_key(c, m) for c, m in zip(procedures["cpt_code"], procedures["modifier"], strict=True)
    ]
    procedures["bilateral_indicator"] = procedures["bilateral_indicator"].astype("int64")
    indicator = procedures["multiple_procedure_indicator"].replace("", "0")
    procedures["multiple_procedure_indicator"] = indicator.astype("int64")
    procedures["addon_to"] = [" ".join(addon_primaries(text)) for text in procedures["addon_to"]]
    payers = t["payers.csv"].drop(columns="line")
    for col in ("deductible", "coinsurance", "copay"):
        payers[col] = payers[col].fillna(0.0)
    rates = t["payer_fee_schedule.csv"].drop(columns="line")
    regions = t["regions.csv"].drop(columns="line")
    zips = t["zip_regions.csv"].drop(columns="line")
    rules = t["prior_auth_rules.csv"].drop(columns="line")
    periods = t["benefit_periods.csv"].drop(columns="line")
    edges = [
        frame[c].to_numpy("int64") for frame in (rates, rules, periods) for c in ("effective_from", "effective_to")
    ]
    starts = np.concatenate([edges[0], edges[2], edges[4]])
    stops = np.concatenate([edges[1], edges[3], edges[5]])
    boundaries = np.unique(np.concatenate([starts, stops[stops < OPEN_END] + 1]))
    # A rate on the rvu basis applies only to a code with RVUs for its setting; a ``*``-code rate on the
    # baseline basis only to a code with a baseline range (SPEC section 2): see ``pricing.rate_case``.
    needs = [
        (rates["basis"] == "rvu").to_numpy(),
        ((rates["basis"] == "baseline") & (rates["cpt_code"] == "*")).to_numpy(),
    ]
    return Schedules(
        rate_index=RowIndex(rates, RATE_FIELDS, RATE_WEIGHTS, needs, carry_forward=True),
        rule_index=RowIndex(rules, RULE_FIELDS, RULE_WEIGHTS),
        benefit_index=RowIndex(periods, ["payer_id"], [1], carry_forward=True),
        directory=str(directory),
        content_hash=content_hash,
        procedures=procedures.set_index("key", drop=False),
        payers=payers.set_index("payer_id", drop=False),
        rates=rates,
        regions=regions.set_index("region_id", drop=False),
        zip_regions=zips.set_index("zip3", drop=False),
        prior_auth=rules,
        benefit_periods=periods,
        boundaries=boundaries,
    )
