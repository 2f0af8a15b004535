"""The rules of values, stages and history, through the Python API (smartflow.Engine).

Types and values: each bad value is refused with one message naming the field, the value and the
rule, and nothing is written. Stages: transitions, conditions, required fields, pipelines,
closed_at. The recycle bin, history rows, optimistic versions, Unicode, filters, sort and paging.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from smartflow import Engine
from smartflow.errors import ConflictError, InvalidValue, NotFound, PermissionDenied, TransitionNotAllowed
from tests.runtime.support import DOCUMENTS, Db, module_url

__all__ = ["module_url"]  # the fixture, imported for pytest

# title, price, day, grade, qty, label, tags — typed as on a command line ("" and None: not given)
LOTS: list[tuple[str, str | None, str | None, str | None, int | None, str | None, str]] = [
    ("Бетон М300", "100.00", "2026-01-10", "retail", 5, "Alpha", "x, y"),
    ("бетон м200", "250.50", "2026-02-01", "bulk", None, "beta", "y"),
    ("Кирпич", None, None, None, 5, "", ""),
    ("Песок", "1000", "2026-03-15", "retail", 1, None, "z"),
    ("Щебень", "99.99 USD", "2025-12-31", "bulk", 7, "Гамма", ""),
    ("ЁЛКА", "100", "2026-01-10", None, None, "delta", "x"),
    ("Арматура 50%", "5000", "2026-06-30", "retail", 5, "alpha", "x, z"),
]


class Rules(Db):
    lots: dict[str, int]

    def worker(self) -> Engine:
        return self.as_user("w")


@pytest.fixture(scope="module")
def db(module_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rules]:
    rules = Rules(module_url, tmp_path_factory.mktemp("defs"), *DOCUMENTS)
    admin = rules.admin
    for login, roles in (("w", ["worker"]), ("w2", ["worker"]), ("ap", ["approver"]), ("clerk", ["clerk"]),
                         ("r", ["restricted"])):
        admin.add_user(login, login.upper(), roles)
    rules.lots = {}
    for title, price, day, grade, qty, label, tags in LOTS:
        values: dict[str, Any] = {"title": title, "price": price, "day": day, "grade": grade, "qty": qty,
                                  "label": label, "tags": tags}
        typed = {k: str(v) for k, v in values.items() if v is not None}
        rules.lots[title] = admin.create("lot", typed, typed_text=True)
    yield rules
    rules.close()


def item_count(db: Db, process: str = "purchase") -> tuple[int, int]:
    """Items (deleted or not) and history rows of a process, straight from SQL."""
    return db.count(f"p_{process}"), db.count("sf_history", "process = :p", p=process)


# ---- values: every type, good and bad --------------------------------------------------------

BAD_TYPED = [
    ("qty", "abc", "'abc' is not a whole number"),
    ("qty", "1.5", "'1.5' is not a whole number"),
    ("qty", "0", "0 is less than the minimum 1"),
    ("qty", "101", "101 is more than the maximum 100"),
    ("qty", "99999999999999999999", "99999999999999999999 is too large to store (at most 9223372036854775807)"),
    ("amount", "99999999999999999.99", "99999999999999999.99 is too large to store (at most 92233720368547758.07)"),
    ("amount", "1e30", "1e30 is too large to store (at most 92233720368547758.07)"),  # past a Decimal's digits
    ("weight", "1E+40", "1E+40 is too large to store (at most 9223372036854775.807)"),
    ("weight", "1.2345", "1.2345 has more than 3 digits after the point"),
    ("weight", "-0.5", "-0.5 is less than the minimum 0"),
    ("weight", "NaN", "'NaN' is not a number"),
    ("amount", "12.345", "12.345 has more than 2 digits after the point"),
    ("amount", "-5", "-5 is less than the minimum 0"),
    ("amount", "2000000", "2000000 is more than the maximum 1000000"),
    ("amount", "много", "'много' is not a number"),
    ("urgent", "maybe", "'maybe' is not true or false"),
    ("due", "2026-13-01", "'2026-13-01' is not a date (write YYYY-MM-DD)"),
    ("due", "2019-12-31", "2019-12-31 is less than the minimum 2020-01-01"),
    ("due", "2031-01-01", "2031-01-01 is more than the maximum 2030-12-31"),
    ("meet_at", "tomorrow", "'tomorrow' is not a date and time (write 2026-12-01T09:30)"),
    ("kind", "wholesale", "'wholesale' is not one of the options (retail, bulk)"),
    ("manager", "ghost", "there is no user 'ghost'"),
    ("client", "abc", "'abc' is not an id"),
    ("client", "0", "'0' is not an id"),
    ("client", "999999", "there is no client 999999"),
    ("email", "not-an-email", "'not-an-email' is not an email address"),
    ("phone", "12", "'12' is not a phone number"),
    ("site", "ftp://example.com", "'ftp://example.com' is not an http(s) URL"),
    ("name", "Я", "'Я' is shorter than 2 characters"),
    ("name", "Очень длинное", "'Очень длинное' is longer than 10 characters"),
    ("name", "д" * 50, f"{'д' * 40!r}… is longer than 10 characters"),
    ("code", "ab-123", "'ab-123' does not match the pattern [A-Z]{2}-[0-9]{3}"),
    ("assigned_to", "ghost", "there is no user 'ghost'"),
]


@pytest.mark.parametrize(("field", "raw", "rule"), BAD_TYPED, ids=[f"{f}={r[:12]}" for f, r, _ in BAD_TYPED])
def test_a_bad_typed_value_is_refused_naming_field_value_and_rule_and_nothing_is_written(
        db: Rules, field: str, raw: str, rule: str) -> None:
    crm = db.worker()
    existing = crm.create("purchase", {"title": "existing"})
    before = item_count(db)
    with pytest.raises(InvalidValue) as refused:
        crm.create("purchase", {"title": "new", "note": "fine", field: raw}, typed_text=True)
    assert str(refused.value) == f"field `{field}`: {rule}"
    assert refused.value.field == field
    with pytest.raises(InvalidValue) as again:
        crm.update("purchase", existing, {"note": "fine", field: raw}, typed_text=True)
    assert str(again.value) == str(refused.value)
    assert item_count(db) == before
    assert crm.get("purchase", existing)["version"] == 1
    assert crm.get("purchase", existing)["note"] is None


BAD_JSON = [
    ("qty", True, "True is not a whole number"),
    ("qty", 2.5, "2.5 is not a whole number"),
    ("weight", "1e400x", "'1e400x' is not a number"),
    ("amount", {"amount": "x", "currency": "RUB"}, "'x' is not a number"),
    ("urgent", "perhaps", "'perhaps' is not true or false"),
    ("due", 2026, "2026 is not a date (write YYYY-MM-DD)"),
    ("name", ["ab"], "['ab'] is not text"),
    ("tags", [1.5], "1.5 is not text"),
    ("client", True, "True is not an item id"),
]


@pytest.mark.parametrize(("field", "value", "rule"), BAD_JSON, ids=[f"{f}-{type(v).__name__}" for f, v, _ in BAD_JSON])
def test_a_bad_json_value_is_refused_the_same_way(db: Rules, field: str, value: Any, rule: str) -> None:
    before = item_count(db)
    with pytest.raises(InvalidValue) as refused:
        db.worker().create("purchase", {"title": "json", field: value})
    assert str(refused.value) == f"field `{field}`: {rule}"
    assert item_count(db) == before


@pytest.mark.parametrize(("field", "raw", "hint"), [
    ("qty", "x", "write a whole number"),
    ("due", "x", "write a date as YYYY-MM-DD"),
    ("amount", "x", "write an amount such as 1500.50, optionally with a currency: 1500.50 USD"),
    ("kind", "x", "options: `retail`, `bulk`"),
    ("urgent", "x", "write true or false"),
])
def test_a_bad_value_comes_with_a_hint(db: Rules, field: str, raw: str, hint: str) -> None:
    with pytest.raises(InvalidValue) as refused:
        db.worker().create("purchase", {"title": "t", field: raw}, typed_text=True)
    assert refused.value.hint == hint


def test_unknown_fields_and_empty_titles_are_refused(db: Rules) -> None:
    crm = db.worker()
    before = item_count(db)
    with pytest.raises(InvalidValue, match=r"^purchase has no field `amont`$") as unknown:
        crm.create("purchase", {"title": "t", "amont": "5"})
    assert unknown.value.hint == "did you mean `amount`?"
    with pytest.raises(InvalidValue, match=r"^`title` must not be empty$"):
        crm.create("purchase", {"title": "   "})
    with pytest.raises(InvalidValue, match=r"^`title` is required$"):
        crm.create("purchase", {"note": "no title"})
    assert item_count(db) == before


def test_good_values_of_every_type_are_stored_as_canonical_values(db: Rules) -> None:
    crm = db.worker()
    client = crm.create("client", {"title": "ООО «Ромашка»"})
    typed = {"title": "Закупка «Ёлки» №1", "code": "AB-001", "name": "Бетон", "note": "строка 1\nстрока 2",
             "qty": "10", "weight": "1,5", "amount": "1 500,50", "urgent": "да", "due": "2026-12-01",
             "meet_at": "2026-12-01T09:30", "kind": "bulk", "manager": "ap", "client": str(client),
             "email": "buyer@example.com", "phone": "+7 (495) 123-45-67", "site": "https://example.com/a?b=1",
             "tags": "срочно, важно", "supplier": "ООО Поставщик", "assigned_to": "w2"}
    item = crm.get("purchase", crm.create("purchase", typed, typed_text=True))
    assert item["title"] == "Закупка «Ёлки» №1"
    assert item["note"] == "строка 1\nстрока 2"
    assert (item["code"], item["name"], item["qty"], item["weight"]) == ("AB-001", "Бетон", 10, Decimal("1.5"))
    assert item["amount"] == {"amount": Decimal("1500.50"), "currency": "RUB"}
    assert item["urgent"] is True
    assert item["due"] == date(2026, 12, 1)
    assert item["meet_at"] == datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
    assert item["kind"] == "bulk"
    assert (item["manager"], item["assigned_to"], item["created_by"]) == (db.user_id("ap"), db.user_id("w2"),
                                                                          db.user_id("w"))
    assert item["client"] == client
    assert item["tags"] == ["срочно", "важно"]
    assert (item["pipeline"], item["stage"], item["version"], item["closed_at"]) == ("main", "new", 1, None)
    other = crm.get("purchase", crm.create("purchase", {"title": "json", "amount": {"amount": "99.5", "currency":
                                                                                  "usd"}, "urgent": False,
                                                        "qty": 7, "tags": ["a"]}))
    assert (other["amount"], other["urgent"], other["qty"], other["tags"]) == (
        {"amount": Decimal("99.50"), "currency": "USD"}, False, 7, ["a"])


# ---- required fields, unique, links --------------------------------------------------------------


def test_a_required_field_must_be_given_and_may_not_be_emptied(db: Rules) -> None:
    crm = db.worker()
    before = item_count(db, "claim")
    with pytest.raises(InvalidValue, match=r"^field `reason` is required$") as refused:
        crm.create("claim", {"title": "Жалоба"})
    assert refused.value.hint == "give it a value: --set reason=…"
    assert item_count(db, "claim") == before
    claim = crm.create("claim", {"title": "Жалоба", "reason": "брак"})
    with pytest.raises(InvalidValue, match=r"^field `reason` is required$"):
        crm.update("claim", claim, {"reason": ""})
    assert crm.get("claim", claim)["reason"] == "брак"
    assert [row["kind"] for row in crm.history("claim", claim)] == ["create"]


def test_fields_required_at_a_stage(db: Rules) -> None:
    crm = db.worker()
    before = item_count(db)
    with pytest.raises(InvalidValue, match=r"^stage `prices` requires `supplier`, `amount`$"):
        crm.create("purchase", {"title": "t"}, stage="prices")
    assert item_count(db) == before
    item = crm.create("purchase", {"title": "t", "amount": "5000"})
    with pytest.raises(TransitionNotAllowed) as refused:
        crm.move("purchase", item, "prices")
    assert refused.value.reasons == ["stage `prices` requires `supplier`, which is empty"]
    crm.update("purchase", item, {"supplier": "ООО"})
    crm.move("purchase", item, "prices")
    with pytest.raises(InvalidValue, match=r"^stage `prices` requires `supplier`; it cannot be emptied here$"):
        crm.update("purchase", item, {"supplier": ""})
    assert crm.get("purchase", item)["supplier"] == "ООО"
    ready = crm.create("purchase", {"title": "ready", "supplier": "S", "amount": "5000"}, stage="prices")
    assert crm.get("purchase", ready)["stage"] == "prices"


def test_an_item_created_in_a_later_stage_meets_a_transition_into_it(db: Rules) -> None:
    """Put straight into a stage, an item is held to the transitions into it as a move would be
    (their conditions and roles), not only to the stage's required fields."""
    crm = db.worker()
    before = item_count(db)
    with pytest.raises(TransitionNotAllowed) as refused:
        crm.create("purchase", {"title": "cheap", "supplier": "S", "amount": "1"}, stage="prices")
    assert str(refused.value) == ("purchase items cannot be put into stage `prices`: the transition `new` → "
                                  "`prices`: the condition `amount > 1000` is false (amount = 1.00)")
    assert item_count(db) == before


def test_unique_values(db: Rules) -> None:
    crm = db.worker()
    first = crm.create("purchase", {"title": "first", "code": "UQ-001"})
    before = item_count(db)
    with pytest.raises(InvalidValue) as refused:
        crm.create("purchase", {"title": "second", "code": "UQ-001"})
    assert str(refused.value) == f"field `code`: 'UQ-001' is already used by purchase {first}"
    assert refused.value.hint == "values of this field must be unique"
    assert item_count(db) == before
    second = crm.create("purchase", {"title": "second", "code": "UQ-002"})
    assert crm.update("purchase", first, {"code": "UQ-001", "title": "first!"}) == {"title": ("first", "first!")}
    with pytest.raises(InvalidValue, match=f"is already used by purchase {first}$"):
        crm.update("purchase", second, {"code": "UQ-001"})
    assert crm.get("purchase", second)["code"] == "UQ-002"


def test_a_unique_clash_does_not_name_an_item_the_user_may_not_read(db: Rules) -> None:
    db.worker().create("purchase", {"title": "hidden", "code": "UQ-777"})
    with pytest.raises(InvalidValue) as refused:
        db.as_user("clerk").create("purchase", {"title": "mine", "code": "UQ-777"})
    assert str(refused.value) == "field `code`: 'UQ-777' is already used by another purchase"


def test_the_recycle_bin_holds_no_unique_values_and_a_clashing_restore_is_refused(db: Rules) -> None:
    crm = db.worker()
    old = crm.create("purchase", {"title": "old", "code": "UQ-500"})
    crm.delete("purchase", old)
    new = crm.create("purchase", {"title": "new", "code": "UQ-500"})  # the deleted item let go of UQ-500
    before = item_count(db)
    with pytest.raises(InvalidValue) as refused:
        crm.restore("purchase", old)
    assert str(refused.value) == f"cannot restore purchase {old}: field `code`: 'UQ-500' is now used by purchase {new}"
    assert refused.value.hint == f"change `code` of purchase {new} first (values of this field must be unique)"
    assert refused.value.field == "code"
    assert item_count(db) == before
    with pytest.raises(NotFound):
        crm.get("purchase", old)  # still in the recycle bin
    crm.update("purchase", new, {"code": "UQ-501"})
    crm.restore("purchase", old)
    assert crm.get("purchase", old)["code"] == "UQ-500"
    with pytest.raises(InvalidValue, match=f"is already used by purchase {old}$"):
        crm.create("purchase", {"title": "again", "code": "UQ-500"})


def test_links_must_point_at_an_existing_item_the_user_may_read(db: Rules) -> None:
    crm = db.worker()
    mine = crm.create("client", {"title": "Мой клиент"})
    theirs = db.as_user("ap").create("client", {"title": "Чужой клиент"})  # worker reads own clients only
    gone = crm.create("client", {"title": "Удалённый"})
    crm.delete("client", gone)  # no recycle bin: gone for good
    before = item_count(db)
    for target in (theirs, gone, 999_999):
        with pytest.raises(InvalidValue) as refused:
            crm.create("purchase", {"title": "t", "client": target})
        assert str(refused.value) == f"field `client`: there is no client {target}"
        assert refused.value.hint == "give the id of an existing client you may see"
    assert item_count(db) == before
    linked = crm.create("purchase", {"title": "linked", "client": mine})
    card = crm.card("purchase", linked)
    assert card["links"]["out"] == [{"field": "client", "process": "client", "id": mine, "title": "Мой клиент"}]
    back = crm.card("client", mine)["links"]["in"]
    assert back == [{"field": "client", "process": "purchase", "id": linked, "title": "linked", "stage": "new"}]


def test_cards_show_only_links_the_user_may_read(db: Rules) -> None:
    clerk, approver = db.as_user("clerk"), db.as_user("ap")  # the clerk reads own clients and purchases only
    client = clerk.create("client", {"title": "клиент клерка"})
    own = clerk.create("purchase", {"title": "своя", "client": client})
    approver.create("purchase", {"title": "чужая", "client": client})
    assert [link["title"] for link in clerk.card("client", client)["links"]["in"]] == ["своя"]
    assert [link["title"] for link in approver.card("client", client)["links"]["in"]] == ["своя", "чужая"]
    other = approver.create("client", {"title": "клиент согласующего"})
    pointing = approver.create("purchase", {"title": "к чужому", "client": other})
    assert db.worker().card("purchase", pointing)["links"]["out"] == []  # the worker reads own clients only
    assert clerk.card("purchase", own)["links"]["out"][0]["title"] == "клиент клерка"


def test_deleting_a_linked_item_for_good_empties_the_link(db: Rules) -> None:
    crm = db.worker()
    client = crm.create("client", {"title": "временный"})
    linked = crm.create("purchase", {"title": "linked", "client": client})
    assert crm.delete("client", client) == "deleted"
    assert crm.get("purchase", linked)["client"] is None


# ---- transitions, conditions, explain, pipelines, closed_at -------------------------------------


def test_a_move_must_be_an_allowed_transition(db: Rules) -> None:
    crm = db.worker()
    item = crm.create("purchase", {"title": "t"})
    with pytest.raises(TransitionNotAllowed) as refused:
        crm.move("purchase", item, "approved")
    reason = ("no transition leads from `new` to `approved` in pipeline `main` "
              "(from `new` items may go to: `cancelled`, `prices`)")
    assert refused.value.reasons == [reason]
    assert str(refused.value) == f"purchase {item} cannot move from `new` to `approved`: {reason}"
    assert refused.value.hint == f"see `smartflow item explain purchase {item} --to approved`"
    with pytest.raises(TransitionNotAllowed) as unknown:
        crm.move("purchase", item, "finish")
    assert unknown.value.reasons == [
        "pipeline `main` has no stage `finish` (stages: `approved`, `cancelled`, `done`, `new`, `prices`)"]
    with pytest.raises(ConflictError, match=f"^purchase {item} is already in stage `new`$"):
        crm.move("purchase", item, "new")
    assert crm.get("purchase", item)["version"] == 1
    assert [row["kind"] for row in crm.history("purchase", item)] == ["create"]


def test_a_false_condition_shows_the_values_it_saw(db: Rules) -> None:
    crm = db.worker()
    item = crm.create("purchase", {"title": "t", "amount": "500", "supplier": "S"})
    with pytest.raises(TransitionNotAllowed) as refused:
        crm.move("purchase", item, "prices")
    assert refused.value.reasons == [
        "the transition `new` → `prices`: the condition `amount > 1000` is false (amount = 500.00)"]
    empty = crm.create("purchase", {"title": "t", "supplier": "S"})
    [reason, required] = crm.explain("purchase", empty, "prices")
    assert reason.startswith("the transition `new` → `prices`: the condition `amount > 1000` is false "
                             "(amount = empty; TypeError: ")
    assert required == "stage `prices` requires `amount`, which is empty"
    crm.update("purchase", item, {"amount": "1000.01"})
    assert crm.move("purchase", item, "prices") == {"from": "new", "to": "prices", "pipeline": "main", "version": 3}


def test_several_transitions_to_one_stage_any_one_may_be_taken(db: Rules) -> None:
    crm = db.worker()
    item = crm.create("purchase", {"title": "t", "amount": "5000", "supplier": "S", "qty": "5"}, typed_text=True)
    crm.move("purchase", item, "prices")
    with pytest.raises(TransitionNotAllowed) as refused:
        crm.move("purchase", item, "approved")
    assert refused.value.reasons == ["no transition `prices` → `approved` may be taken: only `approver` may take "
                                     "it | the condition `qty >= 10` is false (qty = 5)"]
    assert db.as_user("ap").explain("purchase", item, "approved") == []  # the approver takes the first
    crm.update("purchase", item, {"qty": 10})
    assert crm.explain("purchase", item, "approved") == []  # anyone takes the second now
    crm.move("purchase", item, "approved")


def test_explain_lists_every_failing_rule_at_once(db: Rules) -> None:
    item = db.worker().create("purchase", {"title": "t", "amount": "500"})
    restricted = db.as_user("r")  # may move own items only, and only into `approved`
    problems = [
        "your roles allow moving only own items (`move: own`), and this item is not one",
        "your roles may not move items into stage `prices`",
        "the transition `new` → `prices`: the condition `amount > 1000` is false (amount = 500.00)",
        "stage `prices` requires `supplier`, which is empty",
    ]
    assert restricted.explain("purchase", item, "prices") == problems
    with pytest.raises(PermissionDenied) as denied:  # whose `move` level does not reach the item: rights, not rules
        restricted.move("purchase", item, "prices")
    assert (str(denied.value), denied.value.hint) == (f"you may not move purchase {item}: {problems[0]}",
                                                      "your roles allow `move: own`")
    db.set_creators("purchase", {item: "r"})  # now theirs: the rules of the move refuse it
    with pytest.raises(TransitionNotAllowed) as refused:
        restricted.move("purchase", item, "prices")
    assert refused.value.reasons == problems[1:]
    assert str(refused.value) == f"purchase {item} cannot move from `new` to `prices`: " + "; ".join(problems[1:])
    db.set_creators("purchase", {item: "w"})
    assert db.worker().explain("purchase", item, "cancelled") == []
    assert db.worker().explain("purchase", item, "new") == ["the item is already in stage `new`"]


def test_changing_pipeline_is_its_own_operation(db: Rules) -> None:
    crm = db.worker()
    item = crm.create("purchase", {"title": "t"})
    with pytest.raises(TransitionNotAllowed, match=r"pipeline `main` has no stage `start`"):
        crm.move("purchase", item, "start")
    with pytest.raises(InvalidValue, match=r"^purchase has no pipeline `expres`$") as unknown:
        crm.move("purchase", item, "start", pipeline="expres")
    assert unknown.value.hint == "did you mean `express`?"
    assert crm.explain("purchase", item, "start", pipeline="express") == []
    assert crm.move("purchase", item, "start", pipeline="express") == {
        "from": "new", "to": "start", "pipeline": "express", "version": 2}
    moved = crm.get("purchase", item)
    assert (moved["pipeline"], moved["stage"], moved["closed_at"]) == ("express", "start", None)
    assert [(r["kind"], r["field"], r["old"], r["new"]) for r in crm.history("purchase", item)][1:] == [
        ("move", "stage", "new", "start"), ("move", "pipeline", "main", "express")]
    crm.move("purchase", item, "finish")  # express lists no transitions: any move within it
    assert crm.get("purchase", item)["closed_at"] is not None
    crm.move("purchase", item, "new", pipeline="main")
    back = crm.get("purchase", item)
    assert (back["pipeline"], back["stage"], back["closed_at"]) == ("main", "new", None)
    created = crm.get("purchase", crm.create("purchase", {"title": "e"}, pipeline="express"))
    assert (created["pipeline"], created["stage"]) == ("express", "start")


def test_success_and_failure_stages_set_closed_at(db: Rules) -> None:
    crm = db.as_user("ap")
    item = crm.create("purchase", {"title": "t", "amount": "5000", "supplier": "S"})
    for stage in ("prices", "approved"):
        crm.move("purchase", item, stage)
        assert crm.get("purchase", item)["closed_at"] is None
    crm.move("purchase", item, "done")
    done = crm.get("purchase", item)
    assert done["closed_at"] == done["moved_at"] is not None
    crm.move("purchase", item, "cancelled")
    assert crm.get("purchase", item)["closed_at"] is not None
    crm.move("purchase", item, "new")
    assert crm.get("purchase", item)["closed_at"] is None
    cancelled = crm.get("purchase", crm.create("purchase", {"title": "c"}, stage="cancelled"))
    assert cancelled["closed_at"] == cancelled["created_at"]


# ---- delete, restore, history, versions -------------------------------------------------------


def test_recycle_bin_delete_and_restore(db: Rules) -> None:
    crm = db.worker()
    item = crm.create("purchase", {"title": "в корзину", "code": "RB-001"})
    count = crm.count("purchase")
    assert crm.delete("purchase", item) == "recycle_bin"
    with pytest.raises(NotFound, match=f"^purchase {item} not found$"):
        crm.get("purchase", item)
    assert crm.count("purchase") == count - 1
    assert item not in [i["id"] for i in crm.list("purchase", limit=10_000)]
    assert db.count("p_purchase", "id = :i AND deleted_at IS NOT NULL", i=item) == 1
    crm.restore("purchase", item)
    assert crm.get("purchase", item)["deleted_at"] is None
    assert crm.count("purchase") == count
    with pytest.raises(NotFound, match=f"^purchase {item} not found in the recycle bin$"):
        crm.restore("purchase", item)
    assert [(r["kind"], r["old"]) for r in crm.history("purchase", item)] == [
        ("create", None), ("delete", {"title": "в корзину"}), ("restore", None)]


def test_without_a_recycle_bin_delete_is_for_good(db: Rules) -> None:
    crm = db.worker()
    item = crm.create("claim", {"title": "навсегда", "reason": "r"})
    assert crm.delete("claim", item) == "deleted"
    assert db.count("p_claim", "id = :i", i=item) == 0
    with pytest.raises(NotFound, match=f"^claim {item} not found$"):
        crm.history("claim", item)
    assert db.count("sf_history", "process = 'claim' AND item_id = :i", i=item) == 2  # create, delete: kept
    with pytest.raises(InvalidValue, match=r"^claim has no recycle bin: deleted items are gone$"):
        crm.restore("claim", item)


def test_every_operation_writes_its_history_rows(db: Rules) -> None:
    crm = db.worker()
    item = crm.create("purchase", {"title": "история", "amount": "5000", "qty": "3"}, typed_text=True)
    assert crm.update("purchase", item, {"qty": "4", "supplier": "ООО", "amount": "5000"}, typed_text=True) == {
        "qty": (3, 4), "supplier": (None, "ООО")}  # an unchanged value is no change
    assert crm.update("purchase", item, {"qty": 4}) == {}
    crm.move("purchase", item, "prices")
    crm.delete("purchase", item)
    crm.restore("purchase", item)
    rows = crm.history("purchase", item)
    assert [(r["kind"], r["field"], r["old"], r["new"]) for r in rows] == [
        ("create", None, None, {"title": "история", "amount": {"amount": "5000.00", "currency": "RUB"}, "qty": 3,
                                "pipeline": "main", "stage": "new"}),  # with the field's decimals, as stored
        ("update", "qty", 3, 4),
        ("update", "supplier", None, "ООО"),
        ("move", "stage", "new", "prices"),
        ("delete", None, {"title": "история"}, None),
        ("restore", None, None, None),
    ]
    assert {(r["who"], r["via"]) for r in rows} == {("w", "api")}
    assert crm.get("purchase", item)["version"] == 5  # update, move, delete, restore


def test_expected_version_refuses_a_stale_write_naming_the_current_stage(db: Rules) -> None:
    crm = db.worker()
    item = crm.create("purchase", {"title": "t", "amount": "5000", "supplier": "S"})
    crm.move("purchase", item, "prices", expected_version=1)
    before = item_count(db)
    message = f"^purchase {item} was changed by someone else; it is now in stage `prices` \\(version 2\\)$"
    with pytest.raises(ConflictError, match=message) as stale:
        crm.update("purchase", item, {"note": "late"}, expected_version=1)
    assert stale.value.hint == "reload it and try again"
    with pytest.raises(ConflictError, match=message):
        crm.move("purchase", item, "cancelled", expected_version=1)
    assert item_count(db) == before
    assert crm.update("purchase", item, {"note": "on time"}, expected_version=2) == {"note": (None, "on time")}


# ---- Unicode, search, filters, sort, paging ------------------------------------------------------


def titles(db: Rules, ids: list[int]) -> set[str]:
    by_id = {v: k for k, v in db.lots.items()}
    return {by_id[i] for i in ids}


@pytest.mark.parametrize(("search", "expected"), [
    ("бетон", {"Бетон М300", "бетон м200"}),
    ("БЕТОН М3", {"Бетон М300"}),
    ("ёлка", {"ЁЛКА"}),
    ("гамма", {"Щебень"}),  # text fields are searched too
    ("50%", {"Арматура 50%"}),  # % and _ are literal
    ("%", {"Арматура 50%"}),
    ("_", set()),
])
def test_search_is_case_insensitive_for_cyrillic_too(db: Rules, search: str, expected: set[str]) -> None:
    assert titles(db, [i["id"] for i in db.worker().list("lot", search=search)]) == expected


def test_cyrillic_titles_and_values_are_kept_intact(db: Rules) -> None:
    item = db.worker().get("lot", db.lots["Щебень"])
    assert (item["title"], item["label"], item["price"]) == ("Щебень", "Гамма",
                                                              {"amount": Decimal("99.99"), "currency": "USD"})


ALL_LOTS = {title for title, *_ in LOTS}
WHERE = [
    (["price = 100"], {"Бетон М300", "ЁЛКА"}),
    (["price != 100"], ALL_LOTS - {"Бетон М300", "ЁЛКА"}),  # an empty price is not 100
    (["price < 100"], {"Щебень"}),
    (["price <= 100"], {"Бетон М300", "Щебень", "ЁЛКА"}),
    (["price > 250.5"], {"Песок", "Арматура 50%"}),
    (["price >= 250.50"], {"бетон м200", "Песок", "Арматура 50%"}),
    (["price is empty"], {"Кирпич"}),
    (["price is not empty"], ALL_LOTS - {"Кирпич"}),
    (["day = 2026-01-10"], {"Бетон М300", "ЁЛКА"}),
    (["day < 2026-01-10"], {"Щебень"}),
    (["day >= 2026-02-01"], {"бетон м200", "Песок", "Арматура 50%"}),
    (["day is empty"], {"Кирпич"}),
    (["grade = retail"], {"Бетон М300", "Песок", "Арматура 50%"}),
    (["grade != retail"], {"бетон м200", "Кирпич", "Щебень", "ЁЛКА"}),
    (["grade in retail,bulk"], ALL_LOTS - {"Кирпич", "ЁЛКА"}),
    (["grade is empty"], {"Кирпич", "ЁЛКА"}),
    (["qty = 5"], {"Бетон М300", "Кирпич", "Арматура 50%"}),
    (["qty in 1, 7"], {"Песок", "Щебень"}),
    (["qty is empty"], {"бетон м200", "ЁЛКА"}),
    (["label contains ALPHA"], {"Бетон М300", "Арматура 50%"}),
    (["label contains гам"], {"Щебень"}),
    (["label = alpha"], {"Арматура 50%"}),
    (["label is empty"], {"Кирпич", "Песок"}),
    (["label is not empty"], ALL_LOTS - {"Кирпич", "Песок"}),
    (["title contains бетон"], {"Бетон М300", "бетон м200"}),
    (["tags = x"], {"Бетон М300", "ЁЛКА", "Арматура 50%"}),
    (["tags contains z"], {"Песок", "Арматура 50%"}),
    (["tags in y,z"], {"Бетон М300", "бетон м200", "Песок", "Арматура 50%"}),
    (["tags != x"], {"бетон м200", "Кирпич", "Песок", "Щебень"}),
    (["tags is empty"], {"Кирпич", "Щебень"}),
    (["tags is not empty"], ALL_LOTS - {"Кирпич", "Щебень"}),
    (["stage = open"], ALL_LOTS),
    (["grade = retail", "qty = 5"], {"Бетон М300", "Арматура 50%"}),
    (["price >= 100", "day < 2026-03-01", "tags = x"], {"Бетон М300", "ЁЛКА"}),
    (["grade IS NOT EMPTY", "label is  empty"], {"Песок"}),
    (["label = <alpha>"], set()),  # a value may start with `<`: only an operator typed twice is refused
]


@pytest.mark.parametrize(("where", "expected"), WHERE, ids=[" & ".join(w) for w, _ in WHERE])
def test_where_filters(db: Rules, where: list[str], expected: set[str]) -> None:
    crm = db.worker()
    assert titles(db, [i["id"] for i in crm.list("lot", where=where)]) == expected
    assert crm.count("lot", where) == len(expected)


def test_a_list_statement_built_once_never_keeps_a_value(db: Rules) -> None:
    """A list statement is built once per shape of filters and run with their values as parameters:
    the same shape with other values, `today` on a moving clock, a login that names a user only
    later — each call answers afresh."""
    crm = db.worker()
    for price, expected in (("100", {"Бетон М300", "ЁЛКА"}), ("99.99", {"Щебень"}), ("1", set())):
        assert titles(db, [i["id"] for i in crm.list("lot", where=[f"price = {price}"])]) == expected
    moment = [datetime(2026, 1, 9, 12, tzinfo=UTC)]
    clocked = Engine(db.url, as_user="w", clock=lambda: moment[0])
    try:
        assert titles(db, [i["id"] for i in clocked.list("lot", where=["day < today"])]) == {"Щебень"}
        moment[0] = datetime(2026, 2, 2, 12, tzinfo=UTC)
        assert titles(db, [i["id"] for i in clocked.list("lot", where=["day < today"])]) == {
            "Щебень", "Бетон М300", "ЁЛКА", "бетон м200"}
    finally:
        clocked.close()
    assert db.admin.list("lot", where=["assigned_to = newcomer"]) == []
    db.admin.add_user("newcomer", "Новичок", ["worker"])
    item = db.admin.create("lot", {"title": "Новая партия", "assigned_to": "newcomer"})
    try:
        assert [i["id"] for i in db.admin.list("lot", where=["assigned_to = newcomer"])] == [item]
    finally:
        db.admin.delete("lot", item)


@pytest.mark.parametrize(("where", "message"), [
    ("price contains 5", "--where price: `contains` works on text fields only"),
    ("day contains 2026", "--where day: `contains` works on text fields only"),
    ("tags > x", "--where tags: `>` does not work on a field that holds several values"),
    ("colour = red", "lot has no field `colour`"),
    ("price > дорого", "--where price: 'дорого' is not a number"),
    ("qty > 99999999999999999999", "--where qty: 99999999999999999999 is too large to compare"),
    ("qty >< 5", "cannot read the filter 'qty >< 5': `>` is followed by `<`"),
    ("label == alpha", "cannot read the filter 'label == alpha': `=` is followed by `=`"),
    ("day < 2026-13-01", "--where day: '2026-13-01' is not a date (write YYYY-MM-DD)"),
    ("price ~ 5", "cannot read the filter 'price ~ 5'"),
])
def test_a_filter_that_cannot_work_is_refused(db: Rules, where: str, message: str) -> None:
    with pytest.raises(InvalidValue) as refused:
        db.worker().list("lot", where=[where])
    assert str(refused.value) == message


def _reference_order(items: list[dict[str, Any]], field: str, descending: bool) -> list[int]:
    """Sorted by field (money by amount), empty values last, ties by id: the order the list promises."""
    def value(item: dict[str, Any]) -> Any:
        found = item[field]
        return found["amount"] if isinstance(found, dict) else found

    by_id = sorted(items, key=lambda i: i["id"])
    present = sorted((i for i in by_id if value(i) is not None), key=value, reverse=descending)  # stable
    return [i["id"] for i in present] + [i["id"] for i in by_id if value(i) is None]


@pytest.mark.parametrize("sort", ["qty", "qty:desc", "price", "price:desc", "day:desc", "grade", "label",
                                  "title:desc", "id:desc", None])
@pytest.mark.parametrize("page", [1, 2, 3])
def test_keyset_paging_returns_every_item_exactly_once_in_order(db: Rules, sort: str | None, page: int) -> None:
    crm = db.worker()
    everything = crm.list("lot", sort=sort, limit=1000)
    pages: list[int] = []
    after = None
    while batch := crm.list("lot", sort=sort, limit=page, after=after):
        assert len(batch) <= page
        pages += [i["id"] for i in batch]
        after = batch[-1]["id"]
    assert pages == [i["id"] for i in everything]
    assert sorted(pages) == sorted(db.lots.values())
    field, _, direction = (sort or "id").partition(":")
    if field not in ("label", "title"):  # text order depends on the database's collation
        assert pages == _reference_order(everything, field, direction == "desc")
    filtered = [i["id"] for i in crm.list("lot", sort=sort, where=["qty is not empty"], limit=1000)]
    paged_filtered: list[int] = []
    after = None
    while batch := crm.list("lot", sort=sort, where=["qty is not empty"], limit=page, after=after):
        paged_filtered += [i["id"] for i in batch]
        after = batch[-1]["id"]
    assert paged_filtered == filtered


def test_sort_and_paging_errors(db: Rules) -> None:
    crm = db.worker()
    with pytest.raises(InvalidValue, match=r"^cannot sort by `tags`: it holds several values$"):
        crm.list("lot", sort="tags")
    with pytest.raises(InvalidValue, match=r"^lot has no field `prise`$"):
        crm.list("lot", sort="prise")
    with pytest.raises(InvalidValue, match=r"^--after 999999: there is no such item$"):
        crm.list("lot", after=999_999)


def test_paging_after_an_item_the_user_may_not_read_looks_like_a_missing_one(db: Rules) -> None:
    hidden = db.worker().create("purchase", {"title": "hidden"})
    clerk = db.as_user("clerk")
    with pytest.raises(InvalidValue) as refused:
        clerk.list("purchase", after=hidden)
    assert str(refused.value) == f"--after {hidden}: there is no such item"
