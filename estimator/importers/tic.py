"""Import a payer's Transparency in Coverage in-network rates file (JSON, or gzipped JSON) into
``payer_fee_schedule.csv`` (SPEC section 8).

The file is read as a stream with ``ijson`` (its C backend): the rates are read one ``in_network`` item
at a time, so memory stays flat whatever the file's size; of the provider references only the ids of the
groups selected by ``--npi``/``--tin`` are kept. When the references come after the rates, the file is
read twice.
"""

import datetime as dt
import functools
from itertools import islice
from pathlib import Path

import ijson

from ..core.identifiers import npi_is_valid, tin_is_valid
from ..core.schedules import load_schedules
from .reading import as_array, as_list, as_object, first_bytes, open_json, refusals, what_it_seems
from .rows import (
    BAD_DATE,
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
    usable_amount,
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
UPDATED = b'"last_updated_on"'


class _Providers:
    """Which provider groups the import keeps: all when no NPI or TIN is given, else those naming one."""

    def __init__(self, npis, tins):
        self.npis = {str(n).strip() for n in npis}
        self.tins = {_digits(t) for t in tins}
        self.filtered = bool(self.npis or self.tins)
        self.selected, self.remote, self.seen = set(), set(), False

    def chosen(self, group):
        if not self.filtered:
            return True
        tin = group.get("tin") or {}
        value = _digits(tin.get("value", "")) if isinstance(tin, dict) else ""
        return value in self.tins or any(str(n) in self.npis for n in as_list(group.get("npi")))

    def add_reference(self, reference):
        self.seen = True
        group_id = reference.get("provider_group_id")
        groups = as_array(reference.get("provider_groups"), f"provider group {group_id}'s provider_groups")
        if reference.get("location") and not groups:
            self.remote.add(group_id)
        elif any(self.chosen(as_object(g, f"a provider group of {group_id}")) for g in groups):
            self.selected.add(group_id)

    def rate_is_selected(self, rate):
        """(selected, reason when not)."""
        if not self.filtered:
            return True, None
        references = as_list(rate.get("provider_references"))
        if any(r in self.selected for r in references):
            return True, None
        groups = as_array(rate.get("provider_groups"), "provider_groups")
        if any(self.chosen(as_object(g, "a provider group")) for g in groups):
            return True, None
        if references and all(r in self.remote for r in references):
            return False, REMOTE
        return False, NOT_SELECTED


def _digits(text):
    """A TIN as its digits (``12-3456789`` and ``123456789`` are one TIN)."""
    return "".join(c for c in str(text) if c.isdigit())


def check_identifiers(npis, tins):
    """Refuse an ``--npi`` without a valid check digit, or a ``--tin`` that is no EIN or SSN."""
    for npi in npis:
        if not npi_is_valid(str(npi).strip()):
            raise ImportFailed(f"--npi {npi} is not an NPI (ten digits, the last a valid check digit)")
    for tin in tins:
        if not tin_is_valid(str(tin).strip()):
            raise ImportFailed(f"--tin {tin} is not a TIN (an EIN 12-3456789, an SSN 123-45-6789 or nine digits)")


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
                if prefix == "last_updated_on" and prefix in head:
                    raise ImportFailed("the file gives last_updated_on twice: which one holds is not guessed")
                head[prefix] = value
            yield prefix, event, value

    with open_json(path) as stream:
        events = until_rates(ijson.parse(stream, use_float=True))
        for n, reference in enumerate(ijson.items(events, "provider_references.item"), start=1):
            providers.add_reference(as_object(reference, f"provider_references item {n}"))
        for _ in events:  # the top-level fields after the references, up to the rates
            pass
    if state["references"]:
        providers.seen = True
    return head, state["rates"], state["rates"] and not state["references"]


def _read_references(path, providers):
    with open_json(path) as stream:
        for n, reference in enumerate(ijson.items(stream, "provider_references.item", use_float=True), start=1):
            providers.add_reference(as_object(reference, f"provider_references item {n}"))


def _top_level(path, name):
    with open_json(path) as stream:
        values = list(islice(ijson.items(stream, name), 2))
    if len(values) > 1:
        raise ImportFailed(f"the file gives {name} twice: which one holds is not guessed")
    return values[0] if values else None


def import_tic(
    path, into, payer_id, region_id=None, zip_code=None, npis=(), tins=(), effective_from=None, dry_run=False
):
    """Import a TiC in-network rates file into the fee-schedule directory ``into``; returns the report.

    Raises ``ImportFailed`` (nothing changed) for a file that is not such a file, is truncated, nests
    too deep or has a field of the wrong type, or whose rows would not load; ``ScheduleError`` when
    ``into`` itself does not load.
    """
    path, into = Path(path), Path(into)
    check_identifiers(npis, tins)
    schedules = load_schedules(into)
    if payer_id not in schedules.keys["payer_id"]:
        raise ImportFailed(f"payer '{payer_id}' is not in payers.csv")
    region = resolve_region(schedules, region_id, zip_code)
    report = Report(source=path.name, kind="Transparency in Coverage in-network rates", dry_run=dry_run)
    providers = _Providers(npis, tins)
    with refusals(path, "price file", "in_network", functools.partial(_unreadable, path)) as where:
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
        with open_json(path, keys=(UPDATED,)) as stream:
            for where["item"], item in enumerate(ijson.items(stream, "in_network.item", use_float=True), start=1):
                _item(item, where["item"], payer_id, region, start, codes, providers, candidates, report)
            if stream.key_counts().get(UPDATED.decode(), 0) > 1:
                raise ImportFailed("the file gives last_updated_on twice: which one holds is not guessed")
    if providers.remote:
        report.notes.append(f"{len(providers.remote):,} provider references point to remote files, not fetched")
    entity = " ".join(str(head.get(k, "")) for k in ("reporting_entity_name", "plan_name") if head.get(k))
    note = f"Imported from {path.name} ({entity}, in-network rates last updated {updated or start})."
    rows = candidates.resolve(report, note)
    write_rates(into, rows, report)
    return report


def _unreadable(path, error):
    """Why a file that ijson could not read is refused: what it seems to be, when it is not JSON."""
    start = first_bytes(path)
    if start is not None and not start.lstrip(b" \t\r\n").startswith((b"{", b"[")):
        return f"this is not an in-network rates JSON file: {what_it_seems(start)}"
    return f"the file is not complete, valid JSON ({error}); nothing was imported"


def _iso(text, what):
    try:
        return dt.date.fromisoformat(str(text)[:10]).isoformat()
    except (TypeError, ValueError):
        raise ImportFailed(f"the file's {what} is not a date ({text!r}); give --effective-from") from None


def _item(item, n, payer_id, region, start, codes, providers, candidates, report):
    """One ``in_network`` item (the ``n``-th): each of its prices becomes a candidate row or a skip."""
    item = as_object(item, "the item")
    rates = as_array(item.get("negotiated_rates"), "negotiated_rates")
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
        report.skip(reason, _count_prices(rates))
        return
    place = f"in_network item {n:,} ({code})"
    for rate in rates:
        selected, why = providers.rate_is_selected(as_object(rate, "a negotiated_rates item"))
        prices = _prices(rate)
        if not selected:
            report.skip(why, len(prices))
            continue
        for price in prices:
            _price(
                as_object(price, "a negotiated_prices item"), payer_id, code, region, start, candidates, report, place
            )


def _count_prices(rates):
    """How many prices ``rates`` hold (checked for their types as :func:`_prices` does, but quicker)."""
    total = 0
    for rate in rates:
        prices = rate.get("negotiated_prices") if type(rate) is dict else _prices(rate)
        if type(prices) is list:
            total += len(prices)
        elif prices is not None:
            total += len(_prices(rate))
    return total


def _prices(rate):
    return as_array(as_object(rate, "a negotiated_rates item").get("negotiated_prices"), "negotiated_prices")


def _price(price, payer_id, code, region, start, candidates, report, place):
    if price.get("setting") == "inpatient":
        return report.skip(INPATIENT)
    kind = str(price.get("negotiated_type", "")).lower()
    if kind in SKIPPED_TYPES or kind not in DOLLAR_TYPES:
        return report.skip(PERCENT_OR_DIEM)
    if price.get("billing_code_modifier"):
        return report.skip(MODIFIER)
    places = [str(p) for p in as_list(price.get("service_code"))]
    settings = {"*"} if not places or ANY_PLACE in places else {PLACES[p] for p in places if p in PLACES}
    if not settings:
        return report.skip(PLACE)
    end = str(price.get("expiration_date") or "")[:10]
    end = "" if not end or end == OPEN_DATE else end
    if end:
        try:
            end = dt.date.fromisoformat(end).isoformat()
        except ValueError:
            return report.skip(BAD_DATE, place=place)
        if end < start:
            return report.skip(EXPIRED)
    rate, problem = usable_amount(price.get("negotiated_rate"))
    if problem:
        return report.skip(problem, place=place)
    for setting in sorted(settings):
        for component in COMPONENTS.get(str(price.get("billing_class", "professional")), ("professional",)):
            candidates.add((payer_id, code, setting, component, region), rate, kind, start, end)
    return None


__all__ = ["import_tic"]
