"""Live updates: `GET /api/v1/processes/{process}/events`, Server-Sent Events of a process's changes as the
caller may see them, for open boards, lists and cards (and any client that speaks SSE).

The change feed is kept by the database (compile/changes.py), so what any path writes — the board, the
API, the CLI, an import, automation, another server — reaches every screen. One thread per server
process waits on it (services: `Engine.watcher()`, LISTEN/NOTIFY on PostgreSQL, a cheap poll on SQLite)
and wakes the open streams; each stream then reads what changed as its own user, through the services,
so rights and hidden fields hold per receiver. An event's id is where to resume: a browser that
reconnects sends it back as `Last-Event-ID` and misses nothing. Server-Sent Events rather than
WebSocket: the traffic is one way, they pass proxies as plain HTTP, the browser reconnects by itself,
and the session cookie authenticates them like any page.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, Header, Query, Request
from fastapi.concurrency import run_in_threadpool
from sse_starlette.sse import EventSourceResponse

from smartflow import errors
from smartflow.http.caller import engine_for, jsonable

router = APIRouter()
PING_SECONDS = 15  # a comment line this often keeps proxies from closing an idle stream
WAIT_SECONDS = 1.0  # the watcher's longest sleep: how late a stop is noticed


class Hub:
    """One per application: a thread that waits on the change feed and wakes every open stream."""

    def __init__(self, engine: Any) -> None:
        self._engine = engine
        self._wakeup: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stopped = threading.Event()
        self.generation = 0  # how many times the feed was seen to grow

    async def wait(self, seen: int, timeout: float) -> int:
        """Until the feed grows past generation seen, or timeout seconds; the generation now."""
        self._start()
        if self.generation != seen:
            return self.generation
        assert self._wakeup is not None
        wakeup = self._wakeup
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(wakeup.wait(), timeout)
        return self.generation

    def stop(self) -> None:
        self._stopped.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _start(self) -> None:
        if self._thread is not None:
            return
        self._loop = asyncio.get_running_loop()
        self._wakeup = asyncio.Event()
        self._thread = threading.Thread(target=self._watch, name="smartflow-live", daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        watcher = self._engine.watcher()
        try:
            watcher.wait(0)  # the feed as it is now is no news
            while not self._stopped.is_set():
                try:
                    grew = watcher.wait(WAIT_SECONDS)
                except Exception:  # the database went away: try again, slowly, until it is back or we stop
                    watcher.close()
                    self._stopped.wait(WAIT_SECONDS)
                    continue
                if grew and self._loop is not None:
                    self._loop.call_soon_threadsafe(self._wake)
        finally:
            watcher.close()

    def _wake(self) -> None:
        self.generation += 1
        assert self._wakeup is not None
        woken, self._wakeup = self._wakeup, asyncio.Event()
        woken.set()


def install(app: FastAPI) -> None:
    """The events route and the application's hub (stopped with the application)."""
    app.state.live = Hub(app.state.engine)
    app.include_router(router, prefix="/api/v1")


@router.get("/processes/{process}/events", tags=["views"], response_class=EventSourceResponse,
            responses={200: {"content": {"text/event-stream": {}},
                             "description": "`changes` events: {id, items, others, reload}"}})
async def events(process: str, request: Request,
                 last_event_id: Annotated[str | None, Header(max_length=40)] = None,
                 after: Annotated[str | None, Query(max_length=1000,
                                                    description="an event id, or a page's position, to resume after")
                                  ] = None
                 ) -> EventSourceResponse:
    """The process's changes as the caller may see them, as they happen (Server-Sent Events).

    Each `changes` event's data is `{"id", "items", "others", "reload"}`: the items written since the
    previous event that the caller may read, as the list shows them (hidden fields absent); `others`
    when some other item changed (one the caller may not read, or no longer may); `reload` when the
    screen should read everything again (an import of many items, a new definition). Resume with the
    last event's id in `Last-Event-ID` (browsers do) or `?after=`."""
    crm = engine_for(request)
    follower = await run_in_threadpool(crm.follow, process, last_event_id or after)  # 404 / 401 before the stream
    hub: Hub = request.app.state.live
    return EventSourceResponse(_stream(request, crm, follower, hub), ping=PING_SECONDS)


async def _stream(request: Request, crm: Any, follower: Any, hub: Hub) -> AsyncIterator[dict[str, Any]]:
    seen = hub.generation
    yield {"event": "ready", "id": str(follower.settled), "data": "{}"}
    while not await request.is_disconnected():
        try:
            told = await run_in_threadpool(crm.changes, follower)
        except errors.SmartflowError as error:  # signed out, deactivated, the process removed: the stream ends
            yield {"event": "ended", "data": json.dumps({"kind": type(error).__name__, "message": str(error)},
                                                        ensure_ascii=False)}
            return
        if told is not None:
            yield {"event": "changes", "id": told["id"], "data": json.dumps(jsonable(told), ensure_ascii=False)}
        seen = await hub.wait(seen, PING_SECONDS)
