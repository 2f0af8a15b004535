"""smartflow's exceptions: definition errors and operational errors under one base.

Exit codes are decided at the CLI edge (smartflow/cli.py), never here.
"""

from __future__ import annotations

from typing import Any


class SmartflowError(Exception):
    """Anything smartflow reports to a user as one clear message."""

    hint: str | None = None

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint


class DefinitionError(SmartflowError):
    """The definition files are invalid; carries the validation result."""

    def __init__(self, result: Any) -> None:
        count = len(result.diagnostics.errors)
        super().__init__(f"the definitions have {count} error(s); nothing was changed",
                         "run `smartflow validate` to see them all")
        self.result = result


class DeployError(SmartflowError):
    """A deploy that cannot go ahead."""


class ApplyRefused(DeployError):
    """The plan holds steps that would lose data (or cannot be done); nothing was changed."""

    def __init__(self, plan: Any, reasons: list[str], allowable: bool) -> None:
        hint = ("pass --allow-data-loss to proceed (removed data is kept in sf_archive), or change the definitions"
                if allowable else "change the definitions or the data first")
        super().__init__("apply refused, nothing was changed: " + "; ".join(reasons), hint)
        self.plan = plan
        self.reasons = reasons


class Busy(DeployError):
    """Another apply holds the deploy lock."""


class UnknownVersion(DeployError):
    """A version number that was never deployed."""


class DatabaseUnavailable(SmartflowError):
    """The database cannot be opened or reached."""
