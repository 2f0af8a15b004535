"""Items in and out of spreadsheets: export to CSV/xlsx, import from them.

columns.py decides which columns a file has and what they are called; cells.py turns item
values into the cells a person expects in Excel, parse.py reads such cells (and what people
type) back; export.py streams items out through the same read filter as `item list`; sheets.py
reads CSV/xlsx rows; importer.py runs them through the same service functions as single
creates and updates.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any

from smartflow.errors import SmartflowError


class DataFileError(SmartflowError):
    """A spreadsheet that cannot be read or written as asked (format, encoding, headers, mapping)."""


def session(crm: Any, write: bool) -> AbstractContextManager[Any]:
    """One transaction of the Engine's own making (its compiled definition, its actor, its clock).

    Exports read every batch inside one; imports write a batch (or everything) inside one. The
    Engine has no public way to open one yet, so this is the single place that reaches for it.
    """
    return crm._session(write)  # type: ignore[no-any-return]
