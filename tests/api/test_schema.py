"""The OpenAPI schema: generated without warnings, valid, and listing every endpoint; the
reference page is served from local files under the Content-Security-Policy."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.contrib.staticfiles import finders
from django.test import Client
from drf_spectacular.drainage import GENERATOR_STATS
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.validation import validate_schema

from cpniguard.web.middleware import CONTENT_SECURITY_POLICY

ENDPOINTS = {
    "/api/subscribers/": {"get"},
    "/api/subscribers/{subscriber_id}/": {"get"},
    "/api/subscribers/{subscriber_id}/interactions/": {"post"},
    "/api/audit/entries/": {"get"},
    "/api/attribution/": {"post"},
    "/api/attribution/batch/": {"post"},
    "/api/policy/": {"get"},
    "/api/policy/decide/": {"post"},
    "/api/quality/network/": {"get"},
    "/api/quality/subscriber/{account}/": {"get"},
    "/api/legal/requests/": {"get", "post"},
    "/api/legal/requests/{reference}/": {"get"},
    "/api/legal/requests/{reference}/transition/": {"post"},
    "/api/legal/requests/{reference}/approve/": {"post"},
    "/api/legal/requests/{reference}/narrow/": {"post"},
    "/api/legal/requests/{reference}/withdraw/": {"post"},
    "/api/legal/requests/{reference}/produce/": {"post"},
    "/api/legal/requests/{reference}/deliver/": {"post"},
    "/api/legal/requests/{reference}/letter/": {"get"},
    "/api/legal/requests/{reference}/preserve/": {"post"},
    "/api/legal/requests/{reference}/notices/": {"get"},
    "/api/legal/disclosures/": {"get"},
    "/api/legal/transparency/": {"get"},
}


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    # What `manage.py spectacular --validate --fail-on-warn` does, without the command.
    GENERATOR_STATS.reset()
    generator = SchemaGenerator()  # type: ignore[no-untyped-call]
    generated: dict[str, Any] = generator.get_schema(  # type: ignore[no-untyped-call]
        request=None, public=True
    )
    assert not GENERATOR_STATS, "schema generation emitted warnings or errors (see stderr)"
    validate_schema(generated)  # type: ignore[no-untyped-call]
    return generated


def test_schema_lists_every_endpoint_and_method(schema: dict[str, Any]) -> None:
    paths = schema["paths"]
    assert set(paths) == set(ENDPOINTS)
    for path, methods in ENDPOINTS.items():
        assert set(paths[path]) == methods, path


def test_every_operation_needs_the_bearer_token(schema: dict[str, Any]) -> None:
    scheme = schema["components"]["securitySchemes"]["staffToken"]
    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            assert operation["security"] == [{"staffToken": []}], (method, path)
            assert "401" in operation["responses"], (method, path)


def test_data_endpoints_require_a_purpose_and_document_refusal(schema: dict[str, Any]) -> None:
    for path in ("/api/subscribers/", "/api/subscribers/{subscriber_id}/",
                 "/api/audit/entries/"):
        operation = schema["paths"][path]["get"]
        purpose = next(p for p in operation["parameters"] if p["name"] == "purpose")
        assert purpose["required"] is True
        assert purpose["in"] == "query"
        assert "403" in operation["responses"]
        assert "400" in operation["responses"]
    body = schema["paths"]["/api/subscribers/{subscriber_id}/interactions/"]["post"]
    assert "201" in body["responses"]
    request = schema["components"]["schemas"]["NewInteraction"]
    assert {"purpose", "channel", "summary"} <= set(request["required"])


def test_masked_categories_are_nullable_in_the_record_shape(schema: dict[str, Any]) -> None:
    record = schema["components"]["schemas"]["SubscriberRecord"]["properties"]
    for category in ("name", "billing_info", "phone", "interactions"):
        assert record[category]["nullable"] is True, category


def test_schema_is_served_without_a_token(db: None) -> None:
    response = Client().get("/api/schema/")
    assert response.status_code == 200
    assert b"/api/audit/entries/" in response.content


def test_reference_page_loads_only_local_files(db: None) -> None:
    client = Client()
    page = client.get("/api/docs/")
    assert page.status_code == 200
    html = page.content.decode()
    assert page["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    # Nothing inline for the CSP to refuse, nothing from another origin.
    assert "<style" not in html
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html)
    assert "//" not in "".join(re.findall(r'(?:src|href)="([^"]*)"', html))
    static = re.findall(r'(?:src|href)="/static/([^"?]+)"', html)
    assert {"drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js",
            "api/swagger_ui.css"} <= set(static)
    for name in static:
        assert finders.find(name), name
    script = re.search(r'<script src="(/api/docs/\?[^"]*)"', html)
    assert script is not None
    init = client.get(script.group(1).replace("&amp;", "&"))
    assert init.status_code == 200
    assert init["Content-Type"].startswith("application/javascript")
    assert b"/api/schema/" in init.content


def test_unknown_api_urls_answer_in_json(db: None) -> None:
    response = Client().get("/api/subscriber/1/")
    assert response.status_code == 404
    assert response.json()["detail"].startswith("no such API endpoint")
