"""Conditions and templates evaluated in child processes under real limits (smartflow/automation/evaluator.py).

The cases here are the ones the sandbox's trace function cannot stop: one step done in C that runs
for seconds (squaring a number of millions of digits) or eats memory (a string doubled with `~`,
which no pre-check sees). In a child they are stopped at the time limit (the child is killed) or
by the memory limit, the evaluation is reported, and the next one is served by a fresh child.
Real child processes, no mocks; times are generous for a loaded machine.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from jinja2.exceptions import UndefinedError

from smartflow.automation.evaluator import Evaluator
from smartflow.automation.worker import JOB_ATTEMPTS
from smartflow.definitions.expressions import environment, parse_condition
from smartflow.definitions.sandbox import EvaluationStopped, TemplateRefused, runs_straight
from smartflow.errors import AutomationFailed
from tests.automation.support import ROLES, Auto, process
from tests.runtime.support import module_url

__all__ = ["module_url"]  # the fixture, imported for pytest

# each squaring doubles the digits: the last steps are single multiplications taking seconds, in C
SQUARING = ("{% set ns = namespace(x=3) %}{% for i in range(26) %}{% set ns.x = ns.x * ns.x %}{% endfor %}"
            "{{ ns.x % 7 }}")
# `~` joins strings without any size check: 2^41 bytes if nothing stops it
DOUBLING = ("{% set ns = namespace(s='ab') %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}"
            "{{ ns.s | length }}")
BUSY = "{% for i in range(10000) %}{% for j in range(10000) %}{% endfor %}{% endfor %}"


@pytest.fixture
def pool() -> Iterator[Evaluator]:
    evaluator = Evaluator(size=1, seconds=0.3, grace=0.1, memory=160 * 2**20)
    assert evaluator.template("{{ title }}", {"title": "warm"}) == "warm"  # the child is started
    yield evaluator
    evaluator.close()


def _pid(evaluator: Evaluator) -> int:
    [child] = evaluator._idle
    return child.process.pid


@pytest.mark.parametrize(("source", "cheap"), [
    ("estimate >= 500000 and stage == 'supplier'", True),
    ("title is defined and (priority or 'low') in ['high', 'urgent']", True),
    ("(estimate or 0) * 2 > 10 and not archived", True),
    ("title | lower | length > 3", True),
    ("estimate ** 2 > 10", False),  # `**` grows its result with its input
    ("'%09d' % estimate", False),  # formatting: widths
    ("range(10) | list | length", False),  # a call
    ("title.upper() == 'X'", False),  # a call
    ("title | replace('a', 'b') == 'x'", False),  # a filter outside the linear few
    ("items | map('string') | list", False),
])
def test_only_texts_that_cannot_loop_or_call_stay_in_process(source: str, cheap: bool) -> None:
    node, problem = parse_condition(source)
    assert problem is None and node is not None
    assert runs_straight(node) is cheap


@pytest.mark.parametrize(("source", "cheap"), [
    ("Purchase {{ title }} for {{ estimate }} by {{ user }}", True),
    ('{"id": {{ id }}, "title": {{ title|tojson }}}', True),
    ("{% for x in options %}{{ x }}{% endfor %}", False),
    ("{% set ns = namespace(x=1) %}{{ ns.x }}", False),
    ("{{ title | center(20) }}", False),
])
def test_templates_with_loops_or_calls_go_to_a_child(source: str, cheap: bool) -> None:
    assert runs_straight(environment().parse(source)) is cheap


def test_a_step_in_c_is_killed_at_the_time_limit_and_the_next_text_runs(pool: Evaluator) -> None:
    """For this text the parent waits 0.2 s less than the child's own 0.3 s limit (a negative grace),
    so the child's trace can never answer first: with the usual grace the squaring step under way at
    0.3 s sometimes ended inside the grace and the child answered itself, killing nothing (the next
    test covers that path). What is checked is that a child stuck in C is killed at the deadline."""
    first = _pid(pool)
    pool.grace = -0.2
    started = time.monotonic()
    with pytest.raises(EvaluationStopped, match=r"ran longer than 0\.3 s and was stopped"):
        pool.template(SQUARING, {})
    assert time.monotonic() - started < 2.0  # in-process it runs to the end of its step: many seconds
    assert pool.killed == 1
    pool.grace = 0.1
    assert pool.template("{{ title }}!", {"title": "next"}) == "next!"
    assert _pid(pool) != first  # a fresh child


def test_python_level_runaway_is_stopped_by_the_childs_own_trace_without_a_kill(pool: Evaluator) -> None:
    first = _pid(pool)
    with pytest.raises(EvaluationStopped, match="ran longer than"):
        pool.template(BUSY, {})
    assert pool.killed == 0 and _pid(pool) == first


def test_memory_is_limited_and_the_next_text_gets_a_fresh_child() -> None:
    evaluator = Evaluator(size=1, seconds=20, memory=128 * 2**20)
    try:
        started = time.monotonic()
        with pytest.raises(EvaluationStopped, match="more than 128 MiB of memory"):
            evaluator.template(DOUBLING, {})
        assert time.monotonic() - started < 15
        assert evaluator.condition("title == 'x'", {"title": "x"}) is True
    finally:
        evaluator.close()


def test_a_child_killed_from_outside_mid_evaluation_is_reported_and_replaced() -> None:
    evaluator = Evaluator(size=1, seconds=30)
    try:
        evaluator.template("{{ 1 }}", {})
        victim = _pid(evaluator)
        killer = threading.Timer(0.3, os.kill, (victim, signal.SIGKILL))
        killer.start()
        with pytest.raises(EvaluationStopped, match=r"died \(signal 9\) and was replaced"):
            evaluator.template(BUSY, {})
        killer.join()
        assert evaluator.template("{{ 2 }}", {}) == "2"
        assert _pid(evaluator) != victim
    finally:
        evaluator.close()


def test_children_are_reused_and_errors_keep_their_class(pool: Evaluator) -> None:
    first = _pid(pool)
    for n in range(50):
        assert pool.template("{% for i in range(n) %}.{% endfor %}", {"n": n}) == "." * n
    assert pool.condition("range(n) | list | length == 3", {"n": 3}) is True
    with pytest.raises(ZeroDivisionError):
        pool.template("{{ 1 // 0 }}", {})
    with pytest.raises(UndefinedError, match="'nope' is undefined"):
        pool.template("{{ nope }}", {})
    with pytest.raises(TemplateRefused, match="over the limit"):
        pool.template("{{ 'a' * 10**9 }}", {})
    with pytest.raises(TemplateRefused, match="not allowed"):
        pool.condition("title.__class__", {"title": "x"})
    # not deployable, but the pool answers without dying (a class it cannot rebuild comes back named)
    with pytest.raises(RuntimeError, match=r"^TemplateSyntaxError: unexpected end of template"):
        pool.template("{{ unclosed", {})
    assert _pid(pool) == first and pool.killed == 0


def test_a_dead_idle_child_is_replaced_quietly(pool: Evaluator) -> None:
    victim = _pid(pool)
    os.kill(victim, signal.SIGKILL)
    [child] = pool._idle
    child.process.wait(timeout=10)
    assert pool.template("{{ 3 }}", {}) == "3"
    assert _pid(pool) != victim


# ---- in a deployed process ----------------------------------------------------------------------------

KILLED = process("killed", {"probe": {"type": "text"}, "note": {"type": "text"}}, [
    {"id": "square", "on": "field_changed", "field": "probe", "to": "square",
     "do": [{"set": {"note": "written by the first action"}}, {"comment": SQUARING}]},
    {"id": "square_later", "on": "field_changed", "field": "probe", "to": "square_later", "after": "5m",
     "do": [{"set": {"note": "written by the job"}}, {"comment": SQUARING}]},
    {"id": "plain_later", "on": "field_changed", "field": "probe", "to": "plain_later", "after": "5m",
     "do": [{"comment": "the plain job ran"}]},
    {"id": "square_condition", "on": "field_changed", "field": "probe", "to": "square_condition",
     "when": "range(26) | map('string') | list | length > 0 and "
             "(namespace(x=10**60).x * 10**60) > 0", "do": [{"comment": "held"}]},
])


@pytest.fixture(scope="module")
def db(module_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Auto]:
    auto = Auto(module_url, tmp_path_factory.mktemp("defs"), ROLES, KILLED)
    yield auto
    auto.close()


def test_a_runaway_template_in_an_action_is_killed_and_the_change_refused(db: Auto, tmp_path: Path) -> None:
    item = db.admin.create("killed", {"title": "Бетон"})
    before = db.state("killed")
    started = time.monotonic()
    with pytest.raises(AutomationFailed) as failed:
        db.admin.update("killed", item, {"probe": "square"})
    assert time.monotonic() - started < 5.0  # in-process: the last squaring alone takes many seconds
    assert str(failed.value).startswith("trigger `killed.square`, action 2 (comment): template refused: "
                                        "the template ran longer than 0.5 s and was stopped"), str(failed.value)
    assert db.state("killed") == before
    db.admin.update("killed", item, {"probe": "square_condition"})  # a heavier condition still runs, in a child
    assert db.comments("killed", item) == ["held"]


def test_a_runaway_template_in_a_delayed_job_is_killed_and_run_again_later_while_the_worker_goes_on(
        db: Auto) -> None:
    hostile = db.admin.create("killed", {"title": "Отложенная"})
    plain = db.admin.create("killed", {"title": "Обычная"})
    db.admin.update("killed", hostile, {"probe": "square_later"})
    db.admin.update("killed", plain, {"probe": "plain_later"})
    db.clock.advance(minutes=6)
    started = time.monotonic()
    tally = db.drain()
    assert time.monotonic() - started < 10.0
    assert (tally.done, tally.postponed, tally.failed) == (1, 1, 0)
    assert db.comments("killed", plain) == ["the plain job ran"]  # the worker went on
    [job] = db.jobs("killed", hostile)
    assert (job["status"], job["attempts"]) == ("pending", 1)
    assert "ran longer than 0.5 s and was stopped" in job["last_error"]
    assert db.admin.get("killed", hostile)["note"] is None  # its `set` was rolled back with it
    for _ in range(JOB_ATTEMPTS - 1):
        db.clock.advance(minutes=10)
        db.drain()
    [job] = db.jobs("killed", hostile)
    assert (job["status"], job["attempts"]) == ("failed", JOB_ATTEMPTS)
    assert db.comments("killed", hostile) == []
