"""Conditions and templates of automation evaluated under real limits, in child processes.

The sandbox's own wall-clock limit (definitions/sandbox.py) is a trace function: it runs between
Python steps, so one step done in C (squaring a huge number, doubling a long string with `~`)
runs to its end, however long it takes and however much memory it eats. Here such a text is
evaluated in a child process instead: the child runs under `resource.setrlimit(RLIMIT_AS)`, and
the parent waits for its answer at most the time limit (plus a small grace for the child's own
trace function to answer first); past it the child is killed with SIGKILL, the evaluation is
reported as stopped (`EvaluationStopped`), and a fresh child is started for the next one.

Children are started once and reused (a small pool, one per concurrently evaluating thread):
a round trip costs a pickle and two pipe writes, a fork per evaluation would cost far more (see
bench/bench_sandbox.py). The child speaks pickle only in the direction parent → child; its
answers are JSON, so a child that a template somehow took over still cannot hand the parent an
object to run.

Texts that cannot run away stay in-process (`definitions.sandbox.runs_straight`): no loops, calls,
macros, `**`, `%` or filters beyond a few linear ones, so their cost is linear in their own length
and in the item's values, which are bounded by the definition and the stored fields.
"""

from __future__ import annotations

import atexit
import json
import os
import pickle
import select
import signal
import struct
import subprocess
import sys
import threading
import time
from typing import Any

from smartflow.definitions.sandbox import MAX_OUTPUT, TIME_LIMIT, EvaluationStopped, TemplateRefused

MEMORY_LIMIT = 256 * 1024 * 1024  # bytes of address space for a child (a bare one takes about 26 MiB)
GRACE = 0.25  # seconds past the time limit before the child is killed: its own trace may answer first
START_TIMEOUT = 30.0  # seconds for a child to import and say it is ready (a loaded machine)
CACHE_SIZE = 512  # compiled texts a child keeps

_HEADER = struct.Struct("!I")

# ---- the child ------------------------------------------------------------------------------------


def _read_exactly(stream: Any, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = stream.read(size - len(data))
        if not chunk:
            raise EOFError
        data += chunk
    return data


def _send(stream: Any, payload: bytes) -> None:
    stream.write(_HEADER.pack(len(payload)) + payload)
    stream.flush()


def _answer(compiled: dict[tuple[str, str], Any], environment: Any, request: tuple[Any, ...]) -> dict[str, Any]:
    from smartflow.definitions.sandbox import render, run_limited

    kind, source, values, seconds = request
    key = (kind, source)
    try:
        if key not in compiled:
            if len(compiled) >= CACHE_SIZE:
                compiled.pop(next(iter(compiled)))
            compiled[key] = (environment.compile_expression(source, undefined_to_none=False) if kind == "condition"
                             else environment.from_string(source))
        if kind == "condition":
            return {"ok": bool(run_limited(compiled[key], seconds=seconds, **values))}
        return {"ok": render(compiled[key], values, seconds=seconds)}
    except MemoryError:
        return {"memory": True}
    except Exception as exc:
        return {"error": [type(exc).__module__, type(exc).__name__, str(exc)[:MAX_OUTPUT]]}


def serve(memory: int) -> None:
    """The child's loop: read a request from stdin, answer on stdout, until stdin closes."""
    import resource

    from smartflow.definitions.expressions import environment

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C stops the worker; the worker stops us
    env = environment()
    env.compile_expression("1")  # import what compiling needs before the limit is set
    env.from_string("{{ 1 }}").render()
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    source, sink = sys.stdin.buffer, sys.stdout.buffer
    _send(sink, b'{"ready": true}')
    compiled: dict[tuple[str, str], Any] = {}
    while True:
        try:
            (size,) = _HEADER.unpack(_read_exactly(source, _HEADER.size))
            request = pickle.loads(_read_exactly(source, size))
        except EOFError:
            return
        answer = _answer(compiled, env, request)
        _send(sink, json.dumps(answer, ensure_ascii=False).encode("utf-8"))
        if answer.get("memory"):
            return  # a fresh child is started for the next text: this one's heap may stay fragmented


# ---- the parent -----------------------------------------------------------------------------------


class _Child:
    """One child process and the pipes to it."""

    def __init__(self, memory: int) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "smartflow.automation.evaluator", str(memory)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, close_fds=True,
            env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})
        self.alive = True
        self.receive(START_TIMEOUT)

    def receive(self, seconds: float) -> dict[str, Any]:
        """The child's next answer; raises TimeoutError when it does not come in time, EOFError when it died."""
        assert self.process.stdout is not None
        deadline = time.monotonic() + seconds
        descriptor = self.process.stdout.fileno()
        waiting = select.poll()  # not select.select: that fails on descriptors past 1023
        waiting.register(descriptor, select.POLLIN)
        data = b""
        needed = _HEADER.size
        header_done = False
        while True:
            while len(data) < needed:
                left = deadline - time.monotonic()
                if left <= 0 or not waiting.poll(left * 1000):
                    raise TimeoutError
                chunk = os.read(descriptor, needed - len(data))
                if not chunk:
                    raise EOFError
                data += chunk
            if header_done:
                answer: dict[str, Any] = json.loads(data)
                return answer
            (needed,) = _HEADER.unpack(data)
            data, header_done = b"", True

    def ask(self, request: tuple[Any, ...], seconds: float) -> dict[str, Any]:
        assert self.process.stdin is not None
        _send(self.process.stdin, pickle.dumps(request, protocol=pickle.HIGHEST_PROTOCOL))
        return self.receive(seconds)

    def kill(self) -> int | None:
        """Stop the child at once; its exit status (negative: the signal)."""
        self.alive = False
        if self.process.poll() is None:
            self.process.kill()
        for stream in (self.process.stdin, self.process.stdout):
            try:
                if stream is not None:
                    stream.close()
            except OSError:
                pass
        return self.process.wait()


class Evaluator:
    """A small pool of reused child processes that evaluate conditions and templates under limits."""

    def __init__(self, size: int = 2, seconds: float = TIME_LIMIT, memory: int = MEMORY_LIMIT,
                 grace: float = GRACE) -> None:
        self.size, self.seconds, self.memory, self.grace = size, seconds, memory, grace
        self._idle: list[_Child] = []
        self._started = 0
        self._lock = threading.Condition()
        self.killed = 0  # children killed for running over (for tests and the benchmark)

    def condition(self, source: str, values: dict[str, Any]) -> bool:
        return bool(self._evaluate("condition", source, values))

    def template(self, source: str, values: dict[str, Any]) -> str:
        return str(self._evaluate("template", source, values))

    def _evaluate(self, kind: str, source: str, values: dict[str, Any]) -> Any:
        child = self._acquire()
        try:
            answer = child.ask((kind, source, values, self.seconds), self.seconds + self.grace)
            if answer.get("memory"):
                child.kill()  # it exits by itself; a fresh one serves the next text
                raise EvaluationStopped(f"the template needed more than {self.memory // 2**20} MiB of memory "
                                        "and was stopped")
        except TimeoutError:
            child.kill()
            self.killed += 1
            raise EvaluationStopped(f"the template ran longer than {self.seconds:g} s and was stopped") from None
        except (EOFError, OSError):
            status = child.kill()
            how = f"signal {-status}" if status is not None and status < 0 else f"exit status {status}"
            raise EvaluationStopped(f"the process evaluating the template died ({how}) and was replaced") from None
        finally:
            self._release(child)
        if "error" in answer:
            raise _rebuilt(*answer["error"])
        return answer["ok"]

    def _acquire(self) -> _Child:
        with self._lock:
            while True:
                while self._idle:
                    child = self._idle.pop()
                    if child.process.poll() is None:
                        return child
                    child.kill()  # died while idle (killed from outside): replace it
                    self._started -= 1
                if self._started < self.size:
                    self._started += 1
                    break
                self._lock.wait()
        try:
            return _Child(self.memory)
        except BaseException:
            with self._lock:
                self._started -= 1
                self._lock.notify()
            raise

    def _release(self, child: _Child) -> None:
        with self._lock:
            if child.alive and child.process.poll() is None:
                self._idle.append(child)
            else:
                child.kill()
                self._started -= 1
            self._lock.notify()

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
            self._started -= len(idle)
        for child in idle:
            child.kill()


def _rebuilt(module: str, name: str, message: str) -> Exception:
    """The child's exception as the same class here, when it is one we know; else a RuntimeError naming it."""
    import builtins

    import jinja2.exceptions
    import jinja2.sandbox

    known: dict[str, Any] = {"TemplateRefused": TemplateRefused, "EvaluationStopped": EvaluationStopped,
                             "SecurityError": jinja2.sandbox.SecurityError}
    if module == "builtins":
        candidate = getattr(builtins, name, None)
    elif module.startswith("jinja2"):
        candidate = getattr(jinja2.exceptions, name, None)
    else:
        candidate = known.get(name)
    if isinstance(candidate, type) and issubclass(candidate, Exception):
        try:
            return candidate(message)  # type: ignore[no-any-return]
        except TypeError:
            pass
    return RuntimeError(f"{name}: {message}")


_shared: tuple[int, Evaluator] | None = None
_shared_lock = threading.Lock()


def shared() -> Evaluator:
    """The process-wide pool, started on first use and closed at exit (a forked process gets its own)."""
    global _shared
    with _shared_lock:
        if _shared is None or _shared[0] != os.getpid():
            _shared = (os.getpid(), Evaluator())
            atexit.register(_shared[1].close)
        return _shared[1]


if __name__ == "__main__":
    serve(int(sys.argv[1]) if len(sys.argv) > 1 else MEMORY_LIMIT)
