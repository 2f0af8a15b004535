"""The web board: sign-in, the processes, the kanban with drag-and-drop, the list, the item card
and the inbox, as server-rendered pages over the services layer (the same rights and rules as the
CLI and the API). `install(app)` mounts it on the HTTP application at `/`."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from smartflow.web import admin, board, importing, inbox, items, linking, listing, pages, timeline, viewfilter, views

__all__ = ["install"]


def install(app: FastAPI) -> None:
    """Mount the board on the application: its pages at `/`, its scripts and styles at `/static`."""
    app.include_router(pages.router)
    app.include_router(board.router)
    app.include_router(items.router)
    app.include_router(timeline.router)
    app.include_router(inbox.router)
    app.include_router(linking.router)
    app.include_router(listing.router)
    app.include_router(admin.router)
    app.include_router(importing.router)
    app.include_router(views.router)
    app.include_router(viewfilter.router)
    app.mount("/static", StaticFiles(directory=pages.HERE / "static"), name="static")
