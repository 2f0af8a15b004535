"""Automation reads an item once per change, however many triggers and actions listen to it.

The statements are counted as the driver runs them (SQLAlchemy's `before_cursor_execute`), on a
real database. A move reads the item once to check its rules (runtime) and once for its triggers
(automation); an action that changes the item is a change of its own, read once more, and the
actions after it see what it wrote.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import sqlalchemy as sa

from tests.automation.support import ROLES, Auto, process
from tests.runtime.support import module_url

__all__ = ["module_url"]  # the fixture, imported for pytest

COMMENT = {"comment": "{{ title }} entered {{ stage }} with note {{ note or '-' }}"}


def on_work(count: int, actions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    # copies, not shared objects: the YAML written for them must have no aliases
    return [{"id": f"t{n}", "on": "stage_entered", "stage": "work", "do": json.loads(json.dumps(actions))}
            for n in range(count)]


PROCESSES = [
    process("r0", {"note": {"type": "text"}}, []),
    process("r1", {"note": {"type": "text"}}, on_work(1, [COMMENT])),
    process("r5", {"note": {"type": "text"}}, on_work(5, [COMMENT, COMMENT])),
    process("rset", {"note": {"type": "text"}}, on_work(1, [COMMENT, {"set": {"note": "set by {{ stage }}"}},
                                                            COMMENT, COMMENT])),
]


@pytest.fixture(scope="module")
def db(module_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Auto]:
    auto = Auto(module_url, tmp_path_factory.mktemp("defs"), ROLES, *PROCESSES)
    yield auto
    auto.close()


@contextmanager
def item_reads(process_id: str) -> Iterator[list[str]]:
    """The SELECTs of the process's item table run while the block runs."""
    table = re.compile(rf'\bFROM "?p_{process_id}"?(?=\s|$)', re.IGNORECASE)
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT") and table.search(statement):
            seen.append(statement)

    sa.event.listen(sa.engine.Engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        sa.event.remove(sa.engine.Engine, "before_cursor_execute", record)


def move_reads(db: Auto, process_id: str) -> int:
    item = db.admin.create(process_id, {"title": "Бетон"})
    with item_reads(process_id) as reads:
        db.admin.move(process_id, item, "work")
    return len(reads)


def test_a_move_reads_its_item_once_more_for_triggers_whatever_their_number(db: Auto) -> None:
    plain = move_reads(db, "r0")
    assert plain >= 1  # the counter sees the runtime's own read
    assert move_reads(db, "r1") == plain + 1
    assert move_reads(db, "r5") == plain + 1  # 5 triggers, 10 actions


def test_an_action_that_changes_the_item_is_one_more_read_and_later_actions_see_it(db: Auto) -> None:
    plain = move_reads(db, "r0")
    item = db.admin.create("rset", {"title": "Бетон"})
    with item_reads("rset") as reads:
        db.admin.move("rset", item, "work")
    # the move: runtime + automation; the set: runtime (its update) + automation (its change)
    assert len(reads) == plain + 1 + 2
    assert db.comments("rset", item) == ["Бетон entered work with note -", "Бетон entered work with note set by work",
                                         "Бетон entered work with note set by work"]
