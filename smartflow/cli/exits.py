"""Exit codes, decided here and only here: scripts rely on them (README, "Exit codes")."""

from __future__ import annotations

EXIT_OK = 0
EXIT_INVALID = 1  # validate: invalid definitions; plan: changes pending
EXIT_USAGE = 2
EXIT_DEFINITIONS = 3  # plan/apply/rollback: the definitions are invalid
EXIT_REFUSED = 4  # apply refused a step that would lose data
EXIT_BUSY = 5  # another apply holds the lock
EXIT_DATABASE = 6  # the database cannot be used
EXIT_NOT_FOUND = 7  # an unknown version, item or user (or one you may not see)
EXIT_DENIED = 8  # your roles do not allow it
EXIT_BAD_VALUE = 9  # a field value breaks its rule
EXIT_MOVE_REFUSED = 10  # the move is not allowed (transition, condition, required fields, stage right)
EXIT_CONFLICT = 11  # someone changed the item first
EXIT_NOT_DEPLOYED = 12  # nothing deployed, or no such process
EXIT_AUTOMATION = 13  # a trigger's synchronous action failed, so the change was refused

def exit_code(error: Exception) -> int:
    """The one place exit codes are decided for smartflow's own errors."""
    from smartflow import errors

    table: list[tuple[type[Exception], int]] = [
        (errors.DefinitionError, EXIT_DEFINITIONS),
        (errors.ApplyRefused, EXIT_REFUSED),
        (errors.Busy, EXIT_BUSY),
        (errors.UnknownVersion, EXIT_NOT_FOUND),
        (errors.DatabaseUnavailable, EXIT_DATABASE),
        (errors.NotFound, EXIT_NOT_FOUND),
        (errors.PermissionDenied, EXIT_DENIED),
        (errors.InvalidValue, EXIT_BAD_VALUE),
        (errors.TransitionNotAllowed, EXIT_MOVE_REFUSED),
        (errors.ConflictError, EXIT_CONFLICT),
        (errors.NotDeployed, EXIT_NOT_DEPLOYED),
        (errors.AutomationFailed, EXIT_AUTOMATION),
    ]
    return next((code for kind, code in table if isinstance(error, kind)), EXIT_INVALID)
