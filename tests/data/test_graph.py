"""`smartflow graph`: the stage graph as Mermaid and DOT — stages, transitions, conditions, the roles that may
take them, success and failure marked — and `--diff` against the deployed version."""

from __future__ import annotations

import copy
import shutil
import subprocess
from pathlib import Path

import pytest

from smartflow.analytics.graph import Edge, diff_graphs, mermaid, pipeline_graph
from smartflow.cli.main import EXIT_NOT_DEPLOYED, EXIT_USAGE
from tests.data.support import DEAL, DOCUMENTS, invoke
from tests.runtime.support import write_definitions

MAIN_EDGES = [
    ('s_new -->|"Start<br>when amount #gt; 0<br>roles: administrator, loader, seller"| s_work'),
    ('s_work -->|"roles: loader, seller"| s_won'),
    ('any_ -->|"roles: administrator, loader, seller"| s_lost'),
    ('s_lost -->|"roles: administrator, loader, seller"| s_new'),
]


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    write_definitions(tmp_path / "defs", *DOCUMENTS)
    return tmp_path / "defs"


def test_mermaid_shows_stages_transitions_conditions_and_roles(folder: Path) -> None:
    result = invoke("sqlite://", "graph", "deal", str(folder))
    assert result.exit_code == 0, result.output
    lines = [line.strip() for line in result.stdout.splitlines()]
    assert lines[:4] == ["---", 'title: "Deal · Sales"', "---", "flowchart LR"]
    assert lines[5:11] == ['s_new["New"]', 's_work["In progress"]', 's_won(["✓ Won"])', 's_lost(["✗ Lost"])',
            'any_{{"any stage"}}', "start_ --> s_new"]
    assert lines[11:15] == MAIN_EDGES
    assert {"class s_won success", "class s_lost failure", "class s_new process"} <= set(lines)


def test_roles_are_those_whose_rights_reach_the_target() -> None:
    from smartflow.definitions.convert import definition_from_documents

    deal = copy.deepcopy(DEAL)
    deal["permissions"]["seller"]["stages"] = ["work"]  # may move items into `work` only
    process = definition_from_documents([(d, "") for d in (*DOCUMENTS[:2], deal)]).process("deal")
    assert process is not None
    edges = {(e.source, e.target): e.label[-1] for e, _ in pipeline_graph(process).edges}
    assert edges[("new", "work")] == "roles: administrator, loader, seller"
    assert edges[("work", "won")] == "roles: loader"
    assert edges[("*", "lost")] == "roles: administrator, loader"


def test_dot_in_russian(folder: Path) -> None:
    result = invoke("sqlite://", "graph", "deal", str(folder), "--format", "dot", "--lang", "ru", "--pipeline",
                    "express")
    lines = [line.strip() for line in result.stdout.splitlines()]
    assert lines[0] == 'digraph "Сделка · Экспресс" {'
    assert 's_done [label="✓ Готово", fillcolor="#c8e6c9"];' in lines
    assert 'any_ [label="any move allowed", shape=hexagon, style=dashed];' in lines
    assert not any("->" in line for line in lines if not line.startswith("start_"))  # no transitions listed
    if shutil.which("dot"):  # Graphviz, where installed, must accept it
        subprocess.run(["dot", "-Tsvg"], input=result.stdout, text=True, check=True, capture_output=True)


def test_diff_against_the_deployed_version(folder: Path, tmp_path: Path, db_url: str) -> None:
    url = db_url
    assert invoke(url, "apply", str(folder)).exit_code == 0
    changed = copy.deepcopy(DEAL)
    stages = changed["pipelines"]["main"]["stages"]
    stages["check"] = {"title": "Check"}
    stages["won"], stages["lost"] = stages.pop("won"), stages.pop("lost")
    changed["pipelines"]["main"]["transitions"] = [
        {"from": "new", "to": "work", "when": "amount > 100", "title": "Start"},
        {"from": "work", "to": "check"}, {"from": "check", "to": "won", "roles": ["seller", "loader"]},
        {"from": "*", "to": "lost"}, {"from": "lost", "to": "new"}]
    write_definitions(tmp_path / "new", *DOCUMENTS[:2], changed, DOCUMENTS[3])
    result = invoke(url, "graph", "deal", str(tmp_path / "new"), "--diff")
    assert result.exit_code == 0, result.output
    lines = [line.strip() for line in result.stdout.splitlines()]
    assert lines[4:10] == [
        "%% + stage `check` (Check)",
        "%% + transition `new` → `work` (Start; when amount > 100; roles: administrator, loader, seller)",
        "%% + transition `work` → `check` (roles: administrator, loader, seller)",
        "%% + transition `check` → `won` (roles: loader, seller)",
        "%% - transition `new` → `work` (Start; when amount > 0; roles: administrator, loader, seller)",
        "%% - transition `work` → `won` (roles: loader, seller)"]
    assert 's_check["+ Check"]' in lines and "class s_check added" in lines
    assert 's_work -.->|"− roles: loader, seller"| s_won' in lines
    assert 's_work ==>|"+ roles: administrator, loader, seller"| s_check' in lines
    assert "linkStyle 2 stroke:#2e7d32,stroke-width:2px" in lines  # the third link: the new `new` → `work`
    same = invoke(url, "graph", "deal", str(folder), "--diff").stdout
    assert "%% no change to the stage graph" in same and "==>" not in same and "-.->" not in same
    deployed = invoke(url, "graph", "deal", "--deployed").stdout
    assert deployed == invoke(url, "graph", "deal", str(folder)).stdout


def test_diff_of_a_process_not_yet_deployed_adds_everything(folder: Path, db_url: str) -> None:
    result = invoke(db_url, "graph", "deal", str(folder), "--diff")
    assert result.exit_code == 0
    assert result.stdout.count("%% + stage") == 4 and result.stdout.count("%% + transition") == 4


def test_removed_stage_and_changed_title() -> None:
    from smartflow.analytics.graph import Graph, Node

    before = Graph("t", "a", [(Node("a", "A", "process"), ""), (Node("b", "B", "success"), "")],
                   [(Edge("a", "b", ("roles: x",)), "")])
    after = Graph("t", "a", [(Node("a", "A2", "process"), "")], [])
    drawn = diff_graphs(before, after)
    assert drawn.notes == ["~ stage `a`: A (process) → A2 (process)", "- stage `b` (B)",
                           "- transition `a` → `b` (roles: x)"]
    text = mermaid(drawn)
    assert 's_b(["− ✓ B"])' in text and "class s_b removed" in text and "class s_a changed" in text


def test_errors(folder: Path, tmp_path: Path) -> None:
    unknown = invoke("sqlite://", "graph", "dael", str(folder))
    assert unknown.exit_code == EXIT_NOT_DEPLOYED
    assert unknown.stderr == "error: the files define no process `dael`\n  hint: did you mean `deal`?\n"
    nothing = invoke(f"sqlite:///{tmp_path / 'none.db'}", "graph", "deal", "--deployed")
    assert nothing.exit_code == EXIT_NOT_DEPLOYED
    assert nothing.stderr.startswith("error: there is no deployed process `deal`")
    assert invoke("sqlite://", "graph", "deal", str(folder), "--diff", "--deployed").exit_code == EXIT_USAGE
    assert "has no pipeline `mian`" in invoke("sqlite://", "graph", "deal", str(folder), "--pipeline", "mian").stderr
