"""Shared pieces of the automation tests: a fake clock, a deployed database driven by it, raw reads.

Time never passes by itself here: the Engine is given `clock=Clock()`, and a test moves the clock
forward before it runs the worker (`Engine.work()`), so delays of days cost nothing and no test
sleeps. Each test module deploys its definitions once per backend (module-scoped database) and
gives each scenario a process of its own, so tests do not see each other's triggers.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from smartflow import Engine
from smartflow.compile.sql import build_metadata
from smartflow.definitions.model import Definition
from smartflow.deploy import apply as deploy
from tests.runtime.support import write_definitions

START = datetime(2030, 1, 7, 10, 0, tzinfo=UTC)  # a Monday, 10:00 UTC


class Clock:
    """A settable "now" for Engine(clock=…); moves only when told to."""

    def __init__(self, start: datetime = START) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


def stages(*ids: str, required: dict[str, list[str]] | None = None) -> dict[str, Any]:
    """Stages in order: the given in-progress ones, then `done` (success) and `lost` (failure)."""
    out: dict[str, Any] = {}
    for stage_id in ids:
        out[stage_id] = {"title": stage_id.title()}
        if required and stage_id in required:
            out[stage_id]["required"] = required[stage_id]
    out["done"] = {"title": "Done", "semantic": "success"}
    out["lost"] = {"title": "Lost", "semantic": "failure"}
    return out


def process(process_id: str, fields: dict[str, Any], triggers: list[dict[str, Any]], *stage_ids: str,
            required: dict[str, list[str]] | None = None, **extra: Any) -> dict[str, Any]:
    """A Process document with one default pipeline `main`; everyone with a role may do everything."""
    return {"kind": "Process", "id": process_id, "title": process_id.title(), "fields": fields,
            "pipelines": {"main": {"title": "Main", "default": True,
                                   "stages": stages(*(stage_ids or ("new", "work")), required=required)}},
            "triggers": triggers, "permissions": {"manager": "all", "agent": "all", "lead": "all"}, **extra}


ROLES: dict[str, Any] = {"kind": "Roles", "roles": {
    "agent": {"title": {"ru": "Агент", "en": "Agent"}},
    "lead": {"title": {"ru": "Руководитель", "en": "Lead"}},
}}


class Auto:
    """A deployed database: an Engine on a fake clock (the local administrator), raw SQL beside it."""

    def __init__(self, url: str, folder: Path, *documents: dict[str, Any], clock: Clock | None = None) -> None:
        self.url = url
        deploy.apply(write_definitions(folder, *documents), url)
        self.clock = clock or Clock()
        self.admin = Engine(url, clock=self.clock)
        self.raw = sa.create_engine(url)

    def close(self) -> None:
        self.admin.close()
        self.raw.dispose()

    @property
    def sqlite(self) -> bool:
        return self.url.startswith("sqlite")

    def as_user(self, login: str | None) -> Engine:
        return self.admin.as_user(login)

    def select(self, statement: str, **params: Any) -> list[dict[str, Any]]:
        with self.raw.connect() as connection:
            return [dict(r._mapping) for r in connection.execute(sa.text(statement), params)]

    def execute(self, statement: str, **params: Any) -> None:
        with self.raw.begin() as connection:
            connection.execute(sa.text(statement), params)

    def scalar(self, statement: str, **params: Any) -> Any:
        with self.raw.connect() as connection:
            return connection.execute(sa.text(statement), params).scalar()

    def rows(self, table_name: str, *where: Any) -> list[dict[str, Any]]:
        """Rows of one of smartflow's own tables, typed (JSON decoded), oldest first."""
        table = SYSTEM[table_name]
        with self.raw.connect() as connection:
            query = sa.select(table).where(*where).order_by(table.c.id)
            return [dict(r) for r in connection.execute(query).mappings()]

    def history(self, process_id: str, item_id: int) -> list[dict[str, Any]]:
        """Every history row of an item, oldest first (kind, field, old, new, via, actor_id, …)."""
        history = SYSTEM["sf_history"]
        return self.rows("sf_history", history.c.process == process_id, history.c.item_id == item_id)

    def comments(self, process_id: str, item_id: int) -> list[str]:
        return [str(r["new"]) for r in self.history(process_id, item_id) if r["kind"] == "comment"]

    def errors(self, process_id: str, item_id: int) -> list[str]:
        """The messages of the automation errors recorded on an item (a cap that stopped a chain)."""
        return [r["new"]["error"] for r in self.history(process_id, item_id) if r["kind"] == "automation"]

    def jobs(self, process_id: str, item_id: int | None = None) -> list[dict[str, Any]]:
        jobs = SYSTEM["sf_jobs"]
        return self.rows("sf_jobs", jobs.c.process == process_id,
                         *([jobs.c.item_id == item_id] if item_id is not None else []))

    def outbox(self, trigger: str) -> list[dict[str, Any]]:
        """The outbox messages written by one trigger (`process.trigger`), oldest first."""
        return [r for r in self.rows("sf_outbox") if r["payload"].get("trigger") == trigger]

    def inbox(self, login: str) -> list[dict[str, Any]]:
        inbox, users = SYSTEM["sf_inbox"], SYSTEM["sf_users"]
        return self.rows("sf_inbox", inbox.c.user_id == sa.select(users.c.id).where(users.c.login == login)
                         .scalar_subquery())

    def items(self, process_id: str) -> list[dict[str, Any]]:
        return self.select(f"SELECT * FROM p_{process_id} ORDER BY id")

    def drain(self, **options: Any) -> Any:
        """Run the worker until a pass finds nothing due; the tallies summed."""
        from smartflow.automation.worker import Tally

        total = Tally()
        for _ in range(100):
            tally = self.admin.work(**options)
            if not tally.total:
                return total
            for name in ("done", "dropped", "failed", "sent", "retried", "postponed"):
                setattr(total, name, getattr(total, name) + getattr(tally, name))
            total.errors += tally.errors
        raise AssertionError("the worker kept finding work after 100 passes")

    def state(self, *process_ids: str) -> dict[str, Any]:
        """What a refused change must leave as it was: the processes' rows, history, jobs, outbox, inbox."""
        tables = [f"p_{p}" for p in process_ids] + ["sf_history", "sf_jobs", "sf_outbox", "sf_inbox"]
        return {table: [repr(sorted(r.items())) for r in self.select(f"SELECT * FROM {table} ORDER BY id")]
                for table in tables}


SYSTEM = build_metadata(Definition((), ())).tables
