"""What a printed estimate shows (SPEC section 9), from an answer of sections 5 or 7: a Good Faith Estimate's
items for a self-pay patient, a patient cost estimate's rows for an insured one, and the charges either
leaves out. The unsaved pages and the saved records use these same functions, so both say the same."""

from ..core.pricing import in_facility

#: Where a fee comes from, by its basis, in words a patient reads.
PRICE_SOURCES = {
    "amount": "the price on file for this code",
    "rvu": "the Medicare relative value units of this code, at this plan's rate per unit",
    "baseline": "the national baseline range for this code, scaled to the area (not this clinic's own price list)",
}
FEE_WORDS = {"professional": "clinician's fee", "facility": "facility fee"}


def answer_lines(answer):
    """The lines of an answer: an encounter's, or a single request's as its line 1."""
    return answer["lines"] if "lines" in answer else [{**answer, "line": 1}]


def is_good_faith_estimate(answer):
    return bool(answer.get("good_faith_estimate"))


def document_title(answer):
    return "Good Faith Estimate" if is_good_faith_estimate(answer) else "Patient cost estimate"


def gfe_items(answer):
    """The items of a Good Faith Estimate: each line's clinician and facility fees, with the code, modifiers,
    units, planned date, expected charge and range, and where the price comes from."""
    items = []
    for line in answer_lines(answer):
        for component in line["components"]:
            items.append(
                {
                    "line": line["line"],
                    "code": line["cpt_code"],
                    "modifiers": line["modifiers"],
                    "description": f"{line['description']} ({FEE_WORDS[component['component']]})",
                    "units": line["units"],
                    "date": answer["date_of_service"],
                    "charge": component["allowed_amount"],
                    "source": PRICE_SOURCES.get(component["basis"], component["basis"]),
                }
            )
    return items


def left_out(answer):
    """The charges an estimate does not include, in words: the facility's own fee where the visit is at a
    facility and no facility rate is on file, line by line."""
    if not in_facility(answer["setting"]):
        return []
    missing = [
        line for line in answer_lines(answer) if not any(c["component"] == "facility" for c in line["components"])
    ]
    if not missing:
        return []
    codes = ", ".join(line["cpt_code"] for line in missing)
    return [
        f"The facility's own fee for {codes}: no facility price is on file, so the facility will bill it "
        "separately and it is not in the total."
    ]
