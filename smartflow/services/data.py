"""What interfaces need to ask for an export or an import and to report on one: the options, the
results, a mapping file's reader and the per-row problem report. The work itself is
`Engine.export` and `Engine.import_file`, which run it as the engine's user; `count_rows` says how
many rows an import of a file will read, for a progress bar."""

from __future__ import annotations

from smartflow.data import DataFileError
from smartflow.data.columns import load_mapping
from smartflow.data.export import ExportOptions, ExportResult, format_of
from smartflow.data.importer import ImportOptions, ImportResult, write_report
from smartflow.data.past import KINDS as PAST_KINDS
from smartflow.data.past import PastResult
from smartflow.data.sheets import count_rows

__all__ = ["PAST_KINDS", "DataFileError", "ExportOptions", "ExportResult", "ImportOptions", "ImportResult",
           "PastResult", "count_rows", "format_of", "load_mapping", "write_report"]
