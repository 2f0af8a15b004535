"""Reporters: the same validation result as text for people or JSON for tools."""

from __future__ import annotations

import json

from smartflow.definitions.diagnostics import Diagnostic
from smartflow.definitions.validate import Result


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def summary(result: Result) -> str:
    errors, warnings = len(result.diagnostics.errors), len(result.diagnostics.warnings)
    files = _plural(len(result.files), "file")
    if not errors and not warnings:
        return f"{files} valid"
    return f"{_plural(errors, 'error')}, {_plural(warnings, 'warning')} in {files}"


def format_diagnostic(diagnostic: Diagnostic) -> str:
    """`path:line:col: error[code]: message`, then the hint on its own line."""
    head = f"{diagnostic.location}: {diagnostic.severity.value}[{diagnostic.code}]: {diagnostic.message}"
    if diagnostic.hint:
        return f"{head}\n  hint: {diagnostic.hint}"
    return head


def render_text(result: Result) -> str:
    lines = [format_diagnostic(d) for d in result.diagnostics.sorted()]
    return "\n".join(lines)


def render_json(result: Result) -> str:
    payload = {
        "valid": result.ok,
        "files": result.files,
        "errors": len(result.diagnostics.errors),
        "warnings": len(result.diagnostics.warnings),
        "diagnostics": [d.to_dict() for d in result.diagnostics.sorted()],
    }
    return json.dumps(payload, ensure_ascii=False, indent=2)
