"""The shape of a filter condition, `FIELD OP VALUE` (`item list --where`, the views' presets): read
here once, so a definition's presets are checked by `validate` as the runtime will read them."""

from __future__ import annotations

import re

WHERE = re.compile(
    r"^\s*([a-z][a-z0-9_]*)\s*(is\s+not\s+empty|is\s+empty|!=|<=|>=|=|<|>|in\b|contains\b)\s*(.*?)\s*$",
    re.IGNORECASE)
SYSTEM_COLUMNS = ("id", "title", "pipeline", "stage", "assigned_to", "created_by", "created_at", "updated_at",
                  "moved_at", "closed_at")  # the item's own columns a condition may name besides its fields
OPERATORS = "= != < <= > >= in contains, or FIELD is empty"


def split_filter(text: str) -> tuple[str, str, str] | None:
    """(field, operator, value as written) of a condition, the operator in lower case with single
    spaces; None when it is not one."""
    match = WHERE.match(text)
    if not match:
        return None
    return match.group(1), re.sub(r"\s+", " ", match.group(2).lower()), match.group(3)


def doubled(op: str, raw: str) -> bool:
    """Whether an operator was typed twice (`a >< 5`, `a == x`, `a => 5`); a value may still start with
    `<` after a space (`= <draft>`)."""
    return op not in ("is empty", "is not empty") and raw[:1] in ("<", ">", "=", "!") \
        and raw[1:2] in ("", " ", "=", "<", ">")
