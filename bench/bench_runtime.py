"""Benchmark: the runtime (Engine.create, Engine.move, Engine.list) against raw SQLAlchemy Core.

Every figure is printed beside its raw equivalent, measured in the same run on the same
database with the same engine settings (`smartflow.db.make_engine`: WAL, synchronous=NORMAL,
busy timeout, BEGIN IMMEDIATE for writes on SQLite):

- create: `Engine.create` of one item (types checked, defaults, required fields, permission,
  history row), one transaction each — vs a Core INSERT of the same item row plus a Core INSERT
  of its history row, one transaction each;
- move: `Engine.move` of one item (row read and locked, transition, condition, rights, required
  fields, version check, history row) — vs a Core UPDATE of stage / version plus a history INSERT,
  one transaction each;
- list: `Engine.list(process, pipeline=…, stage=…, where=[…], limit=50)` and the keyset next
  page (`after=`) over --items items — vs the same page selected by a Core query on the same index.

The raw side runs two ways: "prebuilt" — each statement built once and executed with
parameters, the fastest way to use Core (the strict baseline) — and "per-call" — each call
builds its statement with the values in it (`insert().values(row)`, `select().where(col == v)`),
as Core code is usually written. The --items items are bulk-loaded first (so the writes, too,
run on a table that size); then the three sides alternate in rounds and each figure is the
median over the rounds, so a drift of the machine during the run shows on all. Targets: create
and move at least 0.5x the raw speed; a list page under 2x the raw query time; each checked
against both raw ways.

    python3 bench/bench_runtime.py [--db URL] [--items 100000] [--ops 2000] [--rounds 5]

Without --db it runs on a SQLite file in a temporary folder; with a PostgreSQL URL it works in
a fresh schema (set as the search path) that it drops afterwards.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sqlalchemy as sa

from smartflow import Engine
from smartflow.compile.sql import build_metadata
from smartflow.db import make_engine
from smartflow.definitions.convert import to_yaml
from smartflow.deploy import apply as deploy

PROCESS: dict[str, Any] = {
    "kind": "Process",
    "id": "deal",
    "title": {"ru": "Сделка", "en": "Deal"},
    "fields": {
        "amount": {"type": "money", "title": {"ru": "Сумма", "en": "Amount"}, "currency": "RUB", "min": 0},
        "kind": {"type": "enum", "title": {"ru": "Вид", "en": "Kind"}, "default": "retail", "options": [
            {"id": "retail", "title": {"ru": "Розница", "en": "Retail"}},
            {"id": "bulk", "title": {"ru": "Опт", "en": "Bulk"}},
            {"id": "export", "title": {"ru": "Экспорт", "en": "Export"}}]},
        "code": {"type": "string", "title": {"ru": "Код", "en": "Code"}, "max_length": 40},
        "quantity": {"type": "integer", "title": {"ru": "Количество", "en": "Quantity"}, "min": 0},
        "rate": {"type": "number", "title": {"ru": "Ставка", "en": "Rate"}, "precision": 2},
        "due": {"type": "date", "title": {"ru": "Срок", "en": "Due"}},
        "urgent": {"type": "boolean", "title": {"ru": "Срочно", "en": "Urgent"}, "default": False},
        "note": {"type": "text", "title": {"ru": "Примечание", "en": "Note"}},
    },
    "pipelines": {"main": {
        "title": {"ru": "Продажи", "en": "Sales"},
        "default": True,
        "stages": {
            "new": {"title": {"ru": "Новая", "en": "New"}},
            "work": {"title": {"ru": "В работе", "en": "In progress"}},
            "check": {"title": {"ru": "Проверка", "en": "Check"}, "required": ["amount"]},
            "won": {"title": {"ru": "Успех", "en": "Won"}, "semantic": "success"},
            "lost": {"title": {"ru": "Провал", "en": "Lost"}, "semantic": "failure"},
        },
        "transitions": [
            {"from": "new", "to": "work", "when": "amount > 0 and quantity"},
            {"from": "work", "to": "new"},
            {"from": "work", "to": "check"},
            {"from": "check", "to": "won", "roles": ["manager"]},
            {"from": "*", "to": "lost"},
        ],
    }},
    "permissions": {"manager": "all"},
}
STAGES = ("new", "work", "check", "won", "lost")
KINDS = ("retail", "bulk", "export")
VALUES = {"amount": "1500.50", "kind": "bulk", "quantity": 3, "rate": "12.5", "due": "2026-12-01",
          "urgent": True, "note": "Доставка на объект"}
FILTER = ["amount > 5000", "kind = bulk"]  # with pipeline=main, stage=work: about 1 item in 30 matches
PAGE = 50


# ---- databases ---------------------------------------------------------------------


@contextmanager
def database(base: str | None) -> Iterator[str]:
    """A fresh database URL: a SQLite file in a temporary folder, or a PostgreSQL schema dropped after."""
    if base is None:
        with tempfile.TemporaryDirectory() as tmp:
            yield f"sqlite:///{Path(tmp) / 'bench.db'}"
        return
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(base)
    with admin.begin() as connection:
        connection.execute(sa.text(f"CREATE SCHEMA {schema}"))
    try:
        yield sa.engine.make_url(base).update_query_dict({"options": f"-csearch_path={schema}"}) \
            .render_as_string(hide_password=False)
    finally:
        with admin.begin() as connection:
            connection.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


def deploy_process(url: str, folder: Path) -> deploy.Desired:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "deal.yaml").write_text(to_yaml(PROCESS), encoding="utf-8")
    desired = deploy.load_desired([folder])
    deploy.apply(desired, url)
    return desired


# ---- the raw side: Core statements doing the same writes and reads -----------------


class Raw:
    """What the Engine writes and reads, as bare Core statements on an engine with the same settings.

    prebuilt: statements built once and executed with parameters (the fastest way to use Core);
    otherwise each call builds its statement with the values in it, as most Core code is written.
    """

    def __init__(self, url: str, desired: deploy.Desired, user_id: int, prebuilt: bool) -> None:
        self.prebuilt = prebuilt
        self.db = make_engine(url)
        tables = build_metadata(desired.definition).tables
        self.items = items = tables["p_deal"]
        self.history = tables["sf_history"]
        self.user_id = user_id
        with self.db.connect() as connection:
            self.version = int(connection.execute(sa.text("SELECT max(id) FROM sf_versions")).scalar_one())
        self.insert_item = items.insert()
        self.insert_history = self.history.insert()
        self.update_stage = (sa.update(items).where(items.c.id == sa.bindparam("item_id"))
                             .values(version=items.c.version + 1))
        page = sa.select(items).where(items.c.deleted_at.is_(None), items.c.pipeline == sa.bindparam("pipeline"),
                                      items.c.stage == sa.bindparam("stage"), items.c.amount > sa.bindparam("amount"),
                                      items.c.kind == sa.bindparam("kind"))
        self.first_page = page.order_by(items.c.id).limit(PAGE)
        self.next_page = page.where(items.c.id > sa.bindparam("after")).order_by(items.c.id).limit(PAGE)
        self.page_filter = {"pipeline": "main", "stage": "work", "amount": 500000, "kind": "bulk"}

    def close(self) -> None:
        self.db.dispose()

    def item_row(self, title: str, now: datetime) -> dict[str, Any]:
        return {"title": title, "pipeline": "main", "stage": "new", "assigned_to": self.user_id,
                "created_by": self.user_id, "created_at": now, "updated_by": self.user_id, "updated_at": now,
                "version": 1, "definition_version": self.version, "amount": 150050, "amount__currency": "RUB",
                "kind": "bulk", "code": None, "quantity": 3, "rate": 1250, "due": date(2026, 12, 1),
                "urgent": True, "note": VALUES["note"]}

    def create(self, title: str) -> int:
        now = datetime.now(UTC)
        row = self.item_row(title, now)
        with self.db.begin() as connection:
            result = (connection.execute(self.insert_item, row) if self.prebuilt
                      else connection.execute(self.items.insert().values(row)))
            item_id = int(result.inserted_primary_key[0])
            self._history(connection, {
                "process": "deal", "item_id": item_id, "at": now, "actor_id": self.user_id, "kind": "create",
                "field": None, "old": None, "via": "api", "definition_version": self.version,
                "new": {"title": title, **VALUES, "amount": {"amount": "1500.50", "currency": "RUB"},
                        "pipeline": "main", "stage": "new"}})
        return item_id

    def _history(self, connection: Any, row: dict[str, Any]) -> None:
        if self.prebuilt:
            connection.execute(self.insert_history, row)
        else:
            connection.execute(self.history.insert().values(row))

    def move(self, item_id: int, source: str, target: str) -> None:
        now = datetime.now(UTC)
        values = {"stage": target, "pipeline": "main", "moved_by": self.user_id, "moved_at": now, "closed_at": None,
                  "updated_by": self.user_id, "updated_at": now, "definition_version": self.version}
        items = self.items
        with self.db.begin() as connection:
            if self.prebuilt:
                connection.execute(self.update_stage, {"item_id": item_id, **values})
            else:
                connection.execute(sa.update(items).where(items.c.id == item_id)
                                   .values(version=items.c.version + 1, **values))
            self._history(connection, {
                "process": "deal", "item_id": item_id, "at": now, "actor_id": self.user_id, "kind": "move",
                "field": "stage", "old": source, "new": target, "via": "api", "definition_version": self.version})

    def page(self, after: int | None = None) -> list[Any]:
        with self.db.connect() as connection:
            connection = connection.execution_options(sqlite_begin="DEFERRED")
            if not self.prebuilt:
                items = self.items
                query = sa.select(items).where(items.c.deleted_at.is_(None), items.c.pipeline == "main",
                                               items.c.stage == "work", items.c.amount > 500000,
                                               items.c.kind == "bulk")
                if after is not None:
                    query = query.where(items.c.id > after)
                return list(connection.execute(query.order_by(items.c.id).limit(PAGE)).mappings().all())
            if after is None:
                return list(connection.execute(self.first_page, self.page_filter).mappings().all())
            return list(connection.execute(self.next_page, {**self.page_filter, "after": after}).mappings().all())

    def bulk_load(self, count: int, seed: int = 7) -> None:
        """count items straight into the table with executemany (loading is not what is measured)."""
        rng = random.Random(seed)
        now = datetime.now(UTC)
        chunk: list[dict[str, Any]] = []
        with self.db.begin() as connection:
            for n in range(count):
                row = self.item_row(f"Сделка {n}", now)
                row.update(stage=rng.choice(STAGES), amount=rng.randrange(0, 1_000_000) * 100,
                           kind=rng.choice(KINDS), quantity=rng.randrange(0, 20), code=f"C-{n}")
                chunk.append(row)
                if len(chunk) == 5000:
                    connection.execute(self.items.insert(), chunk)
                    chunk = []
            if chunk:
                connection.execute(self.items.insert(), chunk)
        if self.db.dialect.name == "postgresql":
            with self.db.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
                connection.execute(sa.text("VACUUM ANALYZE p_deal"))
        else:
            with self.db.begin() as connection:
                connection.execute(sa.text("ANALYZE"))

    def plan(self) -> str:
        with self.db.connect() as connection:
            query = str(self.first_page.compile(connection))
            prefix = "EXPLAIN QUERY PLAN " if self.db.dialect.name == "sqlite" else "EXPLAIN "
            rows = connection.exec_driver_sql(prefix + query, self._driver_params(connection)).all()
        return "; ".join(str(r[-1]) for r in rows)

    def _driver_params(self, connection: Any) -> Any:
        compiled = self.first_page.compile(connection)
        params = compiled.construct_params(self.page_filter)
        if compiled.positional:
            return tuple(params[name] for name in compiled.positiontup)
        return params


# ---- measuring ---------------------------------------------------------------------


def timed(action: Callable[[int], Any], count: int) -> float:
    """Seconds per call of action(n) for n in range(count)."""
    start = time.perf_counter()
    for n in range(count):
        action(n)
    return (time.perf_counter() - start) / count


def alternate(rounds: int, sides: dict[str, Callable[[int], float]]) -> dict[str, float]:
    """The median seconds per operation of each side, the sides taking turns round by round."""
    times: dict[str, list[float]] = {name: [] for name in sides}
    for r in range(rounds):
        order = list(sides) if r % 2 == 0 else list(reversed(sides))
        for name in order:
            times[name].append(sides[name](r))
    return {name: statistics.median(found) for name, found in times.items()}


SIDES = ("prebuilt", "per-call", "engine")  # raw Core two ways, then smartflow


def run(url: str, folder: Path, items: int, ops: int, rounds: int, out: Callable[[str], None]) -> dict[str, Any]:
    desired = deploy_process(url, folder)
    with Engine(url) as admin:
        user_id = admin.add_user("bench", "Bench", ["manager"])
    crm = Engine(url, as_user="bench")
    raws = {"prebuilt": Raw(url, desired, user_id, prebuilt=True),
            "per-call": Raw(url, desired, user_id, prebuilt=False)}
    results: dict[str, Any] = {}
    try:
        for raw in raws.values():  # pools opened, definition compiled, statements cached
            crm.get("deal", raw.create("warm-up"))
            raw.move(raw.create("warm-up"), "new", "work")
        crm.move("deal", crm.create("deal", {"title": "warm-up", **VALUES}), "work")
        start = time.perf_counter()
        raws["prebuilt"].bulk_load(items)  # first, so creates and moves run on a table of that size
        load = time.perf_counter() - start
        out(f"  (bulk-loaded {items} items in {load:.1f} s; plan of the page query: {raws['prebuilt'].plan()})")
        per_round = max(1, ops // rounds)
        created: dict[str, list[int]] = {side: [] for side in SIDES}

        def create(side: str) -> Callable[[int], float]:
            def one(n: int) -> None:
                if side == "engine":
                    created[side].append(crm.create("deal", {"title": f"E {n}", **VALUES}))
                else:
                    created[side].append(raws[side].create(f"R {n}"))
            return lambda _: timed(one, per_round)

        results["create"] = alternate(rounds, {side: create(side) for side in SIDES})

        def move(side: str) -> Callable[[int], float]:
            def batch(r: int) -> float:
                ids = created[side][r * per_round:(r + 1) * per_round]
                if side == "engine":
                    return timed(lambda n: crm.move("deal", ids[n], "work"), len(ids))
                return timed(lambda n: raws[side].move(ids[n], "new", "work"), len(ids))
            return batch

        results["move"] = alternate(rounds, {side: move(side) for side in SIDES})

        first = crm.list("deal", pipeline="main", stage="work", where=FILTER, limit=PAGE)
        after = first[-1]["id"]
        second = crm.list("deal", pipeline="main", stage="work", where=FILTER, limit=PAGE, after=after)
        for raw in raws.values():  # the same pages, full ones
            assert [r["id"] for r in raw.page()] == [i["id"] for i in first] and len(first) == PAGE, "pages differ"
            assert [r["id"] for r in raw.page(after)] == [i["id"] for i in second] and len(second) == PAGE
        repeat = max(20, ops // 20)

        def page(side: str, anchor: int | None) -> Callable[[int], float]:
            if side == "engine":
                options = {"after": anchor} if anchor is not None else {}
                return lambda _: timed(lambda n: crm.list("deal", pipeline="main", stage="work", where=FILTER,
                                                          limit=PAGE, **options), repeat)
            return lambda _: timed(lambda n: raws[side].page(anchor), repeat)

        results["list"] = alternate(rounds, {side: page(side, None) for side in SIDES})
        results["next page"] = alternate(rounds, {side: page(side, after) for side in SIDES})
        with crm._db.connect() as connection:  # the history rows written are the operations measured
            history = connection.execute(sa.text("SELECT kind, count(*) FROM sf_history GROUP BY kind")).all()
        out(f"  (history rows: {dict(sorted((str(k), int(c)) for k, c in history))})")
    finally:
        crm.close()
        for raw in raws.values():
            raw.close()
    return results


def report(results: dict[str, Any], out: Callable[[str], None]) -> None:
    """One line per operation: each side's figure, then smartflow's ratio to each raw side."""
    out(f"  {'operation':<30}{'raw prebuilt':>13}{'raw per-call':>13}{'smartflow':>11}"
        f"{'vs prebuilt':>13}{'vs per-call':>13}   target")
    for name in ("create", "move"):
        found = results[name]
        ratios = [found[side] / found["engine"] for side in ("prebuilt", "per-call")]  # speed ÷ raw speed
        verdict = ", ".join("met" if r >= 0.5 else "MISSED" for r in ratios)
        out(f"  {'single-item ' + name + ' (ops/s)':<30}" + "".join(f"{1 / found[s]:>13,.0f}" for s in SIDES[:2])
            + f"{1 / found['engine']:>11,.0f}" + "".join(f"{r:>12.2f}x" for r in ratios)
            + f"   speed >= 0.50x: {verdict}")
    for name in ("list", "next page"):
        found = results[name]
        ratios = [found["engine"] / found[side] for side in ("prebuilt", "per-call")]  # time ÷ raw time
        verdict = ", ".join("met" if r < 2 else "MISSED" for r in ratios)
        label = "list page of 50 (ms)" if name == "list" else "keyset next page (ms)"
        out(f"  {label:<30}" + "".join(f"{found[s] * 1000:>13.3f}" for s in SIDES[:2])
            + f"{found['engine'] * 1000:>11.3f}" + "".join(f"{r:>12.2f}x" for r in ratios)
            + f"   time < 2.00x: {verdict}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default=None, help="database URL (default: a SQLite file in a temporary folder)")
    parser.add_argument("--items", type=int, default=100_000, help="items under the list page")
    parser.add_argument("--ops", type=int, default=2000, help="creates and moves measured per side")
    parser.add_argument("--rounds", type=int, default=5, help="rounds the two sides alternate in")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp, database(args.db) as url:
        backend = sa.engine.make_url(url).get_backend_name()
        print(f"{backend}: {args.ops} creates and moves per side in {args.rounds} rounds, a list page over "
              f"{args.items} items; medians over the rounds (Python {sys.version.split()[0]}, "
              f"SQLAlchemy {sa.__version__})", flush=True)
        load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
        results = run(url, Path(tmp) / "defs", args.items, args.ops, args.rounds, lambda s: print(s, flush=True))
        report(results, print)
        after = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
        print(f"  (load average {load:.1f} before, {after:.1f} after: both sides share any noise, round by round)")


if __name__ == "__main__":
    main()
