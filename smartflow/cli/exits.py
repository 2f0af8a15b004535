"""Exit codes, decided here and only here: scripts rely on them.

The comment on each line is its meaning as the documentation shows it (docs/hooks.py reads it).
"""

from __future__ import annotations

EXIT_OK = 0  # success; `plan`: nothing to do
EXIT_INVALID = 1  # `validate`: invalid definitions; `plan`: changes pending; `item explain`: the move would be refused
EXIT_USAGE = 2  # usage error (unknown option, missing argument, path that does not exist)
EXIT_DEFINITIONS = 3  # `plan`/`apply`/`rollback`: the definitions are invalid
EXIT_REFUSED = 4  # `apply` refused a step that would lose data
EXIT_BUSY = 5  # another apply holds the deploy lock, or apply ran out of --table-lock-timeout / --statement-timeout
EXIT_DATABASE = 6  # the database cannot be used
EXIT_NOT_FOUND = 7  # not found: a version, item or user (or an item you may not see)
EXIT_DENIED = 8  # permission denied: your roles do not allow it
EXIT_BAD_VALUE = 9  # a field value breaks its rule
EXIT_MOVE_REFUSED = 10  # the move is refused (transition, condition, required fields, stage right)
EXIT_CONFLICT = 11  # conflict: someone changed the item first
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
