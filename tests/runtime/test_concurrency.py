"""Concurrency: 8 OS processes × 50 moves of ONE item, each process with its own Engine.

Every write checks the item's version (and holds a row lock on PostgreSQL; takes the write lock
up front with BEGIN IMMEDIATE and a busy timeout on SQLite), so each attempt either wins or is
refused with a clear error naming the stage the item is now in; none may fail any other way
("database is locked" least of all). Afterwards the successes reported equal the `move` history
rows, the item's version is 1 + successes, and the history is one unbroken chain of moves.

The pipeline is a cycle a → b → c → a. Half the attempts read the item first and move it onward
with `expected_version` (a ConflictError when someone moved it in between); the others move
blindly to the stage after the one the process last saw, which a concurrent move may have made
the current stage (ConflictError) or a stage the cycle does not reach from where the item now is
(TransitionNotAllowed).
"""

from __future__ import annotations

import multiprocessing
import re
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from smartflow.definitions.convert import to_yaml
from smartflow.deploy import apply as deploy

WORKERS = 8
ATTEMPTS = 50
STAGES = ("a", "b", "c")
ONWARD = {"a": "b", "b": "c", "c": "a"}
STAGE_NAMED = re.compile(r"stage `(a|b|c)`")  # a ConflictError: "… it is now in stage `b` …"
MOVING_FROM = re.compile(r"cannot move from `(a|b|c)`")  # a TransitionNotAllowed names where the item is

PROCESS: dict[str, Any] = {
    "kind": "Process",
    "id": "ticket",
    "title": {"ru": "Заявка", "en": "Ticket"},
    "fields": {"note": {"type": "string"}},
    "pipelines": {"main": {
        "title": "Main",
        "default": True,
        "stages": {"a": {"title": "A"}, "b": {"title": "B"}, "c": {"title": "C"},
                   "done": {"title": "Done", "semantic": "success"},
                   "dropped": {"title": "Dropped", "semantic": "failure"}},
        "transitions": [{"from": "a", "to": "b"}, {"from": "b", "to": "c"}, {"from": "c", "to": "a"},
                        {"from": "c", "to": "done"}, {"from": "*", "to": "dropped"}],
    }},
    "permissions": {"manager": "all"},
}


def _deploy(url: str, folder: Path) -> None:
    folder.mkdir()
    (folder / "ticket.yaml").write_text(to_yaml(PROCESS), encoding="utf-8")
    deploy.apply(deploy.load_desired([folder]), url)


def _worker(url: str, login: str, item_id: int, attempts: int, seed: int, barrier: Any, results: Any) -> None:
    """One OS process: its own Engine, `attempts` moves of the item; puts its tally on the queue."""
    tally: dict[str, Any] = {"login": login, "ok": 0, "conflict": 0, "refused": 0, "other": [], "unnamed": []}
    try:
        from smartflow import Engine
        from smartflow.errors import ConflictError, TransitionNotAllowed

        with Engine(url, as_user=login, via=f"worker-{seed}") as crm:
            seen = crm.get("ticket", item_id)["stage"]  # opens the pool and compiles before the race starts
            barrier.wait(timeout=60)
            for attempt in range(attempts):
                try:
                    if (attempt + seed) % 2:
                        item = crm.get("ticket", item_id)
                        seen = item["stage"]
                        crm.move("ticket", item_id, ONWARD[seen], expected_version=item["version"])
                    else:
                        crm.move("ticket", item_id, ONWARD[seen])
                    tally["ok"] += 1
                    seen = ONWARD[seen]
                except ConflictError as exc:
                    tally["conflict"] += 1
                    named = STAGE_NAMED.search(str(exc))
                    if named is None:
                        tally["unnamed"].append(str(exc))
                    else:
                        seen = named.group(1)
                except TransitionNotAllowed as exc:
                    tally["refused"] += 1
                    seen = crm.get("ticket", item_id)["stage"]
                    if not MOVING_FROM.search(str(exc)):
                        tally["unnamed"].append(str(exc))
                except Exception as exc:  # anything else is a failure of the test
                    tally["other"].append(f"{type(exc).__name__}: {exc}")
                    seen = crm.get("ticket", item_id)["stage"]
    except BaseException as exc:  # the worker itself broke: report it rather than hang the test
        tally["other"].append(f"worker {login}: {type(exc).__name__}: {exc}")
    results.put(tally)


def test_eight_processes_moving_one_item_exactly_one_wins_each_time(db_url: str, tmp_path: Path) -> None:
    from smartflow import Engine

    _deploy(db_url, tmp_path / "defs")
    logins = [f"mover{n}" for n in range(WORKERS)]
    with Engine(db_url) as admin:
        for login in logins:
            admin.add_user(login, login.title(), ["manager"])
        item_id = admin.create("ticket", {"title": "Одна заявка на всех"})

    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(WORKERS)
    results = context.Queue()
    workers = [context.Process(target=_worker, args=(db_url, login, item_id, ATTEMPTS, n, barrier, results))
               for n, login in enumerate(logins)]
    started = time.monotonic()
    for worker in workers:
        worker.start()
    tallies = [results.get(timeout=120) for _ in workers]  # drain before join: a full pipe would block exit
    for worker in workers:
        worker.join(timeout=30)
        assert worker.exitcode == 0, f"a worker exited with {worker.exitcode}"
    elapsed = time.monotonic() - started

    problems = [p for t in tallies for p in t["other"]]
    assert problems == [], f"errors other than a conflict or a refusal escaped: {problems[:5]}"
    assert not any("database is locked" in p for p in problems)
    unnamed = [m for t in tallies for m in t["unnamed"]]
    assert unnamed == [], f"refusals that do not name the stage the item is in: {unnamed[:5]}"
    for tally in tallies:
        assert tally["ok"] + tally["conflict"] + tally["refused"] == ATTEMPTS, tally
    successes = sum(t["ok"] for t in tallies)
    assert successes > 0

    with Engine(db_url) as admin:
        item = admin.get("ticket", item_id)
        history = admin.history("ticket", item_id)
    moves = [h for h in history if h["kind"] == "move"]
    assert len(moves) == successes, (len(moves), successes, tallies)
    assert item["version"] == 1 + successes
    # One unbroken chain: each move starts where the one before it ended, along the cycle.
    assert [h["kind"] for h in history] == ["create"] + ["move"] * successes
    stage = "a"
    for row in moves:
        assert row["field"] == "stage"
        assert row["old"] == stage and row["new"] == ONWARD[stage], (row, stage)
        stage = row["new"]
    assert item["stage"] == stage
    # Each worker's successes are the moves recorded under its name.
    engine = sa.create_engine(db_url)
    try:
        with engine.connect() as connection:
            by_user = dict(connection.execute(sa.text(
                "SELECT u.login, count(*) FROM sf_history h JOIN sf_users u ON u.id = h.actor_id "
                "WHERE h.process = 'ticket' AND h.item_id = :i AND h.kind = 'move' GROUP BY u.login"),
                {"i": item_id}).all())
    finally:
        engine.dispose()
    assert by_user == {t["login"]: t["ok"] for t in tallies if t["ok"]}
    assert elapsed < 60, f"the race took {elapsed:.1f}s"
