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
    COMPONENT_WORDS,
    MAX_MONEY,
    MAX_UNITS,
    MONEY_FIELDS,
    NETWORKS,
    REQUEST_FIELDS,
    SETTINGS,
    SUPPORTED_MODIFIERS,
)
from .matching import factorize
from .schedules import day_from_iso, procedure_key

MISSING = "Missing data for required field."
NOT_INTEGER = "Not a valid integer."
NOT_NUMBER = "Not a valid number."
NOT_FINITE = "Special numeric values (nan or infinity) are not permitted."
NOT_DATE = "Not a valid date."
BAD_ZIP = "Not a valid ZIP code: give 5 digits, or ZIP+4 as 12345-6789."
REGION_AND_ZIP = "Give region_id or zip, not both."
MODIFIER_50_WITH_SIDE = "Modifier 50 cannot be combined with RT or LT."
MODIFIER_26_WITH_TC = (
    "Modifiers 26 and TC cannot be combined: 26 is the professional component, TC the technical one; give "
    "neither for the whole service."
)


def one_of(choices):
    """The message for a value outside ``choices`` (the wording of marshmallow's OneOf)."""
    return f"Must be one of: {', '.join(choices)}."


def between(low, high, money=False):
    """The message for a number outside ``[low, high]``: amounts of money as money."""
    if money:
        return f"Must be an amount from ${low:,} to ${high:,}."
    return f"Must be a whole number from {low} to {high}."


SETTING_CHOICES = one_of(SETTINGS)
NETWORK_CHOICES = one_of(NETWORKS)
UNITS_RANGE = between(1, MAX_UNITS)
MONEY_RANGE = between(0, MAX_MONEY, money=True)
#: Coinsurance given as a JSON number: a fraction.
COINSURANCE_FRACTION = "Give coinsurance as a fraction from 0 to 1 (0.2 = 20 %)."
#: Coinsurance typed as text (a CSV cell, a command-line option, a form): a fraction, or a percent with its sign.
COINSURANCE_TEXT = "Give coinsurance as a fraction from 0 to 1 (0.2 = 20 %) or as a percent with its sign (20%)."

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
    """Normalise one modifiers cell: (canonical text, bilateral, component, message or None); the component
    is ``""`` (the global service), ``26`` or ``TC``."""
    tokens = [t.upper() for t in _MODIFIER_SPLIT.split(text) if t]
    for t in tokens:
        if t not in SUPPORTED_MODIFIERS:
            return "", False, "", f"Unsupported modifier '{t}'; supported: {', '.join(SUPPORTED_MODIFIERS)}."
    for t in tokens:
        if tokens.count(t) > 1:
            return "", False, "", f"Modifier '{t}' is repeated."
    if "50" in tokens and ("RT" in tokens or "LT" in tokens):
        return "", False, "", MODIFIER_50_WITH_SIDE
    if "26" in tokens and "TC" in tokens:
        return "", False, "", MODIFIER_26_WITH_TC
    component = "26" if "26" in tokens else "TC" if "TC" in tokens else ""
    return " ".join(tokens), "50" in tokens or ("RT" in tokens and "LT" in tokens), component, None


# The rules of SPEC section 3, one function per field: a stripped text cell in, (value, message or None)
# out. The batch applies them once per distinct cell (``parse_requests``), one request once per field
# (:mod:`.single`): both doors refuse the same input with the same words.


def code_rule(text, schedules):
    """``cpt_code``: required, a code on file (any case)."""
    value = text.upper()
    if value == "":
        return value, MISSING
    return value, None if value in schedules.keys["cpt_code"] else f"Unknown procedure code '{text}'."


def payer_rule(text, schedules):
    """``payer_id``: required, a payer on file (any case)."""
    value = text.lower()
    if value == "":
        return value, MISSING
    return value, None if value in schedules.keys["payer_id"] else f"Unknown payer '{text}'."


def region_rule(text, schedules):
    """``region_id``: blank (national) or a region on file."""
    return text, None if text == "" or text in schedules.keys["region_id"] else f"Unknown region '{text}'."


def zip_rule(text, schedules):
    """``zip``: blank, or 5 digits (ZIP+4 accepted) whose prefix a region covers; the value is that region."""
    if text == "":
        return "", None
    if not ((len(text) == 5 and text.isascii() and text.isdigit()) or _ZIP.fullmatch(text)):
        return "", BAD_ZIP
    region = schedules.zip_map.get(text[:3], "")
    return region, None if region else f"No region of the fee schedules covers ZIP codes starting {text[:3]}."


def both_places(region_text, zip_text):
    """The message of a request that gives both a region and a ZIP code (on ``region_id``), or None."""
    return REGION_AND_ZIP if region_text != "" and zip_text != "" else None


def setting_rule(text, schedules=None):
    value = text or "office"
    return value, None if value in SETTINGS else SETTING_CHOICES


def network_rule(text, schedules=None):
    value = text or "in"
    return value, None if value in NETWORKS else NETWORK_CHOICES


def modifiers_rule(text, schedules=None):
    """``modifiers``: ((canonical text, bilateral, component), message)."""
    canonical, bilateral, component, message = _modifiers(text)
    return (canonical, bilateral, component), message


def no_component(code, component):
    """The message of a 26 or TC line for a code without that component's row (on ``modifiers``)."""
    return f"Procedure {code} has no {COMPONENT_WORDS[component]} on file: bill it without {component}."


def line_procedure(code, component, known):
    """The procedure row label of a line (its code, or code and component), and whether it is on file."""
    key = procedure_key(code, component)
    return key, key in known


def refuses_bilateral(bilateral, indicator):
    """Whether a request is bilateral for a code of bilateral indicator 9 (SPEC step 5: refused)."""
    return bilateral & (indicator == 9)


def not_bilateral(code):
    """The message of a bilateral request for a code of bilateral indicator 9 (on ``modifiers``)."""
    return f"Bilateral billing does not apply to procedure {code} (bilateral indicator 9): use RT or LT for one side."


def units_rule(text, schedules=None):
    """``units``: blank (1) or a whole number 1..99."""
    if text == "":
        return 1, None
    value, message = _number(text)
    if message is not None or not value.is_integer():
        return 1, NOT_INTEGER
    if not 1 <= value <= MAX_UNITS:
        return 1, UNITS_RANGE
    return int(value), None


def date_rule(text, schedules=None):
    """``date_of_service``: blank (None: today) or an ISO date, as a day number."""
    if text == "":
        return None, None
    day = day_from_iso(text)
    return day, None if day is not None else NOT_DATE


def money_rule(text, schedules=None):
    """A money field: blank (NaN: not given) or a number 0..MAX_MONEY."""
    value, message = _number(text)
    if message is None and not math.isnan(value) and not 0 <= value <= MAX_MONEY:
        message = MONEY_RANGE
    return (math.nan, message) if message is not None else (value, None)


def coinsurance_rule(text, schedules=None):
    """``coinsurance`` typed as text: blank (NaN), a fraction 0..1, or a percent with its sign (``20%`` = 0.2)."""
    percent = text.endswith("%")
    value, message = _number(text[:-1].rstrip() if percent else text)
    if message is None and percent and text[:-1].strip() == "":
        message = NOT_NUMBER
    if message is not None:
        return math.nan, message
    if percent:
        value = value / 100
    if not math.isnan(value) and not 0 <= value <= 1:
        return math.nan, COINSURANCE_TEXT
    return value, None


def met_rule(text, schedules=None):
    """``deductible_met`` and ``oop_met``: blank (0) or a number 0..MAX_MONEY."""
    value, message = money_rule(text)
    return (0.0 if math.isnan(value) else value), message


#: Per field, its rule; the order of SPEC section 3 (the order messages are listed in).
RULES = {
    "cpt_code": code_rule,
    "payer_id": payer_rule,
    "region_id": region_rule,
    "zip": zip_rule,
    "setting": setting_rule,
    "network": network_rule,
    "modifiers": modifiers_rule,
    "units": units_rule,
    "date_of_service": date_rule,
    "deductible": money_rule,
    "coinsurance": coinsurance_rule,
    "copay": money_rule,
    "oop_max": money_rule,
    "deductible_met": met_rule,
    "oop_met": met_rule,
}


#: Each rule's answer for a blank cell (a field not given), which needs no schedules.
BLANK = {field: rule("", None) for field, rule in RULES.items()}


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
    cells = {}
    for field, rule in RULES.items():
        column = _Distinct(_cells(raw, field, n)) if field in raw else _Distinct.blank(n)
        results = [rule(text, schedules) for text in column.values]
        cells[field] = column
        messages = [m for _, m in results]
        if any(m is not None for m in messages):
            msgs.add(field, column.rows([m is not None for m in messages], bool), column.rows(messages))
        if field == "modifiers":
            out["modifiers"] = column.rows([v[0] for v, _ in results])
            out["bilateral"] = column.rows([v[1] for v, _ in results], bool)
            out["component"] = column.rows([v[2] for v, _ in results])
        else:
            out[field] = column.rows([v for v, _ in results], _DTYPES.get(field, object))

    regions, zips = cells["region_id"], cells["zip"]
    given_zip = zips.rows([v != "" for v in zips.values], bool)
    given_region = regions.rows([v != "" for v in regions.values], bool)
    msgs.add("region_id", given_region & given_zip, both_places("region", "zip"))
    out["region_id"] = np.where(given_zip, out.pop("zip"), out["region_id"])
    out["zip"] = zips.rows(zips.values)

    keys = _procedure_keys(out["cpt_code"], out["component"])
    position = schedules.positions("procedures", keys)
    missing = (position < 0) & (out["component"] != "")
    if missing.any():
        codes = out["cpt_code"]
        message = np.array([no_component(codes[i], out["component"][i]) if missing[i] else None for i in range(n)])
        known = np.array([c in schedules.keys["cpt_code"] for c in codes], dtype=bool)
        msgs.add("modifiers", missing & known, message)
        position = np.where(missing, schedules.positions("procedures", codes), position)
        keys = np.where(missing, codes, keys)
    out["procedure_key"] = keys
    indicator = schedules.arrays["procedures"]["bilateral_indicator"][position]
    refused = refuses_bilateral(out["bilateral"], indicator)
    if refused.any():
        msgs.add("modifiers", refused, np.array([not_bilateral(c) for c in out["cpt_code"]], dtype=object))

    days = out["date_of_service"]
    out["date_given"] = days != None  # noqa: E711 - elementwise on an object array
    out["date_of_service"] = np.where(out["date_given"], days, today).astype("int64")

    ordered = {f: msgs.by_field[f] for f in REQUEST_FIELDS if f in msgs.by_field}
    return Intake(columns=out, messages=ordered, size=n)


_KEYS = np.frompyfunc(procedure_key, 2, 1)


def _procedure_keys(codes, components):
    """The procedure row label of each line (:func:`.schedules.procedure_key` of the lines with a component)."""
    part = components != ""
    if not part.any():
        return codes
    keys = np.array(codes, dtype=object, copy=True)
    keys[part] = _KEYS(keys[part], components[part])
    return keys


#: The dtype of each field's values (others are objects).
_DTYPES = {
    "units": "int64",
    **{field: "float64" for field in (*MONEY_FIELDS, "coinsurance")},
}
