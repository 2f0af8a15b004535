"""The `bitrix24:` blocks: a portal's own numbers and names (`smartflow bitrix24 pull` writes them) are
each claimed once, so the REST facade can answer a script written against the portal unambiguously.

entityTypeIds, type ids, categoryIds and enum item ids are unique across the folder (Bitrix24 numbers
them across the portal); a user field name within its process; a stage code within its pipeline.
A field or stage without a block is named as the facade names it (UF_CRM_{id}_{FIELD}, the stage id
in capitals), so a declared name may not take that either.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from smartflow.definitions.diagnostics import Diagnostic
from smartflow.definitions.load import JsonPath
from smartflow.definitions.validate.context import Folder, ProcessDoc, error


def _block(data: Any) -> dict[str, Any]:
    found = data.get("bitrix24") if isinstance(data, dict) else None
    return found if isinstance(found, dict) else {}


def _claims(folder: Folder) -> Iterator[tuple[str, Any, ProcessDoc, JsonPath]]:
    """(what, value, process, path of the value) of every number a folder claims portal-wide."""
    for process in folder.processes:
        for key, what in (("entity_type_id", "entityTypeId"), ("id", "smart process id")):
            if key in _block(process.data):
                yield what, _block(process.data)[key], process, ("bitrix24", key)
        for pipeline_id, pipeline in process.pipelines.items():
            if "category_id" in _block(pipeline):
                yield ("categoryId", _block(pipeline)["category_id"], process,
                       ("pipelines", pipeline_id, "bitrix24", "category_id"))
        for field_id, field in process.fields.items():
            for n, option in enumerate(field.get("options") or []):
                if "id" in _block(option):
                    yield ("enumeration item id", _block(option)["id"], process,
                           ("fields", field_id, "options", n, "bitrix24", "id"))


def check_portal_numbers(folder: Folder) -> Iterator[Diagnostic]:
    """A Bitrix24 number (entityTypeId, type id, categoryId, enum item id) is claimed once in a folder."""
    first: dict[tuple[str, Any], str] = {}
    for what, value, process, path in _claims(folder):
        where = process.at(path)
        if (what, value) in first:
            yield error("duplicate-bitrix24", f"the Bitrix24 {what} {value} is already claimed (first at "
                        f"{first[(what, value)]})", where, "give each its own number, as the portal did", path)
        else:
            first[(what, value)] = str(where)


def check_portal_names(folder: Folder) -> Iterator[Diagnostic]:
    """A user field name is one field's in its process, a stage code one stage's in its pipeline."""
    for process in folder.processes:
        type_id = _block(process.data).get("id")
        names: dict[str, str] = {}
        for field_id, field in process.fields.items():
            if isinstance(field, dict) and "name" not in _block(field) and type_id is not None:
                names.setdefault(f"UF_CRM_{type_id}_{field_id.upper()}", str(process.at(("fields", field_id), True)))
        for field_id, field in process.fields.items():
            name = _block(field).get("name")
            if name is None:
                continue
            path: JsonPath = ("fields", field_id, "bitrix24", "name")
            if name in names:
                yield error("duplicate-bitrix24", f"the Bitrix24 field name {name} is already another field's "
                            f"(at {names[name]})", process.at(path), "give each field its own name", path)
            else:
                names[name] = str(process.at(path))
        for pipeline_id, pipeline in process.pipelines.items():
            stages = pipeline.get("stages") or {}
            codes = {str(s).upper(): str(process.at(("pipelines", pipeline_id, "stages", s), True))
                     for s, stage in stages.items() if "code" not in _block(stage)}
            for stage_id, stage in stages.items():
                code = _block(stage).get("code")
                if code is None:
                    continue
                path = ("pipelines", pipeline_id, "stages", stage_id, "bitrix24", "code")
                if str(code).upper() in codes:
                    yield error("duplicate-bitrix24", f"the Bitrix24 stage code {code} is already another "
                                f"stage's (at {codes[str(code).upper()]})", process.at(path),
                                "give each stage of a pipeline its own code", path)
                else:
                    codes[str(code).upper()] = str(process.at(path))
