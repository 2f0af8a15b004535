"""`smartflow bitrix24 pull`: read a Bitrix24 portal's smart processes through its REST API (an inbound
webhook) and write a folder smartflow can validate, apply and import.

Read order (scopes `crm` and `user`): crm.type.list → per type crm.category.list, crm.status.list per
category, crm.item.fields (and userfieldconfig.list for fields' titles per language, where the webhook
may read it) → user.get → department.get (where the webhook may: scope `department`) → items by
crm.item.list in batches of 50 pages read by id (`order[id]=ASC`, `filter[>id]`, `start=-1`) →
crm.stagehistory.list → per 50 items crm.timeline.comment.list and, for a type linked with products,
crm.item.productrow.list → the files of file fields, downloaded by their URLs through the webhook.
At most `rate` requests a second (Bitrix24 allows 2); `QUERY_LIMIT_EXCEEDED`, `OPERATION_TIME_LIMIT`
and 5xx answers are retried after a growing pause.

Every answer is kept in a work folder beside the target as it is read (reading.py), so a pull that
was interrupted continues from the last page read when run again. The folder itself is written
under a temporary name and moved into place only when everything was read and the written
definitions validate: a failed pull never leaves partial YAML.
"""

from __future__ import annotations

import csv
import re
import shlex
import shutil
import urllib.parse
from collections.abc import Callable
from dataclasses import field
from pathlib import Path
from typing import Any

import yaml

from smartflow.bitrix24.protocol import id_order
from smartflow.bitrix24.reading import Client, MethodMissing, PullError, Reader, Work
from smartflow.records import record
from smartflow.services import deploy

__all__ = ["PullError", "pull"]

# Bitrix24 user-field types as smartflow field types (crm: a link, or text; see _crm_target)
TYPES: dict[str, str] = {
    "string": "string", "text": "text", "integer": "integer", "double": "number", "money": "money",
    "boolean": "boolean", "date": "date", "datetime": "datetime", "enumeration": "enum", "employee": "user",
    "user": "user", "url": "url", "crm": "string", "address": "string", "crm_status": "string",
    "iblock_section": "string", "iblock_element": "string", "file": "file",
}
SYSTEM = {"id", "title", "categoryId", "stageId", "assignedById", "createdBy", "createdTime", "updatedBy",
          "updatedTime", "movedBy", "movedTime", "entityTypeId", "previousStageId", "begindate", "closedate",
          "opportunity", "currencyId", "isManualOpportunity", "taxValue", "companyId", "contactId", "contactIds",
          "observers", "sourceId", "sourceDescription", "webformId", "lastActivityBy", "lastActivityTime",
          "mycompanyId", "xmlId", "opened", "utmSource", "utmMedium", "utmCampaign", "utmContent", "utmTerm",
          "parentId"}
UF_NAME = re.compile(r"UF_CRM_[0-9]+_[A-Z0-9_]+")  # a user field's name as a definition declares it
STAGE_CODE = re.compile(r"[A-Za-z0-9_]{1,50}")
PRODUCT_COLUMNS = ("id", "productId", "productName", "price", "quantity", "discountTypeId", "discountRate",
                   "discountSum", "taxRate", "taxIncluded", "measureCode", "measureName", "sort")


def _identifier(text: str, fallback: str, taken: set[str]) -> str:
    """A smartflow id from a Bitrix code: lower case, [a-z0-9_], starting with a letter, unique."""
    found = re.sub(r"[^a-z0-9_]+", "_", str(text or "").lower()).strip("_")
    if not found or not found[0].isalpha():
        found = fallback
    found = found[:28]
    candidate, n = found, 2
    while candidate in taken:
        candidate = f"{found[:25]}_{n}"
        n += 1
    taken.add(candidate)
    return candidate


def _titles(text: Any, language: str, labels: dict[str, str] | None = None) -> Any:
    """A title in the portal's language, with every other language the portal gave (userfieldconfig's
    labels); the portal's language first, filled from another language when it has none."""
    found = {lang: str(value) for lang, value in (labels or {}).items() if str(value or "").strip()}
    main = found.pop(language, None) or str(text or "").strip() or next(iter(found.values()), "")
    return {language: main, **{k: v for k, v in sorted(found.items())}} if main else text


@record
class Pulled:
    """One smart process as read, and how its names map to smartflow's."""

    type: dict[str, Any]
    process_id: str
    pipelines: dict[int, str] = field(default_factory=dict)  # categoryId → pipeline id
    stages: dict[str, tuple[str, str]] = field(default_factory=dict)  # STATUS_ID → (pipeline, stage)
    fields: dict[str, tuple[str, dict[str, Any]]] = field(default_factory=dict)  # Bitrix name → (id, field data)
    options: dict[str, dict[str, str]] = field(default_factory=dict)  # Bitrix name → item ID → option id
    notes: list[str] = field(default_factory=list)  # how fields Bitrix24 has and smartflow has not were carried
    addresses: set[str] = field(default_factory=set)  # the Bitrix names of address fields
    document: dict[str, Any] = field(default_factory=dict)
    items: list[dict[str, Any]] = field(default_factory=list)
    history: list[dict[str, Any]] = field(default_factory=list)
    comments: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    products: dict[int, list[dict[str, Any]]] | None = None  # None: the type is not linked with products
    files: dict[tuple[int, str], list[str]] = field(default_factory=dict)  # (item, field id) → paths in the folder
    missing: list[str] = field(default_factory=list)  # what the portal would not give (methods, scopes)

    @property
    def entity_type_id(self) -> int:
        return int(self.type["entityTypeId"])


def _crm_target(data: dict[str, Any], process_of: dict[int, str]) -> str | None:
    """The pulled process a `crm` field links to, when its settings allow exactly one smart process."""
    settings = data.get("settings") or {}
    allowed = [k for k, v in settings.items() if str(v).upper() == "Y"] if isinstance(settings, dict) else []
    if len(allowed) != 1:
        return None
    found = re.fullmatch(r"DYNAMIC_(\d+)", str(allowed[0]))
    return process_of.get(int(found.group(1))) if found else None


def _process(reader: Reader, kind: dict[str, Any], process_id: str, language: str,
             process_of: dict[int, str]) -> Pulled:
    pulled = Pulled(kind, process_id)
    etid = pulled.entity_type_id
    categories = reader.pages(f"categories/{etid}", "crm.category.list", {"entityTypeId": etid}, "categories")
    pipelines: dict[str, Any] = {}
    taken: set[str] = set()
    for category in categories:
        pipeline = _identifier(category.get("code") or category.get("name"), f"category_{category['id']}", taken)
        pulled.pipelines[int(category["id"])] = pipeline
        statuses = reader.pages(f"statuses/{etid}/{category['id']}", "crm.status.list", {
            "filter": {"ENTITY_ID": f"DYNAMIC_{etid}_STAGE_{category['id']}"}, "order": {"SORT": "ASC"}}, None)
        stages: dict[str, Any] = {}
        stage_ids: set[str] = set()
        for status in statuses:
            code = str(status["STATUS_ID"]).split(":", 1)[-1]
            stage = _identifier(code, f"stage_{status['ID']}", stage_ids)
            pulled.stages[str(status["STATUS_ID"])] = (pipeline, stage)
            stages[stage] = {"title": _titles(status.get("NAME") or code, language),
                             **({"semantic": {"S": "success", "F": "failure"}[status["SEMANTICS"]]}
                                if status.get("SEMANTICS") in ("S", "F") else {}),
                             **({"color": status["COLOR"]} if re.fullmatch(r"#[0-9A-Fa-f]{6}", str(status.get("COLOR")))
                                else {}),
                             # the portal's code, where the facade would not say it as the stage's id in capitals
                             **({"bitrix24": {"code": code}} if code != stage.upper() and STAGE_CODE.fullmatch(code)
                                else {})}
        pipelines[pipeline] = {"title": _titles(category.get("name") or pipeline, language),
                               **({"default": True} if category.get("isDefault") == "Y" else {}),
                               "bitrix24": {"category_id": int(category["id"])}, "stages": stages}
    described = reader.single(f"fields/{etid}", "crm.item.fields", {"entityTypeId": etid})["fields"]
    labels = _labels(reader, pulled)
    fields: dict[str, Any] = {"bitrix_id": {"type": "integer", "unique": True,
                                            "title": {language: "ID в Битрикс24" if language == "ru" else "Bitrix24 ID",
                                                      **({"en": "Bitrix24 ID"} if language != "en" else {})}}}
    taken = {"bitrix_id"}
    for name, data in described.items():
        if name in SYSTEM or not data.get("isDynamic", name.startswith("uf")):
            continue
        bitrix_type = str(data.get("type"))
        kind_of = TYPES.get(bitrix_type, "string")
        upper = str(data.get("upperName") or name)
        code = re.sub(r"^UF_CRM_\d+_", "", upper)
        field_id = _identifier(code, f"uf_{code}", taken)
        spec: dict[str, Any] = {"type": kind_of, "title": _titles(data.get("title") or code, language,
                                                                   labels.get(upper))}
        if bitrix_type == "crm":
            target = _crm_target(data, process_of)
            if target is not None:
                spec.update(type="link", to=target)
            else:
                pulled.notes.append(f"`{field_id}` ({name}, a crm link to several kinds of records, or to a "
                                    "smart process not pulled): the linked records as Bitrix24 codes (`T80_6` a "
                                    "smart process's item, `C_2` a contact, `CO_3` a company, `D_1` a deal), as text")
        elif bitrix_type == "address":
            pulled.addresses.add(name)
            pulled.notes.append(f"`{field_id}` ({name}, an address): its text; the map point and location id of "
                                "Bitrix24's `street|lat;lon|locationId` are left out")
        elif bitrix_type not in TYPES:
            pulled.notes.append(f"`{field_id}` ({name}, of Bitrix24's type `{bitrix_type}`): its values as text")
        if data.get("isRequired"):
            spec["required"] = True
        if data.get("isMultiple"):
            spec["multiple"] = True
        if kind_of == "enum":
            option_ids: set[str] = set()
            options = []
            pulled.options[name] = {}
            for entry in data.get("items") or []:
                option = _identifier(f"o{entry['ID']}", f"o{entry['ID']}", option_ids)
                pulled.options[name][str(entry["ID"])] = option
                options.append({"id": option, "title": _titles(entry.get("VALUE") or option, language),
                                **({"bitrix24": {"id": int(entry["ID"])}} if str(entry["ID"]).isdigit() else {})})
            if not options:
                pulled.notes.append(f"`{field_id}` ({name}): an enumeration without items, left out")
                continue
            spec["options"] = options
        if UF_NAME.fullmatch(upper):
            spec["bitrix24"] = {"name": upper}  # the facade names it so (in crm.item.*: ufCrm7_1700000001)
        fields[field_id] = spec
        pulled.fields[name] = (field_id, spec)
    portal = {"entity_type_id": etid, **({"id": int(kind["id"])} if str(kind.get("id", "")).isdigit() else {})}
    pulled.document = {"kind": "Process", "id": process_id, "title": _titles(kind.get("title") or process_id, language),
                       "bitrix24": portal,
                       "fields": fields, "pipelines": pipelines,
                       "permissions": {"administrator": "all", "manager": "all"}}
    return pulled


def _labels(reader: Reader, pulled: Pulled) -> dict[str, dict[str, str]]:
    """Each user field's label per language (UF_CRM_… → {lang: text}) from userfieldconfig.list; none when
    the webhook may not read it (scope userfieldconfig)."""
    try:
        found = reader.pages(f"userfields/{pulled.entity_type_id}", "userfieldconfig.list", {
            "moduleId": "crm", "filter": {"entityId": f"CRM_{pulled.type.get('id')}"}}, "fields")
    except MethodMissing:
        pulled.missing.append("userfieldconfig.list (fields' titles in other languages; scope `userfieldconfig`)")
        return {}
    out: dict[str, dict[str, str]] = {}
    for entry in found:
        label = entry.get("editFormLabel") or entry.get("listColumnLabel") or {}
        if isinstance(label, dict) and entry.get("fieldName"):
            out[str(entry["fieldName"])] = {str(k): str(v) for k, v in label.items() if v}
    return out


def _cell(pulled: Pulled, name: str, value: Any, users: dict[str, str], item_id: int) -> str:
    field_id, spec = pulled.fields[name]
    values = value if isinstance(value, list) else [value]
    out = []
    for single in values:
        if single in (None, "", []):
            continue
        kind = spec["type"]
        if kind == "money":
            amount, _, currency = str(single).partition("|")
            out.append(f"{amount} {currency}".strip())
        elif kind == "boolean":
            out.append("true" if str(single).upper() in ("Y", "1", "TRUE") else "false")
        elif kind == "enum":
            out.append(pulled.options[name].get(str(single), str(single)))
        elif kind == "user":
            out.append(users.get(str(single), f"#{single}"))
        elif kind == "date":
            out.append(str(single)[:10])
        elif kind == "link":
            out.append("#" + str(single).rsplit("_", 1)[-1])  # T80_6 (or 6): the item's id, kept by --keep-ids
        elif kind == "file":
            continue  # the downloaded files, below
        elif name in pulled.addresses:
            out.append(str(single).split("|", 1)[0])
        else:
            out.append(str(single))
    if spec["type"] == "file":
        return ", ".join(f"@{path}" for path in pulled.files.get((item_id, field_id), []))
    return ", ".join(out)


def _file_name(given: str | None, fallback: str) -> str:
    """A file's name as a folder can hold it and a data cell name it (no commas: they part a cell's files)."""
    name = re.sub(r"[\\/:*?\"<>|,\x00-\x1f]+", "_", str(given or "")).strip(". ")
    return name[:120] or fallback


def _files(reader: Reader, pulled: Pulled, progress: Callable[[str], None]) -> None:
    """Download every file of the items' file fields into the work folder."""
    file_fields = [(name, field_id) for name, (field_id, spec) in pulled.fields.items() if spec["type"] == "file"]
    wanted: list[tuple[int, str, Any, str]] = []  # (item, field id, file id, URL)
    for item in pulled.items:
        for name, field_id in file_fields:
            value = item.get(name)
            for n, found in enumerate(value if isinstance(value, list) else [value] if value else []):
                url = (found.get("urlMachine") or found.get("url")) if isinstance(found, dict) else None
                if url:
                    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(str(url)).query))
                    wanted.append((int(item["id"]), field_id, found.get("id") or query.get("fileId") or n, str(url)))
    for done, (item_id, field_id, file_id, url) in enumerate(wanted, start=1):
        folder = f"{pulled.process_id}/{item_id}/{file_id}"
        path = reader.work.file(folder, url, reader.client, lambda given, f=file_id: _file_name(given, f"file-{f}"))
        pulled.files.setdefault((item_id, field_id), []).append(f"files/{folder}/{path.name}")
        if done % 20 == 0 or done == len(wanted):
            progress(f"{pulled.process_id}: files {done} of {len(wanted)}")


def _rows(pulled: Pulled, users: dict[str, str]) -> tuple[list[str], list[list[str]]]:
    header = ["bitrix_id", "title", "pipeline", "stage", "assigned_to", *[f for f, _ in pulled.fields.values()]]
    rows = []
    for item in pulled.items:
        pipeline, stage = pulled.stages.get(str(item.get("stageId")), ("", ""))
        assigned = item.get("assignedById")
        rows.append([str(item["id"]), str(item.get("title") or ""), pipeline, stage,
                     users.get(str(assigned), "") if assigned else "",
                     *[_cell(pulled, name, item.get(name), users, int(item["id"])) for name in pulled.fields]])
    return header, rows


def _yaml(document: dict[str, Any]) -> str:
    text = yaml.safe_dump(document, allow_unicode=True, sort_keys=False, width=120)
    return "# yaml-language-server: $schema=./smartflow.schema.json\n" + text


def _csv(path: Path, header: list[str] | tuple[str, ...], rows: list[list[Any]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as sheet:
        writer = csv.writer(sheet)
        writer.writerow(header)
        writer.writerows(rows)


def _read_all(reader: Reader, found: Pulled, users: dict[str, str], progress: Callable[[str], None]) -> None:
    """A type's items, stage history, comments, product rows and files."""
    etid, name = found.entity_type_id, found.process_id
    total = int(reader.work.step(f"total/{etid}", lambda: reader.client.call(
        "crm.item.list", {"entityTypeId": etid, "select": ["id"], "start": 0}).get("total") or 0))
    found.items = list(reader.by_id(f"items/{etid}", etid, lambda n: progress(f"{name}: items {n} of {total}")))
    try:
        found.history = reader.pages(f"history/{etid}", "crm.stagehistory.list", {
            "entityTypeId": etid, "order": {"ID": "ASC"}}, "items",
            lambda n, of: progress(f"{name}: stage history {n} of {of}"))
    except MethodMissing:
        found.missing.append("crm.stagehistory.list (stage history)")
    ids = [int(item["id"]) for item in found.items]
    try:
        found.comments = reader.per_item(
            f"comments/{etid}", ids, "crm.timeline.comment.list",
            lambda i: {"filter": {"ENTITY_ID": i, "ENTITY_TYPE": f"dynamic_{etid}"}, "order": {"ID": "ASC"}}, None,
            lambda n: progress(f"{name}: comments of {n} of {len(ids)} items"))
    except MethodMissing:
        found.missing.append("crm.timeline.comment.list (timeline comments)")
    if str(found.type.get("isLinkWithProductsEnabled", "N")).upper() == "Y":
        try:
            found.products = reader.per_item(
                f"products/{etid}", ids, "crm.item.productrow.list",
                lambda i: {"filter": {"=ownerType": f"T{etid:x}", "=ownerId": i}}, "productRows",
                lambda n: progress(f"{name}: product rows of {n} of {len(ids)} items"))
        except MethodMissing:
            found.missing.append("crm.item.productrow.list (product rows)")
    _files(reader, found, progress)


def pull(webhook: str, out: Path, types: list[str] | None = None, rate: float = 2.0,
         report: Callable[[str], None] | None = None, retries: int = 6, language: str = "ru",
         progress: Callable[[str], None] | None = None) -> dict[str, int]:
    """Read the portal into out (which must not exist or be empty); items per process id. A refusal
    for too many requests is retried `retries` times, after 1, 2, 4… seconds. An interrupted pull
    resumes from its work folder (`.NAME.pull` beside out), which a finished one removes."""
    say = report or (lambda _: None)
    show = progress or (lambda _: None)
    if out.exists() and any(out.iterdir()):
        raise PullError(f"{out} is not empty", "give a new folder to --out")
    client = Client(webhook, rate, retries)
    work = Work(out, webhook, types)
    if work.resumed:
        say(f"resuming the pull interrupted in {work.folder}")
    try:
        pulled, people, users, departments = _read_portal(Reader(client, work), types, language, say, show)
    except PullError as error:
        if not work.steps.is_dir() or not any(work.steps.iterdir()):  # nothing read: nothing to resume from
            shutil.rmtree(work.folder, ignore_errors=True)
            raise
        raise PullError(str(error), f"{error.hint + '; ' if error.hint else ''}what was read is kept in "
                        f"{work.folder}: run the same command again to continue from there") from None
    _write_folder(webhook, out, work, pulled, people, users, departments)
    shutil.rmtree(work.folder, ignore_errors=True)
    say(f"{client.requests} REST requests" + (f" ({work.read} steps read from the interrupted pull)"
                                              if work.read else ""))
    return {found.process_id: len(found.items) for found in pulled}


def _read_portal(reader: Reader, types: list[str] | None, language: str, say: Callable[[str], None],
                 show: Callable[[str], None]
                 ) -> tuple[list[Pulled], list[dict[str, Any]], dict[str, str], list[dict[str, Any]] | None]:
    """Every wanted smart process as read (or from the work folder), the users, their logins by id, and the
    departments (None when the webhook may not read them)."""
    kinds = reader.pages("types", "crm.type.list", {}, "types")
    wanted = {t.lower() for t in types or []}
    if wanted:
        kinds = [k for k in kinds if {str(k.get("code") or "").lower(), str(k["entityTypeId"]),
                                      str(k.get("title") or "").lower()} & wanted]
        if not kinds:
            shutil.rmtree(reader.work.folder, ignore_errors=True)
            raise PullError(f"no smart process matches --types {','.join(types or [])}",
                            "give codes, titles or entityTypeIds of crm.type.list")
    taken: set[str] = set()
    process_of = {int(k["entityTypeId"]): _identifier(k.get("code") or k.get("title"), f"type_{k['entityTypeId']}",
                                                      taken) for k in kinds}
    people = reader.pages("users", "user.get", {}, None)
    users = {str(u["ID"]): str(u.get("LOGIN") or u.get("EMAIL") or f"user{u['ID']}") for u in people}
    try:
        departments: list[dict[str, Any]] | None = reader.pages("departments", "department.get", {}, None)
    except MethodMissing:  # the webhook's scopes (department) or its user's rights
        departments = None
        say("departments not read: the webhook may not call department.get (scope department)")
    pulled = []
    for kind in kinds:
        process_id = process_of[int(kind["entityTypeId"])]
        say(f"reading {kind.get('title')} ({kind['entityTypeId']}) as {process_id}")
        found = _process(reader, kind, process_id, language, process_of)
        _read_all(reader, found, users, show)
        say(f"  {len(found.items)} items, {len(found.history)} stage moves, "
            f"{sum(map(len, found.comments.values()))} comments, {sum(map(len, found.files.values()))} files")
        pulled.append(found)
    return pulled, people, users, departments


def _tree_order(departments: list[dict[str, Any]]) -> list[tuple[str, str, str | None, str | None]]:
    """(id, title, parent, head's user id) of each department, every parent before its children; a parent
    the portal did not list (or a cycle) leaves the department at the top."""
    known = {str(d["ID"]): d for d in departments}
    placed: set[str] = set()
    order = []

    def place(department_id: str, seen: frozenset[str] = frozenset()) -> None:
        if department_id in placed:
            return
        found = known[department_id]
        parent = str(found.get("PARENT") or "") or None
        if parent not in known or parent in seen | {department_id}:
            parent = None
        else:
            place(parent, seen | {department_id})
        head = str(found.get("UF_HEAD") or "") or None
        placed.add(department_id)
        order.append((department_id, str(found.get("NAME") or department_id), parent, None if head == "0" else head))

    for department_id in sorted(known, key=id_order):
        place(department_id)
    return order


def _department_of(person: dict[str, Any], known: set[str]) -> str:
    """A user's department: the first of UF_DEPARTMENT the portal listed (smartflow keeps one per user)."""
    listed = person.get("UF_DEPARTMENT") or []
    return next((str(d) for d in (listed if isinstance(listed, list) else [listed]) if str(d) in known), "")


def _write_folder(webhook: str, out: Path, work: Work, pulled: list[Pulled], people: list[dict[str, Any]],
                  users: dict[str, str], departments: list[dict[str, Any]] | None = None) -> None:
    staging = out.with_name(f".{out.name}.partial")
    if staging.exists():
        shutil.rmtree(staging)
    (staging / "data").mkdir(parents=True)
    try:
        (staging / "smartflow.schema.json").write_text(deploy.schema_text(), encoding="utf-8")
        (staging / "roles.yaml").write_text(_yaml({"kind": "Roles", "roles": {
            "administrator": {"title": {"ru": "Администратор", "en": "Administrator"}},
            "manager": {"title": {"ru": "Менеджер", "en": "Manager"}}}}), encoding="utf-8")
        if any(found.files for found in pulled):
            shutil.copytree(work.files, staging / "files")
        for found in pulled:
            (staging / f"{found.process_id}.yaml").write_text(_yaml(found.document), encoding="utf-8")
            header, rows = _rows(found, users)
            _csv(staging / "data" / f"{found.process_id}.csv", header, rows)
            _csv(staging / "data" / f"{found.process_id}.history.csv",
                 ("item", "at", "kind", "pipeline", "stage", "by"),
                 [[row["OWNER_ID"], row["CREATED_TIME"], "create" if str(row.get("TYPE_ID")) == "1" else "move",
                   *found.stages.get(str(row["STAGE_ID"]), ("", "")), ""] for row in found.history])
            _csv(staging / "data" / f"{found.process_id}.comments.csv", ("item", "at", "author", "text"),
                 [[item_id, c.get("CREATED"), users.get(str(c.get("AUTHOR_ID")), ""), c.get("COMMENT") or ""]
                  for item_id, listed in sorted(found.comments.items()) for c in listed])
            if found.products is not None:
                _csv(staging / "data" / f"{found.process_id}.products.csv", ("item", *PRODUCT_COLUMNS),
                     [[item_id, *[row.get(c, "") for c in PRODUCT_COLUMNS]]
                      for item_id, listed in sorted(found.products.items()) for row in listed])
        # for `smartflow user import`: everyone active, so that their items can be theirs (an item goes only
        # to an active user with a right in its pipeline); PULL.md deactivates who left after the items
        tree = _tree_order(departments or [])
        known = {department_id for department_id, *_ in tree}
        _csv(staging / "users.csv", ("id", "login", "name", "email", *(("department",) if tree else ())),
             [[person["ID"], users[str(person["ID"])],
               " ".join(str(person.get(k) or "") for k in ("NAME", "LAST_NAME")).strip() or users[str(person["ID"])],
               str(person.get("EMAIL") or "").strip(), *((_department_of(person, known),) if tree else ())]
              for person in people])
        if tree:  # for reading, and what PULL.md's `smartflow department` commands were written from
            _csv(staging / "departments.csv", ("id", "title", "parent", "head"),
                 [[i, title, parent or "", users.get(head or "", "")] for i, title, parent, head in tree])
        left = [users[str(person["ID"])] for person in people if person.get("ACTIVE", True) in (False, "N")]
        (staging / "PULL.md").write_text(_report(webhook, pulled, len(people), left, tree, users,
                                                 departments is not None), encoding="utf-8")
        result = deploy.validate([staging])
        if not result.ok:
            raise PullError("the definitions written from the portal do not validate:\n"
                            + deploy.diagnostics_text(result), "report it with the portal's crm.item.fields")
        if out.exists():
            out.rmdir()
        staging.rename(out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _report(webhook: str, pulled: list[Pulled], users: int, left: list[str],
            tree: list[tuple[str, str, str | None, str | None]] | None = None, logins: dict[str, str] | None = None,
            departments_read: bool = False) -> str:
    portal = urllib.parse.urlsplit(webhook).netloc
    tree, logins = tree or [], logins or {}
    lines = [f"# Pulled from {portal}", "",
             f"{len(pulled)} smart processes, {users} users, {len(tree)} departments.", "",
             "| process | Bitrix24 entityTypeId | items | pipelines | stages | fields | stage moves | comments | "
             "files | product rows |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for found in pulled:
        products = "—" if found.products is None else str(sum(map(len, found.products.values())))
        lines.append(f"| `{found.process_id}` | {found.entity_type_id} | {len(found.items)} | "
                     f"{len(found.pipelines)} | {len(found.stages)} | {len(found.fields)} | {len(found.history)} | "
                     f"{sum(map(len, found.comments.values()))} | {sum(map(len, found.files.values()))} | {products} |")
    order = _import_order(pulled)
    lines += ["", "## Importing it", "", "```sh", "smartflow validate .", "smartflow apply ."]
    for department_id, title, parent, _ in tree:  # parents first: a user's department must exist before them
        lines.append(f"smartflow department add {shlex.quote(department_id)} --title {shlex.quote(title)}"
                     + (f" --parent {shlex.quote(parent)}" if parent else ""))
    lines.append("smartflow user import users.csv --role manager")
    lines += [f"smartflow department head {shlex.quote(department_id)} {shlex.quote(logins[head])}"
              for department_id, _, _, head in tree if head and head in logins]  # heads are users: after them
    for found in order:
        p = found.process_id
        lines.append(f"smartflow import {p} data/{p}.csv --keep-ids bitrix_id --files .")
    for found in order:
        p = found.process_id
        lines += [f"smartflow import {p} data/{p}.history.csv --history",
                  f"smartflow import {p} data/{p}.comments.csv --comments"]
    lines += [f"smartflow user deactivate {login}" for login in left]  # inactive in Bitrix24: after their items
    lines += ["```", "",
              "`--keep-ids bitrix_id` gives each item its Bitrix24 id, so links between items, and the ids the "
              "REST facade of `smartflow serve` answers, stay those integrations know. Processes that others "
              "link to are imported first (the order above).", "",
              "`smartflow user import users.csv` adds the portal's users with their Bitrix24 ids, before the "
              "items (whose responsibles, user fields and comments' authors name them by login): run it on a "
              "fresh database, before anyone else is added, since an id a user holds already is refused. "
              "`--role manager` gives each of them the role `roles.yaml` declares; change roles later with "
              "`smartflow user role add|remove`. Users Bitrix24 lists as inactive are added active, so that the "
              "items they were responsible for can still be theirs, and deactivated after the import (the last "
              "commands above).", "",
              "## Carried over", "",
              "- Each smart process as `<id>.yaml`: title, pipelines (categories) and stages with their semantics "
              "and colours, user fields with types, titles (in the portal's language, and every other language "
              "`userfieldconfig.list` gave a field's label in), required and multiple flags, enumeration items.",
              "- Items as `data/<id>.csv`: title, stage, responsible, every carried field, and the Bitrix24 id in "
              "the `bitrix_id` column.",
              "- Stage history as `data/<id>.history.csv` (`crm.stagehistory.list`: when each item was created "
              "and moved, and to which stage; Bitrix24 records no author of a move, and only the moves within "
              "an item's current pipeline).",
              "- Timeline comments as `data/<id>.comments.csv` (time, author, text; files attached to comments "
              "are not carried).",
              "- Files of file fields, downloaded into `files/<id>/<item>/`; the data files name them "
              "(`@files/…`) and `smartflow import … --files .` attaches them.",
              "- Product rows, of types linked with products, as `data/<id>.products.csv` (one row per product "
              "row: the item's Bitrix24 id, then Bitrix24's own columns). smartflow has no product catalogue: "
              "they are kept as data, for a process of their own or a report; nothing imports them by itself.",
              "- Users as `users.csv`: each one's Bitrix24 id, login (the portal's login or e-mail), name and "
              "e-mail; `smartflow user import` gives them those ids. An item goes only to an active user with a "
              "right in its pipeline, so everyone is imported active, with a role, and those Bitrix24 lists as "
              "inactive are deactivated after the items (the commands above do so).",
              "- Departments (`department.get`) as `departments.csv` (id, name, parent, head) and the "
              "`smartflow department` commands above, parents first, with the portal's ids; each user's "
              "department (the first of `UF_DEPARTMENT`) in `users.csv`. A department's head is named once "
              "the users are in. smartflow keeps one department per user, and the `department` level of "
              "`permissions` reaches the items of that department and the ones below it."
              if departments_read else
              "- Departments: not read (the webhook may not call `department.get`: scope `department`)."]
    lines += ["", "## Names your scripts use", "",
              "Each `<id>.yaml` declares the portal's own numbers and names in `bitrix24:` blocks: the smart "
              "process's entityTypeId and id, each pipeline's categoryId, stage codes where they are not the "
              "stage's id in capitals, each user field's name and each enumeration item's id. Applied, "
              "`smartflow serve` answers Bitrix24's REST API with them (`DT1046_12:NEW`, `ufCrm7_1700000001`, "
              "enumeration ids), `--keep-ids` keeps the items' ids and `smartflow user import` the users' "
              "(`assignedById`, user fields and `user.get` answer the portal's numbers): a script written "
              "against the portal needs only its webhook URL changed, to `https://SMARTFLOW/rest/USER_ID/TOKEN/` "
              "(a smartflow user's id, the same as on the portal, and an API token). What still differs:", "",
              "- An imported item's `createdBy` and `updatedBy` are whoever imported it (Bitrix24's authors "
              "are not carried).",
              "- `bitrix_id` is one more field of each process (the item's Bitrix24 id); a stage's numeric `ID` "
              "in `crm.status.list` is smartflow's (its `STATUS_ID` is the portal's).",
              "- Bitrix24's system fields smartflow has not (`opportunity`, `companyId`, `contactId`, "
              "`observers`, `begindate`…) are not answered, nor the fields carried differently (below); "
              "files are read, not written, through the facade.", "",
              "The fields, as the portal and smartflow's own commands name them:", ""]
    for found in pulled:
        names = ", ".join(f"`{name}` is `{field_id}`" for name, (field_id, _) in found.fields.items())
        lines.append(f"- `{found.process_id}` (entityTypeId {found.entity_type_id}): "
                     f"{names or 'no fields of its own'}")
    notes = [f"- `{found.process_id}`: {note}" for found in pulled for note in found.notes]
    if notes:
        lines += ["", "## Carried differently", "", *notes,
                  "- A `crm` field that may link to one smart process only became a smartflow link to it."]
    missing = sorted({m for found in pulled for m in found.missing})
    if missing:
        lines += ["", "## Not given by the portal (the webhook's scopes, or the portal's edition)", "",
                  *[f"- {m}" for m in missing]]
    lines += ["", "## Not carried over: rebuild these by hand", "",
              "- Rights: Bitrix24's REST API does not expose CRM role permissions. `roles.yaml` declares "
              "`administrator` and `manager`, and each process grants them everything: write your roles and "
              "`permissions` before people use it.",
              "- Automation rules (robots) and business processes: rebuild them as `triggers`.",
              "- Clients (contacts, companies) and observers; items' authors and dates (an import records who "
              "imported them, and when; the stage history keeps when they were created and moved).",
              "- Field rules Bitrix24 does not have (transitions, required-at-stage) are not invented: add them."]
    return "\n".join(lines) + "\n"


def _import_order(pulled: list[Pulled]) -> list[Pulled]:
    """Processes others link to before those that link to them (a cycle keeps the portal's order)."""
    by_id = {found.process_id: found for found in pulled}
    done: list[Pulled] = []
    seen: set[str] = set()

    def visit(found: Pulled, path: tuple[str, ...]) -> None:
        if found.process_id in seen or found.process_id in path:
            return
        for _, spec in found.fields.values():
            target = by_id.get(spec.get("to") or "")
            if target is not None and target is not found:
                visit(target, (*path, found.process_id))
        if found.process_id not in seen:
            seen.add(found.process_id)
            done.append(found)

    for found in pulled:
        visit(found, ())
    return done
