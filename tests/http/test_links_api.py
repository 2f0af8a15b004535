"""Links, people, observers and the recycle bin through the API and the CLI, on the clinic example:
the pickers' lookups never offer an item the caller may not read, a user field's `roles` is refused on
every path (API, CLI, import, automation), observers read what they observe and are added and removed,
linked items' titles come with one query per linked process (never one per row), and the recycle bin
lists what the caller may restore."""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from smartflow.errors import AutomationFailed, InvalidValue
from smartflow.http.app import create_app
from smartflow.services import Engine
from smartflow.services import deploy as deploying
from smartflow.services.data import ExportOptions, ImportOptions
from tests.dbutil import statements
from tests.runtime.support import invoke, module_url

__all__ = ["module_url"]
pytestmark = pytest.mark.db
ROOT = Path(__file__).resolve().parents[2]
USERS = [("sokolova", "Ольга Соколова", ["registrar"], ["patient", "appointment"]),
         ("lebedev", "Михаил Лебедев", ["doctor"], ["patient", "appointment"]),
         ("morozova", "Елена Морозова", ["doctor"], ["patient", "appointment"]),
         ("gp", "Терапевт без приёмов", ["doctor"], ["patient"]),  # a doctor of patients only
         ("boss", "Boss", ["administrator"], [])]


class Clinic:
    def __init__(self, url: str) -> None:
        self.url = url
        deploying.apply([ROOT / "processes"], url)
        self.admin = Engine(url)
        for login, name, roles, processes in USERS:
            self.admin.add_user(login, name, roles, None, processes)
        for process, sample in (("patient", "patients.csv"), ("appointment", "appointments.csv")):
            result = self.admin.import_file(process, ROOT / "examples" / "clinic" / sample, ImportOptions())
            assert result.created, result.problems
        self.tokens = {login: self.admin.create_token(login) for login, *_ in USERS}
        self.client = TestClient(create_app(engine=self.admin), raise_server_exceptions=False)
        self.ids = {u["login"]: u["id"] for u in self.admin.users()}

    def call(self, method: str, path: str, login: str, **kwargs: Any) -> Any:
        return self.client.request(method, "/api/v1" + path, headers={"Authorization": f"Bearer {self.tokens[login]}"},
                                   **kwargs)

    def patient(self, title: str) -> int:
        return next(int(p["id"]) for p in self.admin.list("patient", search=title) if p["title"] == title)

    def appointment(self, login: str = "sokolova", **values: Any) -> int:
        return self.admin.as_user(login).create("appointment", {
            "title": "Приём", "patient": self.patient("John Miller"), "doctor": "morozova",
            "scheduled_at": "2026-12-20T10:00", **values})


@pytest.fixture(scope="module")
def clinic(module_url: str) -> Iterator[Clinic]:
    found = Clinic(module_url)
    yield found
    found.client.close()
    found.admin.close()


# ---- pickers within rights -------------------------------------------------------------------


def test_the_link_lookup_finds_by_part_of_a_title_in_any_case(clinic: Clinic) -> None:
    found = clinic.call("GET", "/processes/patient/lookup", "sokolova", params={"search": "ИВАНОВА"}).json()["items"]
    assert {"id": clinic.patient("Иванова Мария Петровна"), "title": "Иванова Мария Петровна"} in found
    assert all("иванова" in item["title"].lower() for item in found)
    by_id = clinic.call("GET", "/processes/patient/lookup", "sokolova",
                        params={"search": f"#{clinic.patient('John Miller')}"}).json()["items"]
    assert {"id": clinic.patient("John Miller"), "title": "John Miller"} in by_id


def test_the_lookup_never_offers_an_item_the_caller_may_not_read(clinic: Clinic) -> None:
    """Doctors read their own appointments only: another doctor's never appears, by title or by id."""
    others = clinic.appointment(title="Чужой приём — секрет", doctor="morozova")
    mine = clinic.appointment(title="Свой приём — секрет", doctor="lebedev")
    seen = clinic.call("GET", "/processes/appointment/lookup", "lebedev", params={"search": "секрет"}).json()["items"]
    assert [item["id"] for item in seen] == [mine]
    assert clinic.call("GET", "/processes/appointment/lookup", "lebedev",
                       params={"search": str(others)}).json()["items"] == []
    assert others in [i["id"] for i in clinic.call("GET", "/processes/appointment/lookup", "sokolova",
                                                   params={"search": "секрет"}).json()["items"]]
    # a caller with no right in the process is told it does not exist, as by every other endpoint
    assert clinic.call("GET", "/processes/appointment/lookup", "gp").status_code == 404


def test_the_item_json_adds_linked_titles_beside_the_ids(clinic: Clinic) -> None:
    patient = clinic.patient("John Miller")
    item_id = clinic.appointment(doctor="lebedev")
    body = clinic.call("GET", f"/processes/appointment/items/{item_id}", "lebedev").json()
    assert body["patient"] == patient  # the id stays as it is, for scripts
    assert body["_titles"] == {"patient": "John Miller"}


def test_the_people_picker_of_a_field_with_roles_lists_those_roles_only(clinic: Clinic) -> None:
    doctors = clinic.call("GET", "/processes/appointment/people", "sokolova", params={"field": "doctor"}).json()
    assert sorted(u["login"] for u in doctors["users"]) == ["lebedev", "morozova"]  # not gp: no role here
    anyone = clinic.call("GET", "/processes/appointment/people", "sokolova").json()["users"]
    assert {"sokolova", "lebedev", "morozova", "boss"} <= {u["login"] for u in anyone}
    searched = clinic.call("GET", "/processes/appointment/people", "sokolova",
                           params={"field": "doctor", "search": "лебед"}).json()["users"]
    assert [u["login"] for u in searched] == ["lebedev"]
    assert clinic.call("GET", "/processes/appointment/people", "sokolova",
                       params={"field": "room"}).status_code == 422


# ---- roles of a user field, on every path ----------------------------------------------------


def test_a_user_without_the_fields_role_is_refused_by_the_api(clinic: Clinic) -> None:
    patient = clinic.patient("John Miller")
    refused = clinic.call("POST", "/processes/appointment/items", "sokolova", json={
        "title": "Регистратор как врач", "patient": patient, "doctor": "sokolova", "scheduled_at": "2026-12-20T10:00"})
    assert refused.status_code == 422
    assert "does not hold the role `doctor` in appointment" in refused.json()["message"]
    item_id = clinic.appointment()
    patched = clinic.call("PATCH", f"/processes/appointment/items/{item_id}", "sokolova", json={"doctor": "gp"})
    assert patched.status_code == 422 and "`gp` does not hold the role `doctor`" in patched.json()["message"]
    assert clinic.admin.get("appointment", item_id)["doctor"] == clinic.ids["morozova"]


def test_a_user_without_the_fields_role_is_refused_by_the_cli(clinic: Clinic) -> None:
    item_id = clinic.appointment()
    result = invoke(clinic.url, "item", "update", "appointment", str(item_id), "--set", "doctor=sokolova",
                    as_user="sokolova")
    assert result.exit_code != 0
    assert "user `sokolova` does not hold the role `doctor` in appointment" in result.output
    assert "smartflow user role add sokolova doctor --process appointment" in result.output
    assert invoke(clinic.url, "item", "update", "appointment", str(item_id), "--set", "doctor=lebedev",
                  as_user="sokolova").exit_code == 0


def test_a_user_without_the_fields_role_is_refused_by_an_import(clinic: Clinic, tmp_path: Path) -> None:
    sheet = tmp_path / "appointments.csv"
    with sheet.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["Title", "Patient", "Doctor", "Scheduled at"])
        writer.writerow(["Импорт: врач", "John Miller", "lebedev", "2026-12-21 10:00"])
        writer.writerow(["Импорт: не врач", "John Miller", "sokolova", "2026-12-21 11:00"])
    result = clinic.admin.as_user("sokolova").import_file("appointment", sheet, ImportOptions())
    assert result.created == 1
    assert any("does not hold the role `doctor`" in str(problem) for problem in result.problems)


def test_a_user_without_the_fields_role_is_refused_to_automation(clinic: Clinic) -> None:
    """The patient's next visit books an appointment with the attending doctor: a doctor of patients who is
    no doctor of appointments cannot be booked there, and the change that asked for it is refused."""
    patient = clinic.admin.create("patient", {"title": "Пациент терапевта", "birth_date": "1980-01-01",
                                              "phone": "+7 900 000-00-00", "attending_doctor": "gp"})
    with pytest.raises((AutomationFailed, InvalidValue)) as refused:
        clinic.admin.update("patient", patient, {"next_visit": "2027-01-10T10:00"})
    assert "does not hold the role `doctor` in appointment" in str(refused.value)
    assert clinic.admin.get("patient", patient)["next_visit"] is None


# ---- observers -------------------------------------------------------------------------------


def test_an_observer_reads_the_item_and_stops_when_removed(clinic: Clinic) -> None:
    item_id = clinic.appointment(doctor="morozova")
    path = f"/processes/appointment/items/{item_id}"
    assert clinic.call("GET", path, "lebedev").status_code == 404  # not his: as if missing
    added = clinic.call("POST", path + "/observers", "sokolova", json={"add": ["lebedev"]})
    assert added.status_code == 200 and [o["login"] for o in added.json()["observers"]] == ["lebedev"]
    assert clinic.call("GET", path, "lebedev").status_code == 200
    assert item_id in [r["id"] for r in clinic.call("GET", "/processes/appointment/items", "lebedev",
                                                    params={"limit": 500}).json()["items"]]
    assert clinic.call("GET", path, "lebedev").json()["observers"][0]["login"] == "lebedev"
    # he may read it, not change it (his update level is `own`), nor its observers
    assert clinic.call("PATCH", path, "lebedev", json={"room": "1"}).status_code == 403
    assert clinic.call("POST", path + "/observers", "lebedev", json={"add": ["gp"]}).status_code == 403
    # told in his inbox
    inbox = clinic.call("GET", "/inbox", "lebedev").json()
    messages = inbox["messages"] if isinstance(inbox, dict) else inbox
    assert any(m["item_id"] == item_id and "observe" in (m["subject"] or "") for m in messages)
    russian = clinic.client.get("/api/v1/inbox", headers={"Authorization": f"Bearer {clinic.tokens['lebedev']}",
                                                          "Accept-Language": "ru"}).json()["messages"]
    [told] = [m for m in russian if m["item_id"] == item_id]  # the same line, in his language
    assert told["subject"].startswith("Вы наблюдатель: ") and " добавил(а) вас в наблюдатели «" in told["message"]
    removed = clinic.call("POST", path + "/observers", "sokolova", json={"remove": ["lebedev"]})
    assert removed.json()["observers"] == []
    assert clinic.call("GET", path, "lebedev").status_code == 404
    history = [h for h in clinic.admin.history("appointment", item_id) if h["field"] == "observers"]
    assert [(h["old"], h["new"]) for h in history] == [([], [clinic.ids["lebedev"]]), ([clinic.ids["lebedev"]], [])]


def test_observers_of_an_item_the_caller_may_not_read_answer_like_a_missing_one(clinic: Clinic) -> None:
    item_id = clinic.appointment(doctor="morozova")
    for method, kwargs in (("POST", {"json": {"add": ["lebedev"]}}),):
        hidden = clinic.call(method, f"/processes/appointment/items/{item_id}/observers", "lebedev", **kwargs)
        missing = clinic.call(method, "/processes/appointment/items/987654/observers", "lebedev", **kwargs)
        assert hidden.status_code == missing.status_code == 404
        assert hidden.text.replace(str(item_id), "ID") == missing.text.replace("987654", "ID")


def test_observers_through_the_cli_and_set(clinic: Clinic) -> None:
    item_id = clinic.appointment()
    result = invoke(clinic.url, "item", "update", "appointment", str(item_id), "--set", "observers=lebedev,boss",
                    as_user="sokolova")
    assert result.exit_code == 0, result.output
    assert [o["login"] for o in clinic.admin.observers("appointment", item_id)] == ["boss", "lebedev"]
    shown = invoke(clinic.url, "item", "observers", "appointment", str(item_id), "--remove", "boss", "--format",
                   "json", as_user="sokolova")
    assert shown.exit_code == 0 and '"lebedev"' in shown.output and '"boss"' not in shown.output
    unknown = invoke(clinic.url, "item", "observers", "appointment", str(item_id), "--add", "nobody",
                     as_user="sokolova")
    assert unknown.exit_code != 0 and "there is no user 'nobody'" in unknown.output
    created = clinic.call("POST", "/processes/appointment/items", "sokolova", json={
        "title": "С наблюдателем", "patient": clinic.patient("John Miller"), "doctor": "lebedev",
        "scheduled_at": "2026-12-22T10:00", "observers": ["morozova"]})
    assert created.status_code == 201, created.text
    assert [o["login"] for o in clinic.admin.observers("appointment", created.json()["id"])] == ["morozova"]


# ---- titles with one query per linked process ---------------------------------------------------


def _patient_reads(seen: list[str]) -> int:
    return sum(1 for s in seen if re.search(r"\bFROM\s+\"?p_patient\"?(\s|$)", s, re.IGNORECASE))


def test_the_board_list_shows_titles_with_one_query_for_the_page(clinic: Clinic) -> None:
    client = TestClient(create_app(engine=clinic.admin))
    clinic.admin.set_password("boss", "board-password-1")
    form = client.get("/login")
    token = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert token
    client.post("/login", data={"login": "boss", "password": "board-password-1", "next": "/", "csrf": token.group(1)})
    with statements(lambda s: s.lstrip().upper().startswith("SELECT")) as seen:
        page = client.get("/processes/appointment/items")
    assert page.status_code == 200
    shown = re.findall(r"Иванова Мария Петровна \(#\d+\)", page.text)
    assert len(shown) >= 3  # many rows link to her
    assert _patient_reads(seen) == 1  # one query for every linked title of the page
    client.close()


def test_an_export_shows_titles_with_one_query_per_batch(clinic: Clinic, tmp_path: Path) -> None:
    target = tmp_path / "appointments.csv"
    with statements(lambda s: s.lstrip().upper().startswith("SELECT")) as seen:
        clinic.admin.export("appointment", target, ExportOptions(format="csv", columns="all"))
    text = target.read_text(encoding="utf-8-sig")
    assert text.count(f"Иванова Мария Петровна (#{clinic.patient('Иванова Мария Петровна')})") >= 3
    assert _patient_reads(seen) == 1


def test_link_titles_leave_out_what_the_reader_may_not_read(clinic: Clinic) -> None:
    """A doctor reads appointments of his own only: a patient record links to them, but titles of other
    doctors' appointments are not read for him (shown by id)."""
    others = clinic.appointment(title="Чужой-титул", doctor="morozova")
    mine = clinic.appointment(title="Свой-титул", doctor="lebedev")
    rows = [{"id": 1, "patient": clinic.patient("John Miller")}]
    assert clinic.admin.as_user("lebedev").link_titles("appointment", rows) == {
        "patient": {clinic.patient("John Miller"): "John Miller"}}
    # the lookup of titles for a process he reads only partly
    found = clinic.admin.as_user("lebedev").lookup("appointment", "-титул")
    assert [f["id"] for f in found] == [mine] and others not in [f["id"] for f in found]


# ---- the recycle bin --------------------------------------------------------------------------


def test_the_recycle_bin_lists_what_the_caller_may_restore(clinic: Clinic) -> None:
    mine = clinic.appointment(login="sokolova", title="В корзину")
    assert clinic.call("DELETE", f"/processes/appointment/items/{mine}", "sokolova").json()["outcome"] == \
        "recycle_bin"
    listed = clinic.call("GET", "/processes/appointment/recycle-bin", "sokolova").json()["items"]
    assert mine in [row["id"] for row in listed]
    assert clinic.call("GET", "/processes/appointment/recycle-bin", "lebedev").json()["items"] == []  # delete: none
    result = invoke(clinic.url, "item", "bin", "appointment", as_user="sokolova")
    assert result.exit_code == 0 and "В корзину" in result.output
    assert clinic.call("POST", f"/processes/appointment/items/{mine}/restore", "sokolova").status_code == 200
    assert mine not in [r["id"] for r in clinic.call("GET", "/processes/appointment/recycle-bin",
                                                     "sokolova").json()["items"]]


def test_an_observer_must_be_able_to_see_the_process(clinic: Clinic) -> None:
    item_id = clinic.appointment()
    refused = clinic.call("POST", f"/processes/appointment/items/{item_id}/observers", "sokolova",
                          json={"add": ["gp"]})  # a doctor of patients, with no role in appointments
    assert refused.status_code == 422 and "has no role in appointment" in refused.json()["message"]
    # one already observing who loses the right can still be removed
    clinic.admin.change_observers("appointment", item_id, add=["morozova"])
    clinic.admin.set_active("morozova", False)
    try:
        assert clinic.admin.change_observers("appointment", item_id, remove=["morozova"]) == []
    finally:
        clinic.admin.set_active("morozova", True)
