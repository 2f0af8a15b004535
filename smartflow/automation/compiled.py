"""Triggers compiled once per deployed version: when each listens, when a delayed one is due, its texts.

The bottom of automation: actions and the trigger runner both stand on it.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any

from smartflow.automation import evaluator
from smartflow.definitions.calendars import DEFAULT, Calendar
from smartflow.definitions.durations import AT as _AT
from smartflow.definitions.durations import DURATION as _DURATION
from smartflow.definitions.durations import shift
from smartflow.definitions.expressions import environment, is_template, parse_condition
from smartflow.definitions.model import Process, Trigger
from smartflow.definitions.sandbox import render, runs_straight
from smartflow.errors import AutomationFailed
from smartflow.runtime.events import Event


def due_time(trigger: Trigger, item: dict[str, Any], now: datetime, calendar: Calendar = DEFAULT) -> datetime | None:
    """When a delayed trigger comes due for item (None: its date field is empty).

    `wd` and `wh` count the working days and hours of calendar (the process's working_hours).
    """
    if trigger.after:
        match = _DURATION.match(trigger.after)
        assert match is not None
        return shift(now, int(match.group(1)), match.group(2), calendar)
    match = _AT.match(trigger.at or "")
    assert match is not None
    base = item.get(match.group(1))
    if base is None:
        return None
    if isinstance(base, date) and not isinstance(base, datetime):
        base = calendar.morning(base).astimezone(now.tzinfo or UTC)  # the working morning of that day
    if match.group(3):
        offset = _DURATION.match(match.group(3))
        assert offset is not None
        amount = int(offset.group(1)) * (-1 if match.group(2) == "-" else 1)
        base = shift(base, amount, offset.group(2), calendar)
    return max(base, now)


# ---- compiled triggers -------------------------------------------------------------


class CompiledTrigger:
    """A trigger with its condition and templates compiled once per deployed version.

    A condition or template that cannot loop or call (sandbox.runs_straight) is evaluated here, without
    the trace function (its time is bounded by its inputs; the sandbox's checks still hold); any
    other goes to a child process of the evaluator's pool, killed when it runs over time or memory.
    """

    def __init__(self, process: Process, trigger: Trigger) -> None:
        env = environment()
        self.process = process
        self.trigger = trigger
        self.name = f"{process.id}.{trigger.id}"
        self.via = f"trigger:{self.name}"  # what history says its changes came through
        self.identity: Any = None  # its own Actor (triggers.service_actor), made on first use
        self._names: dict[tuple[int, tuple[str, ...]], frozenset[str]] = {}
        self.calendar = Calendar.of(process.working_hours)  # validated: the zone and the country exist
        # undefined_to_none=False keeps StrictUndefined strict: a condition reading a name or an attribute
        # that is not there (or is unsafe, like `__class__`) fails instead of counting as false
        self.condition = env.compile_expression(trigger.when, undefined_to_none=False) if trigger.when else None
        node = parse_condition(trigger.when)[0] if trigger.when else None
        self.cheap_condition = node is not None and runs_straight(node)
        self.templates: dict[str, Any] = {}
        self.sources: dict[str, str] = {}
        self.cheap: set[str] = set()
        for index, action in enumerate(trigger.do):
            for key, source in _template_sources(action.kind, action.params):
                name = f"{index}.{key}"
                self.templates[name] = env.from_string(source)
                self.sources[name] = source
                if runs_straight(env.parse(source)):
                    self.cheap.add(name)

    def holds(self, values: dict[str, Any]) -> bool:
        """Whether the trigger's condition holds for these values (True without one)."""
        if self.condition is None:
            return True
        if self.cheap_condition:
            return bool(self.condition(**values))
        return evaluator.shared().condition(self.trigger.when or "", values)

    @property
    def delayed(self) -> bool:
        return bool(self.trigger.after or self.trigger.at)

    def listens(self, event: Event, item: dict[str, Any]) -> bool:
        trigger = self.trigger
        if trigger.pipeline and item.get("pipeline") != trigger.pipeline:
            return False
        if trigger.on == "scheduled":
            at_field = _AT.match(trigger.at or "")
            return at_field is not None and (
                event.kind == "created" or (event.kind == "field_changed" and event.field == at_field.group(1)))
        if trigger.on != event.kind:
            return False
        if event.kind in ("stage_entered", "stage_left"):
            return trigger.stage == event.stage
        if event.kind == "field_changed":
            if trigger.field != event.field:
                return False
            return trigger.to is None or _same(trigger.to, event.value)
        return True

    def text(self, index: int, key: str, values: dict[str, Any]) -> str:
        name = f"{index}.{key}"
        if name in self.cheap:
            return render(self.templates[name], values, seconds=None)
        return evaluator.shared().template(self.sources[name], values)

    def names_used(self, index: int, *keys: str) -> frozenset[str]:
        """The names the action's templates under keys read (those it has), parsed once."""
        found = self._names.get((index, keys))
        if found is None:
            from smartflow.definitions.expressions import names_used, parse_template

            names: set[str] = set()
            for key in keys:
                source = self.sources.get(f"{index}.{key}")
                if source:
                    node, _ = parse_template(source)  # validated at deploy: it parses
                    names |= names_used(node) if node is not None else set()
            found = self._names[(index, keys)] = frozenset(names)
        return found


def _same(expected: Any, actual: Any) -> bool:
    if isinstance(actual, dict) and "amount" in actual:
        actual = actual["amount"]
    if isinstance(actual, (date, datetime)):
        actual = actual.isoformat()
    return str(expected).lower() == str(actual).lower() if isinstance(expected, (str, bool)) else expected == actual


def _template_sources(kind: str, params: Any) -> list[tuple[str, str]]:
    if kind == "comment":
        return [("comment", params)]
    if kind == "todo":
        return [("title", params["title"])]
    if kind == "notify":
        return [(key, params[key]) for key in ("subject", "message") if key in params]
    if kind == "webhook":
        return [("body", params["body"])] if "body" in params else []
    if kind == "set":
        return [(f"set.{k}", v) for k, v in params.items() if is_template(v)]
    if kind == "create_item":
        out = [("title", params["title"])] if "title" in params else []
        return out + [(f"fields.{k}", v) for k, v in (params.get("fields") or {}).items() if is_template(v)]
    return []


def plain_json(text: str) -> Any:
    """A webhook body must be JSON; the message says where it is not."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise AutomationFailed(f"the webhook body is not JSON: {exc}") from None
