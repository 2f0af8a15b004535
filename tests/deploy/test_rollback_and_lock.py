"""Versions, plans against an earlier version, rollback (renames go back, data kept), one apply at a time."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from smartflow.deploy import apply as deploy
from smartflow.deploy.plan.render import render_text
from smartflow.errors import ApplyRefused, Busy, UnknownVersion
from tests.dbutil import PG_ENV, database_url, snapshot
from tests.deploy.helpers import (
    apply_as_planned,
    archive,
    assert_golden,
    assert_schema_matches,
    base,
    desired,
    insert,
    insert_items,
    plan_text,
    rows,
)


def _first() -> dict[str, Any]:
    document = base()
    document["fields"]["tags"] = {"type": "string", "multiple": True}
    return document


def _renamed() -> dict[str, Any]:
    """Version 2: a field, a multiple field, a stage, a pipeline and an option renamed; a field added."""
    document = base()
    fields = document["fields"]
    document["fields"] = {
        "amount": fields["amount"],
        "number": {"type": "string", "renamed_from": "code"},
        "kind": {"type": "enum", "options": [{"id": "retail", "title": "Розница"},
                                             {"id": "wholesale", "title": "Опт", "renamed_from": "bulk"}]},
        "note": fields["note"],
        "labels": {"type": "string", "multiple": True, "renamed_from": "tags"},
        "region": {"type": "string"},
    }
    main = document["pipelines"].pop("main")
    main["renamed_from"] = "main"
    stages = main["stages"]
    main["stages"] = {"new": stages["new"], "in_progress": {**stages["work"], "renamed_from": "work"},
                      "won": stages["won"], "lost": stages["lost"]}
    document["pipelines"]["sales"] = main
    return document


def test_versions_plan_against_and_rollback_of_renames_keep_data(db_url: str, tmp_path: Path) -> None:
    first = desired(tmp_path, _first())
    deploy.apply(first, db_url, actor="ivanov")
    ids = insert_items(db_url, "deal", [{"code": "A-1", "kind": "bulk", "stage": "work"},
                                        {"code": "A-2", "kind": "retail"}])
    insert(db_url, "p_deal__tags", [{"item_id": ids[0], "position": 0, "value": "срочно"}])
    second = desired(tmp_path, _renamed())
    live_plan = deploy.plan(second, db_url)
    apply_as_planned(db_url, second, "rollback_v2_renames")
    assert rows(db_url, "p_deal", "number", "kind", "pipeline", "stage") == [
        ("A-1", "wholesale", "sales", "in_progress"), ("A-2", "retail", "sales", "new")]
    assert rows(db_url, "p_deal__labels", "item_id", "value") == [(ids[0], "срочно")]

    listed = deploy.versions(db_url)
    assert [(v["version"], v["hash"], v["changes"]) for v in listed] == [
        (2, second.hash, len(live_plan.changes)), (1, first.hash, 4)]
    assert listed[1]["created_by"] == "ivanov"

    # plan --against: the same steps as the live plan had, without item counts
    assert deploy.plan(first, db_url, against=1).empty
    against = deploy.plan(second, db_url, against=1)
    assert render_text(against).splitlines()[0].endswith(
        "(compared with version 1 (item counts not shown): version 1)")
    assert_golden("plan_against_v1", plan_text(against))
    assert [op.describe() for op in against.changes] == [op.describe() for op in live_plan.changes]
    assert [op.effect for op in against.changes] == [None] * len(against.changes)
    assert any(op.effect for op in live_plan.changes)
    with pytest.raises(UnknownVersion):
        deploy.plan(first, db_url, against=9)

    # rollback: version 1's definitions deployed again; every rename goes back with its data
    back = deploy.version_documents(1, db_url)
    assert back.hash == first.hash
    insert_items(db_url, "deal", [{"number": "B-1", "region": "Тула", "pipeline": "sales", "stage": "won"}])
    with pytest.raises(ApplyRefused) as refused:
        deploy.apply(back, db_url)
    assert refused.value.reasons == ["field `region` holds data in 1 items"]
    apply_as_planned(db_url, back, "rollback_to_v1", allow_data_loss=True)
    assert_schema_matches(db_url, back)
    assert rows(db_url, "p_deal", "code", "kind", "pipeline", "stage") == [
        ("A-1", "bulk", "main", "work"), ("A-2", "retail", "main", "new"), ("B-1", None, "main", "won")]
    assert rows(db_url, "p_deal__tags", "item_id", "value") == [(ids[0], "срочно")]
    assert [a[:3] for a in archive(db_url)] == [("deal", "region", "field removed")]
    assert [(v["version"], v["hash"]) for v in deploy.versions(db_url)] == [
        (3, first.hash), (2, second.hash), (1, first.hash)]
    with pytest.raises(UnknownVersion):
        deploy.version_documents(7, db_url)


def _hold_the_lock(db_url: str) -> tuple[Any, Any]:
    """Another deployer mid-apply: PostgreSQL's advisory lock, or SQLite's write lock, held in a transaction."""
    if db_url.startswith("sqlite"):
        other = sqlite3.connect(sa.engine.make_url(db_url).database, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        return other, None
    engine = sa.create_engine(db_url)
    connection = engine.connect()
    connection.begin()
    connection.execute(sa.text(f"SELECT pg_advisory_xact_lock(:key, {deploy.LOCK_SCHEMA})"), {"key": deploy.LOCK_KEY})
    return connection, engine


def test_only_one_apply_at_a_time(db_url: str, tmp_path: Path) -> None:
    deploy.apply(desired(tmp_path, base()), db_url)
    changed = base()
    changed["fields"]["region"] = {"type": "string"}
    target = desired(tmp_path, changed)
    before = snapshot(db_url)
    holder, engine = _hold_the_lock(db_url)
    try:
        started = time.monotonic()
        with pytest.raises(Busy, match=r"another apply holds the (deploy|database) lock \(waited 0.3s\)"):
            deploy.apply(target, db_url, lock_timeout=0.3)
        assert time.monotonic() - started < 5
        assert not deploy.plan(target, db_url).empty  # reading is never blocked
    finally:
        holder.rollback()
        holder.close()
        if engine is not None:
            engine.dispose()
    assert snapshot(db_url) == before
    assert not deploy.apply(target, db_url).empty  # the lock is free again


@pytest.mark.skipif(not os.environ.get(PG_ENV), reason=f"PostgreSQL only: set {PG_ENV}")
def test_the_deploy_lock_is_per_schema(tmp_path: Path) -> None:
    """A deploy writes into its schema only: one into another schema of the database does not wait."""
    target = desired(tmp_path, base())
    with contextlib.contextmanager(database_url)("postgresql", tmp_path) as url, \
            contextlib.contextmanager(database_url)("postgresql", tmp_path) as other_url:
        holder, engine = _hold_the_lock(url)
        try:
            assert not deploy.apply(target, other_url, lock_timeout=0.3).empty
            with pytest.raises(Busy, match=r"another apply holds the deploy lock \(waited 0.3s\)"):
                deploy.apply(target, url, lock_timeout=0.3)
        finally:
            holder.rollback()
            holder.close()
            engine.dispose()
        assert not deploy.apply(target, url).empty
