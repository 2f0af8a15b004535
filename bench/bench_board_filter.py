"""Benchmark: a filtered kanban page against the unfiltered one, on a pipeline of --items items.

The unfiltered board (`GET /processes/deal/kanban`) reads its column counts and money sums from the
totals the database keeps (O(stages) rows) and pages each column's first 20 cards by id. A filtered
board cannot use the kept totals: it counts and sums by a GROUP BY under the filter, and pages each
column's cards under it. The issue's goal is a filtered board within 2× of the unfiltered one.

Filters measured, each a board address a person would open:

- *mine*: `?mine=1` (assigned to the signed-in user, one of 20: about 5% of the items);
- *mine + enum*: `?mine=1&kind=bulk` (about 1.7%);
- *enum + range*: `?kind=bulk&due__from=2026-06-01&due__to=2026-12-31`;
- *search*: `?search=М250` (a LIKE over the title and the text fields: a scan).

Asked in-process through the ASGI application (no network), signed in as a manager who reads every
item, alternating round by round; times are medians over --rounds, each ratio the median of the
rounds' own ratios (filtered / unfiltered), lowest and highest round in brackets.

    python3 bench/bench_board_filter.py [--db URL] [--items 100000] [--rounds 9]
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.bench_board import PASSWORD, load
from bench.bench_data import database

BOARD = "/processes/deal/kanban"
FILTERS = {"mine": "mine=1", "mine + enum": "mine=1&kind=bulk",
           "enum + range": "kind=bulk&due__from=2026-06-01&due__to=2026-12-31", "search": "search=%D0%9C250"}


def timed(client: Any, path: str) -> tuple[float, str]:
    started = time.perf_counter()
    answer = client.get(path)
    elapsed = time.perf_counter() - started
    assert answer.status_code == 200, (path, answer.status_code, answer.text[:300])
    return elapsed, answer.text


def shown_counts(html: str) -> list[int]:
    return [int(n) for n in re.findall(r'class="count" data-count>(\d+)<', html)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default=None)
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=9)
    args = parser.parse_args()

    from fastapi.testclient import TestClient

    from smartflow.http.app import create_app
    from smartflow.services import Engine

    with tempfile.TemporaryDirectory() as folder, database(args.db, Path(folder)) as url:
        load(url, args.items)
        with Engine(url) as admin:
            admin.set_password("user0", PASSWORD)
            mine = admin.as_user("user0").count("deal", ["assigned_to = user0"])
        with TestClient(create_app(url)) as client:
            token = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text)
            assert token is not None
            assert client.post("/login", data={"login": "user0", "password": PASSWORD, "csrf": token.group(1)},
                               follow_redirects=False).status_code == 303
            sides = {"unfiltered": BOARD, **{name: f"{BOARD}?{query}" for name, query in FILTERS.items()}}
            counts = {}
            for name, path in sides.items():  # warm: the definition compiled, statements built
                counts[name] = sum(shown_counts(timed(client, path)[1]))
            times: dict[str, list[float]] = {name: [] for name in sides}
            for _ in range(args.rounds):
                for name, path in sides.items():
                    times[name].append(timed(client, path)[0])
        assert counts["mine"] == mine, (counts["mine"], mine)  # the board counts what the services count

    print(f"{args.items:,} items; items on each board: {counts}")
    base = times["unfiltered"]
    print(f"{'unfiltered':14} {statistics.median(base) * 1000:8.1f} ms")
    for name in FILTERS:
        ratios = [filtered / plain for filtered, plain in zip(times[name], base, strict=True)]
        print(f"{name:14} {statistics.median(times[name]) * 1000:8.1f} ms   "
              f"{statistics.median(ratios):.2f}× the unfiltered (rounds {min(ratios):.2f}–{max(ratios):.2f})")


if __name__ == "__main__":
    main()
