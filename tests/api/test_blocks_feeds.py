"""GetWikipediaSummary and ReadRSSFeed against local stand-ins of Wikipedia and a feed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from autoplat.testing import make_settings, running_platform
from tests.support.servers import serve

WIKIPEDIA = "f5b0f5d0-1862-4d61-94be-3ad0fa772760"
RSS = "5ebe6768-8e5d-41e3-9134-1c7bd89a8d52"


async def test_wikipedia_summary_from_the_configured_base_url(
    autoplat_database_url: str, tmp_path: Path
) -> None:
    seen: list[dict[str, Any]] = []

    async def summary(request: Request) -> Response:
        seen.append(
            {"path": request.scope["raw_path"].decode(), "ua": request.headers.get("user-agent")}
        )
        if request.path_params["title"] == "Nothing here":
            return JSONResponse({"title": "Not found."}, status_code=404)
        return JSONResponse({"title": "AI", "extract": "AI is intelligence of machines."})

    app = Starlette(routes=[Route("/api/rest_v1/page/summary/{title:path}", summary)])
    async with serve(app) as url:
        # The operator's base URL is trusted (loopback here) without opening private access.
        settings = make_settings(autoplat_database_url, tmp_path, wikipedia_base_url=url)
        async with running_platform(settings) as (_, client):
            ok = await client.post(
                f"/api/blocks/{WIKIPEDIA}/execute", json={"topic": "Artificial Intelligence/x"}
            )
            assert ok.json() == {"summary": ["AI is intelligence of machines."]}
            missing = await client.post(
                f"/api/blocks/{WIKIPEDIA}/execute", json={"topic": "Nothing here"}
            )
            assert missing.status_code == 422
            assert missing.json()["error"]["message"].startswith("Failed to fetch Wikipedia")
    # The topic is one path segment, encoded; the request identifies itself.
    assert seen[0]["path"] == "/api/rest_v1/page/summary/Artificial%20Intelligence%2Fx"
    assert seen[0]["ua"].startswith("autoplat/")


def _feed(now: datetime) -> bytes:
    recent = (now - timedelta(minutes=5)).strftime("%a, %d %b %Y %H:%M:%S GMT")
    old = (now - timedelta(days=3)).strftime("%a, %d %b %Y %H:%M:%S GMT")
    return f"""<?xml version="1.0"?>
<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/"><channel>
<title>T</title><link>https://example.com/</link>
<item><title>Fresh &amp; new</title><link>https://example.com/1</link>
<description><![CDATA[<p>Body</p>]]></description><pubDate>{recent}</pubDate>
<dc:creator>Ann</dc:creator><category>A</category><category>B</category></item>
<item><title>Old</title><link>https://example.com/2</link><pubDate>{old}</pubDate></item>
</channel></rss>""".encode()


ATOM = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>A</title>
<entry><title>Atom one</title><link rel="alternate" href="https://example.com/a"/>
<link rel="edit" href="https://example.com/edit"/>
<author><name>Zed</name></author><category term="x"/>
<published>2999-01-01T10:00:00+02:00</published><summary>Sum</summary></entry></feed>"""

BOMB = b"""<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY a "aaaaaaaaaa">
<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]><rss><channel><item><title>&b;</title>
<pubDate>Fri, 23 Jun 2999 12:30:00 GMT</pubDate></item></channel></rss>"""


async def test_rss_feed_entries_within_the_period(
    autoplat_database_url: str, tmp_path: Path
) -> None:
    now = datetime.now(UTC)

    async def feed(request: Request) -> Response:
        body = {"rss": _feed(now), "atom": ATOM, "bomb": BOMB}.get(request.path_params["name"])
        return Response(body or b"nope", status_code=200 if body else 500)

    app = Starlette(routes=[Route("/{name}", feed)])
    async with serve(app) as url:
        settings = make_settings(autoplat_database_url, tmp_path, http_allow_private=True)
        async with running_platform(settings) as (_, client):

            async def read(name: str) -> dict[str, Any]:
                response = await client.post(
                    f"/api/blocks/{RSS}/execute",
                    json={
                        "rss_url": f"{url}/{name}",
                        "time_period": 60,
                        "polling_rate": 1,
                        "run_continuously": False,
                    },
                )
                assert response.status_code == 200, response.text
                result: dict[str, Any] = response.json()
                return result

            rss = await read("rss")
            [entry] = rss["entry"]
            assert entry["title"] == "Fresh & new" and entry["link"] == "https://example.com/1"
            assert entry["description"] == "<p>Body</p>" and entry["author"] == "Ann"
            assert entry["categories"] == ["A", "B"]
            assert rss["entries"] == [[entry]]

            atom = (await read("atom"))["entry"][0]
            assert atom["link"] == "https://example.com/a" and atom["author"] == "Zed"
            assert atom["pub_date"].startswith("2999-01-01T08:00:00")
            assert atom["description"] == "Sum" and atom["categories"] == ["x"]

            # Unreadable feeds have no entries (AutoGPT's behaviour); entities are refused.
            assert await read("bomb") == {"entries": [[]]}
            assert await read("missing") == {"entries": [[]]}
