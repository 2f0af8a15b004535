"""All or nothing: a failure injected after any step of a plan with every kind of change leaves
schema and data exactly as they were (compared, not assumed), on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest

from smartflow.deploy import apply as deploy
from tests.dbutil import snapshot
from tests.deploy.helpers import (
    add_user,
    apply_as_planned,
    assert_schema_matches,
    base,
    desired,
    execute,
    insert,
    insert_items,
    rows,
)


def _pipeline(title: str, *stages: tuple[str, str]) -> dict[str, Any]:
    return {"title": title, "stages": {sid: {"title": sid.title(), **({"semantic": s} if s else {})}
                                       for sid, s in stages}}


def _process(pid: str, **fields: Any) -> dict[str, Any]:
    return {"kind": "Process", "id": pid, "title": pid.title(), "fields": fields,
            "pipelines": {"main": {**_pipeline("Main", ("open", ""), ("done", "success"), ("gone", "failure")),
                                   "default": True}}}


def _before() -> dict[str, Any]:
    deal = base()
    deal["features"] = {"observers": True, "begin_close_dates": True}
    deal["fields"].update({
        "tags": {"type": "string", "multiple": True},
        "qty": {"type": "integer"},
        "ref": {"type": "string"},
        "client": {"type": "link", "to": "client"},
    })
    deal["pipelines"]["express"] = _pipeline("Express", ("fast", ""), ("shipped", "success"), ("dropped", "failure"))
    return deal


def _fields_changed() -> dict[str, Any]:
    """Version 2: every kind of field change at once."""
    deal = _before()
    fields = deal["fields"]
    deal["fields"] = {
        "total": {**fields["amount"], "renamed_from": "amount"},                        # rename money
        "number": {"type": "string", "unique": True, "renamed_from": "code"},          # rename + unique
        "kind": {"type": "enum", "options": [                                          # option renamed, removed
            {"id": "wholesale", "title": "Опт", "renamed_from": "bulk"}, {"id": "online", "title": "Онлайн"}]},
        "labels": {"type": "integer", "multiple": True, "renamed_from": "tags"},       # rename + retype multiple
        "qty": {"type": "string", "required": True, "backfill": "0"},                  # retype + required
        "ref": {"type": "integer"},                                                    # unconvertible values
        "client": {"type": "link", "to": "client"},
        "region": {"type": "string", "default": "Москва"},                             # added, filled
        "priority": {"type": "integer", "required": True, "backfill": 3},              # added required
        "owner": {"type": "user"},                                                     # added reference
        # `note` removed with data
    }
    return deal


def _structure_changed() -> dict[str, Any]:
    """Version 3: stages, pipelines, features and rights changed too."""
    deal = _fields_changed()
    del deal["features"]  # observers and begin/close dates removed
    stages = deal["pipelines"]["main"]["stages"]
    deal["pipelines"]["main"]["stages"] = {
        "new": stages["new"],
        "in_progress": {"title": "В работе", "renamed_from": "work"},                  # stage renamed
        "won": stages["won"],
        "closed": {"title": "Закрыта", "semantic": "failure", "replaces": ["lost"]},   # stage replaced
    }
    deal["pipelines"]["quick"] = {**deal["pipelines"].pop("express"), "renamed_from": "express"}
    deal["permissions"] = {"manager": {"read": "all", "update": "own"}}  # a note
    return deal


def _setup(db_url: str, tmp_path: Path) -> list[int]:
    deploy.apply(desired(tmp_path, _before(), _process("client", name={"type": "string"}),
                         _process("lead", source={"type": "string"})), db_url)
    clients = insert_items(db_url, "client", [{"name": "Ромашка", "stage": "open"}])
    user = add_user(db_url)
    ids = insert_items(db_url, "deal", [
        {"code": "A-1", "amount": 1500, "amount__currency": "RUB", "kind": "bulk", "note": "первая", "qty": 5,
         "ref": "12", "client": clients[0], "stage": "work"},
        {"code": "A-2", "kind": "retail", "ref": "R-7", "stage": "lost", "begin_date": date(2026, 1, 2)},
        {"pipeline": "express", "stage": "fast", "note": "вторая"},
    ])
    insert(db_url, "p_deal__tags", [{"item_id": ids[0], "position": 0, "value": "12"},
                                    {"item_id": ids[0], "position": 1, "value": "x"},
                                    {"item_id": ids[2], "position": 0, "value": "7"}])
    insert(db_url, "p_deal__observers", [{"item_id": ids[1], "user_id": user}])
    insert_items(db_url, "lead", [{"source": "сайт", "stage": "open"}])
    execute(db_url, "UPDATE p_deal SET closed_at = created_at WHERE id = :i", i=ids[1])
    return ids


@pytest.fixture
def prepared(db_url: str, tmp_path: Path) -> tuple[str, Path, list[int]]:
    return db_url, tmp_path, _setup(db_url, tmp_path)


def _fail_at_every_step(db_url: str, target: deploy.Desired) -> list[str]:
    """Apply target once per step, failing right after that step; nothing may change. The kinds of steps."""
    planned = deploy.plan(target, db_url)
    before = snapshot(db_url)
    failed_at: list[int] = []
    for failing in range(len(planned.operations)):

        def explode(index: int, _op: object, failing: int = failing) -> None:
            if index == failing:
                failed_at.append(index)
                raise RuntimeError(f"injected failure after step {index}")

        with pytest.raises(RuntimeError, match=f"injected failure after step {failing}$"):
            deploy.apply(target, db_url, allow_data_loss=True, on_step=explode)
        assert snapshot(db_url) == before, f"step {failing} ({planned.operations[failing].describe()}) leaked"
    assert failed_at == list(range(len(planned.operations)))
    return [op.kind for op in planned.changes]


def test_a_failure_after_any_step_changes_nothing(prepared: tuple[str, Path, list[int]]) -> None:
    """Two plans, each combining many kinds of change (one would do; two keep the run short: a failure
    after step n re-runs steps 1..n, and SQLite's copy-and-swap steps are the slow ones)."""
    db_url, tmp_path, ids = prepared
    client = _process("client", name={"type": "string"})
    fields = desired(tmp_path, _fields_changed(), client, _process("lead", source={"type": "string"}))
    kinds = _fail_at_every_step(db_url, fields)
    assert set(kinds) == {"add_field", "drop_field", "rename_field", "rewrite_field", "fill_required", "set_unique",
                          "rename_option", "remove_option", "note"}, kinds
    apply_as_planned(db_url, fields, "combined_fields", allow_data_loss=True)

    structure = desired(tmp_path, _structure_changed(),
                        client | {"features": {"observers": True, "begin_close_dates": True}},
                        _process("invoice", deal={"type": "link", "to": "deal"}, sum={"type": "money"}))
    kinds = _fail_at_every_step(db_url, structure)
    assert set(kinds) == {"create_process", "drop_process", "move_items", "add_table", "drop_table", "add_columns",
                          "drop_columns", "note"}, kinds
    apply_as_planned(db_url, structure, "combined_structure", allow_data_loss=True)

    assert_schema_matches(db_url, structure)
    assert rows(db_url, "p_deal", "number", "total", "total__currency", "kind", "qty", "ref", "region", "priority",
                "pipeline", "stage") == [
        ("A-1", 1500, "RUB", "wholesale", "5", 12, "Москва", 3, "main", "in_progress"),
        ("A-2", None, None, None, "0", None, "Москва", 3, "main", "closed"),
        (None, None, None, None, "0", None, "Москва", 3, "quick", "fast"),
    ]
    assert rows(db_url, "p_deal__labels", "item_id", "value") == [(ids[0], 12), (ids[2], 7)]
