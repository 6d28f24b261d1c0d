"""Saved estimates and Good Faith Estimate records: users, the database, the FHIR export. They import
the core; the core never imports them."""
