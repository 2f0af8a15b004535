"""The permission matrix: every level × every action × every path, allowed or denied exactly.

Subjects (all in department `sales`, except `s_east` in its sub-department `sales_east`) each hold
roles at one level; the expected answer for every item is computed from a small reference model of
the rules (own: created by or assigned to the user; department: by or to anyone in the user's
department and its sub-departments; all; none), and compared with what every path returns.
A read that is denied must look exactly like an item that does not exist.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from functools import cached_property
from typing import Any

import pytest

from smartflow import Engine
from smartflow.definitions.model import ACTIONS
from smartflow.errors import NotDeployed, NotFound, PermissionDenied, TransitionNotAllowed
from smartflow.runtime.compiled import CompiledDefinition
from tests.runtime.support import Db, module_url

__all__ = ["module_url"]  # the fixture, imported for pytest

STAGES = ("new", "work", "won", "lost")
MISSING = 999_999

ROLES = {"kind": "Roles", "roles": {
    "r_none": {"title": "None"}, "r_own": {"title": "Own"}, "r_dept": {"title": "Department"},
    "r_all": {"title": "All"}, "r_read_all": {"title": "Reads everything"},
    "r_stages": {"title": "Moves into work only"}, "r_stages_b": {"title": "Moves own into lost"},
}}


def matrix_process(process_id: str) -> dict[str, Any]:
    return {
        "kind": "Process", "id": process_id, "title": {"ru": "Сделка", "en": "Deal"},
        "features": {"recycle_bin": True},
        "fields": {"amount": {"type": "money", "currency": "RUB"}},
        "pipelines": {"main": {"title": "Main", "default": True, "stages": {
            "new": {"title": "New"}, "work": {"title": "Work"},
            "won": {"title": "Won", "semantic": "success"}, "lost": {"title": "Lost", "semantic": "failure"}}}},
        "permissions": {
            "r_none": "none", "r_own": "own", "r_dept": "department", "r_all": "all",
            "r_read_all": {"read": "all"},
            "r_stages": {"read": "all", "create": "all", "update": "all", "move": "all", "stages": ["work"]},
            "r_stages_b": {"read": "own", "move": "own", "stages": ["lost"]},
        },
    }


DEPARTMENTS = {"sales": None, "sales_east": "sales", "support": None}
USERS: dict[str, tuple[tuple[str, ...], str]] = {  # login → (roles, department)
    "s_none": (("r_none",), "sales"),
    "s_norole": ((), "sales"),
    "s_own": (("r_own",), "sales"),
    "s_dept": (("r_dept",), "sales"),
    "s_all": (("r_all",), "sales"),
    "s_multi": (("r_none", "r_own", "r_dept"), "sales"),  # the highest level wins: department
    "s_mixed": (("r_own", "r_read_all"), "sales"),  # read: all from one role, the rest own from the other
    "s_east": (("r_dept",), "sales_east"),  # department = sales_east only, not its parent
    "peer": ((), "sales"),
    "east": ((), "sales_east"),
    "outsider": ((), "support"),
    "s_stages": (("r_stages",), "sales"),
    "s_stages2": (("r_stages", "r_stages_b"), "sales"),
    "s_free": (("r_stages", "r_all"), "sales"),
}
SUBJECTS = ("s_none", "s_norole", "s_own", "s_dept", "s_all", "s_multi", "s_mixed", "s_east")
LEVELS: dict[str, dict[str, str]] = {
    "s_none": dict.fromkeys(ACTIONS, "none"),
    "s_norole": dict.fromkeys(ACTIONS, "none"),
    "s_own": dict.fromkeys(ACTIONS, "own"),
    "s_dept": dict.fromkeys(ACTIONS, "department"),
    "s_all": dict.fromkeys(ACTIONS, "all"),
    "s_multi": dict.fromkeys(ACTIONS, "department"),
    "s_mixed": {**dict.fromkeys(ACTIONS, "own"), "read": "all"},
    "s_east": dict.fromkeys(ACTIONS, "department"),
    "s_stages": {**dict.fromkeys(ACTIONS, "none"), "read": "all", "create": "all", "update": "all", "move": "all"},
    "s_stages2": {**dict.fromkeys(ACTIONS, "none"), "read": "all", "create": "all", "update": "all", "move": "all"},
    "s_free": dict.fromkeys(ACTIONS, "all"),
}
# An item's relation to the subject: (creator, assignee); "@" stands for the subject itself.
RELATIONS: dict[str, tuple[str | None, str | None]] = {
    "created": ("@", "outsider"),
    "assigned": ("outsider", "@"),
    "peer": ("peer", "peer"),  # same department as the subjects
    "east": ("outsider", "east"),  # assigned into the sub-department
    "outside": ("outsider", "outsider"),
    "orphan": (None, None),  # created by the local administrator, assigned to nobody
}
SHARED = ("peer", "east", "outside", "orphan")
WRITES = ("update", "move", "delete", "restore")


def _subtree(department: str) -> set[str]:
    found = {department}
    while True:
        more = {d for d, parent in DEPARTMENTS.items() if parent in found} - found
        if not more:
            return found
        found |= more


def colleagues(login: str) -> set[str]:
    departments = _subtree(USERS[login][1])
    return {user for user, (_, department) in USERS.items() if department in departments}


def reaches(login: str, action: str, people: tuple[str | None, str | None]) -> bool:
    """The reference model of the rules: may login take action on an item with these (creator, assignee)?"""
    level = LEVELS[login][action]
    if level == "all":
        return True
    if level == "own":
        return login in people
    if level == "department":
        return bool(set(people) & colleagues(login))
    return False


@dataclass
class Matrix:
    db: Db
    people: dict[int, tuple[str | None, str | None]]  # deal id → (creator, assignee)
    amounts: dict[int, Decimal]
    stages: dict[int, str]
    tasks: dict[tuple[str, str], dict[str, int]]  # (subject, write) → relation → a task id of its own

    def engine(self, login: str | None = None) -> Engine:
        return self.db.as_user(login)

    @cached_property
    def compiled(self) -> CompiledDefinition:
        return CompiledDefinition(self.db.desired.definition, 1)


def _people(relation: str, subject: str) -> tuple[str | None, str | None]:
    creator, assignee = RELATIONS[relation]
    return (subject if creator == "@" else creator), (subject if assignee == "@" else assignee)


def make_items(db: Db, process: str, wanted: list[tuple[str | None, str | None]],
               stage: Callable[[int], str] = lambda _: "new",
               amount: Callable[[int], Decimal] = lambda _: Decimal(1)) -> list[int]:
    """Items with the given (creator, assignee), created by the local administrator, creators and assignees
    set after (some hold no right in the process, which an assignment through the services refuses)."""
    ids = [db.admin.create(process, {"title": f"item {n}", "amount": amount(n)}, stage=stage(n))
           for n in range(len(wanted))]
    db.set_creators(process, {i: creator for i, (creator, _) in zip(ids, wanted, strict=True)})
    db.set_assignees(process, {i: assignee for i, (_, assignee) in zip(ids, wanted, strict=True)})
    return ids


@pytest.fixture(scope="module")
def matrix(module_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Matrix]:
    db = Db(module_url, tmp_path_factory.mktemp("defs"), ROLES, matrix_process("deal"), matrix_process("task"))
    crm = db.admin
    for department, parent in DEPARTMENTS.items():
        crm.add_department(department, department.title(), parent)
    for login, (roles, department) in USERS.items():
        crm.add_user(login, login.title(), roles, department)
    wanted = [_people(relation, subject) for subject in SUBJECTS for relation in ("created", "assigned")]
    wanted += [RELATIONS[relation] for relation in SHARED]
    ids = make_items(db, "deal", wanted, stage=lambda n: STAGES[n % 4], amount=lambda n: Decimal(2) ** n)
    # a deleted item everyone could otherwise see: no path shows it
    hidden = crm.create("deal", {"title": "deleted", "amount": 1_000_000_000})
    db.set_assignees("deal", {hidden: "peer"})
    crm.delete("deal", hidden)
    # tasks for the write tests, one per subject × write × relation; those to restore are in the bin
    keys = [(subject, action, relation) for subject in SUBJECTS for action in WRITES for relation in RELATIONS]
    task_ids = db.insert_items("task", [
        {"created_by": people[0], "assigned_to": people[1],
         "deleted_at": datetime.now(UTC) if action == "restore" else None}
        for subject, action, relation in keys for people in [_people(relation, subject)]])
    tasks: dict[tuple[str, str], dict[str, int]] = {}
    for (subject, action, relation), task_id in zip(keys, task_ids, strict=True):
        tasks.setdefault((subject, action), {})[relation] = task_id
    yield Matrix(db, dict(zip(ids, wanted, strict=True)), {i: Decimal(2) ** n for n, i in enumerate(ids)},
                 {i: STAGES[n % 4] for n, i in enumerate(ids)}, tasks)
    db.close()


def visible(matrix: Matrix, login: str) -> list[int]:
    return sorted(i for i, people in matrix.people.items() if reaches(login, "read", people))


def assert_hidden_like_missing(call: Callable[[int], Any], process: str, item_id: int, suffix: str = "") -> None:
    """A denied read: the same exception type, message shape and hint as an id that does not exist."""
    with pytest.raises(NotFound) as hidden:
        call(item_id)
    with pytest.raises(NotFound) as missing:
        call(MISSING)
    assert type(hidden.value) is type(missing.value) is NotFound
    assert str(hidden.value) == f"{process} {item_id} not found{suffix}"
    assert str(missing.value) == f"{process} {MISSING} not found{suffix}"
    assert hidden.value.hint == missing.value.hint


def missing_process(login: str, process: str, call: Callable[[str], Any]) -> bool:
    """For a subject with no right at all in the process: it is missing to them, exactly as a process
    that does not exist (same error, message shape and hint); True then, False for anyone else."""
    if any(level != "none" for level in LEVELS[login].values()):
        return False
    with pytest.raises(NotDeployed) as hidden:
        call(process)
    with pytest.raises(NotDeployed) as missing:
        call("nowhere")
    assert str(hidden.value) == f"there is no process `{process}`"
    assert str(missing.value) == "there is no process `nowhere`"
    assert hidden.value.hint == missing.value.hint
    assert process not in (hidden.value.hint or "")
    return True


# ---- the reference model itself ---------------------------------------------------------


def test_the_reference_model_sees_what_the_levels_say(matrix: Matrix) -> None:
    """A sanity check of the model the other tests trust (and that the data exercise every case)."""
    by_level = {login: len(visible(matrix, login)) for login in SUBJECTS}
    assert by_level["s_none"] == by_level["s_norole"] == 0
    assert by_level["s_own"] == 2
    assert by_level["s_all"] == by_level["s_mixed"] == len(matrix.people) == 20
    # department: every subject's items (all in sales or below), peer and east; not outside, not orphan
    assert by_level["s_dept"] == by_level["s_multi"] == 18
    assert by_level["s_east"] == 3  # its own two, and the one assigned into sales_east


@pytest.mark.parametrize("login", list(LEVELS))
def test_grants_give_the_highest_level_per_action_over_all_roles(matrix: Matrix, login: str) -> None:
    """Every action, export and import included (no runtime path uses those two yet)."""
    levels, stages = matrix.compiled.processes["deal"].grants(frozenset(USERS[login][0]))
    assert levels == LEVELS[login]
    # None: every stage; a role that may not move adds no stage
    expected = {"s_none": frozenset(), "s_norole": frozenset(), "s_stages": frozenset({"work"}),
                "s_stages2": frozenset({"work", "lost"})}.get(login)
    assert stages == expected


# ---- reading: get, card, history, explain, list, count, kanban ----------------------------

ONE_ITEM_PATHS: dict[str, Callable[[Engine, int, str], Any]] = {
    "get": lambda crm, i, process="deal": crm.get(process, i),
    "card": lambda crm, i, process="deal": crm.card(process, i),
    "history": lambda crm, i, process="deal": crm.history(process, i),
    "explain": lambda crm, i, process="deal": crm.explain(process, i, "work"),
}


@pytest.mark.parametrize("path", list(ONE_ITEM_PATHS))
@pytest.mark.parametrize("login", SUBJECTS)
def test_one_item_paths_show_readable_items_and_hide_the_rest_as_missing(matrix: Matrix, login: str,
                                                                         path: str) -> None:
    call = ONE_ITEM_PATHS[path]
    crm = matrix.engine(login)
    if missing_process(login, "deal", lambda process: call(crm, 1, process)):
        return
    for item_id, people in matrix.people.items():
        if reaches(login, "read", people):
            result = call(crm, item_id)
            if path == "get":
                assert result["id"] == item_id
            elif path == "card":
                assert result["item"]["id"] == item_id
                assert result["history"][0]["kind"] == "create"
            elif path == "history":
                assert [row["kind"] for row in result] == ["create"]
            else:
                assert isinstance(result, list)
        else:
            assert_hidden_like_missing(lambda i, crm=crm: call(crm, i), "deal", item_id)


@pytest.mark.parametrize("login", SUBJECTS)
def test_list_shows_exactly_the_readable_items(matrix: Matrix, login: str) -> None:
    expected = visible(matrix, login)
    crm = matrix.engine(login)
    if missing_process(login, "deal", lambda process: crm.list(process)):
        return
    assert [i["id"] for i in crm.list("deal", limit=1000)] == expected
    assert [i["id"] for i in crm.list("deal", search="item", limit=1000)] == expected
    assert [i["id"] for i in crm.list("deal", where=["amount > 0"], limit=1000)] == expected
    paged: list[int] = []
    after = None
    while page := crm.list("deal", sort="amount:desc", limit=3, after=after):
        paged += [i["id"] for i in page]
        after = page[-1]["id"]
    assert sorted(paged) == expected
    for stage in STAGES:
        assert [i["id"] for i in crm.list("deal", stage=stage, limit=1000)] == [
            i for i in expected if matrix.stages[i] == stage]


@pytest.mark.parametrize("login", SUBJECTS)
def test_count_counts_exactly_the_readable_items(matrix: Matrix, login: str) -> None:
    expected = visible(matrix, login)
    crm = matrix.engine(login)
    if missing_process(login, "deal", lambda process: crm.count(process)):
        return
    assert crm.count("deal") == len(expected)
    assert crm.count("deal", ["stage = won"]) == len([i for i in expected if matrix.stages[i] == "won"])


@pytest.mark.parametrize("login", SUBJECTS)
def test_kanban_counts_and_sums_only_the_readable_items(matrix: Matrix, login: str) -> None:
    """Each amount is a distinct power of two, so a sum names exactly the items it added up."""
    expected = visible(matrix, login)
    crm = matrix.engine(login)
    if missing_process(login, "deal", lambda process: crm.kanban(process)):
        return
    board = crm.kanban("deal", top=50)
    assert [c["stage"] for c in board["columns"]] == list(STAGES)
    for column in board["columns"]:
        mine = [i for i in expected if matrix.stages[i] == column["stage"]]
        assert column["count"] == len(mine)
        assert column["sums"] == ({"RUB": sum(matrix.amounts[i] for i in mine)} if mine else {})
        assert sorted(card["id"] for card in column["cards"]) == mine


def test_several_roles_the_highest_level_wins(matrix: Matrix) -> None:
    """s_multi holds none, own and department: it sees what a department-level user of sales sees."""
    multi = matrix.engine("s_multi")
    dept = matrix.engine("s_dept")
    assert [i["id"] for i in multi.list("deal", limit=1000)] == [i["id"] for i in dept.list("deal", limit=1000)]
    assert multi.kanban("deal") == dept.kanban("deal")


def test_department_reaches_down_to_sub_departments_never_up(matrix: Matrix) -> None:
    east_item = next(i for i, people in matrix.people.items() if people == RELATIONS["east"])
    peer_item = next(i for i, people in matrix.people.items() if people == RELATIONS["peer"])
    sales = matrix.engine("s_dept")
    east = matrix.engine("s_east")
    assert sales.get("deal", east_item)["id"] == east_item
    assert east.get("deal", east_item)["id"] == east_item
    assert_hidden_like_missing(lambda i: east.get("deal", i), "deal", peer_item)


# ---- writing: create, update, move, delete, restore ---------------------------------------


def _state(matrix: Matrix, item_id: int) -> tuple[Any, ...]:
    """What a refused operation must leave alone: the row as stored and the history length."""
    return matrix.db.row("task", item_id), matrix.db.history_rows("task", item_id)


@pytest.mark.parametrize("action", WRITES)
@pytest.mark.parametrize("login", SUBJECTS)
def test_writes_are_allowed_or_denied_exactly(matrix: Matrix, login: str, action: str) -> None:
    items = matrix.tasks[login, action]
    right = "delete" if action == "restore" else action
    crm = matrix.engine(login)
    operations: dict[str, Callable[[int], Any]] = {
        "update": lambda i: crm.update("task", i, {"title": f"changed by {login}"}),
        "move": lambda i: crm.move("task", i, "work"),
        "delete": lambda i: crm.delete("task", i),
        "restore": lambda i: crm.restore("task", i),
    }
    run = operations[action]
    others = {"update": lambda p, i: crm.update(p, i, {"title": "x"}), "move": lambda p, i: crm.move(p, i, "work"),
              "delete": crm.delete, "restore": crm.restore}
    before_all = {i: _state(matrix, i) for i in items.values()}
    if missing_process(login, "task", lambda process: others[action](process, next(iter(items.values())))):
        assert {i: _state(matrix, i) for i in items.values()} == before_all
        return
    for relation, item_id in items.items():
        people = _people(relation, login)
        before = _state(matrix, item_id)
        if not reaches(login, "read", people):
            suffix = " in the recycle bin" if action == "restore" else ""
            assert_hidden_like_missing(run, "task", item_id, suffix)
        elif not reaches(login, right, people):
            level = LEVELS[login][right]
            # a move too: no right to move the item at all is a refusal of rights, not of the move's rules
            with pytest.raises(PermissionDenied) as denied:
                run(item_id)
            reason = ""
            if action == "move":
                reason = (": your roles do not allow moving items of this process" if level == "none" else
                          f": your roles allow moving only {level} items (`move: {level}`), and this item is not one")
            assert str(denied.value) == f"you may not {right} task {item_id}{reason}"
            assert denied.value.hint == f"your roles allow `{right}: {level}`"
        else:
            run(item_id)
            _assert_done(matrix, action, item_id, login)
            continue
        assert _state(matrix, item_id) == before, f"{relation}: something was written"


def _assert_done(matrix: Matrix, action: str, item_id: int, login: str) -> None:
    admin = matrix.db.admin
    if action == "delete":
        with pytest.raises(NotFound):
            admin.get("task", item_id)
        assert matrix.db.count("p_task", "id = :i AND deleted_at IS NOT NULL", i=item_id) == 1
        return
    item = admin.get("task", item_id)
    last = admin.history("task", item_id)[-1]
    assert last["who"] == login
    if action == "update":
        assert item["title"] == f"changed by {login}"
        assert (last["kind"], last["field"], last["new"]) == ("update", "title", f"changed by {login}")
    elif action == "move":
        assert item["stage"] == "work"
        assert (last["kind"], last["old"], last["new"]) == ("move", "new", "work")
    else:
        assert last["kind"] == "restore"


@pytest.mark.parametrize("login", SUBJECTS)
def test_create_needs_the_create_right(matrix: Matrix, login: str) -> None:
    before = matrix.db.count("p_task")
    crm = matrix.engine(login)
    if missing_process(login, "task", lambda process: crm.create(process, {"title": "mine"})):
        assert matrix.db.count("p_task") == before
        return
    if LEVELS[login]["create"] == "none":
        with pytest.raises(PermissionDenied, match=r"^you may not create task items$"):
            crm.create("task", {"title": "mine"})
        assert matrix.db.count("p_task") == before
        return
    item_id = crm.create("task", {"title": "mine"})
    item = crm.get("task", item_id)  # own is always within reach of the creator
    login_id = matrix.db.user_id(login)
    assert (item["created_by"], item["assigned_to"]) == (login_id, login_id)


# ---- stage restrictions ---------------------------------------------------------------------


@pytest.mark.parametrize(("login", "stage", "allowed"), [
    ("s_stages", "work", True), ("s_stages", "won", False), ("s_stages", "lost", False),
    ("s_stages2", "work", True), ("s_stages2", "lost", False), ("s_stages2", "won", False),
    ("s_free", "won", True),  # a role without `stages:` lifts the restriction
])
def test_stage_restrictions_refuse_moves_into_other_stages(matrix: Matrix, login: str, stage: str,
                                                           allowed: bool) -> None:
    [item_id] = fresh_items_of(matrix, [("outsider", "outsider")])
    crm = matrix.engine(login)
    problems = crm.explain("task", item_id, stage)
    if allowed:
        assert problems == []
        assert crm.move("task", item_id, stage)["to"] == stage
        return
    reason = f"your roles may not move items into stage `{stage}`"
    if login == "s_stages2" and stage == "lost":  # `lost` comes with `move: own`, and the item is not theirs
        reason = "none of your roles both reaches this item and may move items into stage `lost`"
    assert problems == [reason]
    with pytest.raises(TransitionNotAllowed) as refused:
        crm.move("task", item_id, stage)
    assert refused.value.reasons == [reason]
    assert str(refused.value) == f"task {item_id} cannot move from `new` to `{stage}`: {reason}"
    assert crm.get("task", item_id)["stage"] == "new"


def fresh_items_of(matrix: Matrix, people: list[tuple[str | None, str | None]]) -> list[int]:
    return matrix.db.insert_items("task", [{"created_by": c, "assigned_to": a} for c, a in people])


def test_stage_restrictions_apply_to_creating_in_a_later_stage(matrix: Matrix) -> None:
    crm = matrix.engine("s_stages")
    assert crm.get("task", crm.create("task", {"title": "a"}))["stage"] == "new"  # the first stage is free
    assert crm.get("task", crm.create("task", {"title": "b"}, stage="work"))["stage"] == "work"
    before = matrix.db.count("p_task")
    with pytest.raises(PermissionDenied, match=r"^you may not put items into stage `won`$"):
        crm.create("task", {"title": "c"}, stage="won")
    assert matrix.db.count("p_task") == before


def test_explain_lists_the_level_and_the_stage_problem_together(matrix: Matrix) -> None:
    """s_stages2 moves own items into lost, and any item into work: never an outsider's item into won."""
    [item_id] = fresh_items_of(matrix, [("outsider", "outsider")])
    [own_item] = fresh_items_of(matrix, [("s_own", "s_own")])
    assert matrix.engine("s_own").explain("task", own_item, "won") == []
    assert matrix.engine("s_stages2").explain("task", item_id, "won") == [
        "your roles may not move items into stage `won`"]
    [their_item] = fresh_items_of(matrix, [("s_stages2", "s_stages2")])
    assert matrix.engine("s_stages2").explain("task", their_item, "lost") == []  # their own item: allowed
    assert matrix.engine("s_mixed").explain("task", item_id, "won") == [  # may read it, may not move it
        "your roles allow moving only own items (`move: own`), and this item is not one"]
