"""Property-based fuzzing of the live OpenAPI document (schemathesis): every operation of every
deployed process, with generated requests, as an administrator; no answer is a 5xx, and every
answer matches the document (status, content type, body). Bounded: a few examples an operation."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.http.support import Api, api
from tests.runtime.support import module_url

__all__ = ["api", "module_url"]
# What the answers must be. Not "schema-valid data is accepted": a valid shape may still break a
# rule the schema cannot say (a filter's grammar, a transition's condition), and 4xx is right then.
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
EXAMPLES = 8  # an operation; about 60 operations × 2 databases stay within a minute or two


@pytest.mark.db
def test_generated_requests_get_no_5xx_and_answers_match_the_document(api: Api) -> None:
    headers = api.headers("ivanova")
    for login in ("ivanova", "petrov"):
        api.create(login, title=f"seed of {login}", qty=2)
    schema = schemathesis.openapi.from_asgi("/api/openapi.json", api.client.app, headers=headers)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 40
    failures: list[str] = []
    for operation in operations:
        if operation.path == "/api/v1/session" and operation.method.upper() == "DELETE":
            continue  # logs the fuzzer's own session out: nothing to learn
        if operation.path.endswith("/events"):
            continue  # an endless event stream (the client would wait forever): tests/web/test_live.py reads it
        check = _checker(operation, headers, failures)
        check()
    assert not failures, "\n".join(failures[:10])


def _checker(operation: Any, headers: dict[str, str], failures: list[str]) -> Any:
    @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy())
    def check(case: Any) -> None:
        response = case.call(headers=headers)
        if response.status_code >= 500:
            failures.append(f"{case.method} {case.formatted_path} → {response.status_code}: {response.text[:300]}")
            return
        try:
            case.validate_response(response, checks=CHECKS, headers=headers)
        except Exception as error:  # a schemathesis failure group: report it with the request
            failures.append(f"{case.method} {case.formatted_path}: {str(error)[:500]}")

    return check
