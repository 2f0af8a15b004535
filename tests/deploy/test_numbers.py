"""The stable numbers outside protocols see (sf_numbers): given once by apply, never reused, and kept
by a pipeline, stage, field or option renamed with `renamed_from`."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from smartflow.deploy import apply as deploy
from smartflow.errors import DeployError
from smartflow.services import Engine
from tests.dbutil import statements
from tests.deploy.helpers import base, desired

pytestmark = pytest.mark.db


def test_a_fresh_database_s_numbers_are_written_in_one_statement(db_url: str, tmp_path: Path) -> None:
    """Not one INSERT a stage or an option: the shipped processes number about a hundred things."""
    other = copy.deepcopy(base())
    other["id"] = "lead"
    with statements(lambda sql: sql.lstrip().upper().startswith("INSERT INTO SF_NUMBERS")) as inserts:
        deploy.apply(desired(tmp_path, base(), other), db_url)
    assert len(inserts) == 1
    with Engine(db_url) as crm:
        numbers = crm.numbers()
    assert sum(len(by_key) for by_key in numbers.values()) > 10


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


def test_declared_numbers_are_given_first_and_a_taken_one_is_refused(db_url: str, tmp_path: Path) -> None:
    """A definition's `bitrix24:` blocks (a pulled portal's numbers) are the numbers; what declares none is
    numbered after them (an entityTypeId by Bitrix24's scheme, skipping a declared one); a declared number
    another thing holds refuses the apply, which changes nothing."""
    pulled = base()
    pulled["bitrix24"] = {"entity_type_id": 1046, "id": 7}
    pulled["pipelines"]["main"]["bitrix24"] = {"category_id": 12}
    pulled["fields"]["kind"]["options"][0]["bitrix24"] = {"id": 45}
    lead = copy.deepcopy(base())
    lead["id"] = "lead"
    lead["bitrix24"] = {"entity_type_id": 136}  # what type 9 would get by the scheme
    other = copy.deepcopy(base())
    other["id"] = "other"
    deploy.apply(desired(tmp_path, pulled, lead, other), db_url)
    with Engine(db_url) as crm:
        first = crm.numbers()
    assert first["type"] == {"deal": 7, "lead": 8, "other": 9}
    assert first["entity"] == {"deal": 1046, "lead": 136, "other": 137}  # type 9's 136 is lead's: the next
    assert first["category"]["deal/main"] == 12 and first["category"]["lead/main"] == 13
    option = next(o["id"] for o in base()["fields"]["kind"]["options"])
    assert first["option"][f"deal/kind/{option}"] == 45

    taken = copy.deepcopy(lead)
    taken["bitrix24"] = {"entity_type_id": 137}  # given to `other`, which declares none
    with pytest.raises(DeployError, match=r"the Bitrix24 entityTypeId 137 of `lead` is already `other`'s") as refused:
        deploy.apply(desired(tmp_path, pulled, taken, other), db_url)
    assert "bitrix24.entity_type_id" in str(refused.value.hint)
    with Engine(db_url) as crm:
        assert crm.numbers() == first and crm.deployed_version() == 1  # nothing changed
    # declared later, a number moves to the declared one
    later = copy.deepcopy(other)
    later["bitrix24"] = {"entity_type_id": 2000, "id": 70}
    deploy.apply(desired(tmp_path, pulled, lead, later), db_url)
    with Engine(db_url) as crm:
        assert (crm.numbers()["entity"]["other"], crm.numbers()["type"]["other"]) == (2000, 70)


def test_a_database_numbered_before_entity_type_ids_were_kept_answers_as_before(db_url: str, tmp_path: Path) -> None:
    """A database applied before entityTypeIds were kept has type numbers only: its entityTypeIds follow from
    them as they always did, and the next apply keeps exactly those."""
    import sqlalchemy as sa

    from smartflow.services import entity_type_id
    from tests.deploy.helpers import engine

    other = copy.deepcopy(base())
    other["id"] = "lead"
    deploy.apply(desired(tmp_path, base(), other), db_url)
    with engine(db_url).begin() as connection:
        connection.execute(sa.text("DELETE FROM sf_numbers WHERE kind = 'entity'"))
    with Engine(db_url) as crm:
        before = crm.numbers()
    assert before["entity"] == {} and before["type"] == {"deal": 1, "lead": 2}
    assert (entity_type_id(before, "deal"), entity_type_id(before, "lead"), entity_type_id(before, "x")) == \
        (128, 129, None)
    changed = base()
    changed["title"] = "Сделки"
    deploy.apply(desired(tmp_path, changed, other), db_url)
    with Engine(db_url) as crm:
        assert crm.numbers()["entity"] == {"deal": 128, "lead": 129}
