"""The facade's wire as Bitrix24 clients depend on it (URL forms, parameters, envelope, paging, filters,
batch, errors), and smartflow's rules holding through it (rights, hidden fields, required fields,
transitions, forbid_self, history, triggers), against the served application."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from smartflow.http.app import create_app
from tests.bitrix24.support import CANARY, ETID, ITEMS, Portal, portal
from tests.runtime.support import module_url

__all__ = ["module_url", "portal"]
pytestmark = pytest.mark.db
LIST = "crm.item.list"


def _hook(portal: Portal, login: str = "boss") -> str:
    return f"/rest/{portal.ids[login]}/{portal.tokens[login]}"


def _ok(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body["time"]) >= {"start", "finish", "duration", "processing", "date_start", "date_finish"}
    return dict(body)


def _error(response: httpx.Response, status: int, code: str) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"] == code, body
    return str(body["error_description"])


def _new(portal: Portal, login: str = "anna", **fields: Any) -> dict[str, Any]:
    item = portal.result(login, "crm.item.add", {"entityTypeId": ETID, "fields": {"title": "fresh", **fields}})["item"]
    return dict(item)


def test_every_url_form_and_parameter_style_reaches_the_method(portal: Portal) -> None:
    http, hook, token = portal.http, _hook(portal), portal.tokens["boss"]
    answers = [
        http.post(f"{hook}/crm.item.list", json={"entityTypeId": ETID, "select": ["id"]}),
        http.post(f"{hook}/crm.item.List.json", json={"entityTypeId": str(ETID), "select": ["id"]}),
        http.post(f"{hook}/CRM.ITEM.LIST/", data={"entityTypeId": ETID, "select[0]": "id"}),
        http.get(f"{hook}/crm.item.list.json?entityTypeId={ETID}&select%5B0%5D=id"),
        http.post("/rest/crm.item.list.json", json={"entityTypeId": ETID, "select": ["id"], "auth": token}),
        http.get(f"/rest/crm.item.list?entityTypeId={ETID}&select[]=id&auth={token}"),
    ]
    for response in answers:
        body = _ok(response)
        assert (len(body["result"]["items"]), body["total"], body["next"]) == (50, ITEMS, 50)
        assert set(body["result"]["items"][0]) == {"id"}
    _error(http.post(f"/rest/{portal.ids['anna']}/{token}/crm.item.list", json={"entityTypeId": ETID}), 401,
           "NO_AUTH_FOUND")  # the token of someone else than the user in the URL
    _error(http.post(f"/rest/{portal.ids['boss']}/wrong/crm.item.list", json={}), 401, "NO_AUTH_FOUND")
    _error(http.post("/rest/crm.item.list", json={"entityTypeId": ETID}), 401, "NO_AUTH_FOUND")
    assert _error(http.post(f"{hook}/no.such.method"), 404, "ERROR_METHOD_NOT_FOUND") == "Method not found!"
    redirected = http.post(f"{hook}/crm.type.list/", follow_redirects=False)
    assert redirected.status_code == 200


def test_pages_of_fifty_by_start_and_the_uncounted_start_minus_one(portal: Portal) -> None:
    def page(**params: Any) -> dict[str, Any]:
        return _ok(portal.call("boss", LIST, {"entityTypeId": ETID, "select": ["id"], **params}))

    first, last = page(start=0), page(start=100)
    assert [i["id"] for i in first["result"]["items"]] == sorted(i["id"] for i in first["result"]["items"])
    assert (last["total"], "next" in last, len(last["result"]["items"])) == (ITEMS, False, ITEMS - 100)
    assert page(start=55)["result"] == page(start=50)["result"]  # a page starts at a multiple of 50
    keyset = page(start=-1, order={"id": "ASC"}, filter={">id": first["result"]["items"][-1]["id"]})
    assert (keyset["total"], "next" in keyset) == (0, False)
    assert keyset["result"]["items"][0]["id"] == page(start=50)["result"]["items"][0]["id"]
    descending = [page(order={key: way})["result"]["items"][0]["id"] for key, way in
                  [("ID", "DESC"), ("id", "desc"), ("ufCrm1Qty", "DESC"), ("UF_CRM_1_QTY", "DESC")]]
    assert len(set(descending)) == 1
    assert "sort directions" in _error(portal.call("boss", LIST, {"entityTypeId": ETID, "order": {"id": "UP"}}),
                                       400, "INVALID_ARG_VALUE")


@pytest.mark.parametrize(("flt", "expected"), [
    ({"ufCrm1Qty": 5}, [5]),
    ({"=UF_CRM_1_QTY": "5"}, [5]),
    ({">ufCrm1Qty": 127}, [128, 129, 130]),
    ({">=ufCrm1Qty": 128, "<ufCrm1Qty": 130}, [128, 129]),
    ({"<=ufCrm1Qty": 2}, [1, 2]),
    ({"@ufCrm1Qty": [3, 30, 300]}, [3, 30]),
    ({"!@ufCrm1Qty": list(range(1, 128))}, [128, 129, 130]),
    ({"!ufCrm1Qty": 1, "<ufCrm1Qty": 4}, [2, 3]),
    ({"%title": "сделка 12", "<ufCrm1Qty": 125}, [12, 120, 121, 122, 123, 124]),
    ({"ufCrm1Kind": 1, "<ufCrm1Qty": 7}, [2, 4, 6]),  # enum items by their integer ids
    ({"stageId": f"DT{ETID}_1:NEW", "<ufCrm1Qty": 3}, [1, 2]),
    ({"stageId": f"DT{ETID}_2:NEW", "<ufCrm1Qty": 3}, []),  # the same stage id in the other pipeline
    ({"categoryId": 2}, []),
])
def test_filter_operators(portal: Portal, flt: dict[str, Any], expected: list[int]) -> None:
    kinds = {i["ID"]: i["VALUE"] for i in portal.result("boss", "crm.item.fields", {"entityTypeId": ETID})
             ["fields"]["ufCrm1Kind"]["items"]}
    if "ufCrm1Kind" in flt:  # the id of "new client", whatever number it was given
        flt = {**flt, "ufCrm1Kind": next(k for k, v in kinds.items() if v == "Новый клиент")}
    body = _ok(portal.call("boss", LIST, {"entityTypeId": ETID, "filter": flt, "select": ["ufCrm1Qty"]}))
    assert sorted(i["ufCrm1Qty"] for i in body["result"]["items"]) == expected
    assert body["total"] == len(expected)


def test_fields_hidden_from_a_user_are_absent_everywhere_and_unknown_to_filters(portal: Portal) -> None:
    for login, hidden in (("boss", False), ("vera", True)):
        item = portal.result(login, "crm.item.get", {"entityTypeId": ETID, "id": 1})["item"]
        fields = portal.result(login, "crm.item.fields", {"entityTypeId": ETID})["fields"]
        listed = portal.call(login, LIST, {"entityTypeId": ETID, "select": ["*", "ufCrm1SecretNote"]}).text
        assert ("ufCrm1SecretNote" in item, "ufCrm1SecretNote" in fields, CANARY in listed) == (not hidden,) * 3
    unknown = _error(portal.call("vera", LIST, {"entityTypeId": ETID, "filter": {"nothing": 1}}), 400,
                     "INVALID_ARG_VALUE")
    secret = _error(portal.call("vera", LIST, {"entityTypeId": ETID, "filter": {"ufCrm1SecretNote": CANARY}}), 400,
                    "INVALID_ARG_VALUE")
    assert secret == unknown.replace("nothing", "ufCrm1SecretNote")


def test_values_in_bitrix_shapes_and_both_spellings_of_names(portal: Portal) -> None:
    fields = portal.result("boss", "crm.item.fields", {"entityTypeId": ETID})["fields"]
    assert {k: v["type"] for k, v in fields.items() if k.startswith("uf")} == {
        "ufCrm1Amount": "money", "ufCrm1Qty": "integer", "ufCrm1Urgent": "boolean", "ufCrm1Kind": "enumeration",
        "ufCrm1Due": "date", "ufCrm1SecretNote": "string", "ufCrm1Approver": "employee"}
    assert fields["ufCrm1Qty"]["upperName"] == "UF_CRM_1_QTY"
    original = portal.result("boss", "crm.item.fields", {"entityTypeId": ETID, "useOriginalUfNames": "Y"})["fields"]
    assert "UF_CRM_1_QTY" in original and "ufCrm1Qty" not in original
    kind = int(fields["ufCrm1Kind"]["items"][1]["ID"])
    item = _new(portal, UF_CRM_1_AMOUNT="99.5|RUB", ufCrm1Urgent="N", ufCrm1Kind=kind,
                ufcrm1approver=portal.ids["boss"], assignedById=portal.ids["anna"], ufCrm1Due="2027-03-01")
    assert (item["ufCrm1Amount"], item["ufCrm1Urgent"], item["ufCrm1Kind"], item["ufCrm1Approver"]) == \
        ("99.50|RUB", "N", kind, portal.ids["boss"])
    assert (item["assignedById"], item["ufCrm1Due"][:10], item["stageId"], item["categoryId"]) == \
        (portal.ids["anna"], "2027-03-01", f"DT{ETID}_1:NEW", 1)
    assert portal.db.admin.get("deal", item["id"])["kind"] == "repeat"
    refused = portal.call("anna", "crm.item.add", {"entityTypeId": ETID, "fields": {"ufCrm1Kind": 999}})
    assert "ufCrm1Kind" in _error(refused, 400, "CRM_FIELD_ERROR_VALUE_NOT_VALID")
    portal.result("anna", "crm.item.delete", {"entityTypeId": ETID, "id": item["id"]})


def test_types_categories_and_stages(portal: Portal) -> None:
    types = portal.result("boss", "crm.type.list")["types"]
    assert [(t["id"], t["entityTypeId"], t["title"], t["code"]) for t in types] == [(1, ETID, "Сделка", "deal")]
    assert portal.result("boss", "crm.type.get", {"id": 1})["type"]["entityTypeId"] == ETID
    _error(portal.call("boss", "crm.type.get", {"id": 99}), 400, "NOT_FOUND")
    categories = portal.result("boss", "crm.category.list", {"entityTypeId": ETID})["categories"]
    assert [(c["id"], c["name"], c["isDefault"]) for c in categories] == [(1, "Продажи", "Y"), (2, "Экспресс", "N")]
    stages = portal.result("boss", "crm.status.list", {"filter": {"ENTITY_ID": f"DYNAMIC_{ETID}_STAGE_1"}})
    assert [(s["STATUS_ID"], s["SEMANTICS"], s["NAME"]) for s in stages] == [
        (f"DT{ETID}_1:NEW", None, "Новая"), (f"DT{ETID}_1:OFFER", None, "Предложение"),
        (f"DT{ETID}_1:WON", "S", "Успех"), (f"DT{ETID}_1:LOST", "F", "Провал")]
    assert all(isinstance(s["ID"], str) and s["CATEGORY_ID"] == "1" for s in stages)
    users = portal.result("anna", "user.get", {"ID": portal.ids["vera"]})
    assert [(u["ID"], u["NAME"]) for u in users] == [(str(portal.ids["vera"]), "Vera")]


def test_departments_and_each_user_s_department_to_an_administrator(portal: Portal) -> None:
    """department.get in Bitrix24's shape, filtered and sorted; user.get's UF_DEPARTMENT. smartflow shows its
    departments to administrators only (one rule, Engine.directory, on every door): anyone else is refused."""
    admin = portal.db.admin
    admin.add_department("40", "Продажи / Sales")
    admin.add_department("41", "Экспресс-продажи", "40", head="anna")
    admin.edit_user("anna", department="41")
    try:
        assert portal.result("boss", "department.get") == [
            {"ID": "40", "NAME": "Продажи / Sales", "SORT": 500, "UF_HEAD": "0"},
            {"ID": "41", "NAME": "Экспресс-продажи", "SORT": 500, "UF_HEAD": str(portal.ids["anna"]), "PARENT": "40"}]
        assert [d["ID"] for d in portal.result("boss", "department.get", {"PARENT": "40"})] == ["41"]
        assert [d["ID"] for d in portal.result("boss", "department.get", {"sort": "NAME", "order": "DESC"})] == [
            "41", "40"]
        [anna] = portal.result("boss", "user.get", {"ID": portal.ids["anna"]})
        assert anna["UF_DEPARTMENT"] == [41]
        _error(portal.call("anna", "department.get"), 400, "ACCESS_DENIED")
        [herself] = portal.result("anna", "user.get", {"ID": portal.ids["anna"]})
        assert herself["UF_DEPARTMENT"] == []  # departments are an administrator's to see
    finally:
        admin.edit_user("anna", department=None)


def test_batch_with_references_errors_halt_and_php_shapes(portal: Portal) -> None:
    body = _ok(portal.call("boss", "batch", {"halt": 0, "cmd": {
        "first": f"crm.item.list?entityTypeId={ETID}&select[]=id&order[id]=DESC",
        "one": f"crm.item.get?entityTypeId={ETID}&id=$result[first][items][0][id]",
        "bad": f"crm.item.get?entityTypeId={ETID}&id=987654",
        "dangling": f"crm.item.list?entityTypeId={ETID}&filter[>id]=$result[first][items][77][id]&start=-1",
        "nested": "batch?cmd[0]=user.get",
        "after": "crm.type.list?__order=x&"}}))["result"]
    assert body["result"]["one"]["item"]["id"] == body["result"]["first"]["items"][0]["id"]
    assert body["result_error"]["bad"]["error"] == "NOT_FOUND"
    assert body["result_error"]["dangling"]["error"] == "INVALID_ARG_VALUE"  # never read as 0: no silent restart
    assert body["result_error"]["nested"]["error"] == "ERROR_BATCH_METHOD_NOT_ALLOWED"
    assert "after" in body["result"] and body["result_total"] == {"first": portal.db.admin.count("deal"), "after": 1}
    assert body["result_next"] == {"first": 50}
    halted = _ok(portal.call("boss", "batch", {"halt": True, "cmd": [
        f"crm.item.get?entityTypeId={ETID}&id=1", f"crm.item.get?entityTypeId={ETID}&id=987654",
        "crm.type.list"]}))["result"]
    assert isinstance(halted["result"], list) and len(halted["result"]) == 1  # keys 0..n-1: a JSON list
    assert list(halted["result_error"]) == ["1"] and halted["result_next"] == []  # empty: PHP's []


def test_rules_hold_through_the_facade(portal: Portal) -> None:
    deals = portal.db.admin.count("deal")
    _error(portal.call("vera", "crm.item.add", {"entityTypeId": ETID, "fields": {"title": "x"}}), 400, "ACCESS_DENIED")
    assert portal.db.admin.count("deal") == deals

    item = _new(portal, "anna")
    move = {"entityTypeId": ETID, "id": item["id"]}
    required = _error(portal.call("anna", "crm.item.update", {**move, "fields": {"stageId": f"DT{ETID}_1:OFFER"}}),
                      400, "STAGE_TRANSITION_NOT_ALLOWED")
    assert "requires `amount`" in required
    _error(portal.call("anna", "crm.item.update", {**move, "fields": {"stageId": "WON"}}), 400,
           "STAGE_TRANSITION_NOT_ALLOWED")
    offered = portal.result("anna", "crm.item.update", {**move, "fields": {"stageId": "OFFER",
                                                                           "ufCrm1Amount": "10|RUB"}})
    assert offered["item"]["stageId"] == f"DT{ETID}_1:OFFER"
    maker = _error(portal.call("anna", "crm.item.update", {**move, "fields": {"stageId": "WON"}}), 400,
                   "STAGE_TRANSITION_NOT_ALLOWED")  # forbid_self: not by the one who created it
    assert maker
    won = portal.result("boss", "crm.item.update", {**move, "fields": {"stageId": f"DT{ETID}_1:WON"}})["item"]
    assert won["stageId"] == f"DT{ETID}_1:WON" and won["movedBy"] == portal.ids["boss"]

    history = portal.result("anna", "crm.stagehistory.list", {"entityTypeId": ETID, "filter": {"OWNER_ID": item["id"]}})
    assert [(h["STAGE_ID"].split(":")[1], h["STAGE_SEMANTIC_ID"], h["TYPE_ID"]) for h in history["items"]] == [
        ("NEW", "P", 1), ("OFFER", "P", 2), ("WON", "S", 2)]
    rows = portal.db.admin.history("deal", item["id"])
    assert {row["via"] for row in rows} == {"bitrix24"} and {row["who"] for row in rows} == {"anna", "boss"}

    portal.result("anna", "crm.item.update", {**move, "fields": {"ufCrm1Urgent": "Y"}})  # a trigger comments
    comments = portal.result("anna", "crm.timeline.comment.list",
                             {"filter": {"ENTITY_ID": item["id"], "ENTITY_TYPE": f"dynamic_{ETID}"}})
    assert [c["COMMENT"] for c in comments] == ["Срочно! Urgent: fresh"]
    added = portal.result("anna", "crm.timeline.comment.add", {"fields": {
        "ENTITY_ID": item["id"], "ENTITY_TYPE": f"dynamic_{ETID}", "COMMENT": "Привет, @boss: hello"}})
    assert isinstance(added, int)
    assert [c["text"] for c in portal.db.admin.comments("deal", item["id"])] == ["Привет, @boss: hello"]
    comments = portal.result("vera", "crm.timeline.comment.list",
                             {"filter": {"ENTITY_ID": item["id"], "ENTITY_TYPE": f"dynamic_{ETID}"}})
    assert [(c["COMMENT"], c["AUTHOR_ID"]) for c in comments] == [("Срочно! Urgent: fresh", "0"),
                                                                  ("Привет, @boss: hello", str(portal.ids["anna"]))]
    assert comments[1]["ID"] == str(added)
    assert [m["item_id"] for m in portal.db.admin.as_user("boss").mentions()] == [item["id"]]
    _error(portal.call("anna", "crm.timeline.comment.add", {"fields": {
        "ENTITY_ID": 999999, "ENTITY_TYPE": f"dynamic_{ETID}", "COMMENT": "nobody"}}), 400, "NOT_FOUND")
    _error(portal.call("anna", "crm.timeline.comment.add", {"fields": {
        "ENTITY_ID": item["id"], "ENTITY_TYPE": f"dynamic_{ETID}", "COMMENT": " "}}), 400, "INVALID_ARG_VALUE")

    portal.result("anna", "crm.item.delete", {"entityTypeId": ETID, "id": item["id"]})
    _error(portal.call("anna", "crm.item.get", {"entityTypeId": ETID, "id": item["id"]}), 400, "NOT_FOUND")


def test_throttling_answers_query_limit_exceeded(portal: Portal, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SMARTFLOW_BITRIX24_LIMIT", "0.0001,3")  # a bucket of 3 that practically never drains
    with TestClient(create_app(engine=portal.db.admin)) as client:
        answers = [client.post(f"{_hook(portal, 'anna')}/crm.type.list").status_code for _ in range(4)]
        other = client.post(f"{_hook(portal, 'vera')}/crm.type.list")
        refused = client.post(f"{_hook(portal, 'anna')}/crm.type.list")
    assert answers == [200, 200, 200, 503] and other.status_code == 200
    assert refused.json()["error"] == "QUERY_LIMIT_EXCEEDED"


def test_a_role_held_in_one_pipeline_reaches_its_items_alone_through_the_facade(portal: Portal) -> None:
    """The facade has no rule of its own: a seller of the express pipeline only lists none of the main
    pipeline's deals, and one of them answers as a missing id does."""
    portal.db.admin.add_user("expo", "Expo", ["seller"], processes=["deal"], pipelines=["express"])
    portal.ids["expo"], portal.tokens["expo"] = portal.db.user_id("expo"), portal.db.admin.create_token("expo")
    seller = portal.result("anna", LIST, {"entityTypeId": ETID, "select": ["id", "categoryId"]})
    assert seller["items"] and {item["categoryId"] for item in seller["items"]} == {1}  # every deal is in main
    assert portal.result("expo", LIST, {"entityTypeId": ETID, "select": ["id"]})["items"] == []
    main_deal = seller["items"][0]["id"]
    hidden = _error(portal.call("expo", "crm.item.get", {"entityTypeId": ETID, "id": main_deal}), 400, "NOT_FOUND")
    missing = _error(portal.call("expo", "crm.item.get", {"entityTypeId": ETID, "id": 99999}), 400, "NOT_FOUND")
    assert hidden.replace(str(main_deal), "N") == missing.replace("99999", "N")
    assert [t["code"] for t in portal.result("expo", "crm.type.list")["types"]] == ["deal"]
