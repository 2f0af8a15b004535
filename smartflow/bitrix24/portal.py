"""smartflow's deployed processes as a Bitrix24 portal sees smart processes, for one user.

A process is a smart process (type `id` and `entityTypeId` from `sf_numbers`), a pipeline a
category, a stage a status `DT{entityTypeId}_{categoryId}:{CODE}`, an enum option an integer id.
Fields speak Bitrix's names: the system ones camelCase (`stageId`, `assignedById`), ours
`ufCrm{typeId}{Code}` (upper `UF_CRM_{typeId}_{CODE}`), and any spelling is accepted on input.
A definition pulled from a portal declares the portal's own numbers and names (its `bitrix24:`
blocks): apply keeps the numbers in `sf_numbers`, and a field's name (`UF_CRM_7_1700000001`, in
crm.item.* `ufCrm7_1700000001`) and a stage's code come with the description, so a script written
against the portal is answered in its own terms; smartflow's own spelling of a field stays accepted.
Everything comes from `Engine.describe`, so fields hidden from the user are simply absent.
"""

from __future__ import annotations

import re
import urllib.parse
from dataclasses import field
from datetime import date, datetime
from decimal import Decimal
from functools import cached_property
from typing import Any

from smartflow.bitrix24.protocol import BitrixError, camel, squash
from smartflow.records import record
from smartflow.services import Engine, entity_type_id

# smartflow's field types as Bitrix24 names user-field types
TYPES = {"string": "string", "text": "string", "email": "string", "phone": "string", "url": "url",
         "integer": "integer", "number": "double", "money": "money", "boolean": "boolean", "date": "date",
         "datetime": "datetime", "enum": "enumeration", "user": "employee", "link": "crm", "file": "file"}
# (Bitrix name, upper name, smartflow key, Bitrix type, read only)
LABELS = {"id": "ID", "title": "Title", "categoryId": "Pipeline", "stageId": "Stage", "assignedById": "Responsible",
          "createdBy": "Created by", "createdTime": "Created on", "updatedBy": "Modified by",
          "updatedTime": "Modified on", "movedBy": "Moved by", "movedTime": "Moved on"}
SYSTEM = (
    ("id", "ID", "id", "integer", True),
    ("title", "TITLE", "title", "string", False),
    ("categoryId", "CATEGORY_ID", "pipeline", "crm_category", False),
    ("stageId", "STAGE_ID", "stage", "crm_status", False),
    ("assignedById", "ASSIGNED_BY_ID", "assigned_to", "user", False),
    ("createdBy", "CREATED_BY", "created_by", "user", True),
    ("createdTime", "CREATED_TIME", "created_at", "datetime", True),
    ("updatedBy", "UPDATED_BY", "updated_by", "user", True),
    ("updatedTime", "UPDATED_TIME", "updated_at", "datetime", True),
    ("movedBy", "MOVED_BY", "moved_by", "user", True),
    ("movedTime", "MOVED_TIME", "moved_at", "datetime", True),
)
SEMANTICS = {"process": None, "success": "S", "failure": "F"}


def title(titles: dict[str, str] | None, fallback: str) -> str:
    """One title: the definition's first language (the portal's language)."""
    return next(iter(titles.values())) if titles else fallback


@record
class Spec:
    """One field as Bitrix names it."""

    name: str
    upper: str
    key: str
    kind: str  # smartflow's type (system fields: theirs)
    bitrix: str
    read_only: bool = False
    required: bool = False
    multiple: bool = False
    system: bool = False
    label: str = ""
    options: list[tuple[int, str, str]] = field(default_factory=list)  # (number, option id, title)
    to: str | None = None  # a link's process


class Type:
    """One process as a smart process, for the user the portal was read for."""

    def __init__(self, described: dict[str, Any], numbers: dict[str, dict[str, int]], site: str = "") -> None:
        self.site = site  # the facade's address as the caller reached it, for files' download URLs
        self.process = described["id"]
        self.described = described
        number = numbers["type"].get(self.process)
        entity = entity_type_id(numbers, self.process)
        if number is None or entity is None:
            raise BitrixError("NOT_FOUND", f"{self.process} has no number yet: run `smartflow apply` once", 400)
        self.number: int = number
        self.entity_type_id: int = entity
        self.title = title(described["title"], self.process)
        self.categories: dict[str, int] = {}
        self.stages: dict[tuple[str, str], int] = {}
        self.codes: dict[tuple[str, str], str] = {}  # (pipeline, stage) → the stage's code in status ids
        for pipeline in described["pipelines"]:
            self.categories[pipeline["id"]] = numbers["category"].get(f"{self.process}/{pipeline['id']}", 0)
            for stage in pipeline["stages"]:
                key = f"{self.process}/{pipeline['id']}/{stage['id']}"
                self.stages[(pipeline["id"], stage["id"])] = numbers["stage"].get(key, 0)
                self.codes[(pipeline["id"], stage["id"])] = (stage.get("bitrix24") or {}).get("code") \
                    or stage["id"].upper()
        self.pipeline_of = {number: pipeline for pipeline, number in self.categories.items()}
        self.specs: list[Spec] = [Spec(name, upper, key, "system", kind, read_only, system=True,
                                       label=LABELS[name])
                                  for name, upper, key, kind, read_only in SYSTEM]
        ours: dict[str, str] = {}  # a field's name as smartflow makes it, when the portal's is declared
        for found in described["fields"]:
            upper = f"UF_CRM_{self.number}_{found['id'].upper()}"
            declared = (found.get("bitrix24") or {}).get("name")
            if declared:
                ours[found["id"]] = upper
                upper = declared
            options = [(numbers["option"].get(f"{self.process}/{found['id']}/{o['id']}", 0), o["id"],
                        title(o["title"], o["id"])) for o in found.get("options", [])]
            self.specs.append(Spec(camel(upper), upper, found["id"], found["type"], TYPES[found["type"]],
                                   required=bool(found["required"]), multiple=bool(found["multiple"]),
                                   label=title(found["title"], found["id"]), options=options, to=found.get("to")))
        self.by_name: dict[str, Spec] = {}
        for spec in self.specs:
            for spelling in (spec.key, spec.upper, spec.name):
                self.by_name.setdefault(squash(spelling), spec)
        for spec in self.specs:  # then smartflow's own spelling of a field named as the portal names it
            if spec.key in ours:
                self.by_name.setdefault(squash(ours[spec.key]), spec)
        self.by_key = {spec.key: spec for spec in self.specs}

    def spec(self, name: str) -> Spec | None:
        return self.by_name.get(squash(str(name)))

    def name_of(self, spec: Spec, original: bool) -> str:
        return spec.upper if original and not spec.system else spec.name

    @property
    def default_pipeline(self) -> str:
        return next((p["id"] for p in self.described["pipelines"] if p["default"]),
                    self.described["pipelines"][0]["id"])

    def status_id(self, pipeline: str, stage: str) -> str:
        code = self.codes.get((pipeline, stage), stage.upper())
        return f"DT{self.entity_type_id}_{self.categories.get(pipeline, 0)}:{code}"

    def entity_id(self, pipeline: str) -> str:
        return f"DYNAMIC_{self.entity_type_id}_STAGE_{self.categories.get(pipeline, 0)}"

    def stage_of(self, code: Any, pipeline: str | None = None) -> tuple[str | None, str]:
        """(pipeline or None, stage) of `DT130_3:PRICES`, `PRICES` or `prices`."""
        text = str(code).strip()
        found = re.fullmatch(r"DT(\d+)_(\d+):(.+)", text, re.IGNORECASE)
        if found:
            number = int(found.group(2))
            pipeline = self.pipeline_of.get(number)
            if pipeline is None or int(found.group(1)) != self.entity_type_id:
                raise BitrixError("CRM_FIELD_ERROR_VALUE_NOT_VALID", f"stageId {text}: no such stage here")
            text = found.group(3)
        stages = [(p, s) for p, s in self.stages if pipeline is None or p == pipeline]
        wanted = text.lower()
        stage = next((s for p, s in stages if self.codes[(p, s)].lower() == wanted), None) \
            or next((s for _, s in stages if s.lower() == wanted), None)
        if stage is None:
            raise BitrixError("CRM_FIELD_ERROR_VALUE_NOT_VALID", f"stageId {code}: no such stage here")
        return pipeline, stage

    def pipeline_from(self, value: Any) -> str:
        try:
            number = int(str(value).strip())
        except ValueError:
            number = -1
        pipeline = self.pipeline_of.get(number)
        if pipeline is None:
            raise BitrixError("CRM_FIELD_ERROR_VALUE_NOT_VALID", f"categoryId {value}: no such category here")
        return pipeline

    def option_from(self, spec: Spec, value: Any) -> str:
        """An option id from its number (or the option's own id)."""
        text = str(value).strip()
        for number, option, _ in spec.options:
            if text in (str(number), option):
                return option
        raise BitrixError("CRM_FIELD_ERROR_VALUE_NOT_VALID",
                          f"{spec.name}: {value!r} is not one of the ids of its items (crm.item.fields lists them)")

    # ---- values out ---------------------------------------------------------------

    def item(self, item: dict[str, Any], select: set[str] | None = None, original: bool = False) -> dict[str, Any]:
        """An item as crm.item.* answers it (select: squashed names asked for; None for all)."""
        out: dict[str, Any] = {}
        for spec in self.specs:
            if spec.key not in item:
                continue
            if select is not None and spec.key != "id" and not ({squash(spec.name), squash(spec.upper),
                                                                  squash(spec.key)} & select):
                continue
            out[self.name_of(spec, original)] = self.value_out(spec, item[spec.key], item)
        if select is None or "entitytypeid" in select:
            out["entityTypeId"] = self.entity_type_id
        return out

    def value_out(self, spec: Spec, value: Any, item: dict[str, Any]) -> Any:
        if spec.key == "pipeline":
            return self.categories.get(value, 0)
        if spec.key == "stage":
            return self.status_id(item.get("pipeline") or self.default_pipeline, value)
        if spec.kind == "file":
            files = value if isinstance(value, list) else [] if value is None else [value]
            out = [self.file_out(spec, f, item) for f in files]
            return out if spec.multiple else (out[0] if out else None)
        if spec.multiple:
            return [self._scalar_out(spec, v) for v in value or []]
        return self._scalar_out(spec, value)

    def file_out(self, spec: Spec, value: Any, item: dict[str, Any]) -> dict[str, Any]:
        """A file as Bitrix24 shows one: its id and the URL that downloads it (crm.controller.item.getFile;
        a webhook's client calls it through its webhook, an OAuth client adds `auth`)."""
        file_id = value.get("id") if isinstance(value, dict) else value
        query = urllib.parse.urlencode({"entityTypeId": self.entity_type_id, "id": item.get("id"),
                                        "fieldName": spec.name, "fileId": file_id})
        url = f"{self.site}/rest/crm.controller.item.getFile.json?{query}"
        return {"id": file_id, "url": url, "urlMachine": url}

    def _scalar_out(self, spec: Spec, value: Any) -> Any:
        if value is None:
            return None
        if spec.kind == "money" and isinstance(value, dict):
            return f"{format(value['amount'], 'f')}|{value.get('currency') or ''}"
        if spec.kind == "boolean":
            return "Y" if value else "N"
        if spec.kind == "enum":
            return next((n for n, option, _ in spec.options if option == value), None)
        if spec.kind == "file":
            return {"id": value} if isinstance(value, int) else value
        if isinstance(value, Decimal):
            return float(value)
        if isinstance(value, datetime):
            return value.isoformat(timespec="seconds")
        if isinstance(value, date):
            return f"{value.isoformat()}T00:00:00+00:00"
        return value

    # ---- values in ----------------------------------------------------------------

    def values_in(self, given: Any) -> tuple[dict[str, Any], str | None, str | None]:
        """`fields` of add/update as (smartflow values, pipeline, stage). As Bitrix does, names it does
        not know are ignored, and so are read-only ones and fields hidden from the user (absent to them)."""
        if not isinstance(given, dict):
            raise BitrixError("INVALID_ARG_VALUE", "fields: an object of field names to values is expected")
        values: dict[str, Any] = {}
        pipeline: str | None = None
        stage: str | None = None
        for name, value in given.items():
            spec = self.spec(name)
            if spec is None or spec.read_only:
                continue
            if spec.key == "pipeline":
                pipeline = self.pipeline_from(value)
            elif spec.key == "stage":
                stage_pipeline, stage = self.stage_of(value, None)
                pipeline = pipeline or stage_pipeline
            else:
                values[spec.key] = self.value_in(spec, value)
        if stage is not None and pipeline is not None and (pipeline, stage) not in self.stages:
            raise BitrixError("CRM_FIELD_ERROR_VALUE_NOT_VALID", f"stageId: {stage} is not a stage of that category")
        return values, pipeline, stage

    def value_in(self, spec: Spec, value: Any) -> Any:
        if spec.multiple:
            if value in (None, "", []):
                return []
            items = value if isinstance(value, list) else list(value.values()) if isinstance(value, dict) else [value]
            return [self._scalar_in(spec, v) for v in items]
        return self._scalar_in(spec, value)

    def _scalar_in(self, spec: Spec, value: Any) -> Any:
        if value is None or (value == "" and spec.kind not in ("string", "text", "system")):
            return None
        kind = spec.kind
        if kind == "money":
            amount, _, currency = str(value).partition("|")
            return {"amount": amount.strip(), **({"currency": currency.strip()} if currency.strip() else {})}
        if kind == "boolean":
            text = str(value).strip().lower()
            if text in ("y", "1", "true", "yes"):
                return True
            if text in ("n", "0", "false", "no"):
                return False
            raise BitrixError("CRM_FIELD_ERROR_VALUE_NOT_VALID", f"{spec.name}: {value!r} is not Y or N")
        if kind == "enum":
            return self.option_from(spec, value)
        if kind == "date":
            return str(value).strip()[:10]
        if kind == "link":
            return str(value).rsplit("_", 1)[-1]
        if kind == "file":
            raise BitrixError("CRM_FIELD_ERROR_VALUE_NOT_VALID",
                              f"{spec.name}: files cannot be written through the Bitrix24 facade yet")
        if kind == "user" or spec.key == "assigned_to":
            try:
                return int(str(value).strip())
            except ValueError:
                raise BitrixError("CRM_FIELD_ERROR_VALUE_NOT_VALID",
                                  f"{spec.name}: {value!r} is not a user id") from None
        if isinstance(value, float):
            return repr(value)
        return value

    def where_value(self, spec: Spec, value: Any) -> str:
        """A filter value as smartflow's `FIELD OP VALUE` text reads it."""
        if spec.key == "pipeline":
            return self.pipeline_from(value)
        if spec.key == "stage":
            return self.stage_of(value)[1]
        if spec.key in ("assigned_to", "created_by") or spec.kind == "user":
            return f"#{str(value).strip()}" if str(value).strip() else ""
        if spec.kind == "boolean":
            return "true" if str(value).strip().lower() in ("y", "1", "true", "yes") else "false"
        if spec.kind == "enum":
            return self.option_from(spec, value)
        if spec.kind == "money":
            return str(value).partition("|")[0].strip()
        if spec.kind == "date":
            return str(value).strip()[:10]
        if spec.kind == "link":
            return str(value).rsplit("_", 1)[-1]
        return str(value)


class Portal:
    """The processes of one user's engine, read once per request (a batch shares it)."""

    def __init__(self, crm: Engine, site: str = "") -> None:
        self.crm = crm
        self.site = site

    @cached_property
    def types(self) -> list[Type]:
        numbers = self.crm.numbers()
        return [Type(described, numbers, self.site) for described in self.crm.describe()["processes"]]

    def by_entity(self, value: Any) -> Type:
        try:
            wanted = int(str(value).strip())
        except ValueError:
            wanted = -1
        found = next((t for t in self.types if t.entity_type_id == wanted), None)
        if found is None:
            raise BitrixError("NOT_FOUND", "Smart process not found")
        return found

    def by_number(self, value: Any) -> Type:
        try:
            wanted = int(str(value).strip())
        except ValueError:
            wanted = -1
        found = next((t for t in self.types if t.number == wanted), None)
        if found is None:
            raise BitrixError("NOT_FOUND", "Smart process not found")
        return found
