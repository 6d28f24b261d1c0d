"""What every importer shares: imported rate rows, their merge into ``payer_fee_schedule.csv``, the
atomic write of the directory, and the report (SPEC section 8)."""

import codecs
import contextlib
import csv
import fcntl
import io
import math
import os
import shutil
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from ..core.csvrecords import records
from ..core.errors import EstimatorError, ScheduleError
from ..core.outputs import OutputError, OutputFile
from ..core.schedules import load_schedules

RATES_FILE = "payer_fee_schedule.csv"
RATE_COLUMNS = (
    "payer_id",
    "cpt_code",
    "setting",
    "component",
    "region_id",
    "basis",
    "value",
    "effective_from",
    "effective_to",
    "note",
)
#: The columns that make two rows the same row (SPEC section 8): an imported row replaces an existing
#: one with the same values whose dates overlap.
ROW_KEY = ("payer_id", "cpt_code", "setting", "component", "region_id")
OPEN_DATE = "9999-12-31"

# Reasons a price is skipped, as the report names them.
NOT_CODE = "not CPT/HCPCS"
NOT_ON_FILE = "not in procedures.csv"
INPATIENT = "inpatient only"
PERCENT_OR_DIEM = "percentage or per diem"
MODIFIER = "modifier-specific"
BUNDLE = "bundle or capitation"
NOT_SELECTED = "provider not selected"
SEVERAL = "several rates for one row"
UNMAPPED = "unmapped payer or plan"
PLACE = "place of service not office, ASC or hospital outpatient"
REMOTE = "remote provider reference (not fetched)"
NO_PRICE = "no dollar amount"
NOT_OUTPATIENT = "not an outpatient price"


class ImportFailed(EstimatorError):
    """The file cannot be imported as a whole (wrong kind, truncated, missing headers): nothing changes."""


#: Places kept per skip reason in the report (the count is always whole).
PLACES_KEPT = 5


@dataclass
class Report:
    """What an import did: rows written and replaced, prices skipped by reason (with the first places
    of those skipped for a fault of the file), and the payers and plans no map entry names."""

    source: str
    kind: str
    written: int = 0
    replaced: int = 0
    skipped: Counter = field(default_factory=Counter)
    places: dict = field(default_factory=dict)
    unmapped: Counter = field(default_factory=Counter)
    notes: list = field(default_factory=list)
    dry_run: bool = False

    def skip(self, reason, count=1, place=None):
        if count:
            self.skipped[reason] += count
            if place is not None:
                kept = self.places.setdefault(reason, [])
                if len(kept) < PLACES_KEPT:
                    kept.append(place)

    def as_dict(self):
        return {
            "source": self.source,
            "kind": self.kind,
            "rows_written": self.written,
            "rows_replaced": self.replaced,
            "rows_skipped": dict(self.skipped.most_common()),
            "skipped_at": self.places,
            "unmapped": [
                {"payer_name": payer, "plan_name": plan, "prices": n}
                for (payer, plan), n in self.unmapped.most_common()
            ],
            "notes": self.notes,
            "dry_run": self.dry_run,
        }

    def describe(self):
        verb = "would write" if self.dry_run else "wrote"
        lines = [
            f"{self.source}: {verb} {self.written:,} rows, replacing {self.replaced:,}; "
            f"skipped {sum(self.skipped.values()):,} prices."
        ]
        for reason, count in self.skipped.most_common():
            places = self.places.get(reason)
            where = ""
            if places:
                more = ", ..." if count > len(places) else ""
                where = f" ({'; '.join(places)}{more})"
            lines.append(f"  {count:,} skipped: {reason}{where}")
        lines += [
            f"    {n:,} x payer {payer!r}, plan {plan!r}" if plan else f"    {n:,} x payer {payer!r}"
            for (payer, plan), n in self.unmapped.most_common()
        ]
        lines += [f"  note: {note}" for note in self.notes]
        return "\n".join(lines)


class Candidates:
    """Imported prices gathered by row key; one row per key is written, or none when its prices disagree."""

    def __init__(self, preference=()):
        self.preference = {kind: i for i, kind in enumerate(preference)}
        self.rows = {}

    def add(self, key, value, kind, effective_from, effective_to):
        """A price for the row ``key`` (``ROW_KEY`` values), of a price ``kind`` (a rate type)."""
        entry = self.rows.setdefault(key, {})
        entry.setdefault(self.preference.get(kind, 0), []).append((round(value, 2), effective_from, effective_to))

    def resolve(self, report, note):
        """The rows to write (dicts of ``RATE_COLUMNS``); keys whose preferred prices differ are skipped."""
        out = []
        for key, by_rank in self.rows.items():
            prices = by_rank[min(by_rank)]
            values = {value for value, _, _ in prices}
            if len(values) > 1:
                report.skip(SEVERAL, sum(len(p) for p in by_rank.values()))
                continue
            start = min(start for _, start, _ in prices)
            ends = [end for _, _, end in prices]
            end = "" if "" in ends else max(ends)
            row = dict(zip(ROW_KEY, key, strict=True))
            row.update(basis="amount", value=f"{values.pop():.2f}", effective_from=start, effective_to=end, note=note)
            out.append(row)
        return out


#: The largest amount a rate may have (``value`` of ``payer_fee_schedule.csv``); an imported price above
#: it, or under a cent, or not a finite number, is skipped as ``BAD_AMOUNT``.
MAX_AMOUNT = 10_000_000
BAD_AMOUNT = "not a usable dollar amount (under a cent, over $10,000,000, or not a number)"
#: CMS's hospital template: "999999999" where a price is not known.
PLACEHOLDER = 999_999_999
NO_DATA = "CMS placeholder 999999999 (no data)"
BAD_DATE = "expiration date is not a date"
BAD_ROW = "row is not valid CSV"


def usable_amount(value):
    """``value`` (a number) as dollars to import, or the reason it cannot be one."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None, BAD_AMOUNT
    if value == PLACEHOLDER:
        return None, NO_DATA
    if not 0.005 <= value <= MAX_AMOUNT:
        return None, BAD_AMOUNT
    return float(value), None


def _overlap(a_from, a_to, b_from, b_to):
    return a_from <= (b_to or OPEN_DATE) and b_from <= (a_to or OPEN_DATE)


class RatesFile:
    """``payer_fee_schedule.csv`` as written: its header and each record's text, kept byte for byte."""

    def __init__(self, directory):
        self.path = Path(directory) / RATES_FILE
        with open(self.path, "rb") as handle:
            data = handle.read()
        self.bom = "\ufeff" if data.startswith(codecs.BOM_UTF8) else ""
        text = data.decode("utf-8-sig")
        lines = text.splitlines(keepends=True)
        self.line_end = "\r\n" if lines and lines[0].endswith("\r\n") else "\n"
        found = records(lines)
        first = next(found, None)
        while first is not None and not first.cells:
            first = next(found, None)
        if first is None:
            raise ImportFailed(f"{RATES_FILE} has no header row")
        self.header_text = first.text
        self.header = [h.strip() for h in first.cells]
        self.records = []  # (text, {column: stripped cell})
        for record in found:
            cells = dict(zip(self.header, (c.strip() for c in record.cells), strict=False))
            self.records.append((record.text, cells if record.cells else None))

    def merged(self, imported):
        """The file's text with ``imported`` rows in place of those they replace (SPEC section 8), and
        how many went. Rows kept keep their bytes; new rows take the file's columns and line ends."""
        by_key = {}
        for row in imported:
            by_key.setdefault(tuple(row[k] for k in ROW_KEY), []).append(row)
        kept, replaced = [], 0
        for text, row in self.records:
            if row is not None:
                clashes = by_key.get(tuple(row.get(k, "") for k in ROW_KEY), [])
                start, end = row.get("effective_from", ""), row.get("effective_to", "")
                if any(_overlap(start, end, new["effective_from"], new["effective_to"]) for new in clashes):
                    replaced += 1
                    continue
            kept.append(text)
        if kept and not kept[-1].endswith(("\n", "\r")):
            kept[-1] += self.line_end
        missing = [c for c in RATE_COLUMNS if c not in self.header and c != "note"]
        columns, header_text = self.header, self.header_text
        if any(row.get(c) for row in imported for c in missing):
            # a column the new rows need: every row gains it, empty (the file's only wholesale change)
            add = "," * len(missing)
            kept = [_extend(text, add, self.line_end) for text in kept]
            header_text = _extend(header_text, ",".join([""] + missing), self.line_end)
            columns = columns + missing
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator=self.line_end)
        writer.writerows([row.get(c, "") for c in columns] for row in imported)
        return self.bom + _extend(header_text, "", self.line_end) + "".join(kept) + buffer.getvalue(), replaced


def _extend(text, cells, line_end):
    """A record's text with ``cells`` (``,a,b``) added at its end, before its line end (or one added)."""
    body = text.rstrip("\r\n")
    return body + cells + (text[len(body) :] or line_end)


@contextlib.contextmanager
def directory_lock(directory, waiting=None):
    """Hold the import lock of ``directory`` (``flock`` on the directory itself, so nothing is left in
    it): imports into one directory merge and write one at a time. ``waiting`` is called once if
    another import holds it."""
    try:
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    except OSError as exc:
        raise ImportFailed(f"cannot open {directory}: {exc.strerror or exc}") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if waiting is not None:
                waiting()
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def _clear_leftovers(directory):
    """Remove what an import killed while writing (``kill -9``) left: its staging folder and part file.
    Called with the lock held, so no running import owns them."""
    for item in Path(directory).iterdir():
        if item.name.startswith(".import-") and item.is_dir() and not item.is_symlink():
            shutil.rmtree(item, ignore_errors=True)
        elif item.name.startswith(f".{RATES_FILE}.") and item.name.endswith(".part") and item.is_file():
            with contextlib.suppress(OSError):
                item.unlink()


def _announce_wait(directory):
    def waiting():
        print(f"Waiting for another import into {directory} to finish...", file=sys.stderr, flush=True)

    return waiting


def write_rates(directory, imported, report):
    """Merge ``imported`` into ``directory``'s rates and replace the file atomically, once the whole
    directory, with the new file, has passed validation in a staging copy inside it.

    Imports into one directory take turns (:func:`directory_lock`): each reads the file, merges and
    writes with the lock held, so none loses another's rows. Only ``payer_fee_schedule.csv`` changes,
    written beside itself (through a symbolic link, to the file it points at) and renamed into place:
    a running service's reload sees the old file or the new one, never a part. A failure at any point
    (validation, a full disk, an interruption) leaves the directory as it was; an import that writes no
    row leaves the file untouched.
    """
    directory = Path(directory)
    report.written = len(imported)
    if report.dry_run:
        report.replaced = RatesFile(directory).merged(imported)[1]
        return
    if not imported:
        return
    with directory_lock(directory, _announce_wait(directory)):
        _clear_leftovers(directory)
        rates = RatesFile(directory)
        text, report.replaced = rates.merged(imported)
        if "note" not in rates.header:
            report.notes.append(f"{RATES_FILE} has no note column: the imported rows carry no source note")
        try:
            staging = Path(tempfile.mkdtemp(prefix=".import-", dir=directory))
        except OSError as exc:
            raise ImportFailed(f"cannot write into {directory}: {exc.strerror or exc}") from None
        try:
            for item in directory.iterdir():
                if item.is_file() and item.suffix == ".csv" and item.name != RATES_FILE:
                    shutil.copy2(item, staging / item.name)
            (staging / RATES_FILE).write_text(text, encoding="utf-8", newline="")
            try:
                load_schedules(staging)  # check-schedules on the new directory before anything changes
            except ScheduleError as exc:
                raise ImportFailed(f"the imported rows would not load, so nothing was changed:\n{exc}") from None
            with OutputFile(rates.path) as out:
                out.write(text.encode("utf-8"))
                out.flush()
                os.fsync(out.handle.fileno())
        except OutputError as exc:
            raise ImportFailed(f"could not write {exc}; nothing was changed") from None
        except OSError as exc:
            raise ImportFailed(
                f"could not write into {directory} ({exc.strerror or exc}); nothing was changed"
            ) from None
        finally:
            shutil.rmtree(staging, ignore_errors=True)


def resolve_region(schedules, region_id=None, zip_code=None):
    """The region of ``--region-id`` or ``--zip``, checked against the directory's files."""
    if region_id:
        if region_id not in schedules.keys["region_id"]:
            raise ImportFailed(f"region '{region_id}' is not in regions.csv")
        return region_id
    digits = (zip_code or "").strip()
    region = schedules.zip_map.get(digits[:3]) if len(digits) >= 5 and digits[:5].isdigit() else None
    if region is None:
        raise ImportFailed(f"ZIP code '{zip_code}' maps to no region in zip_regions.csv")
    return region
