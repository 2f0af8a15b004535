"""Loops are contained, on SQLite and PostgreSQL: each stops at its cap, and the person's change stands.

The caps (smartflow/runtime/automation.py): the same trigger runs once per item within one causation
chain; a chain is at most MAX_DEPTH actions deep (delayed jobs carry their depth along); a root
event may spend at most ACTION_BUDGET actions. Hitting the depth cap or the budget stops the chain and
records one `automation` error in the item's history; what ran before stays.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from smartflow.automation.triggers import ACTION_BUDGET, MAX_DEPTH
from tests.automation.support import ROLES, Auto, process
from tests.runtime.support import module_url

__all__ = ["module_url"]  # the fixture, imported for pytest

LADDER = [f"s{n}" for n in range(12)]

PING_PONG = process("pp", {}, [
    {"id": "to_b", "on": "stage_entered", "stage": "a", "do": [{"move": "b"}]},
    {"id": "to_a", "on": "stage_entered", "stage": "b", "do": [{"move": "a"}]},
], "start", "a", "b")

DELAYED_PING_PONG = process("dp", {}, [
    {"id": "to_b", "on": "stage_entered", "stage": "a", "after": "1h", "do": [{"move": "b"}]},
    {"id": "to_a", "on": "stage_entered", "stage": "b", "after": "1h", "do": [{"move": "a"}]},
], "start", "a", "b")

LADDER_PROCESS = process("ladder", {}, [
    {"id": f"up_{n}", "on": "stage_entered", "stage": LADDER[n], "do": [{"move": LADDER[n + 1]}]}
    for n in range(len(LADDER) - 1)
], *LADDER)

FAN_OUT = process("cell", {"parent": {"type": "link", "to": "cell"}}, [
    {"id": "divide", "on": "created", "do": [
        {"create_item": {"process": "cell", "link": "parent", "title": "{{ title }}." + str(n)}} for n in range(2)]},
], "alive")

WIDE = process("swarm", {"gen": {"type": "integer"}, "origin": {"type": "link", "to": "swarm"}}, [
    {"id": "spawn", "on": "created", "when": "gen < 3", "do": [
        {"create_item": {"process": "swarm", "link": "origin", "title": "{{ title }}." + str(n),
                         "fields": {"gen": "{{ gen + 1 }}"}}} for n in range(5)]},
], "alive")

SELF_UPDATE = process("counter", {"n": {"type": "integer"}, "m": {"type": "integer"}}, [
    {"id": "bump", "on": "field_changed", "field": "n", "do": [{"set": {"n": "{{ n + 1 }}"}}]},
    {"id": "bump_later", "on": "field_changed", "field": "m", "after": "10m", "do": [{"set": {"m": "{{ m + 1 }}"}}]},
], "open")


@pytest.fixture(scope="module")
def db(module_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Auto]:
    auto = Auto(module_url, tmp_path_factory.mktemp("defs"), ROLES, PING_PONG, DELAYED_PING_PONG, LADDER_PROCESS,
                FAN_OUT, WIDE, SELF_UPDATE)
    yield auto
    auto.close()


def moves(db: Auto, process_id: str, item: int) -> list[tuple[Any, Any, str]]:
    return [(h["old"], h["new"], h["via"]) for h in db.history(process_id, item) if h["kind"] == "move"]


def test_ping_pong_between_two_stages_stops(db: Auto) -> None:
    item = db.admin.create("pp", {"title": "Пинг-понг"})
    db.admin.move("pp", item, "a")
    assert moves(db, "pp", item) == [("start", "a", "api"), ("a", "b", "trigger:pp.to_b"),
                                     ("b", "a", "trigger:pp.to_a")]
    assert db.admin.get("pp", item)["stage"] == "a"  # to_b does not run twice in one chain
    assert db.errors("pp", item) == []
    db.admin.move("pp", item, "start")  # a new change is a new chain: the game is played again, once
    db.admin.move("pp", item, "b")
    assert [m[2] for m in moves(db, "pp", item)[3:]] == ["api", "api", "trigger:pp.to_a", "trigger:pp.to_b"]


def test_ping_pong_through_delayed_jobs_stops_at_the_depth_cap(db: Auto) -> None:
    item = db.admin.create("dp", {"title": "Пинг-понг с задержкой"})
    db.admin.move("dp", item, "a")
    for _ in range(MAX_DEPTH + 4):
        db.clock.advance(hours=1)
        db.drain()
    by_triggers = [m for m in moves(db, "dp", item) if m[2] != "api"]
    assert len(by_triggers) == MAX_DEPTH
    last = "dp.to_b" if MAX_DEPTH % 2 == 0 else "dp.to_a"  # depth 0 is to_b, 1 to_a, …
    assert db.errors("dp", item) == [f"depth cap {MAX_DEPTH} reached at trigger `{last}`; the chain was stopped"]
    assert [j["status"] for j in db.jobs("dp", item)] == ["done"] * (MAX_DEPTH + 1)
    assert [j["payload"]["depth"] for j in db.jobs("dp", item)] == list(range(MAX_DEPTH + 1))


def test_a_ladder_of_distinct_triggers_stops_at_the_depth_cap(db: Auto) -> None:
    item = db.admin.create("ladder", {"title": "Лестница"})  # created in s0: each trigger climbs one rung
    assert moves(db, "ladder", item) == [(LADDER[n], LADDER[n + 1], f"trigger:ladder.up_{n}")
                                         for n in range(MAX_DEPTH)]
    assert db.admin.get("ladder", item)["stage"] == LADDER[MAX_DEPTH]
    assert db.errors("ladder", item) == [
        f"depth cap {MAX_DEPTH} reached at trigger `ladder.up_{MAX_DEPTH}`; the chain was stopped"]


def test_fan_out_creation_stops_at_its_cap(db: Auto) -> None:
    root = db.admin.create("cell", {"title": "root"})
    cells = db.items("cell")
    # depth first: root.0, root.0.0, … until the depth cap stops the whole chain
    assert len(cells) == 1 + MAX_DEPTH
    assert [c["title"] for c in cells] == ["root" + ".0" * n for n in range(MAX_DEPTH + 1)]
    deepest = cells[-1]["id"]
    assert db.errors("cell", deepest) == [f"depth cap {MAX_DEPTH} reached at trigger `cell.divide`; "
                                          "the chain was stopped"]
    assert db.history("cell", root)[0]["kind"] == "create"  # the person's create stands


def test_wide_fan_out_stops_at_the_action_budget(db: Auto) -> None:
    db.admin.create("swarm", {"title": "рой", "gen": 0})
    spawned = db.items("swarm")[1:]
    assert len(spawned) == ACTION_BUDGET  # 5 + 25 + 125 would be wanted; the budget allows 64 actions
    errors = [e for row in db.items("swarm") for e in db.errors("swarm", row["id"])]
    assert errors == [f"the action budget of {ACTION_BUDGET} per event was spent at trigger `swarm.spawn`; "
                      "the chain was stopped"]
    assert all(int(row["gen"]) <= 3 for row in spawned)


def test_self_update_runs_once_per_change(db: Auto) -> None:
    item = db.admin.create("counter", {"title": "Счётчик"})
    db.admin.update("counter", item, {"n": 1})
    assert db.admin.get("counter", item)["n"] == 2
    db.admin.update("counter", item, {"n": 10})
    assert db.admin.get("counter", item)["n"] == 11
    assert [(h["via"], h["new"]) for h in db.history("counter", item) if h["field"] == "n"] == [
        ("api", 1), ("trigger:counter.bump", 2), ("api", 10), ("trigger:counter.bump", 11)]


def test_delayed_self_update_stops_at_the_depth_cap(db: Auto) -> None:
    item = db.admin.create("counter", {"title": "Отложенный счётчик"})
    db.admin.update("counter", item, {"m": 0})
    for _ in range(MAX_DEPTH + 4):
        db.clock.advance(minutes=10)
        db.drain()
    assert db.admin.get("counter", item)["m"] == MAX_DEPTH
    assert db.errors("counter", item) == [
        f"depth cap {MAX_DEPTH} reached at trigger `counter.bump_later`; the chain was stopped"]
    assert [j for j in db.jobs("counter", item) if j["status"] == "pending"] == []


def test_a_child_chain_shares_everything_but_its_depth_and_draws_its_root_once() -> None:
    from smartflow.automation.triggers import Chain

    chain = Chain()
    child = chain.child().child()
    assert (chain.depth, child.depth) == (0, 2)
    assert child.budget is chain.budget and child.seen is chain.seen and child.current is chain.current
    assert child.stopped is chain.stopped
    root = child.root  # drawn by the grandchild: the root sees the same id
    assert len(root) == 32 and chain.root == root and chain.child().root == root
    assert Chain(root="job-7", depth=3).child().root == "job-7"
    assert Chain().root != root


def test_a_derived_write_is_a_replaced_copy_that_shares_what_the_transaction_found() -> None:
    from dataclasses import replace

    from smartflow.runtime.access import Actor
    from smartflow.runtime.items import Write

    write = Write(connection=None, compiled=None, actor=Actor(1, "ann", "Ann", frozenset()), held=[])  # type: ignore[arg-type]
    other = Actor(None, "trigger:p.t", "trigger p.t", frozenset({"administrator"}), service=True)
    derived = write.derived(actor=other, via="trigger:p.t")
    assert derived == replace(write, actor=other, via="trigger:p.t")
    assert derived.found is write.found and derived.held is write.held and write.actor.login == "ann"
    with pytest.raises(TypeError, match="no nope"):
        write.derived(nope=1)
