"""Services for the engineers who keep definitions in git: validate, schema, init, plan, apply,
versions, rollback, and a process read from the files or from the database.

Plain data in and out, typed errors (smartflow.errors); the CLI (and any other interface)
renders the results with the renderers named here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa

from smartflow.db import make_engine
from smartflow.definitions.hints import did_you_mean, known_list
from smartflow.definitions.model import Process
from smartflow.definitions.scaffold import ScaffoldError, scaffold
from smartflow.definitions.validate import Result, validate_paths
from smartflow.definitions.validate import report as diagnostics_report
from smartflow.definitions.validate.schema import schema_text
from smartflow.deploy import apply as deploying
from smartflow.deploy.plan import Plan
from smartflow.deploy.plan import render as plan_render
from smartflow.deploy.plan.ops import RecordVersion
from smartflow.deploy.timeouts import Timeouts
from smartflow.errors import DatabaseUnavailable, NotDeployed

__all__ = [
    "Plan", "Result", "ScaffoldError", "Timeouts", "apply", "deployed_process", "diagnostics_json",
    "diagnostics_summary", "diagnostics_text", "file_process", "live_version", "plan", "plan_json", "plan_text",
    "rollback", "scaffold", "schema_text", "timeouts", "validate", "versions",
]

diagnostics_text = diagnostics_report.render_text
diagnostics_json = diagnostics_report.render_json
diagnostics_summary = diagnostics_report.summary
plan_text = plan_render.render_text
plan_json = plan_render.render_json


def validate(paths: list[Path]) -> Result:
    """Every diagnostic of every file given (folders are read for *.yaml), checked together."""
    return validate_paths(paths)


def plan(paths: list[Path], db_url: str | None, against: int | None = None) -> Plan:
    """What apply would change, against the deployed version (or an earlier one); reads only."""
    return deploying.plan(deploying.load_desired(paths), db_url, against=against)


def apply(paths: list[Path], db_url: str | None, *, allow_data_loss: bool = False, dry_run: bool = False,
          actor: str | None = None, lock_timeout: float = 60.0, timeouts: Timeouts | None = None) -> Plan:
    """Deploy the files: every step and the version record in one transaction, or nothing. Then the
    files older versions kept as paths on the server are read into the file store (adopt_files)."""
    result = deploying.apply(deploying.load_desired(paths), db_url, allow_data_loss=allow_data_loss,
                             dry_run=dry_run, actor=actor, lock_timeout=lock_timeout, timeouts=timeouts)
    if not dry_run:
        adopt_files(db_url)
    return result


def adopt_files(db_url: str | None) -> tuple[int, int]:
    """Read the files that databases of earlier versions name by a path on the server into the file
    store (runtime/filestore.adopt_legacy): (read, missing). A path that is gone leaves its row
    readable, its download saying the content is missing."""
    from smartflow.compile.sql import system_tables
    from smartflow.runtime import filestore

    engine = make_engine(db_url)
    try:
        with engine.begin() as connection:
            if not sa.inspect(connection).has_table("sf_files"):
                return 0, 0
            metadata = sa.MetaData()
            system_tables(metadata)
            return filestore.adopt_legacy(connection, metadata.tables)
    finally:
        engine.dispose()


def rollback(version: int, db_url: str | None, *, allow_data_loss: bool = False, dry_run: bool = False,
             actor: str | None = None, lock_timeout: float = 60.0, timeouts: Timeouts | None = None) -> Plan:
    """Deploy an earlier version's documents again, by the same rules as apply."""
    return deploying.apply(deploying.version_documents(version, db_url), db_url, allow_data_loss=allow_data_loss,
                           dry_run=dry_run, actor=actor, lock_timeout=lock_timeout, timeouts=timeouts)


def timeouts(table_lock: float | None = None, statement: float | None = None) -> Timeouts:
    """apply's waits on PostgreSQL: the defaults, or the seconds given (0: no limit)."""
    default = Timeouts()
    return Timeouts(default.table_lock if table_lock is None else table_lock,
                    default.statement if statement is None else statement)


def live_version(result: Plan) -> int:
    """The version number an applied plan made live."""
    record = result.operations[-1]
    assert isinstance(record, RecordVersion)
    return record.number


def versions(db_url: str | None) -> list[dict[str, Any]]:
    """The deployed versions, newest first."""
    return deploying.versions(db_url)


def file_process(paths: list[Path], process_id: str) -> Process:
    """A process as the definition files describe it (they must be valid)."""
    definition = deploying.load_desired(paths).definition
    found = definition.process(process_id)
    if found is None:
        known = [p.id for p in definition.processes]
        raise NotDeployed(f"the files define no process `{process_id}`",
                          did_you_mean(process_id, known) or f"processes: {known_list(known)}")
    return found


def deployed_process(db_url: str | None, process_id: str, required: bool) -> Process | None:
    """The deployed model of a process; None when it is not deployed (unless required)."""
    database = make_engine(db_url)
    try:
        with database.connect() as connection, connection.execution_options(sqlite_begin="DEFERRED").begin():
            definition = deploying.read_deployed(connection).definition
    except sa.exc.OperationalError as exc:
        raise DatabaseUnavailable(f"cannot use the database: {exc.orig}",
                                  "check --db / SMARTFLOW_DATABASE_URL and that the server is up") from None
    finally:
        database.dispose()
    found = definition.process(process_id) if definition is not None else None
    if found is None and required:
        raise NotDeployed(f"there is no deployed process `{process_id}`", "run `smartflow apply` first")
    return found
