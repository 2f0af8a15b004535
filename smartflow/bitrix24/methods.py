"""The Bitrix24 REST methods smartflow answers: ONE table from method name to a thin handler over
smartflow.services (every read and write goes through the Engine acting as the caller, so rights,
hidden fields, required fields, transitions, conditions, forbid_self, history and triggers hold).

A handler takes the call and returns (result, navigation): navigation holds `total` and `next`,
which the envelope lifts to the top level as Bitrix24 does.
"""

from __future__ import annotations

import os
import re
import secrets
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from smartflow import errors
from smartflow.bitrix24.portal import SEMANTICS, Portal, Type, title
from smartflow.bitrix24.protocol import (
    FILTER_KEY,
    BitrixError,
    from_error,
    id_order,
    method_not_found,
    php_parse,
    squash,
    timing,
    truthy,
)
from smartflow.records import record
from smartflow.services import Engine

PAGE = 50  # Bitrix24's fixed page size
BATCH_LIMIT = 50
Result = tuple[Any, dict[str, Any]]


@record
class Call:
    """One method call: the engine acting as the caller, its portal, the parameters."""

    crm: Engine
    portal: Portal
    params: dict[str, Any]
    site: str = ""  # the facade's own address as the caller reached it (http://host:port), for event messages

    def get(self, name: str, default: Any = None) -> Any:
        """A parameter by any spelling of its name (`entityTypeId`, `ENTITY_TYPE_ID`)."""
        wanted = squash(name)
        return next((v for k, v in self.params.items() if squash(k) == wanted), default)

    def required(self, name: str) -> Any:
        value = self.get(name)
        if value in (None, ""):
            raise BitrixError("INVALID_ARG_VALUE", f"Required parameter \"{name}\" is missing")
        return value

    def mapping(self, name: str) -> dict[str, Any]:
        value = self.get(name)
        if value in (None, "", []):
            return {}
        if not isinstance(value, dict):
            raise BitrixError("INVALID_ARG_VALUE", f"{name}: an object is expected")
        return value

    def start(self) -> int:
        raw = self.get("start", 0)
        try:
            start = int(str(raw if raw not in (None, "") else 0).strip())
        except ValueError:
            raise BitrixError("INVALID_ARG_VALUE", f"start: {raw!r} is not a number") from None
        return -1 if start < 0 else start // PAGE * PAGE

    def the_type(self) -> Type:
        return self.portal.by_entity(self.required("entityTypeId"))


def _id(value: Any, name: str = "id") -> int:
    try:
        number = int(str(value).strip())
    except ValueError:
        number = 0
    if not 0 < number < 2**31:
        raise BitrixError("INVALID_ARG_VALUE", f"{name}: {value!r} is not an id")
    return number


def paged(rows: list[Any], start: int) -> Result:
    """A whole list cut into Bitrix24's page at `start`, with total and next."""
    if start < 0:
        return rows[:PAGE], {"total": 0}
    page = rows[start:start + PAGE]
    nav: dict[str, Any] = {"total": len(rows)}
    if start + len(page) < len(rows):
        nav["next"] = start + len(page)
    return page, nav


def _simple_filter(rows: list[dict[str, Any]], flt: dict[str, Any]) -> list[dict[str, Any]]:
    """Equality and `@` filters over plain rows (types, categories, statuses, users), keys in any case."""
    for key, want in flt.items():
        found = FILTER_KEY.match(str(key))
        op, name = (found.group(1) or "=", found.group(2)) if found else ("=", str(key))
        wants = [str(w) for w in (want if isinstance(want, list) else [want])]
        if op not in ("=", "@", "!", "!=", "!@"):
            raise BitrixError("INVALID_ARG_VALUE", f"Invalid filter: operation {op} is not supported here")
        keep = op in ("=", "@")
        rows = [r for r in rows if any(str(_field(r, name)) == w or (isinstance(_field(r, name), bool)
                                       and ("Y" if _field(r, name) else "N") == w) for w in wants) == keep]
    return rows


def _field(row: dict[str, Any], name: str) -> Any:
    wanted = squash(name)
    return next((v for k, v in row.items() if squash(k) == wanted), None)


# ---- types, categories, statuses ------------------------------------------------------------

def _type_data(t: Type) -> dict[str, Any]:
    features = t.described.get("features", {})
    yes = {True: "Y", False: "N"}
    return {"id": t.number, "title": t.title, "code": t.process, "entityTypeId": t.entity_type_id,
            "isCategoriesEnabled": "Y", "isStagesEnabled": "Y",
            "isBeginCloseDatesEnabled": "N", "isClientEnabled": "N", "isLinkWithProductsEnabled": "N",
            "isObserversEnabled": yes[bool(features.get("observers"))],
            "isRecyclebinEnabled": yes[bool(features.get("recycle_bin"))], "isAutomationEnabled": "Y",
            "isBizProcEnabled": "N", "isSetOpenPermissions": "N", "isUseInUserfieldEnabled": "N",
            "isDocumentsEnabled": "N", "isSourceEnabled": "N", "isMycompanyEnabled": "N",
            "isPaymentsEnabled": "N", "isCountersEnabled": "N", "createdBy": None, "createdTime": None,
            "updatedBy": None, "updatedTime": None, "relations": {"parent": [], "child": []},
            "linkedUserFields": [], "customSections": []}


def type_list(call: Call) -> Result:
    rows = [_type_data(t) for t in call.portal.types]
    rows = _simple_filter(rows, call.mapping("filter"))
    return _wrapped("types", rows, call.start())


def _wrapped(key: str, rows: list[Any], start: int) -> Result:
    page, nav = paged(rows, start)
    return {key: page}, nav


def type_get(call: Call) -> Result:
    return {"type": _type_data(call.portal.by_number(call.required("id")))}, {}


def type_by_entity(call: Call) -> Result:
    return {"type": _type_data(call.the_type())}, {}


def category_list(call: Call) -> Result:
    t = call.the_type()
    rows = [{"id": t.categories[p["id"]], "name": title(p["title"], p["id"]), "sort": 100 * (n + 1),
             "entityTypeId": t.entity_type_id, "isDefault": "Y" if p["id"] == t.default_pipeline else "N",
             "originId": "", "originatorId": "", "code": p["id"]}
            for n, p in enumerate(t.described["pipelines"])]
    return _wrapped("categories", _simple_filter(rows, call.mapping("filter")), call.start())


def category_get(call: Call) -> Result:
    t = call.the_type()
    wanted = _id(call.required("id"))
    found = next((p for p in t.described["pipelines"] if t.categories[p["id"]] == wanted), None)
    if found is None:
        raise BitrixError("NOT_FOUND", "Category not found")
    return {"category": {"id": wanted, "name": title(found["title"], found["id"]), "entityTypeId": t.entity_type_id,
                         "isDefault": "Y" if found["id"] == t.default_pipeline else "N", "code": found["id"]}}, {}


def status_list(call: Call) -> Result:
    """The stages of every smart process's pipelines, as the CRM's status directory lists them (a bare list)."""
    rows: list[dict[str, Any]] = []
    for t in call.portal.types:
        for pipeline in t.described["pipelines"]:
            for n, stage in enumerate(pipeline["stages"]):
                name = title(stage["title"], stage["id"])
                number = t.stages[(pipeline["id"], stage["id"])]
                rows.append({"ID": str(number), "ENTITY_ID": t.entity_id(pipeline["id"]),
                             "STATUS_ID": t.status_id(pipeline["id"], stage["id"]), "NAME": name, "NAME_INIT": name,
                             "SORT": str(10 * (n + 1)), "SYSTEM": "N",
                             "CATEGORY_ID": str(t.categories[pipeline["id"]]), "COLOR": stage.get("color") or "",
                             "SEMANTICS": SEMANTICS.get(stage["semantic"]), "EXTRA": {
                                 "SEMANTICS": {"process": "process", "success": "success",
                                               "failure": "failure"}[stage["semantic"]],
                                 "COLOR": stage.get("color") or ""}})
    rows = _simple_filter(rows, call.mapping("filter"))
    order = call.mapping("order")
    for key, direction in reversed(list(order.items())):
        numeric = squash(key) in ("id", "sort", "categoryid")
        rows.sort(key=lambda r, k=key, num=numeric: int(_field(r, k) or 0) if num else str(_field(r, k) or ""),
                  reverse=str(direction).upper() == "DESC")
    return paged(rows, call.start())


# ---- items ----------------------------------------------------------------------------------

def item_fields(call: Call) -> Result:
    t = call.the_type()
    original = truthy(call.get("useOriginalUfNames", "N"))
    out: dict[str, Any] = {}
    for spec in t.specs:
        data: dict[str, Any] = {"type": spec.bitrix, "isRequired": spec.required, "isReadOnly": spec.read_only,
                                "isImmutable": spec.key in ("id", "created_by", "created_at"),
                                "isMultiple": spec.multiple, "isDynamic": not spec.system,
                                "title": spec.label, "upperName": spec.upper}
        if spec.options:
            data["items"] = [{"ID": str(number), "VALUE": label} for number, _, label in spec.options]
        if spec.kind == "link":  # Bitrix24's crm field settings: the types it may link, each "Y"
            target = next((o for o in call.portal.types if o.process == spec.to), None)
            data["settings"] = {f"DYNAMIC_{target.entity_type_id}": "Y"} if target is not None else {}
        out[t.name_of(spec, original)] = data
    return {"fields": out}, {}


def _where(t: Type, flt: dict[str, Any]) -> list[str]:
    """Bitrix filter keys (`>=opportunity`, `@id`, `%title`) as smartflow's `FIELD OP VALUE` texts."""
    where: list[str] = []
    for key, want in flt.items():
        if str(key).isdigit() or squash(str(key)) == "logic":
            raise BitrixError("INVALID_ARG_VALUE", "Invalid filter: nested logic groups are not supported")
        found = FILTER_KEY.match(str(key))
        op, name = (found.group(1) or "=", found.group(2)) if found else ("=", str(key))
        spec = t.spec(name)
        if spec is None or spec.key in ("updated_by", "moved_by"):
            raise BitrixError("INVALID_ARG_VALUE", f"Invalid filter: field '{name}' is not allowed in filter")
        wants = want if isinstance(want, list) else list(want.values()) if isinstance(want, dict) else [want]
        if op in ("@", "!@"):
            values = [t.where_value(spec, w) for w in wants]
            if not values:
                where.append("id = 0" if op == "@" else "id > 0")
            elif op == "@":
                if any("," in v for v in values):
                    raise BitrixError("INVALID_ARG_VALUE", f"Invalid filter: '{name}' values may not hold a comma")
                where.append(f"{spec.key} in {','.join(values)}")
            else:
                where += [f"{spec.key} != {v}" for v in values]
            continue
        if isinstance(want, (list, dict)):
            raise BitrixError("INVALID_ARG_VALUE", f"Invalid filter: field '{name}' has invalid value")
        if op in ("%", "=%", "%="):
            where.append(f"{spec.key} contains {str(want).strip('%')}")
            continue
        if op in ("!%", "!=%"):
            raise BitrixError("INVALID_ARG_VALUE", f"Invalid filter: operation {op} is not supported")
        if spec.key == "stage" and op == "=":  # DT130_3:NEW names the pipeline too
            pipeline, stage = t.stage_of(want)
            where += [f"stage = {stage}"] + ([f"pipeline = {pipeline}"] if pipeline else [])
            continue
        sign = {"=": "=", "!": "!=", "!=": "!=", ">": ">", ">=": ">=", "<": "<", "<=": "<="}[op]
        value = t.where_value(spec, want)
        where.append(f"{spec.key} {sign} {value}" if value != "" or sign in ("=", "!=") else f"{spec.key} {sign}")
    return where


def _sort(t: Type, order: dict[str, Any]) -> str:
    for key, direction in order.items():
        spec = t.spec(str(key))
        if spec is None or spec.key in ("updated_by", "moved_by", "created_by"):
            raise BitrixError("INVALID_ARG_VALUE", f"Invalid order: field '{key}' is not allowed in order")
        way = str(direction).strip().upper()
        if way not in ("ASC", "DESC"):
            raise BitrixError("INVALID_ARG_VALUE", "Invalid order: allowed sort directions are ASC, DESC")
        return f"{spec.key}:desc" if way == "DESC" else spec.key
    return "id"  # Bitrix24's order when none is given (and a stable one for paging by offset)


def _select(call: Call) -> set[str] | None:
    raw = call.get("select")
    if raw in (None, "", []):
        return None
    names = raw if isinstance(raw, list) else list(raw.values()) if isinstance(raw, dict) else [raw]
    if any(str(n).strip() == "*" for n in names):
        return None
    return {squash(str(n)) for n in names}


def _filter_error(error: errors.InvalidValue) -> BitrixError:
    return BitrixError("INVALID_ARG_VALUE", f"Invalid filter: {error}")


def item_list(call: Call) -> Result:
    t = call.the_type()
    where = _where(t, call.mapping("filter"))
    sort = _sort(t, call.mapping("order"))
    start = call.start()
    try:
        rows = call.crm.list(t.process, where=tuple(where), sort=sort, limit=PAGE, offset=max(start, 0))
        total = call.crm.count(t.process, where) if start >= 0 else 0
    except errors.InvalidValue as error:
        raise _filter_error(error) from None
    select, original = _select(call), truthy(call.get("useOriginalUfNames", "N"))
    nav: dict[str, Any] = {"total": total}
    if start >= 0 and start + len(rows) < total:
        nav["next"] = start + len(rows)
    return {"items": [t.item(r, select, original) for r in rows]}, nav


def item_get(call: Call) -> Result:
    t = call.the_type()
    item_id = _id(call.required("id"))
    try:
        found = call.crm.get(t.process, item_id)
    except errors.NotFound:
        raise BitrixError("NOT_FOUND", "Element not found") from None
    return {"item": t.item(found, None, truthy(call.get("useOriginalUfNames", "N")))}, {}


def _answer_item(call: Call, t: Type, item_id: int) -> Result:
    try:
        return {"item": t.item(call.crm.get(t.process, item_id), None,
                               truthy(call.get("useOriginalUfNames", "N")))}, {}
    except errors.NotFound:  # written by someone who may not read it: the id alone
        return {"item": {"id": item_id, "entityTypeId": t.entity_type_id}}, {}


def item_add(call: Call) -> Result:
    t = call.the_type()
    values, pipeline, stage = t.values_in(call.mapping("fields"))
    new_id = call.crm.create(t.process, values, pipeline=pipeline, stage=stage)
    return _answer_item(call, t, new_id)


def item_update(call: Call) -> Result:
    t = call.the_type()
    item_id = _id(call.required("id"))
    values, pipeline, stage = t.values_in(call.mapping("fields"))
    try:
        current = call.crm.get(t.process, item_id)
    except errors.NotFound:
        raise BitrixError("NOT_FOUND", "Element not found") from None
    if pipeline is not None and stage is None and pipeline != current["pipeline"]:
        raise BitrixError("CRM_FIELD_ERROR_VALUE_NOT_VALID", "categoryId: give the stageId in the new category too")
    if stage is not None and (stage != current["stage"] or (pipeline or current["pipeline"]) != current["pipeline"]):
        moved_to = pipeline if pipeline not in (None, current["pipeline"]) else None
        call.crm.move(t.process, item_id, stage, pipeline=moved_to, values=values or None)
    elif values:
        call.crm.update(t.process, item_id, values)
    return _answer_item(call, t, item_id)


def item_delete(call: Call) -> Result:
    t = call.the_type()
    item_id = _id(call.required("id"))
    try:
        call.crm.delete(t.process, item_id)
    except errors.NotFound:
        raise BitrixError("NOT_FOUND", "Element not found") from None
    return [], {}


def _owner_ids(call: Call, t: Type, flt: dict[str, Any]) -> list[int]:
    """The items a stage-history or comment list is about: OWNER_ID / ENTITY_ID given, else every readable one."""
    for key, want in flt.items():
        found = FILTER_KEY.match(str(key))
        if found and squash(found.group(2)) in ("ownerid", "entityid") and (found.group(1) or "=") in ("=", "@"):
            wants = want if isinstance(want, list) else [want]
            return sorted({_id(w, found.group(2)) for w in wants})
    ids: list[int] = []
    after: int | None = None
    while True:
        rows = call.crm.list(t.process, columns=("id",), limit=500, after=after)
        ids += [r["id"] for r in rows]
        if len(rows) < 500:
            return ids
        after = rows[-1]["id"]


def _at(moment: Any) -> str:
    if isinstance(moment, datetime):
        shown = moment.isoformat(timespec="seconds")
        return shown if moment.tzinfo else shown + "+00:00"
    return str(moment)


def _utc(moment: Any) -> datetime:
    """A stored moment as an aware UTC datetime (naive ones are UTC), for ordering."""
    if not isinstance(moment, datetime):
        moment = datetime.fromisoformat(str(moment))
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def stagehistory_list(call: Call) -> Result:
    t = call.the_type()
    flt = call.mapping("filter")
    rows: list[dict[str, Any]] = []
    semantic = {(p["id"], s["id"]): {"process": "P", "success": "S", "failure": "F"}[s["semantic"]]
                for p in t.described["pipelines"] for s in p["stages"]}
    for owner in _owner_ids(call, t, flt):
        try:
            history = call.crm.history(t.process, owner, ids=True)
        except errors.NotFound:
            continue
        pipeline = t.default_pipeline
        for n, row in enumerate(history):
            if row["kind"] == "create" and isinstance(row["new"], dict) and row["new"].get("stage"):
                pipeline, stage, kind = row["new"].get("pipeline") or pipeline, row["new"]["stage"], 1
            elif row["kind"] == "move" and row["field"] == "stage":
                following = history[n + 1] if n + 1 < len(history) else None
                kind = 2
                if following and following["kind"] == "move" and following["field"] == "pipeline":
                    pipeline, kind = following["new"], 3
                stage = row["new"]
            else:
                continue
            rows.append({"ID": row["id"], "TYPE_ID": kind, "OWNER_ID": owner, "CREATED_TIME": _at(row["at"]),
                         "CATEGORY_ID": t.categories.get(pipeline, 0), "STAGE_SEMANTIC_ID": semantic.get(
                             (pipeline, stage), "P"), "STAGE_ID": t.status_id(pipeline, stage)})
    rest = {k: v for k, v in flt.items() if not squash(str(k)).lstrip("=@").endswith("ownerid")}
    rows = _simple_filter(rows, rest)
    descending = any(str(v).upper() == "DESC" for k, v in call.mapping("order").items() if squash(k) == "id")
    rows.sort(key=lambda r: r["ID"], reverse=descending)
    page, nav = paged(rows, call.start())
    return {"items": page}, nav


def _commented_type(call: Call, flt: dict[str, Any]) -> Type:
    kind = str(_field(flt, "ENTITY_TYPE") or "").strip().lower()
    found = re.fullmatch(r"dynamic_(\d+)", kind)
    if not found:
        raise BitrixError("INVALID_ARG_VALUE", "filter[ENTITY_TYPE] is required: dynamic_{entityTypeId}")
    return call.portal.by_entity(found.group(1))


def comment_list(call: Call) -> Result:
    """Comments on an item, oldest first: what people wrote (smartflow's comments, with their ids and
    authors) and what automation wrote (a trigger's `comment` action, kept in the item's history: ids of
    the history's own numbering, author 0)."""
    flt = call.mapping("filter")
    t = _commented_type(call, flt)
    if _field(flt, "ENTITY_ID") in (None, ""):
        raise BitrixError("INVALID_ARG_VALUE", "filter[ENTITY_ID] is required")
    users = {u["login"]: str(u["id"]) for u in call.crm.users()}
    rows: list[dict[str, Any]] = []
    for owner in _owner_ids(call, t, {"ENTITY_ID": _field(flt, "ENTITY_ID")}):
        try:
            written = call.crm.comments(t.process, owner)
            history = call.crm.history(t.process, owner, ids=True)
        except errors.NotFound:
            raise BitrixError("NOT_FOUND", "Element not found") from None
        entity = f"dynamic_{t.entity_type_id}"
        found = [(c["created_at"], {"ID": str(c["id"]), "ENTITY_ID": owner, "ENTITY_TYPE": entity,
                                    "CREATED": _at(c["created_at"]), "COMMENT": c["text"],
                                    "AUTHOR_ID": users.get(c["author"], "0"), "FILES": []}) for c in written]
        found += [(row["at"], {"ID": str(row["id"]), "ENTITY_ID": owner, "ENTITY_TYPE": entity,
                               "CREATED": _at(row["at"]), "COMMENT": row["new"], "AUTHOR_ID": "0", "FILES": []})
                  for row in history if row["kind"] == "comment"]
        rows += [row for _, row in sorted(found, key=lambda pair: _utc(pair[0]))]
    return paged(rows, call.start())


def comment_add(call: Call) -> Result:
    """A comment on an item, written as the caller (the same rules as the card's comment box: whoever may
    read the item may comment; `@login` mentions notify). Answers the new comment's id."""
    fields = call.mapping("fields")
    if not fields:
        raise BitrixError("INVALID_ARG_VALUE", "Required parameter \"fields\" is missing")
    t = _commented_type(call, fields)
    owner = _id(_field(fields, "ENTITY_ID"), "fields[ENTITY_ID]")
    text = _field(fields, "COMMENT")
    if not isinstance(text, str) or not text.strip():
        raise BitrixError("INVALID_ARG_VALUE", "fields[COMMENT] is required")
    try:
        made = call.crm.comment(t.process, owner, text)
    except errors.NotFound:
        raise BitrixError("NOT_FOUND", "Element not found") from None
    return int(made["id"]), {}


@record
class Download:
    """A method's answer that is a file's content, not JSON (crm.controller.item.getFile)."""

    name: str
    content_type: str
    content: bytes


def item_file(call: Call) -> Result:
    """A file of an item's file field, as the URLs in items' file values download it: the caller's rights
    on the item and the field hold (services: Engine.file)."""
    t = call.the_type()
    item_id = _id(call.required("id"))
    file_id = _id(call.required("fileId"), "fileId")
    try:
        info, content = call.crm.file(t.process, item_id, file_id)
    except errors.NotFound:
        raise BitrixError("NOT_FOUND", "File not found") from None
    return Download(info["name"], info.get("content_type") or "application/octet-stream", content), {}


# ---- users ----------------------------------------------------------------------------------

def _department_number(department_id: str) -> int | str:
    """A department's id as Bitrix24 writes it in UF_DEPARTMENT (a number), where smartflow's is one."""
    return int(department_id) if department_id.isascii() and department_id.isdigit() else department_id


def user_get(call: Call) -> Result:
    rows = []
    for user in call.crm.users():  # departments to an administrator only (Engine.users)
        first, _, last = str(user.get("name") or "").partition(" ")
        department = user.get("department")
        rows.append({"ID": str(user["id"]), "ACTIVE": bool(user.get("active", True)), "NAME": first,
                     "LAST_NAME": last, "SECOND_NAME": "", "EMAIL": "", "LOGIN": user["login"], "XML_ID": user["login"],
                     "UF_DEPARTMENT": [_department_number(department)] if department else [],
                     "USER_TYPE": "employee"})
    flt = dict(call.mapping("filter") or call.mapping("FILTER"))
    for key in ("ID", "ACTIVE", "NAME", "LAST_NAME", "LOGIN"):  # also given beside the filter
        value = call.params.get(key)
        if value not in (None, "") and not isinstance(value, dict):
            flt[key] = value
    rows = _simple_filter(rows, flt)
    rows.sort(key=lambda r: int(r["ID"]), reverse=str(call.get("order", "ASC")).upper() == "DESC")
    return paged(rows, call.start())


def department_get(call: Call) -> Result:
    """department.get: ID, NAME, SORT, PARENT (absent for a top department) and UF_HEAD (the head's user id,
    "0" for none), filtered by any of them, sorted by `sort` (`order` ASC or DESC). smartflow shows its
    departments to administrators only (Engine.directory): anyone else is refused with ACCESS_DENIED, where
    Bitrix24 shows them to every employee."""
    directory = call.crm.directory()
    ids = {user["login"]: user["id"] for user in directory["users"]}
    rows = []
    for department in directory["departments"]:
        row: dict[str, Any] = {"ID": str(department["id"]), "NAME": department["title"], "SORT": 500,
                               "UF_HEAD": str(ids.get(department["head"], 0))}
        if department["parent"]:
            row["PARENT"] = str(department["parent"])
        rows.append(row)
    flt = {}
    for key in ("ID", "NAME", "SORT", "PARENT", "UF_HEAD"):
        value = call.params.get(key)
        if value not in (None, "") and not isinstance(value, dict):
            flt[key] = value
    rows = _simple_filter(rows, flt)
    # `sort` names the field to sort by, `SORT` filters by one: told apart by case, as PHP reads them
    by = str(call.params.get("sort") or "ID").upper()
    descending = str(call.params.get("order") or "ASC").upper() == "DESC"
    rows.sort(key=lambda row: id_order(row.get(by, "")), reverse=descending)
    return paged(rows, call.start())


# ---- outbound events --------------------------------------------------------------------------

# the events of smart-process items a handler may be bound to, and what each hears (runtime.subscriptions)
EVENTS = {"ONCRMDYNAMICITEMADD": "created", "ONCRMDYNAMICITEMUPDATE": "updated",
          "ONCRMDYNAMICITEMDELETE": "deleted"}


def _event_name(call: Call) -> str:
    name = str(call.required("event")).strip().upper()
    if name not in EVENTS:
        raise BitrixError("ERROR_EVENT_NOT_FOUND", f"Event not found: {name} (smartflow sends "
                          f"{', '.join(EVENTS)})")
    return name


def event_bind(call: Call) -> Result:
    """Bind a handler URL to an item event, as the caller (an administrator): it hears the items the
    caller may read, delivered by the worker with a webhook's guarantees, posted as Bitrix24 posts them."""
    name = _event_name(call)
    handler = str(call.required("handler")).strip()
    if str(call.get("event_type", "online")).strip().lower() == "offline":
        raise BitrixError("ERROR_METHOD_NOT_SUPPORTED", "offline events are not kept: bind a handler URL")
    site = call.site.rstrip("/")
    details = {"domain": site.split("://", 1)[-1], "client_endpoint": f"{site}/rest/", "member_id": "smartflow",
               "application_token": secrets.token_hex(16)}
    try:
        call.crm.subscribe(EVENTS[name], name, handler, "bitrix24", details, webhook_hosts())
    except errors.InvalidValue as error:
        if "bound to" in str(error):
            raise BitrixError("ERROR_CORE", "Handler already binded") from None
        raise BitrixError("WRONG_HANDLER_URL", str(error)) from None
    return True, {}


def event_unbind(call: Call) -> Result:
    name = _event_name(call)
    handler = str(call.get("handler") or "").strip() or None
    return {"count": call.crm.unsubscribe(name, handler)}, {}


def event_get(call: Call) -> Result:
    """The caller's bound handlers (with each one's application_token, which its messages carry)."""
    rows = [{"event": row["name"], "handler": row["handler"], "auth_type": str(row["user_id"] or 0), "offline": 0,
             "application_token": row["details"].get("application_token", "")}
            for row in call.crm.subscriptions()]
    return rows, {}


def webhook_hosts() -> set[str] | None:
    """The hosts whose private addresses a handler may have: the worker's allow-list, from its environment."""
    hosts = os.environ.get("SMARTFLOW_WEBHOOK_HOSTS", "").split()
    return set(hosts) if hosts else None


# ---- batch ----------------------------------------------------------------------------------

REFERENCE = re.compile(r"\$(result|next|total|time|error)((?:\[[^\]]+\])+)", re.IGNORECASE)


class Unresolved(BitrixError):
    pass


def _substitute(value: Any, done: dict[str, dict[str, Any]]) -> Any:
    """`$result[cmd][items][49][id]` in a command's parameters. An unresolvable reference is an error
    of that command: it is never read as 0 or empty (a list would silently start again)."""
    if isinstance(value, dict):
        return {k: _substitute(v, done) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, done) for v in value]
    if not isinstance(value, str) or "$" not in value:
        return value

    def resolve(found: re.Match[str]) -> Any:
        node: Any = done[found.group(1).lower()]
        for key in re.findall(r"\[([^\]]+)\]", found.group(2)):
            if isinstance(node, dict) and key in node:
                node = node[key]
            elif isinstance(node, list) and key.isdigit() and int(key) < len(node):
                node = node[int(key)]
            else:
                raise Unresolved("INVALID_ARG_VALUE", f"{found.group(0)} refers to nothing")
        return node

    whole = REFERENCE.fullmatch(value)
    if whole:
        return resolve(whole)
    return REFERENCE.sub(lambda found: str(resolve(found)), value)


def batch(call: Call) -> Result:
    commands = call.get("cmd") or {}
    if isinstance(commands, list):
        commands = {str(n): c for n, c in enumerate(commands)}
    if not isinstance(commands, dict):
        raise BitrixError("INVALID_ARG_VALUE", "cmd: an object of keys to `method?query` is expected")
    halt = truthy(call.get("halt", "0"))
    done: dict[str, dict[str, Any]] = {"result": {}, "next": {}, "total": {}, "time": {}, "error": {}}
    for n, (key, command) in enumerate(commands.items()):
        started = time.time()
        method, _, query = str(command).partition("?")
        try:
            if n >= BATCH_LIMIT:
                raise BitrixError("ERROR_BATCH_LENGTH_EXCEEDED", "Max batch length exceeded")
            if method.strip().lower() == "batch":
                raise BitrixError("ERROR_BATCH_METHOD_NOT_ALLOWED", "Method is not allowed for batch usage", 405)
            params = _substitute(php_parse(query), done)
            if method.strip().lower() == "crm.controller.item.getfile":
                raise BitrixError("ERROR_BATCH_METHOD_NOT_ALLOWED", "Method is not allowed for batch usage", 405)
            result, nav = dispatch(call.crm, call.portal, method, params, call.site)
            done["result"][key], done["time"][key] = result, timing(started)
            for name in ("next", "total"):
                if name in nav:
                    done[name][key] = nav[name]
        except BitrixError as error:
            done["error"][key] = error.body()
        except errors.SmartflowError as error:
            done["error"][key] = from_error(error).body()
        if halt and key in done["error"]:
            break
    return {"result": done["result"], "result_error": done["error"], "result_total": done["total"],
            "result_next": done["next"], "result_time": done["time"]}, {}


# ---- the table ------------------------------------------------------------------------------

METHODS: dict[str, Callable[[Call], Result]] = {
    "crm.type.list": type_list,
    "crm.type.get": type_get,
    "crm.type.getbyentitytypeid": type_by_entity,
    "crm.item.fields": item_fields,
    "crm.item.list": item_list,
    "crm.item.get": item_get,
    "crm.item.add": item_add,
    "crm.item.update": item_update,
    "crm.item.delete": item_delete,
    "crm.category.list": category_list,
    "crm.category.get": category_get,
    "crm.status.list": status_list,
    "crm.stagehistory.list": stagehistory_list,
    "crm.timeline.comment.list": comment_list,
    "crm.timeline.comment.add": comment_add,
    "crm.controller.item.getfile": item_file,
    "user.get": user_get,
    "department.get": department_get,
    "event.bind": event_bind,
    "event.unbind": event_unbind,
    "event.get": event_get,
    "batch": batch,
}


def dispatch(crm: Engine, portal: Portal, method: str, params: dict[str, Any], site: str = "") -> Result:
    """Run one method (its name in any case) as the engine's user."""
    handler = METHODS.get(method.strip().lower())
    if handler is None:
        raise method_not_found()
    return handler(Call(crm, portal, params, site))
