"""The definitions and people of the data tests (export, import, report, graph), and helpers to run the CLI.

`deal` has a field of every kind a spreadsheet carries (money, integer, number, date, datetime,
boolean, enum, several enum values, user, link, text, unique string, email, file); `client` is
what its link points to; `ticket` has triggers (one stamps a note, one fails after the item is
written). Roles: `seller` exports and imports only its own items, `viewer` reads but may not
export or import, `loader` imports and exports everything, `auditor` exports everything it may
read but reads only its own.
"""

from __future__ import annotations

from typing import Any

from tests.runtime import support as runtime_support
from tests.runtime.support import Db, invoke

__all__ = ["invoke"]  # the data tests' CLI runner, shared with the runtime's

ROLES: dict[str, Any] = {"kind": "Roles", "roles": {
    "seller": {"title": {"ru": "Продавец", "en": "Seller"}},
    "viewer": {"title": {"ru": "Наблюдатель", "en": "Viewer"}},
    "loader": {"title": {"ru": "Загрузчик", "en": "Loader"}},
    "auditor": {"title": {"ru": "Аудитор", "en": "Auditor"}},
}}

CLIENT: dict[str, Any] = {  # the runtime tests' client, read by this module's roles
    **runtime_support.CLIENT,
    "permissions": {"seller": "all", "viewer": {"read": "all"}, "loader": "all", "auditor": {"read": "all"}},
}

DEAL: dict[str, Any] = {
    "kind": "Process", "id": "deal", "title": {"ru": "Сделка", "en": "Deal"},
    "fields": {
        "amount": {"type": "money", "currency": "RUB", "title": {"ru": "Сумма", "en": "Amount"}, "min": 0},
        "qty": {"type": "integer", "title": {"ru": "Количество", "en": "Quantity"}, "min": 0},
        "weight": {"type": "number", "precision": 3, "title": {"ru": "Вес", "en": "Weight"}},
        "due": {"type": "date", "title": {"ru": "Срок", "en": "Due"}},
        "meet_at": {"type": "datetime", "title": {"ru": "Встреча", "en": "Meeting"}},
        "urgent": {"type": "boolean", "title": {"ru": "Срочно", "en": "Urgent"}},
        "kind": {"type": "enum", "title": {"ru": "Вид", "en": "Kind"}, "options": [
            {"id": "retail", "title": {"ru": "Розница", "en": "Retail"}},
            {"id": "bulk", "title": {"ru": "Опт", "en": "Bulk"}}]},
        "channels": {"type": "enum", "multiple": True, "title": {"ru": "Каналы", "en": "Channels"}, "options": [
            {"id": "web", "title": {"ru": "Сайт", "en": "Web"}},
            {"id": "phone", "title": {"ru": "Телефон", "en": "Phone"}}]},
        "manager": {"type": "user", "title": {"ru": "Менеджер", "en": "Manager"}},
        "client": {"type": "link", "to": "client", "title": {"ru": "Клиент", "en": "Client"}},
        "note": {"type": "text", "title": {"ru": "Заметка", "en": "Note"}},
        "code": {"type": "string", "unique": True, "title": {"ru": "Код", "en": "Code"}},
        "email": {"type": "email", "title": {"ru": "Почта", "en": "Email"}},
        "scan": {"type": "file", "title": {"ru": "Скан", "en": "Scan"}},
    },
    "pipelines": {
        "main": {"title": {"ru": "Продажи", "en": "Sales"}, "default": True, "stages": {
            "new": {"title": {"ru": "Новая", "en": "New"}},
            "work": {"title": {"ru": "В работе", "en": "In progress"}, "required": ["amount"]},
            "won": {"title": {"ru": "Выиграна", "en": "Won"}, "semantic": "success"},
            "lost": {"title": {"ru": "Проиграна", "en": "Lost"}, "semantic": "failure"}},
            "transitions": [
                {"from": "new", "to": "work", "when": "amount > 0", "title": {"ru": "В работу", "en": "Start"}},
                {"from": "work", "to": "won", "roles": ["seller", "loader"]},
                {"from": "*", "to": "lost"},
                {"from": "lost", "to": "new"}]},
        "express": {"title": {"ru": "Экспресс", "en": "Express"}, "stages": {
            "start": {"title": {"ru": "Старт", "en": "Start"}},
            "done": {"title": {"ru": "Готово", "en": "Done"}, "semantic": "success"},
            "dropped": {"title": {"ru": "Брошена", "en": "Dropped"}, "semantic": "failure"}}},
    },
    "list": {"columns": ["title", "stage", "amount", "due"]},
    "permissions": {
        "seller": {"read": "all", "create": "all", "update": "own", "move": "own", "export": "own", "import": "own"},
        "viewer": {"read": "all"},
        "loader": {"read": "all", "create": "all", "update": "all", "move": "all", "export": "all", "import": "all"},
        "auditor": {"read": "own", "export": "all"},
    },
}

TICKET: dict[str, Any] = {
    "kind": "Process", "id": "ticket", "title": {"ru": "Заявка", "en": "Ticket"},
    "fields": {"note": {"type": "string", "title": {"ru": "Заметка", "en": "Note"}},
               "size": {"type": "integer", "title": {"ru": "Размер", "en": "Size"}}},
    "pipelines": {"main": {"title": "Main", "default": True, "stages": {
        "open": {"title": "Open"}, "closed": {"title": "Closed", "semantic": "success"},
        "rejected": {"title": "Rejected", "semantic": "failure"}}}},
    "triggers": [{"id": "stamp", "on": "created", "when": "not note", "do": [{"set": {"note": "stamped"}}]},
                 {"id": "explode", "on": "created", "when": "title == 'boom'",
                  "do": [{"set": {"size": "{{ title }}"}}]}],
    "permissions": {"seller": {"read": "all", "create": "all", "import": "own"}, "loader": "all"},
}

DOCUMENTS = (ROLES, CLIENT, DEAL, TICKET)
PEOPLE = (("ivanova", "Анна Иванова", "seller"), ("petrov", "Пётр Петров", "seller"),
          ("viewer", "Вера Смотрова", "viewer"), ("loader", "Лев Загрузов", "loader"),
          ("auditor", "Ада Аудитова", "auditor"))


def add_people(db: Db) -> None:
    for login, name, role in PEOPLE:
        db.admin.add_user(login, name, [role])


