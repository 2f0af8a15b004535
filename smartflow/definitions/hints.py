"""Hints for a misspelt or unknown name: "did you mean …?" and the short list of names that would
have been accepted. Apart from the diagnostics, so that a runtime error message can use them without
importing what validation reports with (difflib is imported only when a hint is asked for)."""

from __future__ import annotations

from collections.abc import Iterable


def did_you_mean(word: str, possibilities: Iterable[str]) -> str | None:
    """A "did you mean …?" hint for a misspelt name, or None when nothing is close."""
    import difflib  # only when a name was not found: not on every command's start-up

    candidates = sorted(set(possibilities))
    matches = difflib.get_close_matches(word, candidates, n=3, cutoff=0.6)
    if not matches:
        return None
    if len(matches) == 1:
        return f"did you mean `{matches[0]}`?"
    return "did you mean one of " + ", ".join(f"`{m}`" for m in matches) + "?"


def known_list(possibilities: Iterable[str], limit: int = 12) -> str:
    """A short list of the names that would have been accepted."""
    names = sorted(set(possibilities))
    shown = ", ".join(f"`{n}`" for n in names[:limit])
    if len(names) > limit:
        shown += f" and {len(names) - limit} more"
    return shown or "none"
