"""Benchmark: live updates to many open boards. N Server-Sent Events clients follow a process on one
`smartflow serve` (one worker process); items are moved through the services (as the board, the API,
the CLI or automation move them) and each client notes when the move reaches it. Printed beside a raw
fan-out measured in the same run (bench/live_baseline.py: one LISTEN on PostgreSQL, each NOTIFY's
payload handed to every stream as it is), fed by the same moves and the same payloads.

    python3 bench/bench_live.py [--db URL] [--clients 200] [--rounds 20] [--burst 50]

- latency: one move at a time; how long after its commit each client has it (median, p99, max).
  Goal: the median within 1 s.
- throughput: a burst of moves back to back; item changes delivered per second to all clients
  together, until every client has every one.

Without --db it runs on a SQLite file (smartflow only: SQLite has no LISTEN/NOTIFY to compare with).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
import sqlalchemy as sa

from bench.bench_apply import drop, fresh_url
from bench.bench_http import PROCESS, free_port, start, stop
from smartflow import Engine
from smartflow.definitions.convert import to_yaml
from smartflow.deploy import apply as deploy

HERE = Path(__file__).resolve().parent
CHANNEL = "bench_live"


class Clients:
    """N open streams; for each item id, when each stream first saw it."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.ready = 0
        self.seen: dict[int, list[float]] = {}
        self.payloads: dict[int, str] = {}  # an event's data as sent for each item
        self.waiting: dict[int, asyncio.Event] = {}
        self.all_ready = asyncio.Event()

    def expect(self, item_ids: list[int]) -> list[asyncio.Event]:
        for item_id in item_ids:
            self.seen[item_id] = []
            self.waiting[item_id] = asyncio.Event()
        return [self.waiting[i] for i in item_ids]

    def got(self, data: str, at: float, stream_seen: set[int]) -> None:
        event = json.loads(data)
        for item in event.get("items", []):
            item_id = int(item["id"])
            if item_id in self.seen and item_id not in stream_seen:
                stream_seen.add(item_id)
                if item_id not in self.payloads:  # the event as it would be for this item alone
                    self.payloads[item_id] = json.dumps({**event, "items": [item]}, ensure_ascii=False)
                self.seen[item_id].append(at)
                if len(self.seen[item_id]) == self.count:
                    self.waiting[item_id].set()

    async def follow(self, http: httpx.AsyncClient, path: str) -> None:
        stream_seen: set[int] = set()
        async with http.stream("GET", path, headers={"Accept": "text/event-stream"}) as response:
            if response.status_code != 200:
                raise SystemExit(f"{path}: {response.status_code} {(await response.aread())[:300]!r}")
            event, data = "", ""
            async for line in response.aiter_lines():
                if line.startswith("event:"):
                    event = line[6:].strip()
                elif line.startswith("data:"):
                    data = line[5:].strip()
                elif not line:
                    if event == "ready":
                        self.ready += 1
                        if self.ready == self.count:
                            self.all_ready.set()
                    elif event == "changes":
                        self.got(data, time.perf_counter(), stream_seen)
                    event, data = "", ""


async def measure(base: str, path: str, headers: dict[str, str], clients: int, mover: Callable[[int], None],
                  rounds: list[int], burst: list[int]) -> tuple[list[float], float, Clients]:
    """Open the streams, move each of rounds one at a time, then burst back to back; (latencies in s,
    item changes delivered per second in the burst, the clients)."""
    watching = Clients(clients)
    limits = httpx.Limits(max_connections=clients + 10, max_keepalive_connections=clients + 10)
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=httpx.Timeout(120), limits=limits) as http:
        tasks = [asyncio.create_task(watching.follow(http, path)) for _ in range(clients)]
        try:
            await asyncio.wait_for(watching.all_ready.wait(), 120)
            latencies: list[float] = []
            for item_id in rounds:
                (arrived,) = watching.expect([item_id])
                await asyncio.to_thread(mover, item_id)
                moved = time.perf_counter()
                await asyncio.wait_for(arrived.wait(), 60)
                latencies.extend(at - moved for at in watching.seen[item_id])
                await asyncio.sleep(0.2)
            arrivals = watching.expect(burst)
            began = time.perf_counter()

            def move_all() -> None:
                for item_id in burst:
                    mover(item_id)

            await asyncio.to_thread(move_all)
            await asyncio.wait_for(asyncio.gather(*(a.wait() for a in arrivals)), 300)
            rate = clients * len(burst) / (max(max(watching.seen[i]) for i in burst) - began)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
    return latencies, rate, watching


def describe(latencies: list[float]) -> str:
    cuts = statistics.quantiles(latencies, n=100)
    return f"{cuts[49] * 1000:7.1f} {cuts[98] * 1000:7.1f} {max(latencies) * 1000:7.1f}"


def run(url: str, args: argparse.Namespace, folder: Path) -> None:
    (folder / "defs").mkdir()
    (folder / "defs" / "bench.yaml").write_text(to_yaml(PROCESS), encoding="utf-8")
    deploy.apply(deploy.load_desired([folder / "defs"]), url)
    needed = args.rounds + args.burst
    with Engine(url) as admin:
        admin.add_user("bench", "Bench", ["manager"])
        token = admin.create_token("bench")
        ids = [admin.create("bench", {"title": f"item {n}", "qty": n}) for n in range(needed)]
    rounds, burst = ids[:args.rounds], ids[args.rounds:]
    postgres = sa.engine.make_url(url).get_backend_name() == "postgresql"
    print(f"database: {sa.engine.make_url(url).get_backend_name()}; {args.clients} open streams on one server "
          f"process; {args.rounds} single moves, then a burst of {args.burst}")
    mover_engine = Engine(url, as_user="bench")

    def ours_move(item_id: int) -> None:
        mover_engine.move("bench", item_id, "b")

    port = free_port()
    server = start([sys.executable, "-m", "smartflow", "serve", "--port", str(port), "--workers", "1",
                    "--db", url], url, port)
    try:
        latencies, rate, watching = asyncio.run(measure(
            f"http://127.0.0.1:{port}", "/api/v1/processes/bench/events", {"Authorization": f"Bearer {token}"},
            args.clients, ours_move, rounds, burst))
    finally:
        stop(server)
    print(f"{'':<18} {'p50 ms':>7} {'p99 ms':>7} {'max ms':>7} {'changes/s':>10}")
    print(f"{'smartflow serve':<18} {describe(latencies)} {rate:>10.0f}")
    if not postgres:
        print("(SQLite: no raw LISTEN/NOTIFY fan-out to compare with)")
        mover_engine.close()
        return
    payloads = watching.payloads
    notifier = sa.create_engine(url)
    lock = threading.Lock()

    def raw_move(item_id: int) -> None:  # the same write, then the same payload through NOTIFY
        mover_engine.move("bench", item_id, "a")
        with lock, notifier.begin() as connection:
            connection.execute(sa.text("SELECT pg_notify(:channel, :payload)"),
                               {"channel": CHANNEL, "payload": payloads[item_id]})

    port = free_port()
    env_before = os.environ.get("LIVE_CHANNEL")
    os.environ["LIVE_CHANNEL"] = CHANNEL
    server = start([sys.executable, "-m", "uvicorn", "live_baseline:app", "--app-dir", str(HERE), "--port",
                    str(port), "--workers", "1", "--log-level", "warning"], url, port)
    try:
        raw_latencies, raw_rate, _ = asyncio.run(measure(
            f"http://127.0.0.1:{port}", "/events", {}, args.clients, raw_move, rounds, burst))
    finally:
        stop(server)
        notifier.dispose()
        mover_engine.close()
        if env_before is None:
            os.environ.pop("LIVE_CHANNEL", None)
    print(f"{'raw fan-out':<18} {describe(raw_latencies)} {raw_rate:>10.0f}")
    print(f"ratio: median latency {statistics.median(latencies) / statistics.median(raw_latencies):.2f}× the raw "
          f"fan-out's; changes delivered per second {rate / raw_rate:.2f}× the raw fan-out's")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default=None)
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--burst", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        url, cleanup = fresh_url(args.db, Path(folder), 0)
        try:
            run(url, args, Path(folder))
        finally:
            drop(cleanup)


if __name__ == "__main__":
    main()
