"""The rules of a Good Faith Estimate's details: NPI with its check digit, TIN, US state, dates."""

import datetime as dt
import re

from ..core.glossary import US_STATES
from ..core.identifiers import npi_is_valid, tin_is_valid  # noqa: F401 - rules of the details too

_ZIP = re.compile(r"^\d{5}(?:-\d{4})?$")


def state_is_valid(text):
    return str(text or "").upper() in US_STATES


def zip_is_valid(text):
    return bool(_ZIP.match(str(text or "")))


def birth_date_is_valid(day, today=None):
    today = today or dt.date.today()
    return dt.date(1900, 1, 1) <= day <= today
