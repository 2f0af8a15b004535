"""Comments and to-dos over the HTTP API: the contract (`POST/GET …/comments {"text"}`, `POST/GET …/todos
{"title", "due", "responsible"}`, `PATCH …/todos/{id} {"done"}`, `GET /api/v1/inbox`), mentions reaching the
mentioned user's inbox, and the rights matrix: a comment or to-do of an item the caller may not read answers
exactly like a missing one; someone else's comment cannot be edited or deleted."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.http.support import Api, api
from tests.runtime.support import module_url

__all__ = ["api", "module_url"]
ITEMS = "/api/v1/processes/purchase/items"
MISSING = 987654


@pytest.fixture(scope="module")
def item(api: Api) -> Iterator[int]:
    yield int(api.create("ivanova", title="Бетон М300", qty=1)["id"])


@pytest.mark.db
def test_a_comment_with_lines_links_and_a_mention_reaches_the_mentioned_inbox(api: Api, item: int) -> None:
    text = "Проверьте счёт, @peek.\nСсылка: https://example.com/a?b=1"
    made = api.call("POST", f"{ITEMS}/{item}/comments", "ivanova", json={"text": text})
    assert made.status_code == 201, made.text
    comment = made.json()
    assert comment["text"] == text and comment["author"] == "ivanova" and comment["mentions"] == ["peek"]
    listed = api.call("GET", f"{ITEMS}/{item}/comments", "peek").json()["comments"]
    assert [c["id"] for c in listed] == [comment["id"]]
    inbox = api.call("GET", "/api/v1/inbox", "peek").json()
    assert [m["id"] for m in inbox["mentions"]] == [comment["id"]]
    assert inbox["mentions"][0]["item_title"] == "Бетон М300"
    assert any(m["item_id"] == item and "@peek" in m["message"] for m in inbox["messages"])
    assert set(inbox) >= {"messages", "mentions", "todos", "counts"}
    # a user who may not read the item is mentioned in vain: nothing reaches them
    api.call("POST", f"{ITEMS}/{item}/comments", "ivanova", json={"text": "@stranger @petrov look"})
    for login in ("stranger", "petrov"):
        assert api.call("GET", "/api/v1/inbox", login).json()["mentions"] == []


@pytest.mark.db
def test_the_author_edits_and_deletes_their_comment_and_history_keeps_the_text(api: Api, item: int) -> None:
    comment = api.call("POST", f"{ITEMS}/{item}/comments", "ivanova", json={"text": "first words"}).json()
    path = f"{ITEMS}/{item}/comments/{comment['id']}"
    for login in ("peek", "boss"):  # someone else's comment: refused, and unchanged
        assert api.call("PATCH", path, login, json={"text": "mine now"}).status_code == 403
        assert api.call("DELETE", path, login).status_code == 403
    edited = api.call("PATCH", path, "ivanova", json={"text": "better words"})
    assert edited.status_code == 200 and edited.json()["text"] == "better words"
    assert edited.json()["edited_at"] is not None
    assert api.call("DELETE", path, "ivanova").status_code == 200
    assert api.call("GET", path, "ivanova").status_code == 404
    history = api.call("GET", f"{ITEMS}/{item}/history", "ivanova").json()["history"]
    kinds = [(row["kind"], (row["old"] or {}).get("text")) for row in history if row["kind"].startswith("comment.")]
    assert kinds == [("comment.edit", "first words"), ("comment.delete", "better words")]


@pytest.mark.db
def test_an_empty_or_unknown_body_is_refused(api: Api, item: int) -> None:
    assert api.call("POST", f"{ITEMS}/{item}/comments", "ivanova", json={"text": "  \n "}).status_code == 422
    assert api.call("POST", f"{ITEMS}/{item}/comments", "ivanova", json={"body": "x"}).status_code == 422
    assert api.call("POST", f"{ITEMS}/{item}/todos", "ivanova", json={"title": "x", "due": "soon"}).status_code == 422
    assert api.call("POST", f"{ITEMS}/{item}/todos", "ivanova",
                    json={"title": "x", "responsible": "nobody"}).status_code == 422
    assert api.call("POST", f"{ITEMS}/{item}/todos", "ivanova",
                    json={"title": "x", "due": "qty + 1d"}).status_code == 422
    # a to-do cannot be given to someone who may not read the item (they would never see it)
    refused = api.call("POST", f"{ITEMS}/{item}/todos", "ivanova", json={"title": "x", "responsible": "petrov"})
    assert refused.status_code == 422 and "may not read" in refused.text


@pytest.mark.db
def test_todos_are_made_listed_counted_and_marked_done(api: Api, item: int) -> None:
    made = api.call("POST", f"{ITEMS}/{item}/todos", "ivanova",
                    json={"title": "Позвонить поставщику", "due": "2001-01-01", "responsible": "peek"})
    assert made.status_code == 201, made.text
    todo = made.json()
    assert todo["responsible"] == "peek" and todo["due"] == "2001-01-01" and todo["state"] == "overdue"
    later = api.call("POST", f"{ITEMS}/{item}/todos", "ivanova", json={"title": "Later", "due": "+2wd"}).json()
    assert later["responsible"] == "ivanova" and later["state"] == "open"
    listed = api.call("GET", f"{ITEMS}/{item}/todos", "peek").json()["todos"]
    assert [t["id"] for t in listed][-2:] == [todo["id"], later["id"]]
    inbox = api.call("GET", "/api/v1/inbox", "peek").json()
    assert todo["id"] in [t["id"] for t in inbox["todos"]] and inbox["counts"]["overdue"] >= 1
    path = f"{ITEMS}/{item}/todos/{todo['id']}"
    # the responsible person marks it done though they may not update the item; a stranger cannot see it
    assert api.call("PATCH", path, "stranger", json={"done": True}).status_code == 404
    done = api.call("PATCH", path, "peek", json={"done": True})
    assert done.status_code == 200 and done.json()["done"] is True and done.json()["state"] == "done"
    assert todo["id"] not in [t["id"] for t in api.call("GET", "/api/v1/inbox", "peek").json()["todos"]]
    # someone who only reads, neither responsible nor its author, may not
    assert api.call("PATCH", f"{ITEMS}/{item}/todos/{later['id']}", "peek", json={"done": True}).status_code == 403
    timeline = api.call("GET", f"{ITEMS}/{item}/timeline", "ivanova").json()["timeline"]
    assert {entry["kind"] for entry in timeline} >= {"todo", "history"}
    moments = [entry["at"] for entry in timeline]
    assert moments == sorted(moments, reverse=True)


# every endpoint under an item: an item the caller may not read answers exactly like a missing one
ENDPOINTS: list[tuple[str, str, dict[str, object]]] = [
    ("GET", "/comments", {}),
    ("POST", "/comments", {"json": {"text": "hello"}}),
    ("GET", "/comments/1", {}),
    ("PATCH", "/comments/1", {"json": {"text": "hello"}}),
    ("DELETE", "/comments/1", {}),
    ("GET", "/todos", {}),
    ("POST", "/todos", {"json": {"title": "call", "due": "2030-01-01"}}),
    ("GET", "/todos/1", {}),
    ("PATCH", "/todos/1", {"json": {"done": True}}),
    ("GET", "/timeline", {}),
]


@pytest.mark.db
@pytest.mark.parametrize("login", ["petrov", "stranger"])
@pytest.mark.parametrize(("method", "suffix", "request_args"), ENDPOINTS)
def test_an_unreadable_items_comments_and_todos_answer_like_missing_ones(
        api: Api, item: int, login: str, method: str, suffix: str, request_args: dict[str, object]) -> None:
    api.call("POST", f"{ITEMS}/{item}/comments", "ivanova", json={"text": "exists"})
    api.call("POST", f"{ITEMS}/{item}/todos", "ivanova", json={"title": "exists"})
    counts = (api.db.count("sf_comments"), api.db.count("sf_todos"), api.db.history_rows("purchase", item))
    hidden = api.call(method, f"{ITEMS}/{item}{suffix}", login, **request_args)
    missing = api.call(method, f"{ITEMS}/{MISSING}{suffix}", login, **request_args)
    assert hidden.status_code == missing.status_code == 404
    assert hidden.text.replace(str(item), "ID") == missing.text.replace(str(MISSING), "ID")
    assert (api.db.count("sf_comments"), api.db.count("sf_todos"), api.db.history_rows("purchase", item)) == counts


@pytest.mark.db
def test_a_comment_or_todo_of_another_item_is_missing_here(api: Api, item: int) -> None:
    other = int(api.create("ivanova", title="other", qty=1)["id"])
    comment = api.call("POST", f"{ITEMS}/{other}/comments", "ivanova", json={"text": "there"}).json()
    todo = api.call("POST", f"{ITEMS}/{other}/todos", "ivanova", json={"title": "there"}).json()
    assert api.call("GET", f"{ITEMS}/{item}/comments/{comment['id']}", "ivanova").status_code == 404
    assert api.call("PATCH", f"{ITEMS}/{item}/todos/{todo['id']}", "ivanova", json={"done": True}).status_code == 404


@pytest.mark.db
def test_the_inbox_names_process_and_item_and_is_marked_read_one_and_all(api: Api, item: int) -> None:
    for text in ("@peek один", "@peek два", "@peek три"):
        api.call("POST", f"{ITEMS}/{item}/comments", "ivanova", json={"text": text})
    unread = api.call("GET", "/api/v1/inbox?unread=true", "peek").json()["messages"]
    assert len(unread) >= 3 and unread[0]["item_title"] == "Бетон М300" and unread[0]["process_title"]
    marked = api.call("POST", "/api/v1/inbox/read", "peek", json={"ids": [unread[0]["id"]]})
    assert marked.status_code == 200 and marked.json() == {"changed": 1}
    # someone else's notification is not theirs to mark
    assert api.call("POST", "/api/v1/inbox/read", "ivanova", json={"ids": [unread[1]["id"]]}).json() == {"changed": 0}
    left = api.call("GET", "/api/v1/inbox?unread=true", "peek").json()["messages"]
    assert [m["id"] for m in left] == [m["id"] for m in unread[1:]]
    assert api.call("POST", "/api/v1/inbox/read", "peek", json={}).json() == {"changed": len(left)}
    assert api.call("GET", "/api/v1/inbox?unread=true", "peek").json()["messages"] == []
    assert api.call("POST", "/api/v1/inbox/read", "peek", json={"ids": [unread[0]["id"]], "read": False}
                    ).json() == {"changed": 1}


@pytest.mark.db
def test_what_smartflow_writes_in_the_inbox_comes_in_the_accept_language(api: Api, item: int) -> None:
    """A to-do given to someone: the inbox keeps the message's msgid and parameters, and renders it for the
    reader: English without Accept-Language (and with `en`), Russian with `ru`; the to-do's title as written."""
    made = api.call("POST", f"{ITEMS}/{item}/todos", "ivanova",
                    json={"title": "Сверить смету", "due": "2030-01-10", "responsible": "peek"})
    assert made.status_code == 201, made.text

    def told(**headers: str) -> tuple[dict[str, str], dict[str, str]]:
        answer = api.call("GET", "/api/v1/inbox", "peek", headers=headers)
        [found] = [m for m in answer.json()["messages"] if m["subject"] and "Сверить смету" in m["subject"]]
        return found, dict(answer.headers)

    english, plain = told()
    assert english["subject"] == "To-do: Сверить смету"
    assert english["message"] == "Ivanova gave you a to-do: “Сверить смету”, due 2030-01-10."
    assert "content-language" not in plain
    russian, headers = told(**{"Accept-Language": "ru-RU,ru;q=0.9"})
    assert russian["subject"] == "Дело: Сверить смету"
    assert russian["message"] == "Ivanova поручил(а) вам дело «Сверить смету», срок: 2030-01-10."
    assert headers["content-language"] == "ru" and russian["id"] == english["id"]
    assert told(**{"Accept-Language": "en"})[0]["message"] == english["message"]


@pytest.mark.db
def test_own_settings_turn_email_off_and_choose_a_language(api: Api) -> None:
    assert api.call("GET", "/api/v1/settings", "peek").json()["email_notifications"] is True
    changed = api.call("PATCH", "/api/v1/settings", "peek", json={"email_notifications": False, "language": "ru"})
    assert changed.status_code == 200, changed.text
    assert (changed.json()["email_notifications"], changed.json()["language"]) == (False, "ru")
    refused = api.call("PATCH", "/api/v1/settings", "peek", json={"language": "de"})
    assert refused.status_code == 422
    assert api.call("PATCH", "/api/v1/settings", "peek", json={"email_notifications": True, "language": ""}
                    ).json()["language"] is None
