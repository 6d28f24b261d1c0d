"""The command line: ``python -m estimator estimate | batch | check-schedules | serve``."""

from .commands import build_parser, main

__all__ = ["build_parser", "main"]
