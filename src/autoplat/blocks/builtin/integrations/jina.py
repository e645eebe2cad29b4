"""Jina's search (s.jina.ai) and reader (r.jina.ai): AutoGPT's ``jina/search.py`` blocks.

Invariant: the Jina key goes only to Jina's (or the operator's replacement) base URL; a raw
scrape of a graph author's URL carries no key and goes through the HTTP block's checked
path (public addresses only, checked redirects, capped body).
"""

from __future__ import annotations

import urllib.parse

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
    ProviderUnavailable,
    api_key,
    call,
    credentials_pin,
    mock_credentials_input,
    platform_cost,
    stand_in,
)
from autoplat.blocks.builtin.web_request import send_request
from autoplat.blocks.schema import pin
from autoplat.errors import BlockRunError

PROVIDER = "jina"
_DESCRIPTION = "The Jina integration can be used with an API Key."


def _headers(context: BlockContext) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "Authorization": f"Bearer {api_key(context).get_secret_value()}",
    }


def _text_answer(text: str) -> httpx.Response:
    return httpx.Response(200, text=text)


class SearchTheWebBlock(Block["SearchTheWebBlock.Input"]):
    """Search the web with Jina Search: the text of the top results."""

    class Input(BlockSchema):
        credentials: CredentialsRefInput = credentials_pin(PROVIDER, _DESCRIPTION)
        query: str = pin(description="The search query to search the web for")

    class Output(BlockOutputSchema):
        results: str = pin(description="The search results including content from top 5 URLs")

    id = "87840993-2053-44b7-8da4-187ad4ee518c"
    description = "This block searches the internet for the given search query."
    categories = (BlockCategory.SEARCH,)
    costs = (platform_cost(PROVIDER, 1),)
    input_schema = Input
    output_schema = Output
    test_input = [
        {"credentials": mock_credentials_input(PROVIDER), "query": "Artificial Intelligence"}
    ]
    test_output = [("results", "search content")]
    test_context = stand_in(lambda request: _text_answer("search content"), PROVIDER, "mock-jina")

    async def run(self, input_data: Input, context: BlockContext) -> BlockOutput:
        query = urllib.parse.quote(input_data.query)
        url = f"{context.settings.provider_url('jina_search')}/{query}"
        try:
            answer = await call(context, "GET", url, headers=_headers(context))
        except ProviderUnavailable as exc:
            raise BlockRunError(f"Search service unavailable: {exc}") from None
        if answer.status >= 500:
            raise BlockRunError(
                f"Search service unavailable: HTTP {answer.status}: {answer.quote()}"
            )
        if not answer.ok:
            raise BlockRunError(f"Search request failed: HTTP {answer.status}: {answer.quote()}")
        yield "results", answer.text()


class ExtractWebsiteContentBlock(Block["ExtractWebsiteContentBlock.Input"]):
    """The content of a web page, read by Jina Reader (or fetched raw)."""

    class Input(BlockSchema):
        credentials: CredentialsRefInput = credentials_pin(PROVIDER, _DESCRIPTION)
        url: str = pin(description="The URL to scrape the content from")
        raw_content: bool = pin(
            False,
            title="Raw Content",
            description="Whether to do a raw scrape of the content or use Jina-ai Reader to "
            "scrape the content",
        )

    class Output(BlockOutputSchema):
        content: str = pin(description="The scraped content from the given URL")
        error: str = pin("", description="Error message if the content cannot be retrieved")

    id = "436c3984-57fd-4b85-8e9a-459b356883bd"
    description = "This block scrapes the content from the given web URL."
    categories = (BlockCategory.SEARCH,)
    costs = (platform_cost(PROVIDER, 1, raw_content=False),)
    input_schema = Input
    output_schema = Output
    test_input = [
        {
            "url": "https://en.wikipedia.org/wiki/Artificial_intelligence",
            "credentials": mock_credentials_input(PROVIDER),
        }
    ]
    test_output = [("content", "scraped content")]
    test_context = stand_in(lambda request: _text_answer("scraped content"), PROVIDER, "mock-jina")

    async def run(self, input_data: Input, context: BlockContext) -> BlockOutput:
        if input_data.raw_content:
            # The author's URL: the checked path of the HTTP block, and no key.
            response, content = await send_request(context, "GET", input_data.url, {}, {})
            if not response.is_success:
                raise ProviderError(f"HTTP {response.status_code} from {response.url.host}")
            yield "content", content.decode(response.encoding or "utf-8", "replace")
            return
        url = f"{context.settings.provider_url('jina_reader')}/{input_data.url}"
        answer = await call(context, "GET", url, headers=_headers(context))
        if not answer.ok:
            raise ProviderError(f"Jina Reader: HTTP {answer.status}: {answer.quote()}")
        yield "content", answer.text()
