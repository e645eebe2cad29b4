"""/openapi.json covers every route from the models the routes validate with; /docs is local."""

from __future__ import annotations

import re
from typing import Any

import httpx
from starlette.routing import Route

from autoplat.api.endpoint import ApiRoute
from autoplat.api.openapi import openapi_path, walk_routes
from autoplat.platform import Platform

METHODS = {"get", "post", "put", "patch", "delete"}


async def _spec(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.get("/openapi.json")
    assert response.status_code == 200
    spec: dict[str, Any] = response.json()
    return spec


async def test_the_document_is_openapi_3_1(autoplat_client: httpx.AsyncClient) -> None:
    spec = await _spec(autoplat_client)
    assert spec["openapi"] == "3.1.0"
    assert spec["info"]["title"] == "autoplat" and spec["info"]["version"]
    schemes = spec["components"]["securitySchemes"]
    assert schemes["bearer"]["scheme"] == "bearer"
    assert schemes["apiKey"] == {"type": "apiKey", "in": "header", "name": "X-API-Key"}
    operation_ids = [op["operationId"] for item in spec["paths"].values() for m, op in item.items()]
    assert len(operation_ids) == len(set(operation_ids)), "operationIds must be unique"


async def test_every_route_is_declared_and_documented(
    autoplat_platform: Platform, autoplat_client: httpx.AsyncClient
) -> None:
    spec = await _spec(autoplat_client)
    routes = list(walk_routes(list(autoplat_platform.app.routes)))
    assert routes
    for path, route in routes:
        assert isinstance(route, Route)
        if path.startswith("/api/"):
            # Declared with @endpoint, so the spec comes from the models the route validates.
            assert isinstance(route, ApiRoute), f"{path} is not declared with @endpoint"
        item = spec["paths"][openapi_path(path)]
        for method in (route.methods or {"GET"}) - {"HEAD"}:
            assert method.lower() in item, (method, path)
    documented = {(p, m) for p, item in spec["paths"].items() for m in item if m in METHODS}
    assert len(documented) == sum(len((r.methods or {"GET"}) - {"HEAD"}) for _, r in routes)


async def test_operations_use_the_route_models(autoplat_client: httpx.AsyncClient) -> None:
    spec = await _spec(autoplat_client)
    schemas = spec["components"]["schemas"]
    create = spec["paths"]["/api/api-keys"]["post"]
    body_ref = create["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    body = schemas[body_ref.rsplit("/", 1)[-1]]
    assert body["additionalProperties"] is False
    assert set(body["required"]) == {"name", "permissions"}
    assert "MANAGE_API_KEYS" in create["description"]
    assert create["security"] == [{"bearer": []}, {"apiKey": []}]
    assert {"200", "400", "401", "403", "413", "415", "422"} <= set(create["responses"])
    error_ref = create["responses"]["401"]["content"]["application/json"]["schema"]["$ref"]
    assert schemas[error_ref.rsplit("/", 1)[-1]]["required"] == ["error"]

    listing = spec["paths"]["/api/api-keys"]["get"]
    names = {p["name"]: p for p in listing["parameters"]}
    assert names["page"]["in"] == "query" and names["page"]["schema"]["minimum"] == 1
    assert names["page_size"]["schema"]["maximum"] == 250
    page_ref = listing["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    assert set(schemas[page_ref.rsplit("/", 1)[-1]]["properties"]) == {"items", "pagination"}

    one = spec["paths"]["/api/api-keys/{key_id}"]["get"]
    assert one["parameters"][0]["in"] == "path" and "404" in one["responses"]
    assert spec["paths"]["/health"]["get"]["responses"]["200"]


async def test_every_list_route_is_paginated(autoplat_client: httpx.AsyncClient) -> None:
    spec = await _spec(autoplat_client)
    schemas = spec["components"]["schemas"]
    for path, item in spec["paths"].items():
        get = item.get("get")
        if not get or not path.startswith("/api/"):
            continue
        content = get["responses"].get("200", {}).get("content", {}).get("application/json")
        if not content:
            continue
        ref = content["schema"].get("$ref", "")
        schema = schemas.get(ref.rsplit("/", 1)[-1], content["schema"])
        if schema.get("type") == "array":
            raise AssertionError(f"GET {path} returns a bare list: use paginated=True")
        if "items" in schema.get("properties", {}):
            params = {p["name"] for p in get.get("parameters", [])}
            assert {"page", "page_size"} <= params, path


async def test_docs_page_is_served_from_the_package(autoplat_client: httpx.AsyncClient) -> None:
    page = await autoplat_client.get("/docs")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assets = re.findall(r'(?:src|href)="(/docs/static/[^"]+)"', page.text)
    assert sorted(assets) == ["/docs/static/docs.css", "/docs/static/docs.js"]
    texts = [page.text]
    for asset in assets:
        response = await autoplat_client.get(asset)
        assert response.status_code == 200 and response.text
        texts.append(response.text)
    # No CDN: nothing is fetched from another origin.
    for text in texts:
        assert "://" not in text
    assert "/openapi.json" in texts[2]
    assert (await autoplat_client.get("/docs/static/../../etc/passwd")).status_code == 404
    assert (await autoplat_client.get("/docs/static/nothing.js")).status_code == 404


async def test_a_concrete_path_wins_and_405_names_exactly_its_methods(
    autoplat_client: httpx.AsyncClient,
) -> None:
    spec = await _spec(autoplat_client)
    assert set(spec["paths"]["/api/admin/credits/grant"]) == {"post"}
    # Not GET /admin/credits/{user_id} with user_id="grant": the document has no such GET.
    for method in ("GET", "OPTIONS", "DELETE"):
        response = await autoplat_client.request(method, "/api/admin/credits/grant")
        assert response.status_code == 405, method
        assert response.headers["allow"] == "POST"
        assert response.json()["error"]["code"] == "method_not_allowed"
    # The templated path keeps its own methods for every other value.
    other = await autoplat_client.options("/api/admin/credits/someone")
    assert other.status_code == 405 and other.headers["allow"] == "GET, HEAD"


async def test_request_schemas_say_what_the_routes_refuse(
    autoplat_client: httpx.AsyncClient,
) -> None:
    spec = await _spec(autoplat_client)
    schemas = spec["components"]["schemas"]
    execute = spec["paths"]["/api/graphs/{graph_id}/execute/{graph_version}"]["post"]
    version = next(p for p in execute["parameters"] if p["name"] == "graph_version")
    assert version["schema"]["type"] == "integer" and version["schema"]["minimum"] == 1
    # Too small a version is refused as the document says, with a 422 naming it.
    response = await autoplat_client.post("/api/graphs/g/execute/0", json={})
    assert response.status_code == 422
    assert response.json()["error"]["details"][0]["field"] == "path.graph_version"
    # A graph, when given, is an object: never null.
    graph = schemas["GraphDocument"]["properties"]["graph"]
    assert graph["type"] == "object" and "anyOf" not in graph
    response = await autoplat_client.post("/api/graphs", json={"graph": None})
    assert response.status_code == 422
    # NUL is refused everywhere, so no request string or key may hold one.
    assert schemas["JsonValue"]["anyOf"][3]["pattern"] == "^[^\\u0000]*$"
    assert execute["parameters"][0]["schema"]["pattern"] == "^[^/\\u0000]+$"
    # A route reading a body declares it.
    block = spec["paths"]["/api/blocks/{block_id}/execute"]["post"]
    assert block["requestBody"]["required"] is True
    # What no schema can say is said by the document, with its status.
    create = spec["paths"]["/api/graphs"]["post"]
    assert create["x-validates-beyond-schema"]["status"] == 422
    assert "also when" in create["responses"]["422"]["description"]
    upload = spec["paths"]["/api/files/upload"]["post"]["requestBody"]["content"]
    assert upload["multipart/form-data"]["schema"]["required"] == ["file"]


async def test_resources_link_create_to_read_update_and_delete(
    autoplat_client: httpx.AsyncClient,
) -> None:
    spec = await _spec(autoplat_client)
    ops = {
        op["operationId"]: (path, op)
        for path, item in spec["paths"].items()
        for op in item.values()
        if isinstance(op, dict) and "operationId" in op
    }

    def links(operation_id: str) -> dict[str, Any]:
        _, op = ops[operation_id]
        found: dict[str, Any] = {}
        for status, response in op["responses"].items():
            if status.startswith("2"):
                found.update(response.get("links", {}))
        return found

    expected = {
        "create_graph": {"get_graph", "update_graph", "delete_graph", "get_version"},
        "update_graph": {"get_version", "execute_graph", "create_schedule"},
        "execute_graph": {"get_execution", "stop_execution", "delete_execution"},
        "create_schedule": {"get_schedule", "pause_schedule", "delete_schedule"},
        "create_preset": {"get_preset", "update_preset", "delete_preset", "schedule_preset"},
        "create_api_key": {"get_api_key", "update_api_key_permissions", "suspend_api_key"},
        "create_credentials": {"get_credentials", "delete_credentials"},
    }
    for producer, targets in expected.items():
        assert targets <= set(links(producer)), producer
    # Revoking keeps the key (AutoGPT lists it as REVOKED): no chain goes through it.
    revoke = spec["paths"]["/api/api-keys/{key_id}"]["delete"]
    assert "x-keeps-resource" in revoke
    assert not any(
        link["operationId"] == "revoke_api_key"
        for producer in ops
        for link in links(producer).values()
    )
    # Every link fills exactly its target's path parameters, from the answer or the request.
    for producer, (path, _) in ops.items():
        for name, link in links(producer).items():
            target_path, _ = ops[link["operationId"]]
            wanted = {f"path.{p}" for p in re.findall(r"{(\w+)}", target_path)}
            assert set(link["parameters"]) == wanted, (producer, name)
            for value in link["parameters"].values():
                source = value.removeprefix("$request.path.")
                assert value.startswith("$response.body#/") or f"{{{source}}}" in path


async def test_an_api_key_link_leads_to_the_key_just_made(
    autoplat_client: httpx.AsyncClient,
) -> None:
    spec = await _spec(autoplat_client)
    link = spec["paths"]["/api/api-keys"]["post"]["responses"]["200"]["links"]["get_api_key"]
    made = await autoplat_client.post(
        "/api/api-keys", json={"name": "linked", "permissions": ["IDENTITY"]}
    )
    assert made.status_code == 200, made.text
    value: Any = made.json()
    pointer = link["parameters"]["path.key_id"].removeprefix("$response.body#/")
    for part in pointer.split("/"):
        value = value[part]
    got = await autoplat_client.get(f"/api/api-keys/{value}")
    assert got.status_code == 200 and got.json()["name"] == "linked"
