"""Turn requests given as text cells (a CSV row, or a JSON body rendered as text) into typed columns.

Every rule of SPEC section 3 lives here, with the message a user sees, so the JSON API, the web form and
the batch paths refuse the same input with the same words. Each column is factorised first and every
rule runs once per *distinct* cell value, then spreads back to the rows: real batches repeat codes,
payers, dates and ZIPs, so a million rows cost a few thousand parses.
"""

import math
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
from .matching import factorize
from .schedules import day_from_iso

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
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_SPECIAL = re.compile(r"[+-]?(?:nan|inf|infinity)", re.IGNORECASE)
_ZIP = re.compile(r"\d{5}(?:-?\d{4})?")


@dataclass(frozen=True)
class Intake:
    """Typed requests and their validation messages.

    ``columns`` maps names to arrays, one entry per request: ``cpt_code``, ``payer_id``, ``region_id``
    (resolved from the ZIP; ``""`` = national), ``zip``, ``setting``, ``network``, ``modifiers``
    (normalised, space-separated), ``bilateral`` (bool), ``units`` (int), ``date_of_service`` (day
    number), ``date_given`` (bool), the benefit fields as float (NaN = not given: the payer's default
    applies), ``deductible_met`` and ``oop_met`` (0 when not given). ``messages`` maps each field to an
    object array holding, per row, the first message for that field or ``None``.
    """

    columns: dict
    messages: dict
    size: int

    @property
    def invalid(self):
        """Boolean array: the rows that failed validation."""
        bad = np.zeros(self.size, dtype=bool)
        for msgs in self.messages.values():
            bad |= msgs != None  # noqa: E711 - elementwise on an object array
        return bad

    def error_text(self):
        """Per-row ``field: message`` text joined with ``; `` (``""`` for valid rows), vectorised."""
        out = np.full(self.size, "", dtype=object)
        for field, msgs in self.messages.items():
            has = msgs != None  # noqa: E711
            part = np.char.add(f"{field}: ", msgs[has].astype(str)).astype(object)
            sep = np.where(out[has] == "", "", "; ").astype(object)
            out[has] = out[has] + sep + part
        return out

    def row_messages(self, i):
        """Messages of row ``i`` as ``{field: [message]}`` (the JSON error shape)."""
        return {f: [m[i]] for f, m in self.messages.items() if m[i] is not None}


class _Distinct:
    """A column of text cells as its distinct stripped values plus, per row, the index of its value."""

    def __init__(self, cells):
        codes, uniques = factorize(cells)
        self.codes = codes
        self.values = [v.strip() if isinstance(v, str) else _blank_or_text(v) for v in uniques]

    @classmethod
    def blank(cls, n):
        """A column that is not in the input: every cell blank."""
        self = cls.__new__(cls)
        self.codes = np.zeros(n, dtype="int64")
        self.values = [""]
        return self

    def rows(self, per_value, dtype=object):
        """Spread a list computed per distinct value to one entry per row."""
        return np.asarray(per_value, dtype=dtype)[self.codes] if len(self.codes) else np.zeros(0, dtype=dtype)


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
        free = mask & (current == None)  # noqa: E711
        current[free] = message if isinstance(message, str) else np.asarray(message, dtype=object)[free]


def _blank_or_text(value):
    """Missing cells (None, NaN) are blank; anything else is its text."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return str(value).strip()


def _cells(raw, field, n):
    if field in raw:
        column = raw[field]
        if isinstance(column.dtype if isinstance(column, pd.Series) else None, pd.CategoricalDtype):
            return column  # already encoded: factorised for free
        return column.to_numpy(object) if isinstance(column, pd.Series) else np.asarray(column, dtype=object)
    return np.full(n, "", dtype=object)


def _number(text):
    """(value, message) for one money-like cell; blank gives (nan, None)."""
    if text == "":
        return math.nan, None
    if text.isascii() and text.replace(".", "", 1).isdigit():  # plain digits, at most one point
        return float(text), None
    if _SPECIAL.fullmatch(text):
        return math.nan, NOT_FINITE
    if not _NUMBER.fullmatch(text):
        return math.nan, NOT_NUMBER
    value = float(text)
    if math.isinf(value):
        return math.nan, NOT_FINITE
    return value, None


def _modifiers(text):
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
    return " ".join(tokens), "50" in tokens or ("RT" in tokens and "LT" in tokens), None


def parse_requests(raw, schedules, today):
    """Validate and type requests given as text cells.

    Parameters
    ----------
    raw : pandas.DataFrame or mapping of column name to sequence
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
    n = len(raw) if isinstance(raw, pd.DataFrame) else len(next(iter(raw.values()), ()))
    msgs = _Messages(n)
    out = {}

    def column(field):
        if field not in raw:
            return _Distinct.blank(n)
        return _Distinct(_cells(raw, field, n))

    def key(field, normalise, label):
        """A required key into the schedules: missing, or unknown, is an error."""
        cells = column(field)
        values = [normalise(v) for v in cells.values]
        known = schedules.keys[field]
        msgs.add(field, cells.rows([v == "" for v in values], bool), MISSING)
        msgs.add(
            field,
            cells.rows([v not in known for v in values], bool),
            cells.rows([f"Unknown {label} '{v}'." for v in cells.values]),
        )
        return cells.rows(values)

    out["cpt_code"] = key("cpt_code", str.upper, "procedure code")
    out["payer_id"] = key("payer_id", str.lower, "payer")

    regions = column("region_id")
    known = schedules.keys["region_id"]
    given_region = regions.rows([v != "" for v in regions.values], bool)
    msgs.add(
        "region_id",
        regions.rows([v != "" and v not in known for v in regions.values], bool),
        regions.rows([f"Unknown region '{v}'." for v in regions.values]),
    )

    zips = column("zip")
    zip_map = schedules.zip_map
    zip_ok = [(len(v) == 5 and v.isascii() and v.isdigit()) or bool(_ZIP.fullmatch(v)) for v in zips.values]
    zip_region = [zip_map.get(v[:3], "") if ok else "" for v, ok in zip(zips.values, zip_ok, strict=True)]
    given_zip = zips.rows([v != "" for v in zips.values], bool)
    msgs.add("zip", zips.rows([v != "" and not ok for v, ok in zip(zips.values, zip_ok, strict=True)], bool), BAD_ZIP)
    msgs.add(
        "zip",
        zips.rows([ok and r == "" for ok, r in zip(zip_ok, zip_region, strict=True)], bool),
        zips.rows([f"No region of the fee schedules covers ZIP codes starting {v[:3]}." for v in zips.values]),
    )
    msgs.add("region_id", given_region & given_zip, REGION_AND_ZIP)
    out["region_id"] = np.where(given_zip, zips.rows(zip_region), regions.rows(regions.values))
    out["zip"] = zips.rows(zips.values)

    for field, choices, default, message in (
        ("setting", SETTINGS, "office", SETTING_CHOICES),
        ("network", NETWORKS, "in", NETWORK_CHOICES),
    ):
        cells = column(field)
        value = [v or default for v in cells.values]
        msgs.add(field, cells.rows([v not in choices for v in value], bool), message)
        out[field] = cells.rows(value)

    mods = column("modifiers")
    parsed = [_modifiers(text) for text in mods.values]
    out["modifiers"] = mods.rows([p[0] for p in parsed])
    out["bilateral"] = mods.rows([p[1] for p in parsed], bool)
    msgs.add("modifiers", mods.rows([p[2] is not None for p in parsed], bool), mods.rows([p[2] for p in parsed]))
    position = schedules.positions("procedures", out["cpt_code"])
    indicator = np.where(position >= 0, schedules.arrays["procedures"]["bilateral_indicator"][position], 0)
    not_bilateral = out["bilateral"] & (indicator == 9)
    if not_bilateral.any():
        msgs.add(
            "modifiers",
            not_bilateral,
            np.array(
                [
                    f"Bilateral billing does not apply to procedure {c} (bilateral indicator 9): "
                    "use RT or LT for one side."
                    for c in out["cpt_code"]
                ],
                dtype=object,
            ),
        )

    units = column("units")
    unit_value, unit_message = [], []
    for text in units.values:
        value, message = _number(text)
        if message is None and text != "" and not value.is_integer():
            message = NOT_INTEGER
        elif message is not None:
            message = NOT_INTEGER
        elif text != "" and not 1 <= value <= MAX_UNITS:
            message = UNITS_RANGE
        unit_value.append(int(value) if message is None and text != "" else 1)
        unit_message.append(message)
    msgs.add("units", units.rows([m is not None for m in unit_message], bool), units.rows(unit_message))
    out["units"] = units.rows(unit_value, "int64")

    dates = column("date_of_service")
    days = [day_from_iso(v) for v in dates.values]
    msgs.add(
        "date_of_service",
        dates.rows([v != "" and d is None for v, d in zip(dates.values, days, strict=True)], bool),
        NOT_DATE,
    )
    out["date_of_service"] = dates.rows([today if d is None else d for d in days], "int64")
    out["date_given"] = dates.rows([v != "" for v in dates.values], bool)

    for field in (*MONEY_FIELDS, "coinsurance"):
        cells = column(field)
        high, range_message = (1, COINSURANCE_RANGE) if field == "coinsurance" else (MAX_MONEY, MONEY_RANGE)
        default = 0.0 if field in ("deductible_met", "oop_met") else math.nan
        values, messages = [], []
        for text in cells.values:
            value, message = _number(text)
            if message is None and not math.isnan(value) and not 0 <= value <= high:
                message = range_message
            values.append(default if message is not None or math.isnan(value) else value)
            messages.append(message)
        msgs.add(field, cells.rows([m is not None for m in messages], bool), cells.rows(messages))
        out[field] = cells.rows(values, "float64")

    ordered = {f: msgs.by_field[f] for f in REQUEST_FIELDS if f in msgs.by_field}
    return Intake(columns=out, messages=ordered, size=n)
