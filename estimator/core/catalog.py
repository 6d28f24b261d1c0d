"""Finding a code in the procedure catalog (SPEC section 11) by its number or the words of its description:
the one search the API and the pages share."""

import re

import numpy as np

from .schedules import COMPONENT_MODIFIERS, procedure_key

#: Most words of a query that are matched (the rest are ignored).
MAX_WORDS = 8
_WORD = re.compile(r"[a-z0-9]+")
#: Where the official descriptor of a CPT code the catalog does not describe in its own words is found.
AMA_POINTER = (
    "The official descriptor of this code is in the AMA's CPT code set (ama-assn.org); this estimator does not copy it."
)


def components(schedules, code):
    """The component modifiers (26, TC) the catalog has rows for, for ``code``."""
    return [m for m in COMPONENT_MODIFIERS if procedure_key(code, m) in schedules.procedures.index]


def is_ama_described(code, description):
    """Whether a code's description only names it (``CPT 12345``): its descriptor is the AMA's."""
    return description == f"CPT {code}"


def find(schedules, query):
    """The positions (in ``schedules.procedures``) of the global rows that match ``query``, best first.

    A query that looks like a code, or its start (``6448``, ``g22``), matches codes that start with it,
    the exact code first; otherwise, and also, every word must appear in the description or the category
    (any order, any case, a word's start: ``lumbar mri`` finds "MRI of the lower back (lumbar spine)").
    An empty query matches every code, in code order.
    """
    procedures = schedules.procedures
    is_global = (procedures["modifier"] == "").to_numpy()
    codes = procedures["cpt_code"].to_numpy(object)
    text = (query or "").strip()
    if not text:
        return np.flatnonzero(is_global)
    token = text.upper().replace(" ", "")
    by_code = np.zeros(len(codes), dtype=bool)
    if len(token) <= 5 and token.isalnum() and any(c.isdigit() for c in token):
        by_code = is_global & procedures["cpt_code"].str.startswith(token).to_numpy()
    words = _WORD.findall(text.lower())[:MAX_WORDS]
    by_words = is_global.copy() if words else np.zeros(len(codes), dtype=bool)
    haystack = schedules.search_text
    for word in words:
        by_words &= haystack.str.contains(r"\b" + re.escape(word), regex=True).to_numpy()
    exact = by_code & (codes == token)
    order = np.lexsort((codes, ~by_code, ~exact))  # exact code, then codes by number, then the rest by code
    return order[(by_code | by_words)[order]]
