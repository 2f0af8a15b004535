"""Each kind of definition change, on SQLite and PostgreSQL: the plan as text (golden/*.txt),
the schema after apply (compared with what the definitions compile to) and the data.

Every apply here goes through `apply_as_planned`: the steps apply executed are exactly the
steps plan listed, and planning the same definitions again finds nothing to do.
"""

from __future__ import annotations

import copy
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from smartflow.deploy import apply as deploy
from tests.dbutil import snapshot
from tests.deploy.helpers import (
    add_user,
    apply_as_planned,
    archive,
    assert_schema_matches,
    base,
    desired,
    execute,
    insert,
    insert_items,
    refuse,
    rows,
    schema,
)

CLIENT: dict[str, Any] = {
    "kind": "Process",
    "id": "client",
    "title": "Клиент",
    "fields": {"name": {"type": "string"}},
    "pipelines": {"main": {"title": "Main", "default": True, "stages": {
        "active": {"title": "Активный"},
        "kept": {"title": "Постоянный", "semantic": "success"},
        "gone": {"title": "Ушёл", "semantic": "failure"},
    }}},
}


def start(url: str, tmp_path: Path, *documents: dict[str, Any], items: list[dict[str, Any]] | None = None) -> list[int]:
    """Deploy documents (default: the base deal) as version 1 and add items to `deal`."""
    deploy.apply(desired(tmp_path, *(documents or (base(),))), url)
    return insert_items(url, "deal", items or [])


def deal_columns(url: str) -> dict[str, Any]:
    """The declared fields' columns of p_deal (system columns left out)."""
    system = {"id", "title", "pipeline", "stage", "assigned_to", "created_by", "created_at", "updated_by",
              "updated_at", "moved_by", "moved_at", "closed_at", "version", "deleted_at", "definition_version"}
    return {k: v for k, v in schema(url)["p_deal"]["columns"].items() if k not in system}


# ---- fields: add ----------------------------------------------------------------------------


def test_add_fields_fills_defaults_and_creates_side_tables(db_url: str, tmp_path: Path) -> None:
    start(db_url, tmp_path, base(), CLIENT, items=[{"code": "A-1"}, {"code": "A-2"}])
    changed = base()
    changed["fields"].update({
        "region": {"type": "string", "default": "Москва"},
        "qty": {"type": "integer"},
        "tags": {"type": "string", "multiple": True},
        "owner": {"type": "user"},
        "client": {"type": "link", "to": "client"},
    })
    target = desired(tmp_path, changed, CLIENT)
    apply_as_planned(db_url, target, "add_fields")
    assert_schema_matches(db_url, target)
    tables = schema(db_url)
    assert tables["p_deal"]["indexes"]["ix_deal_owner"] == (("owner",), False)
    assert (("client",), "p_client", "SET NULL") in tables["p_deal"]["references"]
    assert rows(db_url, "p_deal", "code", "region", "qty", "owner", "client") == [
        ("A-1", "Москва", None, None, None), ("A-2", "Москва", None, None, None)]
    assert rows(db_url, "p_deal__tags", "value") == []


def test_add_required_field_with_backfill(db_url: str, tmp_path: Path) -> None:
    start(db_url, tmp_path, items=[{"code": "A-1"}, {"code": "A-2"}])
    changed = base()
    changed["fields"]["priority"] = {"type": "integer", "required": True, "backfill": 3}
    changed["fields"]["due"] = {"type": "date", "required": True, "backfill": "2026-12-31", "default": "today"}
    changed["fields"]["budget"] = {"type": "number", "precision": 1, "required": True, "backfill": 2.5}
    target = desired(tmp_path, changed)
    apply_as_planned(db_url, target, "add_required_backfill")
    assert_schema_matches(db_url, target)
    assert [(p, str(d), b) for p, d, b in rows(db_url, "p_deal", "priority", "due", "budget")] == [
        (3, "2026-12-31", 25), (3, "2026-12-31", 25)]


def test_add_required_field_without_backfill_is_refused_unless_allowed(db_url: str, tmp_path: Path) -> None:
    start(db_url, tmp_path, items=[{"code": "A-1"}, {"code": "A-2"}])
    changed = base()
    changed["fields"]["priority"] = {"type": "integer", "required": True}
    target = desired(tmp_path, changed)
    refused = refuse(db_url, target, "add_required_refused")
    assert refused.reasons == ["new required field `priority` would be empty in 2 items; give it a `backfill:` value"]
    apply_as_planned(db_url, target, "add_required_allowed", allow_data_loss=True)
    assert_schema_matches(db_url, target)
    assert rows(db_url, "p_deal", "code", "priority") == [("A-1", None), ("A-2", None)]


def test_add_required_field_to_an_empty_process_needs_nothing(db_url: str, tmp_path: Path) -> None:
    start(db_url, tmp_path)
    changed = base()
    changed["fields"]["priority"] = {"type": "integer", "required": True}
    target = desired(tmp_path, changed)
    result = apply_as_planned(db_url, target)
    assert [op.needs_data_loss for op in result.changes] == [None]
    assert_schema_matches(db_url, target)
    assert deal_columns(db_url)["priority"] == ("int", True)
    assert rows(db_url, "p_deal", "priority") == []


# ---- fields: rename -------------------------------------------------------------------------


def test_rename_field_keeps_values_and_its_index(db_url: str, tmp_path: Path) -> None:
    before = base()
    before["fields"]["code"]["unique"] = True
    start(db_url, tmp_path, before, items=[{"code": "A-1"}, {"code": "A-2"}, {}])
    changed = base()
    fields = changed["fields"]
    changed["fields"] = {"amount": fields["amount"], "number": {"type": "string", "unique": True,
                                                                "renamed_from": "code"},
                         "kind": fields["kind"], "note": fields["note"]}
    target = desired(tmp_path, changed)
    apply_as_planned(db_url, target, "rename_field")
    assert_schema_matches(db_url, target)
    assert "uqa_deal_number" in schema(db_url)["p_deal"]["indexes"]
    assert rows(db_url, "p_deal", "number") == [("A-1",), ("A-2",), (None,)]


def test_rename_money_field_renames_its_currency_column(db_url: str, tmp_path: Path) -> None:
    start(db_url, tmp_path, items=[{"amount": 150000, "amount__currency": "RUB"}, {"amount": 99, "amount__currency":
                                                                                  "USD"}, {}])
    changed = base()
    changed["fields"]["total"] = {"type": "money", "title": "Итого", "renamed_from": "amount"}
    del changed["fields"]["amount"]
    target = desired(tmp_path, changed)
    apply_as_planned(db_url, target, "rename_money_field")
    assert_schema_matches(db_url, target)
    assert not {"amount", "amount__currency"} & set(deal_columns(db_url))
    assert rows(db_url, "p_deal", "total", "total__currency") == [(150000, "RUB"), (99, "USD"), (None, None)]


def test_rename_multiple_field_renames_its_table(db_url: str, tmp_path: Path) -> None:
    before = base()
    before["fields"]["tags"] = {"type": "string", "multiple": True}
    ids = start(db_url, tmp_path, before, items=[{"code": "A-1"}, {"code": "A-2"}])
    insert(db_url, "p_deal__tags", [{"item_id": ids[0], "position": 0, "value": "срочно"},
                                    {"item_id": ids[0], "position": 1, "value": "vip"},
                                    {"item_id": ids[1], "position": 0, "value": "vip"}])
    changed = base()
    changed["fields"]["labels"] = {"type": "string", "multiple": True, "renamed_from": "tags"}
    target = desired(tmp_path, changed)
    apply_as_planned(db_url, target, "rename_multiple_field")
    assert_schema_matches(db_url, target)
    assert rows(db_url, "p_deal__labels", "item_id", "position", "value") == [
        (ids[0], 0, "срочно"), (ids[0], 1, "vip"), (ids[1], 0, "vip")]
    # the old names are free again: a new `tags` field gets a table of its own
    again = base()
    again["fields"]["labels"] = {"type": "string", "multiple": True}
    again["fields"]["tags"] = {"type": "integer", "multiple": True}
    target = desired(tmp_path, again)
    apply_as_planned(db_url, target)
    assert_schema_matches(db_url, target)
    assert len(rows(db_url, "p_deal__labels", "value")) == 3


# ---- fields: remove -------------------------------------------------------------------------


def test_remove_fields_with_data_is_refused_then_archived(db_url: str, tmp_path: Path) -> None:
    before = base()
    before["fields"]["tags"] = {"type": "string", "multiple": True}
    ids = start(db_url, tmp_path, before, items=[
        {"note": "первая", "amount": 1500, "amount__currency": "RUB"}, {"note": "вторая"}, {}])
    insert(db_url, "p_deal__tags", [{"item_id": ids[0], "position": 0, "value": "a"},
                                    {"item_id": ids[0], "position": 1, "value": "b"},
                                    {"item_id": ids[2], "position": 0, "value": "c"}])
    changed = base()
    for name in ("amount", "kind", "note"):  # `kind` holds no data: removing it loses nothing
        del changed["fields"][name]
    target = desired(tmp_path, changed)
    refused = refuse(db_url, target, "remove_fields_refused")
    assert refused.reasons == ["field `amount` holds data in 1 items", "field `note` holds data in 2 items",
                               "field `tags` holds data in 2 items"]
    apply_as_planned(db_url, target, "remove_fields_allowed", allow_data_loss=True)
    assert_schema_matches(db_url, target)
    assert set(deal_columns(db_url)) == {"code"}
    assert "p_deal__tags" not in schema(db_url)
    assert archive(db_url) == [
        ("deal", "amount", "field removed", [1500, "RUB"], 2),
        ("deal", "note", "field removed", "первая", 2),
        ("deal", "note", "field removed", "вторая", 2),
        ("deal", "tags", "field removed", ["a", "b"], 2),
        ("deal", "tags", "field removed", ["c"], 2),
    ]


# ---- fields: type and precision -------------------------------------------------------------


def test_string_to_integer_converts_every_value(db_url: str, tmp_path: Path) -> None:
    start(db_url, tmp_path, items=[{"code": "12"}, {"code": " 7"}, {}, {"code": "1 000"}])
    changed = base()
    changed["fields"]["code"] = {"type": "integer"}
    target = desired(tmp_path, changed)
    apply_as_planned(db_url, target, "string_to_integer")
    assert_schema_matches(db_url, target)
    assert deal_columns(db_url)["code"] == ("int", True)
    assert rows(db_url, "p_deal", "code") == [(12,), (7,), (None,), (1000,)]
    assert archive(db_url) == []


def test_string_to_integer_with_unconvertible_values_is_refused_then_archived(db_url: str, tmp_path: Path) -> None:
    before = base()
    before["fields"]["code"]["unique"] = True
    start(db_url, tmp_path, before, items=[{"code": "12"}, {"code": "A-1"}, {"code": "x"}, {"code": "3.5"}])
    changed = base()
    changed["fields"]["code"] = {"type": "integer", "unique": True}
    target = desired(tmp_path, changed)
    refused = refuse(db_url, target, "string_to_integer_refused")
    assert refused.reasons == ["3 values of `code` can't be converted to integer"]
    apply_as_planned(db_url, target, "string_to_integer_allowed", allow_data_loss=True)
    assert_schema_matches(db_url, target)
    assert schema(db_url)["p_deal"]["indexes"]["uqa_deal_code"] == (("code",), True)
    assert rows(db_url, "p_deal", "code") == [(12,), (None,), (None,), (None,)]
    assert sorted(archive(db_url)) == [("deal", "code", "field type changed to integer", value, 2)
                                       for value in ("3.5", "A-1", "x")]


def test_type_change_that_would_duplicate_unique_values_is_impossible(db_url: str, tmp_path: Path) -> None:
    before = base()
    before["fields"]["code"]["unique"] = True
    start(db_url, tmp_path, before, items=[{"code": "1"}, {"code": "01"}, {"code": "2"}])
    changed = base()
    changed["fields"]["code"] = {"type": "integer", "unique": True}
    refused = refuse(db_url, desired(tmp_path, changed), "type_change_duplicates", allow_data_loss=True)
    assert refused.reasons == ["field `code` is unique, and 1 converted values would be held by more than one "
                               "item; make them unique first"]


def test_integer_to_string_and_money_to_number(db_url: str, tmp_path: Path) -> None:
    before = base()
    before["fields"]["qty"] = {"type": "integer"}
    start(db_url, tmp_path, before, items=[{"qty": 5, "amount": 150050, "amount__currency": "RUB"},
                                           {"qty": -3}, {}])
    changed = base()
    changed["fields"]["qty"] = {"type": "string"}
    changed["fields"]["amount"] = {"type": "number", "precision": 2, "title": {"ru": "Сумма", "en": "Amount"}}
    target = desired(tmp_path, changed)
    apply_as_planned(db_url, target, "integer_to_string")
    assert_schema_matches(db_url, target)
    assert deal_columns(db_url)["qty"] == ("str", True)
    assert "amount__currency" not in deal_columns(db_url)
    assert rows(db_url, "p_deal", "qty", "amount") == [("5", 150050), ("-3", None), (None, None)]


def test_precision_change_rescales_values_and_refuses_lost_digits(db_url: str, tmp_path: Path) -> None:
    before = base()
    before["fields"]["weight"] = {"type": "number"}  # the default precision, 2
    before["fields"]["rate"] = {"type": "number", "precision": 2}
    start(db_url, tmp_path, before, items=[{"weight": 1234, "rate": 1230}, {"weight": 5, "rate": 1234}, {}])
    changed = base()
    changed["fields"]["weight"] = {"type": "number", "precision": 3}
    changed["fields"]["rate"] = {"type": "number", "precision": 1}
    target = desired(tmp_path, changed)
    refused = refuse(db_url, target, "precision_refused")
    assert refused.reasons == ["1 values of `rate` can't be converted to number"]
    apply_as_planned(db_url, target, "precision_allowed", allow_data_loss=True)
    assert_schema_matches(db_url, target)
    assert rows(db_url, "p_deal", "weight", "rate") == [(12340, 123), (50, None), (None, None)]
    assert [(f, reason, version) for _, f, reason, _, version in archive(db_url)] == [
        ("rate", "field type changed to number", 2)]


def test_multiple_field_renamed_and_retyped_converts_each_value(db_url: str, tmp_path: Path) -> None:
    before = base()
    before["fields"]["tags"] = {"type": "string", "multiple": True}
    ids = start(db_url, tmp_path, before, items=[{}, {}, {}])
    insert(db_url, "p_deal__tags", [{"item_id": ids[0], "position": 0, "value": "12"},
                                    {"item_id": ids[0], "position": 1, "value": "срочно"},
                                    {"item_id": ids[0], "position": 2, "value": "7"},
                                    {"item_id": ids[2], "position": 0, "value": "3"}])
    changed = base()
    changed["fields"]["numbers"] = {"type": "integer", "multiple": True, "renamed_from": "tags"}
    target = desired(tmp_path, changed)
    refused = refuse(db_url, target, "multiple_retyped_refused")
    assert refused.reasons == ["1 values of `numbers` can't be converted to integer"]
    apply_as_planned(db_url, target, "multiple_retyped_allowed", allow_data_loss=True)
    assert_schema_matches(db_url, target)
    assert rows(db_url, "p_deal__numbers", "item_id", "position", "value") == [
        (ids[0], 0, 12), (ids[0], 2, 7), (ids[2], 0, 3)]
    assert archive(db_url) == [("deal", "numbers", "field type changed to integer", "срочно", 2)]


def test_type_change_to_a_reference_gets_its_foreign_key(db_url: str, tmp_path: Path) -> None:
    before = base()
    before["fields"]["boss"] = {"type": "string"}
    start(db_url, tmp_path, before, base() | {"id": "client", "fields": {}}, items=[{"code": None}])
    changed = base()
    changed["fields"]["boss"] = {"type": "user"}
    changed["fields"]["code"] = {"type": "link", "to": "client"}
    target = desired(tmp_path, changed, base() | {"id": "client", "fields": {}})
    apply_as_planned(db_url, target)
    assert_schema_matches(db_url, target)
    references = [r for r in schema(db_url)["p_deal"]["references"] if r[0] in (("boss",), ("code",))]
    assert references == [(("boss",), "sf_users", "SET NULL"), (("code",), "p_client", "SET NULL")]
    assert rows(db_url, "p_deal", "boss", "code") == [(None, None)]


# ---- fields: required, unique ---------------------------------------------------------------


def test_field_becomes_required_with_backfill(db_url: str, tmp_path: Path) -> None:
    start(db_url, tmp_path, items=[{"note": "есть"}, {}, {"stage": "won"}])
    changed = base()
    changed["fields"]["note"] = {"type": "text", "required": True, "backfill": "—"}
    target = desired(tmp_path, changed)
    apply_as_planned(db_url, target, "required_backfill")
    assert_schema_matches(db_url, target)
    assert rows(db_url, "p_deal", "note") == [("есть",), ("—",), ("—",)]


def test_multiple_field_gets_its_default_and_backfill_as_values(db_url: str, tmp_path: Path) -> None:
    before = base()
    before["fields"]["tags"] = {"type": "string", "multiple": True}
    ids = start(db_url, tmp_path, before, items=[{}, {}])
    insert(db_url, "p_deal__tags", [{"item_id": ids[0], "position": 0, "value": "старый"}])
    changed = base()
    changed["fields"]["tags"] = {"type": "string", "multiple": True, "required": True, "backfill": ["a", "b"]}
    changed["fields"]["sizes"] = {"type": "number", "multiple": True, "default": 1.5}
    target = desired(tmp_path, changed)
    apply_as_planned(db_url, target, "multiple_backfill")
    assert_schema_matches(db_url, target)
    assert rows(db_url, "p_deal__tags", "item_id", "position", "value") == [
        (ids[0], 0, "старый"), (ids[1], 0, "a"), (ids[1], 1, "b")]
    assert rows(db_url, "p_deal__sizes", "item_id", "value") == [(ids[0], 150), (ids[1], 150)]


def test_field_becomes_required_without_backfill_is_refused_then_optional_again(db_url: str,
                                                                                 tmp_path: Path) -> None:
    start(db_url, tmp_path, items=[{"code": "A-1"}, {}, {}])
    changed = base()
    changed["fields"]["code"]["required"] = True
    target = desired(tmp_path, changed)
    refused = refuse(db_url, target, "required_refused")
    assert refused.reasons == ["field `code` becomes required while 2 items have it empty; give it a "
                               "`backfill:` value"]
    data = snapshot(db_url)
    apply_as_planned(db_url, target, "required_allowed", allow_data_loss=True)
    after = snapshot(db_url)
    assert {k: v for k, v in after.items() if k != "sf_versions"} == {k: v for k, v in data.items()
                                                                       if k != "sf_versions"}
    apply_as_planned(db_url, desired(tmp_path, base()), "required_removed")
    assert rows(db_url, "p_deal", "code") == [("A-1",), (None,), (None,)]


def test_unique_added_then_removed(db_url: str, tmp_path: Path) -> None:
    start(db_url, tmp_path, items=[{"code": "A-1"}, {"code": "A-2"}, {}, {}])
    changed = base()
    changed["fields"]["code"]["unique"] = True
    target = desired(tmp_path, changed)
    apply_as_planned(db_url, target, "unique_added")
    assert_schema_matches(db_url, target)
    assert schema(db_url)["p_deal"]["indexes"]["uqa_deal_code"] == (("code",), True)
    target = desired(tmp_path, base())
    apply_as_planned(db_url, target, "unique_removed")
    assert_schema_matches(db_url, target)
    assert "uqa_deal_code" not in schema(db_url)["p_deal"]["indexes"]
    assert rows(db_url, "p_deal", "code") == [("A-1",), ("A-2",), (None,), (None,)]


def test_an_older_deployments_unique_index_is_rebuilt_to_leave_the_recycle_bin_out(db_url: str,
                                                                                  tmp_path: Path) -> None:
    document = base()
    document["features"] = {"recycle_bin": True}
    document["fields"]["code"]["unique"] = True
    target = desired(tmp_path, document)
    start(db_url, tmp_path, document, items=[{"code": "A-1"}, {"code": "A-2", "deleted_at": date(2026, 11, 2)}])
    assert schema(db_url)["p_deal"]["partial"] == ["uqa_deal_code"]
    execute(db_url, "DROP INDEX uqa_deal_code")  # what deployments before the rule had
    execute(db_url, "CREATE UNIQUE INDEX uq_deal_code ON p_deal (code)")
    apply_as_planned(db_url, target, "unique_released")
    assert_schema_matches(db_url, target)
    assert schema(db_url)["p_deal"]["partial"] == ["uqa_deal_code"]
    insert_items(db_url, "deal", [{"code": "A-2"}])  # the deleted item no longer holds A-2
    with pytest.raises(sa.exc.IntegrityError):
        insert_items(db_url, "deal", [{"code": "A-1"}])  # a live one still does

    retyped = copy.deepcopy(document)  # SQLite changes a type by copy-and-swap: the index stays partial
    retyped["fields"]["note"] = {"type": "integer"}
    target = desired(tmp_path, retyped)
    deploy.apply(target, db_url)
    assert_schema_matches(db_url, target)
    assert rows(db_url, "p_deal", "code") == [("A-1",), ("A-2",), ("A-2",)]


def test_unique_with_duplicates_is_impossible_even_when_data_loss_is_allowed(db_url: str, tmp_path: Path) -> None:
    start(db_url, tmp_path, items=[{"code": c} for c in ("A", "A", "B", "B", "B", "C")])
    changed = base()
    changed["fields"]["code"]["unique"] = True
    changed["fields"]["region"] = {"type": "string", "unique": True, "default": "Москва"}
    target = desired(tmp_path, changed)
    refused = refuse(db_url, target, "unique_duplicates", allow_data_loss=True)
    assert refused.reasons == ["field `code` has 2 duplicated values; make them unique first",
                               "new unique field `region` cannot give the same 'Москва' to 6 items"]
    assert refused.hint == "change the definitions or the data first"


# ---- enum options ---------------------------------------------------------------------------


def test_enum_option_in_use_removed_is_refused_then_archived(db_url: str, tmp_path: Path) -> None:
    start(db_url, tmp_path, items=[{"kind": "bulk"}, {"kind": "retail"}, {"kind": "bulk"}])
    changed = base()
    changed["fields"]["kind"]["options"] = [{"id": "retail", "title": "Розница"},
                                            {"id": "online", "title": "Интернет"}]
    target = desired(tmp_path, changed)
    refused = refuse(db_url, target, "option_removed_refused")
    assert refused.reasons == ["option `bulk` of `kind` is in use by 2 items"]
    apply_as_planned(db_url, target, "option_removed_allowed", allow_data_loss=True)
    assert_schema_matches(db_url, target)
    assert rows(db_url, "p_deal", "kind") == [(None,), ("retail",), (None,)]
    assert archive(db_url) == [("deal", "kind", "option bulk removed", "bulk", 2)] * 2


def test_enum_option_renamed_keeps_items(db_url: str, tmp_path: Path) -> None:
    channels = {"type": "enum", "multiple": True,
                "options": [{"id": "web", "title": "Сайт"}, {"id": "phone", "title": "Телефон"}]}
    before = base()
    before["fields"]["channels"] = channels
    ids = start(db_url, tmp_path, before, items=[{"kind": "bulk"}, {"kind": "retail"}, {}])
    insert(db_url, "p_deal__channels", [{"item_id": ids[0], "position": 0, "value": "phone"},
                                        {"item_id": ids[1], "position": 0, "value": "web"},
                                        {"item_id": ids[1], "position": 1, "value": "phone"}])
    changed = base()
    changed["fields"]["kind"]["options"] = [{"id": "retail", "title": "Розница"},
                                            {"id": "wholesale", "title": "Опт", "renamed_from": "bulk"}]
    changed["fields"]["channels"] = {**channels, "options": [
        {"id": "web", "title": "Сайт"}, {"id": "call", "title": "Звонок", "renamed_from": "phone"}]}
    target = desired(tmp_path, changed)
    apply_as_planned(db_url, target, "option_renamed")
    assert_schema_matches(db_url, target)
    assert rows(db_url, "p_deal", "kind") == [("wholesale",), ("retail",), (None,)]
    assert rows(db_url, "p_deal__channels", "item_id", "value") == [(ids[0], "call"), (ids[1], "web"),
                                                                    (ids[1], "call")]
    assert archive(db_url) == []


# ---- stages and pipelines -------------------------------------------------------------------


def test_stage_added_and_renamed(db_url: str, tmp_path: Path) -> None:
    start(db_url, tmp_path, items=[{"stage": "new"}, {"stage": "work"}, {"stage": "work"}, {"stage": "won"}])
    changed = base()
    changed["pipelines"]["main"]["stages"] = {
        "new": {"title": "Новая"},
        "in_progress": {"title": "В работе", "renamed_from": "work"},
        "review": {"title": "Проверка"},
        "won": {"title": "Успех", "semantic": "success"},
        "lost": {"title": "Провал", "semantic": "failure"},
    }
    target = desired(tmp_path, changed)
    apply_as_planned(db_url, target, "stage_added_renamed")
    assert_schema_matches(db_url, target)
    assert rows(db_url, "p_deal", "stage") == [("new",), ("in_progress",), ("in_progress",), ("won",)]
    assert archive(db_url) == []


def test_stage_removed_with_replaces_moves_its_items(db_url: str, tmp_path: Path) -> None:
    start(db_url, tmp_path, items=[{"stage": "lost"}, {"stage": "won"}, {"stage": "lost"}])
    changed = base()
    stages = changed["pipelines"]["main"]["stages"]
    del stages["lost"], stages["work"]  # `work` is empty: removing it loses nothing
    stages["closed"] = {"title": "Закрыта", "semantic": "failure", "replaces": ["lost"]}
    target = desired(tmp_path, changed)
    apply_as_planned(db_url, target, "stage_replaced")
    assert_schema_matches(db_url, target)
    assert rows(db_url, "p_deal", "stage") == [("closed",), ("won",), ("closed",)]
    assert archive(db_url) == []


def test_stage_removed_with_items_is_refused_then_archived(db_url: str, tmp_path: Path) -> None:
    start(db_url, tmp_path, items=[{"stage": "work"}, {"stage": "won"}, {"stage": "work"}])
    changed = base()
    del changed["pipelines"]["main"]["stages"]["work"]
    target = desired(tmp_path, changed)
    refused = refuse(db_url, target, "stage_removed_refused")
    assert refused.reasons == ["stage `work` holds 2 items; list it in another stage's `replaces:` to move "
                               "them there"]
    apply_as_planned(db_url, target, "stage_removed_allowed", allow_data_loss=True)
    assert_schema_matches(db_url, target)
    assert rows(db_url, "p_deal", "stage") == [("new",), ("won",), ("new",)]
    assert archive(db_url) == [("deal", None, "stage removed", {"pipeline": "main", "stage": "work"}, 2)] * 2


def _with_express(document: dict[str, Any], pipeline_id: str = "express", **extra: Any) -> dict[str, Any]:
    document["pipelines"][pipeline_id] = {"title": "Экспресс", **extra, "stages": {
        "fast": {"title": "Быстро"}, "shipped": {"title": "Отгружено", "semantic": "success"},
        "dropped": {"title": "Снято", "semantic": "failure"}}}
    return document


def test_pipeline_added_renamed_then_removed(db_url: str, tmp_path: Path) -> None:
    start(db_url, tmp_path, _with_express(base()), items=[
        {}, {"pipeline": "express", "stage": "fast"}, {"pipeline": "express", "stage": "shipped"}])
    changed = _with_express(base(), "quick", renamed_from="express")
    changed["pipelines"]["partner"] = {"title": "Партнёры", "stages": {
        "offer": {"title": "Предложение"}, "signed": {"title": "Подписано", "semantic": "success"},
        "declined": {"title": "Отказ", "semantic": "failure"}}}
    target = desired(tmp_path, changed)
    apply_as_planned(db_url, target, "pipeline_added_renamed")
    assert rows(db_url, "p_deal", "pipeline", "stage") == [("main", "new"), ("quick", "fast"), ("quick", "shipped")]

    del changed["pipelines"]["quick"]
    target = desired(tmp_path, changed)
    refused = refuse(db_url, target, "pipeline_removed_refused")
    assert refused.reasons == ["pipeline `quick` holds 2 items"]
    apply_as_planned(db_url, target, "pipeline_removed_allowed", allow_data_loss=True)
    assert_schema_matches(db_url, target)
    assert rows(db_url, "p_deal", "pipeline", "stage") == [("main", "new"), ("main", "new"), ("main", "new")]
    assert archive(db_url) == [("deal", None, "pipeline removed", {"pipeline": "quick", "stage": s}, 3)
                               for s in ("fast", "shipped")]


# ---- features and processes -----------------------------------------------------------------


def test_features_added_then_removed(db_url: str, tmp_path: Path) -> None:
    ids = start(db_url, tmp_path, items=[{}, {}])
    changed = base()
    changed["features"] = {"observers": True, "begin_close_dates": True}
    target = desired(tmp_path, changed)
    apply_as_planned(db_url, target, "features_added")
    assert_schema_matches(db_url, target)
    user = add_user(db_url)
    insert(db_url, "p_deal__observers", [{"item_id": ids[0], "user_id": user}, {"item_id": ids[1], "user_id": user}])
    execute(db_url, "UPDATE p_deal SET begin_date = :d WHERE id = :i", d=date(2026, 11, 2), i=ids[1])
    target = desired(tmp_path, base())
    refused = refuse(db_url, target, "features_removed_refused")
    assert refused.reasons == ["2 observer entries exist", "1 items have begin or close dates"]
    apply_as_planned(db_url, target, "features_removed_allowed", allow_data_loss=True)
    assert_schema_matches(db_url, target)
    assert "p_deal__observers" not in schema(db_url)
    assert [(f, reason, data, v) for _, f, reason, data, v in archive(db_url)] == [
        (None, "observers removed", {"item_id": ids[0], "user_id": user}, 3),
        (None, "observers removed", {"item_id": ids[1], "user_id": user}, 3),
        (None, "begin and close dates removed", {"begin_date": "2026-11-02", "close_date": None}, 3),
    ]


def test_process_removed_with_items_is_refused_then_archived(db_url: str, tmp_path: Path) -> None:
    client = {**CLIENT, "features": {"observers": True},
              "fields": {**CLIENT["fields"], "phones": {"type": "phone", "multiple": True}}}
    start(db_url, tmp_path, base(), client)
    ids = insert_items(db_url, "client", [{"name": "ООО Ромашка", "pipeline": "main", "stage": "active"},
                                          {"name": "ИП Петров", "stage": "kept"}])
    insert(db_url, "p_client__phones", [{"item_id": ids[1], "position": 0, "value": "+7 900 000-00-01"},
                                        {"item_id": ids[1], "position": 1, "value": "+7 900 000-00-02"}])
    user = add_user(db_url)
    insert(db_url, "p_client__observers", [{"item_id": ids[0], "user_id": user}])
    target = desired(tmp_path, base())
    refused = refuse(db_url, target, "process_removed_refused")
    assert refused.reasons == ["process `client` holds 2 items"]
    apply_as_planned(db_url, target, "process_removed_allowed", allow_data_loss=True)
    assert_schema_matches(db_url, target)
    assert not [name for name in schema(db_url) if name.startswith("p_client")]
    kept = archive(db_url)
    assert [(p, f, reason, v) for p, f, reason, _, v in kept] == [
        ("client", None, "process removed", 2), ("client", None, "process removed", 2),
        ("client", "phones", "process removed", 2), ("client", "observers", "process removed", 2)]
    assert [(d["name"], d["stage"], d["created_at"][:10]) for *_, d, _ in kept[:2]] == [
        ("ООО Ромашка", "active", "2026-11-01"), ("ИП Петров", "kept", "2026-11-01")]
    assert [d for *_, d, _ in kept[2:]] == [["+7 900 000-00-01", "+7 900 000-00-02"], [user]]


# ---- rights, triggers and other changes with no effect on tables ------------------------------


def test_permission_trigger_and_text_changes_are_notes_that_change_no_table(db_url: str, tmp_path: Path) -> None:
    before = base()
    before["triggers"] = [
        {"id": "remind", "on": "stage_entered", "stage": "work", "after": "2d", "do": [{"comment": "Напомнить"}]},
        {"id": "cleanup", "on": "created", "do": [{"comment": "Создано"}]},
    ]
    start(db_url, tmp_path, before, items=[{"code": "A-1"}])
    changed = base()
    changed["title"] = {"ru": "Сделка", "en": "Deal (B2B)"}
    changed["permissions"] = {"manager": {"read": "all", "update": "own", "move": "own", "stages": ["work", "won"]},
                              "administrator": "all"}
    changed["triggers"] = [
        {"id": "remind", "on": "stage_entered", "stage": "work", "after": "3d", "do": [{"comment": "Напомнить"}]},
        {"id": "welcome", "on": "created", "do": [{"notify": {"users": ["assigned_to"], "message": "{{ title }}"}}]},
    ]
    changed["pipelines"]["main"]["transitions"] = [{"from": "new", "to": "work"}, {"from": "work", "to": "won"},
                                                   {"from": "*", "to": "lost"}]
    changed["pipelines"]["main"]["title"] = "Основная"
    changed["pipelines"]["main"]["stages"]["won"]["title"] = "Выиграна"
    changed["pipelines"]["main"]["stages"]["work"]["required"] = ["code"]
    changed["features"] = {"links": True, "recycle_bin": True}
    data = snapshot(db_url)
    result = apply_as_planned(db_url, desired(tmp_path, changed), "notes_only")
    assert {op.kind for op in result.changes} == {"note"}
    after = snapshot(db_url)
    assert {k: v for k, v in after.items() if k != "sf_versions"} == {k: v for k, v in data.items()
                                                                       if k != "sf_versions"}
    assert len(after["sf_versions"]["rows"]) == 2


def test_every_change_of_the_definitions_is_planned(db_url: str, tmp_path: Path) -> None:
    """A change with no effect on tables still makes a version: the deployed definitions are what runs."""
    start(db_url, tmp_path)

    def stages(d: dict[str, Any]) -> dict[str, Any]:
        return d["pipelines"]["main"]["stages"]

    edits = {
        "stage title": lambda d: stages(d)["won"].update(title="Выиграна"),
        "stage color": lambda d: stages(d)["won"].update(color="#00aa00"),
        "stage required fields": lambda d: stages(d)["work"].update(required=["code"]),
        "stage description": lambda d: stages(d)["work"].update(description="Идёт работа"),
        "pipeline title": lambda d: d["pipelines"]["main"].update(title="Основная"),
        "links feature": lambda d: d.update(features={"links": True}),
        "recycle bin": lambda d: d.update(features={"recycle_bin": True}),
        "option title": lambda d: d["fields"]["kind"]["options"][0].update(title="Розничная"),
        "field title": lambda d: d["fields"]["code"].update(title="Код"),
        "field limits": lambda d: d["fields"]["code"].update(max_length=20),
        "description": lambda d: d.update(description="Сделки с клиентами"),
        "list columns": lambda d: d.update(list={"columns": ["code"]}),
    }
    unplanned = []
    for name, edit in edits.items():
        document = base()
        edit(document)
        result = deploy.plan(desired(tmp_path, document), db_url)
        if result.empty or [op.kind for op in result.changes] != ["note"]:
            unplanned.append(name)
    assert unplanned == []
