"""Two users, and API keys with missing permissions, walked over every route of the spec.

User A creates one of everything through the public API (graph, execution, schedule, API
key, credit transaction, notification). User B then calls every route that takes an id
with A's ids and must get the same 404 as for an id that does not exist; B's lists must
not mention A's ids; admin routes answer 403 to non-admins. Then, for every permission,
a key of A that lacks it gets 403 on every route that needs it.

New routes are covered automatically; a new kind of path parameter makes the test fail
until A's resource for it is added to ``_resources`` (or it is declared global).
"""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

import httpx

from autoplat.accounts.permissions import all_permissions
from autoplat.graphs import catalog
from autoplat.platform import Platform
from autoplat.testing import client_for
from tests.support.graphs import wait_for_run

OWNER, INTRUDER, ADMIN = "owner-a", "intruder-b", "admin-c"
#: Path parameters that name shared things (not owned by any user).
#: (``token`` opens a shared run to anyone holding it: a capability, by design.)
GLOBAL_PARAMS = {"block_id", "provider", "token"}
#: Valid bodies for routes whose minimal generated body would not pass validation.
BODIES: dict[tuple[str, str], Any] = {
    ("post", "/api/graphs/{graph_id}/execute/{graph_version}"): {"inputs": {"x": 1}},
    ("post", "/api/graphs/{graph_id}/schedules"): {
        "name": "nightly",
        "cron": "0 3 * * *",
        "inputs": {"x": 1},
    },
    ("put", "/api/graphs/{graph_id}/versions/active"): {"active_graph_version": 1},
    # A change B must not make to A's graph (A's safe mode stays off).
    ("patch", "/api/graphs/{graph_id}/settings"): {"sensitive_action_safe_mode": True},
}
Operation = tuple[str, str, dict[str, Any]]


def _graph_body() -> dict[str, Any]:
    nodes = [
        {"id": "in", "block_id": catalog.AGENT_INPUT, "input_default": {"name": "x"}},
        {"id": "out", "block_id": catalog.AGENT_OUTPUT, "input_default": {"name": "y"}},
    ]
    links = [{"source_id": "in", "sink_id": "out", "source_name": "result", "sink_name": "value"}]
    return {"graph": {"name": "private", "nodes": nodes, "links": links}}


def _trigger_graph_body() -> dict[str, Any]:
    trigger = "8fa8c167-2002-47ce-aba8-97572fc5d387"  # GenericWebhookTriggerBlock
    nodes = [
        {"id": "hook", "block_id": trigger, "input_default": {}},
        {"id": "out", "block_id": catalog.AGENT_OUTPUT, "input_default": {"name": "y"}},
    ]
    links = [
        {"source_id": "hook", "sink_id": "out", "source_name": "payload", "sink_name": "value"}
    ]
    return {"graph": {"name": "hooked", "nodes": nodes, "links": links}}


async def _ok(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code in (200, 201), response.text
    body: dict[str, Any] = response.json()
    return body


async def _resources(platform: Platform) -> dict[str, str]:
    """Create one of everything as OWNER; return path-parameter name -> OWNER's value."""
    async with client_for(platform, OWNER) as owner:
        await _ok(await owner.post("/api/auth/user"))
    async with client_for(platform, ADMIN, role="admin") as admin:
        grant = await _ok(
            await admin.post("/api/admin/credits/grant", json={"user_id": OWNER, "amount": 1000})
        )
    async with client_for(platform, OWNER) as owner:
        graph = await _ok(await owner.post("/api/graphs", json=_graph_body()))
        run = await _ok(
            await owner.post(
                f"/api/graphs/{graph['id']}/execute/{graph['version']}", json={"inputs": {"x": 1}}
            )
        )
        schedule = await _ok(
            await owner.post(
                f"/api/graphs/{graph['id']}/schedules",
                json={"name": "s", "cron": "0 3 * * *", "inputs": {"x": 1}},
            )
        )
        key = await _ok(
            await owner.post("/api/api-keys", json={"name": "k", "permissions": ["IDENTITY"]})
        )
        library = await _ok(await owner.get("/api/library/agents"))
        credentials = await _ok(
            await owner.post(
                "/api/integrations/openai/credentials",
                json={"type": "api_key", "api_key": "sk-owner-only", "title": "owner's"},
            )
        )
        upload = await _ok(
            await owner.post(
                "/api/files/upload", files={"file": ("owner.txt", b"owner only", "text/plain")}
            )
        )
    async with client_for(platform, OWNER) as owner:
        preset = await _ok(
            await owner.post(
                "/api/library/presets",
                json={"graph_id": graph["id"], "graph_version": graph["version"], "name": "p"},
            )
        )
        await wait_for_run(platform.db, run["id"])
        share = await _ok(
            await owner.post(f"/api/graphs/{graph['id']}/executions/{run['id']}/share")
        )
        hooked = await _ok(await owner.post("/api/graphs", json=_trigger_graph_body()))
        trigger = await _ok(
            await owner.post(
                "/api/library/presets/setup-trigger",
                json={"name": "t", "graph_id": hooked["id"], "graph_version": hooked["version"]},
            )
        )
    notification = await platform.db.notifications.add(OWNER, "LOW_BALANCE", {"balance": 1})
    return {
        "graph_id": graph["id"],
        "graph_version": str(graph["version"]),
        "version": str(graph["version"]),
        "exec_id": run["id"],
        "graph_exec_id": run["id"],
        "schedule_id": schedule["id"],
        "key_id": key["api_key"]["id"],
        "notification_id": notification["id"],
        "library_agent_id": library["items"][0]["id"],
        "transaction_id": grant["transaction"]["id"],
        "user_id": OWNER,
        "name": "retention",
        "provider": "openai",
        "cred_id": credentials["id"],
        "preset_id": preset["id"],
        "token": share["share_token"],
        "webhook_id": trigger["webhook"]["id"],
        "file_id": upload["file_uri"].rsplit("/", 1)[-1],
    }


async def _openapi(platform: Platform) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=platform.url) as http:
        spec: dict[str, Any] = (await http.get("/openapi.json")).json()
    return spec


def _operations(spec: dict[str, Any]) -> list[Operation]:
    ops = []
    for path, item in spec["paths"].items():
        for method, op in item.items():
            if method in {"get", "post", "put", "patch", "delete"} and path.startswith("/api/"):
                ops.append((method, path, op))
    # Destructive calls last, so that a broken guard cannot hide later checks.
    return sorted(ops, key=lambda o: (o[0] == "delete", o[1], o[0]))


def _params(path: str) -> list[str]:
    return re.findall(r"{([^}]+)}", path)


def _fill(path: str, values: dict[str, str]) -> str:
    return re.sub(r"{([^}]+)}", lambda m: values[m.group(1)], path)


def _minimal(schema: dict[str, Any], components: dict[str, Any], depth: int = 0) -> Any:
    """The smallest value that satisfies a JSON schema (for request bodies)."""
    if "$ref" in schema:
        return _minimal(components[schema["$ref"].rsplit("/", 1)[-1]], components, depth)
    if "anyOf" in schema:
        options = [s for s in schema["anyOf"] if s.get("type") != "null"]
        return _minimal(options[0], components, depth) if options else None
    if "enum" in schema:
        return schema["enum"][0]
    if "const" in schema:
        return schema["const"]
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        props = schema.get("properties", {})
        return {
            name: _minimal(props[name], components, depth + 1)
            for name in schema.get("required", [])
        }
    if kind == "array":
        count = schema.get("minItems", 0)
        return [_minimal(schema.get("items", {}), components, depth + 1) for _ in range(count)]
    if kind == "integer":
        return max(1, schema.get("minimum", 1))
    if kind == "number":
        return max(1.0, schema.get("minimum", 1.0))
    if kind == "boolean":
        return False
    if kind == "string":
        return "x" * max(1, schema.get("minLength", 1))
    return {}


def _body(method: str, path: str, op: dict[str, Any], spec: dict[str, Any]) -> Any:
    if (method, path) in BODIES:
        return BODIES[(method, path)]
    content = op.get("requestBody", {}).get("content", {})
    if "application/json" not in content:  # none, or an upload (multipart)
        return None
    schema = content["application/json"]["schema"]
    return _minimal(schema, spec["components"]["schemas"])


async def _call(client: httpx.AsyncClient, method: str, url: str, body: Any) -> httpx.Response:
    if body is None:
        return await client.request(method.upper(), url)
    return await client.request(method.upper(), url, json=body)


async def test_a_user_never_sees_or_touches_another_users_resources(
    autoplat_platform: Platform,
) -> None:
    owned = await _resources(autoplat_platform)
    bogus = {name: "00000000-0000-4000-8000-000000000000" for name in owned}
    bogus.update(graph_version="1", version="1", provider=owned["provider"])
    spec = await _openapi(autoplat_platform)
    checked: list[str] = []
    leaks: list[str] = []
    async with client_for(autoplat_platform, INTRUDER) as intruder:
        await intruder.post("/api/auth/user")
        for method, path, op in _operations(spec):
            names = _params(path)
            body = _body(method, path, op, spec)
            label = f"{method.upper()} {path}"
            if op.get("x-admin"):
                url = _fill(path, owned)
                response = await _call(intruder, method, url, body)
                assert response.status_code == 403, f"{label}: {response.text}"
                continue
            if not names:
                if method == "get":
                    response = await intruder.get(path)
                    assert response.status_code < 500, label
                    text = response.text
                    for name, value in owned.items():
                        if len(value) >= 16:  # ids, not small values such as versions
                            assert value not in text, f"{label} shows the owner's {name}"
                continue
            unknown = set(names) - set(owned) - GLOBAL_PARAMS
            assert not unknown, f"{label}: add the owner's {unknown} to _resources()"
            if set(names) <= GLOBAL_PARAMS:
                # Shared things only (a block, a provider): lists must still not leak.
                if method == "get" and "block_id" not in names:
                    response = await intruder.get(_fill(path, owned))
                    assert response.status_code < 500, label
                    assert owned["cred_id"] not in response.text, f"{label} shows the owner's"
                continue
            foreign = await _call(intruder, method, _fill(path, owned), body)
            missing = await _call(intruder, method, _fill(path, bogus), body)
            checked.append(label)
            if foreign.status_code != 404 or missing.status_code != 404:
                leaks.append(f"{label}: {foreign.status_code} {foreign.text[:200]}")
                continue
            # Same answer as for an id that does not exist: existence is not revealed.
            assert foreign.json()["error"]["code"] == missing.json()["error"]["code"], label
    assert not leaks, "foreign ids must answer 404:\n" + "\n".join(leaks)
    assert len(checked) >= 15, checked

    # Nothing of the owner's changed.
    async with client_for(autoplat_platform, OWNER) as owner:
        graph = await owner.get(f"/api/graphs/{owned['graph_id']}")
        assert graph.status_code == 200
        key = (await owner.get(f"/api/api-keys/{owned['key_id']}")).json()
        assert key["status"] == "ACTIVE" and key["permissions"] == ["IDENTITY"]
        schedule = await owner.get(f"/api/schedules/{owned['schedule_id']}")
        assert schedule.status_code == 200, schedule.text
        run = await owner.get(f"/api/graphs/{owned['graph_id']}/executions/{owned['exec_id']}")
        assert run.status_code == 200
        cred = await owner.get(f"/api/integrations/openai/credentials/{owned['cred_id']}")
        assert cred.status_code == 200 and cred.json()["title"] == "owner's"
        mine = await owner.get(f"/api/files/{owned['file_id']}/download")
        assert mine.status_code == 200 and mine.content == b"owner only"
        notes = (await owner.get("/api/notifications", params={"type": "LOW_BALANCE"})).json()
        assert [n["id"] for n in notes["items"]] == [owned["notification_id"]]
        assert notes["items"][0]["read_at"] is None


async def _key(client: httpx.AsyncClient, permissions: list[str]) -> str:
    created = await _ok(
        await client.post("/api/api-keys", json={"name": "p", "permissions": permissions})
    )
    secret: str = created["plain_text_key"]
    return secret


async def test_keys_without_a_permission_get_403_on_routes_that_need_it(
    autoplat_platform: Platform,
) -> None:
    owned = await _resources(autoplat_platform)
    spec = await _openapi(autoplat_platform)
    ops = [op for op in _operations(spec) if not op[2].get("x-admin")]
    needed = {op["x-permission"] for _, _, op in ops if op.get("x-permission")}
    assert {"EXECUTE_GRAPH", "READ_GRAPH", "WRITE_GRAPH", "READ_BLOCK"} <= needed
    owned["block_id"] = next(iter(autoplat_platform.blocks)).id
    async with client_for(autoplat_platform, OWNER) as owner:
        secrets = await asyncio.gather(
            *(_key(owner, sorted(all_permissions() - {p})) for p in sorted(needed))
        )
    denied = 0
    for permission, secret in zip(sorted(needed), secrets, strict=True):
        async with httpx.AsyncClient(
            base_url=autoplat_platform.url, headers={"X-API-Key": secret}
        ) as keyed:
            for method, path, op in ops:
                if op.get("x-permission") != permission:
                    continue
                url = _fill(path, owned)
                response = await _call(keyed, method, url, _body(method, path, op, spec))
                label = f"{method.upper()} {path} without {permission}"
                assert response.status_code == 403, f"{label}: {response.text}"
                error = response.json()["error"]
                assert error["code"] == "permission_denied" and permission in error["message"]
                denied += 1
    assert denied >= 20

    # And a key holding the permission is let through (whatever the route then answers).
    async with client_for(autoplat_platform, OWNER) as owner:
        everything = await _key(owner, sorted(all_permissions()))
    async with httpx.AsyncClient(
        base_url=autoplat_platform.url, headers={"X-API-Key": everything}
    ) as keyed:
        for method, path, _ in ops:
            if method != "get" or _params(path):
                continue
            response = await keyed.get(path)
            assert response.status_code not in (401, 403), f"GET {path}: {response.text}"
            json.loads(response.text)
