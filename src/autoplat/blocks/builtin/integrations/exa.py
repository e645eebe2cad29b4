"""Exa's search and contents APIs: AutoGPT's ``exa/search.py`` and ``exa/contents.py`` blocks.

Invariants:

- The key goes only to Exa's base URL (or the operator's replacement), in the ``x-api-key``
  header; the requests are ``POST /search`` and ``POST /contents`` with Exa's camelCase
  body, and only the settings a user changed are sent (AutoGPT's SDK sends no defaults).
- Outputs follow AutoGPT's order: ``results`` (all), ``result`` (each), then ``context``,
  ``statuses``/``resolved_search_type`` and ``cost_dollars`` when Exa answered them. A result
  is AutoGPT's ``ExaSearchResults`` shape, whatever else Exa adds.
- A refusal quotes Exa's answer, never the key; 429 and 5xx are worth a retry.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import httpx

from autoplat.blocks.base import (
    Block,
    BlockCategory,
    BlockContext,
    BlockOutput,
    BlockOutputSchema,
    BlockSchema,
)
from autoplat.blocks.builtin.integrations._base import (
    CredentialsRefInput,
    ProviderError,
    api_key,
    call,
    credentials_pin,
    mock_credentials_input,
    platform_cost,
    raise_for_status,
    stand_in,
)
from autoplat.blocks.builtin.integrations.exa_models import (
    ContentSettings,
    CostDollars,
    ExaSearchCategories,
    ExaSearchResults,
    ExaSearchTypes,
    ExtrasSettings,
    HighlightSettings,
    LivecrawlTypes,
    SummarySettings,
    contents_body,
    extras_body,
    highlights_body,
    summary_body,
)
from autoplat.blocks.schema import pin
from autoplat.errors import BlockRunError

PROVIDER = "exa"
_DESCRIPTION = "The Exa integration requires an API Key."


async def _post(context: BlockContext, path: str, body: dict[str, Any], what: str) -> Any:
    headers = {"Content-Type": "application/json", "x-api-key": api_key(context).get_secret_value()}
    url = f"{context.settings.provider_url('exa')}{path}"
    answer = await call(context, "POST", url, headers=headers, json=body)
    raise_for_status(answer, what)
    data = answer.json()
    if not isinstance(data, dict):
        raise ProviderError(f"{what}: Exa answered {answer.quote()}")
    return data


def _results(data: dict[str, Any]) -> list[dict[str, Any]]:
    raw = data.get("results") or []
    if not isinstance(raw, list):
        raise ProviderError("Exa answered results that are not a list")
    return [ExaSearchResults.model_validate(r).model_dump() for r in raw if isinstance(r, dict)]


def _cost(data: dict[str, Any]) -> dict[str, Any] | None:
    cost = data.get("costDollars")
    if not isinstance(cost, dict) or "total" not in cost:
        return None
    return CostDollars.model_validate(cost).model_dump()


def _date(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _test_answer(request: httpx.Request) -> httpx.Response:
    body = json.loads(request.content or b"{}")
    if request.url.path.endswith("/search"):
        results = [{"id": "r1", "url": "https://example.com/ai", "title": body.get("query")}]
        return httpx.Response(
            200,
            json={"results": results, "resolvedSearchType": "neural", "costDollars": {"total": 1}},
        )
    urls = body.get("urls") or body.get("ids") or []
    results = [{"id": u, "url": u, "text": f"Text of {u}"} for u in urls]
    statuses = [{"id": u, "status": "success"} for u in urls]
    return httpx.Response(200, json={"results": results, "context": "ctx", "statuses": statuses})


class ExaSearchBlock(Block["ExaSearchBlock.Input"]):
    """Search the web with Exa."""

    class Input(BlockSchema):
        credentials: CredentialsRefInput = credentials_pin(PROVIDER, _DESCRIPTION)
        query: str = pin(description="The search query")
        type: ExaSearchTypes = pin(ExaSearchTypes.AUTO, advanced=True, description="Type of search")
        category: ExaSearchCategories | None = pin(
            None,
            advanced=True,
            description="Category to search within: company, research paper, news, pdf, "
            "github, tweet, personal site, linkedin profile, financial report",
        )
        user_location: str | None = pin(
            None, advanced=True, description="The two-letter ISO country code of the user"
        )
        number_of_results: int = pin(10, advanced=True, description="Number of results")
        include_domains: list[str] = pin(
            default_factory=list, description="Domains to include in search"
        )
        exclude_domains: list[str] = pin(
            default_factory=list, advanced=True, description="Domains to exclude from search"
        )
        start_crawl_date: datetime | None = pin(None, description="Start date for crawled content")
        end_crawl_date: datetime | None = pin(None, description="End date for crawled content")
        start_published_date: datetime | None = pin(
            None, description="Start date for published content"
        )
        end_published_date: datetime | None = pin(
            None, description="End date for published content"
        )
        include_text: list[str] = pin(
            default_factory=list, advanced=True, description="Text patterns to include"
        )
        exclude_text: list[str] = pin(
            default_factory=list, advanced=True, description="Text patterns to exclude"
        )
        contents: ContentSettings = pin(
            default_factory=ContentSettings, description="Content retrieval settings"
        )
        moderation: bool = pin(
            False, description="Enable content moderation to filter unsafe content"
        )

    class Output(BlockOutputSchema):
        results: list[dict[str, Any]] = pin(description="List of search results")
        result: dict[str, Any] = pin(description="Single search result")
        context: str = pin(description="A formatted string of the search results for LLMs.")
        search_type: str = pin(description="For auto searches, which search type was selected.")
        resolved_search_type: str = pin(
            description="The search type that was actually used (neural or keyword)"
        )
        cost_dollars: dict[str, Any] | None = pin(description="Cost breakdown for the request")
        error: str = pin(description="Error message if the request failed")

    id = "996cec64-ac40-4dde-982f-b0dc60a5824d"
    description = "Searches the web using Exa's advanced search API"
    categories = (BlockCategory.SEARCH,)
    costs = (platform_cost(PROVIDER, 1),)
    input_schema = Input
    output_schema = Output
    # AutoGPT has no vectors for this block; these run on an offline stand-in of Exa.
    test_input = [{"credentials": mock_credentials_input(PROVIDER), "query": "AI"}]
    test_output = [
        ("results", lambda r: [x["id"] for x in r] == ["r1"] and r[0]["highlights"] == []),
        ("result", lambda r: r["title"] == "AI" and r["url"] == "https://example.com/ai"),
        ("resolved_search_type", "neural"),
        ("cost_dollars", {"total": 1.0}),
    ]
    test_context = stand_in(_test_answer, PROVIDER, "mock-exa-api-key")

    async def run(self, input_data: Input, context: BlockContext) -> BlockOutput:
        body: dict[str, Any] = {
            "query": input_data.query,
            "numResults": input_data.number_of_results,
        }
        body["type"] = input_data.type.value
        optional: dict[str, Any] = {
            "category": input_data.category.value if input_data.category else None,
            "userLocation": input_data.user_location,
            "includeDomains": input_data.include_domains,
            "excludeDomains": input_data.exclude_domains,
            "includeText": input_data.include_text,
            "excludeText": input_data.exclude_text,
            "moderation": input_data.moderation,
        }
        body.update({k: v for k, v in optional.items() if v})
        dates = {
            "startCrawlDate": input_data.start_crawl_date,
            "endCrawlDate": input_data.end_crawl_date,
            "startPublishedDate": input_data.start_published_date,
            "endPublishedDate": input_data.end_published_date,
        }
        body.update({k: _date(v) for k, v in dates.items() if v})
        contents = contents_body(input_data.contents)
        if contents:
            body["contents"] = contents
        data = await _post(context, "/search", body, "Exa search failed")
        results = _results(data)
        yield "results", results
        for result in results:
            yield "result", result
        if data.get("context"):
            yield "context", str(data["context"])
        if data.get("resolvedSearchType"):
            yield "resolved_search_type", str(data["resolvedSearchType"])
        cost = _cost(data)
        if cost:
            yield "cost_dollars", cost


class ExaContentsBlock(Block["ExaContentsBlock.Input"]):
    """The contents of pages (by URL, or by the ids of earlier search results) from Exa."""

    class Input(BlockSchema):
        credentials: CredentialsRefInput = credentials_pin(PROVIDER, _DESCRIPTION)
        urls: list[str] = pin(
            default_factory=list,
            advanced=False,
            description="Array of URLs to crawl (preferred over 'ids')",
        )
        ids: list[str] = pin(
            default_factory=list,
            advanced=True,
            description="[DEPRECATED - use 'urls' instead] Array of document IDs obtained "
            "from searches",
        )
        text: bool = pin(True, description="Retrieve text content from pages")
        highlights: HighlightSettings = pin(
            default_factory=HighlightSettings,
            description="Text snippets most relevant from each page",
        )
        summary: SummarySettings = pin(
            default_factory=SummarySettings, description="LLM-generated summary of the webpage"
        )
        livecrawl: LivecrawlTypes | None = pin(
            LivecrawlTypes.FALLBACK,
            advanced=True,
            description="Livecrawling options: never, fallback (default), always, preferred",
        )
        livecrawl_timeout: int | None = pin(
            10000, advanced=True, description="Timeout for livecrawling in milliseconds"
        )
        subpages: int | None = pin(0, ge=0, advanced=True, description="Subpages to crawl")
        subpage_target: str | list[str] | None = pin(
            None, advanced=True, description="Keyword(s) to find specific subpages"
        )
        extras: ExtrasSettings = pin(
            default_factory=ExtrasSettings,
            advanced=True,
            description="Extra parameters for additional content",
        )

    class Output(BlockOutputSchema):
        results: list[dict[str, Any]] = pin(description="List of document contents")
        result: dict[str, Any] = pin(description="Single document content result")
        context: str = pin(description="A formatted string of the results ready for LLMs")
        request_id: str = pin(description="Unique identifier for the request")
        statuses: list[dict[str, Any]] = pin(description="Status of each requested URL")
        cost_dollars: dict[str, Any] | None = pin(description="Cost breakdown for the request")
        error: str = pin(description="Error message if the request failed")

    id = "c52be83f-f8cd-4180-b243-af35f986b461"
    description = "Retrieves document contents using Exa's contents API"
    categories = (BlockCategory.SEARCH,)
    costs = (platform_cost(PROVIDER, 1),)
    input_schema = Input
    output_schema = Output
    test_input = [
        {"credentials": mock_credentials_input(PROVIDER), "urls": ["https://example.com/a"]},
        {"credentials": mock_credentials_input(PROVIDER)},
    ]
    test_output = [
        ("results", lambda r: [x["text"] for x in r] == ["Text of https://example.com/a"]),
        ("result", lambda r: r["id"] == "https://example.com/a"),
        ("context", "ctx"),
        ("statuses", [{"id": "https://example.com/a", "status": "success"}]),
        ("error", "Either 'urls' or 'ids' must be provided"),
    ]
    test_context = stand_in(_test_answer, PROVIDER, "mock-exa-api-key")

    async def run(self, input_data: Input, context: BlockContext) -> BlockOutput:
        if not input_data.urls and not input_data.ids:
            raise BlockRunError("Either 'urls' or 'ids' must be provided")
        body: dict[str, Any] = (
            {"urls": input_data.urls} if input_data.urls else {"ids": input_data.ids}
        )
        if input_data.text:
            body["text"] = {"includeHtmlTags": True}
        highlights = input_data.highlights
        # Settings left at their defaults are not sent (AutoGPT's rule).
        if highlights != HighlightSettings():
            body["highlights"] = highlights_body(highlights)
        summary = input_data.summary
        if summary.query is not None or summary.summary_schema is not None:
            body["summary"] = summary_body(summary)
        if input_data.livecrawl:
            body["livecrawl"] = input_data.livecrawl.value
        if input_data.livecrawl_timeout is not None:
            body["livecrawlTimeout"] = input_data.livecrawl_timeout
        if input_data.subpages is not None:
            body["subpages"] = input_data.subpages
        if input_data.subpage_target:
            body["subpageTarget"] = input_data.subpage_target
        extras = extras_body(input_data.extras)
        if extras:
            body["extras"] = extras
        # Always on, as on AutoGPT: the LLM-ready context string.
        body["context"] = True
        data = await _post(context, "/contents", body, "Exa contents failed")
        results = _results(data)
        yield "results", results
        for result in results:
            yield "result", result
        if data.get("context"):
            yield "context", str(data["context"])
        statuses = data.get("statuses")
        if isinstance(statuses, list) and statuses:
            yield "statuses", statuses
        cost = _cost(data)
        if cost:
            yield "cost_dollars", cost
