"""The stable numbers outside protocols see (sf_numbers): given once by apply, never reused, and kept
by a pipeline, stage, field or option renamed with `renamed_from`."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from smartflow.deploy import apply as deploy
from smartflow.services import Engine
from tests.deploy.helpers import base, desired

pytestmark = pytest.mark.db


def test_numbers_are_given_once_and_follow_renames(db_url: str, tmp_path: Path) -> None:
    other = copy.deepcopy(base())
    other["id"] = "lead"
    deploy.apply(desired(tmp_path, base(), other), db_url)
    with Engine(db_url) as crm:
        first = crm.numbers()
    assert first["type"] == {"deal": 1, "lead": 2}
    assert sorted(first["stage"].values()) == list(range(1, 9))  # 4 stages in each of two processes
    assert set(first["option"]) == {"deal/kind/retail", "deal/kind/bulk", "lead/kind/retail", "lead/kind/bulk"}

    renamed = base()
    pipeline = renamed["pipelines"].pop("main")
    pipeline["renamed_from"] = "main"
    stages = pipeline["stages"]
    pipeline["stages"] = {"new": stages["new"], "progress": {**stages["work"], "renamed_from": "work"},
                          "paused": {"title": "Пауза"}, "won": stages["won"], "lost": stages["lost"]}
    renamed["pipelines"]["sales"] = pipeline
    renamed["fields"]["category"] = {**renamed["fields"].pop("kind"), "renamed_from": "kind"}
    renamed["fields"]["category"]["options"] = [{"id": "retail", "title": "Розница"},
                                                {"id": "wholesale", "title": "Опт", "renamed_from": "bulk"}]
    deploy.apply(desired(tmp_path, renamed, other), db_url)
    with Engine(db_url) as crm:
        second = crm.numbers()
    assert second["type"] == first["type"]
    assert second["category"]["deal/sales"] == first["category"]["deal/main"] and "deal/main" not in second["category"]
    assert second["stage"]["deal/sales/progress"] == first["stage"]["deal/main/work"]
    assert second["stage"]["deal/sales/won"] == first["stage"]["deal/main/won"]
    assert second["stage"]["deal/sales/paused"] == 9  # new: the next number, none reused
    assert second["option"]["deal/category/wholesale"] == first["option"]["deal/kind/bulk"]
    assert second["option"]["deal/category/retail"] == first["option"]["deal/kind/retail"]
    assert {k: v for k, v in second["stage"].items() if k.startswith("lead/")} == \
        {k: v for k, v in first["stage"].items() if k.startswith("lead/")}
