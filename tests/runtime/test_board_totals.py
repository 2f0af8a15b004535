"""The board's per-stage totals kept by the database (compile/totals.py) equal a GROUP BY over the items
at every step: create, move, money changed, recycle bin, import, automation, hand-written SQL, apply's
migrations, concurrent writers on PostgreSQL; and random sequences of all of these."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from smartflow import Engine
from smartflow.compile import totals
from smartflow.data.importer import ImportOptions
from smartflow.deploy import apply as deploy
from smartflow.runtime import query
from tests.dbutil import PG_ENV, database_url
from tests.runtime.support import Db, write_definitions

ROLES: dict[str, Any] = {"kind": "Roles", "roles": {"sales": {"title": "Sales"}, "own": {"title": "Own"}}}


def deal(**changes: Any) -> dict[str, Any]:
    document: dict[str, Any] = {
        "kind": "Process", "id": "deal", "title": "Deal",
        "features": {"recycle_bin": True},
        "fields": {"budget": {"type": "money", "currency": "RUB"}, "cost": {"type": "money", "currency": "USD"},
                   "note": {"type": "string"}},
        "pipelines": {
            "main": {"title": "Main", "default": True, "stages": {
                "open": {"title": "Open"}, "work": {"title": "Work"},
                "won": {"title": "Won", "semantic": "success"}, "lost": {"title": "Lost", "semantic": "failure"}}},
            "repeat": {"title": "Repeat", "stages": {"first": {"title": "First"}, "second": {"title": "Second"}}}},
        "permissions": {"sales": "all", "own": {"read": "own", "create": "all", "update": "own", "move": "own"}},
    }
    document.update(changes)
    return document


def grouped(url: str | sa.Engine, process: str = "deal", money: tuple[str, ...] | None = None
            ) -> dict[tuple[str, str, str, str], tuple[int, int]]:
    """What a GROUP BY over the items gives: (pipeline, stage, field, currency) → (items, sum in minor units)."""
    engine = sa.create_engine(url) if isinstance(url, str) else url
    try:
        with engine.connect() as connection:
            if money is None:
                names = {c["name"] for c in sa.inspect(connection).get_columns(f"p_{process}")}
                money = tuple(sorted(n for n in names if f"{n}__currency" in names))
            live = f"FROM p_{process} WHERE deleted_at IS NULL"
            out = {(p, s, "", ""): (int(n), 0) for p, s, n in connection.execute(sa.text(
                f"SELECT pipeline, stage, count(*) {live} GROUP BY pipeline, stage"))}
            for name in money:
                currency = f'coalesce("{name}__currency", \'\')'
                for p, s, c, n, total in connection.execute(sa.text(
                        f'SELECT pipeline, stage, {currency}, count(*), sum("{name}") {live} AND "{name}" IS NOT NULL '
                        f"GROUP BY pipeline, stage, {currency}")):
                    out[(p, s, name, c)] = (int(n), int(total))
            return out
    finally:
        if isinstance(url, str):
            engine.dispose()


def kept(url: str | sa.Engine, process: str = "deal") -> dict[tuple[str, str, str, str], tuple[int, int]]:
    """The totals the database keeps, summed per key, without the keys left empty and the marker."""
    engine = sa.create_engine(url) if isinstance(url, str) else url
    try:
        with engine.connect() as connection:
            rows = connection.execute(sa.text(
                "SELECT pipeline, stage, field, currency, sum(items), sum(total) FROM sf_board_totals "
                "WHERE process = :p AND pipeline <> '' GROUP BY pipeline, stage, field, currency"), {"p": process})
            return {(p, s, f, c): (int(n), int(total)) for p, s, f, c, n, total in rows if int(n) != 0}
    finally:
        if isinstance(url, str):
            engine.dispose()


def marker(url: str, process: str = "deal") -> int:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            return int(connection.execute(sa.text("SELECT coalesce(sum(items), 0) FROM sf_board_totals "
                                                  "WHERE process = :p AND pipeline = ''"), {"p": process}).scalar_one())
    finally:
        engine.dispose()


def assert_kept(url: str, process: str = "deal") -> None:
    expected = grouped(url, process)
    assert kept(url, process) == expected
    assert marker(url, process) == 1


def raw(url: str, statement: str, **params: Any) -> None:
    engine = sa.create_engine(url)
    try:
        with engine.begin() as connection:
            connection.execute(sa.text(statement), params)
    finally:
        engine.dispose()


@pytest.fixture
def db(db_url: str, tmp_path: Path) -> Iterator[Db]:
    database = Db(db_url, tmp_path / "defs", ROLES, deal())
    database.admin.add_user("seller", "Seller", ["sales"], None)
    database.admin.add_user("ivan", "Ivan", ["own"], None)
    yield database
    database.close()


def board_totals(board: dict[str, Any]) -> dict[str, tuple[int, dict[str, Any], dict[str, Any]]]:
    return {c["stage"]: (c["count"], c["totals"], c["sums"]) for c in board["columns"]}


def test_every_write_path_keeps_the_totals(db: Db, tmp_path: Path) -> None:
    crm = db.admin
    assert_kept(db.url)
    first = crm.create("deal", {"title": "a", "budget": "100", "cost": {"amount": "10", "currency": "EUR"}})
    second = crm.create("deal", {"title": "b", "budget": {"amount": "7.50", "currency": "EUR"}})
    crm.create("deal", {"title": "c"})
    assert_kept(db.url)
    crm.move("deal", first, "work")
    crm.move("deal", second, "first", pipeline="repeat")
    assert_kept(db.url)
    crm.update("deal", first, {"budget": "250.25"})
    crm.update("deal", first, {"cost": {"amount": "10", "currency": "USD"}})
    crm.update("deal", second, {"budget": None})
    crm.update("deal", first, {"note": "nothing to count"})
    assert_kept(db.url)
    crm.delete("deal", first)
    assert_kept(db.url)
    crm.restore("deal", first)
    assert_kept(db.url)
    sheet = tmp_path / "deals.csv"
    sheet.write_text("title,stage,budget,cost\n" + "".join(f"i{n},won,{n}.10 RUB,{n} USD\n" for n in range(30)),
                     encoding="utf-8")
    result = crm.import_file("deal", sheet, ImportOptions())
    assert result.created == 30, result
    assert_kept(db.url)
    raw(db.url, "UPDATE p_deal SET stage = 'lost' WHERE stage = 'won' AND id % 2 = 0")  # by hand, many rows
    raw(db.url, "DELETE FROM p_deal WHERE title = 'i3'")
    assert_kept(db.url)
    board = crm.kanban("deal")
    columns = board_totals(board)
    expected = grouped(db.url)
    for stage in ("open", "work", "won", "lost"):
        count, sums, first_field = columns[stage]
        assert count == expected.get(("main", stage, "", ""), (0, 0))[0]
        for field in ("budget", "cost"):
            want = {c: Decimal(t).scaleb(-2) for (p, s, f, c), (n, t) in expected.items()
                    if (p, s, f) == ("main", stage, field) and n}
            assert sums.get(field, {}) == want
        assert first_field == sums.get("budget", {})


def test_the_board_reads_kept_totals_only_for_who_sees_every_item(db: Db) -> None:
    crm = db.admin
    crm.create("deal", {"title": "admin's", "budget": "100"})
    ivan = db.as_user("ivan")
    ivan.create("deal", {"title": "ivan's", "budget": "5"})
    with crm.session(False) as write:
        assert query.kept_totals(write, write.compiled.processes["deal"], "main") is not None
    with ivan.session(False) as write:  # reads only his own: the totals would count the admin's deal
        assert query.kept_totals(write, write.compiled.processes["deal"], "main") is None
    column = board_totals(ivan.kanban("deal"))["open"]
    assert column[:2] == (1, {"budget": {"RUB": Decimal("5.00")}})
    assert board_totals(db.as_user("seller").kanban("deal"))["open"][:2] == (2, {"budget": {"RUB": Decimal("105.00")}})


def test_a_hidden_money_field_is_not_in_the_kept_totals(db_url: str, tmp_path: Path) -> None:
    document = deal(permissions={"sales": {"read": "all", "create": "all", "update": "all", "move": "all",
                                           "hidden_fields": ["cost"]}})
    database = Db(db_url, tmp_path / "defs", ROLES, document)
    try:
        database.admin.add_user("seller", "Seller", ["sales"], None)
        database.admin.create("deal", {"title": "a", "budget": "1", "cost": "2"})
        seller = database.as_user("seller")
        with seller.session(False) as write:
            found = query.kept_totals(write, write.compiled.processes["deal"], "main")
        assert found == {"open": (1, {"budget": {"RUB": Decimal("1.00")}})}
        board = seller.kanban("deal")
        assert board["money_fields"] == ["budget"]
        assert all("cost" not in c["totals"] for c in board["columns"])
    finally:
        database.close()



def test_the_http_api_keeps_the_totals(db: Db) -> None:
    from fastapi.testclient import TestClient

    from smartflow.http.app import create_app

    token = db.admin.create_token("seller")
    items = "/api/v1/processes/deal/items"
    with TestClient(create_app(engine=db.admin)) as client:
        client.headers["Authorization"] = f"Bearer {token}"
        made = [client.post(items, json={"title": f"h{n}", "budget": f"{n}.50", "cost": "3"}).json()["id"]
                for n in range(4)]
        assert client.post(f"{items}/{made[0]}/move", json={"stage": "won"}).status_code == 200
        euros = {"budget": {"amount": "9", "currency": "EUR"}}
        assert client.patch(f"{items}/{made[1]}", json=euros).status_code == 200
        assert client.delete(f"{items}/{made[2]}").status_code == 200
        assert_kept(db.url)
        board = client.get("/api/v1/processes/deal/kanban").json()
    columns = {c["stage"]: c for c in board["columns"]}
    assert (columns["open"]["count"], columns["won"]["count"]) == (2, 1)
    assert columns["open"]["totals"]["budget"] == {"EUR": "9.00", "RUB": "3.50"}


def test_items_deleted_for_good_and_a_truncated_table(db_url: str, tmp_path: Path) -> None:
    document = deal(fields={"price": {"type": "money", "currency": "RUB"}, "fee": {"type": "money"}},
                    features={})  # no recycle bin
    database = Db(db_url, tmp_path / "defs", ROLES, document)
    try:
        first = database.admin.create("deal", {"title": "a", "price": "5", "fee": {"amount": "2", "currency": "EUR"}})
        database.admin.create("deal", {"title": "b", "price": "7"})
        database.admin.move("deal", first, "won")
        database.admin.update("deal", first, {"fee": "4"})
        assert_kept(db_url)
        database.admin.delete("deal", first)  # no recycle bin: gone for good
        assert_kept(db_url)
        if database.raw.dialect.name == "postgresql":
            with database.raw.begin() as connection:
                connection.exec_driver_sql("TRUNCATE p_deal")
            assert_kept(db_url)
    finally:
        database.close()

def test_automation_keeps_the_totals(db_url: str, tmp_path: Path) -> None:
    document = deal(triggers=[{"id": "start", "on": "created", "when": "budget", "do": [
        {"move": "work"}, {"set": {"cost": "5"}}]}])
    database = Db(db_url, tmp_path / "defs", ROLES, document)
    try:
        item_id = database.admin.create("deal", {"title": "a", "budget": "100"})
        database.admin.create("deal", {"title": "b"})
        assert database.admin.get("deal", item_id)["stage"] == "work"
        assert_kept(db_url)
        assert board_totals(database.admin.kanban("deal"))["work"][:2] == (
            1, {"budget": {"RUB": Decimal("100.00")}, "cost": {"USD": Decimal("5.00")}})
    finally:
        database.close()


def _apply(url: str, folder: Path, *documents: dict[str, Any], allow_data_loss: bool = False) -> None:
    for old in folder.glob("*.yaml"):
        old.unlink()
    deploy.apply(write_definitions(folder, *documents), url, allow_data_loss=allow_data_loss)


def test_apply_rebuilds_the_totals_when_the_shape_changes(db: Db) -> None:
    crm = db.admin
    ids = [crm.create("deal", {"title": f"d{n}", "budget": {"amount": str(n), "currency": "EUR" if n % 3 else "RUB"},
                               "cost": str(n * 2) if n % 2 else None}) for n in range(12)]
    for n, item_id in enumerate(ids):
        if n % 4:
            crm.move("deal", item_id, ("open", "work", "won", "lost")[n % 4])
    crm.move("deal", ids[0], "first", pipeline="repeat")
    crm.delete("deal", ids[4])
    assert_kept(db.url)

    def changed(*, data_loss: bool = False, **document: Any) -> None:
        _apply(db.url, db.folder, ROLES, deal(**document), allow_data_loss=data_loss)
        assert_kept(db.url)
        with Engine(db.url) as fresh:  # the triggers work after the apply
            fresh.create("deal", {"title": "after", "budget": "1.25"})
        assert_kept(db.url)

    base = deal()
    main = base["pipelines"]["main"]
    # a stage renamed, another removed with its items moved to an heir
    stages = {"open": main["stages"]["open"], "doing": {"title": "Doing", "renamed_from": "work"},
              "won": {"title": "Won", "semantic": "success", "replaces": ["lost"]}}
    pipelines = {"main": {**main, "stages": stages}, "repeat": base["pipelines"]["repeat"]}
    changed(pipelines=pipelines)
    # a money field added with a value for every item, one removed (SQLite copies the table and swaps it)
    fields = {"budget": base["fields"]["budget"], "note": {"type": "string"},
              "fee": {"type": "money", "currency": "EUR", "backfill": 3}}
    changed(pipelines=pipelines, fields=fields, data_loss=True)
    # money becomes a number (no longer summed), and a precision change rewrites every amount
    changed(pipelines=pipelines, fields={**fields, "fee": {"type": "number"},
                                         "budget": {"type": "money", "currency": "RUB", "precision": 3}})
    # a pipeline renamed, then removed (its items go to the default pipeline)
    renamed = {"main": pipelines["main"], "again": {**pipelines["repeat"], "renamed_from": "repeat"}}
    changed(pipelines=renamed, fields={**fields, "fee": {"type": "number"},
                                       "budget": {"type": "money", "currency": "RUB", "precision": 3}})
    changed(pipelines={"main": pipelines["main"]}, data_loss=True,
            fields={**fields, "fee": {"type": "number"},
                    "budget": {"type": "money", "currency": "RUB", "precision": 3}})
    board = board_totals(crm.kanban("deal"))
    assert sum(column[0] for column in board.values()) == grouped_count(db.url)
    # the process removed: its totals go, and on PostgreSQL its function
    _apply(db.url, db.folder, ROLES, {**deal(id="other")}, allow_data_loss=True)
    assert kept(db.url) == {} and marker(db.url) == 0
    assert_kept(db.url, "other")


def grouped_count(url: str) -> int:
    return sum(n for (_, _, f, _), (n, _) in grouped(url).items() if f == "")


def test_an_older_deployment_gets_its_totals_at_the_next_apply(db: Db) -> None:
    crm = db.admin
    crm.create("deal", {"title": "a", "budget": "10"})
    crm.create("deal", {"title": "b", "budget": {"amount": "2", "currency": "EUR"}})
    engine = sa.create_engine(db.url)
    with engine.begin() as connection:  # as a deployment made before the totals existed
        for statement in totals.drop_statements("deal", connection.dialect.name, function=True):
            connection.exec_driver_sql(statement)
        connection.exec_driver_sql("DROP TABLE sf_board_totals")
    engine.dispose()
    with Engine(db.url) as older:  # no totals: the board counts by a GROUP BY
        assert board_totals(older.kanban("deal"))["open"][:2] == (
            2, {"budget": {"RUB": Decimal("10.00"), "EUR": Decimal("2.00")}})
        older.create("deal", {"title": "c", "budget": "1"})
    planned = deploy.plan(db.desired, db.url)
    assert [op.kind for op in planned.changes] == ["create_system_tables"]
    deploy.apply(db.desired, db.url)
    assert_kept(db.url)
    with Engine(db.url) as upgraded, upgraded.session(False) as write:
        assert query.kept_totals(write, write.compiled.processes["deal"], "main") == {
            "open": (3, {"budget": {"RUB": Decimal("11.00"), "EUR": Decimal("2.00")}})}


def test_a_sum_past_64_bits_on_sqlite_is_not_read_from_the_totals(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'big.db'}"
    database = Db(url, tmp_path / "defs", ROLES, deal())
    try:
        big = str(2**62 // 100 + 10)  # two of these overflow a 64-bit sum of cents
        database.admin.create("deal", {"title": "a", "budget": big})
        with database.admin.session(False) as write:
            assert query.kept_totals(write, write.compiled.processes["deal"], "main") is not None
        database.admin.create("deal", {"title": "b", "budget": big})
        with database.admin.session(False) as write:
            assert query.kept_totals(write, write.compiled.processes["deal"], "main") is None
        # a rebuild at apply (sum() fails past 64 bits on SQLite) keeps them as untrusted floats, and applies
        _apply(url, database.folder, ROLES, deal(fields={**deal()["fields"], "extra": {"type": "string"}}))
        with Engine(url) as fresh, fresh.session(False) as write:
            assert query.kept_totals(write, write.compiled.processes["deal"], "main") is None
    finally:
        database.close()


# ---- random sequences of every kind of change ------------------------------------------------------

PLACES = [("main", "open"), ("main", "work"), ("main", "won"), ("main", "lost"), ("repeat", "first"),
          ("repeat", "second")]
money = st.one_of(st.none(), st.tuples(st.integers(0, 10**9), st.sampled_from(["RUB", "EUR", "USD"])))
pick = st.integers(0, 10**6)
place = st.integers(0, len(PLACES) - 1)
operations = st.one_of(
    st.tuples(st.just("create"), place, money, money),
    st.tuples(st.just("move"), pick, place),
    st.tuples(st.just("update"), pick, st.sampled_from(["budget", "cost"]), money),
    st.tuples(st.just("delete"), pick),
    st.tuples(st.just("restore"), pick),
    st.tuples(st.just("import"), st.lists(st.tuples(place, money, money), min_size=1, max_size=4)),
    st.tuples(st.just("sql move"), place, place),  # a hand-written UPDATE of every item of a stage
    st.tuples(st.just("sql delete"), pick),  # deleted for good, recycle bin or not
)


def _money(value: tuple[int, str] | None) -> Any:
    return None if value is None else {"amount": str(Decimal(value[0]).scaleb(-2)), "currency": value[1]}


def _cell(value: tuple[int, str] | None) -> str:
    return "" if value is None else f"{Decimal(value[0]).scaleb(-2)} {value[1]}"


def _run(db: Db, folder: Path, steps: list[tuple[Any, ...]]) -> None:
    """Every step through the way people, imports and scripts make it, the totals checked after each."""
    from smartflow.errors import SmartflowError

    crm = db.admin
    with db.raw.connect() as connection:
        ids = [int(i) for i in connection.execute(sa.text("SELECT id FROM p_deal ORDER BY id")).scalars()]
    for step in steps:
        kind = step[0]
        try:
            if kind == "create":
                pipeline, stage = PLACES[step[1]]
                ids.append(crm.create("deal", {"title": "c", "budget": _money(step[2]), "cost": _money(step[3])},
                                      pipeline=pipeline, stage=stage))
            elif kind == "import":
                sheet = folder / "rows.csv"
                lines = [f"i,{PLACES[p][0]},{PLACES[p][1]},{_cell(b)},{_cell(c)}\n" for p, b, c in step[1]]
                sheet.write_text("title,pipeline,stage,budget,cost\n" + "".join(lines), encoding="utf-8")
                crm.import_file("deal", sheet, ImportOptions())
            elif kind == "sql move":
                (from_pipeline, from_stage), (to_pipeline, to_stage) = PLACES[step[1]], PLACES[step[2]]
                with db.raw.begin() as connection:
                    connection.execute(sa.text("UPDATE p_deal SET pipeline = :tp, stage = :ts "
                                               "WHERE pipeline = :fp AND stage = :fs"),
                                       {"tp": to_pipeline, "ts": to_stage, "fp": from_pipeline, "fs": from_stage})
            elif ids:
                item_id = ids[step[1] % len(ids)]
                if kind == "move":
                    pipeline, stage = PLACES[step[2]]
                    crm.move("deal", item_id, stage, pipeline=pipeline)
                elif kind == "update":
                    crm.update("deal", item_id, {step[2]: _money(step[3])})
                elif kind == "delete":
                    crm.delete("deal", item_id)
                elif kind == "restore":
                    crm.restore("deal", item_id)
                elif kind == "sql delete":
                    with db.raw.begin() as connection:
                        connection.execute(sa.text("DELETE FROM p_deal WHERE id = :id"), {"id": item_id})
        except SmartflowError:
            pass  # refused (already there, not in the bin, gone): nothing changed
        assert kept(db.raw) == grouped(db.raw, money=("budget", "cost")), f"after {step}"


def _check_random_sequences(db: Db, folder: Path, examples: int, shrink: bool = True) -> None:
    phases = list(Phase) if shrink else [Phase.explicit, Phase.generate]
    @settings(max_examples=examples, deadline=None, database=None, derandomize=True, phases=phases,
              suppress_health_check=list(HealthCheck))
    @given(st.lists(operations, min_size=1, max_size=10))
    def sequences(steps: list[tuple[Any, ...]]) -> None:
        _run(db, folder, steps)

    sequences()


def test_random_sequences_keep_the_totals_equal_to_a_group_by(db: Db, tmp_path: Path) -> None:
    _check_random_sequences(db, tmp_path, examples=40)
    assert_kept(db.url)


def test_the_random_sequences_catch_totals_that_are_not_kept(db: Db, tmp_path: Path) -> None:
    with db.raw.begin() as connection:  # the totals' upkeep switched off
        for statement in totals.drop_statements("deal", connection.dialect.name):
            connection.exec_driver_sql(statement)
    with pytest.raises(AssertionError):
        _check_random_sequences(db, tmp_path, examples=40, shrink=False)


# ---- PostgreSQL: concurrent writers --------------------------------------------------------------


@pytest.fixture
def pg(tmp_path: Path) -> Iterator[Db]:
    if not os.environ.get(PG_ENV):
        pytest.skip(f"{PG_ENV} is not set")
    for url in database_url("postgresql", tmp_path):
        database = Db(url, tmp_path / "defs", ROLES, deal())
        try:
            yield database
        finally:
            database.close()


def _moves_in_one_transaction(url: str, moves: list[list[tuple[int, str]]], barrier: threading.Barrier,
                              failures: list[BaseException]) -> None:
    """One transaction per round: each move of the round, meeting the other thread between moves."""
    from smartflow.runtime import items

    try:
        with Engine(url) as crm:
            for round_moves in moves:
                with crm.session(True) as write:
                    for item_id, stage in round_moves:
                        items.move(write, "deal", item_id, stage)
                        barrier.wait()  # the other transaction has made its move too, and holds what it holds
    except BaseException as exc:  # handed to the test, which fails with it
        failures.append(exc)
        barrier.abort()


def test_transactions_moving_items_between_the_same_stages_both_ways_neither_wait_nor_deadlock(pg: Db) -> None:
    crm = pg.admin
    forward = crm.create("deal", {"title": "forward", "budget": "10"})
    backward = crm.create("deal", {"title": "backward", "budget": {"amount": "3", "currency": "EUR"}})
    crm.move("deal", backward, "work")
    # each round, in one transaction: A moves its item open → work, then back; B its item work → open, then
    # back; each holds a change of both stages while the other makes its move (hot total rows would block)
    a = [[(forward, "work"), (forward, "open")]] * 30
    b = [[(backward, "open"), (backward, "work")]] * 30
    barrier = threading.Barrier(2, timeout=120)  # a guard against a hang, not a measure of time
    failures: list[BaseException] = []
    threads = [threading.Thread(target=_moves_in_one_transaction, args=(pg.url, moves, barrier, failures))
               for moves in (a, b)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert_kept(pg.url)


def _many_changes(url: str, worker: int, failures: list[BaseException]) -> None:
    try:
        with Engine(url) as crm:
            for n in range(40):
                item_id = crm.create("deal", {"title": f"w{worker}-{n}", "budget": str(n),
                                              "cost": {"amount": "1", "currency": ("EUR", "USD")[worker % 2]}})
                crm.move("deal", item_id, ("work", "won", "lost")[n % 3])
                if n % 5 == 0:
                    crm.update("deal", item_id, {"budget": {"amount": "2", "currency": "EUR"}})
                if n % 7 == 0:
                    crm.delete("deal", item_id)
    except BaseException as exc:  # handed to the test, which fails with it
        failures.append(exc)


def test_concurrent_writers_lose_no_change_and_folding_keeps_the_sums(pg: Db) -> None:
    failures: list[BaseException] = []
    threads = [threading.Thread(target=_many_changes, args=(pg.url, worker, failures)) for worker in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert_kept(pg.url)
    expected = grouped(pg.url)
    assert sum(n for (_, _, f, _), (n, _) in expected.items() if f == "") == 4 * 40 - 4 * 6
    # then one writer: a fold is due at every 256th row appended, and no other transaction holds its lock
    item_id = pg.admin.create("deal", {"title": "alone", "budget": "1", "cost": "1"})
    for n in range(60):
        pg.admin.move("deal", item_id, ("work", "open")[n % 2])
    assert_kept(pg.url)
    with pg.raw.connect() as connection:
        appended = connection.execute(sa.text("SELECT max(id) FROM sf_board_totals")).scalar_one()
        rows = connection.execute(sa.text("SELECT count(*) FROM sf_board_totals")).scalar_one()
    assert appended > 4 * totals.FOLD_EVERY  # rows were appended past several folds…
    assert rows <= totals.FOLD_EVERY + len(grouped(pg.url)) + 8  # …and folded: the board reads few rows
