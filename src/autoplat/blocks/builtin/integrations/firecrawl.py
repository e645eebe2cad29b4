"""Firecrawl's scrape and crawl (API v2): AutoGPT's ``firecrawl/scrape.py`` and ``crawl.py``.

Invariants:

- The key goes only to Firecrawl's base URL (or the operator's replacement), as a bearer
  token: ``POST /v2/scrape`` answers one page; ``POST /v2/crawl`` starts a job that is polled
  on ``GET /v2/crawl/{id}`` (the shared ``poll_until``: a fixed pause, and the node's
  timeout as the deadline) until it is completed; a job that fails or is cancelled is an
  error. A result page's ``next`` link is followed only when it is under the same base URL,
  so the key never travels to a host Firecrawl names; all result pages together are held to
  ``http_max_response_bytes``, so a crawl's memory is one answer's, not ``MAX_PAGES``'.
- Outputs follow AutoGPT's order: ``data`` first, then for each page one value per asked
  format, in the order the formats were asked. A format the page lacks gives the pin's empty
  value. AutoGPT yields the JSON format on an undeclared ``json`` pin; here it is the
  declared ``json_data``.
"""

from __future__ import annotations

import enum
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
    path_segment,
    platform_cost,
    poll_until,
    raise_for_status,
    stand_in,
)
from autoplat.blocks.schema import pin

PROVIDER = "firecrawl"
_DESCRIPTION = "The Firecrawl integration can be used with an API Key."
#: Seconds between two reads of a crawl job's status.
POLL_INTERVAL = 2.0
#: Result pages of one crawl read at most (each holds many documents).
MAX_PAGES = 100
_ENDED = {"completed", "failed", "cancelled"}


class ScrapeFormat(enum.StrEnum):
    """The formats Firecrawl can return a page in."""

    MARKDOWN = "markdown"
    HTML = "html"
    RAW_HTML = "rawHtml"
    LINKS = "links"
    SCREENSHOT = "screenshot"
    SCREENSHOT_FULL_PAGE = "screenshot@fullPage"
    JSON = "json"
    CHANGE_TRACKING = "changeTracking"


#: format -> (output pin, the page's field, the pin's empty value).
_OUTPUTS: dict[ScrapeFormat, tuple[str, str, Any]] = {
    ScrapeFormat.MARKDOWN: ("markdown", "markdown", ""),
    ScrapeFormat.HTML: ("html", "html", ""),
    ScrapeFormat.RAW_HTML: ("raw_html", "rawHtml", ""),
    ScrapeFormat.LINKS: ("links", "links", []),
    ScrapeFormat.SCREENSHOT: ("screenshot", "screenshot", ""),
    ScrapeFormat.SCREENSHOT_FULL_PAGE: ("screenshot_full_page", "screenshot", ""),
    ScrapeFormat.JSON: ("json_data", "json", {}),
    ScrapeFormat.CHANGE_TRACKING: ("change_tracking", "changeTracking", {}),
}


def wire_formats(formats: list[ScrapeFormat]) -> list[Any]:
    """Firecrawl's ``formats``: names, and the full-page screenshot as its object."""
    return [
        {"type": "screenshot", "fullPage": True}
        if f == ScrapeFormat.SCREENSHOT_FULL_PAGE
        else f.value
        for f in formats
    ]


def _page_outputs(page: dict[str, Any], formats: list[ScrapeFormat]) -> list[tuple[str, Any]]:
    outputs = []
    for f in formats:
        name, field, empty = _OUTPUTS[f]
        value = page.get(field)
        outputs.append((name, value if isinstance(value, type(empty)) else empty))
    return outputs


def _headers(context: BlockContext) -> dict[str, str]:
    return {"Authorization": f"Bearer {api_key(context).get_secret_value()}"}


def _object(answer_json: Any, what: str) -> dict[str, Any]:
    if not isinstance(answer_json, dict):
        raise ProviderError(f"{what}: Firecrawl answered no object")
    return answer_json


class _Options(BlockSchema):
    """The pins the scrape and crawl blocks share (AutoGPT declares them on both)."""

    credentials: CredentialsRefInput = credentials_pin(PROVIDER, _DESCRIPTION)
    url: str = pin(description="The URL to crawl")
    limit: int = pin(10, description="The number of pages to crawl")
    only_main_content: bool = pin(
        True,
        description="Only return the main content of the page excluding headers, navs, "
        "footers, etc.",
    )
    max_age: int = pin(
        3600000, description="The maximum age of the page in milliseconds - default is 1 hour"
    )
    formats: list[ScrapeFormat] = pin(
        default_factory=lambda: [ScrapeFormat.MARKDOWN], description="The format of the crawl"
    )

    def scrape_options(self, wait_for: int) -> dict[str, Any]:
        """Firecrawl's scrape options for these pins."""
        return {
            "formats": wire_formats(self.formats),
            "onlyMainContent": self.only_main_content,
            "maxAge": self.max_age,
            "waitFor": wait_for,
        }


class _Pages(BlockOutputSchema):
    markdown: str = pin(description="The markdown of the crawl")
    html: str = pin(description="The html of the crawl")
    raw_html: str = pin(description="The raw html of the crawl")
    links: list[str] = pin(description="The links of the crawl")
    screenshot: str = pin(description="The screenshot of the crawl")
    screenshot_full_page: str = pin(description="The screenshot full page of the crawl")
    json_data: dict[str, Any] = pin(description="The json data of the crawl")
    change_tracking: dict[str, Any] = pin(description="The change tracking of the crawl")


_TEST_PAGE = {"markdown": "# Example", "metadata": {"sourceURL": "https://example.com"}}


def _test_answer(request: httpx.Request) -> httpx.Response:
    path = request.url.path
    if path.endswith("/v2/scrape"):
        return httpx.Response(200, json={"success": True, "data": _TEST_PAGE})
    if path.endswith("/v2/crawl"):
        return httpx.Response(200, json={"success": True, "id": "job-1", "url": "x"})
    return httpx.Response(200, json={"status": "completed", "total": 1, "data": [_TEST_PAGE]})


class FirecrawlScrapeBlock(Block["FirecrawlScrapeBlock.Input"]):
    """One page, scraped by Firecrawl in the asked formats."""

    class Input(_Options):
        wait_for: int = pin(
            200,
            description="Specify a delay in milliseconds before fetching the content, "
            "allowing the page sufficient time to load.",
        )

    class Output(_Pages):
        data: dict[str, Any] = pin(description="The result of the crawl")

    id = "ac444320-cf5e-4697-b586-2604c17a3e75"
    description = (
        "Firecrawl scrapes a website to extract comprehensive data while bypassing blockers."
    )
    categories = (BlockCategory.SEARCH,)
    costs = (platform_cost(PROVIDER, 1),)
    input_schema = Input
    output_schema = Output
    # AutoGPT has no vectors for this block; these run on an offline stand-in of Firecrawl.
    test_input = [{"credentials": mock_credentials_input(PROVIDER), "url": "https://example.com"}]
    test_output = [("data", _TEST_PAGE), ("markdown", "# Example")]
    test_context = stand_in(_test_answer, PROVIDER, "fc-mock-key")

    async def run(self, input_data: Input, context: BlockContext) -> BlockOutput:
        body = {"url": input_data.url, **input_data.scrape_options(input_data.wait_for)}
        url = f"{context.settings.provider_url('firecrawl')}/v2/scrape"
        answer = await call(context, "POST", url, headers=_headers(context), json=body)
        raise_for_status(answer, "Firecrawl scrape failed")
        page = _object(_object(answer.json(), "Firecrawl scrape").get("data"), "Firecrawl scrape")
        yield "data", page
        for output in _page_outputs(page, input_data.formats):
            yield output


class FirecrawlCrawlBlock(Block["FirecrawlCrawlBlock.Input"]):
    """Crawl a site with Firecrawl: a job, polled until it is done, then its pages."""

    class Input(_Options):
        wait_for: int = pin(
            0,
            description="Specify a delay in milliseconds before fetching the content, "
            "allowing the page sufficient time to load.",
        )

    class Output(_Pages):
        data: list[dict[str, Any]] = pin(description="The result of the crawl")

    id = "bdbbaba0-03b7-4971-970e-699e2de6015e"
    description = (
        "Firecrawl crawls websites to extract comprehensive data while bypassing blockers."
    )
    categories = (BlockCategory.SEARCH,)
    costs = (platform_cost(PROVIDER, 1),)
    input_schema = Input
    output_schema = Output
    test_input = [{"credentials": mock_credentials_input(PROVIDER), "url": "https://example.com"}]
    test_output = [("data", [_TEST_PAGE]), ("markdown", "# Example")]
    test_context = stand_in(_test_answer, PROVIDER, "fc-mock-key")

    async def run(self, input_data: Input, context: BlockContext) -> BlockOutput:
        base = context.settings.provider_url("firecrawl")
        headers = _headers(context)
        body = {
            "url": input_data.url,
            "limit": input_data.limit,
            "scrapeOptions": input_data.scrape_options(input_data.wait_for),
        }
        answer = await call(context, "POST", f"{base}/v2/crawl", headers=headers, json=body)
        raise_for_status(answer, "Firecrawl crawl failed")
        job_id = _object(answer.json(), "Firecrawl crawl").get("id")
        if not isinstance(job_id, str) or not job_id:
            raise ProviderError("Firecrawl crawl: the answer names no job id")
        status_url = f"{base}/v2/crawl/{path_segment(job_id, 'the Firecrawl job id')}"
        size = 0  # bytes of the answer read last

        async def read(url: str = status_url) -> dict[str, Any]:
            nonlocal size
            answer = await call(context, "GET", url, headers=headers)
            raise_for_status(answer, "Firecrawl crawl status failed")
            size = len(answer.content)
            return _object(answer.json(), "Firecrawl crawl status")

        job = await poll_until(
            read,
            lambda state: state.get("status") in _ENDED,
            first=await read(),
            interval=POLL_INTERVAL,
            timeout=context.settings.node_timeout,
            what="the Firecrawl crawl",
        )
        if job.get("status") != "completed":
            # Firecrawl's own text, cut short like every quoted answer.
            reason = str(job.get("error") or "")[:300]
            raise ProviderError(f"Firecrawl crawl {str(job.get('status'))[:50]}: {reason}")
        pages = [p for p in job.get("data") or [] if isinstance(p, dict)]
        next_url = job.get("next")
        # All result pages together are held to one answer's cap, not MAX_PAGES of them.
        limit, total = context.settings.http_max_response_bytes, size
        for _ in range(MAX_PAGES):
            # Only a next page under our base URL is read: the key goes nowhere else.
            if not isinstance(next_url, str) or not next_url.startswith(f"{base}/"):
                break
            more = await read(next_url)
            total += size
            if total > limit:
                raise ProviderError(
                    f"the Firecrawl crawl's results are larger than {limit} bytes "
                    "(http_max_response_bytes); ask for fewer pages"
                )
            pages.extend(p for p in more.get("data") or [] if isinstance(p, dict))
            next_url = more.get("next")
        yield "data", pages
        for page in pages:
            for output in _page_outputs(page, input_data.formats):
                yield output
