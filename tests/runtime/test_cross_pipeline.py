"""No side doors: a move into another pipeline follows that pipeline's transitions (`from:
pipeline.stage`, or its first stage when it declares none from the item's pipeline) and every rule of
the stage it enters; an item created in a later stage is held to the way of transitions from the
first stage, taken by its creator; a refusal never names a field the user may not see; no right to
move an item is 403, a refused move 409. Through the services, the HTTP API, the CLI, import and
automation, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from smartflow.cli.exits import EXIT_DENIED, EXIT_MOVE_REFUSED
from smartflow.data.importer import ImportOptions
from smartflow.errors import InvalidValue, PermissionDenied, TransitionNotAllowed
from smartflow.http.app import create_app
from tests.runtime.support import Db, invoke, module_url

__all__ = ["module_url"]  # the fixture, imported for pytest

ROLES: dict[str, Any] = {"kind": "Roles", "roles": {
    "worker": {"title": {"ru": "Сотрудник", "en": "Worker"}}, "senior": {"title": {"ru": "Старший", "en": "Senior"}},
    "viewer": {"title": {"ru": "Наблюдатель", "en": "Viewer"}}, "own": {"title": {"ru": "Своё", "en": "Own"}},
}}
CANDIDATE: dict[str, Any] = {
    "kind": "Process", "id": "candidate", "title": {"ru": "Кандидат", "en": "Candidate"},
    "fields": {"email": {"type": "email"}, "score": {"type": "integer"}, "mentor": {"type": "user"},
               "secret_note": {"type": "text"}, "reviewer": {"type": "user"}},
    "pipelines": {
        "hiring": {"title": {"ru": "Найм", "en": "Hiring"}, "default": True, "stages": {
            "new": {"title": {"ru": "Новый", "en": "New"}},
            "interview": {"title": {"ru": "Собеседование", "en": "Interview"}},
            "hired": {"title": {"ru": "Принят", "en": "Hired"}, "semantic": "success"},
            "lost": {"title": {"ru": "Отказ", "en": "Lost"}, "semantic": "failure"}},
            "transitions": [{"from": "new", "to": "interview"}, {"from": "interview", "to": "hired"},
                            {"from": "*", "to": "lost"}]},
        "internship": {"title": {"ru": "Стажировка", "en": "Internship"}, "stages": {
            "application": {"title": {"ru": "Заявка", "en": "Application"}},
            "internship": {"title": {"ru": "Стажировка", "en": "On internship"}, "required": ["mentor"]},
            "gated": {"title": {"ru": "Закрытый", "en": "Gated"}, "required": ["secret_note"]},
            "accepted": {"title": {"ru": "Принят", "en": "Accepted"}, "semantic": "success"},
            "declined": {"title": {"ru": "Не принят", "en": "Declined"}, "semantic": "failure"}},
            "transitions": [
                {"from": ["hiring.new"], "to": "application"},
                # the guarded way in: a senior other than the author, a score of 50, a mentor
                {"from": "hiring.interview", "to": "internship", "roles": ["senior"], "forbid_self": ["created_by"],
                 "when": "score is not none and score >= 50"},
                {"from": "hiring.interview", "to": "gated"},
                {"from": "application", "to": "internship", "roles": ["senior"]},
                {"from": "internship", "to": "accepted", "roles": ["senior"], "when": "score >= 70"},
                {"from": "gated", "to": "accepted"},
                {"from": "*", "to": "declined"}]},
        "side": {"title": {"ru": "Сбоку", "en": "Side"}, "stages": {  # no transitions: any move within it
            "start": {"title": {"ru": "Старт", "en": "Start"}},
            "end": {"title": {"ru": "Конец", "en": "End"}, "semantic": "success"},
            "gone": {"title": {"ru": "Ушёл", "en": "Gone"}, "semantic": "failure"}}},
        "senior_only": {"title": {"ru": "Старшие", "en": "Seniors"}, "stages": {
            "draft": {"title": {"ru": "Черновик", "en": "Draft"}},
            "check": {"title": {"ru": "Проверка", "en": "Check"}},
            "won": {"title": {"ru": "Успех", "en": "Won"}, "semantic": "success", "required": ["score"]},
            "dropped": {"title": {"ru": "Брошен", "en": "Dropped"}, "semantic": "failure"}},
            "transitions": [{"from": "draft", "to": "check"}, {"from": "check", "to": "won", "roles": ["senior"]},
                            {"from": "*", "to": "dropped"}]},
    },
    "triggers": [{"id": "fast_track", "on": "field_changed", "field": "score", "to": 99,
                  "do": [{"move": {"stage": "internship", "pipeline": "internship"}}]}],
    "permissions": {"worker": "all", "senior": "all",
                    "viewer": {"read": "all", "create": "all", "move": "all", "hidden_fields": ["secret_note"]},
                    "own": {"read": "all", "create": "all", "update": "own", "move": "own"}},
}
PURCHASE: dict[str, Any] = {
    "kind": "Process", "id": "buy", "title": {"ru": "Закупка", "en": "Purchase"},
    "fields": {"estimate": {"type": "integer"}, "contract": {"type": "string"}},
    "pipelines": {"main": {"title": "Main", "default": True, "stages": {
        "estimate": {"title": {"ru": "Смета", "en": "Estimate"}},
        "contract": {"title": {"ru": "Договор", "en": "Contract"}},
        "delivery": {"title": {"ru": "Поставка", "en": "Delivery"}, "required": ["contract"]},
        "done": {"title": {"ru": "Готово", "en": "Done"}, "semantic": "success"},
        "cancelled": {"title": {"ru": "Отменена", "en": "Cancelled"}, "semantic": "failure"}},
        "transitions": [{"from": "estimate", "to": "contract", "when": "estimate > 0"},
                        {"from": "contract", "to": "delivery", "forbid_self": ["created_by"]},
                        {"from": "delivery", "to": "done"}, {"from": "*", "to": "cancelled"}]}},
    "triggers": [{"id": "spawn", "on": "stage_entered", "stage": "cancelled", "run_as": "author",
                  "do": [{"create_item": {"process": "buy", "stage": "delivery", "title": "повтор",
                                          "fields": {"estimate": "5", "contract": "K-2"}}}]}],
    "permissions": {"worker": "all", "senior": "all"},
}
MEMO: dict[str, Any] = {
    "kind": "Process", "id": "memo", "title": {"ru": "Записка", "en": "Memo"},
    "fields": {"code": {"type": "string", "required": True}},
    "pipelines": {"main": {"title": "Main", "default": True, "stages": {
        "open": {"title": "Open"}, "done": {"title": "Done", "semantic": "success"},
        "dropped": {"title": "Dropped", "semantic": "failure"}}}},
    "permissions": {"worker": "all", "viewer": {"read": "all", "create": "all", "hidden_fields": ["code"]}},
}
USERS = {"anna": ["worker"], "boris": ["senior"], "vera": ["senior"], "peek": ["viewer"], "olga": ["own"],
         "author": ["worker"]}
DELIVERY = {"title": "Щебень", "estimate": "10", "contract": "K-1"}


@pytest.fixture(scope="module")
def db(module_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Db]:
    database = Db(module_url, tmp_path_factory.mktemp("defs"), ROLES, CANDIDATE, PURCHASE, MEMO)
    for login, roles in USERS.items():
        database.admin.add_user(login, login.title(), roles)
    yield database
    database.close()


@pytest.fixture(scope="module")
def client(db: Db) -> Iterator[TestClient]:
    with TestClient(create_app(engine=db.admin), raise_server_exceptions=False) as found:
        yield found


def call(db: Db, client: TestClient, login: str, method: str, path: str, **kwargs: Any) -> Any:
    token = db.admin.create_token(login)
    return client.request(method, f"/api/v1/processes/{path}", headers={"Authorization": f"Bearer {token}"},
                          **kwargs)


def where(db: Db, item_id: int) -> tuple[str, str, int]:
    row = db.row("candidate", item_id)
    assert row is not None
    return row["pipeline"], row["stage"], row["version"]


def new_candidate(db: Db, login: str = "anna", **values: Any) -> int:
    return int(db.as_user(login).create("candidate", {"title": "Иванов Иван", **values}))


# ---- moves into another pipeline -------------------------------------------------------------


def test_a_move_into_another_pipeline_follows_its_declared_transitions(db: Db) -> None:
    anna = db.as_user("anna")
    item = new_candidate(db)
    before = where(db, item)
    reason = ("no transition leads from `hiring.new` to `internship` in pipeline `internship` (from `hiring.new` "
              "items may enter it at: `application`)")
    assert anna.explain("candidate", item, "internship", "internship") == [reason, "stage `internship` requires "
                                                                           "`mentor`, which is empty"]
    with pytest.raises(TransitionNotAllowed) as refused:
        anna.move("candidate", item, "internship", pipeline="internship")
    assert refused.value.reasons[0] == reason
    assert where(db, item) == before and db.history_rows("candidate", item) == 1  # nothing written
    assert anna.move("candidate", item, "application", pipeline="internship")["pipeline"] == "internship"
    assert where(db, item)[:2] == ("internship", "application")
    # from a stage the declared transitions do not name, the pipeline is closed
    later = new_candidate(db)
    anna.move("candidate", later, "interview")
    with pytest.raises(TransitionNotAllowed, match=r"no transition leads from `hiring\.interview` to `application`"):
        anna.move("candidate", later, "application", pipeline="internship")


def test_the_guarded_way_in_holds_roles_forbid_self_condition_and_required_fields(db: Db) -> None:
    boris, vera = db.as_user("boris"), db.as_user("vera")
    item = new_candidate(db, "boris")
    boris.move("candidate", item, "interview")
    label = "the transition `hiring.interview` → `internship.internship`"
    assert db.as_user("anna").explain("candidate", item, "internship", "internship") == [
        f"{label}: only `senior` may take it; the condition `score is not none and score >= 50` is false "
        "(score = empty)", "stage `internship` requires `mentor`, which is empty"]
    boris.update("candidate", item, {"score": 60, "mentor": "vera"})
    assert boris.explain("candidate", item, "internship", "internship") == [
        f"{label}: the item names you in `created_by`, and someone else must take it (`forbid_self`)"]
    with pytest.raises(TransitionNotAllowed, match="someone else must take it"):
        boris.move("candidate", item, "internship", pipeline="internship")
    assert where(db, item)[:2] == ("hiring", "interview")
    assert vera.explain("candidate", item, "internship", "internship") == []
    vera.move("candidate", item, "internship", pipeline="internship")
    assert where(db, item)[:2] == ("internship", "internship")


def test_a_pipeline_that_declares_no_way_in_is_entered_at_its_first_stage(db: Db) -> None:
    """The issue's case: an item of a pipeline without transitions may not jump into the guarded
    pipeline's success stage (senior only, from the stage before it, with its required field)."""
    anna = db.as_user("anna")
    item = int(anna.create("candidate", {"title": "Сбоку"}, pipeline="side"))
    reason = ("pipeline `senior_only` declares no transition from pipeline `side`: its items enter it at its first "
              "stage `draft`")
    assert anna.explain("candidate", item, "won", "senior_only") == [reason, "stage `won` requires `score`, "
                                                                     "which is empty"]
    with pytest.raises(TransitionNotAllowed):
        anna.move("candidate", item, "won", pipeline="senior_only")
    assert where(db, item)[:2] == ("side", "start")
    anna.move("candidate", item, "draft", pipeline="senior_only")
    with pytest.raises(TransitionNotAllowed) as back:  # `side` declares no way in either: its first stage only
        anna.move("candidate", item, "end", pipeline="side")
    assert str(back.value) == (f"candidate {item} cannot move from `senior_only.draft` to `side.end`: pipeline "
                               "`side` declares no transition from pipeline `senior_only`: its items enter it at its "
                               "first stage `start`")
    assert back.value.hint == f"see `smartflow item explain candidate {item} --to end --pipeline side`"
    anna.move("candidate", item, "start", pipeline="side")
    assert where(db, item)[:2] == ("side", "start")


def test_a_refusal_never_names_a_field_the_user_may_not_see(db: Db) -> None:
    peek = db.as_user("peek")
    item = int(peek.create("candidate", {"title": "Скрытый"}))
    peek.move("candidate", item, "interview")
    hidden = "stage `gated` requires a field you may not see, which is empty"
    assert peek.explain("candidate", item, "gated", "internship") == [hidden]
    with pytest.raises(TransitionNotAllowed) as refused:
        peek.move("candidate", item, "gated", pipeline="internship")
    assert "secret_note" not in str(refused.value) and refused.value.reasons == [hidden]
    assert db.as_user("anna").explain("candidate", item, "gated", "internship") == [
        "stage `gated` requires `secret_note`, which is empty"]
    # created straight into the stage: the same words, and no field named in the problem either
    with pytest.raises(InvalidValue) as created:
        peek.create("candidate", {"title": "Скрытый"}, pipeline="internship", stage="gated")
    assert str(created.value) == "stage `gated` requires a field you may not see"
    assert created.value.field is None


def test_a_required_field_the_creator_may_not_see_is_not_named(db: Db, client: TestClient) -> None:
    with pytest.raises(InvalidValue) as refused:
        db.as_user("peek").create("memo", {"title": "Записка"})
    assert (str(refused.value), refused.value.field) == ("a field you may not see is required, and it is empty", None)
    answer = call(db, client, "peek", "POST", "memo/items", json={"title": "Записка"})
    assert answer.status_code == 422 and "code" not in answer.json().get("field", "") and "`code`" not in answer.text
    with pytest.raises(InvalidValue, match=r"^field `code` is required$"):  # named to whoever may see it
        db.as_user("anna").create("memo", {"title": "Записка"})


# ---- creating into a later stage -------------------------------------------------------------


def test_creating_past_a_forbid_self_transition_is_refused_for_its_author(db: Db) -> None:
    count = db.count("p_buy")
    author = db.as_user("author")
    with pytest.raises(TransitionNotAllowed) as refused:
        author.create("buy", dict(DELIVERY), stage="delivery")
    assert refused.value.reasons == ["the transition `contract` → `delivery`: the item names you in `created_by`, "
                                     "and someone else must take it (`forbid_self`)"]
    assert db.count("p_buy") == count
    # a condition on the way is held too, on the values given
    with pytest.raises(TransitionNotAllowed, match=r"the transition `estimate` → `contract`: the condition "
                                                   r"`estimate > 0` is false \(estimate = 0\)"):
        author.create("buy", {**DELIVERY, "estimate": "0"}, stage="contract")
    assert db.count("p_buy") == count
    made = author.create("buy", dict(DELIVERY), stage="contract")  # the steps before the approval are the author's
    assert db.row("buy", made)["stage"] == "contract"  # type: ignore[index]
    assert db.admin.get("buy", db.admin.create("buy", dict(DELIVERY), stage="delivery"))["stage"] == "delivery"


def test_a_role_on_the_way_is_held_for_a_create(db: Db) -> None:
    anna = db.as_user("anna")
    with pytest.raises(TransitionNotAllowed, match=r"the transition `check` → `won`: only `senior` may take it"):
        anna.create("candidate", {"title": "В обход", "score": 1}, pipeline="senior_only", stage="won")
    made = db.as_user("boris").create("candidate", {"title": "Можно", "score": 1}, pipeline="senior_only",
                                      stage="won")
    assert where(db, made)[:2] == ("senior_only", "won")


def test_automation_moves_into_another_pipeline_by_the_same_rule(db: Db) -> None:
    """The `fast_track` trigger (the administrator's rights) tries to jump a new candidate into the middle
    of the internship: refused, and so is the change that fired it."""
    item = new_candidate(db)
    before = where(db, item)
    with pytest.raises(Exception, match=r"no transition leads from `hiring\.new` to `internship`"):
        db.as_user("anna").update("candidate", item, {"score": 99})
    assert where(db, item) == before and db.row("candidate", item)["score"] is None  # type: ignore[index]


def test_import_and_automation_create_through_the_same_rule(db: Db, tmp_path: Path) -> None:
    sheet = tmp_path / "buy.csv"
    sheet.write_text("Title,Stage,estimate,contract\nЩебень,Delivery,10,K-1\nПесок,Contract,10,K-3\n",
                     encoding="utf-8")
    count = db.count("p_buy")
    result = db.as_user("author").import_file("buy", sheet, ImportOptions())
    assert (result.created, result.failed_rows) == (1, 1)
    assert "someone else must take it (`forbid_self`)" in result.problems[0].message
    assert db.count("p_buy") == count + 1
    # the trigger runs as `author`: its create_item into `delivery` is refused, and so is the move that fired it
    item = db.as_user("anna").create("buy", {"title": "Отмена", "estimate": "1"})
    with pytest.raises(Exception, match="someone else must take it"):
        db.as_user("anna").move("buy", item, "cancelled")
    assert db.row("buy", item)["stage"] == "estimate"  # type: ignore[index]
    assert db.count("p_buy") == count + 2


# ---- rights: 403, rules: 409 -----------------------------------------------------------------


def test_no_right_to_move_the_item_is_403_and_a_refused_move_409(db: Db, client: TestClient) -> None:
    item = new_candidate(db, "anna")
    before = where(db, item)
    denied = call(db, client, "olga", "POST", f"candidate/items/{item}/move", json={"stage": "interview"})
    assert denied.status_code == 403 and denied.json()["code"] == "permission-denied", denied.text
    assert "your roles allow moving only own items" in denied.json()["detail"]
    with pytest.raises(PermissionDenied):
        db.as_user("olga").move("candidate", item, "interview")
    refused = call(db, client, "anna", "POST", f"candidate/items/{item}/move",
                   json={"stage": "internship", "pipeline": "internship"})
    assert refused.status_code == 409 and refused.json()["code"] == "move-refused", refused.text
    assert any("from `hiring.new` items may enter it at: `application`" in r for r in refused.json()["reasons"])
    assert where(db, item) == before
    cli = invoke(db.url, "item", "move", "candidate", str(item), "interview", as_user="olga")
    assert cli.exit_code == EXIT_DENIED and "your roles allow moving only own items" in cli.stderr
    cli = invoke(db.url, "item", "move", "candidate", str(item), "internship", "--pipeline", "internship",
                 as_user="anna")
    assert cli.exit_code == EXIT_MOVE_REFUSED
    assert "no transition leads from `hiring.new` to `internship` in pipeline `internship`" in cli.stderr
    assert where(db, item) == before
    moved = call(db, client, "anna", "POST", f"candidate/items/{item}/move",
                 json={"stage": "application", "pipeline": "internship"})
    assert moved.status_code == 200 and moved.json()["pipeline"] == "internship", moved.text


def test_a_create_past_an_approval_is_refused_over_http_and_the_cli(db: Db, client: TestClient) -> None:
    count = db.count("p_buy")
    response = call(db, client, "author", "POST", "buy/items", json={**DELIVERY, "stage": "delivery"})
    assert response.status_code == 409 and response.json()["code"] == "move-refused", response.text
    assert "someone else must take it (`forbid_self`)" in response.json()["detail"]
    cli = invoke(db.url, "item", "create", "buy", "--stage", "delivery", "--set", "title=Щебень", "--set",
                 "estimate=10", "--set", "contract=K-1", as_user="author")
    assert cli.exit_code == EXIT_MOVE_REFUSED and "(`forbid_self`)" in cli.stderr
    assert db.count("p_buy") == count
    hidden = call(db, client, "peek", "POST", "candidate/items",
                  json={"title": "Скрытый", "pipeline": "internship", "stage": "gated"})
    assert hidden.status_code == 422 and "secret_note" not in hidden.text, hidden.text
