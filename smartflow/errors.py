"""smartflow's exceptions: definition errors and operational errors under one base.

Exit codes are decided at the CLI edge (smartflow/cli/exits.py), never here.
"""

from __future__ import annotations

from typing import Any

from smartflow.i18n import Message, render


class SmartflowError(Exception):
    """Anything smartflow reports to a user as one clear message.

    `str()` is the English text (the CLI's, the logs'); a message made with `smartflow.i18n.tr` is kept
    as well, so an interface shows it in the reader's language with `in_language(lang)`."""

    hint: str | None = None

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(printable(message))
        self.message = message
        self.hint = printable(hint) if hint is not None else None
        self.hint_message = hint

    def in_language(self, lang: str | None) -> str:
        """The message in lang (ru, en: titles for ids), or its English developer text for None."""
        return printable(render(self.message, lang)) if isinstance(self.message, Message) and lang else str(self)

    def reasons_in_language(self, lang: str | None) -> list[str]:
        """Why it was refused, one line a reason (a refused move has several), in lang."""
        return [self.in_language(lang)]

    def hint_in_language(self, lang: str | None) -> str | None:
        """The hint in lang. A hint not in the catalogue is the command line's advice (`run smartflow …`,
        `--set`): English readers get it as it is, readers of another language none."""
        if isinstance(self.hint_message, Message) and lang:
            return printable(render(self.hint_message, lang))
        return self.hint if lang in (None, "en") else None


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

    def reasons_in_language(self, lang: str | None) -> list[str]:
        if not self.reasons:
            return super().reasons_in_language(lang)
        return [printable(render(reason, lang)) for reason in self.reasons]


class ConflictError(ItemError):
    """Someone else changed the item first."""


class AutomationFailed(ItemError):
    """A synchronous action failed; the change that fired it is rolled back with it."""
