"""CLI commands for automation: the worker, the job queue, the outbox and users' inboxes."""

from __future__ import annotations

from typing import Any

import click

from smartflow.cli.common import common, emit, engine

STATUSES = click.Choice(["pending", "running", "done", "failed", "dropped", "sent"])


@click.command()
@click.option("--once", is_flag=True, help="Do what is due now, then exit (for cron).")
@click.option("--interval", type=click.FloatRange(0.1), default=5.0, show_default=True,
              help="Seconds to wait when there is nothing to do.")
@click.option("--batch", type=click.IntRange(1), default=100, show_default=True,
              help="Jobs and messages handled per pass.")
@click.option("--allow-host", "allow_hosts", multiple=True, envvar="SMARTFLOW_WEBHOOK_HOSTS",
              help="Hosts webhooks may call (repeat; default: any public host; a private, loopback or link-local "
                   "address only when its host is listed). $SMARTFLOW_WEBHOOK_HOSTS, space-separated.")
@click.option("--name", default=None, help="This worker's name in the job table (default: host:pid).")
@click.option("--lease", type=click.FloatRange(0.1), default=60.0, show_default=True,
              help="Seconds after which a job left running by a worker that died is run again by another.")
@common(data=False)
def worker(once: bool, interval: float, batch: int, allow_hosts: tuple[str, ...], name: str | None,
           lease: float, db_url: str | None, as_user: str | None) -> None:
    """Run delayed trigger jobs when due and deliver notifications and webhooks.

    Several workers may run against one PostgreSQL database; on SQLite run one.
    """
    import os
    import signal
    import socket

    hosts = set(allow_hosts) if allow_hosts else None
    label = name or f"{socket.gethostname()}:{os.getpid()}"

    def report(tally: Any) -> None:
        again = f", {tally.postponed} to run again" if tally.postponed else ""
        reminded = f"; overdue to-dos told: {tally.reminded}" if tally.reminded else ""
        click.echo(f"jobs: {tally.done} done, {tally.dropped} dropped, {tally.failed} failed{again}; "
                   f"messages: {tally.sent} sent, {tally.retried} to retry{reminded}")
        for error in tally.errors:
            click.echo(f"  {error}", err=True)

    from smartflow.services import mail_settings

    found = mail_settings()  # a wrong setting stops the worker here, in one line
    click.echo(f"e-mail: through {found.server}" if found is not None else
               "e-mail: not configured (set SMARTFLOW_SMTP_URL to send notifications by e-mail)", err=True)
    with engine(db_url, as_user) as crm:
        if once:
            report(crm.work(label, batch, hosts, lease=lease))
            return
        stopping: list[bool] = [False]

        def stop(*_: Any) -> None:
            stopping[0] = True

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        click.echo(f"worker {label} started; Ctrl-C to stop")
        crm.work_forever(label, interval, batch, hosts, report, lambda: stopping[0], lease)
        click.echo("worker stopped")


@click.group(invoke_without_command=True)
@click.option("--status", type=STATUSES, default=None)
@click.option("--limit", type=click.IntRange(1), default=50, show_default=True)
@common()
@click.pass_context
def jobs(ctx: click.Context, status: str | None, limit: int, db_url: str | None, as_user: str | None,
         output_format: str) -> None:
    """Delayed trigger jobs: pending, done, dropped and failed (newest first)."""
    if ctx.invoked_subcommand is not None:
        return
    with engine(db_url, as_user) as crm:
        rows = crm.jobs(status, limit)
    emit(rows, ["id", "process", "item_id", "trigger", "due_at", "status", "attempts", "last_error"], output_format)


@jobs.command("retry")
@click.argument("job_id", type=int, metavar="ID")
@common(data=False)
def jobs_retry(job_id: int, db_url: str | None, as_user: str | None) -> None:
    """Queue a failed or dropped job again, due now."""
    with engine(db_url, as_user) as crm:
        crm.retry("job", job_id)
    click.echo(f"job {job_id} queued again")


@click.group(invoke_without_command=True)
@click.option("--status", type=STATUSES, default=None)
@click.option("--limit", type=click.IntRange(1), default=50, show_default=True)
@common()
@click.pass_context
def outbox(ctx: click.Context, status: str | None, limit: int, db_url: str | None, as_user: str | None,
           output_format: str) -> None:
    """Notifications and webhooks waiting to be delivered, sent or failed (newest first)."""
    if ctx.invoked_subcommand is not None:
        return
    with engine(db_url, as_user) as crm:
        rows = crm.outbox(status, limit)
    for row in rows:
        payload = row["payload"] or {}
        row["what"] = payload.get("url") or (payload.get("message") or "")[:60]
        row["trigger"] = payload.get("trigger")
    emit(rows, ["id", "kind", "trigger", "what", "status", "attempts", "next_attempt_at", "last_error"],
         output_format)


@outbox.command("retry")
@click.argument("message_id", type=int, metavar="ID")
@common(data=False)
def outbox_retry(message_id: int, db_url: str | None, as_user: str | None) -> None:
    """Queue a failed message again, due now."""
    with engine(db_url, as_user) as crm:
        crm.retry("message", message_id)
    click.echo(f"message {message_id} queued again")


@click.command()
@click.option("--unread", is_flag=True, help="Only messages not read yet.")
@click.option("--limit", type=click.IntRange(1), default=50, show_default=True)
@click.option("--mark-read", is_flag=True, help="Mark the messages shown as read.")
@common()
def inbox(unread: bool, limit: int, mark_read: bool, db_url: str | None, as_user: str | None,
          output_format: str) -> None:
    """Your notifications (pass --as USER)."""
    with engine(db_url, as_user) as crm:
        rows = crm.inbox(unread, limit, mark_read)
    emit(rows, ["created_at", "process", "item_id", "subject", "message"], output_format)
