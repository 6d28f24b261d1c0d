"""Import a payer's Transparency in Coverage in-network rates file (JSON, or gzipped JSON) into
``payer_fee_schedule.csv`` (SPEC section 8).

The file is read as a stream with ``ijson`` (its C backend): the rates are read one ``in_network`` item
at a time, so memory stays flat whatever the file's size; of the provider references only the ids of the
groups selected by ``--npi``/``--tin`` are kept. When the references come after the rates, the file is
read twice.
"""

import datetime as dt
import gzip
from pathlib import Path

import ijson

from ..core.schedules import load_schedules
from .rows import (
    BUNDLE,
    INPATIENT,
    MODIFIER,
    NOT_CODE,
    NOT_ON_FILE,
    NOT_SELECTED,
    OPEN_DATE,
    PERCENT_OR_DIEM,
    PLACE,
    REMOTE,
    Candidates,
    ImportFailed,
    Report,
    resolve_region,
    write_rates,
)

#: Place-of-service codes and the settings they are (SPEC section 8); none or CSTM-00 is any setting.
PLACES = {"11": "office", "24": "asc", "19": "hospital_outpatient", "22": "hospital_outpatient"}
ANY_PLACE = "CSTM-00"
COMPONENTS = {"professional": ("professional",), "institutional": ("facility",), "both": ("professional", "facility")}
#: Dollar-amount rate types, in order of preference when several apply to one row.
DOLLAR_TYPES = ("negotiated", "fee schedule", "derived")
SKIPPED_TYPES = ("percentage", "per diem")
CODE_TYPES = ("CPT", "HCPCS")
EXPIRED = "expired before the rates take effect"


def open_json(path):
    """The file as a binary stream, gunzipped when it is gzip (by its first bytes, not its name)."""
    handle = open(path, "rb")  # noqa: SIM115 - the caller closes it
    if handle.peek(2)[:2] == b"\x1f\x8b":
        handle.close()
        return gzip.open(path, "rb")
    return handle


class _Providers:
    """Which provider groups the import keeps: all when no NPI or TIN is given, else those naming one."""

    def __init__(self, npis, tins):
        self.npis = {str(n).strip() for n in npis}
        self.tins = {str(t).strip() for t in tins}
        self.filtered = bool(self.npis or self.tins)
        self.selected, self.remote, self.seen = set(), set(), False

    def chosen(self, group):
        if not self.filtered:
            return True
        tin = group.get("tin") or {}
        value = str(tin.get("value", "")).strip() if isinstance(tin, dict) else ""
        return value in self.tins or any(str(n) in self.npis for n in group.get("npi") or [])

    def add_reference(self, reference):
        self.seen = True
        group_id = reference.get("provider_group_id")
        if reference.get("location") and not reference.get("provider_groups"):
            self.remote.add(group_id)
        elif any(self.chosen(g) for g in reference.get("provider_groups") or []):
            self.selected.add(group_id)

    def rate_is_selected(self, rate):
        """(selected, reason when not)."""
        if not self.filtered:
            return True, None
        references = rate.get("provider_references") or []
        if any(r in self.selected for r in references):
            return True, None
        if any(self.chosen(g) for g in rate.get("provider_groups") or []):
            return True, None
        if references and all(r in self.remote for r in references):
            return False, REMOTE
        return False, NOT_SELECTED


def _scan_head(path, providers):
    """Read the top-level fields and the provider references that come before ``in_network``.

    The events pass through a small generator that notes the top-level fields and stops at the rates;
    ijson builds the references from them (in C). Returns (top-level scalar fields, whether
    ``in_network`` was found, whether the references came after it and must be read in a second pass).
    """
    head, state = {}, {"rates": False, "references": False}

    def until_rates(events):
        for prefix, event, value in events:
            if prefix == "in_network" and event == "start_array":
                state["rates"] = True
                return
            if prefix == "provider_references" and event == "start_array":
                state["references"] = True
            elif prefix == "" and event not in ("start_map", "map_key", "end_map"):
                return  # the top level is not an object
            elif event in ("string", "number", "boolean") and "." not in prefix and prefix:
                head[prefix] = value
            yield prefix, event, value

    with open_json(path) as stream:
        events = until_rates(ijson.parse(stream, use_float=True))
        for reference in ijson.items(events, "provider_references.item"):
            providers.add_reference(reference)
        for _ in events:  # the top-level fields after the references, up to the rates
            pass
    if state["references"]:
        providers.seen = True
    return head, state["rates"], state["rates"] and not state["references"]


def _read_references(path, providers):
    with open_json(path) as stream:
        for reference in ijson.items(stream, "provider_references.item", use_float=True):
            providers.add_reference(reference)


def _top_level(path, name):
    with open_json(path) as stream:
        return next(ijson.items(stream, name), None)


def import_tic(
    path, into, payer_id, region_id=None, zip_code=None, npis=(), tins=(), effective_from=None, dry_run=False
):
    """Import a TiC in-network rates file into the fee-schedule directory ``into``; returns the report.

    Raises ``ImportFailed`` (nothing changed) for a file that is not such a file, is truncated, or whose
    rows would not load; ``ScheduleError`` when ``into`` itself does not load.
    """
    path, into = Path(path), Path(into)
    schedules = load_schedules(into)
    if payer_id not in schedules.keys["payer_id"]:
        raise ImportFailed(f"payer '{payer_id}' is not in payers.csv")
    region = resolve_region(schedules, region_id, zip_code)
    report = Report(source=path.name, kind="Transparency in Coverage in-network rates", dry_run=dry_run)
    providers = _Providers(npis, tins)
    try:
        head, found_rates, references_later = _scan_head(path, providers)
        if not found_rates:
            raise ImportFailed(
                "this is not a Transparency in Coverage in-network rates file: it has no in_network array"
            )
        if references_later:
            _read_references(path, providers)
            if providers.filtered:
                report.notes.append("the provider references came after the rates: the file was read twice")
        updated = head.get("last_updated_on") or (None if effective_from else _top_level(path, "last_updated_on"))
        start = _iso(effective_from or updated, "last_updated_on")
        candidates = Candidates(DOLLAR_TYPES)
        codes = schedules.keys["cpt_code"]
        with open_json(path) as stream:
            for item in ijson.items(stream, "in_network.item", use_float=True):
                _item(item, payer_id, region, start, codes, providers, candidates, report)
    except (ijson.JSONError, ijson.IncompleteJSONError, EOFError, OSError, UnicodeDecodeError) as exc:
        if isinstance(exc, FileNotFoundError):
            raise ImportFailed(f"{path} does not exist") from None
        raise ImportFailed(f"the file is not complete, valid JSON ({exc}); nothing was imported") from None
    if providers.remote:
        report.notes.append(f"{len(providers.remote):,} provider references point to remote files, not fetched")
    entity = " ".join(str(head.get(k, "")) for k in ("reporting_entity_name", "plan_name") if head.get(k))
    note = f"Imported from {path.name} ({entity}, in-network rates last updated {updated or start})."
    rows = candidates.resolve(report, note)
    write_rates(into, rows, report)
    return report


def _iso(text, what):
    try:
        return dt.date.fromisoformat(str(text)[:10]).isoformat()
    except (TypeError, ValueError):
        raise ImportFailed(f"the file's {what} is not a date ({text!r}); give --effective-from") from None


def _item(item, payer_id, region, start, codes, providers, candidates, report):
    """One ``in_network`` item: each of its prices becomes a candidate row or a skip."""
    rates = item.get("negotiated_rates") or []
    reason = None
    if item.get("negotiation_arrangement", "ffs") != "ffs":
        reason = BUNDLE
    elif str(item.get("billing_code_type", "")).upper() not in CODE_TYPES:
        reason = NOT_CODE
    else:
        code = str(item.get("billing_code", "")).strip().upper()
        if code not in codes:
            reason = NOT_ON_FILE
    if reason is not None:  # most items of a payer's file: counted, not looked into
        report.skip(reason, sum(len(r.get("negotiated_prices") or ()) for r in rates))
        return
    for rate in rates:
        selected, why = providers.rate_is_selected(rate)
        if not selected:
            report.skip(why, len(rate.get("negotiated_prices") or []))
            continue
        for price in rate.get("negotiated_prices") or []:
            _price(price, payer_id, code, region, start, candidates, report)


def _price(price, payer_id, code, region, start, candidates, report):
    if price.get("setting") == "inpatient":
        return report.skip(INPATIENT)
    kind = str(price.get("negotiated_type", "")).lower()
    if kind in SKIPPED_TYPES or kind not in DOLLAR_TYPES:
        return report.skip(PERCENT_OR_DIEM)
    if price.get("billing_code_modifier"):
        return report.skip(MODIFIER)
    places = [str(p) for p in price.get("service_code") or []]
    settings = {"*"} if not places or ANY_PLACE in places else {PLACES[p] for p in places if p in PLACES}
    if not settings:
        return report.skip(PLACE)
    end = str(price.get("expiration_date") or "")[:10]
    end = "" if not end or end == OPEN_DATE else end
    if end and end < start:
        return report.skip(EXPIRED)
    rate = price.get("negotiated_rate")
    if not isinstance(rate, (int, float)) or not 0 < rate <= 10_000_000:
        return report.skip("no usable dollar amount")
    for setting in sorted(settings):
        for component in COMPONENTS.get(str(price.get("billing_class", "professional")), ("professional",)):
            candidates.add((payer_id, code, setting, component, region), rate, kind, start, end)
    return None


__all__ = ["import_tic", "open_json"]
