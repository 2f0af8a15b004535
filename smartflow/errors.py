"""smartflow's exceptions: definition errors and operational errors under one base.

Exit codes are decided at the CLI edge (smartflow/cli/exits.py), never here.
"""

from __future__ import annotations

from typing import Any


class SmartflowError(Exception):
    """Anything smartflow reports to a user as one clear message."""

    hint: str | None = None

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(printable(message))
        self.hint = printable(hint) if hint is not None else None


def printable(text: str) -> str:
    """text with what no output can encode written as escapes: a message may quote hostile input
    (a lone surrogate from JSON's `\\ud800`), and must still reach the person as UTF-8."""
    if text.isascii():
        return text
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


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


class AuthenticationFailed(SmartflowError):
    """No credential, or one that is wrong, expired or revoked."""


class TooManyAttempts(AuthenticationFailed):
    """Too many failed logins of one login name in a short time; refused until the window passes."""


class ItemError(SmartflowError):
    """Something a person did with an item that the rules refuse; nothing was written."""


class NotDeployed(ItemError):
    """No definitions are deployed in the database, or the process is not among them."""


class NotFound(ItemError):
    """The item does not exist, or the user may not see it (the same answer, by design)."""


class PermissionDenied(ItemError):
    """The user's roles do not grant the action."""


class InvalidValue(ItemError):
    """A field value breaks the field's rules; names the field, the value and the rule."""

    def __init__(self, message: str, hint: str | None = None, field: str | None = None) -> None:
        super().__init__(message, hint)
        self.field = field


class TransitionNotAllowed(ItemError):
    """A move the pipeline, its conditions, the required fields or the stage rights refuse."""

    def __init__(self, message: str, reasons: list[str], hint: str | None = None) -> None:
        super().__init__(message, hint)
        self.reasons = reasons


class ConflictError(ItemError):
    """Someone else changed the item first."""


class AutomationFailed(ItemError):
    """A synchronous action failed; the change that fired it is rolled back with it."""
