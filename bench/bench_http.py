"""Benchmark: `smartflow serve` under concurrent httpx clients — get item, list page, create, move —
with 1 and 2 worker processes; each figure printed beside a minimal endpoint on the same stack
(bench/http_baseline.py: FastAPI, uvicorn, the same database, raw SQLAlchemy Core doing the same
row work, no credentials or rules), measured in the same run.

    python3 bench/bench_http.py [--db URL] [--requests 400] [--concurrency 8] [--workers 1 2] [--rounds 3]

Without --db it runs on a SQLite file in a temporary folder; pass a PostgreSQL URL to measure
there (a fresh schema, dropped after). Each operation runs --rounds times on each side, the order of
the sides alternating, and the medians are printed (throughput, and p50 / p99 latency): the load
generator shares the machine's CPUs with both servers. Goals (16 clients, 2 workers, PostgreSQL): get
and list ≥ 0.7× the minimal endpoint's requests/s, move ≥ 0.6×.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
import sqlalchemy as sa

from bench.bench_apply import drop, fresh_url  # a fresh SQLite file or PostgreSQL schema, dropped after
from smartflow import Engine
from smartflow.definitions.convert import to_yaml
from smartflow.deploy import apply as deploy

HERE = Path(__file__).resolve().parent
PROCESS = {"kind": "Process", "id": "bench", "title": "Bench",
           "fields": {"qty": {"type": "integer"}, "note": {"type": "string"}},
           "pipelines": {"main": {"title": "Main", "default": True, "stages": {
               "a": {"title": "A"}, "b": {"title": "B"}, "won": {"title": "Won", "semantic": "success"},
               "lost": {"title": "Lost", "semantic": "failure"}}}},
           "permissions": {"manager": "all"}}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start(command: list[str], url: str, port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "SMARTFLOW_DATABASE_URL": url, "PYTHONPATH": str(HERE.parent)}
    server = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"the server stopped: {server.stderr.read().decode() if server.stderr else ''}")
        try:
            httpx.get(f"http://127.0.0.1:{port}/", timeout=1)
            return server
        except httpx.TransportError:
            time.sleep(0.2)
    raise SystemExit("the server did not start")


def stop(server: subprocess.Popen[bytes]) -> None:
    server.send_signal(signal.SIGTERM)
    try:
        server.wait(timeout=60)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


async def load(base: str, headers: dict[str, str], requests: list[tuple[str, str, Any]],
               concurrency: int) -> tuple[float, list[float]]:
    """Send the requests with `concurrency` clients at once; (requests/s, latencies in ms)."""
    latencies: list[float] = []
    queue: asyncio.Queue[tuple[str, str, Any]] = asyncio.Queue()
    for request in requests:
        queue.put_nowait(request)

    async def client() -> None:
        async with httpx.AsyncClient(base_url=base, headers=headers, timeout=60) as http:
            while not queue.empty():
                method, path, body = queue.get_nowait()
                began = time.perf_counter()
                response = await http.request(method, path, json=body)
                latencies.append((time.perf_counter() - began) * 1000)
                if response.status_code >= 300:
                    raise SystemExit(f"{method} {path}: {response.status_code} {response.text[:300]}")

    began = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(concurrency)))
    return len(requests) / (time.perf_counter() - began), latencies


def workload(op: str, prefix: str, ids: list[int], count: int) -> list[tuple[str, str, Any]]:
    if op == "get":
        return [("GET", f"{prefix}/{ids[n % len(ids)]}", None) for n in range(count)]
    if op == "list":
        return [("GET", f"{prefix}?stage=a" if "processes" not in prefix else f"{prefix}?stage=a&limit=50", None)
                for _ in range(count)]
    if op == "create":
        return [("POST", prefix, {"title": f"created {n}", "qty": n}) for n in range(count)]
    return [("POST", f"{prefix}/{item}/move", {"stage": "b"}) for item in ids[:count]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default=None)
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--items", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3, help="runs of each operation on each side (medians)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        url, cleanup = fresh_url(args.db, Path(folder), 0)
        try:
            run(url, args, Path(folder))
        finally:
            drop(cleanup)


def run(url: str, args: argparse.Namespace, folder: Path) -> None:
    (folder / "defs").mkdir()
    (folder / "defs" / "bench.yaml").write_text(to_yaml(PROCESS), encoding="utf-8")
    deploy.apply(deploy.load_desired([folder / "defs"]), url)
    moves_needed = args.requests * 2 * len(args.workers) * args.rounds
    with Engine(url) as admin:
        admin.add_user("bench", "Bench", ["manager"])
        token = admin.create_token("bench")
        seeded = [admin.create("bench", {"title": f"item {n}", "qty": n}) for n in range(max(args.items, moves_needed))]
    print(f"database: {sa.engine.make_url(url).get_backend_name()}; {len(seeded)} items; {args.requests} requests "
          f"an operation, {args.concurrency} concurrent clients; requests/s (p50 / p99 ms)")
    print(f"{'workers':>7} {'operation':<9} {'smartflow serve':>28} {'minimal endpoint':>28} {'ratio':>6}")
    movable = iter(range(0, len(seeded), args.requests))
    for workers in args.workers:
        port, base_port = free_port(), free_port()
        ours = start([sys.executable, "-m", "smartflow", "serve", "--port", str(port), "--workers", str(workers),
                      "--db", url], url, port)
        theirs = start([sys.executable, "-m", "uvicorn", "http_baseline:app", "--app-dir", str(HERE), "--port",
                        str(base_port), "--workers", str(workers), "--log-level", "warning"], url, base_port)
        try:
            for op in ("get", "list", "create", "move"):
                auth = {"Authorization": f"Bearer {token}"}
                sides = ((f"http://127.0.0.1:{port}", "/api/v1/processes/bench/items", auth),
                         (f"http://127.0.0.1:{base_port}", "/items", {}))
                for base, prefix, headers in sides:
                    asyncio.run(load(base, headers, workload("get", prefix, seeded, 20), 2))  # warm up
                runs: list[list[tuple[float, float, float]]] = [[], []]
                for round_number in range(args.rounds):
                    for side in ((0, 1) if round_number % 2 == 0 else (1, 0)):
                        base, prefix, headers = sides[side]
                        ids = seeded if op != "move" else seeded[next(movable):]
                        rate, latencies = asyncio.run(load(base, headers, workload(op, prefix, ids, args.requests),
                                                           args.concurrency))
                        cuts = statistics.quantiles(latencies, n=100)
                        runs[side].append((rate, cuts[49], cuts[98]))
                (ours_rate, ours_p50, ours_p99), (raw_rate, raw_p50, raw_p99) = (
                    tuple(statistics.median(run[k] for run in side_runs) for k in range(3)) for side_runs in runs)
                print(f"{workers:>7} {op:<9} {ours_rate:>9.0f} ({ours_p50:6.1f} / {ours_p99:6.1f}) "
                      f"{raw_rate:>9.0f} ({raw_p50:6.1f} / {raw_p99:6.1f}) {ours_rate / raw_rate:>5.2f}×", flush=True)
        finally:
            stop(ours)
            stop(theirs)


if __name__ == "__main__":
    main()
