"""Benchmark: `apply` of 50 processes x 30 fields into an empty database, and a no-op re-apply.

Each figure is printed beside the raw equivalent measured in the same run: SQLAlchemy Core
`MetaData.create_all` of the very same tables in one transaction (what apply must at least do).

    python3 bench/bench_apply.py [--processes 50] [--fields 30] [--db URL] [--repeat 3]

Without --db it runs on a SQLite file in a temporary folder; pass a PostgreSQL URL to measure
there (each run uses a fresh schema).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sqlalchemy as sa

from smartflow.compile.sql import build_metadata
from smartflow.definitions.convert import to_yaml
from smartflow.deploy import apply as deploy

TYPES = ["string", "text", "integer", "number", "money", "boolean", "date", "datetime", "enum", "email", "phone",
         "url", "user", "file"]


def process_document(index: int, fields: int) -> dict[str, Any]:
    spec: dict[str, Any] = {}
    for n in range(fields):
        kind = TYPES[n % len(TYPES)]
        field: dict[str, Any] = {"type": kind, "title": {"ru": f"Поле {n}", "en": f"Field {n}"}}
        if kind == "enum":
            field["options"] = [{"id": f"o{k}", "title": f"Вариант {k}"} for k in range(5)]
        if n % 10 == 3:
            field["multiple"] = True
        spec[f"f{n}"] = field
    if index > 0:
        spec["parent"] = {"type": "link", "to": f"proc{index - 1}"}
    stages = {f"s{k}": {"title": f"Этап {k}"} for k in range(5)}
    stages["won"] = {"title": "Успех", "semantic": "success"}
    stages["lost"] = {"title": "Провал", "semantic": "failure"}
    return {"kind": "Process", "id": f"proc{index}", "title": {"ru": f"Процесс {index}", "en": f"Process {index}"},
            "fields": spec, "pipelines": {"main": {"title": "Main", "default": True, "stages": stages}},
            "permissions": {"manager": "all"}}


def fresh_url(base: str | None, folder: Path, run: int) -> tuple[str, Any]:
    if base is None:
        return f"sqlite:///{folder / f'bench{run}.db'}", None
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    engine = sa.create_engine(base)
    with engine.begin() as connection:
        connection.execute(sa.text(f"CREATE SCHEMA {schema}"))
    url = sa.engine.make_url(base).update_query_dict({"options": f"-csearch_path={schema}"})
    return url.render_as_string(hide_password=False), (engine, schema)


def drop(cleanup: Any) -> None:
    if cleanup:
        engine, schema = cleanup
        with engine.begin() as connection:
            connection.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))
        engine.dispose()


def raw_create(url: str, metadata: sa.MetaData) -> float:
    from smartflow.db import make_engine

    engine = make_engine(url)
    start = time.perf_counter()
    with engine.begin() as connection:
        metadata.create_all(connection)
    elapsed = time.perf_counter() - start
    engine.dispose()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, default=50)
    parser.add_argument("--fields", type=int, default=30)
    parser.add_argument("--db", default=None)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        definitions = folder / "processes"
        definitions.mkdir()
        for index in range(args.processes):
            (definitions / f"proc{index}.yaml").write_text(to_yaml(process_document(index, args.fields)), "utf-8")
        start = time.perf_counter()
        desired = deploy.load_desired([definitions])
        load_time = time.perf_counter() - start
        metadata = build_metadata(desired.definition)

        apply_times, raw_times, noop_times = [], [], []
        for run in range(args.repeat):
            url, cleanup = fresh_url(args.db, folder, run * 2)
            start = time.perf_counter()
            deploy.apply(desired, url)
            apply_times.append(time.perf_counter() - start)
            start = time.perf_counter()
            assert deploy.apply(desired, url).empty
            noop_times.append(time.perf_counter() - start)
            drop(cleanup)
            raw_url, cleanup = fresh_url(args.db, folder, run * 2 + 1)
            raw_times.append(raw_create(raw_url, metadata))
            drop(cleanup)

    best_apply, best_raw, best_noop = min(apply_times), min(raw_times), min(noop_times)
    backend = "PostgreSQL" if args.db else "SQLite"
    tables = len(metadata.tables)
    print(f"{backend}: {args.processes} processes x {args.fields} fields ({tables} tables), best of {args.repeat}")
    print(f"  validate + load definitions   {load_time * 1000:8.1f} ms")
    print(f"  raw create_all (Core)         {best_raw * 1000:8.1f} ms   1.00x")
    print(f"  apply from empty              {best_apply * 1000:8.1f} ms   {best_apply / best_raw:.2f}x raw")
    print(f"  no-op re-apply                {best_noop * 1000:8.1f} ms   {best_noop / best_raw:.2f}x raw")
    print(f"  (median apply {statistics.median(apply_times) * 1000:.1f} ms)")


if __name__ == "__main__":
    main()
