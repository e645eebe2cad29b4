"""Block runs of different users share no HTTP state: a cookie one user's run receives is
never sent on another user's request (nor on the same user's next one), over the API."""

from __future__ import annotations

from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from autoplat.testing import client_for, make_settings, running_platform
from tests.support.servers import serve

WEB_REQUEST = "6595ae1f-b924-42cb-9a41-551a0611c4b4"


async def set_cookie(request: Request) -> Response:
    response = JSONResponse({"set": True})
    response.set_cookie("session", "alice-secret", path="/")
    return response


async def seen(request: Request) -> JSONResponse:
    return JSONResponse({"cookie": request.headers.get("cookie")})


async def test_a_cookie_set_on_one_users_run_is_never_sent_on_another_users_request(
    autoplat_database_url: str, tmp_path: Path
) -> None:
    site = Starlette(routes=[Route("/set-cookie", set_cookie), Route("/seen", seen)])
    # The stand-in site is on loopback, so the platform must allow private addresses.
    settings = make_settings(autoplat_database_url, tmp_path, http_allow_private=True)
    async with serve(site) as url, running_platform(settings) as (platform, _):
        execute = f"/api/blocks/{WEB_REQUEST}/execute"
        async with client_for(platform, "alice") as alice, client_for(platform, "bob") as bob:
            answer = await alice.post(execute, json={"url": f"{url}/set-cookie", "method": "GET"})
            assert answer.status_code == 200, answer.text
            assert answer.json() == {"response": [{"set": True}]}

            answer = await bob.post(execute, json={"url": f"{url}/seen", "method": "GET"})
            assert answer.status_code == 200, answer.text
            assert answer.json() == {"response": [{"cookie": None}]}

            # Nothing persists, so not even alice's own next run carries it.
            answer = await alice.post(execute, json={"url": f"{url}/seen", "method": "GET"})
            assert answer.json() == {"response": [{"cookie": None}]}
        # Each user has an own client (and so an own connection pool).
        assert platform.outbound.client_for("alice") is not platform.outbound.client_for("bob")
