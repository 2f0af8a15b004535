"""A pipeline's stage graph as Mermaid (GitHub renders it in a pull request) or Graphviz DOT, and the
difference between two versions of it.

Nodes are stages (success ✓ and failure ✗ marked and coloured, the first one entered from a
start dot); edges are the transitions, labelled with their title, their condition and the roles
that may take them — the transition's `roles` narrowed to the roles whose rights let them move
items into the target stage, as the runtime decides. A diff draws both versions in one picture:
what a change adds is thick and green, what it removes dotted and red, and the same in words at
the top as comments.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import field, replace
from typing import Any

from smartflow.definitions.hints import did_you_mean, known_list
from smartflow.definitions.model import Pipeline, Process, Transition
from smartflow.errors import InvalidValue
from smartflow.records import record

ANY = "*"
_FILL = {"process": "#e3f2fd", "success": "#c8e6c9", "failure": "#ffcdd2"}
_MARK = {"process": "", "success": "✓ ", "failure": "✗ "}
_STATUS_COLOUR = {"added": "#2e7d32", "removed": "#c62828", "changed": "#f9a825"}
_STATUS_MARK = {"": "", "added": "+ ", "removed": "− ", "changed": "~ "}


@record(frozen=True)
class Node:
    """A stage to draw: its id, title and semantic (process, success, failure)."""

    id: str
    title: str
    semantic: str


@record(frozen=True)
class Edge:
    """A transition to draw, from a stage (or any) to a stage, with its label's lines."""

    source: str  # a stage id, or ANY
    target: str
    label: tuple[str, ...]  # title, condition, roles: one line each


@record
class Graph:
    """What to draw: nodes and edges, each with a status ("" or added / removed / changed)."""

    title: str
    first: str
    nodes: list[tuple[Node, str]]
    edges: list[tuple[Edge, str]]
    any_move: bool = False  # the pipeline lists no transitions: every move is allowed
    notes: list[str] = field(default_factory=list)


def choose_pipeline(process: Process, pipeline_id: str | None) -> Pipeline:
    chosen = process.pipeline(pipeline_id) if pipeline_id else process.default_pipeline
    if chosen is None:
        known = [p.id for p in process.pipelines]
        raise InvalidValue(f"{process.id} has no pipeline `{pipeline_id}`",
                           did_you_mean(pipeline_id or "", known) or f"pipelines: {known_list(known)}")
    return chosen


def movers(process: Process, transition: Transition) -> list[str]:
    """The roles that may take a transition: its `roles` (any when absent) whose rights reach the target stage."""
    import sqlalchemy as sa

    from smartflow.runtime.compiled import CompiledProcess

    rights = CompiledProcess(process, sa.Table(f"p_{process.id}", sa.MetaData()), {}, None)
    roles = sorted({p.role for p in process.permissions} | {"administrator"})
    allowed = []
    for role in roles:
        levels, stages = rights.grants(frozenset({role}))
        if levels["move"] == "none" or (stages is not None and transition.target not in stages):
            continue
        if transition.roles is None or role in transition.roles:
            allowed.append(role)
    return allowed


def pipeline_graph(process: Process, pipeline_id: str | None = None, lang: str | None = None) -> Graph:
    pipeline = choose_pipeline(process, pipeline_id)
    nodes = [(Node(s.id, s.title.get(lang), s.semantic), "") for s in pipeline.stages]
    edges = []
    for transition in pipeline.transitions or ():
        label = [transition.title.get(lang)] if transition.title else []
        label += [f"when {transition.when}"] if transition.when else []
        label.append("roles: " + (", ".join(movers(process, transition)) or "none"))
        for source in transition.sources or (ANY,):
            if "." in source:  # a stage of another pipeline (`pipeline.stage`): drawn as a node of its own
                other = process.pipeline(source.split(".", 1)[0])
                stage = other.stage(source.split(".", 1)[1]) if other is not None else None
                node = Node(source, f"{other.title.get(lang)} · {stage.title.get(lang)}", stage.semantic) \
                    if other is not None and stage is not None else Node(source, source, "process")
                if all(known.id != source for known, _ in nodes):
                    nodes.append((node, ""))
            edges.append((Edge(source, transition.target, tuple(label)), ""))
    return Graph(f"{process.title.get(lang)} · {pipeline.title.get(lang)}", pipeline.stages[0].id, nodes, edges,
                 pipeline.transitions is None)


def diff_graphs(deployed: Graph | None, desired: Graph) -> Graph:
    """One graph holding both versions: every node and edge marked added, removed, changed or kept."""
    if deployed is None:
        deployed = Graph(desired.title, desired.first, [], [])
    before = {node.id: node for node, _ in deployed.nodes}
    after = {node.id: node for node, _ in desired.nodes}
    nodes: list[tuple[Node, str]] = []
    notes: list[str] = []
    for node_id, node in after.items():
        old = before.get(node_id)
        if old is None:
            nodes.append((node, "added"))
            notes.append(f"+ stage `{node_id}` ({node.title})")
        elif old != node:
            nodes.append((node, "changed"))
            notes.append(f"~ stage `{node_id}`: {_node_words(old)} → {_node_words(node)}")
        else:
            nodes.append((node, ""))
    for node_id, node in before.items():
        if node_id not in after:
            nodes.append((node, "removed"))
            notes.append(f"- stage `{node_id}` ({node.title})")
    old_edges = [edge for edge, _ in deployed.edges]
    new_edges = [edge for edge, _ in desired.edges]
    edges = [(edge, "" if edge in old_edges else "added") for edge in new_edges]
    edges += [(edge, "removed") for edge in old_edges if edge not in new_edges]
    notes += [f"{'+' if status == 'added' else '-'} transition {_edge_words(edge)}" for edge, status in edges
              if status]
    if deployed.any_move != desired.any_move:
        notes.append("~ moves: " + ("any move allowed" if desired.any_move else "only the listed transitions"))
    return replace(desired, nodes=nodes, edges=edges, notes=notes or ["no change to the stage graph"])


def _node_words(node: Node) -> str:
    return f"{node.title} ({node.semantic})"


def _edge_words(edge: Edge) -> str:
    source = "any stage" if edge.source == ANY else f"`{edge.source}`"
    return f"{source} → `{edge.target}` ({'; '.join(edge.label)})"


# ---- Mermaid -----------------------------------------------------------------------


def _mermaid_text(text: str) -> str:
    """Text inside a quoted Mermaid label: entity codes for what would end or confuse it."""
    codes = {'"': "#quot;", "<": "#lt;", ">": "#gt;", "#": "#35;", "|": "#124;"}
    return "".join(codes.get(ch, ch) for ch in text)


def _node_id(stage_id: str) -> str:
    # a prefix: `end` and friends are Mermaid words; `pipeline.stage` as `s_pipeline__stage` (ids hold no `__`)
    return "any_" if stage_id == ANY else f"s_{stage_id.replace('.', '__')}"


def mermaid(graph: Graph) -> str:
    lines = ["---", f"title: {json.dumps(graph.title, ensure_ascii=False)}", "---", "flowchart LR"]
    lines += [f"    %% {note}" for note in graph.notes]
    lines.append("    start_(( ))")
    for node, status in graph.nodes:
        text = _mermaid_text(_STATUS_MARK[status] + _MARK[node.semantic] + node.title)
        shape = ('(["', '"])') if node.semantic != "process" else ('["', '"]')
        lines.append(f"    {_node_id(node.id)}{shape[0]}{text}{shape[1]}")
    if graph.any_move or any(edge.source == ANY for edge, _ in graph.edges):
        lines.append('    any_{{"' + ("any move allowed" if graph.any_move else "any stage") + '"}}')
    links: list[str] = [f"    start_ --> {_node_id(graph.first)}"]
    styles: list[str] = []
    if graph.any_move:  # keep the stages in their order, with no arrows between them
        order = [_node_id(node.id) for node, _ in graph.nodes]
        links += [f"    {a} ~~~ {b}" for a, b in itertools.pairwise(order)]
    for edge, status in graph.edges:
        arrow = {"added": "==>", "removed": "-.->"}.get(status, "-->")
        label = "<br>".join(_mermaid_text((_STATUS_MARK[status] if i == 0 else "") + line)
                            for i, line in enumerate(edge.label))
        if status:
            styles.append(f"    linkStyle {len(links)} stroke:{_STATUS_COLOUR[status]},stroke-width:2px")
        links.append(f'    {_node_id(edge.source)} {arrow}|"{label}"| {_node_id(edge.target)}')
    lines += links
    lines += [f"    classDef {semantic} fill:{fill}" for semantic, fill in _FILL.items()]
    lines += [f"    classDef {status} stroke:{colour},stroke-width:3px" + (",stroke-dasharray:5 5"
                                                                             if status == "removed" else "")
              for status, colour in _STATUS_COLOUR.items()]
    for node, status in graph.nodes:  # a second `class` line adds a class: the fill stays, the outline shows the diff
        lines.append(f"    class {_node_id(node.id)} {node.semantic}")
        lines += [f"    class {_node_id(node.id)} {status}"] if status else []
    lines += styles
    return "\n".join(lines)


# ---- Graphviz DOT ------------------------------------------------------------------


def _dot_text(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def dot(graph: Graph) -> str:
    lines = [f"digraph {_dot_text(graph.title)} {{", "    rankdir=LR;", f"    label={_dot_text(graph.title)};",
             "    labelloc=t;", '    node [shape=box, style="rounded,filled", fontname="Helvetica"];',
             '    edge [fontname="Helvetica", fontsize=10];']
    lines += [f"    // {note}" for note in graph.notes]
    lines.append("    start_ [shape=point, width=0.15];")
    for node, status in graph.nodes:
        attributes = {"label": _dot_text(_STATUS_MARK[status] + _MARK[node.semantic] + node.title),
                      "fillcolor": _dot_text(_FILL[node.semantic])}
        if status:
            attributes.update(color=_dot_text(_STATUS_COLOUR[status]), penwidth="3")
        if status == "removed":
            attributes["style"] = '"rounded,filled,dashed"'
        lines.append(f"    {_node_id(node.id)} [{_attributes(attributes)}];")
    if graph.any_move or any(edge.source == ANY for edge, _ in graph.edges):
        text = "any move allowed" if graph.any_move else "any stage"
        lines.append(f"    any_ [label={_dot_text(text)}, shape=hexagon, style=dashed];")
    lines.append(f"    start_ -> {_node_id(graph.first)};")
    for edge, status in graph.edges:
        attributes = {"label": _dot_text("\n".join([_STATUS_MARK[status] + edge.label[0], *edge.label[1:]]))}
        if status:
            colour = _dot_text(_STATUS_COLOUR[status])
            attributes.update(color=colour, fontcolor=colour, penwidth="2")
        if status == "removed":
            attributes["style"] = "dashed"
        lines.append(f"    {_node_id(edge.source)} -> {_node_id(edge.target)} [{_attributes(attributes)}];")
    lines.append("}")
    return "\n".join(lines)


def _attributes(values: dict[str, Any]) -> str:
    return ", ".join(f"{key}={value}" for key, value in values.items())
