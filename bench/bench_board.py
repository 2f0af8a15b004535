"""Benchmark: the web board's kanban page against the API's kanban call, on a pipeline of --items items.

The board page (`GET /processes/deal/kanban`) shows every column's count and money sums by currency
and the first 20 cards of each column (the list view's keyset query per stage, newest first);
the rest load on scroll, 20 at a time. The API's call (`GET /api/v1/processes/deal/kanban`) gives
the counts, sums and the newest cards per stage (`top`, 5 by default; also measured at 20, the
board's page size). Both are asked in-process through the ASGI application (no network), signed
in with the same browser session, alternating round by round; times are medians over --rounds,
the ratio the median of the rounds' own ratios.

It also checks what "without loading the rest" means: the page holds at most 20 cards per column
whatever the column's count, and the next page of a column answers as fast as the first. With
Chromium at /usr/bin/chromium it loads the page in a real browser and reports the time until the
board is interactive (DOMContentLoaded, the drag-and-drop set up).

    python3 bench/bench_board.py [--db URL] [--items 100000] [--rounds 9]
"""

from __future__ import annotations

import argparse
import random
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.bench_data import bulk_load, database, item_rows

PASSWORD = "bench-password-1"


def load(url: str, count: int) -> None:
    """count items straight into the table, updated over the last year (loading is not measured)."""
    rng = random.Random(11)
    now = datetime.now(UTC)

    def spread() -> Iterator[dict[str, Any]]:
        for row in item_rows(count):
            yield {**row, "updated_at": now - timedelta(minutes=rng.randrange(0, 525_600))}

    bulk_load(url, count, spread())


def timed(client: Any, path: str) -> tuple[float, Any]:
    started = time.perf_counter()
    answer = client.get(path)
    elapsed = time.perf_counter() - started
    assert answer.status_code == 200, (path, answer.status_code, answer.text[:300])
    return elapsed, answer


def browser_load(base: str, cookies: dict[str, str]) -> tuple[float, int] | None:
    if not Path("/usr/bin/chromium").exists():
        return None
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
        context = browser.new_context(viewport={"width": 1280, "height": 800})
        context.add_cookies([{"name": k, "value": v, "url": base} for k, v in cookies.items()])
        page = context.new_page()
        page.goto(base + "/processes/deal/kanban")  # warm
        started = time.perf_counter()
        page.goto(base + "/processes/deal/kanban", wait_until="domcontentloaded")
        page.wait_for_function("document.querySelector('.cards') && "
                               "document.querySelector('.cards')[Object.keys(document.querySelector('.cards'))"
                               ".find(k => k.startsWith('Sortable'))]")
        elapsed = time.perf_counter() - started
        page.wait_for_timeout(2000)  # nothing more is fetched until a column is scrolled
        cards = page.locator(".card").count()
        browser.close()
    return elapsed, cards


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
            counts = {c["stage"]: c["count"] for c in admin.kanban("deal", top=0)["columns"]}
        with TestClient(create_app(url)) as client:
            token = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text)  # the form's CSRF token
            assert token is not None
            assert client.post("/login", data={"login": "user0", "password": PASSWORD, "csrf": token.group(1)},
                               follow_redirects=False).status_code == 303
            sides = {"board page": "/processes/deal/kanban", "API kanban (top=5)": "/api/v1/processes/deal/kanban",
                     "API kanban (top=20)": "/api/v1/processes/deal/kanban?top=20"}
            for path in sides.values():
                timed(client, path)  # warm: the definition compiled, statements built
            times: dict[str, list[float]] = {name: [] for name in sides}
            for _ in range(args.rounds):
                for name, path in sides.items():
                    times[name].append(timed(client, path)[0])
            _, page = timed(client, sides["board page"])
            html = page.text
            per_column = {}
            for stage in counts:
                section = html[html.index(f'data-stage="{stage}"'):]
                section = section[:section.index("</section>")]
                per_column[stage] = len(re.findall(r'data-item-id="', section))
            after = re.search(r'data-stage="new".*?class="more" data-after="(\d+)"', html, re.S)
            assert after is not None
            more = [timed(client, f"/processes/deal/kanban/cards?stage=new&after={after.group(1)}")[0]
                    for _ in range(args.rounds)]
            cookies = dict(client.cookies)
        browser = None
        if Path("/usr/bin/chromium").exists():
            import threading

            import uvicorn

            from tests.web.support import free_port

            port = free_port()
            server = uvicorn.Server(uvicorn.Config(create_app(url), host="127.0.0.1", port=port, log_level="warning"))
            thread = threading.Thread(target=server.run, daemon=True)
            thread.start()
            while not server.started:
                time.sleep(0.05)
            try:
                browser = browser_load(f"http://127.0.0.1:{port}", cookies)
            finally:
                server.should_exit = True
                thread.join()

    ms = {name: statistics.median(values) * 1000 for name, values in times.items()}
    print(f"{args.items:,} items; per stage: {counts}")
    print(f"cards in the page per column: {per_column} (at most 20 each)")
    for name, value in ms.items():
        print(f"{name:22} {value:8.1f} ms")
    for api in ("API kanban (top=5)", "API kanban (top=20)"):
        ratios = [b / a for b, a in zip(times["board page"], times[api], strict=True)]
        print(f"board / {api}: {statistics.median(ratios):.2f}× (rounds {min(ratios):.2f}–{max(ratios):.2f})")
    print(f"next 20 cards of a column   {statistics.median(more) * 1000:8.1f} ms")
    if browser is not None:
        print(f"Chromium: page to interactive (DOMContentLoaded, drag-and-drop set up) {browser[0] * 1000:.0f} ms; "
              f"cards in the page 2 s later: {browser[1]}")


if __name__ == "__main__":
    main()
