"""Provider identifiers: the National Provider Identifier with its check digit, and the Taxpayer
Identification Number. Good Faith Estimate records and the price importers check them alike."""

import re

_TIN = re.compile(r"^(?:\d{2}-\d{7}|\d{3}-\d{2}-\d{4}|\d{9})$")


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
