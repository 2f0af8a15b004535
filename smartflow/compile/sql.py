"""The SQL schema of a definition: SQLAlchemy Core tables, pure (no engine, no I/O).

Naming: a process's items live in `p_<process>`; a multiple-valued field, a multiple link
and the observers list each get `p_<process>__<field>`; smartflow's own tables are `sf_*`.
Ids may not contain `__`, so these names never collide, and ids are at most 28 characters,
so every name fits PostgreSQL's 63 bytes.

number and money values are stored as exact integers of 10^-precision units (cents for a
money field with precision 2): exact on SQLite as on PostgreSQL, sortable and summable in
SQL. A money field has a second column `<field>__currency`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import (
    DDL,
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
    UniqueConstraint,
    event,
)

from smartflow.definitions.model import Definition, Field, Process

DEFAULT_PRECISION = 2


def item_table_name(process_id: str) -> str:
    return f"p_{process_id}"


def trigger_drops(process_id: str, triggers: list[str], function: str | None, dialect: str) -> list[str]:
    """The DDL that removes triggers of process's item table (the table must exist; SQLite has no TRUNCATE
    trigger) and, when given, their PostgreSQL function."""
    table = item_table_name(process_id)
    statements = []
    for name in triggers:
        if dialect == "postgresql":
            statements.append(f"DROP TRIGGER IF EXISTS {name} ON {table}")
        elif not name.endswith("_truncate"):
            statements.append(f"DROP TRIGGER IF EXISTS {name}")
    if dialect == "postgresql" and function:
        statements.append(f"DROP FUNCTION IF EXISTS {function}()")
    return statements


def values_table_name(process_id: str, field_id: str) -> str:
    return f"p_{process_id}__{field_id}"


def values_constraint_names(process_id: str, field_id: str) -> tuple[str, str]:
    """The names of a values table's (item_id, position) unique constraint and of its value index."""
    return f"uq_{process_id}__{field_id}_p", f"ix_{process_id}__{field_id}_v"


def currency_column(field_id: str) -> str:
    return f"{field_id}__currency"


def precision_of(field: Field) -> int:
    return DEFAULT_PRECISION if field.precision is None else field.precision


def _timestamp() -> DateTime:
    return DateTime(timezone=True)


def scalar_type(field: Field) -> Any:
    """The column type holding one value of field (the amount, for money)."""
    kind = field.type
    if kind == "text":
        return Text()
    if kind in ("integer", "number", "money"):
        return BigInteger()
    if kind == "boolean":
        return Boolean()
    if kind == "date":
        return Date()
    if kind == "datetime":
        return _timestamp()
    if kind in ("user", "link", "file"):
        return Integer()
    return String()


def _reference(field: Field) -> ForeignKey | None:
    if field.type == "link" and field.to:
        return ForeignKey(f"{item_table_name(field.to)}.id", ondelete="SET NULL")
    if field.type == "user":
        return ForeignKey("sf_users.id", ondelete="SET NULL")
    if field.type == "file":
        return ForeignKey("sf_files.id", ondelete="SET NULL")
    return None


def field_columns(field: Field) -> list[Column[Any]]:
    """The columns of a single-valued field on the item table."""
    reference = _reference(field)
    columns: list[Column[Any]] = [
        Column(field.id, scalar_type(field), *([reference] if reference is not None else []), nullable=True)
    ]
    if field.type == "money":
        columns.append(Column(currency_column(field.id), String(3), nullable=True))
    return columns


def is_single(field: Field) -> bool:
    return not field.multiple


def _system_columns(process: Process) -> list[Column[Any]]:
    columns: list[Column[Any]] = [
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("title", String, nullable=False),
        Column("pipeline", String(28), nullable=False),
        Column("stage", String(28), nullable=False),
        Column("assigned_to", Integer, ForeignKey("sf_users.id", ondelete="SET NULL"), nullable=True),
        Column("created_by", Integer, ForeignKey("sf_users.id", ondelete="SET NULL"), nullable=True),
        Column("created_at", _timestamp(), nullable=False),
        Column("updated_by", Integer, ForeignKey("sf_users.id", ondelete="SET NULL"), nullable=True),
        Column("updated_at", _timestamp(), nullable=False),
        Column("moved_by", Integer, ForeignKey("sf_users.id", ondelete="SET NULL"), nullable=True),
        Column("moved_at", _timestamp(), nullable=True),
        Column("closed_at", _timestamp(), nullable=True),
        Column("version", Integer, nullable=False, server_default="1"),
        Column("deleted_at", _timestamp(), nullable=True),
        Column("definition_version", Integer, nullable=True),
    ]
    if process.features.begin_close_dates:
        columns += [Column("begin_date", Date, nullable=True), Column("close_date", Date, nullable=True)]
    return columns


def item_indexes(process: Process, table: Table) -> list[Index]:
    """The indexes the list, kanban and report queries need, plus unique and link fields."""
    pid = process.id
    indexes = [
        Index(f"ix_{pid}_pipeline_stage", table.c.pipeline, table.c.stage),
        Index(f"ix_{pid}_stage_updated", table.c.stage, table.c.updated_at),
        Index(f"ix_{pid}_assigned", table.c.assigned_to),
    ]
    for field in process.fields:
        if not is_single(field):
            continue
        if field.unique:
            indexes.append(unique_index(pid, field.id, table))
        elif field.type in ("link", "user"):
            indexes.append(Index(f"ix_{pid}_{field.id}", table.c[field.id]))
    return indexes


def unique_index(process_id: str, field_id: str, table: Table) -> Index:
    """A unique field's index: unique among the items not in the recycle bin (a partial index).

    A deleted item does not hold its unique values; restoring it checks them again. Deployments
    made before this rule have a full unique index named legacy_unique_index_name() instead.
    """
    live = table.c.deleted_at.is_(None)
    return Index(f"uqa_{process_id}_{field_id}", table.c[field_id], unique=True,
                 postgresql_where=live, sqlite_where=live)


def legacy_unique_index_name(process_id: str, field_id: str) -> str:
    """The full unique index older deployments have (recycle-bin items held their values)."""
    return f"uq_{process_id}_{field_id}"


def values_table(process: Process, field: Field, metadata: MetaData) -> Table:
    """The table of a multiple-valued field: one row per value, in order."""
    name = values_table_name(process.id, field.id)
    reference = _reference(field)
    columns: list[Any] = [
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("item_id", Integer, ForeignKey(f"{item_table_name(process.id)}.id", ondelete="CASCADE"),
               nullable=False),
        Column("position", Integer, nullable=False),
        Column("value", scalar_type(field), *([reference] if reference is not None else []), nullable=False),
    ]
    if field.type == "money":
        columns.append(Column("currency", String(3), nullable=True))
    unique_name, index_name = values_constraint_names(process.id, field.id)
    return Table(
        name, metadata, *columns,
        UniqueConstraint("item_id", "position", name=unique_name),
        Index(index_name, "value"),
    )


def observers_table(process: Process, metadata: MetaData) -> Table:
    return Table(
        values_table_name(process.id, "observers"), metadata,
        Column("item_id", Integer, ForeignKey(f"{item_table_name(process.id)}.id", ondelete="CASCADE"),
               primary_key=True),
        Column("user_id", Integer, ForeignKey("sf_users.id", ondelete="CASCADE"), primary_key=True),
    )


def process_tables(process: Process, metadata: MetaData, indexes: bool = True) -> list[Table]:
    """The item table of process and its side tables, added to metadata.

    indexes=False leaves out the item table's indexes, which only plan and apply need: the
    runtime reads and writes rows. A unique field's partial index names its condition for
    PostgreSQL and SQLite, and SQLAlchemy imports a dialect to check such an argument, so with
    them an SQLite command would import the PostgreSQL dialect (about 19 ms).
    """
    columns = _system_columns(process)
    for field in process.fields:
        if is_single(field):
            columns.extend(field_columns(field))
    # sqlite_autoincrement: an id is never reused after a delete, so history and jobs never
    # attach to the wrong item (PostgreSQL sequences behave so already)
    table = Table(item_table_name(process.id), metadata, *columns, sqlite_autoincrement=True)
    if indexes:
        item_indexes(process, table)  # an Index on a table's columns attaches itself to that table
    tables = [table]
    tables += [values_table(process, field, metadata) for field in process.fields if not is_single(field)]
    if process.features.observers:
        tables.append(observers_table(process, metadata))
    return tables


EVERY_PROCESS = "*"  # the process of a role grant that holds in every process
EVERY_PIPELINE = "*"  # the pipeline of a role grant that holds in every pipeline of its process(es)
LEGACY_GRANTS = "sf_user_roles"  # roles without a process, before sf_role_grants: moved there by apply


_SYSTEM: dict[str, Callable[[MetaData], Table]] = {}  # smartflow's own tables: name → what builds it


def _system(name: str) -> Callable[[Callable[[MetaData], Table]], Callable[[MetaData], Table]]:
    def register(build: Callable[[MetaData], Table]) -> Callable[[MetaData], Table]:
        _SYSTEM[name] = build
        return build
    return register


def system_table(metadata: MetaData, name: str) -> Table:
    """One of smartflow's own tables, built into metadata unless it is there already, with the tables its
    foreign keys name. The runtime builds only those an operation uses (each costs SQLAlchemy about a
    millisecond); apply builds them all (`system_tables`)."""
    table = metadata.tables.get(name)
    if table is None:
        table = with_referenced(metadata, _SYSTEM[name](metadata))
    return table


def with_referenced(metadata: MetaData, table: Table) -> Table:
    """table, once smartflow's own tables its foreign keys name are built into metadata too (a process's
    table names sf_users or sf_files; sf_todos names sf_users, which names sf_departments)."""
    for key in table.foreign_keys:
        target = key.target_fullname.partition(".")[0]
        if target != table.name and target in _SYSTEM:
            system_table(metadata, target)
    return table


def system_tables(metadata: MetaData) -> list[Table]:
    """smartflow's own tables: versions, people, history, jobs, outbox, files, archive…, all built."""
    return [system_table(metadata, name) for name in SYSTEM_TABLE_NAMES]


@_system("sf_versions")
def _sf_versions(metadata: MetaData) -> Table:
    return Table(
        "sf_versions", metadata,
        Column("id", Integer, primary_key=True, autoincrement=False),
        Column("hash", String(64), nullable=False),
        Column("created_at", _timestamp(), nullable=False),
        Column("created_by", String(128), nullable=False),
        Column("git_commit", String(64), nullable=True),
        Column("sources", JSON, nullable=False),
        Column("documents", JSON, nullable=False),
        Column("plan", JSON, nullable=False),
    )


@_system("sf_departments")
def _sf_departments(metadata: MetaData) -> Table:
    return Table(
        "sf_departments", metadata,
        Column("id", String(64), primary_key=True),
        Column("title", String, nullable=False),
        Column("parent_id", String(64), ForeignKey("sf_departments.id", ondelete="RESTRICT"), nullable=True),
        Column("head_id", Integer, nullable=True),  # a user (no reference: users and departments name each other)
    )


@_system("sf_users")
def _sf_users(metadata: MetaData) -> Table:
    return Table(
        "sf_users", metadata,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("login", String(128), nullable=False, unique=True),
        Column("name", String, nullable=False),
        Column("department_id", String(64), ForeignKey("sf_departments.id", ondelete="SET NULL"), nullable=True),
        Column("active", Boolean, nullable=False, server_default="1"),
        Column("created_at", _timestamp(), nullable=False),
        Column("email", String(254), nullable=True),
        # the user's own settings (runtime/notices.py): e-mail notifications (NULL: on) and their language
        Column("email_notifications", Boolean, nullable=True),
        Column("language", String(8), nullable=True),
    )


@_system("sf_role_grants")
def _sf_role_grants(metadata: MetaData) -> Table:
    """A role a user holds in every process (process `*`) or in one named process, there in every
    pipeline (pipeline `*`) or in one named pipeline only."""
    return Table(
        "sf_role_grants", metadata,
        Column("user_id", Integer, ForeignKey("sf_users.id", ondelete="CASCADE"), primary_key=True),
        Column("role", String(28), primary_key=True),
        Column("process", String(28), primary_key=True, server_default=EVERY_PROCESS),
        Column("pipeline", String(28), primary_key=True, server_default=EVERY_PIPELINE),
    )


@_system("sf_history")
def _sf_history(metadata: MetaData) -> Table:
    return Table(
        "sf_history", metadata,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("process", String(28), nullable=False),
        Column("item_id", Integer, nullable=False),
        Column("at", _timestamp(), nullable=False),
        Column("actor_id", Integer, ForeignKey("sf_users.id", ondelete="SET NULL"), nullable=True),
        Column("kind", String(16), nullable=False),
        Column("field", String(64), nullable=True),
        Column("old", JSON, nullable=True),
        Column("new", JSON, nullable=True),
        Column("via", String(128), nullable=True),
        Column("definition_version", Integer, nullable=True),
        Index("ix_sf_history_item", "process", "item_id", "id"),
    )


@_system("sf_jobs")
def _sf_jobs(metadata: MetaData) -> Table:
    return Table(
        "sf_jobs", metadata,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("process", String(28), nullable=False),
        Column("item_id", Integer, nullable=False),
        Column("trigger", String(64), nullable=False),
        Column("due_at", _timestamp(), nullable=False),
        Column("status", String(16), nullable=False),
        Column("attempts", Integer, nullable=False, server_default="0"),
        Column("payload", JSON, nullable=False),
        Column("locked_by", String(128), nullable=True),
        Column("locked_at", _timestamp(), nullable=True),
        Column("last_error", Text, nullable=True),
        Column("created_at", _timestamp(), nullable=False),
        Index("ix_sf_jobs_due", "status", "due_at"),
    )


@_system("sf_outbox")
def _sf_outbox(metadata: MetaData) -> Table:
    return Table(
        "sf_outbox", metadata,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("kind", String(16), nullable=False),
        Column("payload", JSON, nullable=False),
        Column("status", String(16), nullable=False),
        Column("attempts", Integer, nullable=False, server_default="0"),
        Column("next_attempt_at", _timestamp(), nullable=True),
        Column("last_error", Text, nullable=True),
        Column("created_at", _timestamp(), nullable=False),
        Column("sent_at", _timestamp(), nullable=True),
        Index("ix_sf_outbox_status", "status", "next_attempt_at"),
    )


@_system("sf_files")
def _sf_files(metadata: MetaData) -> Table:
    return Table(
        "sf_files", metadata,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("name", String, nullable=False),
        Column("size", BigInteger, nullable=False),
        Column("checksum", String(64), nullable=False),
        Column("location", String, nullable=False),
        Column("content_type", String(128), nullable=True),
        Column("created_at", _timestamp(), nullable=False),
        # added with content storage (runtime/filestore.py): whose upload, for which item and field
        Column("process", String(28), nullable=True),
        Column("item_id", Integer, nullable=True),
        Column("field", String(64), nullable=True),
        Column("uploaded_by", Integer, ForeignKey("sf_users.id", ondelete="SET NULL"), nullable=True),
    )


@_system("sf_file_chunks")
def _sf_file_chunks(metadata: MetaData) -> Table:
    """The database file store: a file's bytes by SHA-256, in chunks of at most 1 MiB."""
    return Table(
        "sf_file_chunks", metadata,
        Column("checksum", String(64), primary_key=True),
        Column("position", Integer, primary_key=True, autoincrement=False),
        Column("data", LargeBinary, nullable=False),
    )


@_system("sf_archive")
def _sf_archive(metadata: MetaData) -> Table:
    return Table(
        "sf_archive", metadata,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("version_id", Integer, nullable=True),
        Column("process", String(28), nullable=False),
        Column("item_id", Integer, nullable=True),
        Column("field", String(64), nullable=True),
        Column("reason", String, nullable=False),
        Column("data", JSON, nullable=False),
        Column("archived_at", _timestamp(), nullable=False),
        Index("ix_sf_archive_item", "process", "item_id"),
    )


@_system("sf_inbox")
def _sf_inbox(metadata: MetaData) -> Table:
    return Table(
        "sf_inbox", metadata,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("user_id", Integer, ForeignKey("sf_users.id", ondelete="CASCADE"), nullable=False),
        Column("outbox_id", Integer, nullable=True),
        Column("process", String(28), nullable=True),
        Column("item_id", Integer, nullable=True),
        Column("subject", String, nullable=True),
        Column("message", Text, nullable=False),
        Column("created_at", _timestamp(), nullable=False),
        Column("read_at", _timestamp(), nullable=True),
        # what smartflow itself wrote, as catalogue messages ({"subject"|"message": [msgid, params]}): shown in
        # the reader's language; subject and message keep the English (None: a `notify` text, an older row)
        Column("localized", JSON, nullable=True),
        Index("ix_sf_inbox_user", "user_id", "read_at", "id"),
    )


@_system("sf_counters")
def _sf_counters(metadata: MetaData) -> Table:
    return Table(
        "sf_counters", metadata,
        Column("key", String(160), primary_key=True),
        Column("value", BigInteger, nullable=False),
    )


@_system("sf_numbers")
def _sf_numbers(metadata: MetaData) -> Table:
    """Stable integers for outside protocols (the Bitrix24 facade's entityTypeId, categoryId…)."""
    return Table(
        "sf_numbers", metadata,
        Column("kind", String(16), primary_key=True),  # type, category, stage, option
        Column("key", String(200), primary_key=True),  # process[/pipeline[/stage]] or process/field/option
        Column("number", Integer, nullable=False),
        UniqueConstraint("kind", "number", name="uq_sf_numbers_number"),
    )


@_system("sf_audit")
def _sf_audit(metadata: MetaData) -> Table:
    """Every administrative change: who, what, when."""
    return Table(
        "sf_audit", metadata,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("at", _timestamp(), nullable=False),
        Column("actor", String(128), nullable=False),
        Column("via", String(128), nullable=True),
        Column("action", String(64), nullable=False),
        Column("target", String(160), nullable=True),
        Column("details", JSON, nullable=True),
        Index("ix_sf_audit_at", "at"),
    )


@_system("sf_event_bindings")
def _sf_event_bindings(metadata: MetaData) -> Table:
    """Outbound event subscriptions (runtime/subscriptions.py): who hears which changes, where."""
    return Table(
        "sf_event_bindings", metadata,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("kind", String(16), nullable=False),  # created, updated, deleted
        Column("name", String(64), nullable=False),  # the event's name as bound (ONCRMDYNAMICITEMADD)
        Column("handler", String(2048), nullable=False),
        Column("user_id", Integer, ForeignKey("sf_users.id", ondelete="CASCADE"), nullable=True),
        Column("format", String(16), nullable=False),  # what a message looks like: bitrix24
        Column("details", JSON, nullable=False),
        Column("created_at", _timestamp(), nullable=False),
        Index("ix_sf_event_bindings_kind", "kind"),
    )




@_system("sf_presets")
def _sf_presets(metadata: MetaData) -> Table:
    """The filters people saved for themselves on a process's views (runtime/presets.py): a title and the
    view's query string, as the board's address holds it."""
    return Table(
        "sf_presets", metadata,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("user_id", Integer, ForeignKey("sf_users.id", ondelete="CASCADE"), nullable=False),
        Column("process", String(28), nullable=False),
        Column("title", String(200), nullable=False),
        Column("query", Text, nullable=False),
        Column("created_at", _timestamp(), nullable=False),
        Index("ix_sf_presets_user", "user_id", "process", "id"),
    )


@_system("sf_comments")
def _sf_comments(metadata: MetaData) -> Table:
    """People's comments on items (with the users they mention) and to-dos (runtime/timeline.py): each
    names its item by process and id, as sf_history does, so they follow an item into the recycle bin."""
    return Table(
        "sf_comments", metadata,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("process", String(28), nullable=False),
        Column("item_id", Integer, nullable=False),
        Column("author_id", Integer, ForeignKey("sf_users.id", ondelete="SET NULL"), nullable=True),
        Column("text", Text, nullable=False),
        Column("created_at", _timestamp(), nullable=False),
        Column("edited_at", _timestamp(), nullable=True),
        Column("deleted_at", _timestamp(), nullable=True),
        Column("via", String(128), nullable=True),
        Index("ix_sf_comments_item", "process", "item_id", "id"),
    )


@_system("sf_comment_mentions")
def _sf_comment_mentions(metadata: MetaData) -> Table:
    """Whom a comment mentions (their inbox shows it)."""
    return Table(
        "sf_comment_mentions", metadata,
        Column("comment_id", Integer, ForeignKey("sf_comments.id", ondelete="CASCADE"), primary_key=True),
        Column("user_id", Integer, ForeignKey("sf_users.id", ondelete="CASCADE"), primary_key=True),
        Index("ix_sf_comment_mentions_user", "user_id", "comment_id"),
    )


@_system("sf_todos")
def _sf_todos(metadata: MetaData) -> Table:
    """To-dos on items: a title, a deadline (a day or a moment), a responsible person."""
    return Table(
        "sf_todos", metadata,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("process", String(28), nullable=False),
        Column("item_id", Integer, nullable=False),
        Column("title", String, nullable=False),
        Column("due_date", Date, nullable=True),  # a deadline that is a day…
        Column("due_at", _timestamp(), nullable=True),  # …or a moment (at most one of the two)
        Column("responsible_id", Integer, ForeignKey("sf_users.id", ondelete="SET NULL"), nullable=True),
        Column("created_by", Integer, ForeignKey("sf_users.id", ondelete="SET NULL"), nullable=True),
        Column("created_at", _timestamp(), nullable=False),
        Column("done_at", _timestamp(), nullable=True),
        Column("done_by", Integer, ForeignKey("sf_users.id", ondelete="SET NULL"), nullable=True),
        Column("via", String(128), nullable=True),
        Column("reminded_at", _timestamp(), nullable=True),  # when its responsible person was told it is overdue
        Index("ix_sf_todos_item", "process", "item_id", "id"),
        Index("ix_sf_todos_responsible", "responsible_id", "done_at"),
    )


@_system("sf_board_totals")
def _sf_board_totals(metadata: MetaData) -> Table:
    """The board's per-stage counts and money sums, kept by triggers (compile/totals.py explains them).

    SQLite: one row per key (process, pipeline, stage, field, currency), a unique index the
    triggers' UPSERT needs. PostgreSQL: rows appended per change and folded now and then, so the
    same index is not unique there; total is NUMERIC, which no sum of 64-bit amounts overflows."""
    key = ("process", "pipeline", "stage", "field", "currency")
    table = Table(
        "sf_board_totals", metadata,
        Column("id", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True),
        Column("process", String(28), nullable=False),
        Column("pipeline", String(28), nullable=False),
        Column("stage", String(28), nullable=False),
        Column("field", String(28), nullable=False),  # '' for the count of items
        Column("currency", String(3), nullable=False),  # '' for amounts without one
        Column("items", BigInteger(), nullable=False),
        Column("total", BigInteger().with_variant(Numeric(), "postgresql"), nullable=False),
    )
    columns = ", ".join(key)
    event.listen(table, "after_create", DDL(f"CREATE UNIQUE INDEX ix_sf_board_totals_key ON sf_board_totals "
                                            f"({columns})").execute_if(dialect="sqlite"))
    event.listen(table, "after_create", DDL(f"CREATE INDEX ix_sf_board_totals_key ON sf_board_totals "
                                            f"({columns})").execute_if(dialect="postgresql"))
    return table


CHANGES_TABLE = "sf_changes"


@_system(CHANGES_TABLE)
def _sf_changes(metadata: MetaData) -> Table:
    """The change feed (compile/changes.py explains it): one row per item a write touched, or a row with
    no item when many were."""
    return Table(
        CHANGES_TABLE, metadata,
        Column("id", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True),
        Column("process", String(28), nullable=False),
        Column("item_id", BigInteger().with_variant(Integer(), "sqlite"), nullable=True),
        sqlite_autoincrement=True,
    )


@_system("sf_passwords")
def _sf_passwords(metadata: MetaData) -> Table:
    """Passwords: a memory-hard hash with its salt and parameters."""
    return Table(
        "sf_passwords", metadata,
        Column("user_id", Integer, ForeignKey("sf_users.id", ondelete="CASCADE"), primary_key=True),
        Column("hash", String(256), nullable=False),
        Column("updated_at", _timestamp(), nullable=False),
    )


@_system("sf_tokens")
def _sf_tokens(metadata: MetaData) -> Table:
    """API tokens and browser sessions (only a digest of the secret is kept)."""
    return Table(
        "sf_tokens", metadata,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("user_id", Integer, ForeignKey("sf_users.id", ondelete="CASCADE"), nullable=False),
        Column("kind", String(16), nullable=False),  # token (Authorization: Bearer) or session (a cookie)
        Column("digest", String(64), nullable=False, unique=True),
        Column("created_at", _timestamp(), nullable=False),
        Column("expires_at", _timestamp(), nullable=True),
        Column("revoked_at", _timestamp(), nullable=True),
    )


@_system("sf_login_failures")
def _sf_login_failures(metadata: MetaData) -> Table:
    """Failed logins, to throttle guessing."""
    return Table(
        "sf_login_failures", metadata,
        Column("login", String(128), primary_key=True),
        Column("failures", Integer, nullable=False),
        Column("first_at", _timestamp(), nullable=False),
    )


SYSTEM_TABLE_NAMES = ("sf_versions", "sf_departments", "sf_users", "sf_role_grants", "sf_history", "sf_jobs",
                      "sf_outbox", "sf_files", "sf_archive", "sf_inbox", "sf_counters", "sf_audit", "sf_passwords",
                      "sf_tokens", "sf_login_failures", "sf_board_totals", "sf_changes", "sf_numbers",
                      "sf_event_bindings", "sf_file_chunks",
                      "sf_comments", "sf_comment_mentions", "sf_todos",
                      "sf_presets")


def build_metadata(definition: Definition) -> MetaData:
    """All tables of a definition: smartflow's own and every process's."""
    metadata = MetaData()
    system_tables(metadata)
    for process in definition.processes:
        process_tables(process, metadata)
    return metadata
