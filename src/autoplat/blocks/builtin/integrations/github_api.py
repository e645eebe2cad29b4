"""What the GitHub blocks share: the pin, the headers, and github.com URLs turned into API paths.

Invariants: a block takes the web URL a user copies (``https://github.com/owner/repo``,
``…/issues/1``, ``…/pull/1``) as AutoGPT's do, and only a github.com URL: its owner and
repository become ``{api}/repos/{owner}/{repo}/…`` (each part one segment, so no ``..``
climbs out of the repository) on ``provider_url("github")`` (the
public ``https://api.github.com`` or the operator's replacement), so the token never goes
to a host a graph author chose. Each request carries ``Authorization: Bearer <token>``
(a personal access token or an OAuth access token) and ``Accept: application/vnd.github+json``.
A refused request is a ProviderError quoting GitHub's answer, never the request's headers.
"""

from __future__ import annotations

import urllib.parse
from typing import Any

import httpx
from typing_extensions import TypedDict

from autoplat.blocks.base import BlockContext
from autoplat.blocks.builtin.integrations._base import (
    TEST_CREDENTIALS_ID,
    ProviderError,
    call,
    path_segment,
    raise_for_status,
)
from autoplat.blocks.builtin.integrations._tokens import bearer_token, scoped_credentials_pin

PROVIDER = "github"
_DESCRIPTION = (
    "The GitHub integration can be used with OAuth, or any API key with sufficient "
    "permissions for the blocks it is used on."
)
_HOSTS = frozenset({"github.com", "www.github.com"})
#: AutoGPT's mock key in the GitHub blocks' vectors.
MOCK_KEY = "mock-github-api-key"
#: AutoGPT's ``TEST_CREDENTIALS_INPUT`` for GitHub (its title is the type, as there).
MOCK_INPUT = {
    "provider": PROVIDER,
    "id": TEST_CREDENTIALS_ID,
    "type": "api_key",
    "title": "api_key",
}


def github_credentials_pin(scope: str = "repo") -> Any:
    """The ``credentials`` pin of a GitHub block: a key or OAuth, needing ``scope``."""
    return scoped_credentials_pin(PROVIDER, _DESCRIPTION, ("api_key", "oauth2"), (scope,))


def repo_path(url: str) -> tuple[str, str, list[str]]:
    """``owner``, ``repo`` and the rest of the path of a github.com URL; ValueError else."""
    parts = urllib.parse.urlsplit(url.strip())
    segments = [s for s in parts.path.split("/") if s]
    if parts.scheme not in ("http", "https") or parts.hostname not in _HOSTS or len(segments) < 2:
        raise ProviderError(
            "The input URL must be a valid GitHub URL (https://github.com/owner/repo/...)"
        )
    return segments[0], segments[1], segments[2:]


def api_url(context: BlockContext, url: str, *rest: str) -> str:
    """The API URL of the repository named by ``url`` followed by ``rest``: each part one
    quoted segment, never ``.`` or ``..`` (``github.com/../user`` cannot reach ``/user``)."""
    owner, repo, _ = repo_path(url)
    path = "/".join(path_segment(p, "the GitHub path part") for p in (owner, repo, *rest))
    return f"{context.settings.provider_url('github')}/repos/{path}"


def numbered(url: str, kinds: tuple[str, ...]) -> str:
    """The number after ``/issues/`` or ``/pull/`` in ``url`` (one of ``kinds``)."""
    _, _, rest = repo_path(url)
    if len(rest) >= 2 and rest[0] in kinds and rest[1].isdigit():
        return rest[1]
    raise ProviderError(f"The URL must name a GitHub {' or '.join(kinds)} item: {url[:200]}")


def headers(context: BlockContext) -> dict[str, str]:
    """GitHub's REST headers with the node's token."""
    return {
        "Authorization": f"Bearer {bearer_token(context, api_key=True)}",
        "Accept": "application/vnd.github+json",
        "X-GitHub-Api-Version": "2022-11-28",
    }


async def request(
    context: BlockContext,
    method: str,
    url: str,
    *,
    params: dict[str, str] | None = None,
    **body: Any,
) -> Any:
    """One GitHub API call: its JSON answer, or ProviderError / ProviderUnavailable."""
    answer = await call(context, method, url, headers=headers(context), params=params, **body)
    raise_for_status(answer, f"GitHub {method} {urllib.parse.urlsplit(url).path}")
    return answer.json()


async def read_issue(
    context: BlockContext, url: str, kinds: tuple[str, ...], what: str
) -> dict[str, Any]:
    """The issue object of the item numbered in ``url`` (one of ``kinds``): GitHub serves
    an issue's and a pull request's title, body and author alike on ``/issues/{n}``.
    ProviderError when the answer is not an object (``what``: the item's name)."""
    number = numbered(url, kinds)
    issue = await request(context, "GET", api_url(context, url, "issues", number))
    if not isinstance(issue, dict):
        raise ProviderError(f"GitHub answered {what} that is not an object")
    return issue


class Listed(TypedDict):
    """An issue or a pull request as a repository's list shows it: title and web URL."""

    title: str
    url: str


async def list_items(context: BlockContext, repo_url: str, kind: str, what: str) -> list[Listed]:
    """The repository's ``kind`` list (``issues``, ``pulls``) as titles and web URLs;
    ProviderError when GitHub answers something other than a list (``what``: its name)."""
    data = await request(context, "GET", api_url(context, repo_url, kind))
    if not isinstance(data, list):
        raise ProviderError(f"GitHub answered {what} that is not a list")
    return [
        {"title": str(item.get("title", "")), "url": str(item.get("html_url", ""))}
        for item in data
        if isinstance(item, dict)
    ]


def json_answer(body: Any, status: int = 200) -> httpx.Response:
    """A stand-in answer (self-tests)."""
    return httpx.Response(status, json=body)
