"""`smartflow bitrix24 pull` against answers in the shapes Bitrix24's documentation gives (the official
examples of crm.item.productrow.list, userfieldconfig.list, crm.stagehistory.list,
crm.timeline.comment.list, file values `{id, url, urlMachine}`, addresses `street|lat;lon|locationId`
and `crm` fields linking several kinds of records), for what a smartflow source cannot produce. A tiny
portal on 127.0.0.1 answers them, batch included; the folder then validates, applies and imports."""

from __future__ import annotations

import csv
import json
import re
import shlex
import threading
import urllib.parse
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import httpx
import pytest
import yaml
from click.testing import CliRunner

from smartflow.bitrix24.protocol import php_parse
from smartflow.bitrix24.pull import PullError, _tree_order, pull
from smartflow.cli.main import main
from smartflow.services import Engine
from tests.runtime.support import invoke
from tests.web.support import HTTP_TIMEOUT

ETID, TYPE_ID, CATEGORY = 1046, 7, 12
HOOK = "/rest/1/w3bh00k/"
SCAN = b"%PDF-1.7 the signed contract\n" + bytes(range(200))
LONG = "UC_CLIENT_APPROVAL_OF_THE_CONTRACT"  # a code longer than a smartflow id may be
STAGES = [("NEW", "Новая", None), ("WORK", "В работе", None), (LONG, "Согласование", None), ("SUCCESS", "Успех", "S"),
          ("FAIL", "Провал", "F")]
TIME = {"start": 1716905609.18, "finish": 1716905609.43, "duration": 0.25, "processing": 0.07,
        "date_start": "2024-05-28T17:13:29+03:00", "date_finish": "2024-05-28T17:13:29+03:00"}


def _file(site: str, item: int, file_id: int) -> dict[str, Any]:
    query = f"entityTypeId={ETID}&id={item}&fieldName=ufCrm7Scan&fileId={file_id}"
    return {"id": file_id, "url": f"{site}/bitrix/tools/crm_show_file.php?{query}",
            "urlMachine": f"{site}/rest/crm.controller.item.getFile/?{query}"}


def _items(site: str) -> list[dict[str, Any]]:
    base = {"entityTypeId": ETID, "categoryId": CATEGORY, "assignedById": 17, "createdBy": 17, "opportunity": 0,
            "currencyId": "RUB", "createdTime": "2024-05-01T10:00:00+03:00"}
    return [
        {**base, "id": 1, "title": "Поставка №1", "stageId": f"DT{ETID}_{CATEGORY}:WORK",
         "ufCrm7_1700000001": "Тверская ул., 1, Москва|55.757;37.613|4021", "ufCrm7Links": ["T416_2", "C_5", "CO_3"],
         "ufCrm7Parent": None, "ufCrm7Kind": 81, "ufCrm7Scan": [_file(site, 1, 55)], "ufCrm7Sum": "1500.50|RUB"},
        {**base, "id": 2, "title": "Поставка №2", "stageId": f"DT{ETID}_{CATEGORY}:NEW", "assignedById": 23,
         "ufCrm7_1700000001": "", "ufCrm7Links": [], "ufCrm7Parent": "T416_1", "ufCrm7Kind": 83, "ufCrm7Scan": [],
         "ufCrm7Sum": ""},
    ]


FIELDS: dict[str, Any] = {
    "id": {"type": "integer", "isRequired": False, "isReadOnly": True, "isMultiple": False, "isDynamic": False,
           "title": "ID", "upperName": "ID"},
    "title": {"type": "string", "isRequired": False, "isReadOnly": False, "isMultiple": False, "isDynamic": False,
              "title": "Название", "upperName": "TITLE"},
    "stageId": {"type": "crm_status", "isDynamic": False, "title": "Стадия", "upperName": "STAGE_ID"},
    "ufCrm7_1700000001": {"type": "address", "isRequired": False, "isReadOnly": False, "isMultiple": False,
                          "isDynamic": True, "title": "Адрес доставки", "upperName": "UF_CRM_7_1700000001"},
    "ufCrm7Links": {"type": "crm", "isRequired": False, "isReadOnly": False, "isMultiple": True, "isDynamic": True,
                    "title": "Связи", "upperName": "UF_CRM_7_LINKS",
                    "settings": {"LEAD": "N", "CONTACT": "Y", "COMPANY": "Y", "DEAL": "N", "DYNAMIC_1046": "Y"}},
    "ufCrm7Parent": {"type": "crm", "isRequired": False, "isReadOnly": False, "isMultiple": False, "isDynamic": True,
                     "title": "Основная поставка", "upperName": "UF_CRM_7_PARENT",
                     "settings": {"LEAD": "N", "CONTACT": "N", "COMPANY": "N", "DEAL": "N", "DYNAMIC_1046": "Y"}},
    "ufCrm7Kind": {"type": "enumeration", "isRequired": True, "isReadOnly": False, "isMultiple": False,
                   "isDynamic": True, "title": "Вид", "upperName": "UF_CRM_7_KIND",
                   "items": [{"ID": "81", "VALUE": "Опт"}, {"ID": "83", "VALUE": "Розница"}]},
    "ufCrm7Scan": {"type": "file", "isRequired": False, "isReadOnly": False, "isMultiple": True, "isDynamic": True,
                   "title": "Договор", "upperName": "UF_CRM_7_SCAN"},
    "ufCrm7Sum": {"type": "money", "isRequired": False, "isReadOnly": False, "isMultiple": False, "isDynamic": True,
                  "title": "Сумма", "upperName": "UF_CRM_7_SUM"},
}
LABELS = {"UF_CRM_7_1700000001": {"ru": "Адрес доставки", "en": "Delivery address", "de": "Lieferadresse"},
          "UF_CRM_7_KIND": {"ru": "Вид", "en": "Kind", "de": ""},
          "UF_CRM_7_SCAN": {"en": "Contract"}}  # no Russian label: the portal's language falls back to crm.item.fields
PRODUCT_ROWS = [  # crm.item.productrow.list's documented example, owned by item 1
    {"id": 17649, "ownerId": 1, "ownerType": "T416", "productId": 9621, "productName": "iphone 14", "price": 90000,
     "priceAccount": 90000, "priceExclusive": 81818.18181818, "priceNetto": 90909.09090909, "priceBrutto": 100000,
     "quantity": 3, "discountTypeId": 2, "discountRate": 10, "discountSum": 9090.90909091, "taxRate": 10,
     "taxIncluded": "Y", "taxName": "VAT 10", "customized": "Y", "measureCode": 796, "measureName": "pcs", "sort": 10,
     "xmlId": "sale_basket_8147", "type": 4, "storeId": 19},
    {"id": 17650, "ownerId": 1, "ownerType": "T416", "productId": 9623, "productName": "iphone 10xs", "price": 5550,
     "priceAccount": 5550, "priceExclusive": 5550, "priceNetto": 5550, "priceBrutto": 5550, "quantity": 1,
     "discountTypeId": 2, "discountRate": 0, "discountSum": 0, "taxRate": None, "taxIncluded": "Y",
     "taxName": "No VAT", "customized": "Y", "measureCode": 6, "measureName": "m", "sort": 20,
     "xmlId": "sale_basket_8148", "type": 4, "storeId": 17}]
HISTORY = [
    {"ID": "301", "TYPE_ID": 1, "OWNER_ID": 1, "CREATED_TIME": "2024-05-01T10:00:00+03:00", "CATEGORY_ID": CATEGORY,
     "STAGE_SEMANTIC_ID": "P", "STAGE_ID": f"DT{ETID}_{CATEGORY}:NEW"},
    {"ID": "302", "TYPE_ID": 1, "OWNER_ID": 2, "CREATED_TIME": "2024-05-02T09:30:00+03:00", "CATEGORY_ID": CATEGORY,
     "STAGE_SEMANTIC_ID": "P", "STAGE_ID": f"DT{ETID}_{CATEGORY}:NEW"},
    {"ID": "305", "TYPE_ID": 2, "OWNER_ID": 1, "CREATED_TIME": "2024-05-03T12:15:00+03:00", "CATEGORY_ID": CATEGORY,
     "STAGE_SEMANTIC_ID": "P", "STAGE_ID": f"DT{ETID}_{CATEGORY}:WORK"}]
COMMENTS = {1: [{"ID": "9", "ENTITY_ID": 1, "ENTITY_TYPE": f"dynamic_{ETID}", "CREATED": "2024-05-03T12:20:00+03:00",
                 "COMMENT": "Договор подписан, скан во вложении", "AUTHOR_ID": "23", "FILES": []}], 2: []}
USERS = [  # the portal's own user ids, which a script filters by (assignedById=17)
    {"ID": "17", "ACTIVE": True, "NAME": "Анна", "LAST_NAME": "Иванова", "LOGIN": "ivanova",
     "EMAIL": "ivanova@example.ru", "UF_DEPARTMENT": [3]},
    {"ID": "23", "ACTIVE": True, "NAME": "Олег", "LAST_NAME": "Петров", "LOGIN": "petrov",
     "EMAIL": "petrov@example.ru", "UF_DEPARTMENT": [5, 1]},  # several: smartflow keeps the first
    {"ID": "31", "ACTIVE": False, "NAME": "Ушедший", "LAST_NAME": "", "EMAIL": "gone@example.ru",
     "UF_DEPARTMENT": []}]
# department.get's documented shape: PARENT absent for the top one, UF_HEAD a user id ("0": none), listed
# here child first, as a portal need not list parents first
DEPARTMENTS = [
    {"ID": "5", "NAME": "Склад «Север»", "SORT": 500, "PARENT": "3", "UF_HEAD": "0"},
    {"ID": "1", "NAME": "ООО «Поставки»", "SORT": 500, "UF_HEAD": "23"},
    {"ID": "3", "NAME": "Отдел закупок", "SORT": 500, "PARENT": "1", "UF_HEAD": "17"}]


class Refused(Exception):
    """An answer of the portal's refusing a call: HTTP status, error code, description."""


class Portal(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    site = ""
    seen: ClassVar[list[str]] = []
    scopes: ClassVar[set[str]] = {"crm", "user", "department"}  # the webhook's

    def log_message(self, *_: Any) -> None:
        pass

    def do_GET(self) -> None:  # a file, downloaded through the webhook
        url = urllib.parse.urlsplit(self.path)
        self.seen.append(url.path)
        query = dict(urllib.parse.parse_qsl(url.query))
        if url.path.rstrip("/") == HOOK + "crm.controller.item.getFile" and query.get("fileId") == "55":
            self._send(200, SCAN, "application/pdf", {"Content-Disposition": "attachment; filename*=UTF-8''"
                                                      + urllib.parse.quote("Договор, подписанный.pdf")})
        else:
            self._send(404, b'{"error":"NOT_FOUND","error_description":"File not found"}', "application/json")

    def do_POST(self) -> None:
        url = urllib.parse.urlsplit(self.path)
        self.seen.append(url.path)
        params = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
        if not url.path.startswith(HOOK):
            return self._json(401, {"error": "NO_AUTH_FOUND", "error_description": "Wrong authorization data"})
        try:
            result, nav = self.method(url.path[len(HOOK):].lower(), params)
        except Refused as refused:
            status, code, description = refused.args
            return self._json(status, {"error": code, "error_description": description})
        except LookupError as error:
            return self._json(400, {"error": "NOT_FOUND", "error_description": str(error)})
        self._json(200, {"result": result, **nav, "time": TIME})

    def method(self, name: str, params: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        flt = params.get("filter") or {}
        if name == "batch":
            out, errors, totals = {}, {}, {}
            for key, command in params["cmd"].items():
                method, _, query = command.partition("?")
                try:
                    if "$result" in query:
                        raise LookupError("unresolved reference")
                    out[key], nav = self.method(method.lower(), php_parse(query))
                    if "total" in nav:
                        totals[key] = nav["total"]
                except LookupError as error:
                    errors[key] = {"error": "INVALID_ARG_VALUE", "error_description": str(error)}
            return {"result": out, "result_error": errors or [], "result_total": totals or [], "result_next": [],
                    "result_time": []}, {}
        if name == "crm.type.list":
            return {"types": [{"id": TYPE_ID, "title": "Поставки", "code": "supplies", "entityTypeId": ETID,
                               "isCategoriesEnabled": "Y", "isStagesEnabled": "Y",
                               "isLinkWithProductsEnabled": "Y"}]}, {"total": 1}
        if name == "crm.category.list":
            return {"categories": [{"id": CATEGORY, "name": "Основная", "sort": 500, "entityTypeId": ETID,
                                    "isDefault": "Y"}]}, {"total": 1}
        if name == "crm.status.list":
            assert flt == {"ENTITY_ID": f"DYNAMIC_{ETID}_STAGE_{CATEGORY}"}
            return [{"ID": str(20 + n), "ENTITY_ID": flt["ENTITY_ID"], "STATUS_ID": f"DT{ETID}_{CATEGORY}:{code}",
                     "NAME": title, "SORT": str(10 * (n + 1)), "SYSTEM": "Y", "CATEGORY_ID": str(CATEGORY),
                     "COLOR": "#22B9FF", "SEMANTICS": semantics}
                    for n, (code, title, semantics) in enumerate(STAGES)], {"total": len(STAGES)}
        if name == "crm.item.fields":
            return {"fields": FIELDS}, {}
        if name == "userfieldconfig.list":
            assert flt == {"entityId": f"CRM_{TYPE_ID}"}
            return {"fields": [{"id": str(600 + n), "entityId": f"CRM_{TYPE_ID}", "fieldName": name_,
                                "userTypeId": "string", "multiple": "N", "mandatory": "N", "editFormLabel": label,
                                "listColumnLabel": None} for n, (name_, label) in enumerate(LABELS.items())]}, {}
        if name == "user.get":
            return USERS, {"total": len(USERS)}
        if name == "department.get":
            if "department" not in self.scopes:
                raise Refused(401, "insufficient_scope",
                              "The request requires higher privileges than provided by the webhook token")
            return DEPARTMENTS, {"total": len(DEPARTMENTS)}
        if name == "crm.item.list":
            rows = [i for i in _items(self.site) if i["id"] > int((flt or {}).get(">id", 0))]
            return {"items": rows}, {"total": 0 if str(params.get("start")) == "-1" else len(rows)}
        if name == "crm.stagehistory.list":
            return {"items": HISTORY}, {"total": len(HISTORY)}
        if name == "crm.timeline.comment.list":
            assert flt["ENTITY_TYPE"] == f"dynamic_{ETID}"
            found = COMMENTS[int(flt["ENTITY_ID"])]
            return found, {"total": len(found)}
        if name == "crm.item.productrow.list":
            assert flt["=ownerType"] == "T416"
            found = [r for r in PRODUCT_ROWS if r["ownerId"] == int(flt["=ownerId"])]
            return {"productRows": found}, {"total": len(found)}
        raise LookupError(f"no method {name}")

    def _json(self, status: int, body: Any) -> None:
        self._send(status, json.dumps(body, ensure_ascii=False).encode(), "application/json")

    def _send(self, status: int, data: bytes, kind: str, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def portal() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Portal)
    Portal.site = f"http://127.0.0.1:{server.server_address[1]}"
    Portal.seen = []
    Portal.scopes = {"crm", "user", "department"}
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield Portal.site
    server.shutdown()
    server.server_close()


def _departments_and_users(url: str, report: str, out: Path) -> None:
    """What PULL.md says to run about people, in its order: the departments, the users, the departments' heads."""
    commands = [shlex.split(line)[1:] for line in report.splitlines() if line.startswith("smartflow department ")]
    for command in (c for c in commands if c[1] == "add"):
        assert invoke(url, *command).exit_code == 0, command
    people = invoke(url, "user", "import", str(out / "users.csv"), "--role", "manager")
    assert people.exit_code == 0 and "3 users added (3 with the ids of the file)" in people.output, people.output
    for command in (c for c in commands if c[1] == "head"):
        assert invoke(url, *command).exit_code == 0, command


def test_departments_are_ordered_parents_first_and_by_number_whatever_their_ids() -> None:
    """Numeric ids in numeric order ("9" before "10"), other ids after them; an id of digits that are not ASCII
    ("²" is a digit to str.isdigit, and not to int) is text, not a crash; a parent comes before its child."""
    listed = [{"ID": "²", "NAME": "Степень"}, {"ID": "10", "NAME": "Склад", "PARENT": "9"},
              {"ID": "9", "NAME": "Снабжение", "UF_HEAD": "0"}, {"ID": "x", "NAME": "Cycle", "PARENT": "x"}]
    assert _tree_order(listed) == [("9", "Снабжение", None, None), ("10", "Склад", "9", None),
                                   ("x", "Cycle", None, None), ("²", "Степень", None, None)]


def test_a_webhook_without_the_department_scope_pulls_everything_else(portal: str, tmp_path: Path) -> None:
    Portal.scopes = {"crm", "user"}
    out = tmp_path / "pulled"
    said: list[str] = []
    assert pull(portal + HOOK, out, rate=100, language="ru", report=said.append) == {"supplies": 2}
    assert "departments not read: the webhook may not call department.get (scope department)" in said
    assert not (out / "departments.csv").exists()
    assert list(_sheet(out / "users.csv")[0]) == ["id", "login", "name", "email"]
    report = (out / "PULL.md").read_text("utf-8")
    assert "smartflow department" not in report and "3 users, 0 departments" in report
    assert "- Departments: not read (the webhook may not call `department.get`: scope `department`)." in report


def _sheet(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


@pytest.mark.db
def test_pull_carries_what_only_a_bitrix24_portal_has(portal: str, tmp_path: Path) -> None:
    out = tmp_path / "pulled"
    counts = pull(portal + HOOK, out, rate=100, language="ru")
    assert counts == {"supplies": 2}
    assert any(p.rstrip("/").endswith("crm.controller.item.getFile") for p in Portal.seen)

    document = yaml.safe_load((out / "supplies.yaml").read_text("utf-8"))
    fields = document["fields"]
    # titles in the portal's language first, then each other language userfieldconfig.list gave
    assert fields["uf_1700000001"] == {"type": "string", "title": {"ru": "Адрес доставки", "de": "Lieferadresse",
                                                                  "en": "Delivery address"},
                                       "bitrix24": {"name": "UF_CRM_7_1700000001"}}  # the portal's own name
    assert fields["kind"]["title"] == {"ru": "Вид", "en": "Kind"} and fields["kind"]["required"] is True
    assert [(o["id"], o["bitrix24"]) for o in fields["kind"]["options"]] == [("o81", {"id": 81}), ("o83", {"id": 83})]
    assert fields["scan"] == {"type": "file", "title": {"ru": "Договор", "en": "Contract"}, "multiple": True,
                              "bitrix24": {"name": "UF_CRM_7_SCAN"}}
    assert fields["links"] == {"type": "string", "title": {"ru": "Связи"}, "multiple": True,
                               "bitrix24": {"name": "UF_CRM_7_LINKS"}}
    assert fields["parent"] == {"type": "link", "to": "supplies", "title": {"ru": "Основная поставка"},
                                "bitrix24": {"name": "UF_CRM_7_PARENT"}}
    assert document["title"] == {"ru": "Поставки"} and list(document["pipelines"]) == ["category_12"]
    assert document["bitrix24"] == {"entity_type_id": ETID, "id": TYPE_ID}
    pipeline = next(iter(document["pipelines"].values()))
    assert pipeline["title"] == {"ru": "Основная"} and pipeline["default"] is True
    assert pipeline["bitrix24"] == {"category_id": CATEGORY}
    assert [(s, v.get("semantic"), v.get("bitrix24")) for s, v in pipeline["stages"].items()] == [
        ("new", None, None), ("work", None, None),
        ("uc_client_approval_of_the_co", None, {"code": LONG}),  # a code the id in capitals would not say
        ("success", "success", None), ("fail", "failure", None)]

    items = _sheet(out / "data" / "supplies.csv")
    first, second = items
    assert first["uf_1700000001"] == "Тверская ул., 1, Москва"  # the text; the point and location id are left out
    assert first["links"] == "T416_2, C_5, CO_3" and second["parent"] == "#1"
    assert first["scan"] == "@files/supplies/1/55/Договор_ подписанный.pdf"
    assert (out / "files" / "supplies" / "1" / "55" / "Договор_ подписанный.pdf").read_bytes() == SCAN
    assert first["sum"] == "1500.50 RUB" and first["kind"] == "o81" and second["assigned_to"] == "petrov"

    products = _sheet(out / "data" / "supplies.products.csv")
    assert [(p["item"], p["productName"], p["price"], p["quantity"], p["discountRate"], p["taxRate"],
             p["measureName"]) for p in products] == [("1", "iphone 14", "90000", "3", "10", "10", "pcs"),
                                                     ("1", "iphone 10xs", "5550", "1", "0", "", "m")]
    assert _sheet(out / "data" / "supplies.history.csv") == [
        {"item": "1", "at": "2024-05-01T10:00:00+03:00", "kind": "create", "pipeline": pipeline_id(document),
         "stage": "new", "by": ""},
        {"item": "2", "at": "2024-05-02T09:30:00+03:00", "kind": "create", "pipeline": pipeline_id(document),
         "stage": "new", "by": ""},
        {"item": "1", "at": "2024-05-03T12:15:00+03:00", "kind": "move", "pipeline": pipeline_id(document),
         "stage": "work", "by": ""}]
    assert _sheet(out / "data" / "supplies.comments.csv") == [
        {"item": "1", "at": "2024-05-03T12:20:00+03:00", "author": "petrov",
         "text": "Договор подписан, скан во вложении"}]
    report = (out / "PULL.md").read_text("utf-8")
    assert "data/<id>.products.csv" in report and "| `supplies` | 1046 | 2 |" in report and "| 2 |" in report
    assert re.search(r"`links` \(ufCrm7Links, a crm link to several kinds of records, or to a smart process "
                     r"not pulled\)", report)
    assert "an address" in report
    assert "- `supplies` (entityTypeId 1046): `ufCrm7_1700000001` is `uf_1700000001`, " in report
    assert "needs only its webhook URL changed" in report

    # and it applies and imports: ids kept, the link to item 1 and the file in place, history and comments
    url = f"sqlite:///{tmp_path / 'target.db'}"
    assert _sheet(out / "users.csv") == [
        {"id": "17", "login": "ivanova", "name": "Анна Иванова", "email": "ivanova@example.ru", "department": "3"},
        {"id": "23", "login": "petrov", "name": "Олег Петров", "email": "petrov@example.ru", "department": "5"},
        {"id": "31", "login": "gone@example.ru", "name": "Ушедший", "email": "gone@example.ru", "department": ""}]
    assert _sheet(out / "departments.csv") == [  # parents first
        {"id": "1", "title": "ООО «Поставки»", "parent": "", "head": "petrov"},
        {"id": "3", "title": "Отдел закупок", "parent": "1", "head": "ivanova"},
        {"id": "5", "title": "Склад «Север»", "parent": "3", "head": ""}]
    assert "smartflow user import users.csv --role manager" in report
    assert "smartflow department add 5 --title 'Склад «Север»' --parent 3" in report
    # who left is deactivated after the items (which may still be theirs), as the report's last command
    assert report.index("smartflow user deactivate gone@example.ru") > report.index("--comments")
    assert invoke(url, "apply", str(out)).exit_code == 0
    _departments_and_users(url, report, out)
    imported = invoke(url, "import", "supplies", str(out / "data" / "supplies.csv"), "--keep-ids", "bitrix_id",
                      "--files", str(out))
    assert imported.exit_code == 0, imported.output
    for kind in ("history", "comments"):
        done = invoke(url, "import", "supplies", str(out / "data" / f"supplies.{kind}.csv"), f"--{kind}")
        assert done.exit_code == 0, done.output
    assert invoke(url, "user", "deactivate", "gone@example.ru").exit_code == 0
    with Engine(url) as crm:
        assert [(u["id"], u["login"], u["active"]) for u in sorted(crm.users(), key=lambda u: u["id"])] == [
            (17, "ivanova", True), (23, "petrov", True), (31, "gone@example.ru", False)]
        directory = crm.directory()
        assert directory["departments"] == [
            {"id": "1", "title": "ООО «Поставки»", "parent": None, "head": "petrov"},
            {"id": "3", "title": "Отдел закупок", "parent": "1", "head": "ivanova"},
            {"id": "5", "title": "Склад «Север»", "parent": "3", "head": None}]
        assert {u["login"]: u["department"] for u in directory["users"]} == {
            "ivanova": "3", "petrov": "5", "gone@example.ru": None}
        one, two = crm.get("supplies", 1), crm.get("supplies", 2)
        assert (one["assigned_to"], two["assigned_to"]) == (17, 23)  # the portal's user ids
        assert two["parent"] == 1 and one["links"] == ["T416_2", "C_5", "CO_3"] and one["stage"] == "work"
        (scan,) = crm.files("supplies", 1)["scan"]
        assert crm.file("supplies", 1, scan["id"])[1] == SCAN
        moves = [(r["kind"], r["at"].isoformat()[:19], r["new"] if r["kind"] == "move" else r["new"]["stage"])
                 for r in crm.history("supplies", 1) if r["kind"] in ("create", "move")]
        assert moves == [("create", "2024-05-01T07:00:00", "new"), ("move", "2024-05-03T09:15:00", "work")]
        (comment,) = crm.comments("supplies", 1)
        assert comment["author"] == "petrov" and comment["text"] == "Договор подписан, скан во вложении"


def _portal_script(webhook: str) -> dict[str, Any]:
    """A fast-bitrix24 script as its owner wrote it against their portal: its entityTypeId, categoryId, stage
    ids, user field names and enumeration item ids. Only `webhook` changes when it moves."""
    from fast_bitrix24 import Bitrix

    b24 = Bitrix(webhook, verbose=False)
    seen: dict[str, Any] = {}
    seen["types"] = [(t["id"], t["entityTypeId"]) for t in b24.get_all("crm.type.list")]
    seen["categories"] = [c["id"] for c in b24.get_all("crm.category.list", {"entityTypeId": 1046})]
    kinds = b24.get_all("crm.item.fields", {"entityTypeId": 1046})["ufCrm7Kind"]["items"]
    seen["kinds"] = {item["ID"]: item["VALUE"] for item in kinds}
    seen["wholesale at work"] = [(i["id"], i["ufCrm7_1700000001"]) for i in b24.get_all("crm.item.list", {
        "entityTypeId": 1046, "filter": {"stageId": "DT1046_12:WORK", "ufCrm7Kind": 81}})]
    seen["on Tverskaya"] = [i["id"] for i in b24.get_all("crm.item.list", {
        "entityTypeId": 1046, "filter": {"%ufCrm7_1700000001": "Тверская", "categoryId": 12},
        "select": ["id", "ufCrm7_1700000001"]})]
    seen["Anna's"] = [i["id"] for i in b24.get_all("crm.item.list", {
        "entityTypeId": 1046, "filter": {"assignedById": 17}})]
    one = b24.call("crm.item.get", {"entityTypeId": 1046, "id": 1})
    seen["one's responsible"] = one["assignedById"]
    seen["user 17"] = [(u["ID"], u["NAME"], u["LAST_NAME"], u["ACTIVE"]) for u in b24.get_all("user.get", {"ID": 17})]
    two = b24.call("crm.item.get", {"entityTypeId": 1046, "id": 2})
    seen["two"] = (two["title"], two["categoryId"], two["stageId"], two["ufCrm7Kind"], two["ufCrm7Parent"])
    added = b24.call("crm.item.add", {"entityTypeId": 1046, "fields": {
        "title": "Поставка №3", "categoryId": 12, "stageId": "DT1046_12:NEW", "ufCrm7Kind": 83,
        "ufCrm7_1700000001": "Невский пр., 1", "ufCrm7Sum": "99.90|RUB", "UF_CRM_7_PARENT": 1}})
    seen["added"] = (added["id"], added["stageId"], added["ufCrm7Kind"], added["ufCrm7_1700000001"])
    seen["added by"] = added["createdBy"]
    moved = b24.call("crm.item.update", {"entityTypeId": 1046, "id": added["id"],
                                         "fields": {"stageId": f"DT1046_12:{LONG}"}})
    seen["moved"] = moved["stageId"]
    seen["approving"] = [i["id"] for i in b24.get_all("crm.item.list", {
        "entityTypeId": 1046, "filter": {"stageId": f"DT1046_12:{LONG}"}})]
    return seen


@pytest.mark.db
def test_a_fast_bitrix24_script_written_against_the_portal_works_against_smartflow_serve(
        portal: str, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Pulled, then validated, applied and imported into a fresh database and served: the portal's own
    entityTypeId, categoryId, stage ids, field names and enumeration ids are the facade's, so the script
    runs unchanged but for its webhook URL."""
    import uvicorn

    from smartflow.http.app import create_app
    from tests.bitrix24.test_clients import in_a_thread_of_its_own
    from tests.web.support import free_port

    out = tmp_path / "pulled"
    pull(portal + HOOK, out, rate=100, language="ru")
    checked = CliRunner().invoke(main, ["validate", str(out)])
    assert checked.exit_code == 0, checked.output
    assert invoke(db_url, "apply", str(out)).exit_code == 0
    _departments_and_users(db_url, (out / "PULL.md").read_text("utf-8"), out)
    with Engine(db_url) as crm:
        token = crm.create_token("petrov")
    user_id = 23  # petrov's id on the portal: the webhook URL keeps its user too
    for args in (("supplies.csv", "--keep-ids", "bitrix_id", "--files", str(out)), ("supplies.history.csv",
                                                                                   "--history")):
        done = invoke(db_url, "import", "supplies", str(out / "data" / args[0]), *args[1:])
        assert done.exit_code == 0, done.output

    monkeypatch.setenv("SMARTFLOW_BITRIX24_LIMIT", "1000,100000")
    served = Engine(db_url)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(engine=served), host="127.0.0.1", port=port,
                                           log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    seen: dict[str, Any] = {}
    try:
        while not server.started:
            assert thread.is_alive(), "the server did not start"
            threading.Event().wait(0.05)

        def run() -> None:
            seen.update(_portal_script(f"http://127.0.0.1:{port}/rest/{user_id}/{token}/"))

        in_a_thread_of_its_own(run)
        hook = f"http://127.0.0.1:{port}/rest/{user_id}/{token}/"
        # the portal's upper names with useOriginalUfNames, and smartflow's own spelling still accepted
        original = httpx.post(hook + "crm.item.get", json={"entityTypeId": ETID, "id": 1, "useOriginalUfNames": "Y"},
                              timeout=HTTP_TIMEOUT)
        assert original.json()["result"]["item"]["UF_CRM_7_1700000001"] == "Тверская ул., 1, Москва", original.text
        ours = httpx.post(hook + "crm.item.update", json={"entityTypeId": ETID, "id": 1, "fields": {
            "UF_CRM_7_UF_1700000001": "Тверская ул., 3", "kind": "o83"}}, timeout=HTTP_TIMEOUT)
        assert ours.status_code == 200 and ours.json()["result"]["item"]["ufCrm7_1700000001"] == "Тверская ул., 3"
        assert ours.json()["result"]["item"]["ufCrm7Kind"] == 83
    finally:
        server.should_exit = True
        thread.join(timeout=30)
    assert seen["types"] == [(TYPE_ID, ETID)] and seen["categories"] == [CATEGORY]
    assert seen["kinds"] == {"81": "Опт", "83": "Розница"}
    assert seen["wholesale at work"] == [(1, "Тверская ул., 1, Москва")]
    assert seen["on Tverskaya"] == [1]
    assert seen["two"] == ("Поставка №2", CATEGORY, f"DT{ETID}_{CATEGORY}:NEW", 83, 1)
    # the portal's user ids: a responsible, a filter by it, user.get and the webhook's own user
    assert seen["Anna's"] == [1] and seen["one's responsible"] == 17
    assert seen["user 17"] == [("17", "Анна", "Иванова", True)]
    assert seen["added by"] == 23
    assert seen["added"] == (3, f"DT{ETID}_{CATEGORY}:NEW", 83, "Невский пр., 1")
    assert seen["moved"] == f"DT{ETID}_{CATEGORY}:{LONG}" and seen["approving"] == [3]
    with served:  # and smartflow itself holds it in its own terms
        item = served.get("supplies", 3)
        assert (item["stage"], item["kind"], item["uf_1700000001"], item["parent"]) == (
            "uc_client_approval_of_the_co", "o83", "Невский пр., 1", 1)


def test_a_portal_that_cannot_be_reached_leaves_nothing_behind(tmp_path: Path) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Portal)
    port = server.server_address[1]
    server.server_close()  # a port nobody listens on
    with pytest.raises(PullError, match=r"cannot reach 127\.0\.0\.1") as failed:
        pull(f"http://127.0.0.1:{port}{HOOK}", tmp_path / "moved", rate=100)
    assert "run the same command again" not in str(failed.value.hint)
    assert list(tmp_path.iterdir()) == []


def pipeline_id(document: dict[str, Any]) -> str:
    return next(iter(document["pipelines"]))
