"""`smartflow test`: run `kind: Test` scenarios against a fresh deployment of the definitions.

An interface over the services, as the CLI is.

The definitions are deployed once into a template SQLite file; every scenario starts from a
copy of it (so scenarios never see each other's items), with its own fake clock. Steps run
as given users through the same Engine a person uses; an error inside a step is that
step's failure, never a crash of the run.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from smartflow.definitions.diagnostics import Location
from smartflow.definitions.durations import parse_duration, shift
from smartflow.definitions.load import Document, JsonPath
from smartflow.errors import DefinitionError
from smartflow.records import record
from smartflow.services import deploy
from smartflow.services.engine import Engine

DEFAULT_START = "2026-01-05T09:00:00+00:00"  # a Monday morning


@record
class StepFailure:
    """The step of a scenario that failed: where it is, what it expected and what it found."""

    index: int
    location: Location
    step: str
    expected: str
    found: str


@record
class ScenarioResult:
    """One scenario's outcome: passed, or the step that failed, and how long it took."""

    file: str
    location: Location
    name: str
    failure: StepFailure | None = None
    seconds: float = 0.0

    @property
    def passed(self) -> bool:
        return self.failure is None


@record
class Run:
    """The outcome of every scenario run."""

    results: list[ScenarioResult] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def failed(self) -> list[ScenarioResult]:
        return [r for r in self.results if not r.passed]


class Mismatch(Exception):
    """An expectation that does not hold: what was expected and what was found."""

    def __init__(self, expected: str, found: str) -> None:
        super().__init__(found)
        self.expected = expected
        self.found = found


@contextmanager
def _template(paths: list[Path]) -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="smartflow-test-") as folder:
        template = Path(folder) / "template.db"
        deploy.apply(paths, f"sqlite:///{template}", actor="smartflow test")
        yield template


def run(paths: list[Path], keyword: str | None = None, stop_first: bool = False) -> Run:
    """Validate the folder, deploy it once, then run every scenario of its Test documents."""
    started = time.perf_counter()
    result = deploy.validate(paths)
    if not result.ok:
        raise DefinitionError(result)
    tests = [d for d in result.documents if d.data.get("kind") == "Test"]
    outcome = Run()
    with _template(paths) as template:
        for document in tests:
            for index, scenario in enumerate(document.data["scenarios"]):
                if keyword and keyword.casefold() not in scenario["name"].casefold():
                    continue
                outcome.results.append(_run_scenario(template, document, index, scenario))
                if stop_first and outcome.failed:
                    outcome.seconds = time.perf_counter() - started
                    return outcome
    outcome.seconds = time.perf_counter() - started
    return outcome


def _run_scenario(template: Path, document: Document, index: int, scenario: dict[str, Any]) -> ScenarioResult:
    started = time.perf_counter()
    result = ScenarioResult(document.file, document.location(("scenarios", index)), scenario["name"])
    with tempfile.TemporaryDirectory(prefix="smartflow-scenario-") as folder:
        database = Path(folder) / "scenario.db"
        shutil.copyfile(template, database)
        now = [datetime.fromisoformat(document.data.get("start") or DEFAULT_START)]
        with Engine(f"sqlite:///{database}", via="test", clock=lambda: now[0]) as engine:
            state = _State(engine, now, document)
            try:
                state.setup()
            except Exception as exc:  # a setup problem is reported, not raised
                result.failure = StepFailure(0, document.location(("users",)), "set up users and departments",
                                             "users and departments to be created", _describe_error(exc))
            for number, step in enumerate(scenario["steps"], start=1):
                if result.failure is not None:
                    break
                path: JsonPath = ("scenarios", index, "steps", number - 1)
                try:
                    state.perform(step)
                except Mismatch as mismatch:
                    result.failure = StepFailure(number, document.location(path), describe(step),
                                                 mismatch.expected, mismatch.found)
                except Exception as exc:  # any error inside a step is that step's failure
                    result.failure = StepFailure(number, document.location(path), describe(step),
                                                 "the step to succeed", _describe_error(exc))
    result.seconds = time.perf_counter() - started
    return result


def _describe_error(exc: Exception) -> str:
    from smartflow.errors import SmartflowError

    if isinstance(exc, SmartflowError):
        return f"{type(exc).__name__}: {exc}"
    return f"an internal error, {type(exc).__name__}: {exc}"


def describe(step: dict[str, Any]) -> str:
    """A step in words, for failure reports."""
    verb = next((k for k in step if k in _VERBS), "?")
    subject = step.get(verb)
    text = f"{verb} {subject}" if subject not in (None, True) else verb
    if "to" in step:
        text += f" to {step['to']}"
    if "as" in step:
        text += f" as {step['as']}"
    return text


_VERBS = ("create", "update", "move", "delete", "restore", "advance", "run_worker", "expect", "expect_count",
          "expect_outbox", "expect_inbox")


class _State:
    """One scenario's world: its engine, fake clock, and the items it named."""

    def __init__(self, engine: Any, now: list[datetime], document: Document) -> None:
        self.engine = engine
        self.now = now
        self.document = document
        self.refs: dict[str, tuple[str, int]] = {}
        self.sent: list[dict[str, Any]] = []

    def setup(self) -> None:
        data = self.document.data
        departments = data.get("departments") or {}
        pending = dict(departments)
        while pending:  # parents first
            ready = [d for d, spec in pending.items() if not spec.get("parent") or spec["parent"] not in pending]
            for department_id in ready:
                spec = pending.pop(department_id)
                self.engine.add_department(department_id, spec["title"], spec.get("parent"))
        for login, spec in (data.get("users") or {}).items():
            self.engine.add_user(login, spec.get("name", login), spec.get("roles") or [], spec.get("department"))

    def as_(self, step: dict[str, Any]) -> Any:
        return self.engine.as_user(step.get("as"))

    def item(self, ref: str) -> tuple[str, int]:
        if ref not in self.refs:
            raise Mismatch(f"an item named `{ref}`", "no earlier step created it")
        return self.refs[ref]

    def perform(self, step: dict[str, Any]) -> None:
        verb = next(k for k in step if k in _VERBS)
        if verb in ("create", "update", "move", "delete", "restore"):
            self._change(verb, step)
        elif verb == "advance":
            self.now[0] = shift(self.now[0], *parse_duration(step["advance"]))
        elif verb == "run_worker":
            self.engine.work("scenario", send=self._record_webhook)
        else:
            getattr(self, f"_{verb}")(step)

    def _record_webhook(self, url: str, method: str, headers: dict[str, str], body: bytes, timeout: float) -> int:
        self.sent.append({"url": url, "method": method, "body": body.decode("utf-8")})
        return 200  # scenarios never reach the network: webhooks are recorded

    def _change(self, verb: str, step: dict[str, Any]) -> None:
        from smartflow.errors import ItemError

        refused = step.get("refused")
        try:
            self._do(verb, step)
        except ItemError as error:
            if refused is None or refused is False:
                raise
            if isinstance(refused, str) and refused not in str(error):
                raise Mismatch(f"refused with a message containing {refused!r}", f"refused: {error}") from None
            return
        if refused not in (None, False):
            what = f" ({refused})" if isinstance(refused, str) else ""
            raise Mismatch(f"the {verb} to be refused{what}", f"the {verb} succeeded")

    def _do(self, verb: str, step: dict[str, Any]) -> None:
        engine = self.as_(step)
        if verb == "create":
            item_id = engine.create(step["create"], dict(step.get("set") or {}), pipeline=step.get("pipeline"),
                                    stage=step.get("stage"), typed_text=True)
            if "ref" in step:
                self.refs[step["ref"]] = (step["create"], item_id)
            return
        process, item_id = self.item(step[verb])
        if verb == "update":
            engine.update(process, item_id, dict(step.get("set") or {}), typed_text=True)
        elif verb == "move":
            engine.move(process, item_id, step["to"], pipeline=step.get("pipeline"))
        elif verb == "delete":
            engine.delete(process, item_id)
        else:
            engine.restore(process, item_id)

    def _expect(self, step: dict[str, Any]) -> None:
        from smartflow.errors import NotFound

        process, item_id = self.item(step["expect"])
        who = f" by {step['as']}" if "as" in step else ""
        try:
            item = self.as_(step).get(process, item_id)
        except NotFound:
            if step.get("visible") is False:
                return
            raise Mismatch(f"{step['expect']} to be visible{who}", "it is not (or it was deleted)") from None
        if step.get("visible") is False:
            raise Mismatch(f"{step['expect']} to be hidden{who}", f"it is visible, in stage `{item['stage']}`")
        for key in ("stage", "pipeline"):
            if key in step and item[key] != step[key]:
                raise Mismatch(f"{key} `{step[key]}`", f"{key} `{item[key]}`")
        definition = self.engine.process(process)
        for field_id, expected in (step.get("values") or {}).items():
            actual = item.get(field_id)
            field = definition.field(field_id)
            if field_id in ("assigned_to", "created_by", "updated_by", "moved_by") or (field and field.type == "user"):
                logins = {u["id"]: u["login"] for u in self.engine.users()}  # people are compared by login
                actual = [logins.get(a, a) for a in actual] if isinstance(actual, list) else logins.get(actual, actual)
            if not same(expected, actual):
                from smartflow.services import plain

                raise Mismatch(f"{field_id} = {expected!r}", f"{field_id} = {plain(actual)!r}")

    def _expect_count(self, step: dict[str, Any]) -> None:
        found = self.as_(step).count(step["expect_count"], step.get("where") or ())
        if found != step.get("count", 0):
            where = f" where {' and '.join(step['where'])}" if step.get("where") else ""
            raise Mismatch(f"{step.get('count', 0)} {step['expect_count']} items{where}", f"{found}")

    def _expect_outbox(self, step: dict[str, Any]) -> None:
        kind = step.get("kind")
        rows = [r for r in self.engine.outbox(step.get("status"), 10_000)
                if (not kind or r["kind"] == kind) and _mentions(r["payload"], step.get("contains"))]
        _count(step, len(rows), "outbox messages", [str(r["payload"])[:80] for r in rows])

    def _expect_inbox(self, step: dict[str, Any]) -> None:
        rows = [r for r in self.engine.as_user(step["expect_inbox"]).inbox(limit=10_000)
                if _mentions({"m": r["message"], "s": r["subject"]}, step.get("contains"))]
        _count(step, len(rows), f"messages in {step['expect_inbox']}'s inbox", [r["message"][:80] for r in rows])


def _mentions(payload: Any, text: str | None) -> bool:
    import json

    return text is None or text in json.dumps(payload, ensure_ascii=False, default=str)


def _count(step: dict[str, Any], found: int, what: str, samples: list[str]) -> None:
    contains = f" containing {step['contains']!r}" if step.get("contains") else ""
    if "count" in step and found != step["count"]:
        raise Mismatch(f"{step['count']} {what}{contains}", f"{found}" + (f": {samples[:3]}" if samples else ""))
    if "count" not in step and not found:
        raise Mismatch(f"at least one of the {what}{contains}", "none")


def same(expected: Any, actual: Any) -> bool:
    """Whether an expected value (as written in YAML) matches an item's value."""
    from smartflow.services import plain

    if isinstance(actual, dict) and "amount" in actual:
        if isinstance(expected, dict):
            return same(expected.get("amount"), actual["amount"]) and (
                "currency" not in expected or expected["currency"] == actual["currency"])
        text = str(expected).split()
        return same(text[0], actual["amount"]) and (len(text) < 2 or text[1] == actual["currency"])
    if isinstance(actual, Decimal) or (isinstance(actual, int) and not isinstance(actual, bool)):
        try:
            return Decimal(str(expected).replace(",", ".")) == Decimal(actual)
        except InvalidOperation:
            return False
    if isinstance(actual, list):
        wanted = expected if isinstance(expected, list) else [p.strip() for p in str(expected).split(",") if p.strip()]
        return len(wanted) == len(actual) and all(same(w, a) for w, a in zip(wanted, actual, strict=True))
    if isinstance(actual, bool) or isinstance(expected, bool):
        return str(expected).lower() in ("true", "yes", "да") if actual else str(expected).lower() in (
            "false", "no", "нет", "none")
    if actual is None:
        return expected in (None, "", [])
    return str(plain(actual)) == str(expected) or plain(actual) == expected


def render(outcome: Run) -> Iterator[str]:
    """The report, pytest-like: a line per scenario, then each failure, then the summary."""
    for result in outcome.results:
        status = "PASSED" if result.passed else "FAILED"
        yield f"{result.location.file}:{result.location.line}: {result.name} {status}"
    for result in outcome.failed:
        failure = result.failure
        assert failure is not None
        yield ""
        yield f"___ {result.name} ___"
        yield f"{failure.location}: step {failure.index}: {failure.step}"
        yield f"  expected: {failure.expected}"
        yield f"  found:    {failure.found}"
    passed = len(outcome.results) - len(outcome.failed)
    yield ""
    yield f"{passed} passed, {len(outcome.failed)} failed in {outcome.seconds:.2f}s"

