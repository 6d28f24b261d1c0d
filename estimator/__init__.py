"""Procedure cost estimator: allowed amount, patient share and prior authorization for one procedure line."""

__version__ = "0.1.0"
