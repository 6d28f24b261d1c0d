"""Turn requests given as text cells (a CSV row, or a JSON body rendered as text) into typed columns.

Every rule of SPEC section 3 lives here, with the message a user sees, so the JSON API, the web form and
the batch paths refuse the same input with the same words. Work is done once per distinct cell value,
which keeps a million-row batch fast: real batches repeat codes, payers, dates and ZIPs.
"""

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .glossary import (
    MAX_MONEY,
    MAX_UNITS,
    MONEY_FIELDS,
    NETWORKS,
    REQUEST_FIELDS,
    SETTINGS,
    SUPPORTED_MODIFIERS,
)
from .schedules import days_from_iso

MISSING = "Missing data for required field."
NOT_INTEGER = "Not a valid integer."
NOT_NUMBER = "Not a valid number."
NOT_FINITE = "Special numeric values (nan or infinity) are not permitted."
NOT_DATE = "Not a valid date."
BAD_ZIP = "Not a valid ZIP code: give 5 digits, or ZIP+4 as 12345-6789."
REGION_AND_ZIP = "Give region_id or zip, not both."
MODIFIER_50_WITH_SIDE = "Modifier 50 cannot be combined with RT or LT."


def one_of(choices):
    """The message for a value outside ``choices`` (the wording of marshmallow's OneOf)."""
    return f"Must be one of: {', '.join(choices)}."


def between(low, high):
    """The message for a number outside ``[low, high]`` (the wording of marshmallow's Range)."""
    return f"Must be greater than or equal to {low} and less than or equal to {high}."


SETTING_CHOICES = one_of(SETTINGS)
NETWORK_CHOICES = one_of(NETWORKS)
UNITS_RANGE = between(1, MAX_UNITS)
MONEY_RANGE = between(0, MAX_MONEY)
COINSURANCE_RANGE = between(0, 1)
_MODIFIER_SPLIT = re.compile(r"[\s,;]+")


@dataclass(frozen=True)
class Intake:
    """Typed requests and their validation messages.

    ``frame`` has one row per request: ``cpt_code``, ``payer_id``, ``region_id`` (resolved from the ZIP;
    ``""`` = national), ``zip``, ``setting``, ``network``, ``modifiers`` (normalised, space-separated),
    ``bilateral`` (bool), ``units`` (int), ``date_of_service`` (day number), ``date_given`` (bool), the
    benefit fields as float (NaN = not given: the payer's default applies), ``deductible_met`` and
    ``oop_met`` (0 when not given). ``messages`` maps each field to an object array holding, per row,
    the first message for that field or ``None``. Rows with any message are not estimated.
    """

    frame: pd.DataFrame
    messages: dict

    @property
    def invalid(self):
        """Boolean array: the rows that failed validation."""
        bad = np.zeros(len(self.frame), dtype=bool)
        for msgs in self.messages.values():
            bad |= pd.notna(msgs)
        return bad

    def error_text(self):
        """Per-row ``field: message`` text joined with ``; `` (``""`` for valid rows), vectorised."""
        out = pd.Series("", index=self.frame.index, dtype="object")
        for field in REQUEST_FIELDS:
            msgs = self.messages.get(field)
            if msgs is None:
                continue
            has = pd.notna(msgs)
            if not has.any():
                continue
            part = pd.Series(msgs, index=self.frame.index, dtype="object")
            joined = np.where(out == "", field + ": " + part, out + "; " + field + ": " + part)
            out = out.where(~has, pd.Series(joined, index=out.index))
        return out

    def row_messages(self, i):
        """Messages of row ``i`` as ``{field: [message]}`` (the JSON error shape)."""
        return {f: [m[i]] for f, m in self.messages.items() if m[i] is not None}


class _Distinct:
    """A column of text cells seen as distinct values plus, per row, the index of its value."""

    def __init__(self, cells):
        codes, uniques = pd.factorize(pd.Series(cells, dtype="object"), use_na_sentinel=True)
        values = pd.Series(uniques, dtype="object")
        if (codes < 0).any():
            codes = np.where(codes < 0, len(values), codes)
            values = pd.concat([values, pd.Series([""], dtype="object")], ignore_index=True)
        self.codes = codes
        self.values = values.astype(str).str.strip()

    def rows(self, per_value):
        """Expand an array computed per distinct value to one entry per row."""
        return np.asarray(per_value)[self.codes]


class _Messages:
    """Collects the first message per field and row."""

    def __init__(self, n):
        self.n = n
        self.by_field = {}

    def add(self, field, mask, message):
        mask = np.asarray(mask, dtype=bool)
        if not mask.any():
            return
        current = self.by_field.setdefault(field, np.full(self.n, None, dtype=object))
        free = mask & pd.isna(current)
        current[free] = message if isinstance(message, str) else np.asarray(message, dtype=object)[free]


def _cells(raw, field):
    if field in raw.columns:
        return raw[field].to_numpy(object)
    return np.full(len(raw), "", dtype=object)


def _number(values):
    """Per distinct text value: (number, message or None) for a money-like field."""
    numbers = pd.to_numeric(values.where(values != ""), errors="coerce").to_numpy("float64")
    lowered = values.str.lower().str.lstrip("+-")
    special = lowered.isin(["nan", "inf", "infinity"]).to_numpy()
    bad = (values != "").to_numpy() & np.isnan(numbers) & ~special
    messages = np.where(special, NOT_FINITE, np.where(bad, NOT_NUMBER, None))
    numbers = np.where(special, np.nan, numbers)
    return numbers, messages


def _parse_modifiers(text):
    """Normalise one modifiers cell: (canonical text, bilateral, message or None)."""
    tokens = [t.upper() for t in _MODIFIER_SPLIT.split(text) if t]
    for t in tokens:
        if t not in SUPPORTED_MODIFIERS:
            return "", False, f"Unsupported modifier '{t}'; supported: {', '.join(SUPPORTED_MODIFIERS)}."
    for t in tokens:
        if tokens.count(t) > 1:
            return "", False, f"Modifier '{t}' is repeated."
    if "50" in tokens and ("RT" in tokens or "LT" in tokens):
        return "", False, MODIFIER_50_WITH_SIDE
    bilateral = "50" in tokens or ("RT" in tokens and "LT" in tokens)
    return " ".join(tokens), bilateral, None


def parse_requests(raw, schedules, today):
    """Validate and type a frame of requests given as text cells.

    Parameters
    ----------
    raw : pandas.DataFrame
        Columns named after the request fields (any may be absent; others are ignored); cells are text,
        blank for "not given".
    schedules : Schedules
        The loaded fee schedules, for codes, payers, regions and ZIP prefixes.
    today : int
        Day number used when ``date_of_service`` is blank.

    Returns
    -------
    Intake
    """
    n = len(raw)
    msgs = _Messages(n)
    out = {}

    code = _Distinct(_cells(raw, "cpt_code"))
    upper = code.values.str.upper()
    known = upper.isin(schedules.procedures.index).to_numpy()
    msgs.add("cpt_code", code.rows(upper == ""), MISSING)
    msgs.add("cpt_code", code.rows(~known), code.rows(("Unknown procedure code '" + code.values + "'.").to_numpy()))
    out["cpt_code"] = code.rows(upper.to_numpy(object))

    payer = _Distinct(_cells(raw, "payer_id"))
    lower = payer.values.str.lower()
    known = lower.isin(schedules.payers.index).to_numpy()
    msgs.add("payer_id", payer.rows(lower == ""), MISSING)
    msgs.add("payer_id", payer.rows(~known), payer.rows(("Unknown payer '" + payer.values + "'.").to_numpy()))
    out["payer_id"] = payer.rows(lower.to_numpy(object))

    region = _Distinct(_cells(raw, "region_id"))
    given_region = region.rows(region.values != "")
    known = region.values.isin(schedules.regions.index).to_numpy()
    msgs.add(
        "region_id",
        region.rows((region.values != "") & ~known),
        region.rows(("Unknown region '" + region.values + "'.").to_numpy()),
    )

    zips = _Distinct(_cells(raw, "zip"))
    zip_ok = zips.values.str.fullmatch(r"\d{5}(?:-?\d{4})?").to_numpy(bool)
    zip3 = zips.values.str[:3]
    mapped = zip3.map(schedules.zip_regions["region_id"]).to_numpy(object)
    zip_region = pd.Series(np.where(zip_ok & pd.notna(mapped), mapped, None), dtype="object")
    given_zip = zips.rows(zips.values != "")
    msgs.add("zip", zips.rows((zips.values != "") & ~zip_ok), BAD_ZIP)
    msgs.add(
        "zip",
        zips.rows(zip_ok & zip_region.isna().to_numpy()),
        zips.rows(("No region of the fee schedules covers ZIP codes starting " + zip3 + ".").to_numpy()),
    )
    msgs.add("region_id", given_region & given_zip, REGION_AND_ZIP)
    out["region_id"] = np.where(
        given_zip,
        zips.rows(np.where(zip_region.isna(), "", zip_region).astype(object)),
        region.rows(region.values.to_numpy(object)),
    )
    out["zip"] = zips.rows(zips.values.to_numpy(object))

    for field, choices, default, message in (
        ("setting", SETTINGS, "office", SETTING_CHOICES),
        ("network", NETWORKS, "in", NETWORK_CHOICES),
    ):
        cells = _Distinct(_cells(raw, field))
        value = cells.values.replace("", default)
        msgs.add(field, cells.rows(~value.isin(choices).to_numpy()), message)
        out[field] = cells.rows(value.to_numpy(object))

    mods = _Distinct(_cells(raw, "modifiers"))
    parsed = [_parse_modifiers(text) for text in mods.values]  # once per distinct cell, not per row
    out["modifiers"] = mods.rows(np.array([p[0] for p in parsed], dtype=object))
    out["bilateral"] = mods.rows(np.array([p[1] for p in parsed], dtype=bool))
    msgs.add(
        "modifiers",
        mods.rows(np.array([p[2] is not None for p in parsed], dtype=bool)),
        mods.rows(np.array([p[2] for p in parsed], dtype=object)),
    )
    indicator = schedules.procedures["bilateral_indicator"].reindex(out["cpt_code"]).to_numpy()
    not_bilateral = out["bilateral"] & (indicator == 9)
    msgs.add(
        "modifiers",
        not_bilateral,
        "Bilateral billing does not apply to procedure "
        + pd.Series(out["cpt_code"], dtype="object")
        + " (bilateral indicator 9): use RT or LT for one side.",
    )

    units = _Distinct(_cells(raw, "units"))
    numbers, number_msgs = _number(units.values)
    integral = np.isfinite(numbers) & (np.floor(numbers) == numbers)
    unit_msgs = np.where((units.values != "").to_numpy() & ~integral, NOT_INTEGER, None)
    unit_msgs = np.where(integral & ((numbers < 1) | (numbers > MAX_UNITS)), UNITS_RANGE, unit_msgs)
    msgs.add("units", units.rows(pd.notna(unit_msgs)), units.rows(unit_msgs))
    out["units"] = units.rows(np.where(integral & pd.isna(unit_msgs), numbers, 1).astype("int64"))

    dates = _Distinct(_cells(raw, "date_of_service"))
    days, valid = days_from_iso(dates.values.to_numpy(object))
    blank = (dates.values == "").to_numpy()
    msgs.add("date_of_service", dates.rows(~blank & ~valid), NOT_DATE)
    out["date_of_service"] = dates.rows(np.where(blank | ~valid, today, days))
    out["date_given"] = dates.rows(~blank)

    for field in (*MONEY_FIELDS, "coinsurance"):
        cells = _Distinct(_cells(raw, field))
        numbers, number_msgs = _number(cells.values)
        high = 1 if field == "coinsurance" else MAX_MONEY
        range_msg = COINSURANCE_RANGE if field == "coinsurance" else MONEY_RANGE
        out_of_range = np.isfinite(numbers) & ((numbers < 0) | (numbers > high))
        number_msgs = np.where(out_of_range, range_msg, number_msgs)
        msgs.add(field, cells.rows(pd.notna(number_msgs)), cells.rows(number_msgs))
        default = 0.0 if field in ("deductible_met", "oop_met") else np.nan
        out[field] = cells.rows(np.where(pd.isna(number_msgs) & np.isfinite(numbers), numbers, default))

    frame = pd.DataFrame(out, index=raw.index)
    ordered = {f: msgs.by_field[f] for f in REQUEST_FIELDS if f in msgs.by_field}
    return Intake(frame=frame, messages=ordered)
