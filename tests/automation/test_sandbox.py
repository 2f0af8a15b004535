"""Hostile conditions and templates: each is refused (or stopped) quickly, and a refused action writes nothing.

The sandbox is Jinja2's immutable sandbox plus smartflow's limits (smartflow/sandbox.py). First the
sandbox alone, case by case, with the time each refusal takes; then the same cases as triggers of a
deployed process on SQLite and PostgreSQL: a template refused in a synchronous action rolls back the
person's change and every action before it, with a message naming the trigger and the action; a
hostile condition does the same; in a delayed job the refusal fails that job and the worker goes on.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from jinja2.sandbox import SecurityError

from smartflow.automation.worker import BACKOFF, JOB_ATTEMPTS
from smartflow.cli.main import main
from smartflow.definitions.expressions import environment
from smartflow.definitions.sandbox import MAX_OUTPUT, TIME_LIMIT, TemplateRefused, render, run_limited
from smartflow.errors import AutomationFailed
from tests.automation.support import ROLES, Auto, process
from tests.runtime.support import module_url

__all__ = ["module_url"]  # the fixture, imported for pytest

QUICK = 0.25  # seconds: a refusal before the template runs (generous for a loaded machine)
STOPPED = TIME_LIMIT + 1.0  # a template stopped by the wall-clock limit

# case id → (template, refused before it runs: True; stopped by the time limit: False)
TEMPLATES: dict[str, tuple[str, bool]] = {
    "dunder_class": ("{{ title.__class__ }}", True),
    "dunder_chain": ("{{ title.__class__.__mro__[1].__subclasses__() }}", True),
    "attr_filter": ("{{ title|attr('__class__') }}", True),
    "format_escape": ("{{ '{0.__class__.__init__.__globals__}'.format(title) }}", True),
    "format_map_escape": ("{{ '{t.__class__}'.format_map({'t': title}) }}", True),
    "repeat_string": ("{{ 'a' * 10**9 }}", True),
    "repeat_list": ("{{ [1] * 10**9 }}", True),
    "power": ("{{ 9 ** (9 ** 9) }}", True),
    "power_chain_wide": ("{{ 99 ** 99 ** 99 }}", True),
    "huge_range": ("{{ range(10**9) | list }}", True),
    "nested_ranges": ("{% for i in range(10000) %}{% for j in range(10000) %}{{ i * j }}"
                      "{% endfor %}{% endfor %}", False),
    "nested_ranges_silent": ("{% for i in range(10000) %}{% for j in range(10000) %}{% endfor %}{% endfor %}",
                             False),
    "center_width": ("{{ title | center(10**9) }}", True),
    "indent_width": ("{{ title | indent(10**9) }}", True),
    "format_filter_width": ("{{ '%0999999999d' | format(1) }}", True),
    "percent_width": ("{{ '%0999999999d' % 1 }}", True),
    "percent_star": ("{{ '%0*d' % (10**9, 1) }}", True),
    "percent_precision": ("{{ '%.999999999f' % 1.5 }}", True),
    "format_width": ("{{ '{:>999999999}'.format(title) }}", True),
    "format_nested_width": ("{{ '{:>{w}}'.format(title, w=10**9) }}", True),
    "ljust_method": ("{{ title.ljust(10**10) }}", True),
    "zfill_method": ("{{ '1'.zfill(10**10) }}", True),
    "replace_filter": ("{{ ('a' * 60000) | replace('a', 'a' * 60000) }}", True),
    "replace_method": ("{{ ('a' * 60000).replace('a', 'a' * 60000) }}", True),
    "join_filter": ("{{ range(10000) | join('a' * 60000) }}", True),
    "output_cap": ("{{ 'a' * 60000 }}{{ 'b' * 60000 }}", True),
}

# Reaching for Python's internals: each is refused by name, at once, whatever the value holds.
PRIVATE: dict[str, str] = {
    "dunder_class": "{{ title.__class__ }}",
    "item_access": "{{ title['__class__'] }}",
    "mapping_private_key": "{{ {'_key': 1}._key }}",
    "mapping_private_item": "{{ {'_key': 1}['_key'] }}",
    "mro": "{{ title.mro }}",
    "globals_of_a_method": "{{ title.upper.__globals__ }}",
    "attr_filter": "{{ title|attr('__class__') }}",
    "attr_filter_mro": "{{ title|attr('mro') }}",
    "format_attribute": "{{ '{0.__class__}'.format(title) }}",
    "format_index": "{{ '{0[__class__]}'.format({'__class__': 1}) }}",
    "format_map": "{{ '{t.__class__}'.format_map({'t': title}) }}",
    "namespace_private": "{% set ns = namespace(_x=1) %}{{ ns._x }}",
}

# case id → condition (a Jinja2 expression, as in `when:`)
CONDITIONS: dict[str, str] = {
    "dunder_class": "title.__class__",
    "attr_filter": "title|attr('__class__')",
    "format_escape": "'{0.__class__}'.format(title)",
    "repeat_string": "'a' * 10**9",
    "power": "9 ** (9 ** 9)",
    "huge_range": "range(10**9) | list",
    # about 4 × 10^8 comparisons, each 10,000 long membership test a single C call: seconds on any machine
    # (one such select alone finished within the limit on a fast one)
    "nested_ranges": " + ".join(f"range(10000) | select('in', range({n}0000, {n + 1}0000) | list) | list | length"
                                for n in range(1, 5)) + " > 0",
}


def _render(source: str) -> str:
    return render(environment().from_string(source), {"title": "Бетон", "id": 1})


def _condition(source: str) -> bool:
    compiled = environment().compile_expression(source, undefined_to_none=False)
    return bool(run_limited(compiled, title="Бетон", id=1))


# ---- the sandbox alone ---------------------------------------------------------------------------


@pytest.mark.parametrize("case", list(TEMPLATES))
def test_each_hostile_template_is_refused_quickly(case: str) -> None:
    source, before_it_runs = TEMPLATES[case]
    started = time.monotonic()
    with pytest.raises(SecurityError) as refused:
        _render(source)
    elapsed = time.monotonic() - started
    assert elapsed < (QUICK if before_it_runs else STOPPED), f"{case} took {elapsed:.2f}s"
    if not before_it_runs:
        assert isinstance(refused.value, TemplateRefused)
        assert f"longer than {TIME_LIMIT:g} s" in str(refused.value)


@pytest.mark.parametrize("case", list(PRIVATE))
def test_private_names_are_refused_at_run_time_by_name(case: str) -> None:
    with pytest.raises(SecurityError) as refused:
        _render(PRIVATE[case])
    assert "not allowed" in str(refused.value) or "unsafe" in str(refused.value), str(refused.value)


@pytest.mark.parametrize("case", list(CONDITIONS))
def test_each_hostile_condition_is_refused_quickly(case: str) -> None:
    started = time.monotonic()
    with pytest.raises(SecurityError):
        _condition(CONDITIONS[case])
    assert time.monotonic() - started < STOPPED


def test_every_template_or_condition_that_could_run_long_runs_under_the_clock() -> None:
    """Only a template with no loop, call, macro, `**`, `%` or filter or test beyond the linear few skips the clock
    (a trace function costs four times the render of a short text): none that the clock stops does,
    nor any hostile condition but those refused by name (`__class__`)."""
    env = environment()
    for source, before_it_runs in TEMPLATES.values():
        if not before_it_runs:
            assert not env.from_string(source).runs_straight, source
    for source in CONDITIONS.values():
        if "__" not in source:
            assert not env.compile_expression(source, undefined_to_none=False).runs_straight, source


@pytest.mark.parametrize(("source", "straight"), [
    ("moved to {{ stage }} (version {{ version }}) by {{ user }}", True),
    ("{{ title ~ ' ' ~ amount['x'] if amount else '-' }}{% if id > 1 %}+{% endif %}", True),
    ("{{ title | upper }}", True),  # a linear filter
    ("{{ title * 2 }}", True),  # the sandbox caps a repeated sequence
    ("{{ title is string }}", True),
    ("{% set x = title %}{{ x }}", True),
    ("{{ title | replace('a', 'b') }}", False),
    ("{{ title.upper() }}", False),
    ("{% for c in title %}{{ c }}{% endfor %}", False),
    ("{{ '%s' % title }}", False),
    ("{{ 2 ** id }}", False),
    ("{% macro m() %}{% endmacro %}", False),
])
def test_a_template_runs_straight_only_without_loops_calls_and_filters(source: str, straight: bool) -> None:
    template = environment().from_string(source)
    assert template.runs_straight is straight
    values = {"title": "Бетон", "id": 2, "amount": {"x": 5}, "stage": "a", "version": 3, "user": "u"}
    assert render(template, values) == template.render(values)  # the same text either way


def test_power_chain_is_read_left_to_right_by_jinja2_and_is_harmless() -> None:
    """Jinja2 reads `9**9**9` as (9**9)**9, a 78-digit number (Python would read 9**(9**9), refused above)."""
    started = time.monotonic()
    assert _render("{{ 9 ** 9 ** 9 }}") == str((9**9) ** 9)
    assert time.monotonic() - started < QUICK


@pytest.mark.parametrize(("source", "expected"), [
    ("{{ title | center(9) }}", "  Бетон  "),
    ("{{ '%5.1f|%-4s' % (2.5, 'ab') }}|{{ '%(n)03d' % {'n': 7} }}", "  2.5|ab  |007"),
    ("{{ '%03d' | format(7) }}", "007"),
    ("{{ '{:>6}|{:.2f}|{n:03}'.format(title, 2.5, n=7) }}", " Бетон|2.50|007"),
    ("{{ title.ljust(7, '.') }}{{ '5'.zfill(3) }}", "Бетон..005"),
    ("{{ title | replace('т', 'тт') }}{{ 'a-b'.replace('-', '+') }}", "Беттонa+b"),
    ("{{ [1, 2, 3] | join(', ') }}|{{ '-'.join(['x', 'y']) }}", "1, 2, 3|x-y"),
    ("{{ 17 % 5 }} {{ 2 ** 10 }} {{ 'ab' * 3 }} {{ range(3) | list }}", "2 1024 ababab [0, 1, 2]"),
    ("{{ '%s' % title }}", "Бетон"),
])
def test_ordinary_templates_still_work(source: str, expected: str) -> None:
    assert _render(source) == expected


def test_output_just_under_the_cap_is_allowed() -> None:
    assert len(_render("{{ 'a' * " + str(MAX_OUTPUT) + " }}")) == MAX_OUTPUT


def test_time_limit_restores_the_previous_trace_function() -> None:
    import sys

    previous = sys.gettrace()
    with pytest.raises(TemplateRefused):
        _render(TEMPLATES["nested_ranges_silent"][0])
    assert sys.gettrace() is previous


# ---- the same cases as triggers of a deployed process -------------------------------------------

# Cases that reach for Python's internals never deploy (validate refuses them: see the test below), so
# the deployed process carries the resource-hungry ones; the sandbox alone refuses the rest above.
REFUSED_AT_VALIDATE = {"dunder_class", "dunder_chain", "attr_filter", "format_escape", "format_map_escape"}
SYNC = {case: source for case, (source, _) in TEMPLATES.items() if case not in REFUSED_AT_VALIDATE}
DEPLOYED_CONDITIONS = {case: source for case, source in CONDITIONS.items() if case not in REFUSED_AT_VALIDATE}
DELAYED = ("power", "format_width", "repeat_string", "nested_ranges", "percent_width")


def _probe_options() -> list[dict[str, str]]:
    ids = [f"t_{c}" for c in SYNC] + [f"c_{c}" for c in DEPLOYED_CONDITIONS] + [f"j_{c}" for c in DELAYED] + ["plain"]
    return [{"id": i, "title": i} for i in ids]


def _triggers() -> list[dict[str, Any]]:
    triggers: list[dict[str, Any]] = []
    for case, source in SYNC.items():  # a first action that writes, then the hostile one
        triggers.append({"id": f"t_{case}", "on": "field_changed", "field": "probe", "to": f"t_{case}",
                         "do": [{"set": {"note": "written by the first action"}}, {"comment": source}]})
    for case, condition in DEPLOYED_CONDITIONS.items():
        triggers.append({"id": f"c_{case}", "on": "field_changed", "field": "probe", "to": f"c_{case}",
                         "when": condition, "do": [{"comment": "the condition held"}]})
    for case in DELAYED:
        triggers.append({"id": f"j_{case}", "on": "field_changed", "field": "probe", "to": f"j_{case}",
                         "after": "5m", "do": [{"set": {"note": "written by the job"}}, {"comment": SYNC[case]}]})
    return triggers


HOSTILE = process("hostile", {"probe": {"type": "enum", "options": _probe_options()}, "note": {"type": "text"}},
                  _triggers())


@pytest.fixture(scope="module")
def db(module_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Auto]:
    auto = Auto(module_url, tmp_path_factory.mktemp("defs"), ROLES, HOSTILE)
    yield auto
    auto.close()


@pytest.fixture(scope="module")
def item(db: Auto) -> int:
    return db.admin.create("hostile", {"title": "Бетон М300", "probe": "plain"})


@pytest.mark.parametrize("case", list(SYNC))
def test_refused_template_in_an_action_rolls_back_the_change_and_writes_nothing(db: Auto, item: int,
                                                                                case: str) -> None:
    before = db.state("hostile")
    started = time.monotonic()
    with pytest.raises(AutomationFailed) as failed:
        db.admin.update("hostile", item, {"probe": f"t_{case}"})
    elapsed = time.monotonic() - started
    assert str(failed.value).startswith(f"trigger `hostile.t_{case}`, action 2 (comment): template refused: ")
    assert elapsed < (QUICK + 0.5 if TEMPLATES[case][1] else STOPPED + 0.5), f"{case} took {elapsed:.2f}s"
    assert db.state("hostile") == before  # neither the person's change nor the first action's `set`


@pytest.mark.parametrize("case", sorted(REFUSED_AT_VALIDATE))
def test_private_access_never_deploys(case: str, tmp_path: Path) -> None:
    """The same hostile texts as a condition and as a template fail `validate`, located, with exit 1."""
    condition = CONDITIONS.get(case, TEMPLATES[case][0].removeprefix("{{ ").removesuffix(" }}"))
    hostile = process("hostile", {"note": {"type": "text"}}, [
        {"id": "by_condition", "on": "created", "when": condition, "do": [{"comment": "held"}]},
        {"id": "by_template", "on": "created", "do": [{"comment": TEMPLATES[case][0]}]},
    ])
    (tmp_path / "hostile.yaml").write_text(yaml.safe_dump(hostile, allow_unicode=True), encoding="utf-8")
    result = CliRunner().invoke(main, ["validate", str(tmp_path)])
    assert result.exit_code == 1, result.output
    refused = [line for line in result.output.splitlines() if "error[private-access]" in line]
    assert len(refused) == 2, result.output
    assert all(re.match(r"^\S+hostile\.yaml:\d+:\d+: error\[private-access\]: ", line) for line in refused)


@pytest.mark.parametrize("case", list(DEPLOYED_CONDITIONS))
def test_refused_condition_rolls_back_the_change_and_writes_nothing(db: Auto, item: int, case: str) -> None:
    before = db.state("hostile")
    started = time.monotonic()
    with pytest.raises(AutomationFailed) as failed:
        db.admin.update("hostile", item, {"probe": f"c_{case}"})
    assert time.monotonic() - started < STOPPED + 0.5
    assert str(failed.value).startswith(f"trigger `hostile.c_{case}`: its condition failed: ")
    assert db.state("hostile") == before


def test_refused_template_in_a_delayed_job_fails_that_job_only(db: Auto) -> None:
    """Refused before it runs: failed at once. Stopped while it ran (the time limit): run again after a
    backoff, JOB_ATTEMPTS times in all, then failed. The worker goes on with the other jobs meanwhile."""
    item = db.admin.create("hostile", {"title": "Отложенная", "probe": "plain"})
    for case in DELAYED:
        db.admin.update("hostile", item, {"probe": f"j_{case}"})  # the person's change commits; a job waits
    db.admin.update("hostile", item, {"probe": "plain"})
    before = db.history("hostile", item)
    db.clock.advance(minutes=6)
    tally = db.drain()
    stopped = [case for case in DELAYED if not TEMPLATES[case][1]]
    assert stopped == ["nested_ranges"]
    assert (tally.done, tally.failed, tally.dropped, tally.postponed) == (0, len(DELAYED) - 1, 0, 1)
    for attempt in range(2, JOB_ATTEMPTS + 1):
        db.clock.advance(seconds=BACKOFF.total_seconds() * 2 ** (attempt - 2) + 1)
        tally = db.drain()
        last = attempt == JOB_ATTEMPTS
        assert (tally.failed, tally.postponed) == ((1, 0) if last else (0, 1)), attempt
    jobs = {j["trigger"]: j for j in db.jobs("hostile", item)}
    for case in DELAYED:
        assert jobs[f"j_{case}"]["status"] == "failed"
        assert "template refused" in jobs[f"j_{case}"]["last_error"], jobs[f"j_{case}"]["last_error"]
        assert jobs[f"j_{case}"]["attempts"] == (JOB_ATTEMPTS if case in stopped else 1)
    assert "ran longer than" in jobs["j_nested_ranges"]["last_error"]
    assert db.history("hostile", item) == before  # the jobs' `set` and comments were rolled back
    assert db.admin.get("hostile", item)["note"] is None


@pytest.mark.parametrize("source", [
    "moved to {{ stage }} by {{ user }}",
    "{% for i in range(3) %}{{ i }},{% endfor %}{{ dict(a=1)['a'] }}",
    "{% set ns = namespace(n=0) %}{% for t in tags %}{% set ns.n = ns.n + 1 %}{% endfor %}"
    "{{ ns.n }} of {{ tags|join('/') }}",
    "{{ title|replace('a', 'o')|upper }}{% if amount > 10 %} big{% endif %}",
    "{{ range }}",  # a global, shadowed by nothing
])
def test_render_gives_what_jinja2s_own_render_gives(source: str) -> None:
    template = environment().from_string(source)
    values = {"stage": "won", "user": "ann", "title": "banana", "amount": 12, "tags": ["x", "y"]}
    assert render(template, values) == template.render(values)
    assert render(template, values, seconds=None) == template.render(values)
    if "range(" not in source:  # a value named like a global shadows it, as in Jinja2
        assert render(template, {**values, "range": "mine"}) == template.render({**values, "range": "mine"})


@pytest.mark.parametrize("source, error", [
    ("{{ 1 // zero }}", ZeroDivisionError), ("{{ title.nope.deeper }}", Exception),
    ("{{ missing }}", Exception), ("{{ title.__class__ }}", SecurityError)])
def test_render_fails_as_jinja2s_own_render_fails(source: str, error: type[BaseException]) -> None:
    template = environment().from_string(source)
    values = {"zero": 0, "title": "x"}
    with pytest.raises(error) as ours:
        render(template, values, seconds=None)
    with pytest.raises(error) as theirs:
        template.render(values)
    assert type(ours.value) is type(theirs.value) and str(ours.value) == str(theirs.value)
