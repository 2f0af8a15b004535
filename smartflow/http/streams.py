"""Exports streamed to the client without holding the file: CSV flows through a small bounded queue
from the export's thread to the response as it is written; xlsx (a zip, written whole) goes to a
temporary file that is streamed from disk (its name removed before the first byte is sent)."""

from __future__ import annotations

import io
import os
import queue
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

_DONE = object()
QUEUE_CHUNKS = 8  # chunks in flight between the export and a slow client: memory stays bounded


class Cancelled(Exception):
    """The client went away: the export stops (its read transaction rolls back)."""


class _Pipe(io.RawIOBase):
    """A write-only binary stream whose chunks go into a bounded queue."""

    def __init__(self, chunks: queue.Queue[Any], stopped: threading.Event) -> None:
        self.chunks = chunks
        self.stopped = stopped

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        chunk = bytes(data)
        while True:
            if self.stopped.is_set():
                raise Cancelled
            try:
                self.chunks.put(chunk, timeout=0.5)
                return len(chunk)
            except queue.Full:
                continue


def csv_stream(run: Callable[[io.RawIOBase], Any]) -> Iterator[bytes]:
    """Run the export (run(stream)) in a thread; the first chunk (or the export's error) is waited for
    here, so a refused export raises before any answer is sent. Iterate the result to stream."""
    chunks: queue.Queue[Any] = queue.Queue(maxsize=QUEUE_CHUNKS)
    stopped = threading.Event()

    def work() -> None:
        try:
            run(_Pipe(chunks, stopped))
        except Cancelled:
            return
        except BaseException as error:  # handed to the reader, which raises it
            _offer(chunks, stopped, error)
            return
        _offer(chunks, stopped, _DONE)

    threading.Thread(target=work, name="smartflow-export", daemon=True).start()
    first = chunks.get()
    if isinstance(first, BaseException):
        raise first

    def rest() -> Iterator[bytes]:
        try:
            if first is _DONE:
                return
            yield first
            while (chunk := chunks.get()) is not _DONE:
                if isinstance(chunk, BaseException):
                    raise chunk
                yield chunk
        finally:
            stopped.set()

    return rest()


def _offer(chunks: queue.Queue[Any], stopped: threading.Event, value: Any) -> None:
    while not stopped.is_set():
        try:
            chunks.put(value, timeout=0.5)
            return
        except queue.Full:
            continue


def temporary_file(suffix: str) -> Path:
    handle, name = tempfile.mkstemp(prefix="smartflow-export-", suffix=suffix)
    os.close(handle)
    return Path(name)


def file_chunks(path: Path, size: int = 64 * 1024) -> Iterator[bytes]:
    """The file a chunk at a time. The file is opened and its name removed at once: the open handle
    keeps the data until it is closed, so nothing is left behind even when the client goes away
    before the first chunk (a generator never started runs no `finally`)."""
    handle = path.open("rb")
    path.unlink(missing_ok=True)

    def chunks() -> Iterator[bytes]:
        with handle:
            while chunk := handle.read(size):
                yield chunk

    return chunks()
