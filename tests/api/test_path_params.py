"""Integer path parameters, on every route: a value that is no integer is the caller's
mistake, answered as any other bad input is (422 naming ``path.<name>``), never a bare 404
that reads as "no such route"."""

from __future__ import annotations

import re
from typing import Any

import httpx

_PARAM = re.compile(r"{(\w+)}")


def _fill(template: str, word_for: str) -> str:
    """The template with ``abc`` for ``word_for`` and ``x`` for every other parameter."""
    return _PARAM.sub(lambda m: "abc" if m.group(1) == word_for else "x", template)


def _integer_params(operation: dict[str, Any]) -> set[str]:
    return {
        p["name"]
        for p in operation.get("parameters", [])
        if p["in"] == "path" and p["schema"].get("type") == "integer"
    }


async def test_every_integer_path_parameter_refuses_a_word_with_a_422_naming_it(
    autoplat_client: httpx.AsyncClient,
) -> None:
    spec: dict[str, Any] = (await autoplat_client.get("/openapi.json")).json()
    checked = []
    for template, item in spec["paths"].items():
        for method, operation in item.items():
            for name in sorted(_integer_params(operation)):
                path = _fill(template, name)
                body: dict[str, Any] | None = {} if "requestBody" in operation else None
                answer = await autoplat_client.request(method.upper(), path, json=body)
                assert answer.status_code == 422, (method, path, answer.text)
                fields = [d["field"] for d in answer.json()["error"]["details"]]
                assert fields == [f"path.{name}"], (method, path, fields)
                checked.append((method, template))
    # The document has integer path parameters to check (graph versions, to read and run).
    assert ("get", "/api/graphs/{graph_id}/versions/{version}") in checked
    assert ("post", "/api/graphs/{graph_id}/execute/{graph_version}") in checked


async def test_a_graph_version_out_of_range_is_refused_like_a_word(
    autoplat_client: httpx.AsyncClient,
) -> None:
    for version in ("0", "-1", str(2**40), "1.5"):
        answer = await autoplat_client.get(f"/api/graphs/g/versions/{version}")
        assert answer.status_code == 422, (version, answer.text)
        assert answer.json()["error"]["details"][0]["field"] == "path.version"
    missing = await autoplat_client.get("/api/graphs/no-such-graph/versions/1")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "graph_not_found"
