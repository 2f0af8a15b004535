"""What every semantic check sees: the folder's schema-valid documents, indexed."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import field
from typing import Any

from smartflow.definitions.diagnostics import Diagnostic, Location, Severity, did_you_mean, known_list
from smartflow.definitions.load import Document, JsonPath, format_path
from smartflow.definitions.model import DEFAULT_ROLES, SYSTEM_FIELDS
from smartflow.records import record


@record
class ProcessDoc:
    """One process document: its data and where it lives."""

    doc: Document
    data: dict[str, Any]

    @property
    def id(self) -> str:
        return str(self.data["id"])

    @property
    def fields(self) -> dict[str, dict[str, Any]]:
        return self.data.get("fields") or {}

    @property
    def pipelines(self) -> dict[str, dict[str, Any]]:
        return self.data.get("pipelines") or {}

    def stage_ids(self, pipeline_id: str | None = None) -> list[str]:
        if pipeline_id is not None:
            return list(self.pipelines.get(pipeline_id, {}).get("stages", {}))
        ids: list[str] = []
        for pipeline in self.pipelines.values():
            ids.extend(s for s in pipeline.get("stages", {}) if s not in ids)
        return ids

    def names(self) -> set[str]:
        """Names a condition or template over this process's items may read."""
        from smartflow.definitions.expressions import CONTEXT_NAMES

        return set(self.fields) | set(SYSTEM_FIELDS) | set(CONTEXT_NAMES)

    def at(self, path: JsonPath, key: bool = False) -> Location:
        return self.doc.location(path, key=key)


@record
class Folder:
    """The documents of one validation run, by kind, plus the roles they declare."""

    processes: list[ProcessDoc] = field(default_factory=list)
    role_docs: list[tuple[Document, dict[str, Any]]] = field(default_factory=list)
    test_docs: list[tuple[Document, dict[str, Any]]] = field(default_factory=list)
    # ids of processes whose files failed the schema: references to them are not reported again
    broken: set[str] = field(default_factory=set)

    def process(self, process_id: str) -> ProcessDoc | None:
        return next((p for p in self.processes if p.id == process_id), None)

    def process_ids(self) -> list[str]:
        return [p.id for p in self.processes]

    def role_ids(self) -> set[str]:
        ids = set(DEFAULT_ROLES)
        for _, data in self.role_docs:
            ids.update(data.get("roles") or {})
        return ids


Check = Callable[[Folder], Iterator[Diagnostic]]


def error(code: str, message: str, where: Location, hint: str | None = None,
          path: JsonPath | None = None) -> Diagnostic:
    return Diagnostic(code, message, where, Severity.ERROR, hint, format_path(path) if path is not None else None)


def warning(code: str, message: str, where: Location, hint: str | None = None,
            path: JsonPath | None = None) -> Diagnostic:
    return Diagnostic(code, message, where, Severity.WARNING, hint, format_path(path) if path is not None else None)


def literal(value: Any) -> str:
    """A value as its author wrote it: strings quoted, true/false/null and lists as in YAML, not Python."""
    return repr(value) if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def unknown(kind: str, name: str, known: list[str] | set[str], where: Location, path: JsonPath,
            context: str = "") -> Diagnostic:
    """An unknown-<kind> error with a did-you-mean hint."""
    plural = "processes" if kind == "process" else f"{kind}s"
    hint = did_you_mean(name, known) or f"known {plural}: {known_list(known)}"
    suffix = f" {context}" if context else ""
    return error(f"unknown-{kind}", f"unknown {kind} `{name}`{suffix}", where, hint, path)
