"""Canonical names shared by every module: request fields, enumerations, answer and batch columns."""

import functools

SETTINGS = ("office", "asc", "hospital_outpatient")
NETWORKS = ("in", "out")
COMPONENTS = ("professional", "facility")
BASES = ("amount", "baseline", "rvu")
PAYER_KINDS = ("medicare", "medicaid", "commercial", "self_pay")
PA_STATUSES = ("required", "not_required", "conditional")
BILATERAL_INDICATORS = (0, 1, 2, 3, 9)
#: Modifiers that change a figure: bilateral and sides (SPEC section 4, step 5), components (section 11).
PRICING_MODIFIERS = ("50", "RT", "LT", "26", "TC")
#: Modifiers accepted without changing a figure (section 11): a visit apart from a procedure, multiple or
#: distinct procedures, repeats, procedures in a global period.
INFORMATIONAL_MODIFIERS = ("25", "51", "59", "76", "77", "79", "XE", "XP", "XS", "XU")
SUPPORTED_MODIFIERS = PRICING_MODIFIERS + INFORMATIONAL_MODIFIERS
#: The component modifiers in words.
COMPONENT_WORDS = {"26": "professional component (modifier 26)", "TC": "technical component (modifier TC)"}
#: E/M office visit codes, which a procedure's global period may include (section 11).
VISIT_CODES = tuple(f"992{n:02d}" for n in (2, 3, 4, 5, 11, 12, 13, 14, 15))
#: Global periods of the procedures that include a same-day visit unless it carries modifier 25.
SHORT_GLOBAL_DAYS = ("0", "10")
LEVELS = ("low", "expected", "high")

#: Two-letter postal codes of the US states, the District of Columbia and the territories.
US_STATES = (
    "AK AL AR AS AZ CA CO CT DC DE FL FM GA GU HI IA ID IL IN KS KY LA MA MD ME MH MI MN MO MP MS MT NC ND NE NH "
    "NJ NM NV NY OH OK OR PA PR PW RI SC SD TN TX UT VA VI VT WA WI WV WY"
).split()

#: Settings in words, as a person reads them.
SETTING_WORDS = {
    "office": "a doctor's office",
    "asc": "an ambulatory surgery center",
    "hospital_outpatient": "a hospital outpatient department",
}

#: Prior-authorization statuses in words, as a person reads them.
STATUS_WORDS = {
    "required": "required",
    "not_required": "not required",
    "conditional": "required in some cases",
    "unknown": "unknown (no rule on file)",
    "not_applicable": "does not apply (self-pay)",
}

#: The reason given when no prior-authorization rule matches (status ``unknown``).
NO_RULE_REASON = (
    "No prior-authorization rule on file for this payer, code and setting: ask the payer whether approval is needed."
)

#: Da Vinci Coverage Requirements Discovery codes for each rule status.
CRD_CODES = {"required": "auth-needed", "not_required": "no-auth", "conditional": "conditional"}

#: Request fields in the order of SPEC section 3.
REQUEST_FIELDS = (
    "cpt_code",
    "payer_id",
    "region_id",
    "zip",
    "setting",
    "network",
    "modifiers",
    "units",
    "date_of_service",
    "deductible",
    "coinsurance",
    "copay",
    "oop_max",
    "deductible_met",
    "oop_met",
)
REQUIRED_FIELDS = ("cpt_code", "payer_id")
#: The fields of one line of an encounter (SPEC section 7); the other request fields are shared.
LINE_FIELDS = ("cpt_code", "modifiers", "units")
SHARED_FIELDS = tuple(f for f in REQUEST_FIELDS if f not in LINE_FIELDS)
BENEFIT_FIELDS = ("deductible", "coinsurance", "copay", "oop_max")
MONEY_FIELDS = ("deductible", "copay", "oop_max", "deductible_met", "oop_met")

#: Largest money figure a request may carry: beyond any real plan, small enough to keep sums finite.
MAX_MONEY = 10_000_000
MAX_UNITS = 99

#: Columns a batch output adds after the input columns (SPEC section 6).
BATCH_COLUMNS = (
    "allowed_low",
    "allowed_expected",
    "allowed_high",
    "patient_low",
    "patient_expected",
    "patient_high",
    "payer_expected",
    "balance_billing_expected",
    "prior_auth",
    "warnings",
    "error",
)

#: The batch column that groups rows into encounters, and the columns a batch output adds after
#: ``error`` when the input has it (SPEC section 7).
ENCOUNTER_ID = "encounter_id"
ENCOUNTER_COLUMNS = (
    "reduction_factor",
    "encounter_allowed_expected",
    "encounter_patient_expected",
    "encounter_prior_auth",
)

#: Separator between messages inside one batch cell.
MESSAGE_SEPARATOR = " | "

GOOD_FAITH_NOTICE = (
    "This is a Good Faith Estimate for a self-pay patient under the No Surprises Act. If the final bill "
    "is $400 or more above this estimate, you may dispute it through the federal patient-provider "
    "dispute resolution process."
)


@functools.cache
def levels(prefix):
    """Column names ``prefix_low``, ``prefix_expected``, ``prefix_high``."""
    return tuple(f"{prefix}_{level}" for level in LEVELS)
