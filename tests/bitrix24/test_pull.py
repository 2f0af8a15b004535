"""`smartflow bitrix24 pull` end to end: from a smartflow serving the shipped examples through the Bitrix24
facade into a folder, which validates, applies and imports (with the original ids, files, stage history
and comments) into a fresh database that then holds the same items, stages, history and comments."""

from __future__ import annotations

import filecmp
import shlex
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from smartflow import errors
from smartflow.bitrix24 import reading
from smartflow.bitrix24.pull import PullError, pull
from smartflow.cli.main import main
from smartflow.definitions.model import Process
from smartflow.services import Engine
from tests.dbutil import backends, database_url
from tests.runtime.support import invoke
from tests.web.support import HTTP_TIMEOUT, SAMPLES, Site

pytestmark = pytest.mark.db

SCAN = b"%PDF-1.4\n% a scan of the complaint\n" + bytes(range(256))


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


def _comparable(process: Process, item: dict[str, Any], logins: dict[int, str]) -> dict[str, Any]:
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


def _second(moment: Any) -> datetime:
    """A moment to the second, in UTC (the REST API gives seconds)."""
    if not isinstance(moment, datetime):
        moment = datetime.fromisoformat(str(moment))
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return moment.replace(microsecond=0)


def _stages(history: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """An item's stage history: when it was created in which stage, and each move since."""
    out: list[tuple[Any, ...]] = []
    for row in history:
        if row["kind"] == "create":
            out.append(("create", _second(row["at"]), row["new"]["pipeline"], row["new"]["stage"]))
        elif row["kind"] == "move" and row["field"] in ("stage", "pipeline"):
            out.append((row["field"], _second(row["at"]), row["new"]))
    return out


def _comments(crm: Engine, process: str, item_id: int) -> list[tuple[Any, ...]]:
    """What the item's timeline says was written: people's comments, and automation's (in its history)."""
    said = [(_second(c["created_at"]), c["author"] if c.get("author") != "local administrator" else None, c["text"])
            for c in crm.comments(process, item_id)]  # (a comment without an author: the local administrator's)
    said += [(_second(r["at"]), None, r["new"]) for r in crm.history(process, item_id) if r["kind"] == "comment"]
    return sorted(said, key=lambda c: (c[0], c[2]))


def _prepare(site: Site) -> dict[str, Any]:
    """Give the source what the samples lack: stage moves, comments, a file with a comma in its name, and a
    sub-department (a number for an id, as Bitrix24's, and a title a shell must quote) with a head."""
    admin = site.admin
    admin.add_department("9", "Склад «Север» / Warehouse 'North'", "supply", head="orlov")
    admin.edit_user("orlov", department="9")
    moved = 0
    for process in ("procurement", "complaint", "candidate"):
        rows = admin.list(process, limit=12)
        targets = admin.move_targets(process, rows)
        for row in rows:
            for stage in targets.get(row["id"], []):
                try:
                    admin.move(process, row["id"], stage)
                except errors.SmartflowError:
                    continue
                moved += 1
                break
    assert moved >= 5
    first = admin.list("procurement", limit=2)
    admin.comment("procurement", first[0]["id"], "Поставщик ответил: цена, как в прошлый раз")
    admin.comment("procurement", first[0]["id"], "Второй комментарий\nв две строки")
    admin.comment("procurement", first[1]["id"], "@ivanova посмотрите")
    complaint = admin.list("complaint", limit=1)[0]["id"]
    admin.attach_files("complaint", complaint, "attachments",
                       [("акт, проверки.pdf", SCAN), ("photo.jpg", b"\xff\xd8jpg")])
    return {"complaint": complaint}


def _webhook(site: Site) -> str:
    boss = next(u["id"] for u in site.admin.users() if u["login"] == "boss")
    return f"{site.base}/rest/{boss}/{site.admin.create_token('boss')}/"


def test_pull_the_shipped_examples_then_validate_apply_and_import_them(two_urls: tuple[str, str], tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    source_url, target_url = two_urls
    monkeypatch.setenv("SMARTFLOW_BITRIX24_LIMIT", "1000,100000")
    site = Site(source_url)
    out = tmp_path / "pulled"
    shown: list[str] = []
    try:
        prepared = _prepare(site)
        webhook = _webhook(site)
        with pytest.raises(PullError, match="no smart process matches"):
            pull(webhook, tmp_path / "none", ["nothing"], rate=50)
        assert not (tmp_path / "none").exists() and not list(tmp_path.glob(".none*"))
        counts = pull(webhook, out, None, rate=50, progress=shown.append)
        admin = site.admin
        source = {process: admin.list(process, limit=500) for process, _ in SAMPLES}
        source_processes = {process: admin.process(process) for process, _ in SAMPLES}
        source_logins = {u["id"]: u["login"] for u in admin.users()}
        source_directory = admin.directory()
        source_numbers = admin.numbers()
        history = {(p, i["id"]): _stages(admin.history(p, i["id"])) for p, rows in source.items() for i in rows}
        said = {(p, i["id"]): _comments(admin, p, i["id"]) for p, rows in source.items() for i in rows}
        files = {f["name"]: admin.file("complaint", prepared["complaint"], f["id"])[1]
                 for f in admin.files("complaint", prepared["complaint"])["attachments"]}
    finally:
        site.close()
    assert counts == {process: len(rows) for process, rows in source.items()} | {
        p: 0 for p in counts if p not in source}
    assert f"procurement: items {len(source['procurement'])} of {len(source['procurement'])}" in shown
    assert not list(tmp_path.glob(".pulled*"))  # the work folder is gone once the pull is whole
    assert (out / "procurement.yaml").read_text("utf-8").startswith(
        "# yaml-language-server: $schema=./smartflow.schema.json\n")
    report = (out / "PULL.md").read_text("utf-8")
    assert "Rights" in report and "--keep-ids bitrix_id" in report
    assert "- userfieldconfig.list (fields' titles in other languages" in report  # a method smartflow has not
    assert report.index("smartflow import patient data/patient.csv") < report.index(
        "smartflow import appointment data/appointment.csv")  # what is linked to first
    assert "type: link" in (out / "appointment.yaml").read_text("utf-8")
    assert sum(1 for h in history.values() for row in h if row[0] == "stage") >= 5

    checked = CliRunner().invoke(main, ["validate", str(out)])
    assert checked.exit_code == 0, checked.output
    assert invoke(target_url, "apply", str(out)).exit_code == 0
    # the report's own department commands, as a shell would split them: parents first, heads after the users
    commands = [shlex.split(line)[1:] for line in report.splitlines() if line.startswith("smartflow department ")]
    adds = [c for c in commands if c[1] == "add"]
    assert adds and adds.index(next(c for c in adds if c[2] == "9")) > adds.index(
        next(c for c in adds if c[2] == "supply"))
    assert report.index("smartflow user import users.csv") > report.index("smartflow department add")
    assert report.index("smartflow department head 9 orlov") > report.index("smartflow user import users.csv")
    for command in adds:
        assert invoke(target_url, *command).exit_code == 0, command
    people = invoke(target_url, "user", "import", str(out / "users.csv"), "--role", "manager")
    assert people.exit_code == 0, people.output
    for command in (c for c in commands if c[1] == "head"):
        assert invoke(target_url, *command).exit_code == 0, command
    for process in source:  # in the report's order: patients before the appointments that link to them
        imported = invoke(target_url, "import", process, str(out / "data" / f"{process}.csv"),
                          "--keep-ids", "bitrix_id", "--files", str(out))
        assert imported.exit_code == 0, imported.output
    for process in source:
        for kind in ("history", "comments"):
            imported = invoke(target_url, "import", process, str(out / "data" / f"{process}.{kind}.csv"), f"--{kind}")
            assert imported.exit_code == 0, imported.output
    again = invoke(target_url, "import", "procurement", str(out / "data" / "procurement.history.csv"), "--history")
    assert again.exit_code == 0 and ": 0 written" in again.output, again.output  # already imported: skipped

    with Engine(target_url) as crm:
        target_logins = {u["id"]: u["login"] for u in crm.users()}
        assert target_logins == source_logins  # every user under the source's id
        directory = crm.directory()
        assert directory["departments"] == source_directory["departments"]  # ids, titles, parents and heads
        assert ({u["login"]: u["department"] for u in directory["users"]}
                == {u["login"]: u["department"] for u in source_directory["users"]})
        # the folder declared the source's numbers: the target answers with them (scripts keep working)
        numbers = crm.numbers()
        for kind in ("type", "entity", "category"):
            assert numbers[kind] == source_numbers[kind], kind
        assert sorted(numbers["option"].values()) == sorted(source_numbers["option"].values())
        for process, rows in source.items():
            pulled = crm.process(process)
            got = {item["id"]: _comparable(pulled, item, target_logins) for item in crm.list(process, limit=500)}
            want = {item["id"]: _comparable(source_processes[process], item, source_logins) for item in rows}
            assert got == want, process  # every field but files, value for value, under the same ids
            assert len(got) == len(rows) > 0
            assert all(item["bitrix_id"] == item["id"] for item in crm.list(process, limit=500))
            pipelines = {p.id: [(s.id, s.semantic, _first(s.title)) for s in p.stages] for p in pulled.pipelines}
            assert pipelines == {p.id.lower(): [(s.id.lower(), s.semantic, _first(s.title)) for s in p.stages]
                                 for p in source_processes[process].pipelines}, process
            for item in rows:
                assert _stages(crm.history(process, item["id"])) == history[(process, item["id"])], (process, item)
                assert _comments(crm, process, item["id"]) == said[(process, item["id"])], (process, item)
        got_files = {f["name"]: crm.file("complaint", prepared["complaint"], f["id"])[1]
                     for f in crm.files("complaint", prepared["complaint"])["attachments"]}
        assert sorted(got_files.values()) == sorted(files.values())
        assert "акт_ проверки.pdf" in got_files
        # the ids go on after the kept ones
        largest = max(item["id"] for item in source["procurement"])
        assert crm.create("procurement", {"title": "после переезда"}) > largest
    taken = invoke(target_url, "import", "procurement", str(out / "data" / "procurement.csv"),
                   "--keep-ids", "bitrix_id")
    assert taken.exit_code == 1 and "is taken by an item of procurement" in taken.output, taken.output


def test_an_interrupted_pull_resumes_and_ends_as_an_uninterrupted_one(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """The portal stops answering part-way (from the 16th request on it answers 503 QUERY_LIMIT_EXCEEDED,
    as a portal whose request budget ran out): the pull gives up after one retry and writes no YAML,
    only its work folder; run again (with a new webhook, as after an interruption one may), it reads
    only what it lacks, and the folder equals the one an uninterrupted pull writes."""
    monkeypatch.setenv("SMARTFLOW_BITRIX24_LIMIT", "1000,100000")
    (tmp_path / "source").mkdir()
    site = Site(f"sqlite:///{tmp_path / 'source' / 'source.db'}")
    sent = reading.Client._get
    calls = {"n": 0}

    def failing(client: reading.Client, url: str, body: bytes | None = None) -> tuple[int, bytes, str]:
        calls["n"] += 1
        if calls["n"] > 15:
            return 503, b'{"error": "QUERY_LIMIT_EXCEEDED", "error_description": "Too many requests"}', ""
        return sent(client, url, body)

    try:
        _prepare(site)
        first_hook = _webhook(site)
        with monkeypatch.context() as patch, pytest.raises(PullError, match="QUERY_LIMIT_EXCEEDED") as failed:
            patch.setattr(reading.Client, "_get", failing)
            pull(first_hook, tmp_path / "pulled", ["procurement", "complaint"], rate=50, retries=1)
        assert "run the same command again to continue" in str(failed.value.hint)
        assert sorted(p.name for p in tmp_path.iterdir()) == [".pulled.pull", "source"]  # no YAML, no staging
        work = tmp_path / ".pulled.pull"
        assert not list(work.rglob("*.yaml")) and not list(work.rglob("*.csv"))
        steps = len(list((work / "steps").iterdir()))
        assert steps > 5
        with pytest.raises(PullError, match="another portal or other --types"):
            pull(first_hook, tmp_path / "pulled", ["procurement"], rate=50, retries=1)
        said: list[str] = []
        counts = pull(_webhook(site), tmp_path / "pulled", ["procurement", "complaint"], rate=50, retries=1,
                      report=said.append)
        assert any(f"({steps} steps read from the interrupted pull)" in line for line in said), said
        assert not work.exists()
        # the files' URLs answer with the caller's rights: a buyer may not read complaints
        scan = next((tmp_path / "pulled" / "files" / "complaint").rglob("*.pdf"))
        item, file_id = int(scan.parent.parent.name), int(scan.parent.name)
        ivanova = next(u["id"] for u in site.admin.users() if u["login"] == "ivanova")
        path = (f"/rest/{{}}/{{}}/crm.controller.item.getFile?entityTypeId={_etid(site, 'complaint')}&id={item}"
                f"&fieldName=x&fileId={file_id}")
        boss = httpx.get(site.base + path.format(*_hook_parts(_webhook(site))), timeout=HTTP_TIMEOUT)
        assert boss.status_code == 200 and boss.content == SCAN
        assert "filename*=UTF-8''" in boss.headers["content-disposition"]
        denied = httpx.get(site.base + path.format(ivanova, site.admin.create_token("ivanova")), timeout=HTTP_TIMEOUT)
        assert denied.status_code == 400 and denied.json()["error"] == "NOT_FOUND"
        whole = pull(_webhook(site), tmp_path / "whole", ["procurement", "complaint"], rate=50, retries=1)
    finally:
        site.close()
    assert counts == whole and counts["procurement"] > 0
    compared = filecmp.dircmp(tmp_path / "pulled", tmp_path / "whole")
    assert _same_tree(compared), (compared.diff_files, compared.left_only, compared.right_only)
    assert (tmp_path / "pulled" / "files" / "complaint").is_dir()


def _hook_parts(webhook: str) -> tuple[str, str]:
    user_id, token = webhook.rstrip("/").split("/")[-2:]
    return user_id, token


def _etid(site: Site, process: str) -> int:
    answer = httpx.post(_webhook(site) + "crm.type.list", timeout=HTTP_TIMEOUT).json()["result"]["types"]
    return int(next(t["entityTypeId"] for t in answer if t["code"] == process))


def _same_tree(compared: filecmp.dircmp[str]) -> bool:
    (_, mismatched, failed) = filecmp.cmpfiles(compared.left, compared.right, compared.common_files, shallow=False)
    return not (mismatched or failed or compared.left_only or compared.right_only) and all(
        _same_tree(sub) for sub in compared.subdirs.values())
