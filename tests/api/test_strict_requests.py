"""Requests are accepted only as their published JSON Schema says (both databases).

Bodies take JSON types as they are (no lax coercion: ``0`` is no boolean, ``false`` no
number, ``"1"`` no integer; ``2.0`` is an integer, as JSON Schema says), and query text
is read as the document spells it (``true``/``false``; RFC 3339 date-times, never a
number taken for a Unix time). Every refusal is a 422 that names the field.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from autoplat.api.endpoint import ApiRoute
from autoplat.api.openapi import walk_routes
from autoplat.api.validation import JsonInteger, StrictBody
from autoplat.graphs import catalog
from autoplat.platform import Platform
from autoplat.testing import TEST_USER_ID, client_for


async def _graph(client: httpx.AsyncClient) -> dict[str, Any]:
    await client.post("/api/auth/user")
    nodes = [{"id": "a", "block_id": catalog.AGENT_INPUT, "input_default": {"name": "a"}}]
    response = await client.post("/api/graphs", json={"graph": {"name": "g", "nodes": nodes}})
    assert response.status_code == 200, response.text
    graph: dict[str, Any] = response.json()
    return graph


def _refused(response: httpx.Response, field: str) -> None:
    assert response.status_code == 422, response.text
    fields = [d["field"] for d in response.json()["error"]["details"]]
    assert field in fields, fields


@pytest.mark.parametrize("value", [0, 1, "true", "false", None])
async def test_a_boolean_body_field_refuses_anything_but_true_or_false_with_a_field_error(
    autoplat_client: httpx.AsyncClient, value: Any
) -> None:
    graph = await _graph(autoplat_client)
    body = {"graph_id": graph["id"], "graph_version": 1, "name": "p", "is_active": value}
    _refused(await autoplat_client.post("/api/library/presets", json=body), "body.is_active")
    settings = f"/api/graphs/{graph['id']}/settings"
    changed = await autoplat_client.patch(settings, json={"sensitive_action_safe_mode": 0})
    _refused(changed, "body.sensitive_action_safe_mode")
    review = {"reviews": [{"node_exec_id": "x", "approved": 0}]}
    _refused(
        await autoplat_client.post("/api/review/action", json=review), "body.reviews.0.approved"
    )


async def test_a_boolean_body_field_takes_json_booleans(
    autoplat_client: httpx.AsyncClient,
) -> None:
    graph = await _graph(autoplat_client)
    body = {"graph_id": graph["id"], "graph_version": 1, "name": "p", "is_active": False}
    created = await autoplat_client.post("/api/library/presets", json=body)
    assert created.status_code == 200, created.text
    assert created.json()["is_active"] is False
    settings = f"/api/graphs/{graph['id']}/settings"
    changed = await autoplat_client.patch(settings, json={"sensitive_action_safe_mode": True})
    assert changed.status_code == 200, changed.text
    assert changed.json()["sensitive_action_safe_mode"] is True


@pytest.mark.parametrize("value", [False, True, "3", 2.5])
async def test_an_integer_body_field_refuses_booleans_strings_and_fractions(
    autoplat_client: httpx.AsyncClient, value: Any
) -> None:
    response = await autoplat_client.post("/api/auth/user/preferences", json={"daily_limit": value})
    _refused(response, "body.daily_limit")
    graph = await _graph(autoplat_client)
    body = {"graph_id": graph["id"], "graph_version": value, "name": "p"}
    _refused(await autoplat_client.post("/api/library/presets", json=body), "body.graph_version")


async def test_an_integer_body_field_takes_an_integral_number_written_with_a_point(
    autoplat_client: httpx.AsyncClient,
) -> None:
    response = await autoplat_client.post("/api/auth/user/preferences", json={"daily_limit": 3.0})
    assert response.status_code == 200, response.text
    assert response.json()["daily_limit"] == 3
    graph = await _graph(autoplat_client)
    body = {"graph_id": graph["id"], "graph_version": 1.0, "name": "p"}
    created = await autoplat_client.post("/api/library/presets", json=body)
    assert created.status_code == 200, created.text
    assert created.json()["graph_version"] == 1


async def test_an_enum_body_field_takes_its_values_as_strings_and_refuses_others(
    autoplat_client: httpx.AsyncClient,
) -> None:
    made = await autoplat_client.post(
        "/api/api-keys", json={"name": "k", "permissions": ["IDENTITY", "READ_GRAPH"]}
    )
    assert made.status_code == 200, made.text
    assert made.json()["api_key"]["permissions"] == ["IDENTITY", "READ_GRAPH"]
    refused = await autoplat_client.post("/api/api-keys", json={"name": "k", "permissions": [1]})
    _refused(refused, "body.permissions.0")


@pytest.mark.parametrize(
    "value", ["0.5", "1700000000", "2026-01-31", "2026-01-31T00:00:00", "2026-13-01T00:00:00Z"]
)
async def test_a_date_time_query_parameter_refuses_numbers_bare_dates_and_no_offset(
    autoplat_platform: Platform, autoplat_client: httpx.AsyncClient, value: str
) -> None:
    mine = await autoplat_client.get("/api/credits/transactions", params={"until": value})
    _refused(mine, "query.until")
    async with client_for(autoplat_platform, "admin-1", role="admin") as admin:
        path = f"/api/admin/credits/{TEST_USER_ID}/transactions"
        _refused(await admin.get(path, params={"since": value}), "query.since")


async def test_a_date_time_query_parameter_takes_rfc_3339_with_any_offset(
    autoplat_client: httpx.AsyncClient,
) -> None:
    for value in ["2026-01-31T00:00:00Z", "2026-01-31t00:00:00.25+02:00", "2026-01-31T00:00:00z"]:
        response = await autoplat_client.get("/api/credits/transactions", params={"until": value})
        assert response.status_code == 200, (value, response.text)


@pytest.mark.parametrize("value", ["0", "1", "True", "yes", ""])
async def test_a_boolean_query_parameter_refuses_anything_but_true_or_false(
    autoplat_client: httpx.AsyncClient, value: str
) -> None:
    graph = await _graph(autoplat_client)
    response = await autoplat_client.get(f"/api/graphs/{graph['id']}", params={"for_export": value})
    _refused(response, "query.for_export")
    listing = await autoplat_client.get("/api/library/agents", params={"include_archived": value})
    _refused(listing, "query.include_archived")
    unread = await autoplat_client.get("/api/notifications", params={"unread_only": value})
    _refused(unread, "query.unread_only")


async def test_a_boolean_query_parameter_takes_true_and_false(
    autoplat_client: httpx.AsyncClient,
) -> None:
    graph = await _graph(autoplat_client)
    exported = await autoplat_client.get(f"/api/graphs/{graph['id']}?for_export=true")
    assert exported.status_code == 200 and exported.json()["user_id"] == ""
    plain = await autoplat_client.get(f"/api/graphs/{graph['id']}?for_export=false")
    assert plain.status_code == 200 and plain.json()["user_id"] == TEST_USER_ID
    for value in ["true", "false"]:
        listing = await autoplat_client.get(f"/api/library/agents?include_archived={value}")
        assert listing.status_code == 200, listing.text


def _stray_bounds(value: Any, where: str = "") -> list[str]:
    """Places where a schema says a bound in pydantic's words (``ge``) instead of JSON
    Schema's (``minimum``): a client reads no bound there, and the fuzzer sends 0."""
    found: list[str] = []
    if isinstance(value, dict):
        if "type" in value and {"ge", "gt", "le", "lt"} & set(value):
            found.append(where)
        for key, item in value.items():
            found += _stray_bounds(item, f"{where}/{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _stray_bounds(item, f"{where}/{index}")
    return found


async def test_the_document_states_every_integer_bound_in_json_schema_words(
    autoplat_client: httpx.AsyncClient,
) -> None:
    document = (await autoplat_client.get("/openapi.json")).json()
    assert _stray_bounds(document) == []
    preset = document["components"]["schemas"]["UpdatePreset"]["properties"]["graph_version"]
    assert preset["anyOf"][0]["minimum"] == 1


#: Core-schema types a strict body cannot take from JSON as such (it has no such values:
#: enums, dates and UUIDs come as strings, tuples and sets as arrays).
_NOT_JSON = {"enum", "datetime", "date", "time", "timedelta", "uuid", "decimal", "tuple", "set"}


def _unreadable(schema: Any, where: str) -> list[str]:
    """Where a strict body model would refuse a JSON value its schema documents: a type of
    ``_NOT_JSON`` left strict, or an integer that refuses ``2.0`` (no JsonInteger)."""
    found: list[str] = []
    if isinstance(schema, list):
        for item in schema:
            found += _unreadable(item, where)
        return found
    if not isinstance(schema, dict):
        return found
    kind = schema.get("type")  # a model's fields are a dict too: a field may be "type"
    kind = kind if isinstance(kind, str) else None
    if kind == "function-before" and schema["function"].get("function") is JsonInteger.func:
        return found  # the integer beneath reads 2.0
    if (kind in _NOT_JSON and schema.get("strict") is not False) or kind == "int":
        found.append(f"{where}: {kind}")
    for key, item in schema.items():
        if key not in {"cls", "function", "metadata", "serialization", "ref"}:
            found += _unreadable(item, where)
    return found


async def test_every_strict_request_body_reads_each_json_value_its_schema_documents(
    autoplat_platform: Platform,
) -> None:
    bodies = {
        route.spec.body
        for _, route in walk_routes(list(autoplat_platform.app.routes))
        if isinstance(route, ApiRoute) and route.spec.body is not None
    }
    strict = [body for body in bodies if issubclass(body, StrictBody)]
    assert len(strict) > 15
    found = [
        p for body in strict for p in _unreadable(body.__pydantic_core_schema__, body.__name__)
    ]
    assert found == []
