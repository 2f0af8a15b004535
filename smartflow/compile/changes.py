"""The change feed: every write to an item table leaves a row in `sf_changes` (pure: SQL text, no engine).

Open boards, lists and cards follow it to show other people's changes live. Like the board's
totals (compile/totals.py), it is kept by triggers that belong to the item table, so every path
that writes items — the runtime, an import's executemany or COPY, automation, a migration, a
hand-written UPDATE — is seen, with nothing for a writer to remember.

- SQLite: row triggers append (process, item id).
- PostgreSQL: statement triggers with transition tables append one row per item the statement
  touched (one row with no item, "many changed", when it touched more than BULK rows: a large
  import is re-read whole rather than logged row by row), and wake listeners with
  `NOTIFY sf_changes` (delivered when the transaction commits). Ids are handed out before commit,
  so a later id may become visible first: runtime.events.Follower reads with that in mind.

The feed is a window, not an archive: every PRUNE_EVERY-th row deletes the rows more than KEEP
rows behind it. A reader whose cursor fell out of the window is told to reload.
"""

from __future__ import annotations

from smartflow.compile.sql import CHANGES_TABLE, item_table_name, trigger_drops
from smartflow.definitions.model import Process

TABLE = CHANGES_TABLE
CHANNEL = "sf_changes"  # PostgreSQL's NOTIFY channel; the payload is the process id
BULK = 500  # PostgreSQL: a statement touching more items than this logs one "many changed" row
KEEP = 20_000  # rows kept behind the newest
PRUNE_EVERY = 1_000


def trigger_names(process_id: str) -> list[str]:
    return [f"sf_changes_{process_id}_{kind}" for kind in ("insert", "update", "delete", "truncate")]


def function_name(process_id: str) -> str:
    return f"sf_changes_{process_id}"


def create_statements(process: Process, dialect: str) -> list[str]:
    """The DDL that makes the database log process's changes (its triggers, and on PostgreSQL their function)."""
    return _postgresql(process.id) if dialect == "postgresql" else _sqlite(process.id)


def drop_statements(process_id: str, dialect: str, *, function: bool = False) -> list[str]:
    """The DDL that removes process's change triggers (the item table must exist) and, with function, its function."""
    return trigger_drops(process_id, trigger_names(process_id), function_name(process_id) if function else None,
                         dialect)


def reset_statements(process_id: str, dialect: str) -> list[str]:
    """A "many changed" row for process (apply writes one after it changed the process's table)."""
    if dialect == "postgresql":
        return [f"INSERT INTO {TABLE} (process, item_id) VALUES ('{process_id}', NULL)",
                f"NOTIFY {CHANNEL}, '{process_id}'"]
    return [f"INSERT INTO {TABLE} (process, item_id) VALUES ('{process_id}', NULL)"]


def prune_statements(dialect: str) -> list[str]:
    """The table's own upkeep (apply makes it each time): the window kept behind the newest row."""
    if dialect == "postgresql":
        return []  # the process functions prune (a statement trigger sees the ids it appended)
    return [f"CREATE TRIGGER IF NOT EXISTS sf_changes_prune AFTER INSERT ON {TABLE} "
            f"FOR EACH ROW WHEN NEW.id % {PRUNE_EVERY} = 0 "
            f"BEGIN DELETE FROM {TABLE} WHERE id <= NEW.id - {KEEP}; END"]


def _sqlite(process_id: str) -> list[str]:
    table = item_table_name(process_id)
    insert, update, delete = trigger_names(process_id)[:3]

    def log(row: str) -> str:
        return f"INSERT INTO {TABLE} (process, item_id) VALUES ('{process_id}', {row}.id);"

    return [
        f"CREATE TRIGGER {insert} AFTER INSERT ON {table} FOR EACH ROW BEGIN {log('NEW')} END",
        f"CREATE TRIGGER {update} AFTER UPDATE ON {table} FOR EACH ROW BEGIN {log('NEW')} END",
        f"CREATE TRIGGER {delete} AFTER DELETE ON {table} FOR EACH ROW BEGIN {log('OLD')} END",
    ]


def _postgresql(process_id: str) -> list[str]:
    table = item_table_name(process_id)
    function = function_name(process_id)
    insert, update, delete, truncate = trigger_names(process_id)

    def log(transition: str) -> str:
        return f"""
    SELECT count(*) INTO touched FROM {transition};
    IF touched > {BULK} THEN
      INSERT INTO {TABLE} (process, item_id) VALUES ('{process_id}', NULL) RETURNING id INTO last;
    ELSIF touched > 0 THEN
      WITH added AS (INSERT INTO {TABLE} (process, item_id) SELECT DISTINCT '{process_id}', id FROM {transition}
                     RETURNING id)
      SELECT max(id) INTO last FROM added;
    END IF;"""

    body = f"""
DECLARE
  touched bigint := 0;
  last bigint;
BEGIN
  IF TG_OP = 'TRUNCATE' THEN
    INSERT INTO {TABLE} (process, item_id) VALUES ('{process_id}', NULL) RETURNING id INTO last;
  ELSIF TG_OP = 'DELETE' THEN{log('sf_old')}
  ELSE{log('sf_new')}
  END IF;
  IF last IS NULL THEN
    RETURN NULL;
  END IF;
  PERFORM pg_notify('{CHANNEL}', '{process_id}');
  IF last / {PRUNE_EVERY} > (last - greatest(touched, 1)) / {PRUNE_EVERY} THEN
    DELETE FROM {TABLE} WHERE id <= last - {KEEP};
  END IF;
  RETURN NULL;
END"""
    return [
        f"CREATE OR REPLACE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS $sf${body}$sf$",
        f"CREATE TRIGGER {insert} AFTER INSERT ON {table} REFERENCING NEW TABLE AS sf_new "
        f"FOR EACH STATEMENT EXECUTE FUNCTION {function}()",
        f"CREATE TRIGGER {update} AFTER UPDATE ON {table} REFERENCING NEW TABLE AS sf_new "
        f"FOR EACH STATEMENT EXECUTE FUNCTION {function}()",
        f"CREATE TRIGGER {delete} AFTER DELETE ON {table} REFERENCING OLD TABLE AS sf_old "
        f"FOR EACH STATEMENT EXECUTE FUNCTION {function}()",
        f"CREATE TRIGGER {truncate} AFTER TRUNCATE ON {table} FOR EACH STATEMENT EXECUTE FUNCTION {function}()",
    ]
