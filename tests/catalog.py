"""Hypothesis strategies over the procedure catalog (SPEC section 11): a code and the modifiers a biller
would put on it. Half the draws come from the codes a spine and pain clinic bills (visits with their
procedures, so global periods and add-ons meet), half from the whole catalog."""

from hypothesis import strategies as st

from estimator.core.schedules import procedure_key

CLINIC = (
    "99203 99204 99213 99214 99215 20552 20610 20611 27096 62321 62323 64479 64480 64483 64484 64490 64491 "
    "64493 64494 64495 64633 64634 64635 64636 77003 72148 71046 20971"
).split()


def codes(schedules):
    """The catalog's codes (the global rows), sorted."""
    return sorted(schedules.keys["cpt_code"])


def clinic_codes(schedules):
    known = schedules.keys["cpt_code"]
    return [code for code in CLINIC if code in known] or codes(schedules)[:10]


@st.composite
def coded_line(draw, schedules):
    """(code, modifiers text): sides or bilateral as the code allows, now and then its 26 or TC component,
    now and then a modifier that changes no figure."""
    pool = draw(st.sampled_from([clinic_codes(schedules), codes(schedules)]))
    code = draw(st.sampled_from(pool))
    labels = schedules._labels["procedures"]
    indicator = schedules.lists["procedures"]["bilateral_indicator"][labels[code]]
    side = draw(st.sampled_from(["", "", "RT", "LT"] if indicator == 9 else ["", "", "RT", "LT", "50", "RT LT"]))
    components = [m for m in ("26", "TC") if procedure_key(code, m) in labels]
    component = draw(st.sampled_from(["", "", *components]))
    if component and side:
        component_labels = labels[procedure_key(code, component)]
        if schedules.lists["procedures"]["bilateral_indicator"][component_labels] == 9 and side in ("50", "RT LT"):
            side = "RT"
    other = draw(st.sampled_from(["", "", "", "25", "59", "XS 51"]))
    return code, " ".join(token for token in (side, component, other) if token)
