"""The typed OpenAPI 3.1 document: each deployed process spelled out with its own item schema,
built for the caller (hidden fields left out), rebuilt when a new version is applied; real
responses validate against it; the interactive docs point at it."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from jsonschema import Draft202012Validator

from smartflow.deploy import apply as deploy
from smartflow.http.app import create_app
from tests.http.support import DOCUMENTS, PURCHASE, ROLES, Api, api
from tests.runtime.support import module_url, write_definitions

__all__ = ["api", "module_url"]


def document(api: Api, login: str = "ivanova") -> dict[str, Any]:
    response = api.call("GET", "/api/openapi.json", login)
    assert response.status_code == 200, response.text
    return dict(response.json())


def validator(doc: dict[str, Any], name: str) -> Draft202012Validator:
    """A validator of one component schema, its $refs resolved inside the document."""
    return Draft202012Validator({**doc["components"]["schemas"][name], "components": doc["components"]})


@pytest.mark.db
def test_each_process_has_its_own_typed_paths_and_item_schema(api: Api) -> None:
    doc = document(api)
    assert doc["openapi"].startswith("3.1")
    for process in ("client", "purchase", "claim", "lot"):
        for suffix in ("", "/items", "/items/{item_id}", "/items/{item_id}/move", "/kanban", "/export"):
            assert f"/api/v1/processes/{process}{suffix}" in doc["paths"]
    # only the routes alike in every process (comments and to-dos) stay documented once, with `{process}`
    assert not [p for p, ops in doc["paths"].items()
                if "{process}" in p and not all(op.get("x-smartflow-generic") for op in ops.values())]
    item = doc["components"]["schemas"]["PurchaseItem"]
    assert set(item["required"]) == {"id", "version", "pipeline", "stage"}
    fields = item["properties"]
    assert fields["amount"]["properties"]["currency"]["default"] == "RUB"
    assert fields["kind"]["enum"] == ["retail", "bulk", None]
    assert fields["due"]["format"] == "date" and fields["meet_at"]["format"] == "date-time"
    assert fields["client"]["x-smartflow-link"] == "client"
    assert fields["tags"]["type"] == ["array", "null"] and fields["stage"]["enum"][0] == "approved"
    create = doc["components"]["schemas"]["PurchaseItemCreate"]
    assert create["additionalProperties"] is False and "title" in create["required"]
    move = doc["paths"]["/api/v1/processes/purchase/items/{item_id}/move"]["post"]
    assert move["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("/PurchaseMove")
    assert "application/problem+json" in move["responses"]["default"]["content"]
    operation_ids = [op["operationId"] for ops in doc["paths"].values() for op in ops.values()]
    assert len(operation_ids) == len(set(operation_ids))
    assert doc["components"]["securitySchemes"]["token"]["scheme"] == "bearer"


@pytest.mark.db
def test_the_document_is_built_for_the_caller(api: Api) -> None:
    peeker = document(api, "peek")["components"]["schemas"]["PurchaseItem"]["properties"]
    assert "supplier" not in peeker and "note" not in peeker and "amount" in peeker
    assert "supplier" in document(api)["components"]["schemas"]["PurchaseItem"]["properties"]
    response = api.call("GET", "/api/openapi.json", None)
    assert response.status_code == 401


@pytest.mark.db
def test_real_responses_validate_against_the_document(api: Api) -> None:
    doc = document(api)
    created = api.create(amount="12.5", kind="retail", due="2025-01-02", meet_at="2025-01-02T10:00:00+00:00",
                         tags=["x"], urgent=True, weight="1.5", qty=3, email="a@b.ru")
    validator(doc, "PurchaseItem").validate(created)
    validator(doc, "PurchaseItemCreate").validate({"title": "t", "amount": "12.5", "kind": "retail", "qty": 3})
    listed = api.call("GET", "/api/v1/processes/purchase/items", params={"fields": "amount,kind"}).json()
    for row in listed["items"]:
        validator(doc, "PurchaseListItem").validate(row)
    problem = api.call("GET", "/api/v1/processes/purchase/items/999999").json()
    validator(doc, "Problem").validate(problem)
    assert list(validator(doc, "PurchaseItemCreate").iter_errors({"title": "t", "kind": "wholesale"}))


def test_the_document_is_rebuilt_when_a_new_version_is_applied(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'versions.db'}"
    deploy.apply(write_definitions(tmp_path / "v1", *DOCUMENTS), url)
    from smartflow import Engine

    with Engine(url) as admin:
        admin.add_user("ivanova", "Иванова", ["worker"])
        token = admin.create_token("ivanova")
        with TestClient(create_app(url)) as client:
            headers = {"Authorization": f"Bearer {token}"}
            before = client.get("/api/openapi.json", headers=headers).json()
            assert "incoterms" not in before["components"]["schemas"]["PurchaseItem"]["properties"]
            changed = copy.deepcopy(PURCHASE)
            changed["fields"]["incoterms"] = {"type": "enum", "options": [{"id": "fob", "title": "FOB"},
                                                                          {"id": "cif", "title": "CIF"}]}
            deploy.apply(write_definitions(tmp_path / "v2", ROLES, *[d for d in DOCUMENTS[1:] if d is not PURCHASE],
                                           changed), url)
            after = client.get("/api/openapi.json", headers=headers).json()
            assert after["components"]["schemas"]["PurchaseItem"]["properties"]["incoterms"]["enum"] == [
                "fob", "cif", None]
            assert after["info"]["version"] == "definition version 2" != before["info"]["version"]


@pytest.mark.db
def test_interactive_docs_point_at_the_document(api: Api) -> None:
    page = api.call("GET", "/api/docs", None)
    assert page.status_code == 200 and "swagger" in page.text.lower()
    assert '<script src="/api/static/docs.js">' in page.text
    starter = api.call("GET", "/api/static/docs.js", None)  # a file, not inline: the page runs under the CSP
    assert starter.status_code == 200 and 'url: "/api/openapi.json"' in starter.text
