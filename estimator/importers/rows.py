"""What every importer shares: imported rate rows, their merge into ``payer_fee_schedule.csv``, the
atomic write of the directory, and the report (SPEC section 8)."""

import csv
import io
import os
import shutil
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from ..core.errors import EstimatorError, ScheduleError
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


@dataclass
class Report:
    """What an import did: rows written and replaced, and prices skipped by reason."""

    source: str
    kind: str
    written: int = 0
    replaced: int = 0
    skipped: Counter = field(default_factory=Counter)
    notes: list = field(default_factory=list)
    dry_run: bool = False

    def skip(self, reason, count=1):
        if count:
            self.skipped[reason] += count

    def as_dict(self):
        return {
            "source": self.source,
            "kind": self.kind,
            "rows_written": self.written,
            "rows_replaced": self.replaced,
            "rows_skipped": dict(self.skipped.most_common()),
            "notes": self.notes,
            "dry_run": self.dry_run,
        }

    def describe(self):
        verb = "would write" if self.dry_run else "wrote"
        lines = [
            f"{self.source}: {verb} {self.written:,} rows, replacing {self.replaced:,}; "
            f"skipped {sum(self.skipped.values()):,} prices."
        ]
        lines += [f"  {count:,} skipped: {reason}" for reason, count in self.skipped.most_common()]
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
        entry.setdefault(self.preference.get(kind, 0), []).append(
            (round(float(value), 2), effective_from, effective_to)
        )

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


def _overlap(a_from, a_to, b_from, b_to):
    return a_from <= (b_to or OPEN_DATE) and b_from <= (a_to or OPEN_DATE)


def read_rates(directory):
    """The rows of ``payer_fee_schedule.csv`` as dicts (text cells), and its header."""
    path = Path(directory) / RATES_FILE
    with open(path, encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        return list(reader), list(reader.fieldnames or RATE_COLUMNS)


def merge(existing, imported):
    """Existing rows less those an imported row replaces, then the imported rows; and how many went."""
    by_key = {}
    for row in imported:
        by_key.setdefault(tuple(row[k] for k in ROW_KEY), []).append(row)
    kept, replaced = [], 0
    for row in existing:
        clashes = by_key.get(tuple((row.get(k) or "").strip() for k in ROW_KEY), [])
        start, end = (row.get("effective_from") or "").strip(), (row.get("effective_to") or "").strip()
        if any(_overlap(start, end, new["effective_from"], new["effective_to"]) for new in clashes):
            replaced += 1
        else:
            kept.append(row)
    return kept + imported, replaced


def write_rates(directory, imported, report):
    """Merge ``imported`` into ``directory``'s rates and replace the file atomically, once the whole
    directory, with the new file, has passed validation in a temporary copy beside it.

    Only ``payer_fee_schedule.csv`` changes, so it alone is renamed into place: a running service's
    reload sees the old file or the new one, complete and valid, never a part. A failure at any point
    (validation, a full disk, an interruption) leaves the directory as it was.
    """
    directory = Path(directory)
    existing, header = read_rates(directory)
    rows, report.replaced = merge(existing, imported)
    report.written = len(imported)
    columns = header + [c for c in RATE_COLUMNS if c not in header]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    writer.writerows({c: (row.get(c) or "") for c in columns} for row in rows)
    if report.dry_run:
        return
    staging = Path(tempfile.mkdtemp(prefix=".import-", dir=directory.parent))
    try:
        for item in directory.iterdir():
            if item.is_file() and item.suffix == ".csv" and item.name != RATES_FILE:
                shutil.copy2(item, staging / item.name)
        with open(staging / RATES_FILE, "w", encoding="utf-8", newline="") as handle:
            handle.write(buffer.getvalue())
            handle.flush()
            os.fsync(handle.fileno())
        try:
            load_schedules(staging)  # check-schedules on the new directory before anything changes
        except ScheduleError as exc:
            raise ImportFailed(f"the imported rows would not load, so nothing was changed:\n{exc}") from None
        os.replace(staging / RATES_FILE, directory / RATES_FILE)
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
