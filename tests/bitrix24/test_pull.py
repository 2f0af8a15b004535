"""`smartflow bitrix24 pull` end to end: from a smartflow serving the shipped examples through the Bitrix24
facade into a folder, which validates, applies and imports into a fresh database with the same items."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from smartflow.bitrix24.pull import PullError, pull
from smartflow.cli.main import main
from smartflow.definitions.model import Process
from smartflow.services import Engine
from tests.dbutil import backends, database_url
from tests.runtime.support import invoke
from tests.web.support import SAMPLES, Site

pytestmark = pytest.mark.db


@pytest.fixture(params=backends())
def two_urls(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    source, target = database_url(request.param, tmp_path / "a"), database_url(request.param, tmp_path / "b")
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    try:
        yield next(source), next(target)
    finally:
        source.close()
        target.close()


def _first(text: Any) -> str:
    return next(iter(dict(text.values).values())) if text is not None else ""


def _comparable(crm: Engine, process: Process, item: dict[str, Any], logins: dict[int, str]) -> dict[str, Any]:
    """An item's values as both sides can show them: users by login, options by their first title."""
    out: dict[str, Any] = {"title": item["title"], "pipeline": item["pipeline"], "stage": item["stage"],
                           "assigned_to": logins.get(item["assigned_to"])}
    for field in process.fields:
        if field.id == "bitrix_id" or field.type == "file" or field.id not in item:
            continue
        value = item[field.id]
        if field.type == "enum":
            titles = {o.id: _first(o.title) for o in field.options}
            value = sorted(titles[v] for v in value) if field.multiple else titles.get(value)
        elif field.type == "user":
            value = [logins.get(v) for v in value] if field.multiple else logins.get(value)
        out[field.id] = value
    return out


def test_pull_the_shipped_examples_then_validate_apply_and_import_them(two_urls: tuple[str, str], tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    source_url, target_url = two_urls
    monkeypatch.setenv("SMARTFLOW_BITRIX24_LIMIT", "1000,100000")
    site = Site(source_url)
    out = tmp_path / "pulled"
    try:
        boss = next(u["id"] for u in site.admin.users() if u["login"] == "boss")
        webhook = f"{site.base}/rest/{boss}/{site.admin.create_token('boss')}/"
        with pytest.raises(PullError, match="no smart process matches"):
            pull(webhook, tmp_path / "none", ["nothing"], rate=50)
        assert not (tmp_path / "none").exists() and not list(tmp_path.glob(".none*"))
        counts = pull(webhook, out, None, rate=50)
        source = {process: site.admin.list(process, limit=500) for process, _ in SAMPLES}
        source_processes = {process: site.admin.process(process) for process, _ in SAMPLES}
        source_logins = {u["id"]: u["login"] for u in site.admin.users()}
    finally:
        site.close()
    assert counts == {process: len(rows) for process, rows in source.items()} | {
        p: 0 for p in counts if p not in source}
    assert (out / "procurement.yaml").read_text("utf-8").startswith(
        "# yaml-language-server: $schema=./smartflow.schema.json\n")
    assert "Rights" in (out / "PULL.md").read_text("utf-8")

    checked = CliRunner().invoke(main, ["validate", str(out)])
    assert checked.exit_code == 0, checked.output
    assert invoke(target_url, "apply", str(out)).exit_code == 0
    with Engine(target_url) as crm:
        with (out / "users.csv").open(encoding="utf-8") as sheet:
            for person in csv.DictReader(sheet):
                crm.add_user(person["login"], person["name"])
        for process in source:
            imported = invoke(target_url, "import", process, str(out / "data" / f"{process}.csv"))
            assert imported.exit_code == 0, imported.output
        target_logins = {u["id"]: u["login"] for u in crm.users()}
        for process, rows in source.items():
            pulled = crm.process(process)
            got = {item["bitrix_id"]: _comparable(crm, pulled, item, target_logins)
                   for item in crm.list(process, limit=500)}
            want = {item["id"]: _comparable(crm, source_processes[process], item, source_logins) for item in rows}
            assert got == want, process  # every field but files, value for value
            assert len(got) == len(rows) > 0


def test_a_pull_stopped_midway_writes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The portal stops answering (its request budget runs out) after the types were read: after one
    retry the pull gives up, and neither the folder nor its staging copy is left behind."""
    monkeypatch.setenv("SMARTFLOW_BITRIX24_LIMIT", "0.0001,6")  # six requests, then 503 QUERY_LIMIT_EXCEEDED
    site = Site(f"sqlite:///{tmp_path / 'source.db'}", samples=False)
    try:
        boss = next(u["id"] for u in site.admin.users() if u["login"] == "boss")
        webhook = f"{site.base}/rest/{boss}/{site.admin.create_token('boss')}/"
        with pytest.raises(PullError, match="QUERY_LIMIT_EXCEEDED"):
            pull(webhook, tmp_path / "pulled", None, rate=50, retries=1)
    finally:
        site.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["source.db"]
