"""Hidden fields (`hidden_fields` in a role's rights): what a user whose roles hide a field reads and may do.

`vacancy` keeps a salary (money), a passport number, an internal note, a start date, a grade with a
default, an employer link and tags hidden from `recruiter`; `hr_head` sees everything; `reader` reads
everything without hiding anything; `applicant_desk` creates but may not read (so it does not count
when deciding what is hidden); `intake` may only create, and hides the salary. `candidate` links to a
vacancy twice, once through a link field hidden from the recruiter. Users: `rec` (recruiter), `head`
(hr_head), `mixed` (recruiter + reader: sees everything), `desk` (recruiter + applicant_desk: sees what a
recruiter sees), `intake`.

The Python API (Engine) first, then the CLI (`item show`, `item list`, `item history`, `kanban`, writes).
Export, import and report are in tests/data/test_hidden_fields_data.py.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from smartflow import Engine
from smartflow.cli.main import EXIT_DENIED, EXIT_MOVE_REFUSED
from smartflow.errors import NotFound, PermissionDenied, TransitionNotAllowed
from tests.data.support import invoke
from tests.runtime.support import Db, module_url

__all__ = ["module_url"]  # the fixture, imported for pytest

ROLES: dict[str, Any] = {"kind": "Roles", "roles": {
    "recruiter": {"title": {"ru": "Рекрутер", "en": "Recruiter"}},
    "hr_head": {"title": {"ru": "Руководитель HR", "en": "Head of HR"}},
    "reader": {"title": {"ru": "Читатель", "en": "Reader"}},
    "applicant_desk": {"title": {"ru": "Приём заявок", "en": "Applications desk"}},
    "intake": {"title": {"ru": "Анкета", "en": "Intake form"}},
}}

COMPANY: dict[str, Any] = {
    "kind": "Process", "id": "company", "title": {"ru": "Компания", "en": "Company"},
    "fields": {"city": {"type": "string", "title": {"ru": "Город", "en": "City"}}},
    "pipelines": {"main": {"title": {"ru": "Основная", "en": "Main"}, "default": True, "stages": {
        "active": {"title": {"ru": "Активна", "en": "Active"}},
        "gone": {"title": {"ru": "Закрыта", "en": "Gone"}, "semantic": "failure"}}}},
    "permissions": {"recruiter": {"read": "all"}, "hr_head": "all", "reader": {"read": "all"}},
}

# what a recruiter may not see, in the order of the fields
HIDDEN = ("salary", "passport", "secret", "start_on", "grade", "employer", "tags")

VACANCY: dict[str, Any] = {
    "kind": "Process", "id": "vacancy", "title": {"ru": "Вакансия", "en": "Vacancy"},
    "fields": {
        "salary": {"type": "money", "currency": "RUB", "min": 0, "title": {"ru": "Оклад", "en": "Salary"}},
        "passport": {"type": "string", "title": {"ru": "Паспорт", "en": "Passport"}},
        "notes": {"type": "text", "title": {"ru": "Заметки", "en": "Notes"}},
        "secret": {"type": "text", "title": {"ru": "Служебная заметка", "en": "Internal note"}},
        "interview_on": {"type": "date", "title": {"ru": "Дата собеседования", "en": "Interview on"}},
        "start_on": {"type": "date", "title": {"ru": "Дата выхода", "en": "Starts on"}},
        "grade": {"type": "integer", "default": 3, "title": {"ru": "Грейд", "en": "Grade"}},
        "company": {"type": "link", "to": "company", "title": {"ru": "Компания", "en": "Company"}},
        "employer": {"type": "link", "to": "company", "title": {"ru": "Работодатель", "en": "Employer"}},
        "tags": {"type": "string", "multiple": True, "title": {"ru": "Метки", "en": "Tags"}},
    },
    "pipelines": {"main": {"title": {"ru": "Подбор", "en": "Hiring"}, "default": True, "stages": {
        "new": {"title": {"ru": "Новая", "en": "New"}},
        "screening": {"title": {"ru": "Отбор", "en": "Screening"}},
        "offer": {"title": {"ru": "Оффер", "en": "Offer"}, "required": ["salary"]},
        "hired": {"title": {"ru": "Нанят", "en": "Hired"}, "semantic": "success"},
        "closed": {"title": {"ru": "Закрыта", "en": "Closed"}, "semantic": "failure"}},
        "transitions": [
            {"from": "new", "to": "screening", "when": "salary > 100000"},
            {"from": "screening", "to": "offer", "when": "passport and interview_on"},
            {"from": "offer", "to": "hired"},
            {"from": "*", "to": "closed"},
            {"from": "closed", "to": "new"}]}},
    "list": {"columns": ["title", "stage", "salary", "passport", "interview_on"], "sort": "salary:desc",
             "presets": [{"id": "well_paid", "title": {"ru": "Высокий оклад", "en": "Well paid"},
                          "where": ["salary >= 100000"]},
                         {"id": "interviews", "title": {"ru": "Собеседования", "en": "Interviews"},
                          "where": ["interview_on is not empty"]}]},
    "card": {"sections": [
        {"id": "terms", "title": {"ru": "Условия", "en": "Terms"}, "fields": ["salary", "grade", "interview_on"]},
        {"id": "person", "title": {"ru": "Кандидат", "en": "Person"}, "fields": ["passport", "notes", "secret"]}]},
    "permissions": {
        "recruiter": {"read": "all", "create": "all", "update": "all", "move": "all", "export": "all",
                      "import": "all", "hidden_fields": list(HIDDEN)},
        "hr_head": "all",
        "reader": {"read": "all", "export": "all"},
        "applicant_desk": {"read": "none", "create": "all"},
        "intake": {"read": "none", "create": "all", "hidden_fields": ["salary"]},
    },
}

CANDIDATE: dict[str, Any] = {
    "kind": "Process", "id": "candidate", "title": {"ru": "Кандидат", "en": "Candidate"},
    "fields": {
        "applied_to": {"type": "link", "to": "vacancy", "title": {"ru": "Вакансия", "en": "Vacancy"}},
        "offer_for": {"type": "link", "to": "vacancy", "title": {"ru": "Оффер по вакансии", "en": "Offer for"}},
    },
    "pipelines": {"main": {"title": {"ru": "Основная", "en": "Main"}, "default": True, "stages": {
        "new": {"title": {"ru": "Новый", "en": "New"}},
        "hired": {"title": {"ru": "Принят", "en": "Hired"}, "semantic": "success"}}}},
    "permissions": {"recruiter": {"read": "all", "create": "all", "hidden_fields": ["offer_for"]},
                    "hr_head": "all"},
}

DOCUMENTS = (ROLES, COMPANY, VACANCY, CANDIDATE)
USERS = (("rec", "Рита Рекрутова", ("recruiter",)), ("head", "Глеб Главный", ("hr_head",)),
         ("mixed", "Мира Смешанная", ("recruiter", "reader")),
         ("desk", "Дина Столова", ("recruiter", "applicant_desk")), ("intake", "Инна Анкетова", ("intake",)))
HINT = "ask for a role that may see it (`hidden_fields`)"


def refused(doing: str, field: str) -> str:
    return f"you may not {doing} field `{field}` of vacancy: your roles hide it"


class Hiring(Db):
    ids: dict[str, int]

    def add_vacancy(self, title: str, stage: str | None = None, **values: Any) -> int:
        """A vacancy made by the local administrator from values typed as on a command line."""
        return self.admin.create("vacancy", {"title": title, **values}, stage=stage, typed_text=True)


def setup_people_and_items(db: Hiring) -> None:
    admin = db.admin
    for login, name, roles in USERS:
        admin.add_user(login, name, list(roles))
    romashka = admin.create("company", {"title": "ООО «Ромашка»", "city": "Казань"})
    taina = admin.create("company", {"title": "АО «Тайна»", "city": "Москва"})
    db.ids = {"romashka": romashka, "taina": taina}
    # java is created first, python pays more: by salary (desc) python comes first, by id java does
    db.ids["java"] = db.add_vacancy(
        "Java-разработчик", salary="150000", passport="4500 123456", notes="ищем сеньора в Казани",
        secret="переманиваем конкурента", interview_on="2020-01-10", start_on="2020-02-01",
        company=str(romashka), employer=str(taina), tags="vip, срочно")
    db.ids["python"] = db.add_vacancy("Python-разработчик", salary="250000", notes="удалённо")
    db.ids["tester"] = db.add_vacancy("Тестировщик", salary="50000", passport="4000 000001")
    db.ids["screened"] = db.add_vacancy("Аналитик", stage="screening", salary="120000", passport="4000 777777")
    db.ids["applicant"] = admin.create("candidate", {"title": "Иван Кандидатов", "applied_to": db.ids["java"],
                                                     "offer_for": db.ids["java"]})


@pytest.fixture(scope="module")
def db(module_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hiring]:
    hiring = Hiring(module_url, tmp_path_factory.mktemp("defs"), *DOCUMENTS)
    setup_people_and_items(hiring)
    yield hiring
    hiring.close()


def as_(db: Db, login: str) -> Engine:
    return db.as_user(login)


def counts(db: Db) -> tuple[int, int]:
    """Vacancies and their history rows, straight from SQL."""
    return db.count("p_vacancy"), db.count("sf_history", "process = 'vacancy'")


# ---- who does not see what ------------------------------------------------------------------------


def test_which_fields_are_hidden_from_whom(db: Hiring) -> None:
    assert as_(db, "rec").hidden_fields("vacancy") == frozenset(HIDDEN)
    assert as_(db, "rec").hidden_fields("candidate") == frozenset({"offer_for"})
    assert as_(db, "rec").hidden_fields("company") == frozenset()
    assert as_(db, "head").hidden_fields("vacancy") == frozenset()
    assert db.admin.hidden_fields("vacancy") == frozenset()
    # a second role that reads the process without hiding: the highest access wins
    assert as_(db, "mixed").hidden_fields("vacancy") == frozenset()
    # a second role that may not read the process does not make anything visible
    assert as_(db, "desk").hidden_fields("vacancy") == frozenset(HIDDEN)


# ---- reading: get, card, links, history -----------------------------------------------------------


def test_get_leaves_out_the_hidden_fields(db: Hiring) -> None:
    java = db.ids["java"]
    everything = db.admin.get("vacancy", java)
    assert everything["salary"] == {"amount": Decimal("150000.00"), "currency": "RUB"}
    assert everything["tags"] == ["vip", "срочно"]
    for login in ("rec", "desk"):
        seen = as_(db, login).get("vacancy", java)
        assert set(seen) == set(everything) - set(HIDDEN), login
        assert seen == {k: v for k, v in everything.items() if k not in HIDDEN}
        assert (seen["notes"], seen["interview_on"], seen["company"]) == (
            "ищем сеньора в Казани", date(2020, 1, 10), db.ids["romashka"])
    for login in ("head", "mixed"):
        assert as_(db, login).get("vacancy", java) == everything, login


def test_the_card_leaves_out_hidden_values_and_links(db: Hiring) -> None:
    java = db.ids["java"]
    card = as_(db, "rec").card("vacancy", java)
    assert not set(HIDDEN) & set(card["item"])
    assert card["links"] == {
        "out": [{"field": "company", "process": "company", "id": db.ids["romashka"], "title": "ООО «Ромашка»"}],
        "in": [{"field": "applied_to", "process": "candidate", "id": db.ids["applicant"],
                "title": "Иван Кандидатов", "stage": "new"}]}
    full = as_(db, "head").card("vacancy", java)["links"]
    assert sorted(link["field"] for link in full["out"]) == ["company", "employer"]
    assert sorted(link["field"] for link in full["in"]) == ["applied_to", "offer_for"]
    assert as_(db, "mixed").card("vacancy", java)["links"]["out"] == full["out"]


def test_a_company_card_does_not_show_it_is_linked_through_a_hidden_field(db: Hiring) -> None:
    taina = db.ids["taina"]
    assert as_(db, "rec").card("company", taina)["links"]["in"] == []
    assert as_(db, "head").card("company", taina)["links"]["in"] == [
        {"field": "employer", "process": "vacancy", "id": db.ids["java"], "title": "Java-разработчик",
         "stage": "new"}]


def test_history_drops_hidden_changes_and_strips_the_create_snapshot(db: Hiring) -> None:
    item = db.add_vacancy("Go-разработчик", salary="300000", passport="4100 111111", notes="гибрид")
    db.admin.update("vacancy", item, {"salary": "310000"}, typed_text=True)
    db.admin.update("vacancy", item, {"notes": "офис"})
    db.admin.update("vacancy", item, {"tags": "a"}, typed_text=True)
    full = db.admin.history("vacancy", item)
    assert [(h["kind"], h["field"]) for h in full] == [
        ("create", None), ("update", "salary"), ("update", "notes"), ("update", "tags")]
    assert set(full[0]["new"]) == {"title", "salary", "passport", "notes", "grade", "pipeline", "stage"}
    for login in ("rec", "desk"):
        seen = as_(db, login).history("vacancy", item)
        assert [(h["kind"], h["field"], h["old"], h["new"]) for h in seen] == [
            ("create", None, None, {"title": "Go-разработчик", "notes": "гибрид", "pipeline": "main",
                                    "stage": "new"}),
            ("update", "notes", "гибрид", "офис")], login
        card = as_(db, login).card("vacancy", item)["history"]
        assert [(h["kind"], h["field"]) for h in card] == [("create", None), ("update", "notes")]
    assert as_(db, "mixed").history("vacancy", item) == full


def test_the_card_shows_the_latest_rows_the_user_may_see(db: Hiring) -> None:
    item = db.add_vacancy("Rust-разработчик", salary="200000")
    db.admin.update("vacancy", item, {"notes": "первая заметка"})
    for amount in ("210000", "220000", "230000"):
        db.admin.update("vacancy", item, {"salary": amount}, typed_text=True)
    card = as_(db, "rec").card("vacancy", item, history_limit=2)
    assert [(h["kind"], h["field"]) for h in card["history"]] == [("create", None), ("update", "notes")]


# ---- the list view and counts ----------------------------------------------------------------------


def test_list_rows_leave_out_the_hidden_fields(db: Hiring) -> None:
    everything = {row["id"]: row for row in db.admin.list("vacancy", limit=1000)}
    rows = as_(db, "rec").list("vacancy", limit=1000)
    assert {row["id"] for row in rows} == set(everything)
    for row in rows:
        assert row == {k: v for k, v in everything[row["id"]].items() if k not in HIDDEN}
    java = next(row for row in rows if row["id"] == db.ids["java"])
    assert java["notes"] == "ищем сеньора в Казани"
    mixed = {row["id"]: row for row in as_(db, "mixed").list("vacancy", limit=1000)}
    assert mixed == everything


@pytest.mark.parametrize("columns", [("title", "salary"), ("passport",), ("tags", "title"), ("employer",)])
def test_list_columns_naming_a_hidden_field_are_refused(db: Hiring, columns: tuple[str, ...]) -> None:
    with pytest.raises(PermissionDenied) as denied:
        as_(db, "rec").list("vacancy", columns=columns)
    assert str(denied.value) == refused("see", next(c for c in columns if c in HIDDEN))
    assert denied.value.hint == HINT
    shown = as_(db, "mixed").list("vacancy", columns=columns, limit=1000)
    assert {tuple(sorted(row)) for row in shown} == {tuple(sorted({"id", *columns}))}


def test_list_columns_the_user_may_see(db: Hiring) -> None:
    rows = as_(db, "rec").list("vacancy", columns=("title", "notes"), sort="title:desc", limit=1000)
    assert len(rows) >= 4
    assert [set(row) for row in rows] == [{"id", "title", "notes"}] * len(rows)
    assert [row["title"] for row in rows] == sorted((row["title"] for row in rows), reverse=True)


@pytest.mark.parametrize("where", ["salary > 5", "passport = 4500 123456", "secret contains конкурент",
                                   "grade is empty", "start_on < 2030-01-01", "employer = 2",
                                   "tags is not empty", "tags contains vip"])
def test_filters_on_a_hidden_field_are_refused_in_lists_and_counts(db: Hiring, where: str) -> None:
    field = where.split()[0]
    rec = as_(db, "rec")
    for call in (lambda: rec.list("vacancy", where=[where]), lambda: rec.count("vacancy", [where]),
                 lambda: rec.list("vacancy", where=["notes is not empty", where])):
        with pytest.raises(PermissionDenied) as denied:
            call()
        assert str(denied.value) == refused("filter on", field)
    assert as_(db, "mixed").count("vacancy", [where]) == db.admin.count("vacancy", [where])


def test_filters_on_visible_fields_still_work_for_the_recruiter(db: Hiring) -> None:
    rec = as_(db, "rec")
    found = rec.list("vacancy", where=["notes contains Казан", "interview_on < 2021-01-01"])
    assert [row["id"] for row in found] == [db.ids["java"]]
    assert rec.count("vacancy", ["company = " + str(db.ids["romashka"])]) == 1


def test_the_money_of_the_hidden_field_does_not_order_the_list(db: Hiring) -> None:
    rec, head = as_(db, "rec"), as_(db, "head")
    for sort in ("salary", "salary:desc"):
        with pytest.raises(PermissionDenied) as denied:
            rec.list("vacancy", sort=sort)
        assert str(denied.value) == refused("sort by", "salary")
    with pytest.raises(PermissionDenied) as denied:
        rec.list("vacancy", sort="grade")
    assert str(denied.value) == refused("sort by", "grade")
    # the list view's own order names the salary: the recruiter's list is ordered by id instead
    ids = [row["id"] for row in rec.list("vacancy", limit=1000)]
    assert ids == sorted(ids)
    by_salary = [row["id"] for row in head.list("vacancy", limit=1000)]
    assert by_salary.index(db.ids["python"]) < by_salary.index(db.ids["java"])  # 250 000 before 150 000
    assert by_salary != sorted(by_salary)
    assert [row["id"] for row in as_(db, "mixed").list("vacancy", limit=1000)] == by_salary


def test_pages_of_the_recruiters_list_follow_the_ids(db: Hiring) -> None:
    rec = as_(db, "rec")
    everything = [row["id"] for row in rec.list("vacancy", limit=1000)]
    pages: list[int] = []
    after = None
    while True:
        page = rec.list("vacancy", limit=2, after=after)
        pages += [row["id"] for row in page]
        if len(page) < 2:
            break
        after = page[-1]["id"]
    assert pages == everything and len(everything) >= 4


@pytest.mark.parametrize("word", ["конкурент", "4500 1234"])  # only in the hidden `secret`, `passport`
def test_search_does_not_look_inside_hidden_fields(db: Hiring, word: str) -> None:
    assert as_(db, "rec").list("vacancy", search=word) == []
    assert as_(db, "desk").list("vacancy", search=word) == []
    assert [row["id"] for row in as_(db, "head").list("vacancy", search=word)] == [db.ids["java"]]
    assert [row["id"] for row in as_(db, "mixed").list("vacancy", search=word)] == [db.ids["java"]]


def test_search_still_finds_words_of_visible_fields(db: Hiring) -> None:
    assert [row["id"] for row in as_(db, "rec").list("vacancy", search="сеньора")] == [db.ids["java"]]
    assert [row["id"] for row in as_(db, "rec").list("vacancy", search="УДАЛЁННО")] == [db.ids["python"]]


# ---- writing ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("values", "field"), [
    ({"salary": "100000"}, "salary"),
    ({"notes": "ok", "passport": "4500 000000"}, "passport"),
    ({"secret": ""}, "secret"),  # even an empty value: the field may not be named
    ({"tags": "a, b"}, "tags"),
    ({"grade": "5"}, "grade"),
    ({"employer": "1"}, "employer"),
])
def test_create_with_a_hidden_field_is_refused_and_writes_nothing(db: Hiring, values: dict[str, str],
                                                                  field: str) -> None:
    before = counts(db)
    for login in ("rec", "desk"):
        with pytest.raises(PermissionDenied) as denied:
            as_(db, login).create("vacancy", {"title": "Скрытая", **values}, typed_text=True)
        assert str(denied.value) == refused("set", field)
        assert denied.value.hint == HINT
    assert counts(db) == before


def test_create_with_a_python_value_of_a_hidden_field_is_refused(db: Hiring) -> None:
    before = counts(db)
    with pytest.raises(PermissionDenied) as denied:
        as_(db, "rec").create("vacancy", {"title": "Скрытая", "salary": Decimal("1")})
    assert str(denied.value) == refused("set", "salary")
    assert counts(db) == before


def test_update_with_a_hidden_field_is_refused_and_changes_nothing(db: Hiring) -> None:
    tester = db.ids["tester"]
    row_before, before = db.row("vacancy", tester), counts(db)
    for values in ({"passport": "4000 999999"}, {"notes": "новая заметка", "salary": "1"}, {"tags": "x"},
                   {"employer": str(db.ids["romashka"])}):
        with pytest.raises(PermissionDenied) as denied:
            as_(db, "rec").update("vacancy", tester, values, typed_text=True)
        assert str(denied.value) == refused("set", next(k for k in values if k in HIDDEN))
    assert db.row("vacancy", tester) == row_before
    assert counts(db) == before
    assert db.count("p_vacancy__tags", "item_id = :i", i=tester) == 0


def test_the_recruiter_still_writes_visible_fields_and_defaults_fill_hidden_ones(db: Hiring) -> None:
    rec = as_(db, "rec")
    item = rec.create("vacancy", {"title": "Дизайнер", "notes": "портфолио"})
    raw = db.row("vacancy", item)
    assert raw is not None and raw["grade"] == 3  # the default of a field hidden from its author
    assert "grade" not in rec.get("vacancy", item)
    assert db.admin.get("vacancy", item)["grade"] == 3
    assert rec.update("vacancy", item, {"notes": "портфолио и тестовое"}) == {
        "notes": ("портфолио", "портфолио и тестовое")}
    created = rec.history("vacancy", item)[0]["new"]
    assert "grade" not in created
    assert db.admin.history("vacancy", item)[0]["new"]["grade"] == 3


def test_a_user_with_a_role_that_sees_everything_sets_filters_and_sorts_hidden_fields(db: Hiring) -> None:
    mixed = as_(db, "mixed")
    item = mixed.create("vacancy", {"title": "Архитектор", "salary": "400000", "passport": "4500 400000"},
                        typed_text=True)
    mixed.update("vacancy", item, {"secret": "бюджет согласован"})
    assert mixed.get("vacancy", item)["salary"]["amount"] == Decimal("400000.00")
    assert [row["id"] for row in mixed.list("vacancy", where=["salary >= 400000"])] == [item]
    assert mixed.list("vacancy", sort="salary:desc", limit=1)[0]["id"] == item
    assert [row["id"] for row in mixed.list("vacancy", search="согласован")] == [item]


def test_a_role_that_may_not_read_does_not_unhide_a_field(db: Hiring) -> None:
    desk = as_(db, "desk")
    with pytest.raises(PermissionDenied):
        desk.list("vacancy", where=["salary > 0"])
    with pytest.raises(PermissionDenied):
        desk.list("vacancy", sort="salary")
    assert "salary" not in desk.get("vacancy", db.ids["java"])


def test_a_create_only_role_may_not_set_the_fields_it_hides(db: Hiring) -> None:
    before = counts(db)
    intake = as_(db, "intake")
    assert intake.hidden_fields("vacancy") == frozenset({"salary"})
    with pytest.raises(PermissionDenied) as denied:
        intake.create("vacancy", {"title": "Из анкеты", "salary": "1000000"}, typed_text=True)
    assert str(denied.value) == refused("set", "salary")
    assert counts(db) == before


# ---- moves: explain and the conditions on hidden values ---------------------------------------------


def test_explain_shows_a_hidden_value_as_hidden(db: Hiring) -> None:
    tester = db.ids["tester"]  # salary 50 000: the condition `salary > 100000` is false
    message = "the transition `new` → `screening`: the condition `salary > 100000` is false ({})"
    assert as_(db, "rec").explain("vacancy", tester, "screening") == [message.format("salary = hidden")]
    assert as_(db, "desk").explain("vacancy", tester, "screening") == [message.format("salary = hidden")]
    assert as_(db, "head").explain("vacancy", tester, "screening") == [message.format("salary = 50000.00")]
    assert as_(db, "mixed").explain("vacancy", tester, "screening") == [message.format("salary = 50000.00")]


def test_explain_shows_hidden_and_visible_values_side_by_side(db: Hiring) -> None:
    screened = db.ids["screened"]  # passport given, no interview date
    message = "the transition `screening` → `offer`: the condition `passport and interview_on` is false ({})"
    assert as_(db, "rec").explain("vacancy", screened, "offer") == [
        message.format("interview_on = empty, passport = hidden")]
    assert db.admin.explain("vacancy", screened, "offer") == [
        message.format("interview_on = empty, passport = '4000 777777'")]


def test_a_refused_move_does_not_tell_the_hidden_value(db: Hiring) -> None:
    tester = db.ids["tester"]
    with pytest.raises(TransitionNotAllowed) as refused_move:
        as_(db, "rec").move("vacancy", tester, "screening")
    assert str(refused_move.value) == (
        f"vacancy {tester} cannot move from `new` to `screening`: the transition `new` → `screening`: "
        "the condition `salary > 100000` is false (salary = hidden)")
    assert "50000" not in str(refused_move.value)
    assert db.admin.get("vacancy", tester)["stage"] == "new"


def test_a_condition_on_a_hidden_value_still_holds_for_the_recruiter(db: Hiring) -> None:
    item = db.add_vacancy("DevOps", salary="180000")
    rec = as_(db, "rec")
    assert rec.explain("vacancy", item, "screening") == []
    assert rec.move("vacancy", item, "screening")["to"] == "screening"
    assert db.admin.get("vacancy", item)["stage"] == "screening"


# ---- kanban --------------------------------------------------------------------------------------------


def test_kanban_leaves_out_the_sums_of_a_hidden_money_field(db: Hiring) -> None:
    full = db.admin.kanban("vacancy", top=50)
    assert full["money_field"] == "salary"
    new = next(c for c in full["columns"] if c["stage"] == "new")
    assert set(new["sums"]) == {"RUB"} and new["sums"]["RUB"] >= Decimal("450000.00")
    assert {card["id"]: card["amount"] for card in new["cards"]}[db.ids["java"]] == Decimal("150000.00")
    for login in ("rec", "desk"):
        board = as_(db, login).kanban("vacancy", top=50)
        assert board["money_field"] is None
        assert [(c["stage"], c["count"]) for c in board["columns"]] == [
            (c["stage"], c["count"]) for c in full["columns"]]
        assert all(c["sums"] == {} for c in board["columns"])
        assert all(card["amount"] is None for c in board["columns"] for card in c["cards"])
    assert as_(db, "mixed").kanban("vacancy", top=50) == full


# ---- the CLI ---------------------------------------------------------------------------------------------

HIDDEN_LABELS = ("Оклад", "Паспорт", "Служебная заметка", "Дата выхода", "Грейд", "Работодатель", "Метки")
HIDDEN_VALUES = ("150000", "150 000", "4500 123456", "переманиваем", "2020-02-01", "АО «Тайна»", "vip")


def test_item_show_does_not_print_hidden_fields_at_all(db: Hiring) -> None:
    java = str(db.ids["java"])
    shown = invoke(db.url, "item", "show", "vacancy", java, "--lang", "ru", as_user="rec")
    assert shown.exit_code == 0, shown.output
    assert "  [Условия]\n  Дата собеседования: 2020-01-10\n" in shown.stdout
    assert "  [Кандидат]\n  Заметки: ищем сеньора в Казани\n" in shown.stdout
    assert "    company #" in shown.stdout and "(via employer)" not in shown.stdout
    for text in (*HIDDEN_LABELS, *HIDDEN_VALUES):
        assert text not in shown.stdout, text
    full = invoke(db.url, "item", "show", "vacancy", java, "--lang", "ru", as_user="head")
    assert "  Оклад: 150000.00 RUB\n  Грейд: 3\n" in full.stdout
    for text in ("Паспорт: 4500 123456", "Служебная заметка: переманиваем конкурента", "(via employer)"):
        assert text in full.stdout
    as_json = json.loads(invoke(db.url, "item", "show", "vacancy", java, "--format", "json", as_user="rec").stdout)
    assert not set(HIDDEN) & set(as_json)
    assert as_json["notes"] == "ищем сеньора в Казани"


def test_item_list_default_columns_drop_hidden_ones(db: Hiring) -> None:
    listed = invoke(db.url, "item", "list", "vacancy", "--lang", "ru", "--format", "csv", as_user="rec")
    assert listed.exit_code == 0, listed.output
    lines = listed.stdout.splitlines()
    assert lines[0] == "id,title,stage,Дата собеседования"
    assert lines[1] == f"{db.ids['java']},Java-разработчик,Новая,2020-01-10"  # by id: the list sort is hidden
    ids = [int(line.split(",")[0]) for line in lines[1:]]
    assert ids == sorted(ids)
    full = invoke(db.url, "item", "list", "vacancy", "--lang", "ru", "--format", "csv", as_user="head")
    full_lines = full.stdout.splitlines()
    assert full_lines[0] == "id,title,stage,Оклад,Паспорт,Дата собеседования"
    assert f"{db.ids['java']},Java-разработчик,Новая,150000.00 RUB,4500 123456,2020-01-10" in full_lines
    by_salary = [int(line.split(",")[0]) for line in full_lines[1:]]
    assert by_salary.index(db.ids["python"]) < by_salary.index(db.ids["java"])  # the list view's order


@pytest.mark.parametrize(("args", "message"), [
    (("item", "list", "vacancy", "--columns", "title,salary"), refused("see", "salary")),
    (("item", "list", "vacancy", "--where", "passport is not empty"), refused("filter on", "passport")),
    (("item", "list", "vacancy", "--sort", "salary:desc"), refused("sort by", "salary")),
    (("item", "create", "vacancy", "--set", "title=Скрытая", "--set", "salary=1"), refused("set", "salary")),
    (("item", "update", "vacancy", "JAVA", "--set", "grade=7"), refused("set", "grade")),
])
def test_cli_refuses_hidden_fields_with_one_message(db: Hiring, args: tuple[str, ...], message: str) -> None:
    args = tuple(str(db.ids["java"]) if arg == "JAVA" else arg for arg in args)
    before = counts(db)
    result = invoke(db.url, *args, as_user="rec")
    assert (result.exit_code, result.stdout, result.stderr) == (EXIT_DENIED, "", f"error: {message}\n  hint: {HINT}\n")
    assert counts(db) == before
    assert invoke(db.url, *args, as_user="mixed").exit_code == 0


def test_cli_search_and_history_leave_hidden_values_out(db: Hiring) -> None:
    searched = invoke(db.url, "item", "list", "vacancy", "--search", "переманиваем", "--format", "json", as_user="rec")
    assert (searched.exit_code, json.loads(searched.stdout)) == (0, [])
    item = db.add_vacancy("Scala-разработчик", salary="260000", notes="скала")
    db.admin.update("vacancy", item, {"salary": "270000"}, typed_text=True)
    history = invoke(db.url, "item", "history", "vacancy", str(item), as_user="rec")
    assert history.exit_code == 0
    lines = history.stdout.splitlines()
    assert len(lines) == 3 and "local administrator  create in stage new (1 fields set)  api" in lines[2]
    assert "salary" not in history.stdout and "270000" not in history.stdout
    full = invoke(db.url, "item", "history", "vacancy", str(item), as_user="head").stdout
    assert "create in stage new (3 fields set)" in full and "update salary: 260000.00 RUB → 270000" in full
    as_json = json.loads(invoke(db.url, "item", "history", "vacancy", str(item), "--format", "json",
                                as_user="rec").stdout)
    assert [(row["kind"], row["new"]) for row in as_json] == [
        ("create", {"title": "Scala-разработчик", "notes": "скала", "pipeline": "main", "stage": "new"})]


def test_cli_explain_and_move_say_hidden(db: Hiring) -> None:
    tester = str(db.ids["tester"])
    explained = invoke(db.url, "item", "explain", "vacancy", tester, "--to", "screening", as_user="rec")
    assert "(salary = hidden)" in explained.stdout and "50000" not in explained.output
    moved = invoke(db.url, "item", "move", "vacancy", tester, "screening", as_user="rec")
    assert moved.exit_code == EXIT_MOVE_REFUSED
    assert "(salary = hidden)" in moved.stderr and "50000" not in moved.output


def test_cli_kanban_prints_no_money_for_a_hidden_money_field(db: Hiring) -> None:
    board = invoke(db.url, "kanban", "vacancy", "--width", "160", as_user="rec")
    assert board.exit_code == 0
    assert "RUB" not in board.stdout and "Java-разработчик" in board.stdout
    assert "RUB" in invoke(db.url, "kanban", "vacancy", "--width", "160", as_user="head").stdout
    as_csv = invoke(db.url, "kanban", "vacancy", "--format", "csv", as_user="rec").stdout.splitlines()
    assert as_csv[0] == "stage,title,count,sum"
    assert all(line.endswith(",") for line in as_csv[1:])  # every sum empty


def test_a_condition_that_fails_on_a_hidden_value_does_not_quote_it(tmp_path: Path) -> None:
    """A condition's evaluation error can quote the value it tripped on (Jinja: "has no attribute
    '4500 123456'"); when the condition names a hidden field the reason is given without it."""
    import copy

    vacancy = copy.deepcopy(VACANCY)
    # the vacancy created straight in `screening` (passport 4000 777777) must meet the condition too
    vacancy["pipelines"]["main"]["transitions"][0]["when"] = (
        "passport == '4000 777777' or {'4000 000001': 'known'}[passport] == 'known'")
    hiring = Hiring(f"sqlite:///{tmp_path / 'leak.db'}", tmp_path / "defs", ROLES, COMPANY, vacancy, CANDIDATE)
    try:
        setup_people_and_items(hiring)
        seen = " ".join(hiring.as_user("rec").explain("vacancy", hiring.ids["java"], "screening"))
        assert "passport = hidden; it could not be evaluated" in seen
        assert "4500" not in seen
        assert "4500 123456" in " ".join(hiring.as_user("head").explain("vacancy", hiring.ids["java"], "screening"))
    finally:
        hiring.close()


def test_a_trigger_condition_failing_on_a_hidden_value_does_not_quote_it(tmp_path: Path) -> None:
    import copy

    from smartflow.errors import AutomationFailed

    vacancy = copy.deepcopy(VACANCY)
    vacancy["triggers"] = [{"id": "check_passport", "on": "updated", "when": "{'4000 000001': 1}[passport] == 1",
                            "do": [{"comment": "паспорт проверен"}]}]
    hiring = Hiring(f"sqlite:///{tmp_path / 'trigger.db'}", tmp_path / "defs", ROLES, COMPANY, vacancy, CANDIDATE)
    try:
        setup_people_and_items(hiring)
        with pytest.raises(AutomationFailed) as refused:
            hiring.as_user("rec").update("vacancy", hiring.ids["java"], {"notes": "созвон в пятницу"})
        assert str(refused.value) == ("trigger `vacancy.check_passport`: its condition failed: "
                                      "it uses a field hidden from you")
        with pytest.raises(AutomationFailed, match="4500 123456"):  # who may see the passport sees why
            hiring.as_user("head").update("vacancy", hiring.ids["java"], {"notes": "созвон в пятницу"})
    finally:
        hiring.close()


def test_a_preset_naming_a_hidden_field_is_not_offered(db: Hiring) -> None:
    """A shared preset filtering on the salary would tell a recruiter who earns what: it is not theirs."""
    assert [p["id"] for p in db.admin.as_user("head").presets("vacancy")["shared"]] == ["well_paid", "interviews"]
    recruiter = db.admin.as_user("rec")
    assert [p["id"] for p in recruiter.presets("vacancy")["shared"]] == ["interviews"]
    assert [p["id"] for p in recruiter.describe("vacancy")["presets"]] == ["interviews"]
    with pytest.raises(NotFound):
        recruiter.preset_filter("vacancy", "well_paid")
    assert recruiter.preset_filter("vacancy", "interviews") == (["interview_on is not empty"], None)
