"""A property: whatever the definition, the roles and the items, no value hidden from a user reaches
that user on any read path.

Hypothesis draws a process (fields of several types, a condition and a required field on hidden or
visible fields, a trigger that notifies every user and comments with every field) and roles that
each hide a random set of fields; items hold a canary value in every field. Then, as a user of each
role: get, card, list, history, explain (a conditional and a requiring stage), kanban, report, a
CSV export and the inbox the worker filled. No canary of a field hidden from that user may appear
in any of them — and every canary of a field they may see appears in `get`, so the test can fail.
Bounded in examples: each one deploys into a fresh database (SQLite, and PostgreSQL when configured).
"""

from __future__ import annotations

import contextlib
import io
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from smartflow import Engine
from smartflow.analytics.report import ReportOptions
from smartflow.data.export import ExportOptions
from smartflow.deploy import apply as deploy
from tests.dbutil import backends, database_url
from tests.runtime.support import write_definitions

TYPES = ("string", "text", "integer", "money", "enum")
ROLE_IDS = ("r1", "r2", "r3")


def canaries(field_index: int, field_type: str, item_index: int) -> tuple[Any, list[str]]:
    """The value to store and the tokens that betray it in any output."""
    token = f"58{field_index}7{item_index}3"
    if field_type in ("string", "text"):
        return f"zq{field_index}canary{item_index}x", [f"zq{field_index}canary{item_index}x"]
    if field_type == "integer":
        return int(token), [token]
    if field_type == "money":
        return f"{token}.41", [token]
    return f"opt{field_index}zq{item_index}", [f"opt{field_index}zq{item_index}", f"Zqtitle{field_index}n{item_index}"]


@st.composite
def scenarios(draw: Any) -> dict[str, Any]:
    count = draw(st.integers(2, 5))
    types = [draw(st.sampled_from(TYPES)) for _ in range(count)]
    field_ids = [f"f{i}" for i in range(count)]
    items = draw(st.integers(1, 2))
    fields: dict[str, Any] = {}
    for index, (field_id, field_type) in enumerate(zip(field_ids, types, strict=True)):
        raw: dict[str, Any] = {"type": field_type}
        if field_type == "money":
            raw["currency"] = "RUB"
        if field_type == "enum":
            raw["options"] = [{"id": f"opt{index}zq{n}", "title": f"Zqtitle{index}n{n}"} for n in range(items)]
        fields[field_id] = raw
    hidden = {role: draw(st.lists(st.sampled_from(field_ids), unique=True, max_size=count)) for role in ROLE_IDS}
    condition_field = draw(st.sampled_from(field_ids))
    required_field = draw(st.sampled_from(field_ids))
    message = " ".join(f"{{{{ {f} }}}}" for f in field_ids)
    process = {
        "kind": "Process", "id": "secret", "title": "Secret", "fields": fields,
        "pipelines": {"main": {"title": "Main", "default": True, "stages": {
            "open": {"title": "Open"}, "check": {"title": "Check"},
            "won": {"title": "Won", "semantic": "success", "required": [required_field]},
            "lost": {"title": "Lost", "semantic": "failure"}},
            "transitions": [
                # a condition that is false for every canary, on a field that may be hidden
                {"from": "open", "to": "check", "when": f"{condition_field} == 'never-a-canary'"},
                {"from": "*", "to": "won"}, {"from": "*", "to": "lost"}]}},
        "triggers": [{"id": "tell", "on": "created", "do": [
            {"notify": {"users": [f"@u_{r}" for r in ROLE_IDS], "subject": message, "message": message}},
            {"comment": message}]}],
        "list": {"columns": ["title", *field_ids]},
        "permissions": {role: {"read": "all", "create": "all", "update": "all", "move": "all", "export": "all",
                               "hidden_fields": hidden[role]} for role in ROLE_IDS},
    }
    roles = {"kind": "Roles", "roles": {role: {"title": role} for role in ROLE_IDS}}
    values = [{f: canaries(i, types[i], n) for i, f in enumerate(field_ids)} for n in range(items)]
    return {"documents": (roles, process), "hidden": hidden, "values": values, "empty_required": draw(st.booleans()),
            "required": required_field}


def _seen_by(crm: Engine, item_ids: list[int]) -> str:
    """Everything the user can read about the process, as one text."""
    parts: list[Any] = [crm.list("secret", limit=100), crm.kanban("secret"),
                        crm.report("secret", ReportOptions()), crm.inbox(limit=100)]
    for item_id in item_ids:
        card = {k: v for k, v in crm.card("secret", item_id).items() if k != "process"}  # the definition lists options
        parts += [crm.get("secret", item_id), card, crm.history("secret", item_id),
                  crm.explain("secret", item_id, "check"), crm.explain("secret", item_id, "won")]
    for columns in (None, "all"):
        stream = io.BytesIO()
        crm.export("secret", stream, ExportOptions(columns=columns))
        parts.append(stream.getvalue().decode("utf-8-sig"))
    return "\n".join(str(part) for part in parts).casefold()


@pytest.mark.parametrize("backend", backends())
@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenario=scenarios())
def test_no_hidden_canary_reaches_any_read_path(backend: str, scenario: dict[str, Any]) -> None:
    with tempfile.TemporaryDirectory() as folder, \
            contextlib.contextmanager(database_url)(backend, Path(folder)) as url:
        deploy.apply(write_definitions(Path(folder) / "defs", *scenario["documents"]), url)
        with Engine(url) as admin:
            for role in ROLE_IDS:
                admin.add_user(f"u_{role}", role, [role], None)
            item_ids = []
            for n, values in enumerate(scenario["values"]):
                given_values = {k: v for k, (v, _) in values.items()}
                if scenario["empty_required"]:
                    given_values.pop(scenario["required"])  # the move to `won` is refused on it
                item_ids.append(admin.create("secret", {"title": f"item {n}", **given_values}))
            admin.work()
            for role in ROLE_IDS:
                seen = _seen_by(admin.as_user(f"u_{role}"), item_ids)
                visible = admin.as_user(f"u_{role}").get("secret", item_ids[0])
                for field_id in scenario["hidden"][role]:
                    assert field_id not in visible
                for values in scenario["values"]:
                    for field_id, (_, tokens) in values.items():
                        if field_id in scenario["hidden"][role]:
                            leaked = [t for t in tokens if t.casefold() in seen]
                            assert leaked == [], f"{role} reads hidden {field_id}: {leaked}"
                        elif not (scenario["empty_required"] and field_id == scenario["required"]):
                            assert any(t.casefold() in seen for t in tokens), f"{role} misses {field_id}"
