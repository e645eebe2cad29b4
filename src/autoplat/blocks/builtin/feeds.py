"""Credential-free information blocks: a Wikipedia summary and RSS/Atom feed entries.

Invariants: every request goes through the run's own vetted client (``context.http``, via
the HTTP block's ``send_request``: checked redirects, capped bodies); Wikipedia's base URL
is the operator's setting, never a pin. Feeds are parsed by expat without ever expanding a
declared entity (a document declaring one is refused: no "billion laughs") and at most
MAX_DEPTH elements deep; big feeds parse in a worker thread. A continuously polling feed
waits at least a second between polls and emits at most ``step_through_max_items`` entries.
"""

from __future__ import annotations

import asyncio
import dataclasses
import email.utils
import json
import urllib.parse
import xml.parsers.expat
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from pydantic import BaseModel

from autoplat import __version__
from autoplat.blocks.base import (
    Block,
    BlockCategory,
    BlockContext,
    BlockOutput,
    BlockOutputSchema,
    BlockSchema,
)
from autoplat.blocks.builtin.web_request import send_request
from autoplat.blocks.schema import pin
from autoplat.errors import BlockRunError, TransientBlockError
from autoplat.logging import get_logger

log = get_logger("autoplat.blocks.feeds")

USER_AGENT = f"autoplat/{__version__} (self-hosted agent platform; AutoGPT-compatible)"
MAX_FEED_BYTES = 10 * 1024 * 1024
MAX_DEPTH = 100
PARSE_IN_THREAD = 256 * 1024


def _stand_in(answer: Callable[[httpx.Request], httpx.Response]) -> Callable[..., BlockContext]:
    """A ``test_context`` whose HTTP client answers offline (AutoGPT mocks the request)."""

    def prepare(self: Any, context: BlockContext) -> BlockContext:
        client = httpx.AsyncClient(transport=httpx.MockTransport(answer))
        return dataclasses.replace(context, http=client)

    return prepare


async def _get_operator_url(
    context: BlockContext, url: str, headers: dict[str, str]
) -> tuple[int, bytes]:
    """GET a URL under a base the operator configured: no redirects are followed (the
    operator's service answers itself), and the body is capped like any block's."""
    limit = context.settings.http_max_response_bytes
    try:
        async with context.http.stream("GET", url, headers=headers) as response:
            chunks, size = [], 0
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > limit:
                    raise BlockRunError(f"response body is larger than {limit} bytes")
                chunks.append(chunk)
            return response.status_code, b"".join(chunks)
    except httpx.TransportError as exc:
        raise TransientBlockError(f"request to {httpx.URL(url).host} failed: {exc!r}") from exc


class GetWikipediaSummaryBlock(Block["GetWikipediaSummaryBlock.Input"]):
    """Fetch the summary (lead extract) of a Wikipedia article."""

    class Input(BlockSchema):
        topic: str = pin(description="The topic to fetch the summary for")

    class Output(BlockOutputSchema):
        summary: str = pin(description="The summary of the given topic")

    id = "f5b0f5d0-1862-4d61-94be-3ad0fa772760"
    description = "This block fetches the summary of a given topic from Wikipedia."
    categories = (BlockCategory.SEARCH,)
    input_schema = Input
    output_schema = Output
    test_input = [{"topic": "Artificial Intelligence"}]
    test_output = [("summary", "summary content")]
    test_context = _stand_in(lambda _: httpx.Response(200, json={"extract": "summary content"}))

    async def run(self, input_data: Input, context: BlockContext) -> BlockOutput:
        topic = urllib.parse.quote(input_data.topic, safe="")
        url = f"{context.settings.wikipedia_base_url}/api/rest_v1/page/summary/{topic}"
        # Wikimedia's robot policy asks for an identifying User-Agent.
        headers = {"User-Agent": USER_AGENT, "Accept-Encoding": "gzip, deflate"}
        try:
            status, content = await _get_operator_url(context, url, headers)
            if not 200 <= status < 300:
                raise BlockRunError(f"HTTP {status} from Wikipedia")
            try:
                answer = json.loads(content)
            except ValueError:
                answer = content.decode("utf-8", "replace")[:500]
            if not isinstance(answer, dict) or "extract" not in answer:
                raise BlockRunError(f"Unable to parse Wikipedia response: {answer}")
        except (BlockRunError, TransientBlockError) as exc:
            raise BlockRunError(f"Failed to fetch Wikipedia summary: {exc}") from None
        yield "summary", str(answer["extract"])


class RSSEntry(BaseModel):
    """One item of a feed."""

    title: str
    link: str
    description: str
    pub_date: datetime
    author: str
    categories: list[str]


class FeedError(ValueError):
    """The document is not a feed this parser reads."""


@dataclass
class _Entry:
    fields: dict[str, str] = field(default_factory=dict)
    categories: list[str] = field(default_factory=list)


_ENTRY_TAGS = {"item", "entry"}
_DATE_TAGS = ("published", "pubDate", "date", "issued", "updated", "modified")


def _local(name: str) -> str:
    return name.rsplit(" ", 1)[-1]


def parse_feed(content: bytes) -> list[dict[str, Any]]:
    """The entries of an RSS 0.9x/1.0/2.0 or Atom document: dicts of the raw fields."""
    parser = xml.parsers.expat.ParserCreate(namespace_separator=" ")
    entries: list[dict[str, Any]] = []
    stack: list[tuple[str, dict[str, str], list[str]]] = []
    current: _Entry | None = None
    entry_depth = -1

    def refuse_entities(*_: Any) -> None:
        raise FeedError("the feed declares entities; such documents are not read")

    def start(name: str, attrs: dict[str, str]) -> None:
        nonlocal current, entry_depth
        if len(stack) >= MAX_DEPTH:
            raise FeedError(f"the feed nests deeper than {MAX_DEPTH} elements")
        local = _local(name)
        stack.append((local, {_local(k): v for k, v in attrs.items()}, []))
        if current is None and local in _ENTRY_TAGS:
            current, entry_depth = _Entry(), len(stack)

    def text(data: str) -> None:
        if stack:
            stack[-1][2].append(data)

    def end(name: str) -> None:
        nonlocal current, entry_depth
        local, attrs, parts = stack.pop()
        if current is None:
            return
        if len(stack) + 1 == entry_depth:
            entries.append({**current.fields, "tags": current.categories})
            current, entry_depth = None, -1
            return
        value = "".join(parts).strip()
        parent = stack[-1][0]
        if local == "category":
            term = attrs.get("term") or value
            if term:
                current.categories.append(term)
        elif local == "link":
            if attrs.get("rel", "alternate") == "alternate":
                current.fields.setdefault("link", attrs.get("href") or value)
        elif local == "name" and parent == "author":
            current.fields.setdefault("author", value)
        elif len(stack) == entry_depth and value:
            key = {"description": "summary", "creator": "author"}.get(local, local)
            current.fields.setdefault(key, value)

    parser.EntityDeclHandler = refuse_entities
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = text
    try:
        parser.Parse(content, True)
    except xml.parsers.expat.ExpatError as exc:
        raise FeedError(f"not well-formed XML: {exc}") from None
    return entries


def entry_date(fields: dict[str, Any]) -> datetime | None:
    """The entry's publication time in UTC, to the second (feedparser's ``published_parsed``)."""
    for tag in _DATE_TAGS:
        raw = fields.get(tag)
        if not raw:
            continue
        try:
            moment = email.utils.parsedate_to_datetime(raw)
        except (TypeError, ValueError):
            try:
                moment = datetime.fromisoformat(raw.strip())
            except ValueError:
                continue
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return datetime(*moment.astimezone(UTC).timetuple()[:6], tzinfo=UTC)
    return None


_SAMPLE_FEED = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>Example</title>
<item><title>Example RSS Item</title><link>https://example.com/article</link>
<description>This is an example RSS item description.</description>
<pubDate>Fri, 23 Jun 2023 12:30:00 GMT</pubDate><author>John Doe</author>
<category>Technology</category><category>News</category></item></channel></rss>"""
_SAMPLE_ENTRY = RSSEntry(
    title="Example RSS Item",
    link="https://example.com/article",
    description="This is an example RSS item description.",
    pub_date=datetime(2023, 6, 23, 12, 30, 0, tzinfo=UTC),
    author="John Doe",
    categories=["Technology", "News"],
)


class ReadRSSFeedBlock(Block["ReadRSSFeedBlock.Input"]):
    """Read a feed's entries published within ``time_period`` minutes; poll if asked."""

    class Input(BlockSchema):
        rss_url: str = pin(description="The URL of the RSS feed to read")
        time_period: int = pin(
            1440,
            description="The time period to check in minutes relative to the run block "
            "runtime, e.g. 60 would check for new entries in the last hour.",
        )
        polling_rate: int = pin(description="The number of seconds to wait between polls.")
        run_continuously: bool = pin(
            True, description="Whether to run the block continuously or just once."
        )

    class Output(BlockOutputSchema):
        entry: RSSEntry = pin(description="The RSS item")
        entries: list[RSSEntry] = pin(description="List of all RSS entries")

    id = "5ebe6768-8e5d-41e3-9134-1c7bd89a8d52"
    description = "Reads RSS feed entries from a given URL."
    categories = (BlockCategory.INPUT,)
    input_schema = Input
    output_schema = Output
    test_input = [
        {
            "rss_url": "https://example.com/rss",
            "time_period": 10_000_000,
            "polling_rate": 1,
            "run_continuously": False,
        }
    ]
    test_output = [("entry", _SAMPLE_ENTRY), ("entries", [_SAMPLE_ENTRY])]
    test_context = _stand_in(lambda _: httpx.Response(200, content=_SAMPLE_FEED))

    async def read(self, url: str, context: BlockContext) -> list[dict[str, Any]]:
        """The feed's entries; like AutoGPT, a feed that cannot be read has none (logged)."""
        try:
            response, content = await send_request(context, "GET", url, {}, {})
            if not response.is_success:
                raise FeedError(f"HTTP {response.status_code}")
            if len(content) > MAX_FEED_BYTES:
                raise FeedError(f"the feed is over {MAX_FEED_BYTES} bytes")
            if len(content) > PARSE_IN_THREAD:
                return await asyncio.to_thread(parse_feed, content)
            return parse_feed(content)
        except (FeedError, BlockRunError, TransientBlockError) as exc:
            log.warning("rss.unreadable", url=url[:200], error=str(exc)[:300])
            return []

    async def run(self, input_data: Input, context: BlockContext) -> BlockOutput:
        since = datetime.now(UTC) - timedelta(minutes=input_data.time_period)
        limit = context.settings.step_through_max_items
        emitted = 0
        while True:
            found = []
            for fields in await self.read(input_data.rss_url, context):
                published = entry_date(fields)
                if published is None or published <= since:
                    continue  # undated entries cannot be placed in the time window
                entry = RSSEntry(
                    title=fields.get("title", ""),
                    link=fields.get("link", ""),
                    description=fields.get("summary") or fields.get("content", ""),
                    pub_date=published,
                    author=fields.get("author", ""),
                    categories=list(fields.get("tags", [])),
                )
                emitted += 1
                if emitted > limit:
                    raise BlockRunError(f"the feed gave more than {limit} entries in this run")
                found.append(entry)
                yield "entry", entry
            yield "entries", found
            if not input_data.run_continuously:
                return
            await asyncio.sleep(max(1, input_data.polling_rate))
