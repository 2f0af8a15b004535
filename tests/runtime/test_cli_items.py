"""The people's commands as a person reads them: the text printed and the exit code.

One CliRunner test per command (user add/list, department add, item create/show/list/update/move/
delete/restore/history/explain, kanban), with the error cases: a bad value (9), a refused move (10),
not found (7), permission denied (8), an unknown process and nothing deployed (12) — each one line
`error: …` and a `hint:` line on stderr, never a traceback — and the json and csv formats.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import Result

from smartflow.cli.main import (
    EXIT_BAD_VALUE,
    EXIT_CONFLICT,
    EXIT_DENIED,
    EXIT_INVALID,
    EXIT_MOVE_REFUSED,
    EXIT_NOT_DEPLOYED,
    EXIT_NOT_FOUND,
)
from tests.runtime.support import DOCUMENTS, Db, invoke, module_url, write_definitions

__all__ = ["module_url"]  # the fixture, imported for pytest

HIDDEN_HINT = "check the id; items you may not see are not shown"




def assert_error(result: Result, code: int, message: str, hint: str | None) -> None:
    """Nothing on stdout; on stderr one `error:` line and a `hint:` line."""
    assert result.stdout == ""
    assert result.stderr == f"error: {message}\n" + (f"  hint: {hint}\n" if hint else "")
    assert result.exit_code == code


@pytest.fixture(scope="module")
def db(module_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Db]:
    database = Db(module_url, tmp_path_factory.mktemp("defs"), *DOCUMENTS)
    database.admin.add_department("sales", "Продажи")
    database.admin.add_user("ivanova", "Анна Иванова", ["worker"], "sales")
    database.admin.add_user("petrov", "Пётр Петров", ["clerk"])
    database.admin.add_user("sidorov", "Иван Сидоров", ["restricted"])
    yield database
    database.close()


# ---- users and departments (a fresh database: the whole output is known) ----------------------


def test_department_add_and_user_add_and_list(db_url: str, tmp_path: Path) -> None:
    from smartflow.deploy import apply as deploy

    deploy.apply(write_definitions(tmp_path / "defs", *DOCUMENTS), db_url)
    assert invoke(db_url, "department", "add", "sales", "--title", "Продажи").stdout == "department sales added\n"
    added = invoke(db_url, "department", "add", "east", "--title", "Восток", "--parent", "sales")
    assert (added.stdout, added.exit_code) == ("department east added\n", 0)
    assert_error(invoke(db_url, "department", "add", "west", "--title", "Запад", "--parent", "sale"),
                 EXIT_BAD_VALUE, "there is no department `sale`", "did you mean `sales`?")

    added = invoke(db_url, "user", "add", "ivanova", "--name", "Анна Иванова", "--role", "worker", "--role",
                   "approver", "--department", "east")
    assert (added.stdout, added.stderr, added.exit_code) == ("user ivanova added (id 1)\n", "", 0)
    assert invoke(db_url, "user", "add", "petrov").stdout == "user petrov added (id 2)\n"
    assert_error(invoke(db_url, "user", "add", "ivanova"), EXIT_BAD_VALUE, "the user `ivanova` already exists",
                 "change them: smartflow user edit ivanova …")
    assert_error(invoke(db_url, "user", "add", "smirnova", "--role", "workr"), EXIT_BAD_VALUE,
                 "there is no role `workr`", "did you mean `worker`?")
    assert_error(invoke(db_url, "user", "add", "smirnova", "--department", "north"), EXIT_BAD_VALUE,
                 "there is no department `north`", "add it: smartflow department add …")
    assert_error(invoke(db_url, "user", "add", "smirnova", as_user="ivanova"), EXIT_DENIED,
                 "only administrators manage users and departments", None)
    assert_error(invoke(db_url, "department", "add", "north", "--title", "Север", as_user="ivanova"), EXIT_DENIED,
                 "only administrators manage users and departments", None)
    assert_error(invoke(db_url, "user", "list", as_user="ghost"), EXIT_NOT_FOUND, "there is no user `ghost`",
                 "run `smartflow user list`, or `smartflow user add`")

    listed = invoke(db_url, "user", "list")
    assert listed.exit_code == 0
    assert listed.stdout == (
        "id    login    name          department    roles             active\n"
        "----  -------  ------------  ------------  ----------------  --------\n"
        "1     ivanova  Анна Иванова  east          approver, worker  True\n"
        "2     petrov   petrov                                        True\n")
    assert json.loads(invoke(db_url, "user", "list", "--format", "json").stdout) == [
        {"id": 1, "login": "ivanova", "name": "Анна Иванова", "email": None, "department": "east",
         "roles": ["approver", "worker"], "process_roles": {}, "pipeline_roles": {}, "active": True},
        {"id": 2, "login": "petrov", "name": "petrov", "email": None, "department": None, "roles": [],
         "process_roles": {}, "pipeline_roles": {}, "active": True},
    ]
    assert invoke(db_url, "user", "list", "--format", "csv").stdout == (
        "id,login,name,department,roles,active\n1,ivanova,Анна Иванова,east,\"approver, worker\",True\n"
        "2,petrov,petrov,,,True\n")
    # someone not an administrator sees who is there (to assign items), not their roles or departments
    assert json.loads(invoke(db_url, "user", "list", "--format", "json", as_user="ivanova").stdout) == [
        {"id": 1, "login": "ivanova", "name": "Анна Иванова"}, {"id": 2, "login": "petrov", "name": "petrov"}]


def test_nothing_deployed_exits_12(db_url: str) -> None:
    for args in (("item", "list", "purchase"), ("item", "show", "purchase", "1"), ("kanban", "purchase"),
                 ("user", "list"), ("item", "create", "purchase", "--set", "title=x")):
        assert_error(invoke(db_url, *args), EXIT_NOT_DEPLOYED, "nothing is deployed in this database",
                     "run `smartflow apply` first")


# ---- items -------------------------------------------------------------------------------------


def test_item_create(db: Db) -> None:
    created = invoke(db.url, "item", "create", "purchase", "--set", "title=Бетон М300", "--set", "amount=1500.50",
                     "--set", "kind=bulk", "--set", "tags=a, b", as_user="ivanova")
    assert created.exit_code == 0
    item_id = int(created.stdout)
    assert created.stdout == f"{item_id}\n"
    item = db.admin.get("purchase", item_id)
    assert (item["title"], item["amount"], item["kind"], item["tags"]) == (
        "Бетон М300", {"amount": Decimal("1500.50"), "currency": "RUB"}, "bulk", ["a", "b"])
    from_json = invoke(db.url, "item", "create", "purchase", "--json", '{"title": "Из JSON", "qty": 3}',
                       "--stage", "cancelled")
    assert db.admin.get("purchase", int(from_json.stdout))["stage"] == "cancelled"


def test_item_create_errors(db: Db) -> None:
    before = db.count("p_purchase")
    assert_error(invoke(db.url, "item", "create", "purchase", "--set", "title=x", "--set", "qty=abc"),
                 EXIT_BAD_VALUE, "field `qty`: 'abc' is not a whole number", "write a whole number")
    assert_error(invoke(db.url, "item", "create", "purchase", "--set", "title=x", "--set", "kind=опт"),
                 EXIT_BAD_VALUE, "field `kind`: 'опт' is not one of the options (retail, bulk)",
                 "options: `retail`, `bulk`")
    assert_error(invoke(db.url, "item", "create", "purchase", "--set", "title=x", "--stage", "prices"),
                 EXIT_BAD_VALUE, "stage `prices` requires `supplier`, `amount`",
                 "fill them, or create the item in an earlier stage")
    assert_error(invoke(db.url, "item", "create", "purchse", "--set", "title=x"), EXIT_NOT_DEPLOYED,
                 "there is no process `purchse`", "did you mean `purchase`?")
    # petrov has no right at all in claim: to him it does not exist (as an unknown process)
    assert_error(invoke(db.url, "item", "create", "claim", "--set", "title=x", "--set", "reason=r", as_user="petrov"),
                 EXIT_NOT_DEPLOYED, "there is no process `claim`", "deployed processes: `client`, `purchase`")
    assert db.count("p_purchase") == before
    usage = invoke(db.url, "item", "create", "purchase", "--set", "title")
    assert usage.exit_code == 2
    assert "--set 'title': write FIELD=VALUE" in usage.stderr


def test_item_show(db: Db) -> None:
    client = db.as_user("ivanova").create("client", {"title": "ООО «Ромашка»"})
    item_id = db.as_user("ivanova").create("purchase", {"title": "Бетон М300", "amount": "1500.50", "kind": "bulk",
                                                        "urgent": False, "client": client, "tags": ["a", "b"]})
    shown = invoke(db.url, "item", "show", "purchase", str(item_id))
    assert shown.exit_code == 0
    lines = shown.stdout.splitlines()
    assert lines[:2] == [f"Order #{item_id}: Бетон М300", "  stage: New (new, pipeline main) · version 1"]
    assert "  Amount: 1500.50 RUB" in lines
    assert "  Kind: Bulk" in lines
    assert "  urgent: no" in lines
    assert "  tags: a, b" in lines
    assert "  Supplier: —" in lines
    assert f"  client: ООО «Ромашка» (#{client})" in lines  # a link shows the linked item's title
    assert any(line.startswith("  assigned to: Анна Иванова · created ") and line.endswith(" by Анна Иванова")
               for line in lines)
    assert lines[lines.index("  links:") + 1] == f"    client #{client} ООО «Ромашка» (via client)"
    assert lines[-2:] == ["  recent history:", lines[-1]]
    assert lines[-1].endswith(" ivanova: create in stage new (5 fields set)")
    russian = invoke(db.url, "item", "show", "purchase", str(item_id), "--lang", "ru").stdout.splitlines()
    assert russian[:2] == [f"Заказ #{item_id}: Бетон М300", "  stage: Новый (new, pipeline main) · version 1"]
    assert "  Вид: Опт" in russian

    as_json = json.loads(invoke(db.url, "item", "show", "purchase", str(item_id), "--format", "json").stdout)
    assert (as_json["id"], as_json["title"], as_json["amount"], as_json["urgent"], as_json["tags"]) == (
        item_id, "Бетон М300", {"amount": "1500.50", "currency": "RUB"}, False, ["a", "b"])
    assert as_json["links"] == {"out": [{"field": "client", "process": "client", "id": client,
                                         "title": "ООО «Ромашка»"}], "in": []}
    [row] = list(csv.DictReader(io.StringIO(invoke(db.url, "item", "show", "purchase", str(item_id),
                                                   "--format", "csv").stdout)))
    assert (row["id"], row["title"], row["amount"], row["kind"], row["tags"]) == (
        str(item_id), "Бетон М300", "1500.50 RUB", "bulk", "a, b")


def test_not_found_and_hidden_items_read_the_same(db: Db) -> None:
    """petrov (clerk) reads his own purchases only: another's item looks exactly like a missing one."""
    item_id = db.admin.create("purchase", {"title": "чужой"})
    for command in (("item", "show", "purchase"), ("item", "history", "purchase"),
                    ("item", "update", "purchase", "{id}", "--set", "note=x"), ("item", "move", "purchase"),
                    ("item", "delete", "purchase"), ("item", "explain", "purchase", "{id}", "--to", "cancelled")):
        for target in (item_id, 999_999):
            args = [part.format(id=target) for part in command]
            if "{id}" not in command:
                args.append(str(target))
                if command[1] == "move":
                    args.append("cancelled")
            assert_error(invoke(db.url, *args, as_user="petrov"), EXIT_NOT_FOUND, f"purchase {target} not found",
                         HIDDEN_HINT)


def test_item_list(db: Db) -> None:
    crm = db.as_user("ivanova")
    first = crm.create("purchase", {"title": "Бетон М300", "amount": "1500.50", "kind": "retail"})
    second = crm.create("purchase", {"title": "бетон м200", "amount": "99", "supplier": "ООО"})
    ids = f"id in {first},{second}"
    table = invoke(db.url, "item", "list", "purchase", "--where", ids)
    assert table.exit_code == 0
    assert table.stdout == (
        "id    title       stage    Amount       Kind\n"
        "----  ----------  -------  -----------  ------\n"
        f"{first:<4}  Бетон М300  New      1500.50 RUB  Retail\n"
        f"{second:<4}  бетон м200  New      99.00 RUB\n")
    assert table.stderr == ""
    russian = invoke(db.url, "item", "list", "purchase", "--where", ids, "--lang", "ru", "--columns",
                     "title,supplier,stage")
    assert russian.stdout.splitlines()[0] == "id    title       Поставщик    stage"
    assert russian.stdout.splitlines()[3] == f"{second:<4}  бетон м200  ООО          Новый"
    as_json = json.loads(invoke(db.url, "item", "list", "purchase", "--where", ids, "--format", "json").stdout)
    assert as_json == [
        {"id": first, "title": "Бетон М300", "stage": "new", "amount": {"amount": "1500.50", "currency": "RUB"},
         "kind": "retail"},
        {"id": second, "title": "бетон м200", "stage": "new", "amount": {"amount": "99.00", "currency": "RUB"},
         "kind": None},
    ]
    as_csv = invoke(db.url, "item", "list", "purchase", "--where", ids, "--format", "csv", "--sort", "amount")
    assert as_csv.stdout == (f"id,title,stage,Amount,Kind\n{second},бетон м200,New,99.00 RUB,\n"
                             f"{first},Бетон М300,New,1500.50 RUB,Retail\n")
    searched = invoke(db.url, "item", "list", "purchase", "--where", ids, "--search", "БЕТОН М2", "--format", "csv")
    assert searched.stdout.splitlines()[1:] == [f"{second},бетон м200,New,99.00 RUB,"]
    paged = invoke(db.url, "item", "list", "purchase", "--where", ids, "--limit", "1", "--format", "csv")
    assert paged.stdout.splitlines()[1:] == [f"{first},Бетон М300,New,1500.50 RUB,Retail"]
    more = invoke(db.url, "item", "list", "purchase", "--where", ids, "--limit", "1")
    assert more.stderr == f"… more: --after {first}\n"
    after = invoke(db.url, "item", "list", "purchase", "--where", ids, "--after", str(first), "--format", "csv")
    assert after.stdout.splitlines()[1:] == [f"{second},бетон м200,New,99.00 RUB,"]
    assert_error(invoke(db.url, "item", "list", "purchase", "--where", "amount > много"), EXIT_BAD_VALUE,
                 "--where amount: 'много' is not a number", None)
    assert_error(invoke(db.url, "item", "list", "purchase", "--where", "amount ~ 5"), EXIT_BAD_VALUE,
                 "cannot read the filter 'amount ~ 5'",
                 "write FIELD OP VALUE, with OP one of = != < <= > >= in contains, or FIELD is empty")
    assert_error(invoke(db.url, "item", "list", "purchas"), EXIT_NOT_DEPLOYED, "there is no process `purchas`",
                 "did you mean `purchase`?")


def test_item_update(db: Db) -> None:
    item_id = db.as_user("ivanova").create("purchase", {"title": "t", "qty": 5, "urgent": True})
    updated = invoke(db.url, "item", "update", "purchase", str(item_id), "--set", "supplier=ООО «Ромашка»",
                     "--set", "urgent=нет", "--set", "qty=5", "--set", "amount=10 usd")
    assert (updated.stdout, updated.exit_code) == (
        "supplier: — → ООО «Ромашка»\nurgent: yes → no\namount: — → 10.00 USD\n", 0)  # with its decimals, as stored
    same = invoke(db.url, "item", "update", "purchase", str(item_id), "--set", "qty=5")
    assert (same.stdout, same.exit_code) == ("no changes\n", 0)
    emptied = invoke(db.url, "item", "update", "purchase", str(item_id), "--set", "supplier=", "--if-version", "2")
    assert (emptied.stdout, emptied.exit_code) == ("supplier: ООО «Ромашка» → —\n", 0)
    assert_error(invoke(db.url, "item", "update", "purchase", str(item_id), "--set", "note=late", "--if-version", "2"),
                 EXIT_CONFLICT, f"purchase {item_id} was changed by someone else; it is now in stage `new` "
                 "(version 3)", "reload it and try again")
    assert_error(invoke(db.url, "item", "update", "purchase", str(item_id), "--set", "due=31.12.2026"),
                 EXIT_BAD_VALUE, "field `due`: '31.12.2026' is not a date (write YYYY-MM-DD)",
                 "write a date as YYYY-MM-DD")
    assert db.admin.get("purchase", item_id)["version"] == 3
    # petrov (clerk) updates own purchases only; an approver's purchase is hidden, his own is fine
    own = db.as_user("petrov").create("purchase", {"title": "своя"})
    assert invoke(db.url, "item", "update", "purchase", str(own), "--set", "note=да", as_user="petrov").stdout == (
        "note: — → да\n")
    # sidorov (restricted) reads everything and may not update
    assert_error(invoke(db.url, "item", "update", "purchase", str(item_id), "--set", "note=x", as_user="sidorov"),
                 EXIT_DENIED, f"you may not update purchase {item_id}", "your roles allow `update: none`")


def test_item_move(db: Db) -> None:
    item_id = db.as_user("ivanova").create("purchase", {"title": "t", "amount": "500", "supplier": "S"})
    refused = invoke(db.url, "item", "move", "purchase", str(item_id), "prices")
    assert_error(refused, EXIT_MOVE_REFUSED,
                 f"purchase {item_id} cannot move from `new` to `prices`: the transition `new` → `prices`: "
                 "the condition `amount > 1000` is false (amount = 500.00)",
                 f"see `smartflow item explain purchase {item_id} --to prices`")
    db.admin.update("purchase", item_id, {"amount": "5000"})
    moved = invoke(db.url, "item", "move", "purchase", str(item_id), "prices", "--if-version", "2")
    assert (moved.stdout, moved.exit_code) == (f"purchase {item_id}: new → prices\n", 0)
    assert_error(invoke(db.url, "item", "move", "purchase", str(item_id), "cancelled", "--if-version", "2"),
                 EXIT_CONFLICT, f"purchase {item_id} was changed by someone else; it is now in stage `prices` "
                 "(version 3)", "reload it and try again")
    assert_error(invoke(db.url, "item", "move", "purchase", str(item_id), "prices"), EXIT_CONFLICT,
                 f"purchase {item_id} is already in stage `prices`", "someone may have moved it first; reload it")
    # sidorov's `move: own` does not reach the item: a refusal of rights (its exit code), not of the move's rules
    assert_error(invoke(db.url, "item", "move", "purchase", str(item_id), "cancelled", as_user="sidorov"),
                 EXIT_DENIED, f"you may not move purchase {item_id}: your roles allow moving only own items "
                 "(`move: own`), and this item is not one", "your roles allow `move: own`")
    other = invoke(db.url, "item", "move", "purchase", str(item_id), "start", "--pipeline", "express")
    assert (other.stdout, other.exit_code) == (f"purchase {item_id}: prices → start\n", 0)
    assert_error(invoke(db.url, "item", "move", "purchase", str(item_id), "start", "--pipeline", "expres"),
                 EXIT_BAD_VALUE, "purchase has no pipeline `expres`", "did you mean `express`?")


def test_item_delete_and_restore(db: Db) -> None:
    item_id = db.as_user("ivanova").create("purchase", {"title": "в корзину"})
    assert_error(invoke(db.url, "item", "delete", "purchase", str(item_id), as_user="sidorov"), EXIT_DENIED,
                 f"you may not delete purchase {item_id}", "your roles allow `delete: none`")
    deleted = invoke(db.url, "item", "delete", "purchase", str(item_id), as_user="ivanova")
    assert (deleted.stdout, deleted.exit_code) == (f"purchase {item_id} moved to the recycle bin\n", 0)
    assert_error(invoke(db.url, "item", "show", "purchase", str(item_id)), EXIT_NOT_FOUND,
                 f"purchase {item_id} not found", HIDDEN_HINT)
    restored = invoke(db.url, "item", "restore", "purchase", str(item_id))
    assert (restored.stdout, restored.exit_code) == (f"purchase {item_id} restored\n", 0)
    assert_error(invoke(db.url, "item", "restore", "purchase", str(item_id)), EXIT_NOT_FOUND,
                 f"purchase {item_id} not found in the recycle bin", HIDDEN_HINT)
    claim = db.admin.create("claim", {"title": "навсегда", "reason": "r"})
    gone = invoke(db.url, "item", "delete", "claim", str(claim))
    assert (gone.stdout, gone.exit_code) == (f"claim {claim} deleted\n", 0)
    assert_error(invoke(db.url, "item", "restore", "claim", str(claim)), EXIT_BAD_VALUE,
                 "claim has no recycle bin: deleted items are gone",
                 "turn on `features: {recycle_bin: true}` to keep deleted items")


def test_restoring_an_item_whose_unique_value_was_taken_is_refused(db: Db) -> None:
    old = db.admin.create("purchase", {"title": "старый", "code": "CL-100"})
    assert invoke(db.url, "item", "delete", "purchase", str(old)).exit_code == 0
    new = db.admin.create("purchase", {"title": "новый", "code": "CL-100"})  # the bin holds no unique values
    assert_error(invoke(db.url, "item", "restore", "purchase", str(old)), EXIT_BAD_VALUE,
                 f"cannot restore purchase {old}: field `code`: 'CL-100' is now used by purchase {new}",
                 f"change `code` of purchase {new} first (values of this field must be unique)")
    assert_error(invoke(db.url, "item", "show", "purchase", str(old)), EXIT_NOT_FOUND,
                 f"purchase {old} not found", HIDDEN_HINT)  # still in the recycle bin


def test_item_history(db: Db) -> None:
    crm = db.as_user("ivanova")
    item_id = crm.create("purchase", {"title": "история", "qty": 1, "urgent": True})
    crm.update("purchase", item_id, {"qty": 2, "urgent": False})
    crm.move("purchase", item_id, "cancelled")
    table = invoke(db.url, "item", "history", "purchase", str(item_id))
    assert table.exit_code == 0
    lines = table.stdout.splitlines()
    assert lines[0].split() == ["at", "who", "what", "via"]
    assert [line[21:].rstrip() for line in lines[2:]] == [
        "ivanova  create in stage new (2 fields set)  api",
        "ivanova  update qty: 1 → 2                   api",
        "ivanova  update urgent: yes → no             api",
        "ivanova  move stage: new → cancelled         api",
    ]
    rows = json.loads(invoke(db.url, "item", "history", "purchase", str(item_id), "--format", "json").stdout)
    assert [(r["who"], r["kind"], r["field"], r["old"], r["new"], r["via"]) for r in rows] == [
        ("ivanova", "create", None, None, {"title": "история", "qty": 1, "urgent": True, "pipeline": "main",
                                           "stage": "new"}, "api"),
        ("ivanova", "update", "qty", 1, 2, "api"),
        ("ivanova", "update", "urgent", True, False, "api"),
        ("ivanova", "move", "stage", "new", "cancelled", "api"),
    ]
    as_csv = list(csv.reader(io.StringIO(invoke(db.url, "item", "history", "purchase", str(item_id), "--format",
                                                "csv").stdout)))
    assert as_csv[0] == ["at", "who", "kind", "field", "old", "new", "via"]
    assert [row[1:] for row in as_csv[2:]] == [["ivanova", "update", "qty", "1", "2", "api"],
                                               ["ivanova", "update", "urgent", "True", "False", "api"],
                                               ["ivanova", "move", "stage", "new", "cancelled", "api"]]


def test_item_explain(db: Db) -> None:
    item_id = db.admin.create("purchase", {"title": "t", "amount": "500"})
    refused = invoke(db.url, "item", "explain", "purchase", str(item_id), "--to", "prices", as_user="sidorov")
    assert refused.exit_code == EXIT_INVALID
    assert refused.stdout == (
        f"purchase {item_id} cannot move to `prices`:\n"
        "  - your roles allow moving only own items (`move: own`), and this item is not one\n"
        "  - your roles may not move items into stage `prices`\n"
        "  - the transition `new` → `prices`: the condition `amount > 1000` is false (amount = 500.00)\n"
        "  - stage `prices` requires `supplier`, which is empty\n")
    allowed = invoke(db.url, "item", "explain", "purchase", str(item_id), "--to", "cancelled")
    assert (allowed.stdout, allowed.exit_code) == (f"purchase {item_id} may move to `cancelled`\n", 0)
    pipeline = invoke(db.url, "item", "explain", "purchase", str(item_id), "--to", "start", "--pipeline", "express")
    assert (pipeline.stdout, pipeline.exit_code) == (f"purchase {item_id} may move to `start`\n", 0)


def test_kanban(db: Db) -> None:
    """The lot process is this test's own: the whole board is known."""
    crm = db.as_user("ivanova")
    concrete = crm.create("lot", {"title": "Бетон М300", "price": "1500000.50"})
    sand = crm.create("lot", {"title": "Песок", "price": "2500"})
    gravel = crm.create("lot", {"title": "Щебень с очень длинным названием", "price": {"amount": "100",
                                                                                       "currency": "USD"}})
    crm.move("lot", gravel, "sold")
    board = invoke(db.url, "kanban", "lot", "--width", "60")
    assert board.exit_code == 0
    assert board.stdout == (
        "Open               │ Sold               │ Void\n"
        "2 · 1.5M RUB       │ 1 · 100 USD        │ 0 · —\n"
        "────────────────── │ ────────────────── │ ──────────────────\n"
        f"#{sand} Песок           │ #{gravel} Щебень с очень… │\n"
        f"#{concrete} Бетон М300      │                    │\n")
    as_json = json.loads(invoke(db.url, "kanban", "lot", "--format", "json").stdout)
    assert (as_json["process"], as_json["pipeline"], as_json["money_field"]) == ("lot", "main", "price")
    assert [(c["stage"], c["title"], c["count"], c["sums"]) for c in as_json["columns"]] == [
        ("open", "Open", 2, {"RUB": "1502500.50"}), ("sold", "Sold", 1, {"USD": "100.00"}), ("void", "Void", 0, {})]
    assert as_json["columns"][0]["cards"] == [{"id": sand, "title": "Песок", "amount": "2500.00"},
                                              {"id": concrete, "title": "Бетон М300", "amount": "1500000.50"}]
    assert invoke(db.url, "kanban", "lot", "--format", "csv").stdout == (
        "stage,title,count,sum\nopen,Open,2,1502500.50 RUB\nsold,Sold,1,100.00 USD\nvoid,Void,0,\n")
    # petrov (no rights on lots): to him there is no such process; unknown pipelines and processes are refused
    assert_error(invoke(db.url, "kanban", "lot", "--format", "json", as_user="petrov"), EXIT_NOT_DEPLOYED,
                 "there is no process `lot`", "deployed processes: `client`, `purchase`")
    assert_error(invoke(db.url, "kanban", "lot", "--pipeline", "mian"), EXIT_BAD_VALUE,
                 "lot has no pipeline `mian`", "did you mean `main`?")
    assert_error(invoke(db.url, "kanban", "lots"), EXIT_NOT_DEPLOYED, "there is no process `lots`",
                 "did you mean `lot`?")


def test_kanban_cards_are_the_newest_of_each_stage(db: Db) -> None:
    """Per stage the `top` most recently updated cards, newest first, the higher id first on a tie
    (runs after test_kanban, whose items are older than these)."""
    from datetime import UTC, datetime, timedelta

    from smartflow import Engine

    moments = [datetime(2031, 1, 1, tzinfo=UTC) + timedelta(minutes=n) for n in (0, 1, 2, 2, 3, 4, 5)]
    now = [moments[0]]
    with Engine(db.url, as_user="ivanova", clock=lambda: now[0]) as crm:
        made = []
        for number, moment in enumerate(moments):
            now[0] = moment
            made.append(crm.create("lot", {"title": f"card {number}", "price": "1"}))
        now[0] = moments[-1] + timedelta(minutes=1)
        crm.update("lot", made[0], {"title": "card 0, touched"})  # the oldest becomes the newest
        board = crm.kanban("lot", top=6)
    cards = next(column for column in board["columns"] if column["stage"] == "open")["cards"]
    assert [card["id"] for card in cards] == [made[0], made[6], made[5], made[4], made[3], made[2]]
