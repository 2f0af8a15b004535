"""Text stored as `''` by earlier versions (a card save stored an emptied input so) becomes NULL at
the next plan's first step, as every path now stores an empty value: planned with a count, applied
once, and then nothing is left to plan."""

from __future__ import annotations

from pathlib import Path

import pytest

from smartflow.deploy import apply as deploy
from tests.deploy.helpers import apply_as_planned, base, desired, insert_items, rows

pytestmark = pytest.mark.db


def test_empty_texts_become_null_at_the_next_apply(db_url: str, tmp_path: Path) -> None:
    definition = desired(tmp_path, base())
    deploy.apply(definition, db_url)
    insert_items(db_url, "deal", [{"code": "", "note": ""}, {"code": "A-1", "note": ""}, {"code": "A-2"},
                                  {"code": " ", "note": "Примечание"}])
    planned = deploy.plan(definition, db_url)
    assert [op.describe() for op in planned.changes] == [
        "process `deal`: 2 items hold empty text ('') in `code`, `note`: stored as no value (NULL)"]
    apply_as_planned(db_url, definition, "empty_texts")
    assert rows(db_url, "p_deal", "code", "note") == [(None, None), ("A-1", None), ("A-2", None),
                                                       (" ", "Примечание")]
    assert deploy.plan(definition, db_url).empty
