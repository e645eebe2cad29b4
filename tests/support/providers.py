"""A local stand-in for the integration providers' HTTP APIs, for tests.

One Starlette app serves each provider under its own prefix (``PREFIXES``), speaking the
documented paths, auth headers and the response fields the blocks read. It refuses a
request without the expected key (401, in the provider's error shape) and keeps every request
in ``requests`` (prefix, path, the auth header, body) for assertions.
"""

from __future__ import annotations

import contextlib
import html
import json
import urllib.parse
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.websockets import WebSocket

#: The key every provider accepts (tests store it as the user's credential).
KEY = "sk-provider-test-key"
#: provider-base-URL key (AUTOPLAT_PROVIDER_BASE_URLS) -> prefix on the stand-in.
PREFIXES = {
    "jina_search": "/jina-search",
    "jina_reader": "/jina-reader",
    "google_maps": "/google-maps",
    "ideogram": "/ideogram",
    "replicate": "/replicate",
    "medium": "/medium",
    "youtube": "/youtube",
    "e2b": "/e2b",
    "e2b_sandbox": "/e2b-sandbox",
    "discord": "/discord",
    "exa": "/exa",
    "firecrawl": "/firecrawl",
}


@dataclass
class Seen:
    """One request the stand-in answered."""

    provider: str
    method: str
    path: str
    auth: str
    body: Any = None


@dataclass
class FakeProviders:
    """The stand-in's script: what each provider answers, and what it saw."""

    places: list[dict[str, Any]] = field(default_factory=list)
    image_url: str = "https://images.example/generated.png"
    #: Polls of a Replicate prediction before it succeeds.
    replicate_polls: int = 1
    replicate_output: Any = "https://replicate.delivery/out-0.png"
    #: video id -> caption lines (a video not listed has captions disabled).
    captions: dict[str, list[str]] = field(default_factory=dict)
    #: What the code interpreter streams for a cell: code (or "*": any) -> events.
    #: The stand-in never runs the code; it only answers from this script.
    e2b_events: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    #: The message a user posts once the bot is connected (to channel ``c1``, "general").
    discord_inbox: str = "hello bot"
    discord_sent: list[dict[str, Any]] = field(default_factory=list)
    #: Firecrawl: the crawled pages, how many status reads a crawl takes before it ends, its
    #: end state ("completed", "failed"; "scraping" never ends), documents per result page,
    #: and a ``next`` link to give instead of the stand-in's own (a foreign host).
    crawl_pages: list[dict[str, Any]] = field(default_factory=list)
    crawl_polls: int = 1
    crawl_end: str = "completed"
    crawl_page_size: int = 100
    crawl_next_override: str | None = None
    sandboxes: dict[str, str] = field(default_factory=dict)
    killed: list[str] = field(default_factory=list)
    requests: list[Seen] = field(default_factory=list)
    _polled: dict[str, int] = field(default_factory=dict)

    def base_urls(self, url: str) -> dict[str, str]:
        """``AUTOPLAT_PROVIDER_BASE_URLS`` pointing every service at the stand-in at ``url``."""
        return {service: url + prefix for service, prefix in PREFIXES.items()}

    def seen(self, provider: str) -> list[Seen]:
        """The requests one provider answered, in order."""
        return [r for r in self.requests if r.provider == provider]

    def app(self) -> Starlette:
        """The ASGI app."""
        return Starlette(
            routes=[
                Mount("/jina-search", routes=[Route("/{query:path}", self._jina_search)]),
                Mount("/jina-reader", routes=[Route("/{target:path}", self._jina_reader)]),
                Route("/google-maps/v1/places:searchText", self._maps, methods=["POST"]),
                Route("/ideogram/v1/ideogram-v3/generate", self._ideogram, methods=["POST"]),
                Route("/ideogram/generate", self._ideogram, methods=["POST"]),
                Route(
                    "/replicate/v1/models/{owner}/{name}/predictions",
                    self._replicate_create,
                    methods=["POST"],
                ),
                Route("/replicate/v1/predictions/{pid}", self._replicate_get),
                Route("/youtube/watch", self._youtube_watch),
                Route("/youtube/youtubei/v1/player", self._youtube_player, methods=["POST"]),
                Route("/youtube/api/timedtext", self._youtube_timedtext),
                Route("/e2b/sandboxes", self._e2b_create, methods=["POST"]),
                Route("/e2b/sandboxes/{sid}", self._e2b_kill, methods=["DELETE"]),
                Route("/e2b-sandbox/execute", self._e2b_execute, methods=["POST"]),
                Route("/discord/v10/gateway/bot", self._discord_gateway_info),
                Route("/discord/v10/channels/{cid}", self._discord_channel),
                Route("/discord/v10/users/@me/guilds", self._discord_guilds),
                Route("/discord/v10/guilds/{gid}/channels", self._discord_guild_channels),
                Route(
                    "/discord/v10/channels/{cid}/messages",
                    self._discord_post,
                    methods=["POST"],
                ),
                WebSocketRoute("/discord-gateway/", self._discord_gateway),
                Route("/exa/search", self._exa_search, methods=["POST"]),
                Route("/exa/contents", self._exa_contents, methods=["POST"]),
                Route("/firecrawl/v2/scrape", self._firecrawl_scrape, methods=["POST"]),
                Route("/firecrawl/v2/crawl", self._firecrawl_crawl, methods=["POST"]),
                Route("/firecrawl/v2/crawl/{job}", self._firecrawl_status),
                Route("/medium/v1/me", self._medium_me),
                Route("/medium/v1/users/{author}/posts", self._medium_post, methods=["POST"]),
            ]
        )

    async def _record(self, provider: str, request: Request, auth_header: str) -> Seen:
        raw = await request.body()
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        seen = Seen(
            provider, request.method, request.url.path, request.headers.get(auth_header, ""), body
        )
        self.requests.append(seen)
        return seen

    # --- Jina ---------------------------------------------------------------------------

    async def _jina_search(self, request: Request) -> Response:
        seen = await self._record("jina_search", request, "authorization")
        if seen.auth != f"Bearer {KEY}":
            return JSONResponse({"code": 401, "message": "invalid key"}, status_code=401)
        query = urllib.parse.unquote(request.path_params["query"])
        return PlainTextResponse(f"[1] Title: About {query}\n[1] URL Source: https://a.example\n")

    async def _jina_reader(self, request: Request) -> Response:
        seen = await self._record("jina_reader", request, "authorization")
        if seen.auth != f"Bearer {KEY}":
            return JSONResponse({"code": 401, "message": "invalid key"}, status_code=401)
        # The target's own query string arrives as the reader's query (as on r.jina.ai).
        target = request.url.path.removeprefix("/jina-reader/")
        target += f"?{request.url.query}" if request.url.query else ""
        return PlainTextResponse(f"Title: Page\n\nMarkdown Content:\nThe content of {target}")

    # --- Google Maps (Places API (New) Text Search) -------------------------------------

    async def _maps(self, request: Request) -> Response:
        seen = await self._record("google_maps", request, "x-goog-api-key")
        if seen.auth != KEY:
            error = {
                "code": 400,
                "message": "API key not valid. Please pass a valid API key.",
                "status": "INVALID_ARGUMENT",
                "details": [{"reason": "API_KEY_INVALID"}],
            }
            return JSONResponse({"error": error}, status_code=400)
        body = seen.body or {}
        start = int(body.get("pageToken") or 0)
        size = int(body.get("pageSize") or 20)
        page = self.places[start : start + size]
        answer: dict[str, Any] = {"places": page}
        if start + size < len(self.places):
            answer["nextPageToken"] = str(start + size)
        return JSONResponse(answer)

    # --- Ideogram -----------------------------------------------------------------------

    async def _ideogram(self, request: Request) -> Response:
        seen = await self._record("ideogram", request, "api-key")
        if seen.auth != KEY:
            return JSONResponse({"detail": "Unauthorized"}, status_code=401)
        return JSONResponse({"created": "2026-01-01T00:00:00Z", "data": [{"url": self.image_url}]})

    # --- Replicate ----------------------------------------------------------------------

    async def _replicate_create(self, request: Request) -> Response:
        seen = await self._record("replicate", request, "authorization")
        if seen.auth != f"Bearer {KEY}":
            return JSONResponse({"detail": "Unauthenticated", "status": 401}, status_code=401)
        pid = f"pred-{len(self._polled) + 1}"
        self._polled[pid] = 0
        return JSONResponse({"id": pid, "status": "starting", "output": None}, status_code=201)

    async def _replicate_get(self, request: Request) -> Response:
        seen = await self._record("replicate", request, "authorization")
        if seen.auth != f"Bearer {KEY}":
            return JSONResponse({"detail": "Unauthenticated", "status": 401}, status_code=401)
        pid = request.path_params["pid"]
        if pid not in self._polled:
            return JSONResponse({"detail": "Not found", "status": 404}, status_code=404)
        self._polled[pid] += 1
        if self._polled[pid] < self.replicate_polls:
            return JSONResponse({"id": pid, "status": "processing", "output": None})
        return JSONResponse({"id": pid, "status": "succeeded", "output": self.replicate_output})

    # --- Exa (POST /search, POST /contents; the key in x-api-key) ------------------------

    async def _exa_search(self, request: Request) -> Response:
        seen = await self._record("exa", request, "x-api-key")
        if seen.auth != KEY:
            return JSONResponse({"error": "Invalid API key"}, status_code=401)
        body = seen.body or {}
        count = int(body.get("numResults") or 10)
        results = [
            {
                "id": f"https://result{i}.example/",
                "url": f"https://result{i}.example/",
                "title": f"{body.get('query')} #{i}",
                "score": 0.5,
                "publishedDate": "2026-01-01T00:00:00.000Z",
                "author": None,
                **({"text": f"text {i}"} if "contents" in body else {}),
            }
            for i in range(min(count, 3))
        ]
        answer: dict[str, Any] = {
            "requestId": "req-search-1",
            "resolvedSearchType": "neural",
            "searchType": "neural",
            "results": results,
            "costDollars": {"total": 0.005, "search": {"neural": 0.005}},
        }
        if (body.get("contents") or {}).get("context"):
            answer["context"] = "\n".join(str(r["title"]) for r in results)
        return JSONResponse(answer)

    async def _exa_contents(self, request: Request) -> Response:
        seen = await self._record("exa", request, "x-api-key")
        if seen.auth != KEY:
            return JSONResponse({"error": "Invalid API key"}, status_code=401)
        body = seen.body or {}
        urls = body.get("urls") or body.get("ids") or []
        results = [{"id": u, "url": u, "title": f"Page {u}", "text": f"<p>{u}</p>"} for u in urls]
        return JSONResponse(
            {
                "requestId": "req-contents-1",
                "results": results,
                "context": " ".join(urls),
                "statuses": [{"id": u, "status": "success"} for u in urls],
                "costDollars": {"total": 0.001},
            }
        )

    # --- Firecrawl v2 (bearer key) -----------------------------------------------------

    async def _firecrawl_scrape(self, request: Request) -> Response:
        seen = await self._record("firecrawl", request, "authorization")
        if seen.auth != f"Bearer {KEY}":
            return JSONResponse({"success": False, "error": "Unauthorized"}, status_code=401)
        body = seen.body or {}
        url = body.get("url", "")
        data = {
            "markdown": f"# {url}",
            "html": f"<h1>{url}</h1>",
            "rawHtml": f"<html><h1>{url}</h1></html>",
            "links": [f"{url}/a", f"{url}/b"],
            "screenshot": "https://screenshots.example/1.png",
            "metadata": {"sourceURL": url, "statusCode": 200},
        }
        return JSONResponse({"success": True, "data": data})

    async def _firecrawl_crawl(self, request: Request) -> Response:
        seen = await self._record("firecrawl", request, "authorization")
        if seen.auth != f"Bearer {KEY}":
            return JSONResponse({"success": False, "error": "Unauthorized"}, status_code=401)
        job = f"crawl-{len(self._polled) + 1}"
        self._polled[job] = 0
        return JSONResponse({"success": True, "id": job, "url": f"{request.url}/{job}"})

    async def _firecrawl_status(self, request: Request) -> Response:
        seen = await self._record("firecrawl", request, "authorization")
        if seen.auth != f"Bearer {KEY}":
            return JSONResponse({"success": False, "error": "Unauthorized"}, status_code=401)
        job = request.path_params["job"]
        if job not in self._polled:
            return JSONResponse({"success": False, "error": "Job not found"}, status_code=404)
        self._polled[job] += 1
        total = len(self.crawl_pages)
        if self._polled[job] < self.crawl_polls or self.crawl_end == "scraping":
            return JSONResponse({"status": "scraping", "total": total, "completed": 0, "data": []})
        skip = int(request.query_params.get("skip") or 0)
        page = self.crawl_pages[skip : skip + self.crawl_page_size]
        answer: dict[str, Any] = {
            "status": self.crawl_end,
            "total": total,
            "completed": total,
            "data": page,
        }
        if skip + self.crawl_page_size < total:
            own = str(request.url.replace(query=f"skip={skip + self.crawl_page_size}"))
            answer["next"] = self.crawl_next_override or own
        return JSONResponse(answer)

    # --- YouTube (what youtube_transcript_api reads) -----------------------------------

    async def _youtube_watch(self, request: Request) -> Response:
        await self._record("youtube", request, "accept-language")
        page = '<html><script>var ytcfg = {"INNERTUBE_API_KEY": "AIzaTestKey"};</script></html>'
        return Response(page, media_type="text/html")

    async def _youtube_player(self, request: Request) -> Response:
        seen = await self._record("youtube", request, "accept-language")
        if request.query_params.get("key") != "AIzaTestKey":
            return JSONResponse({"error": {"code": 400}}, status_code=400)
        video = (seen.body or {}).get("videoId", "")
        if video not in self.captions:
            return JSONResponse({"playabilityStatus": {"status": "OK"}})
        base = "https://www.youtube.com/api/timedtext"
        tracks = [
            {"baseUrl": f"{base}?v={video}&lang=de", "languageCode": "de", "kind": "asr"},
            {"baseUrl": f"{base}?v={video}&lang=en&fmt=srv3", "languageCode": "en"},
        ]
        captions = {"playerCaptionsTracklistRenderer": {"captionTracks": tracks}}
        return JSONResponse({"playabilityStatus": {"status": "OK"}, "captions": captions})

    async def _youtube_timedtext(self, request: Request) -> Response:
        await self._record("youtube", request, "accept-language")
        if request.query_params.get("lang") != "en" or "fmt" in request.query_params:
            return Response("", status_code=404)
        lines = self.captions.get(request.query_params.get("v", ""), [])
        texts = "".join(
            f'<text start="{i}" dur="1">{html.escape(line)}</text>' for i, line in enumerate(lines)
        )
        body = f'<?xml version="1.0" encoding="utf-8" ?><transcript>{texts}</transcript>'
        return Response(body, media_type="text/xml")

    # --- E2B (API and the sandbox's code interpreter) -----------------------------------

    async def _e2b_create(self, request: Request) -> Response:
        seen = await self._record("e2b", request, "x-api-key")
        if seen.auth != KEY:
            return JSONResponse({"code": 401, "message": "Invalid API key"}, status_code=401)
        sid = f"sbx{len(self.sandboxes) + 1}"
        self.sandboxes[sid] = f"envd-token-{sid}"
        body = {
            "sandboxID": sid,
            "templateID": (seen.body or {}).get("templateID", ""),
            "clientID": "client",
            "envdVersion": "0.2.0",
            "envdAccessToken": self.sandboxes[sid],
        }
        return JSONResponse(body, status_code=201)

    async def _e2b_kill(self, request: Request) -> Response:
        seen = await self._record("e2b", request, "x-api-key")
        if seen.auth != KEY:
            return JSONResponse({"code": 401, "message": "Invalid API key"}, status_code=401)
        self.killed.append(request.path_params["sid"])
        return Response(status_code=204)

    async def _e2b_execute(self, request: Request) -> Response:
        seen = await self._record("e2b_sandbox", request, "x-access-token")
        sid = request.headers.get("e2b-sandbox-id", "")
        if request.headers.get("e2b-sandbox-port") != "49999" or sid not in self.sandboxes:
            return JSONResponse({"message": "sandbox not found"}, status_code=502)
        if seen.auth != self.sandboxes[sid] or request.headers.get("x-api-key"):
            return JSONResponse({"message": "unauthorized"}, status_code=401)
        code = (seen.body or {}).get("code", "")
        events = self.e2b_events.get(code, self.e2b_events.get("*", []))
        lines = [json.dumps(e) for e in [*events, {"type": "end_of_execution"}]]
        return Response("\n".join(lines) + "\n", media_type="application/x-ndjson")

    # --- Discord (REST v10 and the gateway) -------------------------------------------

    _CHANNELS = ({"id": "c1", "name": "general", "type": 0, "guild_id": "g1"},)

    async def _discord_auth(self, request: Request) -> Response | None:
        seen = await self._record("discord", request, "authorization")
        if seen.auth != f"Bot {KEY}":
            return JSONResponse({"message": "401: Unauthorized", "code": 0}, status_code=401)
        return None

    async def _discord_gateway_info(self, request: Request) -> Response:
        refused = await self._discord_auth(request)
        host = request.url.netloc
        return refused or JSONResponse({"url": f"ws://{host}/discord-gateway", "shards": 1})

    async def _discord_channel(self, request: Request) -> Response:
        refused = await self._discord_auth(request)
        found = [c for c in self._CHANNELS if c["id"] == request.path_params["cid"]]
        if refused or not found:
            return refused or JSONResponse({"message": "Unknown Channel"}, status_code=404)
        return JSONResponse(found[0])

    async def _discord_guilds(self, request: Request) -> Response:
        refused = await self._discord_auth(request)
        return refused or JSONResponse([{"id": "g1", "name": "Test Server"}])

    async def _discord_guild_channels(self, request: Request) -> Response:
        refused = await self._discord_auth(request)
        return refused or JSONResponse(list(self._CHANNELS))

    async def _discord_post(self, request: Request) -> Response:
        refused = await self._discord_auth(request)
        if refused:
            return refused
        body = json.loads(await request.body())
        self.discord_sent.append({"channel": request.path_params["cid"], **body})
        return JSONResponse({"id": f"m{len(self.discord_sent)}", "content": body["content"]})

    async def _discord_gateway(self, ws: WebSocket) -> None:
        await ws.accept()
        await ws.send_json({"op": 10, "d": {"heartbeat_interval": 45000}})
        identify = await ws.receive_json()
        if identify.get("op") != 2 or identify["d"].get("token") != KEY:
            await ws.close(code=4004)
            return
        bot = {"id": "bot-1", "username": "bot"}
        user = {"id": "u-7", "username": "alice"}
        events = [
            ("READY", {"user": bot, "guilds": [{"id": "g1"}]}),
            ("GUILD_CREATE", {"id": "g1", "channels": list(self._CHANNELS)}),
            ("MESSAGE_CREATE", {"id": "m0", "channel_id": "c1", "content": "me", "author": bot}),
            (
                "MESSAGE_CREATE",
                {"id": "m-in", "channel_id": "c1", "content": self.discord_inbox, "author": user},
            ),
        ]
        for seq, (kind, data) in enumerate(events, 1):
            await ws.send_json({"op": 0, "s": seq, "t": kind, "d": data})
        with contextlib.suppress(Exception):
            while True:  # heartbeats until the bot leaves
                await ws.receive_text()

    # --- Medium -------------------------------------------------------------------------

    async def _medium_me(self, request: Request) -> Response:
        seen = await self._record("medium", request, "authorization")
        if seen.auth != f"Bearer {KEY}":
            return JSONResponse({"errors": [{"message": "Token was invalid."}]}, status_code=401)
        return JSONResponse({"data": {"id": "author-1", "username": "tester"}})

    async def _medium_post(self, request: Request) -> Response:
        seen = await self._record("medium", request, "authorization")
        if seen.auth != f"Bearer {KEY}":
            return JSONResponse({"errors": [{"message": "Token was invalid."}]}, status_code=401)
        author = request.path_params["author"]
        data = {
            "id": "post-1",
            "title": (seen.body or {}).get("title", ""),
            "authorId": author,
            "url": f"https://medium.com/@tester/post-1-{author}",
            "publishedAt": 1700000000000,
        }
        return JSONResponse({"data": data}, status_code=201)
