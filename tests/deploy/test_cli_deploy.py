"""The deploy commands through the CLI: plan, apply, versions, rollback; their output and exit codes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from smartflow.cli.main import EXIT_BUSY, EXIT_DATABASE, EXIT_DEFINITIONS, EXIT_NOT_FOUND, EXIT_REFUSED, main
from smartflow.definitions.convert import to_yaml
from tests.dbutil import snapshot
from tests.deploy.helpers import archive, base, columns, insert_items, rows


def write(folder: Path, *documents: dict[str, Any]) -> Path:
    """The documents as the YAML files of folder (replacing what was there)."""
    folder.mkdir(exist_ok=True)
    for old in folder.glob("*.yaml"):
        old.unlink()
    for document in documents:
        (folder / f"{document['id']}.yaml").write_text(to_yaml(document), encoding="utf-8")
    return folder


def run(runner: CliRunner, *args: str, env: dict[str, str] | None = None) -> Result:
    result = runner.invoke(main, list(args), env=env)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert "Traceback" not in result.output
    return result


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'cli.db'}"


def test_plan_apply_versions_rollback(runner: CliRunner, db_url: str, tmp_path: Path) -> None:
    folder = write(tmp_path / "processes", base())
    planned = run(runner, "plan", str(folder), "--db", db_url)
    assert planned.exit_code == 1  # changes pending
    assert "nothing deployed yet" in planned.stdout.splitlines()[0]
    assert "  + create process `deal` «Deal»: 4 fields, 1 pipeline(s); tables p_deal" in planned.stdout

    applied = run(runner, "apply", str(folder), "--db", db_url, "--as", "ivanov")
    assert applied.exit_code == 0, applied.output
    assert applied.stdout.endswith("\nApplied: version 1 is live.\n")
    assert planned.stdout.splitlines()[1:] == applied.stdout.splitlines()[1:-2]  # apply printed the same plan

    again = run(runner, "plan", str(folder), "--db", db_url)
    assert again.exit_code == 0
    assert again.stdout.splitlines()[-1] == "No changes: the database matches the definitions."
    reapplied = run(runner, "apply", str(folder), "--db", db_url)
    assert (reapplied.exit_code, reapplied.stdout) == (0, "No changes: the database matches the definitions.\n")

    insert_items(db_url, "deal", [{"note": "первая"}, {"note": "вторая"}, {}])
    changed = base()
    del changed["fields"]["note"]
    write(folder, changed)
    before = snapshot(db_url)
    refused = run(runner, "apply", str(folder), "--db", db_url)
    assert refused.exit_code == EXIT_REFUSED
    assert refused.stderr.splitlines() == [
        "error: apply refused, nothing was changed: field `note` holds data in 2 items",
        "  hint: pass --allow-data-loss to proceed (removed data is kept in sf_archive), or change the definitions",
    ]
    assert snapshot(db_url) == before

    dry = run(runner, "apply", str(folder), "--db", db_url, "--allow-data-loss", "--dry-run")
    assert dry.exit_code == 0
    assert "      allowed by --allow-data-loss: field `note` holds data in 2 items" in dry.stdout
    assert dry.stdout.endswith("\nDry run: everything was rolled back.\n")
    assert snapshot(db_url) == before

    allowed = run(runner, "apply", str(folder), "--db", db_url, "--allow-data-loss", "--as", "petrov")
    assert allowed.exit_code == 0
    assert allowed.stdout.endswith("\nApplied: version 2 is live.\n")
    assert "note" not in columns(db_url, "p_deal")

    listed = run(runner, "versions", "--db", db_url)
    assert listed.exit_code == 0
    header, _, *lines = listed.stdout.splitlines()
    assert header.split() == ["version", "deployed", "at", "by", "git", "commit", "hash", "changes"]
    assert [(line.split()[0], line.split()[3]) for line in lines] == [("2", "petrov"), ("1", "ivanov")]
    as_json = json.loads(run(runner, "versions", "--db", db_url, "--format", "json").stdout)
    assert [(v["version"], v["created_by"], v["changes"]) for v in as_json] == [(2, "petrov", 1), (1, "ivanov", 4)]

    against = run(runner, "plan", str(folder), "--db", db_url, "--against", "1")
    assert against.exit_code == 1
    assert "(compared with version 1 (item counts not shown): version 1)" in against.stdout
    assert "  - process `deal`: remove field `note` (text)" in against.stdout

    back = run(runner, "rollback", "1", "--db", db_url)
    assert back.exit_code == 0, back.output
    assert "  + process `deal`: add field `note` (text)" in back.stdout
    assert back.stdout.endswith("\nApplied: version 3 is live.\n")
    assert rows(db_url, "p_deal", "note") == [(None,), (None,), (None,)]  # the notes are in the archive
    assert [data for _, _, _, data, _ in archive(db_url)] == ["первая", "вторая"]

    unknown = run(runner, "rollback", "9", "--db", db_url)
    assert unknown.exit_code == EXIT_NOT_FOUND
    assert unknown.stderr.splitlines() == ["error: version 9 does not exist",
                                           "  hint: run `smartflow versions` to list them"]


def test_plan_as_json(runner: CliRunner, sqlite_url: str, tmp_path: Path) -> None:
    folder = write(tmp_path / "processes", base())
    result = run(runner, "plan", str(folder), "--db", sqlite_url, "--format", "json")
    assert result.exit_code == 1
    payload = json.loads(result.stdout)
    assert (payload["deployed_version"], payload["changes"], payload["refused"]) == (None, 4, [])
    assert [op["kind"] for op in payload["operations"]] == [
        "create_system_tables", "create_process", "note", "note", "record_version"]


def test_database_from_the_environment(runner: CliRunner, sqlite_url: str, tmp_path: Path) -> None:
    folder = write(tmp_path / "processes", base())
    env = {"SMARTFLOW_DATABASE_URL": sqlite_url}
    assert run(runner, "apply", str(folder), env=env).exit_code == 0
    assert run(runner, "plan", str(folder), env=env).exit_code == 0
    listed = run(runner, "versions", "--format", "json", env=env)
    assert [v["version"] for v in json.loads(listed.stdout)] == [1]
    other = f"sqlite:///{tmp_path / 'other.db'}"  # --db wins over the environment
    assert run(runner, "plan", str(folder), "--db", other, env=env).exit_code == 1
    assert run(runner, "versions", "--db", other, env=env).stdout == "Nothing deployed yet.\n"


def test_default_folder_and_default_database(runner: CliRunner, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "processes", base())
    env = {"SMARTFLOW_DATABASE_URL": ""}
    result = run(runner, "apply", env=env)
    assert result.exit_code == 0, result.output
    assert "Plan for sqlite:///smartflow.db " in result.stdout
    assert (tmp_path / "smartflow.db").exists()


def test_invalid_definitions_exit_3_and_change_nothing(runner: CliRunner, sqlite_url: str, tmp_path: Path) -> None:
    broken = base()
    broken["fields"]["kind"]["options"] = []
    folder = write(tmp_path / "processes", broken)
    for command in ("plan", "apply"):
        result = run(runner, command, str(folder), "--db", sqlite_url)
        assert result.exit_code == EXIT_DEFINITIONS
        assert "deal.yaml:" in result.stderr
        assert result.stderr.splitlines()[-2:] == [
            "error: the definitions have 1 error(s); nothing was changed",
            "  hint: run `smartflow validate` to see them all",
        ]
    assert not Path(sqlite_url.removeprefix("sqlite:///")).exists()  # the database was not even opened


def test_unusable_database_exits_6(runner: CliRunner, tmp_path: Path) -> None:
    folder = write(tmp_path / "processes", base())
    result = run(runner, "apply", str(folder), "--db", f"sqlite:///{tmp_path / 'no' / 'such' / 'dir.db'}")
    assert result.exit_code == EXIT_DATABASE
    assert result.stderr.startswith("error: cannot use the database sqlite:///")
    assert "check --db / SMARTFLOW_DATABASE_URL" in result.stderr


def test_busy_database_exits_5(runner: CliRunner, sqlite_url: str, tmp_path: Path) -> None:
    import sqlite3

    folder = write(tmp_path / "processes", base())
    assert run(runner, "apply", str(folder), "--db", sqlite_url).exit_code == 0
    changed = base()
    changed["fields"]["region"] = {"type": "string"}
    write(folder, changed)
    other = sqlite3.connect(sqlite_url.removeprefix("sqlite:///"), isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        result = run(runner, "apply", str(folder), "--db", sqlite_url, "--lock-timeout", "0.2")
    finally:
        other.rollback()
        other.close()
    assert result.exit_code == EXIT_BUSY
    assert result.stderr.splitlines()[0] == "error: another apply holds the database lock (waited 0.2s)"
    assert run(runner, "apply", str(folder), "--db", sqlite_url).exit_code == 0
