"""GitHub issues: AutoGPT's ``GithubReadIssueBlock``, ``GithubListIssuesBlock``,
``GithubMakeIssueBlock`` and ``GithubCommentBlock`` (``blocks/github/issues.py``).

Invariant: every call goes through ``github_api`` (github.com URLs only, the API base the
operator configured, the node's token); a comment on a pull request is posted on its issue
(GitHub keeps a PR's conversation under ``/issues/{n}/comments``), as AutoGPT does.
"""

from __future__ import annotations

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

_ISSUE_PLACEHOLDER = "https://github.com/owner/repo/issues/1"
_REPO_PLACEHOLDER = "https://github.com/owner/repo"


class IssueItem(TypedDict):
    """One issue as listed: its title and web URL."""

    title: str
    url: str


def _vector_answer(request: httpx.Request) -> httpx.Response:
    """GitHub's answers to AutoGPT's vectors (AutoGPT mocks the call; we answer the wire)."""
    path, method = request.url.path, request.method
    if method == "POST" and path.endswith("/comments"):
        url = "https://github.com/owner/repo/issues/1#issuecomment-1337"
        return gh.json_answer({"id": 1337, "html_url": url}, 201)
    if method == "POST" and path.endswith("/issues"):
        return gh.json_answer(
            {"number": 1, "html_url": "https://github.com/owner/repo/issues/1"}, 201
        )
    if path.endswith("/issues"):
        return gh.json_answer(
            [{"title": "Issue 1", "html_url": "https://github.com/owner/repo/issues/1"}]
        )
    if path.endswith("/issues/1"):
        body = "This is the body of the issue."
        return gh.json_answer(
            {"title": "Title of the issue", "body": body, "user": {"login": "username"}}
        )
    return gh.json_answer({"message": "Not Found"}, 404)


_TEST_CONTEXT = stand_in(_vector_answer, gh.PROVIDER, gh.MOCK_KEY)


class GithubCommentBlock(Block["GithubCommentBlock.Input"]):
    """Post a comment on an issue or pull request."""

    class Input(BlockSchema):
        credentials: CredentialsRefInput = gh.github_credentials_pin()
        issue_url: str = pin(
            description="URL of the GitHub issue or pull request", placeholder=_ISSUE_PLACEHOLDER
        )
        comment: str = pin(
            description="Comment to post on the issue or pull request",
            placeholder="Enter your comment",
        )

    class Output(BlockOutputSchema):
        id: int = pin(description="ID of the created comment")
        url: str = pin(description="URL to the comment on GitHub")
        error: str = pin("", description="Error message if the comment posting failed")

    id = "a8db4d8d-db1c-4a25-a1b0-416a8c33602b"
    description = "This block posts a comment on a specified GitHub issue or pull request."
    categories = (BlockCategory.DEVELOPER_TOOLS,)
    # Acts in the user's name: under the sensitive-action safe mode a person approves first.
    is_sensitive_action = True
    input_schema = Input
    output_schema = Output
    test_input = [
        {
            "issue_url": "https://github.com/owner/repo/issues/1",
            "comment": "This is a test comment.",
            "credentials": gh.MOCK_INPUT,
        },
        {
            "issue_url": "https://github.com/owner/repo/pull/1",
            "comment": "This is a test comment.",
            "credentials": gh.MOCK_INPUT,
        },
    ]
    test_output = [
        ("id", 1337),
        ("url", "https://github.com/owner/repo/issues/1#issuecomment-1337"),
        ("id", 1337),
        ("url", "https://github.com/owner/repo/issues/1#issuecomment-1337"),
    ]
    test_context = _TEST_CONTEXT

    async def run(self, input_data: Input, context: BlockContext) -> BlockOutput:
        number = gh.numbered(input_data.issue_url, ("issues", "pull"))
        url = gh.api_url(context, input_data.issue_url, "issues", number, "comments")
        comment = await gh.request(context, "POST", url, json={"body": input_data.comment})
        try:
            comment_id, html_url = int(comment["id"]), str(comment["html_url"])
        except (KeyError, TypeError, ValueError):
            raise ProviderError("GitHub answered a comment without id or html_url") from None
        yield "id", comment_id
        yield "url", html_url


class GithubMakeIssueBlock(Block["GithubMakeIssueBlock.Input"]):
    """Open a new issue on a repository."""

    class Input(BlockSchema):
        credentials: CredentialsRefInput = gh.github_credentials_pin()
        repo_url: str = pin(
            description="URL of the GitHub repository", placeholder=_REPO_PLACEHOLDER
        )
        title: str = pin(description="Title of the issue", placeholder="Enter the issue title")
        body: str = pin(description="Body of the issue", placeholder="Enter the issue body")

    class Output(BlockOutputSchema):
        number: int = pin(description="Number of the created issue")
        url: str = pin(description="URL of the created issue")
        error: str = pin("", description="Error message if the issue creation failed")

    id = "691dad47-f494-44c3-a1e8-05b7990f2dab"
    description = "This block creates a new issue on a specified GitHub repository."
    categories = (BlockCategory.DEVELOPER_TOOLS,)
    # Acts in the user's name: under the sensitive-action safe mode a person approves first.
    is_sensitive_action = True
    input_schema = Input
    output_schema = Output
    test_input = [
        {
            "repo_url": "https://github.com/owner/repo",
            "title": "Test Issue",
            "body": "This is a test issue.",
            "credentials": gh.MOCK_INPUT,
        }
    ]
    test_output = [("number", 1), ("url", "https://github.com/owner/repo/issues/1")]
    test_context = _TEST_CONTEXT

    async def run(self, input_data: Input, context: BlockContext) -> BlockOutput:
        url = gh.api_url(context, input_data.repo_url, "issues")
        body = {"title": input_data.title, "body": input_data.body}
        issue = await gh.request(context, "POST", url, json=body)
        try:
            number, html_url = int(issue["number"]), str(issue["html_url"])
        except (KeyError, TypeError, ValueError):
            raise ProviderError("GitHub answered an issue without number or html_url") from None
        yield "number", number
        yield "url", html_url


class GithubReadIssueBlock(Block["GithubReadIssueBlock.Input"]):
    """The title, body and author of an issue."""

    class Input(BlockSchema):
        credentials: CredentialsRefInput = gh.github_credentials_pin()
        issue_url: str = pin(description="URL of the GitHub issue", placeholder=_ISSUE_PLACEHOLDER)

    class Output(BlockOutputSchema):
        title: str = pin(description="Title of the issue")
        body: str = pin(description="Body of the issue")
        user: str = pin(description="User who created the issue")
        error: str = pin("", description="Error message if reading the issue failed")

    id = "6443c75d-032a-4772-9c08-230c707c8acc"
    description = "This block reads the body, title, and user of a specified GitHub issue."
    categories = (BlockCategory.DEVELOPER_TOOLS,)
    input_schema = Input
    output_schema = Output
    test_input = [
        {"issue_url": "https://github.com/owner/repo/issues/1", "credentials": gh.MOCK_INPUT}
    ]
    test_output = [
        ("title", "Title of the issue"),
        ("body", "This is the body of the issue."),
        ("user", "username"),
    ]
    test_context = _TEST_CONTEXT

    async def run(self, input_data: Input, context: BlockContext) -> BlockOutput:
        issue = await gh.read_issue(context, input_data.issue_url, ("issues", "pull"), "an issue")
        # AutoGPT's placeholders for missing fields; an empty value is not output (as there).
        title = issue.get("title", "No title found")
        body = issue.get("body", "No body content found")
        user = (issue.get("user") or {}).get("login", "No user found")
        if title:
            yield "title", str(title)
        if body:
            yield "body", str(body)
        if user:
            yield "user", str(user)


class GithubListIssuesBlock(Block["GithubListIssuesBlock.Input"]):
    """The issues of a repository (GitHub's first page), as a list and one by one."""

    class Input(BlockSchema):
        credentials: CredentialsRefInput = gh.github_credentials_pin()
        repo_url: str = pin(
            description="URL of the GitHub repository", placeholder=_REPO_PLACEHOLDER
        )

    class Output(BlockOutputSchema):
        issue: IssueItem = pin(title="Issue", description="Issues with their title and URL")
        issues: list[IssueItem] = pin(description="List of issues with their title and URL")
        error: str = pin("", description="Error message if listing issues failed")

    id = "c215bfd7-0e57-4573-8f8c-f7d4963dcd74"
    description = "This block lists all issues for a specified GitHub repository."
    categories = (BlockCategory.DEVELOPER_TOOLS,)
    input_schema = Input
    output_schema = Output
    test_input = [{"repo_url": "https://github.com/owner/repo", "credentials": gh.MOCK_INPUT}]
    test_output = [
        ("issues", [{"title": "Issue 1", "url": "https://github.com/owner/repo/issues/1"}]),
        ("issue", {"title": "Issue 1", "url": "https://github.com/owner/repo/issues/1"}),
    ]
    test_context = _TEST_CONTEXT

    async def run(self, input_data: Input, context: BlockContext) -> BlockOutput:
        issues = await gh.list_items(context, input_data.repo_url, "issues", "an issue list")
        yield "issues", issues
        for issue in issues:
            yield "issue", issue
