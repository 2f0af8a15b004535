"""Services that look at a process whole: the stage graph of its definition (from the files, the
database, or both as a diff), and the renderers of the funnel report and its chart.

The report's data comes from `Engine.report` (it reads items as a user); this module turns such
data into text, tables and pictures, and draws graphs from models, without a database session.
"""

from __future__ import annotations

from pathlib import Path

from smartflow.analytics import chart, graph
from smartflow.analytics import report as reports
from smartflow.analytics.graph import Graph
from smartflow.services.deploy import deployed_process, file_process

__all__ = ["Graph", "ReportOptions", "chart_format", "draw_funnel", "pipeline_graph", "report_tables",
           "report_text", "to_dot", "to_mermaid"]

ReportOptions = reports.ReportOptions
report_text = reports.render_text
report_tables = reports.tables
chart_format = chart.chart_format
draw_funnel = chart.draw_funnel
to_mermaid = graph.mermaid
to_dot = graph.dot


def pipeline_graph(process_id: str, paths: list[Path], db_url: str | None, *, pipeline: str | None = None,
                   lang: str | None = None, deployed: bool = False, diff: bool = False) -> Graph:
    """A pipeline's stages and transitions: of the files, of the deployed version (deployed), or of the
    files drawn against the deployed version (diff: what they add and remove)."""
    live = deployed_process(db_url, process_id, required=deployed) if diff or deployed else None
    if deployed:
        assert live is not None
        return graph.pipeline_graph(live, pipeline, lang)
    desired = file_process(paths, process_id)
    drawn = graph.pipeline_graph(desired, pipeline, lang)
    if not diff:
        return drawn
    before = None
    if live is not None and (pipeline is None or live.pipeline(pipeline) is not None):
        before = graph.pipeline_graph(live, pipeline or desired.default_pipeline.id, lang)
    return graph.diff_graphs(before, drawn)
