"""Reading a Bitrix24 portal through an inbound webhook, for `smartflow bitrix24 pull`: paced calls
with Bitrix24's back-off, lists read in batches of 50 pages, and the work folder a pull resumes from.

The work folder (`.NAME.pull/` beside the target folder NAME) keeps every answer as it is read, one
JSON file per step (a page of types, a batch of 50 pages of items, a batch of comments…), written
whole or not at all, and the downloaded files. A second run after an interruption reads the steps
it has from there and asks the portal only for the rest: it continues from the last page read.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from smartflow import errors
from smartflow.records import record

PAGE = 50
RETRIED = {"QUERY_LIMIT_EXCEEDED", "OPERATION_TIME_LIMIT", "OVERLOAD_LIMIT", "INTERNAL_SERVER_ERROR"}
# what a portal answers for a method it has not, or that the webhook's scopes or user may not call: the parts
# a pull may go without (fields' other languages, history, comments, product rows) are then noted as missing
MISSING = {"ERROR_METHOD_NOT_FOUND", "METHOD_NOT_FOUND", "insufficient_scope", "INSUFFICIENT_SCOPE", "ACCESS_DENIED"}


class PullError(errors.SmartflowError):
    """The portal refused, or answered something that is not Bitrix24's REST API."""


class MethodMissing(PullError):
    """The portal has no such method (or the webhook lacks its scope): that part is not carried."""


@record
class Client:
    """Calls to one inbound webhook, paced and retried."""

    webhook: str
    rate: float = 2.0
    retries: int = 6
    sleep: Callable[[float], None] = time.sleep
    requests: int = 0
    _last: float = 0.0

    def _pace(self) -> None:
        wait = self._last + 1 / self.rate - time.monotonic()
        if wait > 0:
            self.sleep(wait)
        self._last = time.monotonic()
        self.requests += 1

    def call(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        url = self.webhook.rstrip("/") + "/" + method
        body = json.dumps(params or {}).encode("utf-8")
        for attempt in range(self.retries + 1):
            self._pace()
            status, raw = self._send(url, body)
            try:
                answer = json.loads(raw or b"null")
            except ValueError:
                answer = None
            code = str(answer.get("error", "")) if isinstance(answer, dict) else ""
            if status == 200 and isinstance(answer, dict) and "result" in answer:
                return answer
            if (code in RETRIED or status >= 500) and attempt < self.retries:
                self.sleep(min(60.0, 2.0 ** attempt))
                continue
            description = answer.get("error_description", "") if isinstance(answer, dict) else ""
            kind = MethodMissing if code in MISSING else PullError
            raise kind(f"{method}: the portal answered {status} {code or ''} {description}".rstrip(),
                       "check the webhook URL and that its user may read the CRM (scopes crm and user)")
        raise PullError(f"{method}: the portal kept refusing", "try again later")  # pragma: no cover

    def download(self, url: str) -> tuple[bytes, str | None]:
        """A file by the URL a file field gave (its `urlMachine`), and its name from the answer's
        Content-Disposition (Bitrix24's file values carry no name): a URL of the portal's REST API is
        called through the webhook (its auth), any other as it is."""
        parts = urllib.parse.urlsplit(url)
        hook = urllib.parse.urlsplit(self.webhook)
        if "/rest/" in parts.path and parts.netloc in ("", hook.netloc):
            method = parts.path.rstrip("/").rsplit("/", 1)[-1]
            url = self.webhook.rstrip("/") + "/" + method + (f"?{parts.query}" if parts.query else "")
        elif not parts.scheme:
            url = urllib.parse.urljoin(self.webhook, url)
        for attempt in range(self.retries + 1):
            self._pace()
            status, raw, disposition = self._get(url)
            if status == 200:
                return raw, _disposition_name(disposition)
            if status >= 500 and attempt < self.retries:
                self.sleep(min(60.0, 2.0 ** attempt))
                continue
            raise PullError(f"cannot download {parts.path}: the portal answered {status}",
                            "check that the webhook's user may read the item's files")
        raise PullError(f"cannot download {url}", "try again later")  # pragma: no cover

    def _send(self, url: str, body: bytes | None) -> tuple[int, bytes]:
        return self._get(url, body)[:2]

    def _get(self, url: str, body: bytes | None = None) -> tuple[int, bytes, str]:
        request = urllib.request.Request(url, data=body, method="POST" if body is not None else "GET",
                                         headers={"Content-Type": "application/json", "User-Agent": "smartflow-pull"})
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return int(response.status), response.read(), response.headers.get("Content-Disposition", "")
        except urllib.error.HTTPError as error:
            return int(error.code), error.read(), ""
        except (OSError, ValueError) as error:
            raise PullError(f"cannot reach {urllib.parse.urlsplit(url).netloc}: {error}",
                            "check the webhook URL (https://portal/rest/USER_ID/CODE/)") from None


def _disposition_name(header: str) -> str | None:
    """The file name of a Content-Disposition header (`filename*=UTF-8''…` first, then `filename="…"`)."""
    found = re.search(r"filename\*\s*=\s*([^']*)'[^']*'([^;]+)", header or "", re.IGNORECASE)
    if found:
        return urllib.parse.unquote(found.group(2).strip(), encoding=found.group(1) or "utf-8", errors="replace")
    found = re.search(r'filename\s*=\s*"([^"]*)"|filename\s*=\s*([^;]+)', header or "", re.IGNORECASE)
    if found:
        return (found.group(1) if found.group(1) is not None else found.group(2)).strip()
    return None


def _query(params: dict[str, Any], prefix: str = "") -> list[str]:
    """PHP-style query keys (`filter[>id]=5`), as a batch command carries its parameters."""
    out: list[str] = []
    for key, value in params.items():
        name = f"{prefix}[{key}]" if prefix else str(key)
        if isinstance(value, dict):
            out += _query(value, name)
        elif isinstance(value, list):
            out += _query({str(n): v for n, v in enumerate(value)}, name)
        else:
            out.append(f"{urllib.parse.quote(name, safe='[]')}={urllib.parse.quote(str(value), safe='$[]')}")
    return out


def command(method: str, params: dict[str, Any]) -> str:
    return f"{method}?{'&'.join(_query(params))}"


def _results(answer: dict[str, Any], key: str) -> Any:
    found = answer.get(key) or {}
    return {str(n): r for n, r in enumerate(found)} if isinstance(found, list) else found


class Work:
    """The work folder of one pull: its state and every step's answer (see the module's docstring)."""

    def __init__(self, out: Path, webhook: str, types: list[str] | None) -> None:
        self.folder = out.with_name(f".{out.name}.pull")
        self.steps = self.folder / "steps"
        self.files = self.folder / "files"
        portal = urllib.parse.urlsplit(webhook)
        state = {"portal": f"{portal.scheme}://{portal.netloc}", "types": sorted(t.lower() for t in types or [])}
        state_file = self.folder / "state.json"
        self.resumed = state_file.exists()
        if self.resumed:
            try:
                before = json.loads(state_file.read_text("utf-8"))
            except ValueError:
                before = None
            if before != state:
                raise PullError(f"{self.folder} holds an interrupted pull of another portal or other --types",
                                f"run that pull again to finish it, or remove {self.folder}")
        self.steps.mkdir(parents=True, exist_ok=True)
        self.files.mkdir(exist_ok=True)
        _write(state_file, json.dumps(state).encode())
        self.read = 0  # steps read from the folder instead of the portal

    def step(self, key: str, read: Callable[[], Any]) -> Any:
        """The answer of a step: from the work folder when an earlier run read it, else read and kept."""
        path = self.steps / (hashlib.sha256(key.encode()).hexdigest()[:24] + ".json")
        if path.exists():
            self.read += 1
            return json.loads(path.read_text("utf-8"))["answer"]
        answer = read()
        _write(path, json.dumps({"key": key, "answer": answer}, ensure_ascii=False).encode("utf-8"))
        return answer

    def file(self, folder: str, url: str, client: Client, name: Callable[[str | None], str]) -> Path:
        """A file downloaded once into its own folder of the work folder (folder: relative to files/),
        named by name(the name the portal gave)."""
        where = self.files / folder
        kept = [p for p in where.iterdir() if not p.name.endswith(".part")] if where.is_dir() else []
        if kept:
            return kept[0]
        content, given = client.download(url)
        where.mkdir(parents=True, exist_ok=True)
        path = where / name(given)
        _write(path, content)
        return path


def _write(path: Path, content: bytes) -> None:
    """Whole or not at all: written beside, then renamed over."""
    partial = path.with_name(path.name + ".part")
    partial.write_bytes(content)
    os.replace(partial, path)


class Reader:
    """The portal's lists, read in batches and kept step by step in the work folder."""

    def __init__(self, client: Client, work: Work) -> None:
        self.client = client
        self.work = work

    def single(self, key: str, method: str, params: dict[str, Any]) -> Any:
        return self.work.step(key, lambda: self.client.call(method, params)["result"])

    def pages(self, key: str, method: str, params: dict[str, Any], unwrap: str | None,
              progress: Callable[[int, int], None] | None = None) -> list[Any]:
        """Every page of a list method by `start` offsets: the first page, then batches of 50 pages."""
        first = self.work.step(f"{key}:0", lambda: _page(self.client.call(method, {**params, "start": 0}), unwrap))
        found = list(first["rows"])
        total = int(first["total"] or 0)
        if progress:
            progress(len(found), total)
        start = len(found)
        while first["next"] is not None and start < total:
            starts = list(range(start, total, PAGE))[:PAGE]

            def batch(starts: list[int] = starts) -> list[list[Any]]:
                commands = {str(n): command(method, {**params, "start": s}) for n, s in enumerate(starts)}
                answer = self.client.call("batch", {"halt": 1, "cmd": commands})["result"]
                results, failed = _results(answer, "result"), _results(answer, "result_error")
                if failed:
                    raise PullError(f"{method}: {next(iter(failed.values()))}")
                return [_page({"result": results[str(n)]}, unwrap)["rows"] for n in range(len(starts))]

            for rows in self.work.step(f"{key}:{start}", batch):
                found += rows
            start = starts[-1] + PAGE
            if progress:
                progress(len(found), total)
        return found

    def by_id(self, key: str, entity_type_id: int, progress: Callable[[int], None] | None = None
              ) -> Iterator[dict[str, Any]]:
        """Every item of a smart process, in batches of 50 pages read by id (each page after the one
        before it: `order[id]=ASC`, `filter[>id]`, `start=-1`, as Bitrix24 advises for large lists)."""
        last, count = 0, 0
        base = {"entityTypeId": entity_type_id, "order": {"id": "ASC"}, "select": ["*"], "start": -1}
        while True:
            def batch(last: int = last) -> list[list[dict[str, Any]]]:
                commands = {"0": command("crm.item.list", {**base, "filter": {">id": last}})}
                for n in range(1, PAGE):
                    commands[str(n)] = command("crm.item.list", {**base, "filter": {
                        ">id": f"$result[{n - 1}][items][{PAGE - 1}][id]"}})
                answer = self.client.call("batch", {"halt": 0, "cmd": commands})["result"]
                results = _results(answer, "result")
                pages = []
                for n in range(PAGE):
                    page = results.get(str(n))
                    if not isinstance(page, dict):
                        if n == 0:
                            raise PullError(f"crm.item.list {entity_type_id}: {_results(answer, 'result_error')}")
                        break
                    pages.append(page.get("items") or [])
                    if len(pages[-1]) < PAGE:
                        break
                return pages

            pages = self.work.step(f"{key}:>{last}", batch)
            for page in pages:
                yield from page
                count += len(page)
            if progress:
                progress(count)
            if not pages or len(pages[-1]) < PAGE:
                return
            last = int(pages[-1][-1]["id"])

    def per_item(self, key: str, ids: list[int], method: str, params: Callable[[int], dict[str, Any]],
                 unwrap: str | None, progress: Callable[[int], None] | None = None) -> dict[int, list[Any]]:
        """A list method asked about each item (comments, product rows), 50 items a request; an item with
        more than a page has the rest read page by page."""
        found: dict[int, list[Any]] = {}
        for offset in range(0, len(ids), PAGE):
            chunk = ids[offset:offset + PAGE]

            def batch(chunk: list[int] = chunk) -> dict[str, Any]:
                commands = {str(i): command(method, params(i)) for i in chunk}
                answer = self.client.call("batch", {"halt": 0, "cmd": commands})["result"]
                results, failed = _results(answer, "result"), _results(answer, "result_error")
                if failed and not results:
                    error = next(iter(failed.values()))
                    code = error.get("error") if isinstance(error, dict) else ""
                    kind = MethodMissing if code in MISSING else PullError
                    raise kind(f"{method}: {error}")
                out: dict[str, Any] = {}
                totals = _results(answer, "result_total")
                for i in chunk:
                    rows = _page({"result": results.get(str(i))}, unwrap)["rows"]
                    total = int(totals.get(str(i)) or len(rows))
                    while len(rows) < total:
                        more = _page(self.client.call(method, {**params(i), "start": len(rows)}), unwrap)["rows"]
                        if not more:
                            break
                        rows += more
                    out[str(i)] = rows
                return out

            for item_id, rows in self.work.step(f"{key}:{chunk[0]}-{chunk[-1]}", batch).items():
                found[int(item_id)] = rows
            if progress:
                progress(offset + len(chunk))
        return found


def _page(answer: dict[str, Any], unwrap: str | None) -> dict[str, Any]:
    result = answer.get("result")
    rows = result.get(unwrap, []) if unwrap and isinstance(result, dict) else result
    if isinstance(rows, dict):  # PHP's json_encode of a list with keys not 0..n-1
        rows = list(rows.values())
    return {"rows": list(rows or []), "total": answer.get("total", len(rows or [])), "next": answer.get("next")}
