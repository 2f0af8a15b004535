"""Benchmark: what evaluating a template or condition under real limits costs, as a ratio to in-process.

For one typical action template and one typical condition, each way of evaluating it is timed
over the same values, in alternating rounds (the median of the rounds is reported):

- in-process: today's path before child processes, `sandbox.render` / `run_limited` (the raw figure);
- fast path: the compiled text called bare, in-process, no trace function: what a text that cannot
  loop or call (`evaluator.is_cheap`) costs now (the template here has a `replace`, so it would go
  to a child; the row shows the same text called the fast path's way);
- child pool: `evaluator.Evaluator`, one reused child process (pickle there, JSON back);
- fork each: a fork per evaluation, the child renders and writes the answer to a pipe (the
  alternative the pool is there to avoid).

    python3 bench/bench_sandbox.py [--ops 2000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from smartflow.automation.evaluator import Evaluator
from smartflow.definitions.expressions import environment
from smartflow.definitions.sandbox import render, run_limited

TEMPLATE = "moved to {{ stage|replace('_', ' ') }} (version {{ version }}) by {{ user }}"
CONDITION = "estimate >= 500000 and stage in ['supplier', 'contract'] and title|length > 3"
VALUES: dict[str, Any] = {"id": 17, "title": "Бетон М300, 40 м³", "stage": "supplier", "version": 3, "user": "anna",
                          "estimate": 750000, "now": datetime(2030, 1, 7, 10, tzinfo=UTC), "note": None}


def fork_each(source: str) -> Callable[[], str]:
    template = environment().from_string(source)

    def evaluate() -> str:
        reader, writer = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: render, answer, leave without cleanup
            try:
                os.write(writer, json.dumps(render(template, VALUES)).encode())
            finally:
                os._exit(0)
        os.close(writer)
        answer = b""
        while chunk := os.read(reader, 65536):
            answer += chunk
        os.close(reader)
        os.waitpid(pid, 0)
        return str(json.loads(answer))

    return evaluate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ops", type=int, default=2000, help="evaluations per side and round")
    parser.add_argument("--rounds", type=int, default=5)
    options = parser.parse_args()

    env = environment()
    template = env.from_string(TEMPLATE)
    condition = env.compile_expression(CONDITION, undefined_to_none=False)
    pool = Evaluator(size=1)
    forked = fork_each(TEMPLATE)
    cases: dict[str, dict[str, tuple[Callable[[], Any], int]]] = {
        "template": {
            "in-process (today)": (lambda: render(template, VALUES), options.ops),
            "fast path (in-process, no trace)": (lambda: render(template, VALUES, seconds=None), options.ops),
            "child pool": (lambda: pool.template(TEMPLATE, VALUES), options.ops),
            "fork each": (forked, max(1, options.ops // 20)),
        },
        "condition": {
            "in-process (today)": (lambda: run_limited(condition, **VALUES), options.ops),
            "fast path (in-process, no trace)": (lambda: condition(**VALUES), options.ops),
            "child pool": (lambda: pool.condition(CONDITION, VALUES), options.ops),
        },
    }
    expected = render(template, VALUES)
    assert pool.template(TEMPLATE, VALUES) == expected and forked() == expected
    assert pool.condition(CONDITION, VALUES) is bool(condition(**VALUES)) is True

    print(f"# Sandbox benchmark: evaluating under real limits\n\n`python3 bench/bench_sandbox.py --ops {options.ops} "
          f"--rounds {options.rounds}` on {datetime.now(UTC):%Y-%m-%d}: Python {platform.python_version()}, "
          f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs. Median over the rounds of the time "
          "per evaluation; the ratio is the in-process (today) time divided by the side's (1.00x = as fast).\n")
    try:
        for what, sides in cases.items():
            timings: dict[str, list[float]] = {side: [] for side in sides}
            for _ in range(options.rounds):
                for side, (evaluate, count) in sides.items():
                    started = time.perf_counter()
                    for _ in range(count):
                        evaluate()
                    timings[side].append((time.perf_counter() - started) / count)
            base = statistics.median(timings["in-process (today)"])
            print(f"## {what}: `{TEMPLATE if what == 'template' else CONDITION}`\n")
            print("| evaluated | µs each | speed as a ratio to in-process |\n| --- | ---: | ---: |")
            for side in sides:
                each = statistics.median(timings[side])
                print(f"| {side} | {each * 1e6:,.1f} | {base / each:.3f}x |")
            print()
    finally:
        pool.close()


if __name__ == "__main__":
    main()
