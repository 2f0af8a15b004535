"""What the administration pages show of a deployed process, read-only (definitions stay in git):
its fields, each pipeline's stage graph (as `smartflow graph` draws it), the rights matrix and who
holds it, and the deployed versions with who deployed them and the plan each applied."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from smartflow.runtime.compiled import CompiledProcess
from smartflow.runtime.items import Write
from smartflow.services import catalog, rights


def process_overview(write: Write, compiled: CompiledProcess, lang: str | None = None) -> dict[str, Any]:
    from smartflow.analytics import graph  # the administration pages only: not on every command's start-up

    process = compiled.process
    graphs = []
    for pipeline in process.pipelines:
        drawn = graph.pipeline_graph(process, pipeline.id, lang)
        graphs.append({
            "pipeline": pipeline.id, "title": catalog.titles(pipeline.title), "default": pipeline.default,
            "first": drawn.first, "any_move": drawn.any_move,
            "stages": [{"id": node.id, "title": node.title, "semantic": node.semantic} for node, _ in drawn.nodes],
            "transitions": [{"from": edge.source, "to": edge.target, "label": list(edge.label)}
                            for edge, _ in drawn.edges],
            "mermaid": graph.mermaid(drawn)})
    return {"id": process.id, "title": catalog.titles(process.title),
            "description": catalog.titles(process.description),
            "fields": [catalog.field_data(f) for f in process.fields], "pipelines": graphs,
            "triggers": [{"id": t.id, "title": catalog.titles(t.title), "on": t.on, "stage": t.stage, "field": t.field,
                          "when": t.when, "after": t.after, "actions": [a.kind for a in t.do]}
                         for t in process.triggers],
            "rights": rights.roles_matrix(compiled), "access": rights.process_report(write, compiled),
            "versions": versions(write, process.id)}


def versions(write: Write, process_id: str | None = None) -> list[dict[str, Any]]:
    """Deployed versions, newest first: who deployed them, when, and the plan each applied (the
    steps of one process only, when given)."""
    table = write.compiled.tables["sf_versions"]
    rows = write.connection.execute(sa.select(table.c.id, table.c.created_at, table.c.created_by, table.c.git_commit,
                                              table.c.plan).order_by(table.c.id.desc()))
    found = []
    for row in rows:
        steps = [step for step in (row.plan or []) if process_id is None or step.get("process") in (None, process_id)]
        found.append({"version": row.id, "created_at": row.created_at, "created_by": row.created_by,
                      "git_commit": row.git_commit,
                      "changes": [step.get("text", "") for step in steps if step.get("kind") != "record_version"]})
    return found
