"""Benefits from a patient's eligibility response (ASC X12 271, SPEC section 10): an adapter over the core."""
