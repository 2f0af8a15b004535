"""Security headers on every answer (the board, the API, the docs, errors), the docs' Swagger UI
served from the package, and a sign-in through the API that another site cannot forge."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import smartflow.http
from smartflow.http.headers import CONTENT_SECURITY_POLICY
from tests.http.support import Api, api
from tests.runtime.support import module_url

__all__ = ["api", "module_url"]

STATIC = Path(smartflow.http.__file__).resolve().parent / "static"


def directives(policy: str) -> dict[str, list[str]]:
    return {name: values for name, *values in (part.split() for part in policy.split(";") if part.strip())}


def assert_secure(headers: object) -> None:
    found = dict(headers)  # type: ignore[call-overload]
    policy = directives(found["content-security-policy"])
    assert policy["script-src"] == ["'self'"] and policy["style-src"] == ["'self'"]
    assert policy["frame-ancestors"] == ["'none'"] and policy["object-src"] == ["'none'"]
    assert not any("unsafe" in value or value == "*" or value.startswith("http") for values in policy.values()
                   for value in values)
    assert found["x-frame-options"] == "DENY"
    assert found["x-content-type-options"] == "nosniff"
    assert found["referrer-policy"] == "same-origin"


@pytest.mark.db
@pytest.mark.parametrize(("path", "login", "status"), [
    ("/login", None, 200),  # the board's sign-in page
    ("/", None, 303),  # a board page without a session: the redirect
    ("/static/board.js", None, 200),
    ("/api/v1/processes", "ivanova", 200),
    ("/api/v1/processes", None, 401),  # a refusal as problem+json
    ("/api/v1/processes/nope/items", "ivanova", 404),
    ("/api/docs", None, 200),
    ("/api/openapi.json", "ivanova", 200),
    ("/api/static/swagger-ui/swagger-ui-bundle.js", None, 200),
])
def test_every_answer_carries_the_security_headers(api: Api, path: str, login: str | None, status: int) -> None:
    answer = api.call("GET", path, login, follow_redirects=False)
    assert answer.status_code == status, answer.text[:300]
    assert_secure(answer.headers)


@pytest.mark.db
def test_a_body_over_the_limit_is_refused_with_the_headers_too(api: Api) -> None:
    answer = api.call("POST", "/api/v1/processes/purchase/items", headers={"content-length": str(10**9)},
                      content=b"{}")
    assert answer.status_code == 413
    assert_secure(answer.headers)


def test_the_policy_is_what_the_headers_send() -> None:
    assert directives(CONTENT_SECURITY_POLICY)["default-src"] == ["'self'"]


@pytest.mark.db
def test_the_docs_page_loads_swagger_ui_from_the_package_with_no_inline_script(api: Api) -> None:
    page = api.call("GET", "/api/docs", None).text
    assets = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert assets and all(asset.startswith("/api/static/") for asset in assets), assets  # nothing from a CDN
    assert "<script>" not in page and not re.search(r"<script(?![^>]*\bsrc=)", page)
    assert not re.search(r"\son[a-z]+=|\sstyle=", page)
    for asset in assets:
        served = api.call("GET", asset, None)
        shipped = STATIC / asset.removeprefix("/api/static/")
        assert served.status_code == 200 and served.content == shipped.read_bytes()
    assert "Apache License" in (STATIC / "swagger-ui" / "LICENSE").read_text()[:200]


def test_the_board_templates_have_no_inline_script_handler_or_style() -> None:
    templates = Path(smartflow.http.__file__).resolve().parents[1] / "web" / "templates"
    for template in templates.glob("*.html"):
        text = template.read_text(encoding="utf-8")
        assert not re.search(r"<script(?![^>]*\bsrc=)", text), template.name
        assert not re.search(r"\son[a-z]+=", text), template.name
        assert not re.search(r"\sstyle=", text), template.name


@pytest.mark.db
@pytest.mark.parametrize(("content", "media"), [
    ('{"login": "ivanova", "password": "whatever-it-is"}', "text/plain"),  # what a cross-site form can send
    ("login=ivanova&password=whatever-it-is", "application/x-www-form-urlencoded"),
])
def test_the_api_sign_in_takes_only_json_which_another_site_cannot_post(api: Api, content: str, media: str) -> None:
    answer = api.call("POST", "/api/v1/session", None, content=content, headers={"content-type": media})
    assert answer.status_code == 422 and "set-cookie" not in answer.headers


@pytest.mark.db
def test_over_https_the_sign_in_forms_cookie_is_host_only_and_secure(api: Api) -> None:
    from fastapi.testclient import TestClient

    from smartflow.http.app import create_app

    with TestClient(create_app(engine=api.db.admin), base_url="https://testserver") as client:
        form = client.get("/login")
        cookie = form.headers["set-cookie"]
        assert cookie.startswith("__Host-smartflow_login_csrf=")
        assert all(part in cookie.lower() for part in ("; secure", "; httponly", "; samesite=strict", "; path=/"))
        assert "domain=" not in cookie.lower()
        token = re.search(r'name="csrf" value="([^"]+)"', form.text)
        assert token and token.group(1) in cookie
        refused = client.post("/login", data={"login": "ivanova", "password": "whatever-it-is"})
        assert refused.status_code == 403
        wrong = client.post("/login", data={"login": "ivanova", "password": "whatever-it-is", "csrf": token.group(1)})
        assert wrong.status_code == 401  # the token was right: the password was checked, and was wrong


@pytest.mark.db
def test_an_unexpected_error_answers_with_the_headers_too(api: Api) -> None:
    """Starlette's error middleware sends a 500 outside every middleware added to the app: the
    headers wrap it as well. (The route is the test's: no shipped route is meant to fail.)"""
    from fastapi.testclient import TestClient

    from smartflow.http.app import create_app

    app = create_app(engine=api.db.admin)

    def broken() -> None:
        raise RuntimeError("a bug")

    app.add_api_route("/api/v1/broken", broken)
    with TestClient(app, raise_server_exceptions=False) as client:
        answer = client.get("/api/v1/broken")
    assert answer.status_code == 500 and answer.json()["code"] == "internal-error"
    assert_secure(answer.headers)
