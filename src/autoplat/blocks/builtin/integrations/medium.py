"""Publishing to Medium: AutoGPT's ``PublishToMediumBlock``.

Invariant: the post is created with one ``POST /v1/users/{author}/posts`` carrying the
integration token as a bearer token, to Medium's base URL only. An empty ``author_id`` (the
shared Medium Blogger template leaves it empty; AutoGPT then falls back to a platform
secret) is looked up with ``GET /v1/me``, whose ``id`` is the token owner's author id.
"""

from __future__ import annotations

import enum
import json
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
    Answer,
    CredentialsRefInput,
    ProviderError,
    api_key,
    call,
    credentials_pin,
    mock_credentials_input,
    raise_for_status,
    stand_in,
)
from autoplat.blocks.schema import pin

PROVIDER = "medium"


class PublishToMediumStatus(enum.StrEnum):
    """Medium's publish states."""

    PUBLIC = "public"
    DRAFT = "draft"
    UNLISTED = "unlisted"


def _medium_error(answer: Answer) -> str:
    try:
        body = json.loads(answer.content)
        message = body["errors"][0]["message"]
    except (ValueError, KeyError, IndexError, TypeError):
        return "Unknown error occurred"
    return str(message)


def _test_answer(request: httpx.Request) -> httpx.Response:
    return httpx.Response(
        201,
        json={
            "data": {
                "id": "e6f36a",
                "url": "https://medium.com/@username/test-post-e6f36a",
                "authorId": "1234567890abcdef",
                "publishedAt": 1626282600,
            }
        },
    )


class PublishToMediumBlock(Block["PublishToMediumBlock.Input"]):
    """Create a post on Medium; its id, URL and publication time."""

    class Input(BlockSchema):
        author_id: str = pin(
            "",
            advanced=False,
            description="The Medium AuthorID of the user. You can get this by calling the /me "
            "endpoint of the Medium API (empty: the credentials' owner).",
            placeholder="Enter the author's Medium AuthorID",
            secret=True,
        )
        title: str = pin(
            description="The title of your Medium post", placeholder="Enter your post title"
        )
        content: str = pin(
            description="The main content of your Medium post",
            placeholder="Enter your post content",
        )
        content_format: str = pin(
            description="The format of the content: 'html' or 'markdown'", placeholder="html"
        )
        tags: list[str] = pin(
            description="List of tags for your Medium post (up to 5)",
            placeholder="['technology', 'AI', 'blogging']",
        )
        canonical_url: str | None = pin(
            None,
            description="The original home of this content, if it was originally published "
            "elsewhere",
            placeholder="https://yourblog.com/original-post",
        )
        publish_status: PublishToMediumStatus = pin(
            description="The publish status", placeholder="draft"
        )
        license: str = pin(
            "all-rights-reserved",
            description="The license of the post: 'all-rights-reserved', 'cc-40-by', "
            "'cc-40-by-sa', 'cc-40-by-nd', 'cc-40-by-nc', 'cc-40-by-nc-nd', 'cc-40-by-nc-sa', "
            "'cc-40-zero', 'public-domain'",
            placeholder="all-rights-reserved",
        )
        notify_followers: bool = pin(
            False,
            description="Whether to notify followers that the user has published",
            placeholder="False",
        )
        credentials: CredentialsRefInput = credentials_pin(
            PROVIDER,
            "The Medium integration can be used with any API key with sufficient permissions "
            "for the blocks it is used on.",
        )

    class Output(BlockOutputSchema):
        post_id: str = pin(description="The ID of the created Medium post")
        post_url: str = pin(description="The URL of the created Medium post")
        published_at: int = pin(description="The timestamp when the post was published")
        error: str = pin("", description="Error message if the post creation failed")

    id = "3f7b2dcb-4a78-4e3f-b0f1-88132e1b89df"
    description = "Publishes a post to Medium."
    categories = (BlockCategory.BASIC,)
    # Posts in the user's name: under the sensitive-action safe mode a person approves first.
    is_sensitive_action = True
    input_schema = Input
    output_schema = Output
    test_input = [
        {
            "author_id": "1234567890abcdef",
            "title": "Test Post",
            "content": "<h1>Test Content</h1><p>This is a test post.</p>",
            "content_format": "html",
            "tags": ["test", "automation"],
            "license": "all-rights-reserved",
            "notify_followers": False,
            "publish_status": "draft",
            "credentials": mock_credentials_input(PROVIDER),
        }
    ]
    test_output = [
        ("post_id", "e6f36a"),
        ("post_url", "https://medium.com/@username/test-post-e6f36a"),
        ("published_at", 1626282600),
    ]
    test_context = stand_in(_test_answer, PROVIDER, "mock-medium-api-key")

    async def run(self, input_data: Input, context: BlockContext) -> BlockOutput:
        base = context.settings.provider_url("medium")
        headers = {
            "Authorization": f"Bearer {api_key(context).get_secret_value()}",
            "Accept": "application/json",
        }
        author = input_data.author_id.strip()
        if not author:
            me = await call(context, "GET", f"{base}/v1/me", headers=headers)
            raise_for_status(me, "Failed to look up the Medium author")
            found = me.json()
            data = found.get("data") if isinstance(found, dict) else None
            author = str(data.get("id", "")) if isinstance(data, dict) else ""
            if not author:
                raise ProviderError("Failed to look up the Medium author: no id in /v1/me")
        body = {
            "title": input_data.title,
            "content": input_data.content,
            "contentFormat": input_data.content_format,
            "tags": input_data.tags,
            "canonicalUrl": input_data.canonical_url,
            "publishStatus": input_data.publish_status.value,
            "license": input_data.license,
            "notifyFollowers": input_data.notify_followers,
        }
        url = f"{base}/v1/users/{urllib.parse.quote(author, safe='')}/posts"
        answer = await call(context, "POST", url, headers=headers, json=body)
        try:
            post = json.loads(answer.content)
        except ValueError:
            post = None
        data = post.get("data") if isinstance(post, dict) else None
        if not answer.ok or not isinstance(data, dict):
            raise ProviderError(f"Failed to create Medium post: {_medium_error(answer)}")
        yield "post_id", str(data["id"])
        yield "post_url", str(data["url"])
        yield "published_at", int(data["publishedAt"])
