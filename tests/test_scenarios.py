"""`smartflow test`: the shipped scenarios pass, and a broken definition fails them clearly."""

from __future__ import annotations

import shutil
from pathlib import Path

from click.testing import CliRunner

from smartflow.cli.main import main
from tests.conftest import PROCESSES


def test_shipped_scenarios_pass(runner: CliRunner) -> None:
    result = runner.invoke(main, ["test", str(PROCESSES)])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert all(line.endswith("PASSED") for line in lines[:-2])
    assert lines[-1].startswith(f"{len(lines) - 2} passed, 0 failed in ")


def _copy(tmp_path: Path) -> Path:
    folder = tmp_path / "processes"
    shutil.copytree(PROCESSES, folder)
    return folder


def test_a_broken_definition_fails_its_scenario_with_the_step_and_what_was_found(runner: CliRunner,
                                                                                  tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    procurement = folder / "procurement.yaml"
    text = procurement.read_text(encoding="utf-8")
    broken = text.replace("        required: [estimate, materials]\n", "")
    assert broken != text
    procurement.write_text(broken, encoding="utf-8")
    result = runner.invoke(main, ["test", str(folder), "-k", "required fields"])
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert lines[0].endswith("a move whose required fields are empty is refused FAILED")
    header = next(i for i, line in enumerate(lines) if line.startswith("___ "))
    assert lines[header + 1].endswith("tests/procurement.yaml:55:9: step 2: move timber to prices as ivanova")
    assert lines[header + 2] == "  expected: the move to be refused (requires `materials`)"
    assert lines[header + 3] == "  found:    the move succeeded"
    assert lines[-1].startswith("0 passed, 1 failed in ")


def test_an_error_inside_a_step_is_that_steps_failure(runner: CliRunner, tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    (folder / "tests" / "extra.yaml").write_text(
        "kind: Test\nid: extra\nscenarios:\n"
        "  - name: a typo in a value\n"
        "    steps:\n"
        "      - create: procurement\n"
        "        ref: p\n"
        "        set: {title: Бетон, estimate: 12.5O}\n"
        "      - expect: p\n"
        "        stage: estimate\n",
        encoding="utf-8",
    )
    result = runner.invoke(main, ["test", str(folder), "-k", "typo"])
    assert result.exit_code == 1
    assert "extra.yaml:6:9: step 1: create procurement" in result.output
    assert "  expected: the step to succeed" in result.output
    assert "  found:    InvalidValue: field `estimate`: '12.5O' is not a number" in result.output
    assert "Traceback" not in result.output


def test_scenarios_are_validated_with_the_definitions(runner: CliRunner, tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    (folder / "tests" / "bad.yaml").write_text(
        "kind: Test\nid: bad\nusers:\n  anna: {roles: [buyr]}\nscenarios:\n"
        "  - name: refs\n"
        "    steps:\n"
        "      - move: nothing\n"
        "        to: prices\n",
        encoding="utf-8",
    )
    result = runner.invoke(main, ["validate", str(folder)])
    assert result.exit_code == 1
    assert "bad.yaml:4:18: error[unknown-role]: unknown role `buyr`" in result.output
    assert "bad.yaml:8:15: error[unknown-ref]: `nothing` names no item created earlier" in result.output
    tested = runner.invoke(main, ["test", str(folder)])
    assert tested.exit_code == 3
