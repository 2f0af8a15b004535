"""Automation: triggers fire on item events and run actions through the same services as people.

Synchronous actions run in the transaction of the change that fired them: all or nothing.
Delayed ones (`after:`, `at:`) become rows in sf_jobs that a worker runs when due;
messages and webhooks become rows in sf_outbox, delivered only after commit.

Loops are contained: every action carries its causation chain (root event, depth); the
depth is capped, each root event has an action budget, and the same trigger runs once per
item within one chain. When a cap is hit the chain stops and one error is recorded in the
item's history; what ran before stays (the item is in the state the last action left it).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from functools import cached_property
from typing import Any

import sqlalchemy as sa
from jinja2.sandbox import SecurityError

from smartflow.automation.actions import run_action
from smartflow.automation.compiled import CompiledTrigger, due_time
from smartflow.definitions.model import Process
from smartflow.errors import AutomationFailed, ItemError
from smartflow.runtime import fields
from smartflow.runtime.access import Actor, hidden_fields
from smartflow.runtime.compiled import Lazy
from smartflow.runtime.events import Event
from smartflow.runtime.items import _record, built, fetch_unfiltered
from smartflow.runtime.people import resolve_actor
from smartflow.runtime.rules import context

MAX_DEPTH = 8
ACTION_BUDGET = 64


class Chain:
    """The causation of an action: its root event, its depth, and what the root may still spend.

    A child (one level deeper) shares everything else with its parent: the root, the budget, the
    triggers seen, whether the chain was stopped, the items as last left."""

    __slots__ = ("_root", "budget", "current", "depth", "seen", "stopped")

    def __init__(self, root: str | None = None, depth: int = 0) -> None:
        self._root = [root] if root else []  # drawn when first asked for (a job's payload, a stop)
        self.depth = depth
        self.budget = [ACTION_BUDGET]
        self.seen: set[tuple[str, str, int]] = set()
        self.stopped = [False]
        # each item as the last change to it left it, read once per change by fire(): an action that
        # changes the item publishes a change of its own, whose fire() reads and records it here
        self.current: dict[tuple[str, int], dict[str, Any] | None] = {}

    @property
    def root(self) -> str:
        """The root event's id, a random one drawn on first use (most chains never need it, and
        drawing one costs a system call)."""
        if not self._root:
            self._root.append(uuid.uuid4().hex)
        return self._root[0]

    def child(self) -> Chain:
        child = object.__new__(Chain)
        child._root, child.budget, child.seen = self._root, self.budget, self.seen
        child.stopped, child.current = self.stopped, self.current
        child.depth = self.depth + 1
        return child


class Automation:
    """The triggers of a deployed version, indexed by process."""

    def __init__(self, processes: list[Process]) -> None:
        # a process's triggers compiled when it first changes: a command that changes one item compiles
        # that process's conditions and templates, not every process's (its working-hours calendar, its
        # Jinja2 templates: milliseconds each)
        self.by_process: Lazy[Process, list[CompiledTrigger]] = Lazy(
            {process.id: process for process in processes},
            lambda process: [CompiledTrigger(process, trigger) for trigger in process.triggers])

    def matching(self, process_id: str, events: list[Event], item: dict[str, Any]) -> list[CompiledTrigger]:
        return [t for t in self.by_process.get(process_id, []) if any(t.listens(e, item) for e in events)]

    @cached_property
    def names(self) -> dict[str, CompiledTrigger]:
        return {t.name: t for triggers in self.by_process.values() for t in triggers}

    # ---- the runtime's events.Listener -----------------------------------------------

    def watches(self, process_id: str) -> bool:
        return bool(self.by_process.get(process_id))

    def changed(self, write: Any, process_id: str, item_id: int, events: list[Event],
                item: dict[str, Any] | None = None) -> None:
        fire(write, process_id, item_id, events, item, self)

    def removed(self, write: Any, process_id: str, item_id: int, reason: str) -> None:
        drop_jobs(write, process_id, item_id, reason)


def service_actor(compiled_trigger: CompiledTrigger) -> Actor:
    """The trigger's own identity: the administrator role, named after the trigger in history (the
    same immutable Actor for every run of the trigger in a deployed version)."""
    found: Actor | None = compiled_trigger.identity
    if found is None:
        found = compiled_trigger.identity = Actor(None, f"trigger:{compiled_trigger.name}",
                                                  f"trigger {compiled_trigger.name}", frozenset({"administrator"}),
                                                  service=True)
    return found


# ---- firing --------------------------------------------------------------------------


def fire(write: Any, process_id: str, item_id: int, events: list[Event], item: dict[str, Any] | None = None,
         automation: Automation | None = None) -> None:
    """Run (or schedule) every trigger listening to events on an item; called after each change, with
    the item as the change left it when the change's own statement returned it."""
    if not write.triggers or not events:
        return
    if automation is None:
        automation = write.compiled.listener
    triggers = automation.by_process.get(process_id)
    if not triggers:
        return

    chain: Chain = write.chain or Chain()
    # at most one read per change: the triggers and their actions see the item as this change left
    # it, then as each later change (made by an action) left it (Chain.current)
    if item is None:
        item = fetch_unfiltered(write, process_id, item_id)
    chain.current[(process_id, item_id)] = item
    if item is None:
        return
    for compiled_trigger in automation.matching(process_id, events, item):
        if compiled_trigger.delayed:
            schedule(write, compiled_trigger, item, chain, events)
            continue
        key = (process_id, compiled_trigger.trigger.id, item_id)
        if key in chain.seen:
            continue  # the same trigger on the same item runs once per chain
        chain.seen.add(key)
        if not run_trigger(write, compiled_trigger, item, chain):
            return
        item = chain.current.get((process_id, item_id)) or item


def schedule(write: Any, compiled_trigger: CompiledTrigger, item: dict[str, Any], chain: Chain,
             events: list[Event]) -> None:
    """Queue a delayed trigger as a job; a rescheduled one replaces its pending job."""
    jobs = write.compiled.tables["sf_jobs"]
    trigger = compiled_trigger.trigger
    when = due_time(trigger, item, write.now, compiled_trigger.calendar)
    if trigger.on == "scheduled":
        pending = sa.and_(jobs.c.process == trigger_process(compiled_trigger), jobs.c.item_id == item["id"],
                          jobs.c.trigger == trigger.id, jobs.c.status == "pending")
        write.connection.execute(sa.update(jobs).where(pending).values(status="dropped",
                                                                       last_error="rescheduled"))
    if when is None:
        return

    write.connection.execute(built((jobs, "insert"), jobs.insert), {  # built once: cheaper than .values() per job
        "process": trigger_process(compiled_trigger), "item_id": item["id"], "trigger": trigger.id, "due_at": when,
        "status": "pending", "attempts": 0, "created_at": write.now,
        "payload": {"root": chain.root, "depth": chain.depth, "stage": item["stage"], "pipeline": item["pipeline"],
                    "events": [e.kind for e in events], "moved_at": _iso(item.get("moved_at"))},
    })


def drop_jobs(write: Any, process_id: str, item_id: int, reason: str) -> None:
    """Drop an item's pending jobs (it was deleted for good)."""
    jobs = write.compiled.tables["sf_jobs"]
    write.connection.execute(sa.update(jobs).where(jobs.c.process == process_id, jobs.c.item_id == item_id,
                                                   jobs.c.status == "pending")
                             .values(status="dropped", last_error=reason))


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def moved_since(item: dict[str, Any], payload: dict[str, Any]) -> bool:
    """Whether the item moved after its job was scheduled (left its stage and came back, say)."""
    if "moved_at" not in payload:
        return False  # a job queued before the payload recorded it
    then = payload["moved_at"]
    return item.get("moved_at") != (datetime.fromisoformat(then) if then else None)


def trigger_process(compiled_trigger: CompiledTrigger) -> str:
    return compiled_trigger.process.id


def run_trigger(write: Any, compiled_trigger: CompiledTrigger, item: dict[str, Any], chain: Chain) -> bool:
    """Check the condition and run the actions on item (as last read); False when the chain has been stopped."""

    process_id = compiled_trigger.process.id
    item_id = item["id"]
    chain.current.setdefault((process_id, item_id), item)
    if chain.stopped[0]:
        return False
    if chain.depth >= MAX_DEPTH:
        _stop(write, process_id, item_id, chain, f"depth cap {MAX_DEPTH} reached at trigger "
              f"`{compiled_trigger.name}`; the chain was stopped")
        return False
    actor = _actor(write, compiled_trigger)
    process = write.compiled.processes[process_id]
    # what the templates see, built again only when an action changed the item (the same operation
    # has the same now, today and user)
    seen: tuple[dict[str, Any] | None, dict[str, Any]] | None = None
    if compiled_trigger.condition is not None:
        values = context(process, item, write.actor)
        seen = (item, values)
        try:
            holds = compiled_trigger.holds(values)
        except Exception as exc:
            reason = str(exc)
            hidden = hidden_fields(write.actor, process)
            if hidden:
                from smartflow.definitions.expressions import names_used, parse_condition

                node, _ = parse_condition(compiled_trigger.trigger.when or "")
                if node is None or names_used(node) & hidden:  # the error's text may quote a hidden value
                    reason = "it uses a field hidden from you"
            raise AutomationFailed(f"trigger `{compiled_trigger.name}`: its condition failed: {reason}") from None
        if not holds:
            return True
    child = write.derived(actor=actor, via=compiled_trigger.via, chain=chain.child())
    for index, action in enumerate(compiled_trigger.trigger.do):
        if chain.budget[0] <= 0:
            _stop(write, process_id, item_id, chain, f"the action budget of {ACTION_BUDGET} per event was spent "
                  f"at trigger `{compiled_trigger.name}`; the chain was stopped")
            return False
        chain.budget[0] -= 1
        current = chain.current[(process_id, item_id)]
        if current is None:
            return True
        # `user` in a template is the person (or trigger) whose change fired this one
        if seen is None or seen[0] is not current:
            seen = (current, context(process, current, write.actor))
        values = seen[1]
        try:
            run_action(child, compiled_trigger, index, action, current, values)
        except SecurityError as refused:  # TemplateRefused, or the sandbox refusing `__class__` and the like
            raise AutomationFailed(f"trigger `{compiled_trigger.name}`, action {index + 1} ({action.kind}): "
                                   f"template refused: {refused}") from None
        except AutomationFailed as failed:  # the action's own failure, or that of a trigger its change fired
            raise AutomationFailed(f"trigger `{compiled_trigger.name}`, action {index + 1} ({action.kind}) "
                                   f"failed: {failed}", failed.hint) from None
        except ItemError as error:
            raise AutomationFailed(f"trigger `{compiled_trigger.name}`, action {index + 1} ({action.kind}) "
                                   f"failed: {error}", error.hint) from None
        except sa.exc.SQLAlchemyError:
            raise
        except Exception as exc:  # a template that fails as it runs: `{{ 1 // 0 }}`, `{{ title.nope }}`
            raise AutomationFailed(f"trigger `{compiled_trigger.name}`, action {index + 1} ({action.kind}) "
                                   f"failed: {type(exc).__name__}: {exc}") from None
        if chain.stopped[0]:
            return False
    return True


def _actor(write: Any, compiled_trigger: CompiledTrigger) -> Actor:
    login = compiled_trigger.trigger.run_as
    if not login:
        return service_actor(compiled_trigger)

    try:
        return resolve_actor(write.connection, write.compiled, login)
    except ItemError:
        raise AutomationFailed(f"trigger `{compiled_trigger.name}` runs as `{login}`, who does not exist",
                               "add the user, or change `run_as`") from None


def _stop(write: Any, process_id: str, item_id: int, chain: Chain, message: str) -> None:
    if chain.stopped[0]:
        return
    chain.stopped[0] = True
    # with the change's other history rows (held while its triggers run), in the order they happened
    _record(write, [{"process": process_id, "item_id": item_id, "at": write.now, "actor_id": None,
                     "kind": "automation", "field": None, "old": None, "new": {"error": message, "root": chain.root},
                     "via": "automation", "definition_version": write.compiled.version}])


def stored_plain(value: Any) -> Any:
    return fields.plain(value)
