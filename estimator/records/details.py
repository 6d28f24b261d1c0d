"""The rules of a Good Faith Estimate's details: NPI with its check digit, TIN, US state, dates."""

import datetime as dt
import re

from ..core.glossary import US_STATES

_TIN = re.compile(r"^(?:\d{2}-\d{7}|\d{3}-\d{2}-\d{4}|\d{9})$")
_ZIP = re.compile(r"^\d{5}(?:-\d{4})?$")


def npi_is_valid(text):
    """A 10-digit National Provider Identifier whose last digit is its Luhn check digit (with the 80840
    prefix, as CMS defines it)."""
    text = str(text or "")
    if not re.fullmatch(r"\d{10}", text):
        return False
    digits = [int(d) for d in "80840" + text[:9]]
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2 == 0:
            d *= 2
            d = d - 9 if d > 9 else d
        total += d
    return (10 - total % 10) % 10 == int(text[9])


def tin_is_valid(text):
    """An EIN (12-3456789), an SSN (123-45-6789) or nine digits."""
    return bool(_TIN.match(str(text or "")))


def state_is_valid(text):
    return str(text or "").upper() in US_STATES


def zip_is_valid(text):
    return bool(_ZIP.match(str(text or "")))


def birth_date_is_valid(day, today=None):
    today = today or dt.date.today()
    return dt.date(1900, 1, 1) <= day <= today
