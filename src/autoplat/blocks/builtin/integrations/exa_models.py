"""Exa's request settings and answer shapes, as AutoGPT's ``exa/helpers.py`` declares them.

Invariant: the pin models keep AutoGPT's field names (snake_case, as graphs hold them); the
functions here are the only place they turn into Exa's camelCase body, sending a setting
only when it is set (AutoGPT's rule, so Exa's own defaults apply otherwise).
"""

from __future__ import annotations

import enum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from autoplat.blocks.schema import pin


class ExaSearchTypes(enum.StrEnum):
    """Exa's search types."""

    KEYWORD = "keyword"
    NEURAL = "neural"
    FAST = "fast"
    AUTO = "auto"


class ExaSearchCategories(enum.StrEnum):
    """The categories Exa can search within."""

    COMPANY = "company"
    RESEARCH_PAPER = "research paper"
    NEWS = "news"
    PDF = "pdf"
    GITHUB = "github"
    TWEET = "tweet"
    PERSONAL_SITE = "personal site"
    LINKEDIN_PROFILE = "linkedin profile"
    FINANCIAL_REPORT = "financial report"


class LivecrawlTypes(enum.StrEnum):
    """When Exa crawls a page live instead of reading its cache."""

    NEVER = "never"
    FALLBACK = "fallback"
    ALWAYS = "always"
    PREFERRED = "preferred"


class TextEnabled(BaseModel):
    discriminator: Literal["enabled"] = "enabled"


class TextDisabled(BaseModel):
    discriminator: Literal["disabled"] = "disabled"


class TextAdvanced(BaseModel):
    discriminator: Literal["advanced"] = "advanced"
    max_characters: int | None = pin(None, description="Maximum number of characters to return")
    include_html_tags: bool = pin(
        False, description="Include HTML tags in the response, helps LLMs understand structure"
    )


class HighlightSettings(BaseModel):
    num_sentences: int = pin(1, ge=1, description="Number of sentences per highlight")
    highlights_per_url: int = pin(1, ge=1, description="Number of highlights per URL")
    query: str | None = pin(None, description="Custom query to direct the choice of highlights")


class SummarySettings(BaseModel):
    query: str | None = pin(None, description="Custom query for the LLM-generated summary")
    # Exa's field is ``schema``; the alias keeps BaseModel.schema unshadowed.
    summary_schema: dict[str, Any] | None = Field(
        None, alias="schema", description="JSON schema for structured output from summary"
    )

    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)


class ExtrasSettings(BaseModel):
    links: int = pin(0, ge=0, description="Number of URLs to return from each webpage")
    image_links: int = pin(0, ge=0, description="Number of images to return for each result")


class ContextEnabled(BaseModel):
    discriminator: Literal["enabled"] = "enabled"


class ContextDisabled(BaseModel):
    discriminator: Literal["disabled"] = "disabled"


class ContextAdvanced(BaseModel):
    discriminator: Literal["advanced"] = "advanced"
    max_characters: int | None = pin(None, description="Maximum characters of the context")


class ContentSettings(BaseModel):
    """AutoGPT's content retrieval settings of a search."""

    text: bool | TextEnabled | TextDisabled | TextAdvanced | None = pin(
        None, description="Text content retrieval: on/off, or advanced settings"
    )
    highlights: HighlightSettings | None = pin(
        None, description="Text snippets most relevant from each page"
    )
    summary: SummarySettings | None = pin(None, description="LLM-generated summary of the page")
    livecrawl: LivecrawlTypes | None = pin(
        None, description="Livecrawling options: never, fallback, always, preferred"
    )
    livecrawl_timeout: int | None = pin(None, description="Livecrawl timeout in milliseconds")
    subpages: int | None = pin(None, ge=0, description="Number of subpages to crawl")
    subpage_target: str | list[str] | None = pin(
        None, description="Keyword(s) to find specific subpages of search results"
    )
    extras: ExtrasSettings | None = pin(None, description="Extra parameters")
    context: bool | ContextEnabled | ContextDisabled | ContextAdvanced | None = pin(
        None, description="Format search results into a context string for LLMs"
    )


class ExaSearchExtras(BaseModel):
    links: list[str] = Field(default_factory=list)
    imageLinks: list[str] = Field(default_factory=list)


class ExaSearchResults(BaseModel):
    """One result as AutoGPT's blocks give it."""

    model_config = ConfigDict(extra="ignore")

    title: str | None = None
    url: str | None = None
    publishedDate: str | None = None
    author: str | None = None
    id: str = ""
    image: str | None = None
    favicon: str | None = None
    text: str | None = None
    highlights: list[str] = Field(default_factory=list)
    highlightScores: list[float] = Field(default_factory=list)
    summary: str | None = None
    subpages: list[dict[str, Any]] = Field(default_factory=list)
    extras: ExaSearchExtras | None = None


class CostDollars(BaseModel):
    """Exa's cost breakdown of a request (kept as Exa answers it, total required)."""

    model_config = ConfigDict(extra="allow")

    total: float


def _text(value: bool | TextEnabled | TextDisabled | TextAdvanced | None) -> Any:
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, TextDisabled):
        return False
    if isinstance(value, TextAdvanced):
        advanced: dict[str, Any] = {}
        if value.max_characters:
            advanced["maxCharacters"] = value.max_characters
        if value.include_html_tags:
            advanced["includeHtmlTags"] = True
        return advanced or True
    return True


def _context(value: bool | ContextEnabled | ContextDisabled | ContextAdvanced | None) -> Any:
    # Disabled (or False) sends nothing at all, as AutoGPT does.
    if value is None or value is False or isinstance(value, ContextDisabled):
        return None
    if isinstance(value, ContextAdvanced) and value.max_characters:
        return {"maxCharacters": value.max_characters}
    return True


def highlights_body(settings: HighlightSettings) -> dict[str, Any]:
    """Exa's ``highlights`` object."""
    body: dict[str, Any] = {
        "numSentences": settings.num_sentences,
        "highlightsPerUrl": settings.highlights_per_url,
    }
    if settings.query:
        body["query"] = settings.query
    return body


def summary_body(settings: SummarySettings) -> dict[str, Any]:
    """Exa's ``summary`` object."""
    body: dict[str, Any] = {}
    if settings.query:
        body["query"] = settings.query
    if settings.summary_schema:
        body["schema"] = settings.summary_schema
    return body


def extras_body(settings: ExtrasSettings) -> dict[str, int]:
    """Exa's ``extras`` object (only the counts that are set)."""
    body = {"links": settings.links, "imageLinks": settings.image_links}
    return {k: v for k, v in body.items() if v}


def contents_body(contents: ContentSettings) -> dict[str, Any]:
    """The ``contents`` object of a search: only the settings that are set."""
    body: dict[str, Any] = {}
    text = _text(contents.text)
    if text is not None:
        body["text"] = text
    if contents.highlights:
        body["highlights"] = highlights_body(contents.highlights)
    if contents.summary:
        body["summary"] = summary_body(contents.summary)
    if contents.livecrawl:
        body["livecrawl"] = contents.livecrawl.value
    if contents.livecrawl_timeout is not None:
        body["livecrawlTimeout"] = contents.livecrawl_timeout
    if contents.subpages is not None:
        body["subpages"] = contents.subpages
    if contents.subpage_target:
        body["subpageTarget"] = contents.subpage_target
    if contents.extras:
        body["extras"] = extras_body(contents.extras)
    context = _context(contents.context)
    if context is not None:
        body["context"] = context
    return body
