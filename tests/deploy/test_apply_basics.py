"""Apply from empty, idempotence, dry run, versions and the all-or-nothing contract."""

from __future__ import annotations

from pathlib import Path

import pytest

from smartflow.deploy import apply as deploy
from smartflow.errors import ApplyRefused
from tests.conftest import PROCESSES
from tests.dbutil import snapshot
from tests.deploy.helpers import archive, assert_schema_matches, base, columns, desired, insert_items, rows


def test_shipped_processes_apply_from_empty_then_reapply_is_a_no_op(db_url: str) -> None:
    shipped = deploy.load_desired([PROCESSES])
    first = deploy.apply(shipped, db_url)
    assert not first.empty
    assert "p_procurement" in snapshot(db_url)
    assert_schema_matches(db_url, shipped)  # every table, column, index and reference the definitions compile to
    again = deploy.plan(shipped, db_url)
    assert again.empty
    assert again.deployed_version == 1
    assert deploy.apply(shipped, db_url).empty
    assert [v["version"] for v in deploy.versions(db_url)] == [1]


def test_dry_run_changes_nothing(db_url: str, tmp_path: Path) -> None:
    before = snapshot(db_url)
    result = deploy.apply(desired(tmp_path, base()), db_url, dry_run=True)
    assert not result.empty
    assert snapshot(db_url) == before


def test_what_apply_executes_is_exactly_the_plan(db_url: str, tmp_path: Path) -> None:
    deploy.apply(desired(tmp_path, base()), db_url)
    insert_items(db_url, "deal", [{"code": "A-1"}, {"code": "A-2", "stage": "work"}])
    changed = base()
    changed["fields"]["code"]["renamed_from"] = None
    del changed["fields"]["code"]["renamed_from"]
    changed["fields"]["number"] = {"type": "string", "renamed_from": "code"}
    del changed["fields"]["code"]
    changed["fields"]["region"] = {"type": "string", "default": "Москва"}
    target = desired(tmp_path, changed)
    planned = [op.describe() for op in deploy.plan(target, db_url).operations]
    executed: list[str] = []
    deploy.apply(target, db_url, on_step=lambda _, op: executed.append(op.describe()))
    assert executed == planned
    assert rows(db_url, "p_deal", "number", "region") == [("A-1", "Москва"), ("A-2", "Москва")]


# A failure injected after each step of a plan: see test_failure_injection.py (every step of a plan
# combining every kind of change).


def test_lossy_step_is_refused_with_numbers_and_nothing_changes(db_url: str, tmp_path: Path) -> None:
    deploy.apply(desired(tmp_path, base()), db_url)
    insert_items(db_url, "deal", [{"note": "a"}, {"note": "b"}, {}])
    changed = base()
    del changed["fields"]["note"]
    before = snapshot(db_url)
    with pytest.raises(ApplyRefused) as refused:
        deploy.apply(desired(tmp_path, changed), db_url)
    assert refused.value.reasons == ["field `note` holds data in 2 items"]
    assert snapshot(db_url) == before
    deploy.apply(desired(tmp_path, changed), db_url, allow_data_loss=True)
    assert "note" not in columns(db_url, "p_deal")
    assert archive(db_url) == [("deal", "note", "field removed", "a", 2), ("deal", "note", "field removed", "b", 2)]
