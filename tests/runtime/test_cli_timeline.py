"""Comments and to-dos from the command line: `smartflow item comment PROCESS ID "text"`, `item comments`,
`item comment-edit`, `item comment-delete`, `item todo`, `item todos` (an item's, or your own), `item todo-done`;
an item you may not read answers with the same message and exit code as a missing one, and someone else's
comment cannot be changed."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from smartflow.cli.main import EXIT_DENIED, EXIT_NOT_DEPLOYED, EXIT_NOT_FOUND
from tests.http.support import DOCUMENTS, USERS
from tests.runtime.support import Db, invoke, module_url

__all__ = ["module_url"]
MISSING = 987654


@pytest.fixture(scope="module")
def db(module_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Db]:
    found = Db(module_url, tmp_path_factory.mktemp("defs"), *DOCUMENTS)
    for login, roles in USERS.items():
        found.admin.add_user(login, login.title(), roles)
    yield found
    found.close()


@pytest.fixture(scope="module")
def item(db: Db) -> int:
    return db.as_user("ivanova").create("purchase", {"title": "Арматура", "qty": 3})


@pytest.mark.db
def test_comment_list_edit_and_delete(db: Db, item: int) -> None:
    made = invoke(db.url, "item", "comment", "purchase", str(item), "Готово, @peek — см. https://example.com",
                  as_user="ivanova")
    assert made.exit_code == 0, made.output
    assert "mentioned: peek" in made.output
    comment_id = int(made.output.split()[1])
    listed = invoke(db.url, "item", "comments", "purchase", str(item), "--format", "json", as_user="peek")
    assert listed.exit_code == 0, listed.output
    [row] = [r for r in json.loads(listed.output) if r["id"] == comment_id]
    assert row["author"] == "ivanova" and row["mentions"] == ["peek"]
    refused = invoke(db.url, "item", "comment-edit", "purchase", str(item), str(comment_id), "mine", as_user="peek")
    assert refused.exit_code == EXIT_DENIED and "only its author" in refused.output
    assert invoke(db.url, "item", "comment-delete", "purchase", str(item), str(comment_id),
                  as_user="peek").exit_code == EXIT_DENIED
    edited = invoke(db.url, "item", "comment-edit", "purchase", str(item), str(comment_id), "Исправлено",
                    as_user="ivanova")
    assert edited.exit_code == 0, edited.output
    assert invoke(db.url, "item", "comment-delete", "purchase", str(item), str(comment_id),
                  as_user="ivanova").exit_code == 0
    history = invoke(db.url, "item", "history", "purchase", str(item), as_user="ivanova")
    assert "comment.edit" in history.output and "Готово" in history.output and "Исправлено" in history.output
    inbox = invoke(db.url, "inbox", "--format", "json", as_user="peek")
    assert "@ivanova" in inbox.output


@pytest.mark.db
def test_todo_add_list_mine_and_done(db: Db, item: int) -> None:
    made = invoke(db.url, "item", "todo", "purchase", str(item), "Позвонить", "--due", "2001-02-03",
                  "--responsible", "peek", as_user="ivanova")
    assert made.exit_code == 0, made.output
    assert "for peek, due 2001-02-03" in made.output
    todo_id = int(made.output.split()[1])
    listed = invoke(db.url, "item", "todos", "purchase", str(item), "--format", "json", as_user="ivanova")
    assert [r["state"] for r in json.loads(listed.output) if r["id"] == todo_id] == ["overdue"]
    mine = invoke(db.url, "item", "todos", "--format", "json", as_user="peek")
    assert [r["item_title"] for r in json.loads(mine.output) if r["id"] == todo_id] == ["Арматура"]
    assert invoke(db.url, "item", "todo-done", "purchase", str(item), str(todo_id), as_user="peek").exit_code == 0
    mine = invoke(db.url, "item", "todos", "--format", "json", as_user="peek")
    assert todo_id not in [r["id"] for r in json.loads(mine.output)]
    assert invoke(db.url, "item", "todos", "purchase", as_user="peek").exit_code == 2


@pytest.mark.db
@pytest.mark.parametrize("login", ["petrov", "stranger"])
@pytest.mark.parametrize("command", [
    ("comment", "{id}", "hello"), ("comments", "{id}"), ("comment-edit", "{id}", "1", "x"),
    ("comment-delete", "{id}", "1"), ("todo", "{id}", "call"), ("todos", "{id}"), ("todo-done", "{id}", "1"),
])
def test_an_unreadable_item_answers_like_a_missing_one(db: Db, item: int, login: str,
                                                        command: tuple[str, ...]) -> None:
    before = (db.count("sf_comments"), db.count("sf_todos"))
    hidden = invoke(db.url, "item", command[0], "purchase", *(a.format(id=item) for a in command[1:]), as_user=login)
    missing = invoke(db.url, "item", command[0], "purchase", *(a.format(id=MISSING) for a in command[1:]),
                     as_user=login)
    # petrov reads only his own items; the stranger has no right in the process, which is missing to him
    assert hidden.exit_code == missing.exit_code == (EXIT_NOT_FOUND if login == "petrov" else EXIT_NOT_DEPLOYED)
    assert hidden.output.replace(str(item), "ID") == missing.output.replace(str(MISSING), "ID")
    assert (db.count("sf_comments"), db.count("sf_todos")) == before
