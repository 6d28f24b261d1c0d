"""Importers of published prices (payers' Transparency in Coverage files, hospitals' standard charges)
into fee-schedule rows. They import the core; the core never imports them."""
