"""`plan` warns of the items new pipelines would strand: items in a stage from which no way (the
pipeline's transitions, a cross-pipeline transition, or entering another pipeline at its first stage)
leads to a success or failure stage. On SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from smartflow.deploy import apply as deploy
from smartflow.deploy.plan.diff import stranded_stages
from tests.deploy.helpers import base, desired, insert_items
from tests.deploy.helpers import plan_text as text_of


def _with_trap(pipelines: dict[str, Any]) -> dict[str, Any]:
    """The base deal whose `main` pipeline lets `work` and `review` lead only to each other."""
    changed = base()
    changed["pipelines"] = pipelines
    main = changed["pipelines"]["main"]
    main["stages"] = {"new": {"title": "Новая"}, "work": {"title": "В работе"}, "review": {"title": "Проверка"},
                      "won": {"title": "Успех", "semantic": "success"},
                      "lost": {"title": "Провал", "semantic": "failure"}}
    main["transitions"] = [{"from": "new", "to": "work"}, {"from": "work", "to": "review"},
                           {"from": "review", "to": "work"}, {"from": "new", "to": "won"},
                           {"from": "new", "to": "lost"}]
    return changed


def test_items_left_where_no_way_leads_to_a_closing_stage_are_reported(db_url: str, tmp_path: Path) -> None:
    deploy.apply(desired(tmp_path, base()), db_url)
    insert_items(db_url, "deal", [{"stage": "new"}, {"stage": "work"}, {"stage": "work"}, {"stage": "won"}])
    trap = _with_trap({"main": base()["pipelines"]["main"]})
    text = text_of(deploy.plan(desired(tmp_path, trap), db_url))
    assert ("  ! process `deal`: 2 items would be stranded in stage `work` of `main`: no way of transitions leads "
            "from there to a success or failure stage\n") in text
    assert "stranded in stage `review`" not in text  # nobody is there: nothing to report
    assert "stranded in stage `new`" not in text  # `new` leads to `won` and `lost`


def test_another_pipeline_entered_at_its_first_stage_is_a_way_out(db_url: str, tmp_path: Path) -> None:
    deploy.apply(desired(tmp_path, base()), db_url)
    insert_items(db_url, "deal", [{"stage": "work"}])
    express = {"title": "Экспресс", "stages": {"fast": {"title": "Быстро"},
                                                "done": {"title": "Готово", "semantic": "success"}}}
    open_door = _with_trap({"main": base()["pipelines"]["main"], "express": express})
    assert stranded_stages(desired(tmp_path, open_door).definition.process("deal")) == []
    assert "stranded" not in text_of(deploy.plan(desired(tmp_path, open_door), db_url))
    # express takes items of `main` only from `new`: from `work` no way leads into it any more
    closed = _with_trap({"main": base()["pipelines"]["main"],
                         "express": {**express, "transitions": [{"from": "main.new", "to": "fast"},
                                                                {"from": "fast", "to": "done"}]}})
    text = text_of(deploy.plan(desired(tmp_path, closed), db_url))
    assert "  ! process `deal`: 1 items would be stranded in stage `work` of `main`" in text
    assert stranded_stages(desired(tmp_path, closed).definition.process("deal")) == [("main", "work"),
                                                                                     ("main", "review")]


def test_an_unchanged_pipeline_plans_nothing(db_url: str, tmp_path: Path) -> None:
    trap = _with_trap({"main": base()["pipelines"]["main"]})
    deploy.apply(desired(tmp_path, trap), db_url)
    insert_items(db_url, "deal", [{"stage": "work"}])
    assert deploy.plan(desired(tmp_path, trap), db_url).empty  # reported when a deploy changes the pipelines
