"""GitHub pull requests: AutoGPT's ``GithubListPullRequestsBlock`` and
``GithubReadPullRequestBlock`` (``blocks/github/pull_requests.py``).

Invariant: a pull request's title, body and author are read from its issue
(``/issues/{n}``), its changes from ``/pulls/{n}/files``, each file as a unified-diff
header (``--- old``/``+++ new``, the side that does not exist left out) followed by
GitHub's patch, files separated by a blank line, as AutoGPT renders them.
"""

from __future__ import annotations

from typing import Any

import httpx
from typing_extensions import TypedDict

from autoplat.blocks.base import (
    Block,
    BlockCategory,
    BlockContext,
    BlockOutput,
    BlockOutputSchema,
    BlockSchema,
)
from autoplat.blocks.builtin.integrations import github_api as gh
from autoplat.blocks.builtin.integrations._base import CredentialsRefInput, ProviderError, stand_in
from autoplat.blocks.schema import pin


class PRItem(TypedDict):
    """One pull request as listed: its title and web URL."""

    title: str
    url: str


def render_changes(files: list[Any]) -> str:
    """The files of a pull request as AutoGPT's ``changes`` text."""
    changes = []
    for entry in files:
        if not isinstance(entry, dict):
            continue
        status = str(entry.get("status", ""))
        name = str(entry.get("filename", ""))
        if status == "removed":
            old, new = name, ""
        else:
            old = "" if status == "added" else str(entry.get("previous_filename", name))
            new = name
        header = (f"--- {old}\n" if old else "") + (f"+++ {new}\n" if new else "")
        changes.append(header + str(entry.get("patch", "")))
    return "\n\n".join(changes)


def _vector_answer(request: httpx.Request) -> httpx.Response:
    path = request.url.path
    if path.endswith("/pulls"):
        return gh.json_answer(
            [{"title": "Pull request 1", "html_url": "https://github.com/owner/repo/pull/1"}]
        )
    if path.endswith("/issues/1"):
        body = "This is the body of the pull request."
        return gh.json_answer(
            {"title": "Title of the pull request", "body": body, "user": {"login": "username"}}
        )
    if path.endswith("/pulls/1/files"):
        # AutoGPT mocks the rendered text; an added file without a name renders as its patch.
        patch = "List of changes made in the pull request."
        return gh.json_answer([{"status": "added", "filename": "", "patch": patch}])
    return gh.json_answer({"message": "Not Found"}, 404)


_TEST_CONTEXT = stand_in(_vector_answer, gh.PROVIDER, gh.MOCK_KEY)


class GithubListPullRequestsBlock(Block["GithubListPullRequestsBlock.Input"]):
    """The open pull requests of a repository (GitHub's first page)."""

    class Input(BlockSchema):
        credentials: CredentialsRefInput = gh.github_credentials_pin()
        repo_url: str = pin(
            description="URL of the GitHub repository", placeholder="https://github.com/owner/repo"
        )

    class Output(BlockOutputSchema):
        pull_request: PRItem = pin(title="Pull Request", description="PRs with their title and URL")
        pull_requests: list[PRItem] = pin(
            description="List of pull requests with their title and URL"
        )
        error: str = pin("", description="Error message if listing pull requests failed")

    id = "ffef3c4c-6cd0-48dd-817d-459f975219f4"
    description = "This block lists all pull requests for a specified GitHub repository."
    categories = (BlockCategory.DEVELOPER_TOOLS,)
    input_schema = Input
    output_schema = Output
    test_input = [{"repo_url": "https://github.com/owner/repo", "credentials": gh.MOCK_INPUT}]
    test_output = [
        (
            "pull_requests",
            [{"title": "Pull request 1", "url": "https://github.com/owner/repo/pull/1"}],
        ),
        (
            "pull_request",
            {"title": "Pull request 1", "url": "https://github.com/owner/repo/pull/1"},
        ),
    ]
    test_context = _TEST_CONTEXT

    async def run(self, input_data: Input, context: BlockContext) -> BlockOutput:
        pulls = await gh.list_items(context, input_data.repo_url, "pulls", "a pull request list")
        yield "pull_requests", pulls
        for pull in pulls:
            yield "pull_request", pull


class GithubReadPullRequestBlock(Block["GithubReadPullRequestBlock.Input"]):
    """The title, body and author of a pull request, and optionally its changes."""

    class Input(BlockSchema):
        credentials: CredentialsRefInput = gh.github_credentials_pin()
        pr_url: str = pin(
            description="URL of the GitHub pull request",
            placeholder="https://github.com/owner/repo/pull/1",
        )
        include_pr_changes: bool = pin(
            False,
            advanced=False,
            description="Whether to include the changes made in the pull request",
        )

    class Output(BlockOutputSchema):
        title: str = pin(description="Title of the pull request")
        body: str = pin(description="Body of the pull request")
        author: str = pin(description="User who created the pull request")
        changes: str = pin(description="Changes made in the pull request")
        error: str = pin("", description="Error message if reading the pull request failed")

    id = "bf94b2a4-1a30-4600-a783-a8a44ee31301"
    description = (
        "This block reads the body, title, user, and changes of a specified GitHub pull request."
    )
    categories = (BlockCategory.DEVELOPER_TOOLS,)
    input_schema = Input
    output_schema = Output
    test_input = [
        {
            "pr_url": "https://github.com/owner/repo/pull/1",
            "include_pr_changes": True,
            "credentials": gh.MOCK_INPUT,
        }
    ]
    test_output = [
        ("title", "Title of the pull request"),
        ("body", "This is the body of the pull request."),
        ("author", "username"),
        ("changes", "List of changes made in the pull request."),
    ]
    test_context = _TEST_CONTEXT

    async def run(self, input_data: Input, context: BlockContext) -> BlockOutput:
        url, kinds = input_data.pr_url, ("pull", "pulls")
        issue = await gh.read_issue(context, url, kinds, "a pull request")
        yield "title", str(issue.get("title", "No title found"))
        yield "body", str(issue.get("body") or "")
        yield "author", str((issue.get("user") or {}).get("login", "Unknown author"))
        if input_data.include_pr_changes:
            files_url = gh.api_url(context, url, "pulls", gh.numbered(url, kinds), "files")
            files = await gh.request(context, "GET", files_url)
            if not isinstance(files, list):
                raise ProviderError("GitHub answered a file list that is not a list")
            yield "changes", render_changes(files)
