"""The minimal endpoint bench_http.py compares `smartflow serve` with: the same stack (FastAPI under
uvicorn, SQLAlchemy on the same database) doing the same row work with raw Core statements built
once — read one row, read a page, insert a row, update a row's stage and add a history row — with
no credentials, rights, rules or definitions. Run by uvicorn: `uvicorn http_baseline:app`."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import Body, FastAPI
from fastapi.responses import JSONResponse

from smartflow.db import make_engine

engine = make_engine(os.environ["SMARTFLOW_DATABASE_URL"], connections=15)  # as `smartflow serve` keeps its own
metadata = sa.MetaData()
items = sa.Table("p_bench", metadata, autoload_with=engine)
history = sa.Table("sf_history", metadata, autoload_with=engine)
app = FastAPI()

GET = sa.select(items).where(items.c.id == sa.bindparam("item_id"))
PAGE = sa.select(items).where(items.c.stage == sa.bindparam("stage")).order_by(items.c.id).limit(50)
MOVE = (items.update().where(items.c.id == sa.bindparam("item_id"))
        .values(stage=sa.bindparam("stage"), version=items.c.version + 1, moved_at=sa.bindparam("at")))


def _json(row: Any) -> dict[str, Any]:
    return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in row._mapping.items()}


@app.get("/items/{item_id}")
def get_item(item_id: int) -> JSONResponse:
    with engine.connect() as connection:
        row = connection.execute(GET, {"item_id": item_id}).first()
    return JSONResponse(_json(row))


@app.get("/items")
def list_items(stage: str = "a") -> JSONResponse:
    with engine.connect() as connection:
        rows = connection.execute(PAGE, {"stage": stage}).all()
    return JSONResponse({"items": [_json(r) for r in rows]})


# plain `def` routes, run in the thread pool as smartflow's are (an `async def` doing blocking
# database work would stall the event loop and make this baseline slower than it is)


@app.post("/items")
def create_item(values: Annotated[dict[str, Any], Body()]) -> JSONResponse:
    now = datetime.now(UTC)
    with engine.begin() as connection:
        new_id = connection.execute(items.insert().values(title=values["title"], qty=int(values["qty"]),
                                                          pipeline="main", stage="a", created_at=now,
                                                          updated_at=now, version=1)).inserted_primary_key[0]
        connection.execute(history.insert().values(process="bench", item_id=new_id, at=now, kind="create",
                                                   new=values, via="bench"))
    return JSONResponse({"id": new_id}, status_code=201)


@app.post("/items/{item_id}/move")
def move_item(item_id: int, body: Annotated[dict[str, Any], Body()]) -> JSONResponse:
    now = datetime.now(UTC)
    with engine.begin() as connection:
        connection.execute(MOVE, {"item_id": item_id, "stage": body["stage"], "at": now})
        connection.execute(history.insert().values(process="bench", item_id=item_id, at=now, kind="move",
                                                   field="stage", old="a", new=body["stage"], via="bench"))
    return JSONResponse({"id": item_id, "stage": body["stage"]})
