"""The rules of a saved estimate's details: NPI with its check digit, TIN, US state, dates, phone numbers,
provider taxonomy codes, and what an insured patient's estimate needs beyond a self-pay one's."""

import datetime as dt
import re

from ..core.glossary import US_STATES
from ..core.identifiers import npi_is_valid, tin_is_valid  # noqa: F401 - rules of the details too
from .documents import answer_lines

_ZIP = re.compile(r"^\d{5}(?:-\d{4})?$")
#: A NUCC Health Care Provider Taxonomy code: ten characters, the last an X (such as 208VP0014X).
_TAXONOMY = re.compile(r"^[0-9]{3}[0-9A-Z]{6}X$")

#: The patient's sex as FHIR's administrative gender codes, in the words of the form.
SEXES = {"female": "Female", "male": "Male", "other": "Other", "unknown": "Not given"}
#: The patient's relation to the plan's subscriber (FHIR subscriber-relationship codes).
RELATIONSHIPS = ("self", "spouse", "child", "other")

#: NUCC taxonomy codes a clinic of this kind and its facilities use most (public, from the NUCC Health Care
#: Provider Taxonomy code set, nucc.org), offered on the form; any valid code may be given.
TAXONOMIES = {
    "208VP0014X": "Interventional Pain Medicine Physician",
    "208VP0000X": "Pain Medicine Physician",
    "208100000X": "Physical Medicine & Rehabilitation Physician",
    "207L00000X": "Anesthesiology Physician",
    "2085R0202X": "Diagnostic Radiology Physician",
    "207X00000X": "Orthopaedic Surgery Physician",
    "207T00000X": "Neurological Surgery Physician",
    "193200000X": "Multi-Specialty Group",
    "193400000X": "Single Specialty Group",
    "261QP3300X": "Pain Clinic/Center",
    "261QA1903X": "Ambulatory Surgical Clinic/Center",
    "282N00000X": "General Acute Care Hospital",
}
#: The taxonomy assumed where none is given: the provider's (a pain clinic's physicians), and a facility's by
#: the setting of the visit.
DEFAULT_TAXONOMY = {
    "provider": "208VP0014X",
    "asc": "261QA1903X",
    "hospital_outpatient": "282N00000X",
    "office": "261QP3300X",
}


def state_is_valid(text):
    return str(text or "").upper() in US_STATES


def zip_is_valid(text):
    return bool(_ZIP.match(str(text or "")))


def taxonomy_is_valid(text):
    return bool(_TAXONOMY.match(str(text or "")))


def phone_digits(text):
    """The 10 digits of a US phone number as typed (a leading 1 dropped), or None."""
    digits = re.sub(r"[\s().+-]", "", str(text or ""))
    if len(digits) == 11 and digits.startswith("1"):
        digits = digits[1:]
    return digits if len(digits) == 10 and digits.isascii() and digits.isdigit() else None


def phone_is_valid(text):
    return phone_digits(text) is not None


def phone_text(text):
    """A valid phone number written one way: 404-555-0100."""
    digits = phone_digits(text)
    return f"{digits[:3]}-{digits[3:6]}-{digits[6:]}"


def birth_date_is_valid(day, today=None):
    today = today or dt.date.today()
    return dt.date(1900, 1, 1) <= day <= today


def completed(details, answer, payer_kind):
    """The details with what was left out filled in: the patient's sex not given (``unknown``) and relation
    to the plan's subscriber (``self``), the provider's taxonomy (a pain clinic's physicians) and a
    facility's (by the setting of the visit); and the kind of the payer, for the record's Coverage."""
    out = {**details, "payer_kind": payer_kind}
    out["patient"] = {"sex": "unknown", **details["patient"]}
    if payer_kind != "self_pay":
        out["patient"].setdefault("relationship", "self")
    out["provider"] = {"taxonomy": DEFAULT_TAXONOMY["provider"], **details["provider"]}
    if details.get("facility"):
        out["facility"] = {"taxonomy": DEFAULT_TAXONOMY[answer["setting"]], **details["facility"]}
    return out


def problems(details, answer):
    """What the details lack for this answer, keyed by field: an estimate with a facility fee names the
    facility (it bills that fee); an insured patient's estimate names the patient's member ID (the plan's,
    for the payer's systems)."""
    out = {}
    lines = answer_lines(answer)
    if not details.get("facility") and any(c["component"] == "facility" for line in lines for c in line["components"]):
        out["facility"] = ["Give the facility's details: this estimate includes its facility fee."]
    if not answer.get("good_faith_estimate") and not (details.get("patient") or {}).get("member_id"):
        out["patient.member_id"] = [
            "Give the member ID on the patient's insurance card: an insured patient's estimate needs it."
        ]
    return out
