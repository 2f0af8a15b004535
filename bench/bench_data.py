"""Benchmark: export and import against the raw writers and raw inserts.

Export of --items items (10 columns of the list view) to xlsx and to CSV, each figure beside
two raw equivalents measured in the same run on the same database:

- raw export: one Core SELECT of the same columns, streamed, values as stored, written by
  openpyxl's write-only workbook / the csv module directly — the shortest export script
  (no rights, no titles, no formats);
- raw writer: the very cells smartflow writes, already in memory, written by the same writer —
  the writing alone, with no database at all.

Time is the median over --rounds; memory is the peak resident set (ru_maxrss) of a fresh child
process per measurement, and the traced Python heap peak (tracemalloc, a separate run since
tracing slows Python) for 10,000 and for all items — flat memory means the two are the same.

Import of --import-rows rows (a CSV and an xlsx file exported from the same items) into an
empty deployment, against raw inserts (Core executemany of the same typed rows, one
transaction) and against one `Engine.create` per row (one transaction each).

    python3 bench/bench_data.py [--db URL] [--items 100000] [--import-rows 10000] [--rounds 3]
                                [--only export|import] [--formats xlsx,csv]

Without --db it runs on a SQLite file in a temporary folder; with a PostgreSQL URL it works in
fresh schemas that it drops afterwards.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sqlalchemy as sa

from smartflow.compile.sql import build_metadata
from smartflow.db import make_engine
from smartflow.definitions.convert import to_yaml
from smartflow.deploy import apply as deploy

PROCESS: dict[str, Any] = {
    "kind": "Process", "id": "deal", "title": {"ru": "Сделка", "en": "Deal"},
    "fields": {
        "amount": {"type": "money", "title": {"ru": "Сумма", "en": "Amount"}, "currency": "RUB", "min": 0},
        "kind": {"type": "enum", "title": {"ru": "Вид", "en": "Kind"}, "options": [
            {"id": "retail", "title": {"ru": "Розница", "en": "Retail"}},
            {"id": "bulk", "title": {"ru": "Опт", "en": "Bulk"}},
            {"id": "export", "title": {"ru": "Экспорт", "en": "Export"}}]},
        "code": {"type": "string", "title": {"ru": "Код", "en": "Code"}, "unique": True},
        "quantity": {"type": "integer", "title": {"ru": "Количество", "en": "Quantity"}, "min": 0},
        "due": {"type": "date", "title": {"ru": "Срок", "en": "Due"}},
        "urgent": {"type": "boolean", "title": {"ru": "Срочно", "en": "Urgent"}},
        "supplier": {"type": "string", "title": {"ru": "Поставщик", "en": "Supplier"}},
    },
    "pipelines": {"main": {"title": {"ru": "Продажи", "en": "Sales"}, "default": True, "stages": {
        "new": {"title": {"ru": "Новая", "en": "New"}}, "work": {"title": {"ru": "В работе", "en": "In progress"}},
        "won": {"title": {"ru": "Успех", "en": "Won"}, "semantic": "success"},
        "lost": {"title": {"ru": "Провал", "en": "Lost"}, "semantic": "failure"}}}},
    "list": {"columns": ["title", "stage", "amount", "kind", "due", "quantity", "urgent", "supplier", "assigned_to"]},
    "permissions": {"manager": "all"},
}
RAW_COLUMNS = ("id", "title", "stage", "amount", "amount__currency", "kind", "due", "quantity", "urgent", "supplier",
               "assigned_to")
STAGES = ("new", "work", "won", "lost")
USERS = 20


# ---- databases -----------------------------------------------------------------------


@contextmanager
def database(base: str | None, folder: Path) -> Iterator[str]:
    """A fresh deployed database: a SQLite file in folder, or a PostgreSQL schema dropped after."""
    if base is None:
        url = f"sqlite:///{folder / f'bench_{uuid.uuid4().hex[:6]}.db'}"
        _deploy(url, folder)
        yield url
        return
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(base)
    with admin.begin() as connection:
        connection.execute(sa.text(f"CREATE SCHEMA {schema}"))
    try:
        url = sa.engine.make_url(base).update_query_dict({"options": f"-csearch_path={schema}"}) \
            .render_as_string(hide_password=False)
        _deploy(url, folder)
        yield url
    finally:
        with admin.begin() as connection:
            connection.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


def _deploy(url: str, folder: Path) -> None:
    definitions = folder / "defs"
    definitions.mkdir(exist_ok=True)
    (definitions / "deal.yaml").write_text(to_yaml(PROCESS), encoding="utf-8")
    deploy.apply(deploy.load_desired([definitions]), url)
    from smartflow import Engine

    with Engine(url) as crm:
        for n in range(USERS):
            crm.add_user(f"user{n}", f"Сотрудник {n}", ["manager"])


def item_rows(count: int, start: int = 0, seed: int = 7) -> Iterator[dict[str, Any]]:
    rng = random.Random(seed)
    now = datetime.now(UTC)
    for n in range(start, start + count):
        yield {"title": f"Сделка №{n} «Бетон М{rng.randrange(100, 500)}»", "pipeline": "main",
               "stage": rng.choice(STAGES), "assigned_to": rng.randrange(1, USERS + 1), "created_by": 1,
               "created_at": now, "updated_by": 1, "updated_at": now, "version": 1, "definition_version": 1,
               "amount": rng.randrange(0, 10**9), "amount__currency": rng.choice(("RUB", "RUB", "USD")),
               "kind": rng.choice(("retail", "bulk", "export")), "code": f"C-{n}",
               "quantity": rng.randrange(0, 100), "due": date(2026, 1, 1) + timedelta(days=rng.randrange(0, 700)),
               "urgent": rng.random() < 0.2, "supplier": rng.choice(("ООО «СтройБетон»", "=formula", "ИП Ёлкин"))}


def bulk_load(url: str, count: int, rows: Iterator[dict[str, Any]] | None = None) -> None:
    """count items (item_rows, unless rows are given) straight into the table (loading is not what is measured)."""
    table = build_metadata(_definition()).tables["p_deal"]
    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            batch: list[dict[str, Any]] = []
            for row in rows if rows is not None else item_rows(count):
                batch.append(row)
                if len(batch) == 5000:
                    connection.execute(table.insert(), batch)
                    batch = []
            if batch:
                connection.execute(table.insert(), batch)
    finally:
        engine.dispose()


def _definition() -> Any:
    return deploy.desired_from_documents([PROCESS]).definition


# ---- the measured work (each in a fresh child process) ------------------------------------


def export_smartflow(url: str, out: Path, fmt: str, where: list[str]) -> None:
    from smartflow import Engine
    from smartflow.data.export import ExportOptions, export_items

    with Engine(url) as crm:
        export_items(crm, "deal", out, ExportOptions(format=fmt, where=tuple(where)))


def _raw_rows(url: str, where: list[str]) -> Iterator[Any]:
    table = build_metadata(_definition()).tables["p_deal"]
    query = sa.select(*(table.c[c] for c in RAW_COLUMNS)).where(table.c.deleted_at.is_(None)).order_by(table.c.id)
    if where:
        query = query.where(table.c.id <= 10_000)
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            connection = connection.execution_options(sqlite_begin="DEFERRED", stream_results=True, yield_per=2000)
            with connection.begin():
                yield from connection.execute(query)
    finally:
        engine.dispose()


def export_raw(url: str, out: Path, fmt: str, where: list[str]) -> None:
    if fmt == "csv":
        import csv

        with out.open("w", encoding="utf-8-sig", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(RAW_COLUMNS)
            for row in _raw_rows(url, where):
                writer.writerow(row)
        return
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet("deal")
    sheet.append(list(RAW_COLUMNS))
    for row in _raw_rows(url, where):
        sheet.append(["'" + v if isinstance(v, str) and v.startswith("=") else v for v in row])
    book.save(out)


def _cells(url: str, fmt: str) -> list[list[Any]]:
    """The cells smartflow writes (typed for xlsx, text for CSV), computed up front: the raw writer's input."""
    from smartflow import Engine, people, query
    from smartflow.data import session
    from smartflow.data.cells import Lookups, Renderer
    from smartflow.data.columns import export_columns

    with Engine(url) as crm, session(crm, False) as write:
        process = write.compiled.processes["deal"]
        columns = export_columns(process.process, None)
        users = {u["id"]: u["name"] for u in people.list_users(write.connection, write.compiled)}
        renderer = Renderer(process.process, columns, Lookups(None, users))
        rows: list[list[Any]] = [[c.header(None) for c in columns]]
        for batch in query.stream_columns(write, "deal", tuple(sorted(renderer.reads)), batch=5000, sort="id"):
            rows += [list(row) for row in (renderer.text_rows(batch) if fmt == "csv" else renderer.cell_rows(batch))]
        return rows


def write_cells(rows: list[list[Any]], out: Path, fmt: str) -> Callable[[], None]:
    def csv_writer() -> None:
        import csv

        with out.open("w", encoding="utf-8-sig", newline="") as handle:
            csv.writer(handle).writerows(rows)

    def xlsx_writer() -> None:
        from smartflow.data.columns import export_columns
        from smartflow.data.export import XlsxSink
        from smartflow.runtime.compiled import CompiledDefinition

        process = CompiledDefinition(_definition(), 1).processes["deal"]
        sink = XlsxSink(out, export_columns(process.process, None), process, None)
        sink.header(rows[0])
        for row in rows[1:]:
            sink.row(row)
        sink.close()

    return csv_writer if fmt == "csv" else xlsx_writer


def import_smartflow(url: str, source: Path) -> None:
    from smartflow import Engine
    from smartflow.data.importer import ImportOptions, import_file

    with Engine(url, via="import") as crm:
        result = import_file(crm, "deal", source, ImportOptions())
    assert result.failed_rows == 0, result.problems[:3]


def import_raw(url: str, count: int) -> Callable[[], None]:
    table = build_metadata(_definition()).tables["p_deal"]
    rows = list(item_rows(count, start=10**6))

    def insert() -> None:
        engine = make_engine(url)
        try:
            with engine.begin() as connection:
                connection.execute(table.insert(), rows)
        finally:
            engine.dispose()

    return insert


def import_per_row(url: str, count: int) -> None:
    from smartflow import Engine

    with Engine(url) as crm:
        for row in item_rows(count, start=2 * 10**6):
            crm.create("deal", {"title": row["title"], "amount": {"amount": row["amount"] / 100, "currency": "RUB"},
                                "kind": row["kind"], "code": row["code"], "quantity": row["quantity"],
                                "due": row["due"], "urgent": row["urgent"], "supplier": row["supplier"]})


def child(kind: str, url: str, out: str, extra: str) -> None:
    """Run one measurement; print seconds, peak RSS and (with SMARTFLOW_BENCH_TRACE) the traced heap peak."""
    import tracemalloc

    target = Path(out)
    fmt = "xlsx" if kind.endswith("xlsx") else "csv"
    where = ["id <= 10000"] if kind.startswith("small-") else []
    prepared: Callable[[], None]
    if kind.startswith(("export-", "small-export-")):
        prepared = lambda: export_smartflow(url, target, fmt, where)  # noqa: E731
    elif kind.startswith(("raw-", "small-raw-")):
        prepared = lambda: export_raw(url, target, fmt, where)  # noqa: E731
    elif kind.startswith("writer-"):
        prepared = write_cells(_cells(url, fmt), target, fmt)
    elif kind.startswith("import-"):
        prepared = lambda: import_smartflow(url, Path(extra))  # noqa: E731
    elif kind == "insert-raw":
        prepared = import_raw(url, int(extra))
    elif kind == "insert-per-row":
        prepared = lambda: import_per_row(url, int(extra))  # noqa: E731
    else:
        raise SystemExit(f"unknown measurement {kind}")
    # each side's modules are imported before the clock starts (the raw side's, SQLAlchemy and the csv
    # module, are imported by this script already): what is measured is the export, not Python's imports
    import csv  # noqa: F401

    if fmt == "xlsx":
        import openpyxl  # noqa: F401
    if kind.startswith(("export-", "small-export-", "import-")):
        import smartflow.data.export
        import smartflow.data.importer
        import smartflow.services  # noqa: F401
    trace = bool(os.environ.get("SMARTFLOW_BENCH_TRACE"))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if trace:
        tracemalloc.start()
    started = time.perf_counter()
    prepared()
    seconds = time.perf_counter() - started
    traced = tracemalloc.get_traced_memory()[1] / 2**20 if trace else None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": seconds, "peak_rss_mb": peak, "rss_before_mb": before, "traced_peak_mb": traced}))


def measure(kind: str, url: str, out: Path, extra: str = "", trace: bool = False) -> dict[str, Any]:
    env = {**os.environ, **({"SMARTFLOW_BENCH_TRACE": "1"} if trace else {})}
    done = subprocess.run([sys.executable, __file__, "--child", kind, "--url", url, "--out", str(out),
                           "--extra", extra], capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{kind} failed:\n{done.stderr}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


# ---- the report --------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", default=None, help="A PostgreSQL URL (default: SQLite in a temporary folder).")
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--import-rows", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--only", choices=["export", "import"], default=None, help="Run one half only.")
    parser.add_argument("--formats", default="xlsx,csv", help="Export formats to measure (default: xlsx,csv).")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--url", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--out", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--extra", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.url, args.out, args.extra)
        return
    backend = "PostgreSQL" if args.db else "SQLite"
    print(f"{backend}, median of {args.rounds} rounds, a fresh process per figure\n")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        if args.only != "import":
            with database(args.db, folder) as url:
                bulk_load(url, args.items)
                export_report(url, folder, args.rounds, args.items, args.formats.split(","))
        if args.only != "export":
            import_report(args.db, folder, args.rounds, args.import_rows)


def _median(kind: str, url: str, out: Path, rounds: int) -> dict[str, float]:
    runs = [measure(kind, url, out) for _ in range(rounds)]
    return {"seconds": statistics.median(r["seconds"] for r in runs),
            "peak_rss_mb": max(r["peak_rss_mb"] for r in runs), "size": out.stat().st_size / 2**20}


def export_report(url: str, folder: Path, rounds: int, items: int, formats: list[str]) -> None:
    print("| export | smartflow | raw export (Core SELECT + writer) | raw writer (cells in memory) | "
          "ratio to raw export (rounds' range) | ratio to raw writer | peak RSS | traced heap peak, 10k → all items |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for fmt in formats:
        out = folder / f"out.{fmt}"
        ours, raw, writer = ([] for _ in range(3))
        for _ in range(rounds):  # alternating, so a drift of the machine shows on all three
            ours.append(measure(f"export-{fmt}", url, out))
            size = out.stat().st_size / 2**20
            raw.append(measure(f"raw-{fmt}", url, folder / f"raw.{fmt}"))
            writer.append(measure(f"writer-{fmt}", url, folder / f"writer.{fmt}"))
        small = measure(f"small-export-{fmt}", url, folder / f"small.{fmt}", trace=True)["traced_peak_mb"]
        full = measure(f"export-{fmt}", url, out, trace=True)["traced_peak_mb"]
        t_ours, t_raw, t_writer = (statistics.median(r["seconds"] for r in runs) for runs in (ours, raw, writer))
        # ratios: the median of each round's own ratio (the sides of a round run back to back, so a drift of
        # the machine between rounds cancels out), with the lowest and highest round's beside it
        to_raw = sorted(o["seconds"] / r["seconds"] for o, r in zip(ours, raw, strict=True))
        to_writer = sorted(o["seconds"] / w["seconds"] for o, w in zip(ours, writer, strict=True))
        rss = max(r["peak_rss_mb"] for r in ours)
        print(f"| {items} items to {fmt} ({size:.1f} MB) | {t_ours:.2f} s | {t_raw:.2f} s | {t_writer:.2f} s | "
              f"{_spread(to_raw)} | {_spread(to_writer)} | {rss:.0f} MB | {small:.1f} → {full:.1f} MB |")


def _spread(ratios: list[float]) -> str:
    """The median ratio, and the range over the rounds: `1.42× (1.31–1.60)`."""
    return f"{statistics.median(ratios):.2f}× ({ratios[0]:.2f}–{ratios[-1]:.2f})"


def import_report(base: str | None, folder: Path, rounds: int, rows: int) -> None:
    print("\n| import | smartflow | raw inserts (executemany, one transaction) | ratio | "
          "one Engine.create per row | ratio |")
    print("| --- | --- | --- | --- | --- | --- |")
    files: dict[str, Path] = {}
    with database(base, folder) as url:
        bulk_load(url, rows)
        for fmt in ("csv", "xlsx"):
            files[fmt] = folder / f"import.{fmt}"
            from smartflow import Engine
            from smartflow.data.export import ExportOptions, export_items

            with Engine(url) as crm:
                export_items(crm, "deal", files[fmt], ExportOptions(format=fmt, columns="all"))
    per_row = None
    for fmt in ("csv", "xlsx"):
        ours, raw = [], []
        for _ in range(rounds):
            with database(base, folder) as url:
                ours.append(measure(f"import-{fmt}", url, folder / "x", str(files[fmt]))["seconds"])
            with database(base, folder) as url:
                raw.append(measure("insert-raw", url, folder / "x", str(rows))["seconds"])
        if per_row is None:
            with database(base, folder) as url:
                per_row = measure("insert-per-row", url, folder / "x", str(rows))["seconds"]
        t_ours, t_raw = statistics.median(ours), statistics.median(raw)
        print(f"| {rows} rows from {fmt} | {t_ours:.2f} s | {t_raw:.2f} s | {t_ours / t_raw:.1f}× | "
              f"{per_row:.2f} s | {t_ours / per_row:.2f}× |")


if __name__ == "__main__":
    main()
