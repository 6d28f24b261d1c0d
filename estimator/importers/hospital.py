"""Import a hospital's standard charges file (the CMS template: CSV tall or wide, or JSON; versions 2 and
3) into facility rows of ``payer_fee_schedule.csv`` (SPEC section 8).

Every outpatient CPT or HCPCS item becomes, for each mapped payer and plan, a facility row in the hospital
outpatient setting: the negotiated dollar amount; else the negotiated percentage of the gross charge;
else, for an algorithm, the median allowed amount (version 3) or the estimated amount (version 2). The
discounted cash price becomes a ``self_pay`` row. Files are read as streams: CSV row by row, JSON one
item at a time.
"""

import csv
import datetime as dt
import re
from pathlib import Path

import ijson

from ..core.schedules import load_schedules
from .rows import (
    INPATIENT,
    MODIFIER,
    NO_PRICE,
    NOT_CODE,
    NOT_ON_FILE,
    PERCENT_OR_DIEM,
    UNMAPPED,
    Candidates,
    ImportFailed,
    Report,
    resolve_region,
    write_rates,
)
from .tic import CODE_TYPES, open_json

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
        for line, row in enumerate(rows, start=2):
            payer_id = (row.get("payer_id") or "").strip()
            if payer_id not in payer_ids:
                raise ImportFailed(f"{Path(path).name}, line {line}: payer '{payer_id}' is not in payers.csv")
            name, plan = _fold(row.get("payer_name")), _fold(row.get("plan_name"))
            if plan:
                self.exact[(name, plan)] = payer_id
            else:
                self.any_plan[name] = payer_id

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
    if text is None or text == "":
        return None
    try:
        value = float(str(text).replace(",", "").replace("$", "").strip())
    except ValueError:
        return None
    return value if value == value and value > 0 else None


def _header(name):
    """A column name with the spaces around its pipes removed (``code | 1`` is ``code|1``)."""
    return "|".join(part.strip() for part in name.split("|"))


def import_hospital(path, into, payer_map, region_id=None, zip_code=None, dry_run=False):
    """Import a hospital standard charges file into the fee-schedule directory ``into``; returns the report."""
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
    try:
        with open_json(path) as stream:
            first = stream.peek(64)[:64].lstrip(b"\xef\xbb\xbf \t\r\n")
        if first.startswith(b"{"):
            meta = _read_json(path, context)
        else:
            meta = _read_csv(path, context)
    except (ijson.JSONError, ijson.IncompleteJSONError, EOFError, UnicodeDecodeError) as exc:
        raise ImportFailed(f"the file is not complete, valid JSON or UTF-8 CSV ({exc}); nothing was imported") from None
    except FileNotFoundError:
        raise ImportFailed(f"{path} does not exist") from None
    if not context["cash"]:
        report.notes.append("payers.csv has no self_pay payer: the discounted cash prices were not imported")
    note = f"Imported from {path.name} ({meta['hospital']}, standard charges last updated {meta['updated']})."
    rows = candidates.resolve(report, note)
    for row in rows:
        row["effective_from"] = meta["updated"]
    write_rates(into, rows, report)
    return report


# CSV ------------------------------------------------------------------------------------------------


def _read_csv(path, context):
    with open(path, encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle)
        try:
            general = [h.strip() for h in next(reader)]
            values = next(reader)
            header = [_header(h) for h in next(reader)]
        except StopIteration:
            raise ImportFailed("this is not a hospital standard charges CSV: it has fewer than three rows") from None
        except csv.Error as exc:
            raise ImportFailed(f"the file is not valid CSV: {exc}") from None
        meta = dict(zip(general, (v.strip() for v in values), strict=False))
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
        columns = {h: i for i, h in enumerate(lower)}
        codes = sorted(int(m.group(1)) for h in lower if (m := re.fullmatch(r"code\|(\d+)", h)))
        groups = _wide_groups(header) if not tall else []
        meta = {
            "hospital": meta.get("hospital_name", ""),
            "updated": _date(meta["last_updated_on"]),
            "version": meta.get("version", ""),
        }
        try:
            for row in reader:
                if not any(cell.strip() for cell in row):
                    continue
                cell = _cells(row, columns)
                code_pairs = [(cell(f"code|{i}"), cell(f"code|{i}|type")) for i in codes]
                item = {
                    "codes": code_pairs,
                    "setting": cell("setting").lower(),
                    "modifiers": cell("modifiers"),
                    "gross": _number(cell("standard_charge|gross")),
                    "cash": _number(cell("standard_charge|discounted_cash")),
                }
                if tall:
                    entries = [_entry(cell, "", cell("payer_name"), cell("plan_name"))]
                else:
                    entries = [_entry(cell, f"|{payer}|{plan}", payer, plan) for payer, plan in groups]
                _charge(item, entries, context)
        except csv.Error as exc:
            raise ImportFailed(f"the file is not valid CSV at line {reader.line_num}: {exc}") from None
    return meta


def _cells(row, columns):
    def cell(name):
        i = columns.get(name)
        return row[i].strip() if i is not None and i < len(row) else ""

    return cell


def _wide_groups(header):
    """(payer, plan) of each ``standard_charge|payer|plan|negotiated_dollar`` column, in order."""
    out = []
    for name in header:
        parts = name.split("|")
        if len(parts) == 4 and parts[0].lower() == "standard_charge" and parts[3].lower() == "negotiated_dollar":
            out.append((parts[1], parts[2]))
    return out


def _entry(cell, suffix, payer, plan):
    """One payer and plan's charges of a row (tall: no suffix; wide: ``|payer|plan``)."""

    def pick(name):
        if not suffix:
            return cell(name)
        base, _, kind = name.rpartition("|")
        if base == "standard_charge":
            return cell(f"standard_charge{suffix.lower()}|{kind}")
        return cell(f"{name}{suffix.lower()}")

    return {
        "payer_name": payer,
        "plan_name": plan,
        "dollar": _number(pick("standard_charge|negotiated_dollar")),
        "percentage": _number(pick("standard_charge|negotiated_percentage")),
        "algorithm": pick("standard_charge|negotiated_algorithm"),
        "median": _number(pick("median_amount")),
        "estimated": _number(pick("estimated_amount")),
        "methodology": pick("standard_charge|methodology").lower(),
    }


# JSON -----------------------------------------------------------------------------------------------


def _read_json(path, context):
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
        for info in ijson.items(stream, "standard_charge_information.item", use_float=True):
            codes = [(str(c.get("code", "")), str(c.get("type", ""))) for c in info.get("code_information") or []]
            for charge in info.get("standard_charges") or []:
                item = {
                    "codes": codes,
                    "setting": str(charge.get("setting", "")).lower(),
                    "modifiers": " ".join(charge.get("modifier_code") or []),
                    "gross": _number(charge.get("gross_charge")),
                    "cash": _number(charge.get("discounted_cash")),
                }
                entries = [
                    {
                        "payer_name": p.get("payer_name"),
                        "plan_name": p.get("plan_name"),
                        "dollar": _number(p.get("standard_charge_dollar")),
                        "percentage": _number(p.get("standard_charge_percentage")),
                        "algorithm": p.get("standard_charge_algorithm") or "",
                        "median": _number(p.get("median_amount")),
                        "estimated": _number(p.get("estimated_amount")),
                        "methodology": str(p.get("methodology", "")).lower(),
                    }
                    for p in charge.get("payers_information") or []
                ]
                _charge(item, entries, context)
    return meta


# One item, whatever the format ------------------------------------------------------------------------


def _charge(item, entries, context):
    """An item's charges: candidate facility rows for its payers and plans, and its cash price."""
    report, candidates = context["report"], context["candidates"]
    # a wide row's empty payer columns: nothing to import, nothing to skip
    entries = [e for e in entries if e["payer_name"] and (e["dollar"] or e["percentage"] or e["algorithm"])]
    count = len(entries) + (1 if item["cash"] else 0)
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
    region = context["region"]
    for entry in entries:
        payer_id = context["payers"].payer(entry["payer_name"], entry["plan_name"])
        if payer_id is None:
            report.skip(UNMAPPED)
            continue
        if entry["methodology"] == "per diem":
            report.skip(PERCENT_OR_DIEM)
            continue
        amount = entry["dollar"]
        if amount is None and entry["percentage"] is not None and item["gross"] is not None:
            amount = entry["percentage"] / 100 * item["gross"]
        if amount is None and entry["algorithm"]:
            amount = entry["median"] if entry["median"] is not None else entry["estimated"]
        if amount is None:
            report.skip(NO_PRICE)
            continue
        for code in known:
            candidates.add((payer_id, code, SETTING, COMPONENT, region), amount, "negotiated", "", "")
    if item["cash"] and context["cash"]:
        for code in known:
            candidates.add((SELF_PAY, code, SETTING, COMPONENT, region), item["cash"], "cash", "", "")
    return None
