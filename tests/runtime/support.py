"""Shared pieces of the runtime tests: deploying definitions, a database shared by a module, items with
a chosen creator, raw counts.

Named `support` (not conftest) so the modules that use its fixtures import them explicitly.
Engines are costly to open (each compiles the definition once), so a test module opens one and
acts as other users through `Engine.as_user`, which shares the compiled definition and the pool.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner, Result

from smartflow import Engine
from smartflow.cli.main import main
from smartflow.definitions.convert import to_yaml
from smartflow.deploy import apply as deploy
from tests.dbutil import backends, database_url


def invoke(url: str, *args: str, as_user: str | None = None) -> Result:
    """The CLI as a person runs it on url, with no SMARTFLOW_* settings from the environment; never a traceback."""
    runner = CliRunner(env={"SMARTFLOW_USER": None, "SMARTFLOW_DATABASE_URL": None, "SMARTFLOW_LANG": None,
                            "SMARTFLOW_WEBHOOK_HOSTS": None})
    result = runner.invoke(main, [*args, "--db", url, *(["--as", as_user] if as_user else [])])
    assert "Traceback" not in result.output
    if result.exception is not None:
        assert isinstance(result.exception, SystemExit), repr(result.exception)
    return result


def write_definitions(folder: Path, *documents: dict[str, Any]) -> deploy.Desired:
    """The documents as YAML files in folder, loaded (and validated) the way `smartflow apply` loads them."""
    folder.mkdir(parents=True, exist_ok=True)
    for index, document in enumerate(documents):
        (folder / f"{index}_{document.get('id', 'roles')}.yaml").write_text(to_yaml(document), encoding="utf-8")
    return deploy.load_desired([folder])


@pytest.fixture(scope="module", params=backends())
def module_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One fresh database per test module (and backend): SQLite, and PostgreSQL when configured."""
    yield from database_url(request.param, tmp_path_factory.mktemp("db"))


class Db:
    """A deployed database: the local administrator's Engine, other users through it, and raw SQL."""

    def __init__(self, url: str, folder: Path, *documents: dict[str, Any]) -> None:
        self.url = url
        self.folder = folder
        self.desired = write_definitions(folder, *documents)
        deploy.apply(self.desired, url)
        self.admin = Engine(url)
        self.raw = sa.create_engine(url)

    def close(self) -> None:
        self.admin.close()
        self.raw.dispose()

    def as_user(self, login: str | None) -> Engine:
        """The engine acting as login (never closed by the tests: it shares the administrator's pool)."""
        return self.admin.as_user(login)

    def count(self, table: str, where: str = "1 = 1", **params: Any) -> int:
        """Rows of a table straight from SQL, deleted or not, whoever may see them."""
        with self.raw.connect() as connection:
            return int(connection.execute(sa.text(f"SELECT count(*) FROM {table} WHERE {where}"), params)
                       .scalar_one())

    def history_rows(self, process: str, item_id: int) -> int:
        return self.count("sf_history", "process = :p AND item_id = :i", p=process, i=item_id)

    def set_creators(self, process: str, creators: dict[int, str | None]) -> None:
        """Make item id → login (None: nobody) the creator, as if that user had created it."""
        with self.raw.begin() as connection:
            users = {r.login: r.id for r in connection.execute(sa.text("SELECT id, login FROM sf_users"))}
            for item_id, login in creators.items():
                connection.execute(sa.text(f"UPDATE p_{process} SET created_by = :who WHERE id = :id"),
                                   {"who": users[login] if login else None, "id": item_id})

    def set_assignees(self, process: str, assignees: dict[int, str | None]) -> None:
        """Make item id → login (None: nobody) the responsible person, bypassing the rule that they have a
        right in the item's pipeline (an item left to someone who lost their rights, or never had any)."""
        with self.raw.begin() as connection:
            users = {r.login: r.id for r in connection.execute(sa.text("SELECT id, login FROM sf_users"))}
            for item_id, login in assignees.items():
                connection.execute(sa.text(f"UPDATE p_{process} SET assigned_to = :who WHERE id = :id"),
                                   {"who": users[login] if login else None, "id": item_id})

    def insert_items(self, process: str, rows: list[dict[str, Any]]) -> list[int]:
        """Items straight into the table in one transaction (fast fixtures; no history is written).

        Each row may give `created_by` / `assigned_to` as logins; title, pipeline, stage and times default.
        """
        now = datetime.now(UTC)
        table = sa.Table(f"p_{process}", sa.MetaData(), autoload_with=self.raw)
        ids: list[int] = []
        with self.raw.begin() as connection:
            users = {r.login: r.id for r in connection.execute(sa.text("SELECT id, login FROM sf_users"))}
            batch: list[dict[str, Any]] = []
            for row in rows:
                values = {"title": "item", "pipeline": "main", "stage": "new", "created_at": now, "updated_at": now,
                          "version": 1, **row}
                for key in ("created_by", "assigned_to"):
                    values[key] = users[values[key]] if values.get(key) else None
                if batch and values.keys() != batch[0].keys():  # one executemany per run of rows alike
                    ids += self._insert_many(connection, table, batch)
                    batch = []
                batch.append(values)
            if batch:
                ids += self._insert_many(connection, table, batch)
        return ids

    @staticmethod
    def _insert_many(connection: Any, table: sa.Table, batch: list[dict[str, Any]]) -> list[int]:
        """The rows in one executemany (a few statements of many rows each), their ids in the rows' order."""
        if len(batch) == 1:
            return [int(connection.execute(table.insert().values(batch[0])).inserted_primary_key[0])]
        inserted = connection.execute(table.insert().returning(table.c.id, sort_by_parameter_order=True), batch)
        return [int(found) for found in inserted.scalars()]

    def row(self, process: str, item_id: int) -> dict[str, Any] | None:
        """An item's row as stored, deleted or not."""
        with self.raw.connect() as connection:
            found = connection.execute(sa.text(f"SELECT * FROM p_{process} WHERE id = :i"), {"i": item_id}).first()
            return dict(found._mapping) if found is not None else None

    def user_id(self, login: str) -> int:
        return next(int(u["id"]) for u in self.admin.users() if u["login"] == login)


# ---- the definitions of the rules and CLI tests ---------------------------------------------------

ROLES: dict[str, Any] = {"kind": "Roles", "roles": {
    "worker": {"title": {"ru": "Сотрудник", "en": "Worker"}},
    "approver": {"title": {"ru": "Согласующий", "en": "Approver"}},
    "clerk": {"title": {"ru": "Делопроизводитель", "en": "Clerk"}},
    "restricted": {"title": {"ru": "Ограниченный", "en": "Restricted"}},
}}

CLIENT: dict[str, Any] = {
    "kind": "Process", "id": "client", "title": {"ru": "Клиент", "en": "Client"},
    "fields": {"city": {"type": "string", "title": {"ru": "Город", "en": "City"}}},
    "pipelines": {"main": {"title": "Main", "default": True, "stages": {
        "active": {"title": {"ru": "Активный", "en": "Active"}},
        "won": {"title": {"ru": "Постоянный", "en": "Regular"}, "semantic": "success"},
        "lost": {"title": {"ru": "Ушёл", "en": "Gone"}, "semantic": "failure"}}}},
    "permissions": {"worker": {"read": "own", "create": "all", "update": "own", "delete": "own"},
                    "approver": "all", "clerk": {"read": "own", "create": "all"}},
}

ORDER: dict[str, Any] = {
    "kind": "Process", "id": "purchase", "title": {"ru": "Заказ", "en": "Order"},
    "features": {"recycle_bin": True},
    "fields": {
        "code": {"type": "string", "unique": True, "pattern": "[A-Z]{2}-[0-9]{3}"},
        "name": {"type": "string", "min_length": 2, "max_length": 10},
        "note": {"type": "text"},
        "qty": {"type": "integer", "min": 1, "max": 100},
        "weight": {"type": "number", "precision": 3, "min": 0},
        "amount": {"type": "money", "currency": "RUB", "min": 0, "max": 1000000,
                   "title": {"ru": "Сумма", "en": "Amount"}},
        "urgent": {"type": "boolean"},
        "due": {"type": "date", "min": "2020-01-01", "max": "2030-12-31"},
        "meet_at": {"type": "datetime"},
        "kind": {"type": "enum", "title": {"ru": "Вид", "en": "Kind"},
                 "options": [{"id": "retail", "title": {"ru": "Розница", "en": "Retail"}},
                             {"id": "bulk", "title": {"ru": "Опт", "en": "Bulk"}}]},
        "manager": {"type": "user"},
        "client": {"type": "link", "to": "client"},
        "email": {"type": "email"},
        "phone": {"type": "phone"},
        "site": {"type": "url"},
        "tags": {"type": "string", "multiple": True},
        "supplier": {"type": "string", "title": {"ru": "Поставщик", "en": "Supplier"}},
    },
    "pipelines": {
        "main": {"title": {"ru": "Основная", "en": "Main"}, "default": True, "stages": {
            "new": {"title": {"ru": "Новый", "en": "New"}},
            "prices": {"title": {"ru": "Запрос цен", "en": "Prices"}, "required": ["supplier", "amount"]},
            "approved": {"title": {"ru": "Согласован", "en": "Approved"}},
            "done": {"title": {"ru": "Выполнен", "en": "Done"}, "semantic": "success"},
            "cancelled": {"title": {"ru": "Отменён", "en": "Cancelled"}, "semantic": "failure"}},
            "transitions": [
                {"from": "new", "to": "prices", "when": "amount > 1000"},
                {"from": "prices", "to": "approved", "roles": ["approver"]},
                {"from": "prices", "to": "approved", "when": "qty >= 10"},
                {"from": "approved", "to": "done"},
                {"from": "*", "to": "cancelled"},
                {"from": "cancelled", "to": "new"},
            ]},
        "express": {"title": {"ru": "Срочный", "en": "Express"}, "stages": {
            "start": {"title": {"ru": "Старт", "en": "Start"}},
            "finish": {"title": {"ru": "Готово", "en": "Finished"}, "semantic": "success"},
            "dropped": {"title": {"ru": "Брошен", "en": "Dropped"}, "semantic": "failure"}}},
    },
    "list": {"columns": ["title", "stage", "amount", "kind"]},
    "permissions": {"worker": "all", "approver": "all",
                    "clerk": {"read": "own", "create": "all", "update": "own"},
                    "restricted": {"read": "all", "move": "own", "stages": ["approved"]}},
}

CLAIM: dict[str, Any] = {
    "kind": "Process", "id": "claim", "title": {"ru": "Претензия", "en": "Claim"},
    "fields": {"reason": {"type": "string", "required": True}},
    "pipelines": {"main": {"title": "Main", "default": True, "stages": {
        "open": {"title": "Open"}, "closed": {"title": "Closed", "semantic": "success"},
        "rejected": {"title": "Rejected", "semantic": "failure"}}}},
    "permissions": {"worker": "all"},
}

LOT: dict[str, Any] = {
    "kind": "Process", "id": "lot", "title": {"ru": "Лот", "en": "Lot"},
    "fields": {
        "price": {"type": "money", "currency": "RUB"},
        "day": {"type": "date"},
        "grade": {"type": "enum", "options": [{"id": "retail", "title": "Retail"}, {"id": "bulk", "title": "Bulk"}]},
        "qty": {"type": "integer"},
        "label": {"type": "string"},
        "tags": {"type": "string", "multiple": True},
    },
    "pipelines": {"main": {"title": "Main", "default": True, "stages": {
        "open": {"title": "Open"}, "sold": {"title": "Sold", "semantic": "success"},
        "void": {"title": "Void", "semantic": "failure"}}}},
    "permissions": {"worker": "all"},
}

DOCUMENTS = (ROLES, CLIENT, ORDER, CLAIM, LOT)
