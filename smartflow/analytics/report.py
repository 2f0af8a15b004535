"""Analytics of a process: the funnel per stage, conversion to success, time in stage, overdue dates,
win and loss by assigned user.

The database does the work (GROUP BY, window functions over the history); Python only arranges
the few rows that come back, so a report over 100,000 items costs a handful of queries. Only
items the user may read count, as in the list and on the kanban board. A period (`--from`,
`--to`) selects the items created in it, and every figure is about those items.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from smartflow.compile.sql import currency_column, precision_of
from smartflow.definitions.hints import did_you_mean, known_list
from smartflow.definitions.model import Pipeline
from smartflow.errors import InvalidValue
from smartflow.grid import grid
from smartflow.records import record
from smartflow.runtime.access import hidden_fields
from smartflow.runtime.compiled import CompiledProcess
from smartflow.runtime.items import Sessions, Write, process_of
from smartflow.runtime.query import money_totals, shown_money, shown_money_fields, visible


@record
class ReportOptions:
    """What a report covers: one pipeline or all, a period of dates, the language of its titles."""

    pipeline: str | None = None
    date_from: date | None = None
    date_to: date | None = None
    lang: str | None = None


def report(crm: Sessions, process_id: str, options: ReportOptions) -> dict[str, Any]:
    """The report of a process as the Engine's user sees it, read in one transaction."""
    with crm.session(False) as write:
        return build_report(write, process_id, options)


def build_report(write: Write, process_id: str, options: ReportOptions) -> dict[str, Any]:
    """The report as plain data (Decimal sums, seconds as floats, conversion as a fraction or None)."""
    process = process_of(write, process_id)
    pipeline = _pipeline(process, options.pipeline)
    table = process.table
    base = sa.and_(visible(write, process), table.c.pipeline == pipeline.id)
    if options.date_from:
        base = sa.and_(base, table.c.created_at >= datetime.combine(options.date_from, time(), UTC))
    if options.date_to and options.date_to < date.max:  # up to 9999-12-31: every item
        base = sa.and_(base, table.c.created_at < datetime.combine(options.date_to + timedelta(days=1), time(), UTC))
    counts = _stage_counts(write, process, base)
    entries = _entries(write, process, base)
    reached = _reached(write, pipeline, entries)
    stays = _stays(write, entries)
    totals = money_totals(write, process, base, table.c.stage)
    stages = []
    for stage in pipeline.stages:
        count, sums = counts.get(stage.id, (0, {}))
        reached_count, won = reached.get(stage.id, (0, 0))
        stay_count, average, median = stays.get(stage.id, (0, None, None))
        stages.append({"stage": stage.id, "title": stage.title.get(options.lang), "semantic": stage.semantic,
                       "count": count, "sums": sums, "totals": totals.get(stage.id, {}),
                       "reached": reached_count, "won": won,
                       "conversion": won / reached_count if reached_count else None,
                       "stays": stay_count, "avg_seconds": average, "median_seconds": median})
    return {"process": process_id, "title": process.process.title.get(options.lang), "pipeline": pipeline.id,
            "pipeline_title": pipeline.title.get(options.lang),
            "from": options.date_from, "to": options.date_to,
            "money_field": money.id if (money := shown_money(write, process)) else None,
            "money_fields": [f.id for f in shown_money_fields(write, process)],
            "items": sum(s["count"] for s in stages), "stages": stages,
            "overdue": _overdue(write, process, pipeline, base, options.lang),
            "users": _by_user(write, process, pipeline, base)}


def _pipeline(process: CompiledProcess, pipeline_id: str | None) -> Pipeline:
    chosen = process.process.pipeline(pipeline_id) if pipeline_id else process.process.default_pipeline
    if chosen is None:
        known = [p.id for p in process.process.pipelines]
        raise InvalidValue(f"{process.process.id} has no pipeline `{pipeline_id}`",
                           did_you_mean(pipeline_id or "", known) or f"pipelines: {known_list(known)}")
    return chosen


def _amount(process: CompiledProcess, raw: Any) -> Decimal:
    money = process.money_field
    assert money is not None
    return Decimal(raw).scaleb(-precision_of(money))


def _stage_counts(write: Write, process: CompiledProcess, base: Any) -> dict[str, tuple[int, dict[str, Decimal]]]:
    """Per stage: how many items are in it now, and their money sums per currency."""
    table, money = process.table, shown_money(write, process)
    selected: list[Any] = [table.c.stage, sa.func.count()]
    group: list[Any] = [table.c.stage]
    if money is not None:
        selected += [table.c[currency_column(money.id)], sa.func.sum(table.c[money.id])]
        group.append(table.c[currency_column(money.id)])
    out: dict[str, tuple[int, dict[str, Decimal]]] = {}
    for row in write.connection.execute(sa.select(*selected).where(base).group_by(*group)):
        count, sums = out.get(row[0], (0, {}))
        if money is not None and row[3] is not None:
            sums[row[2] or ""] = _amount(process, row[3])
        out[row[0]] = (count + row[1], sums)
    return out


def _json_text(write: Write, column: Any, key: str | None = None) -> Any:
    """A string inside a JSON history value, in SQL: the whole value, or one key of an object."""
    if write.sqlite:
        return sa.type_coerce(sa.func.json_extract(column, f"$.{key}" if key else "$"), sa.String)
    if key:
        return sa.func.json_extract_path_text(column, key, type_=sa.String)
    return column.op("#>>", return_type=sa.String)(sa.literal_column("'{}'"))


def _seconds(write: Write, moment: Any) -> Any:
    if write.sqlite:
        return sa.func.julianday(moment) * 86400.0
    return sa.extract("epoch", moment)


def _entries(write: Write, process: CompiledProcess, base: Any) -> Any:
    """Every entry of a selected item into a stage, from history: (item, stage, at, order, current stage).

    Creates and stage moves are entries; an item without any history (inserted by other means)
    counts as having entered its current stage when it was created.
    """
    history = write.compiled.tables["sf_history"]
    table = process.table
    pid = process.process.id
    moves = sa.select(history.c.item_id, _json_text(write, history.c.new).label("stage"), history.c.at,
                      history.c.id.label("seq")).where(history.c.process == pid, history.c.kind == "move",
                                                       history.c.field == "stage")
    creates = sa.select(history.c.item_id, _json_text(write, history.c.new, "stage").label("stage"), history.c.at,
                        history.c.id.label("seq")).where(history.c.process == pid, history.c.kind == "create")
    unrecorded = sa.select(table.c.id.label("item_id"), table.c.stage, table.c.created_at.label("at"),
                           sa.literal(0).label("seq")).where(
        ~sa.exists().where(history.c.process == pid, history.c.item_id == table.c.id))
    events = sa.union_all(moves, creates, unrecorded).subquery("events")
    return (sa.select(events.c.item_id, events.c.stage, events.c.at, events.c.seq, table.c.stage.label("current"))
            .join(table, table.c.id == events.c.item_id).where(base).subquery("entries"))


def _reached(write: Write, pipeline: Pipeline, entries: Any) -> dict[str, tuple[int, int]]:
    """Per stage: how many items ever entered it, and how many of those are now in a success stage."""
    won = [s.id for s in pipeline.stages if s.semantic == "success"]
    reached = sa.select(entries.c.item_id, entries.c.stage, entries.c.current).distinct().subquery("reached")
    query = (sa.select(reached.c.stage, sa.func.count(),
                       sa.func.sum(sa.case((reached.c.current.in_(won), 1), else_=0)))
             .group_by(reached.c.stage))
    return {row[0]: (int(row[1]), int(row[2] or 0)) for row in write.connection.execute(query)}


def _stays(write: Write, entries: Any) -> dict[str, tuple[int, float | None, float | None]]:
    """Per stage: completed stays (entered, then left), their average and median length in seconds.

    The median is computed in SQL on both databases: the middle one or two of the stays ranked by
    length (SQLite has no percentile function).
    """
    left_at = sa.func.lead(entries.c.at).over(partition_by=entries.c.item_id, order_by=(entries.c.at, entries.c.seq))
    ordered = sa.select(entries.c.stage, entries.c.at, left_at.label("left_at")).subquery("ordered")
    length = (_seconds(write, ordered.c.left_at) - _seconds(write, ordered.c.at)).label("seconds")
    stays = sa.select(ordered.c.stage, length).where(ordered.c.left_at.is_not(None)).subquery("stays")
    out: dict[str, tuple[int, float | None, float | None]] = {}
    for row in write.connection.execute(sa.select(stays.c.stage, sa.func.count(), sa.func.avg(stays.c.seconds))
                                        .group_by(stays.c.stage)):
        out[row[0]] = (int(row[1]), float(row[2]), None)
    rank = sa.func.row_number().over(partition_by=stays.c.stage, order_by=stays.c.seconds).label("rank")
    total = sa.func.count().over(partition_by=stays.c.stage).label("total")
    ranked = sa.select(stays.c.stage, stays.c.seconds, rank, total).subquery("ranked")
    middle = sa.and_(ranked.c.rank * 2 >= ranked.c.total, ranked.c.rank * 2 <= ranked.c.total + 2)
    for row in write.connection.execute(sa.select(ranked.c.stage, sa.func.avg(ranked.c.seconds)).where(middle)
                                        .group_by(ranked.c.stage)):
        count, average, _ = out[row[0]]
        out[row[0]] = (count, average, float(row[1]))
    return out


def _overdue(write: Write, process: CompiledProcess, pipeline: Pipeline, base: Any,
             lang: str | None) -> list[dict[str, Any]]:
    """Per date field: the open items (not in a success or failure stage) whose date has passed."""
    table = process.table
    hidden = hidden_fields(write.actor, process)
    dated = [f for f in process.process.fields
             if f.type in ("date", "datetime") and not f.multiple and f.id not in hidden]
    if not dated:
        return []
    is_open = table.c.stage.notin_([s.id for s in pipeline.stages if s.final])
    now = write.now or datetime.now(UTC)
    sums = [sa.func.sum(sa.case((sa.and_(is_open, table.c[f.id] < (now.date() if f.type == "date" else now)), 1),
                                else_=0)) for f in dated]
    row = write.connection.execute(sa.select(*sums).where(base)).one()
    return [{"field": f.id, "title": f.label(lang), "count": int(count or 0)} for f, count in zip(dated, row,
                                                                                                   strict=True)]


def _by_user(write: Write, process: CompiledProcess, pipeline: Pipeline, base: Any) -> list[dict[str, Any]]:
    """Per assigned user: items, won, lost, still open, the win rate and the money won per currency."""
    table, money = process.table, shown_money(write, process)
    users = write.compiled.tables["sf_users"]
    won = table.c.stage.in_([s.id for s in pipeline.stages if s.semantic == "success"])
    lost = table.c.stage.in_([s.id for s in pipeline.stages if s.semantic == "failure"])
    selected: list[Any] = [table.c.assigned_to, users.c.login, users.c.name, sa.func.count(),
                           sa.func.sum(sa.case((won, 1), else_=0)), sa.func.sum(sa.case((lost, 1), else_=0))]
    group: list[Any] = [table.c.assigned_to, users.c.login, users.c.name]
    if money is not None:
        selected += [table.c[currency_column(money.id)], sa.func.sum(sa.case((won, table.c[money.id]), else_=None))]
        group.append(table.c[currency_column(money.id)])
    query = (sa.select(*selected).select_from(table.outerjoin(users, users.c.id == table.c.assigned_to))
             .where(base).group_by(*group))
    out: dict[int | None, dict[str, Any]] = {}
    for row in write.connection.execute(query):
        entry = out.setdefault(row[0], {"user": row[1], "name": row[2] or "nobody", "items": 0, "won": 0,
                                        "lost": 0, "won_sums": {}})
        entry["items"] += int(row[3])
        entry["won"] += int(row[4] or 0)
        entry["lost"] += int(row[5] or 0)
        if money is not None and row[7] is not None:
            entry["won_sums"][row[6] or ""] = _amount(process, row[7])
    won_totals = money_totals(write, process, base, table.c.assigned_to,
                              lambda column: sa.case((won, column), else_=None))
    for user_id, entry in out.items():
        entry["won_totals"] = won_totals.get(user_id, {})  # every money field: {field: {currency: sum}}
        entry["open"] = entry["items"] - entry["won"] - entry["lost"]
        closed = entry["won"] + entry["lost"]
        entry["win_rate"] = entry["won"] / closed if closed else None
    return sorted(out.values(), key=lambda e: (-e["won"], -e["items"], e["name"]))


# ---- rendering -----------------------------------------------------------------------


def duration(seconds: float | None) -> str:
    """A stay's length as a person reads it: 25 min, 5.5 h, 3.2 d."""
    if seconds is None:
        return "—"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"


def percent(fraction: float | None) -> str:
    return "—" if fraction is None else f"{fraction:.0%}"


def money(sums: dict[str, Decimal], grouped: bool = True) -> str:
    parts = [f"{amount:,.2f}".replace(",", " " if grouped else "") + (f" {currency}" if currency else "")
             for currency, amount in sorted(sums.items())]
    return " + ".join(parts)


_MARK = {"success": "✓ ", "failure": "✗ ", "process": ""}


def tables(report: dict[str, Any], for_people: bool = True) -> list[tuple[str, list[str], list[list[Any]]]]:
    """The report as titled tables: stages, overdue dates, users (text for people, plain values for CSV)."""
    show_money = report["money_field"] is not None
    more = [f for f in report.get("money_fields", []) if f != report["money_field"]]  # beyond the first: a column each
    stage_rows = []
    for s in report["stages"]:
        row: list[Any] = [(_MARK[s["semantic"]] + s["title"]) if for_people else s["stage"], s["count"]]
        row += [money(s["sums"], for_people)] if show_money else []
        row += [money(s["totals"].get(f, {}), for_people) for f in more]
        if for_people:
            row += [s["reached"], percent(s["conversion"]), duration(s["avg_seconds"]),
                    duration(s["median_seconds"])]
        else:
            row += [s["title"], s["semantic"], s["reached"], s["won"],
                    "" if s["conversion"] is None else round(s["conversion"], 4),
                    "" if s["avg_seconds"] is None else round(s["avg_seconds"]),
                    "" if s["median_seconds"] is None else round(s["median_seconds"])]
        stage_rows.append(row)
    stage_headers = ["stage", "items"] + (["sum"] if show_money else []) + [f"sum of {f}" for f in more]
    stage_headers += (["reached", "→ success", "avg in stage", "median in stage"] if for_people else
                      ["title", "semantic", "reached", "reached and won", "conversion", "avg_seconds",
                       "median_seconds"])
    overdue = [[o["title"] if for_people else o["field"], o["count"]] for o in report["overdue"]]
    users = [[u["name"] if for_people else (u["user"] or ""), u["items"], u["won"], u["lost"], u["open"],
              percent(u["win_rate"]) if for_people else ("" if u["win_rate"] is None else round(u["win_rate"], 4))]
             + ([money(u["won_sums"], for_people)] if show_money else [])
             + [money(u["won_totals"].get(f, {}), for_people) for f in more] for u in report["users"]]
    user_headers = ["assigned to", "items", "won", "lost", "open", "win rate"] + (["won sum"] if show_money else [])
    user_headers += [f"won sum of {f}" for f in more]
    return [("stages", stage_headers, stage_rows),
            ("overdue: open items whose date has passed", ["date field", "items"], overdue),
            ("by assigned user", user_headers, users)]


def render_text(report: dict[str, Any]) -> str:
    period = ""
    if report["from"] or report["to"]:
        period = f", created {report['from'] or '…'} – {report['to'] or '…'}"
    lines = [f"{report['title']} · {report['pipeline_title']} ({report['pipeline']}): {report['items']} items"
             f"{period}"]
    for title, headers, rows in tables(report):
        lines += ["", title + ":"]
        lines.append(grid(rows, headers) if rows else "  (none)")
    lines += ["", "reached: items that ever entered the stage; → success: of those, the share now in a success "
              "stage; time in stage: completed stays, from history"]
    return "\n".join(lines)
