"""`smartflow serve`: the HTTP API under uvicorn.

The CLI does not import the HTTP package (interfaces stand side by side on the services): it
hands uvicorn the application's import string, which is also what uvicorn's worker processes
need, and the database URL through the environment every worker inherits.
"""

from __future__ import annotations

import os
import signal

import click

from smartflow.cli.common import db_option

APP = "smartflow.http.app:create_app"


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="The address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535), help="The port to listen on.")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64),
              help="Worker processes (each one stateless; several machines may share one PostgreSQL too).")
@click.option("--ssl-certfile", type=click.Path(exists=True, dir_okay=False),
              help="Serve HTTPS with this certificate (PEM; the chain after it). b24pysdk speaks only HTTPS.")
@click.option("--ssl-keyfile", type=click.Path(exists=True, dir_okay=False),
              help="The certificate's private key (PEM).")
@db_option
def serve(host: str, port: int, workers: int, ssl_certfile: str | None, ssl_keyfile: str | None,
          db_url: str | None) -> None:
    """Serve the HTTP API (/api/v1, docs at /api/docs) until SIGTERM or Ctrl-C.

    Requests authenticate with `Authorization: Bearer TOKEN` (smartflow token create LOGIN) or a
    browser session (POST /api/v1/session). On SIGTERM/SIGINT the requests in flight finish, then
    the command exits 0.

    While no administrator has a password, it prints a one-time link that signs in as one (an
    `admin` user is made when there is none) and asks for a password, as Jupyter prints its token."""
    if (ssl_certfile is None) != (ssl_keyfile is None):
        raise click.UsageError("give --ssl-certfile and --ssl-keyfile together")
    from smartflow.errors import InvalidValue
    from smartflow.services import Engine, server_connections

    try:
        server_connections()  # read by every worker process as it starts: refused here, once, in one line
    except InvalidValue as wrong:
        raise click.UsageError(str(wrong)) from None
    import uvicorn

    with Engine(db_url, via="cli") as crm:
        version = crm.deployed_version()  # fail here, with the CLI's message, on a wrong URL or an empty database
        first = crm.first_sign_in()  # while no administrator has a password: a one-time link for one
    if db_url:
        os.environ["SMARTFLOW_DATABASE_URL"] = db_url
    shown = f"[{host}]" if ":" in host else host
    scheme = "https" if ssl_certfile else "http"
    click.echo(f"smartflow serving {scheme}://{shown}:{port} (definition version {version}; "
               f"{workers} worker{'s' if workers > 1 else ''}); stop with Ctrl-C or SIGTERM", nl=True)
    if first is not None:
        login, code = first
        near = "127.0.0.1" if host in ("0.0.0.0", "::", "") else shown
        click.echo(f"No administrator has a password yet. Open this link once to sign in as `{login}` and "
                   f"choose one (valid 24 hours, works once):\n    {scheme}://{near}:{port}/welcome?code={code}")
    # uvicorn re-raises the signal that stopped it once it has shut down gracefully; with these
    # handlers in place that ends here, and the command exits 0 as scripts expect.
    for stop in (signal.SIGTERM, signal.SIGINT):
        signal.signal(stop, lambda *_: None)
    uvicorn.run(APP, factory=True, host=host, port=port, workers=workers, log_level="warning",
                timeout_graceful_shutdown=30, ssl_certfile=ssl_certfile, ssl_keyfile=ssl_keyfile)
