"""The GitHub, Google Sheets and Gmail blocks against local stand-ins of their APIs
(tests/support/google_github.py): paths, auth headers and fields, URL conversion, AutoGPT's
outputs and errors, and tokens that never show in an error."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from typing import Any

import pytest
from pydantic import SecretStr

from autoplat.blocks.base import Block, BlockContext
from autoplat.blocks.builtin.integrations.github_issues import (
    GithubCommentBlock,
    GithubListIssuesBlock,
    GithubMakeIssueBlock,
    GithubReadIssueBlock,
)
from autoplat.blocks.builtin.integrations.github_pulls import (
    GithubListPullRequestsBlock,
    GithubReadPullRequestBlock,
)
from autoplat.blocks.builtin.integrations.github_repo import GithubReadFileBlock
from autoplat.blocks.builtin.integrations.gmail import GmailReadBlock, GmailSendBlock
from autoplat.blocks.builtin.integrations.google_sheets import (
    GoogleSheetsReadBlock,
    GoogleSheetsWriteBlock,
)
from autoplat.blocks.outbound import OutboundHttp
from autoplat.blocks.selftest import collect_outputs
from autoplat.blocks.settings import BlockSettings
from autoplat.integrations.model import APIKeyCredentials, OAuth2Credentials
from tests.support.google_github import GITHUB_KEY, FakeGoogleGithub, Issue, gmail_message
from tests.support.servers import serve

GOOGLE_TOKEN = "ya29.standin-google-token"
REPO = "https://github.com/octo/demo"


@dataclasses.dataclass
class Rig:
    fake: FakeGoogleGithub
    context: BlockContext

    def with_credentials(self, credentials: object) -> BlockContext:
        return dataclasses.replace(self.context, credentials={"credentials": credentials})

    def github_key(self, key: str = GITHUB_KEY) -> BlockContext:
        return self.with_credentials(
            APIKeyCredentials(id="c1", provider="github", api_key=SecretStr(key))
        )

    def oauth(self, provider: str, token: str) -> BlockContext:
        return self.with_credentials(
            OAuth2Credentials(id="c2", provider=provider, access_token=SecretStr(token))
        )


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    fake = FakeGoogleGithub(accepts=lambda token: token in (GITHUB_KEY, GOOGLE_TOKEN))
    fake.issues["octo/demo"] = {7: Issue("Crash on start", "It crashes.", "alice")}
    async with serve(fake.app()) as url:
        settings = BlockSettings(provider_base_urls=fake.base_urls(url))
        async with OutboundHttp(settings) as outbound:
            yield Rig(fake, BlockContext(settings=settings, http=outbound.client_for("u1")))


async def outputs(block: Block[Any], data: dict[str, Any], context: BlockContext) -> list[Any]:
    provider = "google" if "Google" in block.name or "Gmail" in block.name else "github"
    ref = {"id": "c1", "provider": provider, "type": "api_key"}
    return await collect_outputs(block, {"credentials": ref, **data}, context)


async def test_reading_an_issue_calls_the_repos_api_with_the_token_and_githubs_accept(
    rig: Rig,
) -> None:
    got = await outputs(GithubReadIssueBlock(), {"issue_url": f"{REPO}/issues/7"}, rig.github_key())
    assert got == [("title", "Crash on start"), ("body", "It crashes."), ("user", "alice")]
    (seen,) = rig.fake.seen("github")
    assert seen.method == "GET" and seen.path == "/github/repos/octo/demo/issues/7"
    assert seen.auth == f"Bearer {GITHUB_KEY}" and seen.accept == "application/vnd.github+json"


async def test_an_oauth_token_is_sent_like_a_key(rig: Rig) -> None:
    context = rig.oauth("github", GITHUB_KEY)
    got = await outputs(GithubListIssuesBlock(), {"repo_url": REPO}, context)
    item = {"title": "Crash on start", "url": "https://github.com/octo/demo/issues/7"}
    assert got == [("issues", [item]), ("issue", item)]


async def test_an_issue_without_a_body_outputs_no_body(rig: Rig) -> None:
    rig.fake.issues["octo/demo"][8] = Issue("Empty", None, "bob")
    got = await outputs(GithubReadIssueBlock(), {"issue_url": f"{REPO}/issues/8"}, rig.github_key())
    assert got == [("title", "Empty"), ("user", "bob")]


async def test_making_an_issue_and_commenting_on_a_pull_request_posts_to_its_issue(
    rig: Rig,
) -> None:
    made = await outputs(
        GithubMakeIssueBlock(),
        {"repo_url": REPO + "/", "title": "New", "body": "Details"},
        rig.github_key(),
    )
    assert made == [("number", 8), ("url", "https://github.com/octo/demo/issues/8")]
    assert rig.fake.seen("github")[-1].body == {"title": "New", "body": "Details"}
    said = await outputs(
        GithubCommentBlock(), {"issue_url": f"{REPO}/pull/8", "comment": "LGTM"}, rig.github_key()
    )
    assert said[0] == ("id", 1001)
    assert said[1] == ("url", "https://github.com/octo/demo/issues/8#issuecomment-1001")
    assert rig.fake.seen("github")[-1].path == "/github/repos/octo/demo/issues/8/comments"
    assert rig.fake.issues["octo/demo"][8].comments[0]["body"] == "LGTM"


async def test_a_url_that_is_not_githubs_is_refused_before_any_request(rig: Rig) -> None:
    for url in (
        "https://evil.example/octo/demo/issues/7",
        "https://github.com/octo",
        "ftp://github.com/a/b/issues/1",
    ):
        got = await outputs(GithubReadIssueBlock(), {"issue_url": url}, rig.github_key())
        assert got[0][0] == "error" and "valid GitHub URL" in got[0][1]
    assert rig.fake.requests == []


async def test_a_refused_token_is_an_error_quoting_github_without_the_token(rig: Rig) -> None:
    got = await outputs(
        GithubReadIssueBlock(), {"issue_url": f"{REPO}/issues/7"}, rig.github_key("ghp-wrong-1")
    )
    assert len(got) == 1 and got[0][0] == "error"
    assert "HTTP 401" in got[0][1] and "Bad credentials" in got[0][1]
    assert "ghp-wrong-1" not in got[0][1]
    missing = await outputs(
        GithubReadIssueBlock(), {"issue_url": f"{REPO}/issues/99"}, rig.github_key()
    )
    assert missing[0][0] == "error" and "HTTP 404" in missing[0][1]


async def test_pull_requests_are_listed_and_read_with_their_changes(rig: Rig) -> None:
    files = [
        {"status": "modified", "filename": "a.py", "patch": "@@ -1 +1 @@\n-x\n+y"},
        {"status": "added", "filename": "b.py", "patch": "@@ +1 @@\n+new"},
        {"status": "removed", "filename": "c.py", "patch": "@@ -1 @@\n-old"},
        {"status": "renamed", "filename": "e.py", "previous_filename": "d.py", "patch": ""},
    ]
    rig.fake.pulls["octo/demo"] = {3: ("Fix it", files)}
    rig.fake.issues["octo/demo"][3] = Issue("Fix it", "Fixes #7", "carol")
    listed = await outputs(GithubListPullRequestsBlock(), {"repo_url": REPO}, rig.github_key())
    item = {"title": "Fix it", "url": "https://github.com/octo/demo/pull/3"}
    assert listed == [("pull_requests", [item]), ("pull_request", item)]
    data = {"pr_url": f"{REPO}/pull/3", "include_pr_changes": True}
    read = dict(await outputs(GithubReadPullRequestBlock(), data, rig.github_key()))
    assert (read["title"], read["body"], read["author"]) == ("Fix it", "Fixes #7", "carol")
    assert read["changes"] == (
        "--- a.py\n+++ a.py\n@@ -1 +1 @@\n-x\n+y\n\n"
        "+++ b.py\n@@ +1 @@\n+new\n\n"
        "--- c.py\n@@ -1 @@\n-old\n\n"
        "--- d.py\n+++ e.py\n"
    )
    paths = [s.path for s in rig.fake.seen("github")[-2:]]
    assert paths == ["/github/repos/octo/demo/issues/3", "/github/repos/octo/demo/pulls/3/files"]
    without = await outputs(
        GithubReadPullRequestBlock(), {"pr_url": f"{REPO}/pull/3"}, rig.github_key()
    )
    assert [pin for pin, _ in without] == ["title", "body", "author"]


async def test_reading_a_file_decodes_githubs_wrapped_base64_at_the_branch(rig: Rig) -> None:
    text = "héllo, world\n" * 10
    rig.fake.files[("octo/demo", "dev", "docs/read me.md")] = text.encode()
    rig.fake.files[("octo/demo", "dev", "docs/")] = b""
    data = {"repo_url": REPO, "file_path": "docs/read me.md", "branch": "dev"}
    got = dict(await outputs(GithubReadFileBlock(), data, rig.github_key()))
    assert got["text_content"] == text and got["size"] == len(text.encode())
    seen = rig.fake.seen("github")[-1]
    assert seen.path == "/github/repos/octo/demo/contents/docs/read me.md"
    assert seen.query == {"ref": "dev"}
    folder = await outputs(GithubReadFileBlock(), {**data, "file_path": "docs"}, rig.github_key())
    assert folder == [("error", "Not a file")]


async def test_sheets_are_read_and_written_user_entered_with_a_google_token(rig: Rig) -> None:
    rig.fake.sheets["sheet-1"] = {"Scores!A1:B2": [["Name", "Score"], ["Ann", "9"]]}
    context = rig.oauth("google", GOOGLE_TOKEN)
    read = await outputs(
        GoogleSheetsReadBlock(), {"spreadsheet_id": "sheet-1", "range": "Scores!A1:B2"}, context
    )
    assert read == [("result", [["Name", "Score"], ["Ann", "9"]])]
    seen = rig.fake.seen("google_sheets")[-1]
    assert seen.path == "/sheets/v4/spreadsheets/sheet-1/values/Scores!A1:B2"
    assert seen.auth == f"Bearer {GOOGLE_TOKEN}"
    empty = await outputs(
        GoogleSheetsReadBlock(), {"spreadsheet_id": "sheet-1", "range": "Other!A1"}, context
    )
    assert empty == [("result", [])]
    data = {"spreadsheet_id": "sheet-1", "range": "Scores!A3:B3", "values": [["Bo", "=2+3"]]}
    wrote = await outputs(GoogleSheetsWriteBlock(), data, context)
    assert wrote[0][1]["updatedCells"] == 2 and wrote[0][1]["updatedRange"] == "Scores!A3:B3"
    put = rig.fake.seen("google_sheets")[-1]
    assert put.method == "PUT" and put.query == {"valueInputOption": "USER_ENTERED"}
    assert put.body["values"] == [["Bo", "=2+3"]]


async def test_google_blocks_refuse_an_api_key_and_quote_googles_errors(rig: Rig) -> None:
    data = {"spreadsheet_id": "nope", "range": "A1"}
    keyed = await outputs(GoogleSheetsReadBlock(), data, rig.github_key())
    assert keyed == [("error", "this block needs OAuth2 credentials on its credentials input")]
    missing = await outputs(GoogleSheetsReadBlock(), data, rig.oauth("google", GOOGLE_TOKEN))
    assert missing[0][0] == "error"
    assert "HTTP 404: Requested entity was not found. (NOT_FOUND)" in missing[0][1]
    expired = await outputs(GmailReadBlock(), {}, rig.oauth("google", "ya29.expired-token"))
    assert "UNAUTHENTICATED" in expired[0][1] and "ya29.expired-token" not in expired[0][1]


async def test_gmail_reads_matching_messages_as_autogpts_emails(rig: Rig) -> None:
    rig.fake.inbox = [
        gmail_message(
            "m2",
            "Ann <ann@example.test>",
            "me@example.test",
            "Hi",
            "Hello there",
            attachment="report.pdf",
        ),
        gmail_message("m1", "bob@example.test", "me@example.test", "Old", "Read", unread=False),
    ]
    got = await outputs(GmailReadBlock(), {"max_results": 5}, rig.oauth("google", GOOGLE_TOKEN))
    assert [pin for pin, _ in got] == ["email", "emails"]
    first = got[0][1]
    assert first["from_"] == "ann@example.test" and first["subject"] == "Hi"
    assert first["body"] == "Hello there" and first["to"] == "me@example.test"
    assert first["attachments"] == [
        {
            "filename": "report.pdf",
            "content_type": "application/pdf",
            "size": 2048,
            "attachment_id": "att-m2",
        }
    ]
    listing, fetched = rig.fake.seen("gmail")
    assert listing.path == "/gmail/gmail/v1/users/me/messages"
    assert listing.query == {"q": "is:unread", "maxResults": "5"}
    assert fetched.path.endswith("/messages/m2") and fetched.query == {"format": "full"}


async def test_gmail_sends_a_base64url_rfc822_message_and_refuses_header_injection(
    rig: Rig,
) -> None:
    context = rig.oauth("google", GOOGLE_TOKEN)
    data = {"to": "ann@example.test", "subject": "Report ✓", "body": "Line 1\nLine 2"}
    got = await outputs(GmailSendBlock(), data, context)
    assert got == [("result", {"id": "sent-1001", "status": "sent"})]
    (message,) = rig.fake.sent
    assert message["To"] == "ann@example.test" and message["Subject"] == "Report ✓"
    assert message.get_content() == "Line 1\nLine 2\n"
    injected = await outputs(
        GmailSendBlock(), {**data, "subject": "x\nBcc: evil@example.test"}, context
    )
    assert injected[0][0] == "error" and len(rig.fake.sent) == 1
    empty = await outputs(GmailSendBlock(), {**data, "body": ""}, context)
    assert empty == [("error", "To, subject, and body are required for sending an email")]
