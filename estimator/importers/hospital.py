"""Import a hospital's standard charges file (the CMS template: CSV tall or wide, or JSON; versions 2 and
3) into facility rows of ``payer_fee_schedule.csv`` (SPEC section 8).

Every outpatient CPT or HCPCS item becomes, for each mapped payer and plan, a facility row in the hospital
outpatient setting: the negotiated dollar amount; else, where the methodology is "percent of total billed
charges" (and only there), the negotiated percentage of the gross charge; else the median allowed amount
(version 3) or the estimated amount (version 2). The discounted cash price becomes a ``self_pay`` row.
Files are read as streams: CSV record by record (a broken line is reported with its number, never lost),
JSON one item at a time.
"""

import csv
import datetime as dt
import math
import re
from operator import itemgetter
from pathlib import Path

import ijson

from ..core.csvrecords import records
from ..core.schedules import load_schedules
from .reading import as_array, as_object, first_bytes, open_json, refusals
from .rows import (
    INPATIENT,
    MODIFIER,
    NO_PRICE,
    NOT_CODE,
    NOT_ON_FILE,
    PERCENT_OR_DIEM,
    PLACEHOLDER,
    UNMAPPED,
    Candidates,
    ImportFailed,
    Report,
    resolve_region,
    usable_amount,
    write_rates,
)
from .tic import CODE_TYPES

SELF_PAY = "self_pay"
SETTING, COMPONENT = "hospital_outpatient", "facility"
MAP_COLUMNS = ("payer_name", "plan_name", "payer_id")


class PayerMap:
    """``MAP.csv``: our payer for each of the file's payers and plans (a blank plan: every plan)."""

    def __init__(self, path, payer_ids):
        try:
            with open(path, encoding="utf-8-sig", newline="") as handle:
                reader = csv.DictReader(handle)
                missing = [c for c in MAP_COLUMNS if c not in (reader.fieldnames or [])]
                if missing:
                    raise ImportFailed(f"{Path(path).name} has no {', '.join(missing)} column")
                rows = list(reader)
        except (OSError, UnicodeDecodeError, csv.Error) as exc:
            raise ImportFailed(f"the payer map {path} cannot be read: {exc}") from None
        self.exact, self.any_plan = {}, {}
        first = {}
        for line, row in enumerate(rows, start=2):
            payer_id = (row.get("payer_id") or "").strip()
            if payer_id not in payer_ids:
                raise ImportFailed(f"{Path(path).name}, line {line}: payer '{payer_id}' is not in payers.csv")
            name, plan = _fold(row.get("payer_name")), _fold(row.get("plan_name"))
            table, key = (self.exact, (name, plan)) if plan else (self.any_plan, name)
            if key in table and table[key] != payer_id:
                what = f"payer {row.get('payer_name')!r}" + (f", plan {row.get('plan_name')!r}," if plan else "")
                raise ImportFailed(
                    f"{Path(path).name}, line {line}: {what} is mapped to '{table[key]}' on line {first[key]} "
                    f"and to '{payer_id}' here: give each payer and plan one payer_id"
                )
            table[key] = payer_id
            first.setdefault(key, line)

    def payer(self, payer_name, plan_name):
        name = _fold(payer_name)
        return self.exact.get((name, _fold(plan_name))) or self.any_plan.get(name)


def _fold(text):
    return " ".join(str(text or "").split()).casefold()


def _date(text):
    """``last_updated_on`` as ISO: written as YYYY-MM-DD or as month/day/year."""
    text = str(text or "").strip()
    for parse in (dt.date.fromisoformat, lambda t: dt.datetime.strptime(t, "%m/%d/%Y").date()):
        try:
            return parse(text).isoformat()
        except ValueError:
            continue
    raise ImportFailed(f"the file's last_updated_on is not a date ({text!r})")


def _number(text):
    """A cell or field as a number: ``None`` when blank, NaN when it is not a number (so that the price
    is skipped as unusable, not taken for missing)."""
    if text is None or text == "":
        return None
    if isinstance(text, bool):
        return math.nan
    if isinstance(text, (int, float)):
        return float(text)
    text = str(text).replace(",", "").replace("$", "").strip()
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        return math.nan


def _header(name):
    """A column name with the spaces around its pipes removed (``code | 1`` is ``code|1``)."""
    return "|".join(part.strip() for part in name.split("|"))


def import_hospital(path, into, payer_map, region_id=None, zip_code=None, dry_run=False, effective_from=None):
    """Import a hospital standard charges file into the fee-schedule directory ``into``; returns the report.

    ``effective_from`` (ISO date): the imported rows' first day, instead of the file's last_updated_on.
    """
    path, into = Path(path), Path(into)
    schedules = load_schedules(into)
    region = resolve_region(schedules, region_id, zip_code)
    payers = PayerMap(payer_map, schedules.keys["payer_id"])
    report = Report(source=path.name, kind="hospital standard charges", dry_run=dry_run)
    candidates = Candidates()
    context = {
        "region": region,
        "codes": schedules.keys["cpt_code"],
        "payers": payers,
        "cash": SELF_PAY in schedules.keys["payer_id"],
        "candidates": candidates,
        "report": report,
    }
    unreadable = "the file is not complete, valid JSON or UTF-8 CSV ({}); nothing was imported".format
    with refusals(path, "standard charges file", "standard_charge_information", unreadable) as where:
        first = (first_bytes(path, 64) or b"").lstrip(b" \t\r\n")
        if first.startswith(b"{"):
            meta = _read_json(path, context, where)
        else:
            meta = _read_csv(path, context)
    if not context["cash"]:
        report.notes.append("payers.csv has no self_pay payer: the discounted cash prices were not imported")
    note = f"Imported from {path.name} ({meta['hospital']}, standard charges last updated {meta['updated']})."
    rows = candidates.resolve(report, note)
    for row in rows:
        row["effective_from"] = effective_from or meta["updated"]
    write_rates(into, rows, report)
    return report


# CSV ------------------------------------------------------------------------------------------------

#: The columns of one payer and plan's charges: tall files have them once (with payer_name and
#: plan_name), wide files once per payer and plan (``standard_charge|[payer]|[plan]|negotiated_dollar``,
#: ``median_amount|[payer]|[plan]``...).
PAYER_FIELDS = {
    "dollar": "standard_charge|negotiated_dollar",
    "percentage": "standard_charge|negotiated_percentage",
    "algorithm": "standard_charge|negotiated_algorithm",
    "median": "median_amount",
    "estimated": "estimated_amount",
    "methodology": "standard_charge|methodology",
}


def _read_csv(path, context):
    report = context["report"]
    with open(path, encoding="utf-8-sig", newline="") as handle:
        found = records(handle)
        try:
            general, values, header_record = next(found), next(found), next(found)
        except StopIteration:
            raise ImportFailed("this is not a hospital standard charges CSV: it has fewer than three rows") from None
        for record in (general, values, header_record):
            if record.problem:
                raise ImportFailed(f"the file's line {record.line} is not valid CSV: {record.problem}")
        general = [h.strip() for h in general.cells]
        header = [_header(h) for h in header_record.cells]
        meta = dict(zip(general, (v.strip() for v in values.cells), strict=False))
        if "last_updated_on" not in meta or "hospital_name" not in meta:
            raise ImportFailed(
                "this is not a hospital standard charges CSV: its first row has no hospital_name and "
                "last_updated_on (the CMS template's two preamble rows)"
            )
        lower = [h.lower() for h in header]
        required = [
            "description",
            "code|1",
            "code|1|type",
            "setting",
            "standard_charge|gross",
            "standard_charge|discounted_cash",
        ]
        missing = [c for c in required if c not in lower]
        tall = "payer_name" in lower
        if tall:
            missing += [c for c in ("plan_name", "standard_charge|negotiated_dollar") if c not in lower]
        elif not any(h.endswith("|negotiated_dollar") and h.count("|") == 3 for h in lower):
            missing.append("payer columns (standard_charge|[payer]|[plan]|negotiated_dollar, or payer_name)")
        if missing:
            raise ImportFailed(f"the CSV is missing required headers: {', '.join(missing)}")
        columns = {}
        for i, h in enumerate(lower):
            columns.setdefault(h, i)
        codes = sorted(int(m.group(1)) for h in lower if (m := re.fullmatch(r"code\|(\d+)", h)))
        code_columns = [(columns.get(f"code|{i}"), columns.get(f"code|{i}|type")) for i in codes]
        item_columns = [
            columns.get(c) for c in ("setting", "modifiers", "standard_charge|gross", "standard_charge|discounted_cash")
        ]
        if tall:
            groups = [(columns.get("payer_name"), columns.get("plan_name"), _field_columns(columns, ""))]
        else:
            groups = [
                (payer, plan, _field_columns(columns, f"|{payer}|{plan}".lower()))
                for payer, plan in _wide_groups(header)
            ]
        # each group's cells in one C call (an itemgetter of two or more columns gives a tuple)
        groups = [(*group, itemgetter(*[i for _, i in group[2]] * 2)) for group in groups if group[2]]
        meta = {
            "hospital": meta.get("hospital_name", ""),
            "updated": _date(meta["last_updated_on"]),
            "version": meta.get("version", ""),
        }
        width = len(header)
        for record in found:
            row = record.cells
            if record.problem:
                report.skip(record.problem, place=f"line {record.line:,}")
                continue
            if not any(cell.strip() for cell in row):
                continue
            if len(row) < width:
                row = row + [""] * (width - len(row))
            setting, modifiers, gross, cash = (row[i].strip() if i is not None else "" for i in item_columns)
            item = {
                "codes": [
                    (row[c].strip() if c is not None else "", row[t].strip() if t is not None else "")
                    for c, t in code_columns
                ],
                "setting": setting.lower(),
                "modifiers": modifiers,
                "gross": _number(gross),
                "cash": _number(cash),
                "place": f"line {record.line:,}",
            }
            entries = []
            for payer, plan, fields, filled in groups:
                if not any(filled(row)):
                    continue  # a wide row's empty payer columns: nothing to import, nothing to skip
                cells = {name: row[i].strip() for name, i in fields}
                if not any(cells.values()):
                    continue
                if tall:  # the payer and plan are cells of the row
                    payer_name = row[payer].strip() if payer is not None else ""
                    plan_name = row[plan].strip() if plan is not None else ""
                else:
                    payer_name, plan_name = payer, plan
                entries.append(_entry(payer_name, plan_name, cells))
            _charge(item, entries, context)
    return meta


def _field_columns(columns, suffix):
    """(field, column index) of one payer and plan's charges (``suffix``: ``|payer|plan`` in wide files)."""
    out = []
    for name, column in PAYER_FIELDS.items():
        base, _, kind = column.rpartition("|")
        full = f"standard_charge{suffix}|{kind}" if base == "standard_charge" else f"{column}{suffix}"
        if full in columns:
            out.append((name, columns[full]))
    return out


def _wide_groups(header):
    """(payer, plan) of each ``standard_charge|payer|plan|negotiated_dollar`` column, in order."""
    out = []
    for name in header:
        parts = name.split("|")
        if len(parts) == 4 and parts[0].lower() == "standard_charge" and parts[3].lower() == "negotiated_dollar":
            out.append((parts[1], parts[2]))
    return out


def _entry(payer_name, plan_name, fields):
    """One payer and plan's charges of an item, from its cells or JSON fields (``PAYER_FIELDS`` names)."""
    return {
        "payer_name": payer_name,
        "plan_name": plan_name,
        "dollar": _number(fields.get("dollar")),
        "percentage": _number(fields.get("percentage")),
        "algorithm": str(fields.get("algorithm") or ""),
        "median": _number(fields.get("median")),
        "estimated": _number(fields.get("estimated")),
        "methodology": " ".join(str(fields.get("methodology") or "").split()).lower(),
    }


# JSON -----------------------------------------------------------------------------------------------

#: The JSON template's names for ``PAYER_FIELDS``.
JSON_FIELDS = {
    "dollar": "standard_charge_dollar",
    "percentage": "standard_charge_percentage",
    "algorithm": "standard_charge_algorithm",
    "median": "median_amount",
    "estimated": "estimated_amount",
    "methodology": "methodology",
}


def _read_json(path, context, where):
    with open_json(path) as stream:
        head = {}
        for prefix, event, value in ijson.parse(stream, use_float=True):
            if prefix in ("hospital_name", "last_updated_on", "version") and event in ("string", "number"):
                head[prefix] = value
            if prefix == "standard_charge_information" and event == "start_array":
                break
        else:
            raise ImportFailed("this is not a hospital standard charges file: it has no standard_charge_information")
    if "last_updated_on" not in head:
        with open_json(path) as stream:
            head["last_updated_on"] = next(ijson.items(stream, "last_updated_on"), None)
    meta = {"hospital": head.get("hospital_name", ""), "updated": _date(head.get("last_updated_on"))}
    with open_json(path) as stream:
        items = ijson.items(stream, "standard_charge_information.item", use_float=True)
        for where["item"], info in enumerate(items, start=1):
            place = f"standard_charge_information item {where['item']:,}"
            info = as_object(info, "the item")
            codes = [
                (str(c.get("code", "")), str(c.get("type", "")))
                for c in (
                    as_object(c, "a code_information item")
                    for c in as_array(info.get("code_information"), "code_information")
                )
            ]
            for charge in as_array(info.get("standard_charges"), "standard_charges"):
                charge = as_object(charge, "a standard_charges item")
                modifiers = charge.get("modifier_code") or []
                item = {
                    "codes": codes,
                    "setting": str(charge.get("setting", "")).lower(),
                    "modifiers": " ".join(map(str, modifiers)) if isinstance(modifiers, list) else str(modifiers),
                    "gross": _number(charge.get("gross_charge")),
                    "cash": _number(charge.get("discounted_cash")),
                    "place": place,
                }
                entries = []
                for p in as_array(charge.get("payers_information"), "payers_information"):
                    p = as_object(p, "a payers_information item")
                    fields = {name: p.get(key) for name, key in JSON_FIELDS.items()}
                    entries.append(_entry(p.get("payer_name"), p.get("plan_name"), fields))
                _charge(item, entries, context)
    return meta


# One item, whatever the format ------------------------------------------------------------------------

#: The one methodology whose percentage is a share of the gross charge (CMS's data dictionary).
PERCENT_OF_CHARGES = "percent of total billed charges"


def _charge(item, entries, context):
    """An item's charges: candidate facility rows for its payers and plans, and its cash price."""
    report, candidates = context["report"], context["candidates"]
    entries = [e for e in entries if e["payer_name"] and _priced(e)]
    cash = item["cash"]
    count = len(entries) + (1 if cash is not None else 0)
    ours = [code.strip().upper() for code, kind in item["codes"] if kind.strip().upper() in CODE_TYPES and code.strip()]
    if not ours:
        return report.skip(NOT_CODE, count)
    known = [code for code in ours if code in context["codes"]]
    if not known:
        return report.skip(NOT_ON_FILE, count)
    if item["setting"] == "inpatient":
        return report.skip(INPATIENT, count)
    if item["modifiers"]:
        return report.skip(MODIFIER, count)
    region, place = context["region"], item["place"]
    for entry in entries:
        payer_id = context["payers"].payer(entry["payer_name"], entry["plan_name"])
        if payer_id is None:
            report.skip(UNMAPPED)
            report.unmapped[(str(entry["payer_name"]), str(entry["plan_name"] or ""))] += 1
            continue
        if entry["methodology"] == "per diem":
            report.skip(PERCENT_OR_DIEM)
            continue
        amount = _amount(entry, item["gross"])
        if amount is None:
            report.skip(NO_PRICE)
            continue
        amount, problem = usable_amount(amount)
        if problem:
            report.skip(problem, place=f"{place}, {entry['payer_name']} {entry['plan_name'] or ''}".rstrip())
            continue
        for code in known:
            candidates.add((payer_id, code, SETTING, COMPONENT, region), amount, "negotiated", "", "")
    if cash is not None and context["cash"]:
        amount, problem = usable_amount(cash)
        if problem:
            report.skip(problem, place=f"{place}, discounted cash")
        else:
            for code in known:
                candidates.add((SELF_PAY, code, SETTING, COMPONENT, region), amount, "cash", "", "")
    return None


def _priced(entry):
    return any(entry[k] is not None for k in ("dollar", "percentage", "median", "estimated")) or bool(
        entry["algorithm"]
    )


def _amount(entry, gross):
    """The dollar amount of one payer and plan's charge (SPEC section 8), or ``None``: the negotiated
    dollar amount; else the percentage of the gross charge where the methodology says the percentage is
    of billed charges; else the median allowed amount (version 3) or the estimated amount (version 2)."""
    if entry["dollar"] is not None:
        return entry["dollar"]
    if entry["percentage"] is not None and entry["methodology"] == PERCENT_OF_CHARGES:
        if gross is None:
            return None
        if PLACEHOLDER in (gross, entry["percentage"]):
            return PLACEHOLDER  # no data, not a price
        return entry["percentage"] / 100 * gross
    if entry["median"] is not None:
        return entry["median"]
    return entry["estimated"]
