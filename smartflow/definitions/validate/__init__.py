"""Validate a folder of definitions: load, JSON Schema, then semantic checks, all collected."""

from __future__ import annotations

from dataclasses import field
from pathlib import Path
from typing import Any

from smartflow.definitions.diagnostics import Diagnostic, Diagnostics, Location
from smartflow.definitions.load import Document, LoadError, discover, load_file
from smartflow.definitions.validate import behaviour, bitrix24, calendars, fieldrules, scenarios, structure
from smartflow.definitions.validate.context import Check, Folder, ProcessDoc
from smartflow.definitions.validate.schema import check_document
from smartflow.records import record

# The semantic rules, in the order their diagnostics are most useful.
CHECKS: tuple[Check, ...] = (
    structure.check_duplicate_process_ids,
    structure.check_duplicate_role_ids,
    structure.check_reserved_ids,
    structure.check_field_options_apply,
    structure.check_field_limits,
    structure.check_currencies,
    structure.check_enum_options,
    structure.check_defaults,
    structure.check_link_targets,
    structure.check_default_pipeline,
    structure.check_final_stages,
    structure.check_transition_stages,
    fieldrules.check_forbid_self,
    fieldrules.check_read_only_fields,
    fieldrules.check_field_conditions,
    fieldrules.check_condition_cycles,
    fieldrules.check_required_hidden,
    structure.check_reachable_stages,
    structure.check_dead_end_stages,
    structure.check_stage_required_fields,
    structure.check_stage_replaces,
    structure.check_card_and_list,
    structure.check_presets,
    bitrix24.check_portal_numbers,
    bitrix24.check_portal_names,
    calendars.check_working_hours,
    behaviour.check_role_references,
    behaviour.check_permission_stages,
    behaviour.check_permission_hidden_fields,
    behaviour.check_transition_roles,
    behaviour.check_conditions,
    behaviour.check_templates,
    behaviour.check_templates_reveal_hidden,
    behaviour.check_trigger_ids,
    behaviour.check_trigger_events,
    behaviour.check_trigger_actions,
    behaviour.check_notify_users,
    behaviour.check_trigger_cycles,
    scenarios.check_scenarios,
)


@record
class Result:
    """What validating a set of files found: the documents that loaded and every diagnostic."""

    files: list[str] = field(default_factory=list)
    documents: list[Document] = field(default_factory=list)
    diagnostics: Diagnostics = field(default_factory=Diagnostics)

    @property
    def ok(self) -> bool:
        return not self.diagnostics.errors

    def definition(self) -> Any:
        """The model of the validated files (only meaningful when ok)."""
        from smartflow.definitions.convert import definition_from_documents

        return definition_from_documents([(d.data, d.file) for d in self.documents])


def _display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def validate_paths(paths: list[Path]) -> Result:
    """Validate every definition file under paths together (cross-file references)."""
    result = Result()
    files = discover(paths)
    if not files:
        where = Location(_display(paths[0]) if paths else ".")
        result.diagnostics.add(Diagnostic("no-definitions", "no .yaml or .yml files found", where,
                                          hint="run `smartflow init` to start a processes folder"))
        return result
    documents: list[Document] = []
    for path in files:
        display = _display(path)
        result.files.append(display)
        try:
            document, duplicates = load_file(path, display)
        except LoadError as exc:
            result.diagnostics.add(exc.diagnostic)
            continue
        result.diagnostics.extend(duplicates)
        documents.append(document)
    return _validate_documents(result, documents)


def validate_documents(documents: list[Document]) -> Result:
    """Validate documents already loaded (tests, `smartflow test`, in-memory callers)."""
    return _validate_documents(Result(files=[d.file for d in documents]), documents)


def _validate_documents(result: Result, documents: list[Document]) -> Result:
    folder = Folder()
    for document in documents:
        schema_errors = check_document(document)
        result.diagnostics.extend(schema_errors)
        if schema_errors:
            data = document.data
            if isinstance(data, dict) and data.get("kind") == "Process" and isinstance(data.get("id"), str):
                folder.broken.add(data["id"])
            continue
        result.documents.append(document)
        if document.data["kind"] == "Process":
            folder.processes.append(ProcessDoc(document, document.data))
        elif document.data["kind"] == "Test":
            folder.test_docs.append((document, document.data))
        else:
            folder.role_docs.append((document, document.data))
    for check in CHECKS:
        result.diagnostics.extend(check(folder))
    return result
