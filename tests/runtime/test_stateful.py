"""A stateful property test: random creates, updates, moves, deletes and restores by random users,
checked step by step against a small model of the rules written here in plain Python.

The deployment: roles with different levels (a manager: all; sellers: read all, update and move
their own, into `work`, `check` and `won` only; a viewer: reads, deletes and creates only their own, never
moves; an auditor: reads only; a user holding seller and viewer at once; the local administrator),
and a process whose pipeline has a condition (`work → check` when `qty >= 10`), a required-at-stage
field (`check` requires `amount`), a role-restricted transition (`check → won`, managers only), a
required field with a default (`kind`) and fields with bounds. After each step the outcome (success,
or exactly which error) must be the model's, and the database must agree with the model: the items
the administrator sees, their stage, values and version, the recycle bin, the history rows per item,
and what the users' lists show.
"""

from __future__ import annotations

import shutil
import sqlite3
from contextlib import closing
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    multiple,
    precondition,
    rule,
    run_state_machine_as_test,
)

from smartflow import Engine
from smartflow.definitions.convert import to_yaml
from smartflow.deploy import apply as deploy
from smartflow.errors import ConflictError, InvalidValue, NotFound, PermissionDenied, TransitionNotAllowed

ROLES: dict[str, Any] = {"kind": "Roles", "roles": {
    "manager": {"title": "Manager"}, "seller": {"title": "Seller"}, "viewer": {"title": "Viewer"},
    "auditor": {"title": "Auditor"}}}

PROCESS: dict[str, Any] = {
    "kind": "Process",
    "id": "orders",
    "title": {"ru": "Заказ", "en": "Order"},
    "features": {"recycle_bin": True},
    "fields": {
        "amount": {"type": "money", "currency": "RUB", "min": 0},
        "qty": {"type": "integer", "min": 1, "max": 100},
        "kind": {"type": "enum", "required": True, "default": "a",
                 "options": [{"id": "a", "title": "A"}, {"id": "b", "title": "B"}]},
        "note": {"type": "string", "max_length": 10},
    },
    "pipelines": {"main": {
        "title": "Main",
        "default": True,
        "stages": {"new": {"title": "New"}, "work": {"title": "Work"},
                   "check": {"title": "Check", "required": ["amount"]},
                   "won": {"title": "Won", "semantic": "success"}, "lost": {"title": "Lost", "semantic": "failure"}},
        "transitions": [
            {"from": "new", "to": "work"},
            {"from": "work", "to": "new"},
            {"from": "work", "to": "check", "when": "qty >= 10"},
            {"from": "check", "to": "work"},
            {"from": "check", "to": "won", "roles": ["manager"]},
            {"from": "*", "to": "lost"},
        ],
    }},
    "permissions": {
        "manager": "all",
        "seller": {"read": "all", "create": "all", "update": "own", "move": "own",
                   "stages": ["work", "check", "won"]},
        "viewer": {"read": "own", "create": "all", "delete": "own"},
        "auditor": {"read": "all"},
    },
}

# ---- the model of the rules ----------------------------------------------------------

STAGES = ("new", "work", "check", "won", "lost")
TRANSITIONS = {("new", "work"), ("work", "new"), ("work", "check"), ("check", "work"), ("check", "won"),
               *((s, "lost") for s in STAGES if s != "lost")}
ACTIONS = ("read", "create", "update", "delete", "move")
RANK = {"none": 0, "own": 1, "all": 3}
GRANTS: dict[str, tuple[dict[str, str], frozenset[str] | None]] = {  # role → (levels, stages it may move into)
    "manager": (dict.fromkeys(ACTIONS, "all"), None),
    "seller": ({"read": "all", "create": "all", "update": "own", "move": "own", "delete": "none"},
               frozenset({"work", "check", "won"})),
    "viewer": ({"read": "own", "create": "all", "update": "none", "move": "none", "delete": "own"}, frozenset()),
    "auditor": ({"read": "all", "create": "none", "update": "none", "move": "none", "delete": "none"},
                frozenset()),
}
USERS: dict[str | None, tuple[str, ...]] = {  # login → roles; None is the local administrator
    None: (), "boss": ("manager",), "sam": ("seller",), "sue": ("seller",), "vera": ("viewer",),
    "max": ("seller", "viewer"), "ann": ("auditor",)}
MISSING = 1_000_000


@dataclass
class Item:
    id: int
    owner: int | None  # created_by and assigned_to: the creator
    title: str
    values: dict[str, Any]
    stage: str = "new"
    version: int = 1
    deleted: bool = False
    history: int = 1


@dataclass
class Who:
    login: str | None
    id: int | None
    roles: tuple[str, ...]
    levels: dict[str, str] = field(default_factory=dict)
    stages: frozenset[str] | None = None  # None: any stage

    def __post_init__(self) -> None:
        if self.login is None:
            self.levels, self.stages = dict.fromkeys(ACTIONS, "all"), None
            return
        self.levels = dict.fromkeys(ACTIONS, "none")
        stages: set[str] | None = set()
        for role in self.roles:
            levels, allowed = GRANTS[role]
            for action in ACTIONS:
                if RANK[levels[action]] > RANK[self.levels[action]]:
                    self.levels[action] = levels[action]
            if levels["move"] != "none":
                stages = None if allowed is None or stages is None else stages | allowed
        self.stages = frozenset(stages) if stages is not None else None

    def reaches(self, action: str, item: Item) -> bool:
        level = self.levels[action]
        return level == "all" or (level == "own" and self.id is not None and item.owner == self.id)


INVALID = object()


def parse(key: str, raw: Any) -> Any:
    """The canonical value the model expects for a given value, or INVALID."""
    if key == "title":
        return raw.strip() or INVALID
    if raw is None:
        return None
    if key == "amount":
        value = Decimal(raw)
        return INVALID if value < 0 or value != round(value, 2) else value
    if key == "qty":
        value = int(raw)
        return value if 1 <= value <= 100 else INVALID
    if key == "kind":
        return raw if raw in ("a", "b") else INVALID
    if not raw.strip():
        return None  # empty text is no value (NULL), never ''
    return raw if len(raw) <= 10 else INVALID  # note


def move_refused(who: Who, item: Item, target: str) -> bool:
    """Whether move_problems would list anything (item readable and movable, not already in target)."""
    if who.stages is not None and target not in who.stages:
        return True
    if (item.stage, target) not in TRANSITIONS:
        return True
    if (item.stage, target) == ("work", "check") and not (item.values["qty"] is not None
                                                          and item.values["qty"] >= 10):
        return True
    if (item.stage, target) == ("check", "won") and who.login is not None and "manager" not in who.roles:
        return True
    return target == "check" and item.values["amount"] is None


# ---- strategies --------------------------------------------------------------------------

logins = st.sampled_from(list(USERS))
VALID: dict[str, list[Any]] = {"amount": [None, "0", "150.50", "20000"], "qty": [None, 1, 10, 50, "7"],
                               "kind": ["a", "b"], "note": [None, "", "ok"], "title": ["Заказ", "  Order 7  "]}
BROKEN: dict[str, list[Any]] = {"amount": ["-5", "1.234"], "qty": [0, 101], "kind": [None, "zzz"],
                                "note": ["длинная заметка"], "title": ["", "   "]}


def values_of(key: str) -> st.SearchStrategy[Any]:
    """Mostly valid values, sometimes one that breaks the field's rules."""
    return st.sampled_from(VALID[key] * 3 + BROKEN[key])


field_values = {key: values_of(key) for key in ("amount", "qty", "kind", "note")}
create_values = st.fixed_dictionaries({"title": values_of("title")}, optional=field_values)
update_values = st.fixed_dictionaries({}, optional={"title": values_of("title"), **field_values})


def prepare_template(folder: Path) -> Path:
    """A deployed database with the users, copied for each run of the machine (deploying is the slow part)."""
    definitions = folder / "definitions"
    definitions.mkdir()
    for document in (ROLES, PROCESS):
        (definitions / f"{document.get('id', 'roles')}.yaml").write_text(to_yaml(document), encoding="utf-8")
    path = folder / "template.db"
    url = f"sqlite:///{path}"
    deploy.apply(deploy.load_desired([definitions]), url)
    with Engine(url) as admin:
        for login, roles in USERS.items():
            if login is not None:
                admin.add_user(login, login.title(), list(roles))
    return path


class OrdersMachine(RuleBasedStateMachine):
    items = Bundle("items")

    def __init__(self, template: Path, folder: Path, run: int) -> None:
        super().__init__()
        path = folder / f"run{run}.db"
        with closing(sqlite3.connect(template)) as source, closing(sqlite3.connect(path)) as target:
            source.backup(target)
        self.path = path
        self.url = f"sqlite:///{path}"
        self.admin = Engine(self.url)
        self.raw = sa.create_engine(self.url)
        ids = {u["login"]: u["id"] for u in self.admin.users()}
        self.who = {login: Who(login, ids.get(login), roles) for login, roles in USERS.items()}
        self.model: dict[int, Item] = {}

    def teardown(self) -> None:
        self.admin.close()
        self.raw.dispose()
        for suffix in ("", "-wal", "-shm"):
            Path(f"{self.path}{suffix}").unlink(missing_ok=True)

    def engine(self, login: str | None) -> Engine:
        return self.admin.as_user(login)

    def expect(self, expected: type[Exception] | None, action: Any) -> Any:
        """Run action; it must succeed when expected is None, else raise exactly expected."""
        try:
            result = action()
        except (ConflictError, InvalidValue, NotFound, PermissionDenied, TransitionNotAllowed) as exc:
            assert expected is not None, f"the model expected success, the engine said {type(exc).__name__}: {exc}"
            assert type(exc) is expected, f"expected {expected.__name__}, got {type(exc).__name__}: {exc}"
            return None
        assert expected is None, f"the model expected {expected.__name__}, the engine succeeded ({result!r})"
        return result

    # ---- rules -------------------------------------------------------------------------

    @initialize(target=items, seeds=st.lists(st.tuples(st.sampled_from(["boss", "sam", "sue", "vera", "max"]),
                                                       st.integers(0, 3), st.sampled_from(["100", "100", "100", None])),
                                             min_size=1, max_size=4))
    def seed(self, seeds: list[tuple[str, int, str | None]]) -> Any:
        """A few items to work on from the first step, created by users who may create and taken by the
        local administrator some way along new → work → check → won (as far as the rules let them), so
        every stage is reached early."""
        created = []
        for n, (login, depth, amount) in enumerate(seeds, 1):
            item_id = self.create(login, {"title": f"Заказ {n}", "qty": 10 * n, "amount": amount})
            for stage in ("work", "check", "won")[:depth]:
                self.move(None, item_id, stage, stale=False)
            created.append(item_id)
        return multiple(*created)

    @rule(target=items, login=logins, values=create_values)
    def create(self, login: str | None, values: dict[str, Any]) -> Any:
        who = self.who[login]
        parsed = {k: parse(k, v) for k, v in values.items()}
        expected: type[Exception] | None = None
        final = {"amount": None, "qty": None, "kind": "a", "note": None,
                 **{k: v for k, v in parsed.items() if k != "title"}}
        if who.levels["create"] == "none":
            expected = PermissionDenied
        elif INVALID in parsed.values() or final["kind"] is None:
            expected = InvalidValue
        item_id = self.expect(expected, lambda: self.engine(login).create("orders", values))
        if item_id is None:
            return multiple()
        assert item_id not in self.model
        self.model[item_id] = Item(item_id, who.id, parsed["title"], final)
        return item_id

    @rule(login=logins, item_id=items, values=update_values, stale=st.booleans())
    def update(self, login: str | None, item_id: int, values: dict[str, Any], stale: bool) -> None:
        who, item = self.who[login], self.model[item_id]
        expected_version = item.version - 1 if stale else None
        parsed = {k: parse(k, v) for k, v in values.items()}
        current = {"title": item.title, **item.values}
        changes = {k: v for k, v in parsed.items() if current[k] != v}
        after = {**item.values, **{k: v for k, v in changes.items() if k != "title"}}
        expected: type[Exception] | None = None
        if item.deleted or not who.reaches("read", item):
            expected = NotFound
        elif not who.reaches("update", item):
            expected = PermissionDenied
        elif stale:  # refused even when nothing would change: the caller decided on a stale copy
            expected = ConflictError
        elif INVALID in parsed.values():
            expected = InvalidValue
        elif not changes:
            expected = None
        elif after["kind"] is None or (item.stage == "check" and "amount" in changes and after["amount"] is None):
            expected = InvalidValue
        result = self.expect(expected, lambda: self.engine(login).update("orders", item_id, values,
                                                                         expected_version=expected_version))
        if expected is None:
            assert set(result) == set(changes)
            if changes:
                item.title = changes.get("title", item.title)
                item.values = after
                item.version += 1
                item.history += len(changes)

    @rule(login=logins, item_id=items, stage=st.sampled_from(STAGES), stale=st.booleans())
    def move(self, login: str | None, item_id: int, stage: str, stale: bool) -> None:
        target = stage
        who, item = self.who[login], self.model[item_id]
        expected: type[Exception] | None = None
        if item.deleted or not who.reaches("read", item):
            expected = NotFound
        elif who.levels["move"] == "none" or not who.reaches("move", item):
            expected = PermissionDenied  # no right to move this item at all: rights first, then the move's rules
        elif stale or target == item.stage:
            expected = ConflictError
        elif move_refused(who, item, target):
            expected = TransitionNotAllowed
        result = self.expect(expected, lambda: self.engine(login).move(
            "orders", item_id, target, expected_version=item.version - 1 if stale else None))
        if expected is None:
            assert result == {"from": item.stage, "to": target, "pipeline": "main", "version": item.version + 1}
            item.stage = target
            item.version += 1
            item.history += 1

    def live(self) -> list[int]:
        return sorted(i.id for i in self.model.values() if not i.deleted)

    @precondition(lambda self: self.live())
    @rule(login=st.sampled_from([None, "boss", "sam", "sue", "max"]), data=st.data())
    def move_onward(self, login: str | None, data: st.DataObject) -> None:
        """A move of a live item along a transition of its stage, by someone who may move some items
        (random items, stages and users rarely make one: this one takes items deeper into the pipeline)."""
        item_id = data.draw(st.sampled_from(self.live()), label="item_id")
        onward = sorted(t for s, t in TRANSITIONS if s == self.model[item_id].stage and t != "lost")  # a sink
        if onward:
            self.move(login, item_id, data.draw(st.sampled_from(onward), label="stage"), stale=False)

    @precondition(lambda self: self.live())
    @rule(login=logins, values=update_values, data=st.data())
    def update_live(self, login: str | None, values: dict[str, Any], data: st.DataObject) -> None:
        """An update of a live item (one in the bundle may be in the recycle bin)."""
        self.update(login, data.draw(st.sampled_from(self.live()), label="item_id"), values, stale=False)

    @rule(login=logins, item_id=items)
    def delete(self, login: str | None, item_id: int) -> None:
        who, item = self.who[login], self.model[item_id]
        expected: type[Exception] | None = None
        if item.deleted or not who.reaches("read", item):
            expected = NotFound
        elif not who.reaches("delete", item):
            expected = PermissionDenied
        if self.expect(expected, lambda: self.engine(login).delete("orders", item_id)) is not None:
            item.deleted = True
            item.version += 1
            item.history += 1

    @rule(login=logins, item_id=items)
    def restore(self, login: str | None, item_id: int) -> None:
        who, item = self.who[login], self.model[item_id]
        expected: type[Exception] | None = None
        if not item.deleted or not who.reaches("read", item):
            expected = NotFound
        elif not who.reaches("delete", item):
            expected = PermissionDenied
        self.expect(expected, lambda: self.engine(login).restore("orders", item_id))
        if expected is None:
            item.deleted = False
            item.version += 1
            item.history += 1

    @precondition(lambda self: self.model)
    @rule(login=logins, action=st.sampled_from(["update", "move", "delete", "restore"]))
    def missing_item(self, login: str | None, action: str) -> None:
        crm = self.engine(login)
        calls = {"update": lambda: crm.update("orders", MISSING, {"title": "x"}),
                 "move": lambda: crm.move("orders", MISSING, "work"),
                 "delete": lambda: crm.delete("orders", MISSING),
                 "restore": lambda: crm.restore("orders", MISSING)}
        self.expect(NotFound, calls[action])

    # ---- the database agrees -------------------------------------------------------------

    @invariant()
    def database_agrees_with_the_model(self) -> None:
        shown = self.admin.list("orders", limit=10_000)
        live = sorted((i for i in self.model.values() if not i.deleted), key=lambda i: i.id)
        assert [row["id"] for row in shown] == [i.id for i in live]
        for row, item in zip(shown, live, strict=True):
            amount = row["amount"]["amount"] if row["amount"] is not None else None
            got = (row["title"], row["stage"], row["version"], row["created_by"], row["assigned_to"],
                   amount, row["qty"], row["kind"], row["note"])
            want = (item.title, item.stage, item.version, item.owner, item.owner,
                    item.values["amount"], item.values["qty"], item.values["kind"], item.values["note"])
            assert got == want, (item.id, got, want)
        with self.raw.connect() as connection:
            binned = set(connection.execute(sa.text("SELECT id FROM p_orders WHERE deleted_at IS NOT NULL")).scalars())
            versions = dict(connection.execute(sa.text("SELECT id, version FROM p_orders")).all())
            history = dict(connection.execute(sa.text(
                "SELECT item_id, count(*) FROM sf_history WHERE process = 'orders' GROUP BY item_id")).all())
        assert binned == {i.id for i in self.model.values() if i.deleted}
        assert versions == {i.id: i.version for i in self.model.values()}
        assert history == {i.id: i.history for i in self.model.values()}
        for login in ("vera", "sam", "ann"):  # reads own; reads all but may change own; reads only
            who = self.who[login]
            visible = [row["id"] for row in self.engine(login).list("orders", limit=10_000)]
            assert visible == [i.id for i in live if who.reaches("read", i)], login


def test_random_operations_by_random_users_agree_with_the_model(tmp_path: Path) -> None:
    template = prepare_template(tmp_path)
    runs = iter(range(1_000_000))
    run_state_machine_as_test(
        lambda: OrdersMachine(template, tmp_path, next(runs)),
        settings=settings(max_examples=25, stateful_step_count=40, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much]),
    )
    shutil.rmtree(tmp_path / "definitions")
