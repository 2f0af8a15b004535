"""Fixtures of the board tests: a served database per module (a copy of one built per process), and one
Chromium for the session."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.dbutil import backends
from tests.web.support import Site, chromium_or_skip, served

BOARD_DATABASES = "SMARTFLOW_TEST_BOARD_DATABASES"
HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """SMARTFLOW_TEST_BOARD_DATABASES=postgresql (a comma-separated list) keeps the board's tests on those
    databases only; the others are deselected. .ci/run sets it for its second pass, with the lowest versions
    pyproject.toml allows: there the board's tests check the web stack's oldest releases (Starlette, Jinja2,
    uvicorn, Playwright…) on one database, as every database is checked under the board by the first pass
    and under the services by both."""
    wanted = os.environ.get(BOARD_DATABASES, "").strip()
    if not wanted:
        return
    keep = {name.strip() for name in wanted.split(",")}
    selected: list[pytest.Item] = []
    deselected: list[pytest.Item] = []
    for item in items:
        callspec = getattr(item, "callspec", None)
        backend = callspec.params.get("site") if callspec is not None else None
        on_board = HERE in Path(str(item.path)).resolve().parents
        (deselected if on_board and backend is not None and backend not in keep else selected).append(item)
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = selected


@pytest.fixture(scope="module", params=backends())
def site(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    yield from served(request.param, tmp_path_factory.mktemp("web"))


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    executable = chromium_or_skip()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="en-US")
    found = context.new_page()
    yield found
    context.close()


@pytest.fixture(scope="session")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the tests save their screenshots (the documentation's, docs/board/, are copied from a run's)."""
    return tmp_path_factory.mktemp("screenshots")
