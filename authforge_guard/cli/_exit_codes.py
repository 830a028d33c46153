"""The command line's exit codes: one set for our commands and for apps' customer-facing
CLIs (``_refusal`` decides them for both). A module of its own, so every subcommand
imports them without importing the package that lists the subcommands."""

from __future__ import annotations

from .._api._refusal import EXIT_CONFIGURATION, EXIT_REFUSED, EXIT_UNREACHABLE

EXIT_OK = 0
EXIT_USAGE = EXIT_CONFIGURATION
EXIT_NETWORK = EXIT_UNREACHABLE

__all__ = ["EXIT_NETWORK", "EXIT_OK", "EXIT_REFUSED", "EXIT_USAGE"]
