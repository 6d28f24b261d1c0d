"""X12 code lists the eligibility reader puts in words (005010X279A1 and the X12 code sources it names)."""

#: Transaction set ids (ST01) a front desk may paste by mistake.
TRANSACTION_WORDS = {
    "270": "an eligibility inquiry",
    "271": "an eligibility response",
    "276": "a claim status inquiry",
    "277": "a claim status response",
    "278": "a prior-authorization request or response",
    "820": "a premium payment",
    "834": "an enrollment file",
    "835": "a claim payment and remittance advice",
    "837": "a claim",
    "997": "a functional acknowledgment",
    "999": "an implementation acknowledgment",
}

#: AAA03, why a request was rejected (the 271 TR3's lists for loops 2100A to 2110D together).
REJECT_REASONS = {
    "04": "authorized quantity exceeded",
    "15": "required application data missing",
    "33": "input errors",
    "35": "out of network",
    "41": "authorization/access restrictions",
    "42": "unable to respond at current time",
    "43": "invalid or missing provider identification",
    "44": "invalid or missing provider name",
    "45": "invalid or missing provider specialty",
    "46": "invalid or missing provider phone number",
    "47": "invalid or missing provider state",
    "48": "invalid or missing referring provider identification number",
    "49": "provider is not primary care physician",
    "50": "provider ineligible for inquiries",
    "51": "provider not on file",
    "52": "service dates not within provider plan enrollment",
    "53": "inquired benefit inconsistent with provider type",
    "54": "inappropriate product/service ID qualifier",
    "55": "inappropriate product/service ID",
    "56": "inappropriate date",
    "57": "invalid or missing date(s) of service",
    "58": "invalid or missing date of birth",
    "60": "date of birth follows date(s) of service",
    "61": "date of death precedes date(s) of service",
    "62": "date of service not within allowable inquiry period",
    "63": "date of service in future",
    "64": "invalid or missing patient ID",
    "65": "invalid or missing patient name",
    "66": "invalid or missing patient gender code",
    "67": "patient not found",
    "68": "duplicate patient ID number",
    "69": "inconsistent with patient's age",
    "70": "inconsistent with patient's gender",
    "71": "patient birth date does not match that for the patient on the database",
    "72": "invalid or missing subscriber/insured ID",
    "73": "invalid or missing subscriber/insured name",
    "74": "invalid or missing subscriber/insured gender code",
    "75": "subscriber/insured not found",
    "76": "duplicate subscriber/insured ID number",
    "77": "subscriber found, patient not found",
    "78": "subscriber/insured not in group/plan identified",
    "79": "invalid participant identification",
    "80": "no response received, transaction terminated",
    "97": "invalid or missing provider address",
    "98": "experimental service or procedure",
    "T4": "payer name or identifier missing",
}

#: AAA04, what to do next.
FOLLOW_UP = {
    "C": "correct the inquiry and send it again",
    "N": "do not send it again",
    "P": "send the original inquiry again",
    "R": "it may be sent again",
    "S": "do not send it again: the inquiry went to a third party",
    "W": "wait 30 days, then send it again",
    "X": "wait 10 days, then send it again",
    "Y": "do not send it again: the payer will answer",
}

#: The loops of a 271 in words.
LOOP_WORDS = {
    "2000A": "the payer (loop 2000A)",
    "2100A": "the payer (loop 2100A)",
    "2100B": "the provider who asked (loop 2100B)",
    "2100C": "the subscriber (loop 2100C)",
    "2110C": "the subscriber's benefits (loop 2110C)",
    "2100D": "the dependent (loop 2100D)",
    "2110D": "the dependent's benefits (loop 2110D)",
}

#: EB01 codes that say whether coverage is active.
ACTIVE = {"1", "2", "3", "4", "5"}
INACTIVE = {"6": "inactive", "7": "inactive, pending eligibility update", "8": "inactive, pending investigation"}

#: Service types (EB03) the estimator reads, in words.
SERVICE_TYPES = {
    "1": "medical care",
    "2": "surgical",
    "30": "health benefit plan coverage",
    "50": "hospital outpatient",
    "98": "office visit",
}

#: EB02 coverage levels. The first two stand for the patient alone; the others are a family's figures.
INDIVIDUAL_LEVELS = ("IND", "EMP")
COVERAGE_LEVELS = {
    "IND": "individual",
    "EMP": "employee only",
    "FAM": "family",
    "CHD": "children only",
    "DEP": "dependents only",
    "ECH": "employee and children",
    "ESP": "employee and spouse",
    "E1D": "employee and one dependent",
    "E2D": "employee and two dependents",
    "E3D": "employee and three dependents",
    "E5D": "employee and one or more dependents",
    "E6D": "employee and two or more dependents",
    "E7D": "employee and three or more dependents",
    "E8D": "employee and four or more dependents",
    "E9D": "employee and five or more dependents",
    "SPC": "spouse and children",
    "SPO": "spouse only",
    "TWO": "two party",
}

#: EB06 time periods: a benefit's total for its period, and what remains of it.
TOTAL_PERIODS = {"23": "calendar year", "22": "service year", "25": "contract", "": "no period given"}
REMAINING = "29"
