"""The board's per-stage totals, kept by the database as items change (pure: SQL text, no engine).

`sf_board_totals` holds, per process, pipeline and stage, the number of items not in the recycle
bin (field and currency ''), and per single-valued money field and currency, the number of those
items with an amount and the sum of their amounts in minor units (currency '' for an amount
without one). They equal, at every moment and in every transaction's snapshot, what a GROUP BY
over the item table gives, because the database keeps them, in the transaction of the change:

- SQLite: row triggers on the item table (INSERT, DELETE, and UPDATE of the pipeline, stage,
  recycle-bin mark or a money column) add the row's old values out and its new values in, one
  row per key (an UPSERT). SQLite has one writer at a time, so these rows are never contended.
- PostgreSQL: statement triggers with transition tables (one per INSERT, UPDATE, DELETE and
  TRUNCATE statement, however many rows it touches: an import's multi-row INSERT or a COPY runs
  one aggregate) append the statement's net change as new rows; nothing updates a row another
  transaction may hold, so moves in opposite directions never wait for each other nor deadlock,
  and no change is lost. Readers sum the rows of a key. Every 256th row appended (by its id),
  the appending transaction folds the process's rows into one per key, if no other transaction
  is folding them (a non-blocking advisory lock); rows appended concurrently are not in its
  snapshot and stay as they are, so the sums never change by folding.

Triggers do not depend on who writes: the Python API, an import's executemany or COPY, a
migration or a hand-written UPDATE all keep the totals right. `apply` drops a process's triggers
before it changes the process's table and, after its steps, recreates them and rebuilds the
process's rows from the table (deploy.apply.refresh_totals); a marker row (pipeline '') says the
rows of a process are kept, so a table filled any other way is never read as totals.
"""

from __future__ import annotations

from smartflow.compile.sql import currency_column, item_table_name, trigger_drops
from smartflow.definitions.model import Process

TABLE = "sf_board_totals"
MARKER_PIPELINE = ""  # the marker row of a process whose totals the triggers keep
FOLD_EVERY = 256  # PostgreSQL: fold a process's appended rows when a row's id is a multiple of this
FOLD_LOCK = 0x5F_70_7A  # the first key of the advisory lock of folding (the second: hashtext(process))


def money_field_ids(process: Process) -> list[str]:
    """The money fields whose sums are kept: the single-valued ones, in definition order."""
    return [f.id for f in process.fields if f.type == "money" and not f.multiple]


def trigger_names(process_id: str) -> list[str]:
    return [f"sf_totals_{process_id}_{kind}" for kind in ("insert", "update", "delete", "truncate")]


def function_name(process_id: str) -> str:
    return f"sf_totals_{process_id}"


def _q(name: str) -> str:
    return f'"{name}"'  # ids are [a-z0-9_] (the schema's pattern): quoting is for keywords such as "order"


def create_statements(process: Process, dialect: str) -> list[str]:
    """The DDL that makes the database keep process's totals (its triggers, and on PostgreSQL their function)."""
    return _postgresql(process) if dialect == "postgresql" else _sqlite(process)


def drop_statements(process_id: str, dialect: str, *, function: bool = False) -> list[str]:
    """The DDL that removes process's triggers (the item table must exist) and, with function, its function."""
    return trigger_drops(process_id, trigger_names(process_id), function_name(process_id) if function else None,
                         dialect)


def _sides(process: Process, row: str, sign: int) -> list[tuple[str, str, str, str, str]]:
    """(field, currency, items, total, condition) of one side of a change: row is NEW or OLD, or a
    transition table's name; sign +1 adds the row, -1 takes it out."""
    prefix = f"{row}." if row in ("NEW", "OLD") else ""
    live = f"{prefix}deleted_at IS NULL"
    minus = "-" if sign < 0 else ""
    sides = [("''", "''", str(sign), "0", live)]
    for field_id in money_field_ids(process):
        amount = f"{prefix}{_q(field_id)}"
        sides.append((f"'{field_id}'", f"coalesce({prefix}{_q(currency_column(field_id))}, '')", str(sign),
                      f"{minus}{amount}", f"{live} AND {amount} IS NOT NULL"))
    return sides


def _sqlite(process: Process) -> list[str]:
    pid = process.id
    table = item_table_name(pid)
    insert, update, delete = trigger_names(pid)[:3]

    def upserts(row: str, sign: int) -> str:
        return "".join(
            f"INSERT INTO {TABLE} (process, pipeline, stage, field, currency, items, total) "
            f"SELECT '{pid}', {row}.pipeline, {row}.stage, {field}, {currency}, {items}, {total} WHERE {condition} "
            "ON CONFLICT (process, pipeline, stage, field, currency) DO UPDATE SET "
            "items = items + excluded.items, total = total + excluded.total; "
            for field, currency, items, total, condition in _sides(process, row, sign))

    money = money_field_ids(process)
    watched = ["pipeline", "stage", "deleted_at"] + [c for f in money for c in (_q(f), _q(currency_column(f)))]
    changed = " OR ".join(["OLD.pipeline IS NOT NEW.pipeline", "OLD.stage IS NOT NEW.stage",
                           "(OLD.deleted_at IS NULL) <> (NEW.deleted_at IS NULL)"]
                          + [f"OLD.{c} IS NOT NEW.{c}" for c in watched[3:]])
    return [
        f"CREATE TRIGGER {insert} AFTER INSERT ON {table} FOR EACH ROW WHEN NEW.deleted_at IS NULL "
        f"BEGIN {upserts('NEW', 1)}END",
        f"CREATE TRIGGER {update} AFTER UPDATE OF {', '.join(watched)} ON {table} FOR EACH ROW WHEN {changed} "
        f"BEGIN {upserts('OLD', -1)}{upserts('NEW', 1)}END",
        f"CREATE TRIGGER {delete} AFTER DELETE ON {table} FOR EACH ROW WHEN OLD.deleted_at IS NULL "
        f"BEGIN {upserts('OLD', -1)}END",
    ]


def _postgresql(process: Process) -> list[str]:
    pid = process.id
    table = item_table_name(pid)
    function = function_name(pid)
    insert, update, delete, truncate = trigger_names(pid)

    def side(transition: str, sign: int) -> str:
        return " UNION ALL ".join(
            f"SELECT pipeline, stage, {field}::text AS field, {currency}::text AS currency, "
            f"{items}::bigint AS items, ({total})::numeric AS total FROM {transition} WHERE {condition}"
            for field, currency, items, total, condition in _sides(process, transition, sign))

    def append(changes: str) -> str:
        return (f"WITH added AS (INSERT INTO {TABLE} (process, pipeline, stage, field, currency, items, total) "
                f"SELECT '{pid}', pipeline, stage, field, currency, sum(items), sum(total) FROM ({changes}) AS d "
                "GROUP BY pipeline, stage, field, currency HAVING sum(items) <> 0 OR sum(total) <> 0 RETURNING id) "
                f"SELECT coalesce(bool_or(mod(id, {FOLD_EVERY}) = 0), false) INTO due FROM added;")

    body = f"""
DECLARE
  due boolean := false;
BEGIN
  IF TG_OP = 'TRUNCATE' THEN
    DELETE FROM {TABLE} WHERE process = '{pid}' AND pipeline <> '{MARKER_PIPELINE}';
    RETURN NULL;
  ELSIF TG_OP = 'INSERT' THEN
    {append(side('sf_new', 1))}
  ELSIF TG_OP = 'DELETE' THEN
    {append(side('sf_old', -1))}
  ELSE
    {append(side('sf_old', -1) + ' UNION ALL ' + side('sf_new', 1))}
  END IF;
  IF due AND pg_try_advisory_xact_lock({FOLD_LOCK}, hashtext('{pid}')) THEN
    {fold_statement(pid)};
  END IF;
  RETURN NULL;
END"""
    return [
        f"CREATE OR REPLACE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS $sf${body}$sf$",
        f"CREATE TRIGGER {insert} AFTER INSERT ON {table} REFERENCING NEW TABLE AS sf_new "
        f"FOR EACH STATEMENT EXECUTE FUNCTION {function}()",
        f"CREATE TRIGGER {update} AFTER UPDATE ON {table} REFERENCING OLD TABLE AS sf_old NEW TABLE AS sf_new "
        f"FOR EACH STATEMENT EXECUTE FUNCTION {function}()",
        f"CREATE TRIGGER {delete} AFTER DELETE ON {table} REFERENCING OLD TABLE AS sf_old "
        f"FOR EACH STATEMENT EXECUTE FUNCTION {function}()",
        f"CREATE TRIGGER {truncate} AFTER TRUNCATE ON {table} FOR EACH STATEMENT EXECUTE FUNCTION {function}()",
    ]


def fold_statement(process_id: str) -> str:
    """PostgreSQL: the rows of a process folded into one per key (the sums unchanged; empty keys dropped)."""
    return (f"WITH gone AS (DELETE FROM {TABLE} WHERE process = '{process_id}' "
            "RETURNING pipeline, stage, field, currency, items, total) "
            f"INSERT INTO {TABLE} (process, pipeline, stage, field, currency, items, total) "
            f"SELECT '{process_id}', pipeline, stage, field, currency, sum(items), sum(total) FROM gone "
            "GROUP BY pipeline, stage, field, currency HAVING sum(items) <> 0 OR sum(total) <> 0")


def rebuild_statements(process: Process, *, exact: bool = True) -> list[str]:
    """Process's rows computed again from its item table: the old ones deleted, the marker written.

    exact=False (SQLite, when a sum leaves 64-bit integers, where sum() fails): the sums as floats,
    which the board takes as "not kept" and so counts by a GROUP BY."""
    pid = process.id
    table = item_table_name(pid)
    sum_of = "sum" if exact else "total"
    selects = [f"SELECT '{pid}', pipeline, stage, '', '', count(*), 0 FROM {table} WHERE deleted_at IS NULL "
               "GROUP BY pipeline, stage"]
    for field_id in money_field_ids(process):
        currency = f"coalesce({_q(currency_column(field_id))}, '')"
        selects.append(f"SELECT '{pid}', pipeline, stage, '{field_id}', {currency}, count(*), "
                       f"{sum_of}({_q(field_id)}) FROM {table} "
                       f"WHERE deleted_at IS NULL AND {_q(field_id)} IS NOT NULL GROUP BY pipeline, stage, {currency}")
    columns = "(process, pipeline, stage, field, currency, items, total)"
    return [
        f"DELETE FROM {TABLE} WHERE process = '{pid}'",
        *(f"INSERT INTO {TABLE} {columns} {select}" for select in selects),
        f"INSERT INTO {TABLE} {columns} VALUES ('{pid}', '{MARKER_PIPELINE}', '', '', '', 1, 0)",
    ]
