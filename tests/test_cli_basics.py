"""The CLI surface of the definition language: validate, schema, init, exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from smartflow.cli.main import main
from tests.conftest import PROCESSES, ROOT


def test_shipped_processes_are_valid(runner: CliRunner) -> None:
    result = runner.invoke(main, ["validate", str(PROCESSES), "--strict"])
    assert result.output == ""
    assert result.exit_code == 0


def test_invalid_file_reports_located_error_and_exits_1(runner: CliRunner, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("kind: Process\nid: thing\ntitle: Thing\nfields: {}\npipline: {}\n", encoding="utf-8")
    result = runner.invoke(main, ["validate", str(bad)])
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert lines[0].endswith("bad.yaml:1:1: error[missing-key]: the document is missing the required key `pipelines`")
    assert "bad.yaml:5:1: error[unknown-key]: unknown key `pipline` in the document" in lines[2]
    assert lines[3] == "  hint: did you mean `pipelines`?"
    assert lines[-1] == "2 errors, 0 warnings in 1 file"


def test_json_output_lists_the_same_diagnostics(runner: CliRunner, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("kind: Roles\nroles:\n  Boss: {title: Босс}\n", encoding="utf-8")
    result = runner.invoke(main, ["validate", str(bad), "--format", "json"])
    assert result.exit_code == 1
    payload = json.loads(result.output)
    assert payload["valid"] is False
    [diagnostic] = payload["diagnostics"]
    assert (diagnostic["line"], diagnostic["col"], diagnostic["code"]) == (3, 3, "invalid-id")
    assert diagnostic["path"] == "roles.Boss"


def test_warnings_pass_unless_strict(runner: CliRunner, tmp_path: Path) -> None:
    doc = tmp_path / "p.yaml"
    doc.write_text(
        "kind: Process\nid: note\ntitle: Заметка\nfields: {}\n"
        "pipelines:\n  main:\n    title: Main\n    stages:\n      open: {title: Open}\n"
        "      done: {title: Done, semantic: success}\n",
        encoding="utf-8",
    )
    relaxed = runner.invoke(main, ["validate", str(doc)])
    assert relaxed.exit_code == 0
    assert "warning[no-failure-stage]" in relaxed.output
    assert relaxed.output.splitlines()[-1] == "0 errors, 1 warning in 1 file"
    assert runner.invoke(main, ["validate", str(doc), "--strict"]).exit_code == 1


def test_missing_path_is_a_usage_error(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(main, ["validate", str(tmp_path / "nope")])
    assert result.exit_code == 2
    assert "does not exist" in result.output


def test_no_default_folder_is_a_usage_error(runner: CliRunner, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(main, ["validate"])
    assert result.exit_code == 2
    assert "no `processes/` folder here" in result.output


def test_empty_folder_is_reported(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(main, ["validate", str(tmp_path)])
    assert result.exit_code == 1
    assert "error[no-definitions]: no .yaml or .yml files found" in result.output


def test_schema_command_prints_the_published_schema(runner: CliRunner) -> None:
    result = runner.invoke(main, ["schema"])
    assert result.exit_code == 0
    published = (ROOT / "schemas" / "smartflow.schema.json").read_text(encoding="utf-8")
    assert result.output == published
    assert json.loads(result.output)["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_init_scaffolds_a_folder_that_validates(runner: CliRunner, tmp_path: Path) -> None:
    target = tmp_path / "процессы"
    result = runner.invoke(main, ["init", str(target)])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in target.iterdir()) == ["example.yaml", "roles.yaml", "smartflow.schema.json"]
    assert runner.invoke(main, ["validate", str(target), "--strict"]).output == ""
    again = runner.invoke(main, ["init", str(target)])
    assert again.exit_code == 1
    assert "already exist" in again.output
    assert runner.invoke(main, ["init", str(target), "--force"]).exit_code == 0


def test_help_lists_commands_and_version(runner: CliRunner) -> None:
    result = runner.invoke(main, ["--help"])
    assert result.exit_code == 0
    for command in ("validate", "schema", "init"):
        assert command in result.output
    assert runner.invoke(main, ["--version"]).output.startswith("smartflow, version ")


def test_help_does_not_import_heavy_modules() -> None:
    code = (
        "import sys\nfrom click.testing import CliRunner\nfrom smartflow.cli.main import main\n"
        "CliRunner().invoke(main, ['--help'])\n"
        "heavy = [m for m in ('jsonschema', 'sqlalchemy', 'jinja2', 'openpyxl', 'transitions') if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == ""


def test_model_imports_nothing_of_ours() -> None:
    code = ("import sys\nimport smartflow.definitions.model\n"
            "print(sorted(m for m in sys.modules if m.startswith('smartflow.')))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    # records: the dataclass decorator, the standard library's own beneath it
    assert out.stdout.strip() == "['smartflow.definitions', 'smartflow.definitions.model', 'smartflow.records']"


def test_readme_test_command_is_what_ci_runs() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    blocks = [b.split("```", 1)[0].strip() for b in readme.split("```sh\n")[1:3]]
    install_and_run, install_and_test = blocks
    assert install_and_run.startswith("python3 -m venv .venv && . .venv/bin/activate && python3 -m pip install .")
    assert install_and_test in ci.splitlines()


def test_documented_definition_example_is_valid(runner: CliRunner, tmp_path: Path) -> None:
    """The example a reader copies first from "The definition format" validates (it once did not)."""
    page = (ROOT / "docs" / "how-to" / "definitions.md").read_text(encoding="utf-8")
    section = page[page.index("## The definition format"):]
    (tmp_path / "procurement.yaml").write_text(section.split("```yaml\n", 1)[1].split("```", 1)[0], encoding="utf-8")
    (tmp_path / "roles.yaml").write_text("kind: Roles\nroles:\n  buyer: {title: Закупщик}\n"
                                         "  production: {title: Производство}\n", encoding="utf-8")
    result = runner.invoke(main, ["validate", str(tmp_path), "--strict"])
    assert (result.exit_code, result.output) == (0, "")


def test_a_database_error_no_service_caught_is_one_line_and_exit_6(runner: CliRunner) -> None:
    import click
    import sqlalchemy as sa

    from smartflow.cli.main import SmartflowGroup

    @click.group(cls=SmartflowGroup)
    def group() -> None:
        """A group with smartflow's error handling."""

    @group.command()
    def broken() -> None:
        raise sa.exc.ProgrammingError("SELECT 1", {}, Exception("relation \"p_deal\" does not exist\nLINE 1"))

    @group.command()
    def bug() -> None:
        raise KeyError("not a database error")

    result = runner.invoke(group, ["broken"])
    assert result.exit_code == 6
    assert result.output.splitlines() == [
        'error: the database refused the operation: relation "p_deal" does not exist',
        "  hint: check --db / SMARTFLOW_DATABASE_URL, that the server is up and that `smartflow apply` has run",
    ]
    assert isinstance(runner.invoke(group, ["bug"]).exception, KeyError)  # our own bugs are not disguised
