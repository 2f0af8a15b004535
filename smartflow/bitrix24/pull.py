"""`smartflow bitrix24 pull`: read a Bitrix24 portal's smart processes through its REST API (an inbound
webhook) and write a folder smartflow can validate, apply and import.

Read order (scope `crm` and `user`): crm.type.list → per type crm.category.list, crm.status.list per
category, crm.item.fields → user.get → items by crm.item.list in batches of 50 pages read by id
(`order[id]=ASC`, `filter[>id]`, `start=-1`). At most `rate` requests a second (Bitrix24 allows 2);
`QUERY_LIMIT_EXCEEDED`, `OPERATION_TIME_LIMIT` and 5xx answers are retried after a growing pause.

The folder is written next to the target under a temporary name and moved into place only when
everything was read and the written definitions validate: a failed pull leaves no partial YAML.
"""

from __future__ import annotations

import csv
import json
import re
import shutil
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from smartflow import errors
from smartflow.services import deploy

PAGE = 50
RETRIED = {"QUERY_LIMIT_EXCEEDED", "OPERATION_TIME_LIMIT", "OVERLOAD_LIMIT", "INTERNAL_SERVER_ERROR"}
# Bitrix24 user-field types as smartflow field types (None: not carried)
TYPES: dict[str, str | None] = {
    "string": "string", "text": "text", "integer": "integer", "double": "number", "money": "money",
    "boolean": "boolean", "date": "date", "datetime": "datetime", "enumeration": "enum", "employee": "user",
    "user": "user", "url": "url", "crm": "integer", "address": "string", "crm_status": "string",
    "iblock_section": "string", "iblock_element": "string", "file": None,
}
SYSTEM = {"id", "title", "categoryId", "stageId", "assignedById", "createdBy", "createdTime", "updatedBy",
          "updatedTime", "movedBy", "movedTime", "entityTypeId", "previousStageId", "begindate", "closedate",
          "opportunity", "currencyId", "isManualOpportunity", "taxValue", "companyId", "contactId", "contactIds",
          "observers", "sourceId", "sourceDescription", "webformId", "lastActivityBy", "lastActivityTime",
          "mycompanyId", "xmlId", "opened", "utmSource", "utmMedium", "utmCampaign", "utmContent", "utmTerm",
          "parentId"}


class PullError(errors.SmartflowError):
    """The portal refused, or answered something that is not Bitrix24's REST API."""


@dataclass
class Client:
    """Calls to one inbound webhook, paced and retried."""

    webhook: str
    rate: float = 2.0
    retries: int = 6
    sleep: Callable[[float], None] = time.sleep
    on_request: Callable[[str], None] | None = None
    requests: int = 0
    _last: float = 0.0

    def call(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        url = self.webhook.rstrip("/") + "/" + method
        body = json.dumps(params or {}).encode("utf-8")
        for attempt in range(self.retries + 1):
            wait = self._last + 1 / self.rate - time.monotonic()
            if wait > 0:
                self.sleep(wait)
            self._last = time.monotonic()
            self.requests += 1
            if self.on_request:
                self.on_request(method)
            status, answer = self._post(url, body)
            code = str(answer.get("error", "")) if isinstance(answer, dict) else ""
            if status == 200 and isinstance(answer, dict) and "result" in answer:
                return answer
            if (code in RETRIED or status >= 500) and attempt < self.retries:
                self.sleep(min(60.0, 2.0 ** attempt))
                continue
            description = answer.get("error_description", "") if isinstance(answer, dict) else ""
            raise PullError(f"{method}: the portal answered {status} {code or ''} {description}".rstrip(),
                            "check the webhook URL and that its user may read the CRM (scopes crm and user)")
        raise PullError(f"{method}: the portal kept refusing", "try again later")  # pragma: no cover

    def _post(self, url: str, body: bytes) -> tuple[int, Any]:
        request = urllib.request.Request(url, data=body, method="POST",
                                         headers={"Content-Type": "application/json", "User-Agent": "smartflow-pull"})
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                status, raw = int(response.status), response.read()
        except urllib.error.HTTPError as error:
            status, raw = int(error.code), error.read()
        except (OSError, ValueError) as error:
            raise PullError(f"cannot reach {urllib.parse.urlsplit(url).netloc}: {error}",
                            "check the webhook URL (https://portal/rest/USER_ID/CODE/)") from None
        try:
            return status, json.loads(raw or b"null")
        except ValueError:
            return status, None

    def all(self, method: str, params: dict[str, Any], key: str | None) -> list[Any]:
        """Every page of a list method (by `start` and `next`)."""
        found: list[Any] = []
        start = 0
        while True:
            answer = self.call(method, {**params, "start": start})
            result = answer["result"]
            page = result.get(key, []) if key and isinstance(result, dict) else result
            found += list(page or [])
            if "next" not in answer or not page:
                return found
            start = int(answer["next"])

    def items(self, entity_type_id: int, progress: Callable[[int], None] | None = None) -> list[dict[str, Any]]:
        """Every item, in batches of 50 pages read by id (each page after the one before it)."""
        found: list[dict[str, Any]] = []
        last = 0
        base = f"crm.item.list?entityTypeId={entity_type_id}&order[id]=ASC&start=-1&select[]=*"
        while True:
            commands = {"0": f"{base}&filter[>id]={last}"}
            for n in range(1, PAGE):
                commands[str(n)] = f"{base}&filter[>id]=$result[{n - 1}][items][{PAGE - 1}][id]"
            answer = self.call("batch", {"halt": 0, "cmd": commands})["result"]
            results = answer.get("result") or {}
            if isinstance(results, list):
                results = {str(n): r for n, r in enumerate(results)}
            for n in range(PAGE):
                page = (results.get(str(n)) or {}).get("items") if isinstance(results.get(str(n)), dict) else None
                if page is None:
                    if n == 0:
                        errors_found = answer.get("result_error") or {}
                        raise PullError(f"crm.item.list {entity_type_id}: {errors_found}")
                    break
                found += page
                if progress:
                    progress(len(found))
                if len(page) < PAGE:
                    return found
                last = int(page[-1]["id"])


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


@dataclass
class Pulled:
    """One smart process as read, and how its names map to smartflow's."""

    type: dict[str, Any]
    process_id: str
    pipelines: dict[int, str] = field(default_factory=dict)  # categoryId → pipeline id
    stages: dict[str, tuple[str, str]] = field(default_factory=dict)  # STATUS_ID → (pipeline, stage)
    fields: dict[str, tuple[str, dict[str, Any]]] = field(default_factory=dict)  # Bitrix name → (id, field data)
    options: dict[str, dict[str, str]] = field(default_factory=dict)  # Bitrix name → item ID → option id
    skipped: list[str] = field(default_factory=list)
    document: dict[str, Any] = field(default_factory=dict)
    items: list[dict[str, Any]] = field(default_factory=list)


def _process(client: Client, kind: dict[str, Any], process_id: str) -> Pulled:
    etid = int(kind["entityTypeId"])
    pulled = Pulled(kind, process_id)
    categories = client.all("crm.category.list", {"entityTypeId": etid}, "categories")
    pipelines: dict[str, Any] = {}
    taken: set[str] = set()
    for category in categories:
        pipeline = _identifier(category.get("code") or category.get("name"), f"category_{category['id']}", taken)
        pulled.pipelines[int(category["id"])] = pipeline
        statuses = client.all("crm.status.list", {"filter": {"ENTITY_ID": f"DYNAMIC_{etid}_STAGE_{category['id']}"},
                                                  "order": {"SORT": "ASC"}}, None)
        stages: dict[str, Any] = {}
        stage_ids: set[str] = set()
        for status in statuses:
            code = str(status["STATUS_ID"]).split(":", 1)[-1]
            stage = _identifier(code, f"stage_{status['ID']}", stage_ids)
            pulled.stages[str(status["STATUS_ID"])] = (pipeline, stage)
            stages[stage] = {"title": status.get("NAME") or code,
                             **({"semantic": {"S": "success", "F": "failure"}[status["SEMANTICS"]]}
                                if status.get("SEMANTICS") in ("S", "F") else {}),
                             **({"color": status["COLOR"]} if re.fullmatch(r"#[0-9A-Fa-f]{6}", str(status.get("COLOR")))
                                else {})}
        pipelines[pipeline] = {"title": category.get("name") or pipeline, "stages": stages,
                               **({"default": True} if category.get("isDefault") == "Y" else {})}
    described = client.call("crm.item.fields", {"entityTypeId": etid})["result"]["fields"]
    fields: dict[str, Any] = {"bitrix_id": {"type": "integer", "unique": True,
                                            "title": {"ru": "ID в Битрикс24", "en": "Bitrix24 ID"}}}
    taken = {"bitrix_id"}
    for name, data in described.items():
        if name in SYSTEM or not data.get("isDynamic", name.startswith("uf")):
            continue
        kind_of = TYPES.get(str(data.get("type")), "string")
        if kind_of is None:
            pulled.skipped.append(f"{name} ({data.get('type')})")
            continue
        upper = str(data.get("upperName") or name)
        code = re.sub(r"^UF_CRM_\d+_", "", upper)
        field_id = _identifier(code, f"uf_{code}", taken)
        spec: dict[str, Any] = {"type": kind_of, "title": data.get("title") or code}
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
                options.append({"id": option, "title": entry.get("VALUE") or option})
            if not options:
                pulled.skipped.append(f"{name} (an enumeration without items)")
                continue
            spec["options"] = options
        fields[field_id] = spec
        pulled.fields[name] = (field_id, spec)
    pulled.document = {"kind": "Process", "id": process_id, "title": kind.get("title") or process_id,
                       "fields": fields, "pipelines": pipelines,
                       "permissions": {"administrator": "all", "manager": "all"}}
    return pulled


def _cell(pulled: Pulled, name: str, value: Any, users: dict[str, str]) -> str:
    spec = pulled.fields[name][1]
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
        elif kind == "integer" and isinstance(single, str) and "_" in single:
            out.append(single.rsplit("_", 1)[-1])  # a crm link T80_6: the item's id
        else:
            out.append(str(single))
    return ", ".join(out)


def _rows(pulled: Pulled, users: dict[str, str]) -> tuple[list[str], list[list[str]]]:
    header = ["bitrix_id", "title", "pipeline", "stage", "assigned_to", *[f for f, _ in pulled.fields.values()]]
    rows = []
    for item in pulled.items:
        pipeline, stage = pulled.stages.get(str(item.get("stageId")), ("", ""))
        assigned = item.get("assignedById")
        rows.append([str(item["id"]), str(item.get("title") or ""), pipeline, stage,
                     users.get(str(assigned), "") if assigned else "",
                     *[_cell(pulled, name, item.get(name), users) for name in pulled.fields]])
    return header, rows


def _yaml(document: dict[str, Any]) -> str:
    text = yaml.safe_dump(document, allow_unicode=True, sort_keys=False, width=120)
    return "# yaml-language-server: $schema=./smartflow.schema.json\n" + text


def pull(webhook: str, out: Path, types: list[str] | None = None, rate: float = 2.0,
         report: Callable[[str], None] | None = None, retries: int = 6) -> dict[str, int]:
    """Read the portal into out (which must not exist or be empty); items per process id. A refusal
    for too many requests is retried `retries` times, after 1, 2, 4… seconds."""
    say = report or (lambda _: None)
    if out.exists() and any(out.iterdir()):
        raise PullError(f"{out} is not empty", "give a new folder to --out")
    client = Client(webhook, rate, retries)
    kinds = client.all("crm.type.list", {}, "types")
    wanted = {t.lower() for t in types or []}
    if wanted:
        kinds = [k for k in kinds if {str(k.get("code") or "").lower(), str(k["entityTypeId"]),
                                      str(k.get("title") or "").lower()} & wanted]
        if not kinds:
            raise PullError(f"no smart process matches --types {','.join(types or [])}",
                            "give codes, titles or entityTypeIds of crm.type.list")
    taken: set[str] = set()
    pulled = []
    for kind in kinds:
        process_id = _identifier(kind.get("code") or kind.get("title"), f"type_{kind['entityTypeId']}", taken)
        say(f"reading {kind.get('title')} ({kind['entityTypeId']}) as {process_id}")
        found = _process(client, kind, process_id)
        found.items = client.items(int(kind["entityTypeId"]))
        say(f"  {len(found.items)} items")
        pulled.append(found)
    people = client.all("user.get", {}, None)
    users = {str(u["ID"]): str(u.get("LOGIN") or u.get("EMAIL") or f"user{u['ID']}") for u in people}

    staging = out.with_name(f".{out.name}.partial")
    if staging.exists():
        shutil.rmtree(staging)
    (staging / "data").mkdir(parents=True)
    try:
        (staging / "smartflow.schema.json").write_text(deploy.schema_text(), encoding="utf-8")
        (staging / "roles.yaml").write_text(_yaml({"kind": "Roles", "roles": {
            "administrator": {"title": {"ru": "Администратор", "en": "Administrator"}},
            "manager": {"title": {"ru": "Менеджер", "en": "Manager"}}}}), encoding="utf-8")
        for found in pulled:
            (staging / f"{found.process_id}.yaml").write_text(_yaml(found.document), encoding="utf-8")
            header, rows = _rows(found, users)
            with (staging / "data" / f"{found.process_id}.csv").open("w", newline="", encoding="utf-8") as sheet:
                writer = csv.writer(sheet)
                writer.writerow(header)
                writer.writerows(rows)
        with (staging / "users.csv").open("w", newline="", encoding="utf-8") as sheet:
            writer = csv.writer(sheet)
            writer.writerow(["bitrix_id", "login", "name", "active"])
            for person in people:
                name = " ".join(str(person.get(k) or "") for k in ("NAME", "LAST_NAME")).strip()
                writer.writerow([person["ID"], users[str(person["ID"])], name or users[str(person["ID"])],
                                 "true" if person.get("ACTIVE", True) not in (False, "N") else "false"])
        (staging / "PULL.md").write_text(_report(webhook, pulled, len(people), client.requests), encoding="utf-8")
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
    return {found.process_id: len(found.items) for found in pulled}


def _report(webhook: str, pulled: list[Pulled], users: int, requests: int) -> str:
    portal = urllib.parse.urlsplit(webhook).netloc
    lines = [f"# Pulled from {portal}", "",
             f"{len(pulled)} smart processes, {users} users, {requests} REST requests.", "",
             "| process | Bitrix24 entityTypeId | items | pipelines | stages | fields |",
             "| --- | --- | --- | --- | --- | --- |"]
    for found in pulled:
        lines.append(f"| `{found.process_id}` | {found.type['entityTypeId']} | {len(found.items)} | "
                     f"{len(found.pipelines)} | {len(found.stages)} | {len(found.fields)} |")
    lines += ["", "## Carried over", "",
              "- Each smart process as `<id>.yaml`: title, pipelines (categories) and stages with their semantics "
              "and colours, user fields with types, titles, required and multiple flags, enumeration items.",
              "- Items as `data/<id>.csv` for `smartflow import <id> data/<id>.csv`: title, stage, responsible, "
              "every carried field, and the Bitrix24 id in the `bitrix_id` column.",
              "- Users as `users.csv` (create them with `smartflow user add` before importing, so that "
              "responsibles and user fields resolve).", "",
              "## Not carried over: rebuild these by hand", "",
              "- Rights: Bitrix24's REST API does not expose CRM role permissions. `roles.yaml` declares "
              "`administrator` and `manager`, and each process grants them everything: write your roles and "
              "`permissions` before people use it.",
              "- Automation rules (robots) and business processes: rebuild them as `triggers`.",
              "- Stage history, timeline comments, files, product rows, clients and observers; items' authors "
              "and dates (an import records who imported them, and when).",
              "- Field rules Bitrix24 does not have (transitions, required-at-stage) are not invented: add them."]
    skipped = [f"- `{found.process_id}`: {', '.join(found.skipped)}" for found in pulled if found.skipped]
    if skipped:
        lines += ["", "## Fields left out", "", *skipped]
    return "\n".join(lines) + "\n"
