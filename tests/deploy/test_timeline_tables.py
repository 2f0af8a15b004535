"""A database deployed before comments and to-dos: until `apply` runs again the comment endpoints say so
(NotDeployed, with the hint) and the board's counters are absent; `apply` then adds the tables, keeping
everything else."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from smartflow import Engine
from smartflow.deploy import apply as deploy
from smartflow.errors import NotDeployed
from tests.dbutil import statements
from tests.http.support import DOCUMENTS
from tests.runtime.support import module_url, write_definitions

__all__ = ["module_url"]


@pytest.mark.db
def test_apply_adds_the_timeline_tables_to_an_older_database(module_url: str, tmp_path: Path) -> None:
    desired = write_definitions(tmp_path, *DOCUMENTS)
    deploy.apply(desired, module_url)
    raw = sa.create_engine(module_url)
    with raw.begin() as connection:
        for table in ("sf_comment_mentions", "sf_comments", "sf_todos"):
            connection.execute(sa.text(f"DROP TABLE {table}"))
    with Engine(module_url) as crm:
        item_id = crm.create("purchase", {"title": "old", "qty": 1})
        with pytest.raises(NotDeployed, match="comments and to-dos"):
            crm.comment("purchase", item_id, "hello")
        assert crm.overdue_items("purchase", [item_id]) == set()
        with statements(lambda sql: "FROM sf_todos" in sql) as asked:
            assert crm.work("w1").reminded == 0  # the worker's pass leaves the absent to-dos alone
        assert asked == []
        deploy.apply(write_definitions(tmp_path, *DOCUMENTS), module_url)
        assert crm.comment("purchase", item_id, "hello")["text"] == "hello"
        with statements(lambda sql: "FROM sf_todos" in sql) as asked:
            crm.work("w1")
        assert asked, "the worker's pass did not look for overdue to-dos once apply added their table"
        assert crm.get("purchase", item_id)["title"] == "old"
    raw.dispose()
