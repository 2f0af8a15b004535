"""The raw fan-out bench_live.py compares `smartflow serve`'s live updates with: one thread LISTENs on a
PostgreSQL channel and hands every NOTIFY's payload, as it is, to every open Server-Sent Events stream
(sse-starlette under uvicorn, as smartflow serves them) — no credentials, no rights, no change feed, no
reading of the changed rows. Run by uvicorn: `uvicorn live_baseline:app`, with SMARTFLOW_DATABASE_URL
naming the PostgreSQL database and LIVE_CHANNEL the channel."""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
from collections.abc import AsyncIterator
from typing import Any

import psycopg
import sqlalchemy as sa
from fastapi import FastAPI, Request
from sse_starlette.sse import EventSourceResponse

CHANNEL = os.environ.get("LIVE_CHANNEL", "bench_live")
URL = sa.engine.make_url(os.environ["SMARTFLOW_DATABASE_URL"])
streams: set[asyncio.Queue[str]] = set()
loop: asyncio.AbstractEventLoop | None = None


def _listen() -> None:
    libpq = URL.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(libpq, autocommit=True) as connection:
        connection.execute(f"LISTEN {CHANNEL}")
        for notice in connection.notifies():
            assert loop is not None
            loop.call_soon_threadsafe(_fan_out, notice.payload)


def _fan_out(payload: str) -> None:
    for queue in streams:
        queue.put_nowait(payload)


@contextlib.asynccontextmanager
async def _lifespan(_app: FastAPI) -> AsyncIterator[None]:
    global loop
    loop = asyncio.get_running_loop()
    threading.Thread(target=_listen, daemon=True).start()
    yield


app = FastAPI(lifespan=_lifespan)


@app.get("/")
async def root() -> dict[str, Any]:
    return {"ok": True}


@app.get("/events")
async def events(request: Request) -> EventSourceResponse:
    queue: asyncio.Queue[str] = asyncio.Queue()
    streams.add(queue)

    async def stream() -> AsyncIterator[dict[str, Any]]:
        try:
            yield {"event": "ready", "data": "{}"}
            while True:
                with contextlib.suppress(TimeoutError):
                    payload = await asyncio.wait_for(queue.get(), 15)
                    yield {"event": "changes", "data": payload}
        finally:
            streams.discard(queue)

    return EventSourceResponse(stream(), ping=15)
