"""Items in and out of spreadsheets: export to CSV/xlsx, import from them.

columns.py decides which columns a file has and what they are called; cells.py turns item
values into the cells a person expects in Excel, parse.py reads such cells (and what people
type) back; export.py streams items out through the same read filter as `item list`; sheets.py
reads CSV/xlsx rows; importer.py runs them through the same service functions as single
creates and updates; past.py imports items' stage history and comments from another system.
"""

from __future__ import annotations

from smartflow.errors import SmartflowError


class DataFileError(SmartflowError):
    """A spreadsheet that cannot be read or written as asked (format, encoding, headers, mapping)."""
