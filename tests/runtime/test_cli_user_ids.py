"""Users that keep the ids they had in the system they came from (a Bitrix24 portal's, through `users.csv` of
`smartflow bitrix24 pull`): `smartflow user add --id N` and `smartflow user import FILE`, by administrators
only; an id any user holds (active or not) refused in one line, nothing written; the users added after
them take ids above the largest (PostgreSQL's sequence moved, SQLite's counter following by itself)."""

from __future__ import annotations

from pathlib import Path

from smartflow.cli.main import EXIT_BAD_VALUE, EXIT_DENIED
from smartflow.services import MAX_ID, Engine
from tests.runtime.support import DOCUMENTS, invoke, write_definitions


def _fresh(db_url: str, tmp_path: Path) -> None:
    from smartflow.deploy import apply as deploy

    deploy.apply(write_definitions(tmp_path / "defs", *DOCUMENTS), db_url)


def _users(db_url: str) -> list[tuple[int, str, bool]]:
    with Engine(db_url) as crm:
        return sorted((u["id"], u["login"], u["active"]) for u in crm.users())


def test_a_user_added_with_an_id_keeps_it_and_a_taken_id_is_refused(db_url: str, tmp_path: Path) -> None:
    _fresh(db_url, tmp_path)
    added = invoke(db_url, "user", "add", "ivanova", "--id", "17", "--role", "worker")
    assert (added.stdout, added.exit_code) == ("user ivanova added (id 17)\n", 0)
    assert invoke(db_url, "user", "add", "petrov", "--id", "5").stdout == "user petrov added (id 5)\n"
    assert invoke(db_url, "user", "deactivate", "petrov").exit_code == 0

    for login, wanted, holder in (("smirnova", "17", "ivanova"), ("smirnova", "5", "petrov")):  # active or not
        taken = invoke(db_url, "user", "add", login, "--id", wanted)
        assert (taken.stdout, taken.exit_code) == ("", EXIT_BAD_VALUE)
        assert taken.stderr == (f"error: the id {wanted} is taken by the user `{holder}`\n"
                                "  hint: leave --id out to give the new user the next free id\n")
    too_big = invoke(db_url, "user", "add", "smirnova", "--id", str(MAX_ID + 1))
    assert too_big.exit_code == EXIT_BAD_VALUE and f"give a whole number from 1 to {MAX_ID}" in too_big.stderr
    assert invoke(db_url, "user", "add", "smirnova", "--id", "0").exit_code != 0  # not a positive id
    refused = invoke(db_url, "user", "add", "smirnova", "--id", "40", as_user="ivanova")  # a worker, no administrator
    assert (refused.stderr, refused.exit_code) == ("error: only administrators manage users and departments\n",
                                                   EXIT_DENIED)
    assert _users(db_url) == [(5, "petrov", False), (17, "ivanova", True)]  # nothing else written

    # the next user without --id takes an id above the largest, and the largest id may be given
    assert invoke(db_url, "user", "add", "smirnova").stdout == "user smirnova added (id 18)\n"
    assert invoke(db_url, "user", "add", "last", "--id", str(MAX_ID)).stdout == f"user last added (id {MAX_ID})\n"


def test_user_import_adds_a_file_of_users_with_their_ids_all_or_none(db_url: str, tmp_path: Path) -> None:
    _fresh(db_url, tmp_path)
    assert invoke(db_url, "user", "add", "admin", "--id", "1", "--role", "administrator").exit_code == 0
    people = tmp_path / "users.csv"
    people.write_text("id,login,name,email,active\n17,ivanova,Анна Иванова,ivanova@example.ru,true\n"
                      "23,petrov,Олег Петров,,true\n1,boss,Главный,,true\n", encoding="utf-8")
    taken = invoke(db_url, "user", "import", str(people), "--role", "worker")
    assert taken.exit_code == EXIT_BAD_VALUE and taken.stderr.startswith(
        "error: adding `boss`: the id 1 is taken by the user `admin`\n"), taken.stderr
    assert _users(db_url) == [(1, "admin", True)]  # all or none: ivanova and petrov were not kept either

    people.write_text("id,login,name,email,active\n17,ivanova,Анна Иванова,ivanova@example.ru,true\n"
                      "23,petrov,Олег Петров,,true\n31,gone@example.ru,Ушедший,,false\n", encoding="utf-8")
    done = invoke(db_url, "user", "import", str(people), as_user="admin")
    assert (done.stdout, done.exit_code) == ("3 users added (3 with the ids of the file)\n", 0)  # an administrator may
    assert _users(db_url) == [(1, "admin", True), (17, "ivanova", True), (23, "petrov", True),
                              (31, "gone@example.ru", False)]
    not_admin = tmp_path / "more.csv"
    not_admin.write_text("id,login\n40,smirnova\n", encoding="utf-8")
    refused = invoke(db_url, "user", "import", str(not_admin), as_user="ivanova")
    assert (refused.stderr, refused.exit_code) == ("error: only administrators manage users and departments\n",
                                                   EXIT_DENIED)
    with Engine(db_url) as crm:
        ivanova = next(u for u in crm.users() if u["login"] == "ivanova")
        assert ivanova["name"] == "Анна Иванова"
    assert invoke(db_url, "user", "add", "smirnova").stdout == "user smirnova added (id 32)\n"

    wrong = tmp_path / "wrong.csv"
    wrong.write_text("id,login,phone\n50,x,123\n", encoding="utf-8")
    bad = invoke(db_url, "user", "import", str(wrong))
    assert bad.exit_code == EXIT_BAD_VALUE and "the columns are id, login, phone" in bad.stderr
    wrong.write_text("id,login\nseven,x\n", encoding="utf-8")
    bad = invoke(db_url, "user", "import", str(wrong))
    assert bad.exit_code == EXIT_BAD_VALUE and "line 2: the id 'seven' is not a user id" in bad.stderr
