"""Local stand-ins for GitHub's REST API, Google Sheets API v4 and the Gmail API v1, for tests.

One Starlette app serves the three under their own prefixes (``PREFIXES``), speaking the
documented paths, auth headers and the response fields the blocks read:

- GitHub: ``Authorization: Bearer|token <token>``; ``/repos/{owner}/{repo}/issues[/{n}]``,
  ``…/issues/{n}/comments``, ``…/pulls``, ``…/pulls/{n}/files``, ``…/contents/{path}?ref=``;
  a refused token is 401 ``{"message": "Bad credentials"}``, an unknown item 404.
- Sheets: ``GET``/``PUT /v4/spreadsheets/{id}/values/{range}`` (``valueInputOption``
  required on PUT, as Google requires it); errors in Google's ``{"error": {...}}`` shape.
- Gmail: ``/gmail/v1/users/me/messages`` (``q``, ``maxResults``), ``…/messages/{id}``
  (``format=full``), ``…/messages/send`` with a base64url RFC 822 ``raw``, parsed back.

Which tokens are accepted is the test's choice (``accepts``): a stored API key, or the live
access tokens of the local OAuth2 server. Every request is kept in ``requests``.
"""

from __future__ import annotations

import base64
import email
import email.policy
import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

#: The API key GitHub accepts unless the test says otherwise.
GITHUB_KEY = "ghp-standin-test-token"
#: provider-base-URL key (AUTOPLAT_PROVIDER_BASE_URLS) -> prefix on the stand-in.
PREFIXES = {"github": "/github", "google_sheets": "/sheets", "gmail": "/gmail"}


@dataclass
class Seen:
    """One request the stand-in answered."""

    service: str
    method: str
    path: str
    auth: str
    query: dict[str, str]
    accept: str = ""
    body: Any = None


@dataclass
class Issue:
    """A GitHub issue (or a pull request's issue)."""

    title: str
    body: str | None
    user: str
    comments: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class FakeGoogleGithub:
    """The stand-ins' state: what they answer, what they saw."""

    #: Whether a bearer token is accepted (default: GitHub's test key only).
    accepts: Callable[[str], bool] = lambda token: token == GITHUB_KEY
    #: "owner/repo" -> issue number -> issue.
    issues: dict[str, dict[int, Issue]] = field(default_factory=dict)
    #: "owner/repo" -> number -> (title, files as GitHub lists them).
    pulls: dict[str, dict[int, tuple[str, list[dict[str, Any]]]]] = field(default_factory=dict)
    #: ("owner/repo", branch, path) -> file bytes; a path ending in "/" is a directory.
    files: dict[tuple[str, str, str], bytes] = field(default_factory=dict)
    #: spreadsheet id -> range -> rows.
    sheets: dict[str, dict[str, list[list[str]]]] = field(default_factory=dict)
    #: Gmail messages in the format=full shape, newest first.
    inbox: list[dict[str, Any]] = field(default_factory=list)
    sent: list[email.message.EmailMessage] = field(default_factory=list)
    requests: list[Seen] = field(default_factory=list)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1001))

    def base_urls(self, url: str) -> dict[str, str]:
        """``AUTOPLAT_PROVIDER_BASE_URLS`` entries pointing each service at the stand-in."""
        return {service: url + prefix for service, prefix in PREFIXES.items()}

    def seen(self, service: str) -> list[Seen]:
        """The requests one service answered, in order."""
        return [r for r in self.requests if r.service == service]

    def app(self) -> Starlette:
        """The ASGI app."""
        g = "/github/repos/{owner}/{repo}"
        return Starlette(
            routes=[
                Route(f"{g}/issues", self._gh_issues, methods=["GET", "POST"]),
                Route(f"{g}/issues/{{number:int}}", self._gh_issue),
                Route(f"{g}/issues/{{number:int}}/comments", self._gh_comment, methods=["POST"]),
                Route(f"{g}/pulls", self._gh_pulls),
                Route(f"{g}/pulls/{{number:int}}/files", self._gh_files),
                Route(f"{g}/contents/{{path:path}}", self._gh_contents),
                Route(
                    "/sheets/v4/spreadsheets/{sid}/values/{cells}",
                    self._sheets_values,
                    methods=["GET", "PUT"],
                ),
                Route("/gmail/gmail/v1/users/me/messages", self._gmail_list),
                Route("/gmail/gmail/v1/users/me/messages/send", self._gmail_send, methods=["POST"]),
                Route("/gmail/gmail/v1/users/me/messages/{mid}", self._gmail_get),
            ]
        )

    async def _see(self, service: str, request: Request) -> tuple[Seen, bool]:
        raw = await request.body()
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        auth = request.headers.get("authorization", "")
        seen = Seen(
            service,
            request.method,
            request.url.path,
            auth,
            dict(request.query_params),
            request.headers.get("accept", ""),
            body,
        )
        self.requests.append(seen)
        scheme, _, token = auth.partition(" ")
        # GitHub takes "Bearer" and the older "token"; Google only "Bearer".
        schemes = ("Bearer", "token") if service == "github" else ("Bearer",)
        return seen, scheme in schemes and self.accepts(token)

    # --- GitHub -------------------------------------------------------------------------

    async def _gh(self, request: Request) -> tuple[Seen, str, Response | None]:
        seen, ok = await self._see("github", request)
        repo = f"{request.path_params['owner']}/{request.path_params['repo']}"
        if not ok:
            doc = "https://docs.github.com/rest"
            bad = {"message": "Bad credentials", "documentation_url": doc, "status": "401"}
            return seen, repo, JSONResponse(bad, status_code=401)
        return seen, repo, None

    def _issue_json(self, repo: str, number: int, issue: Issue) -> dict[str, Any]:
        return {
            "number": number,
            "title": issue.title,
            "body": issue.body,
            "user": {"login": issue.user},
            "html_url": f"https://github.com/{repo}/issues/{number}",
        }

    async def _gh_issues(self, request: Request) -> Response:
        seen, repo, refused = await self._gh(request)
        if refused:
            return refused
        issues = self.issues.setdefault(repo, {})
        if request.method == "POST":
            number = max(issues, default=0) + 1
            issues[number] = Issue(seen.body["title"], seen.body.get("body"), "octo-tester")
            return JSONResponse(self._issue_json(repo, number, issues[number]), status_code=201)
        return JSONResponse([self._issue_json(repo, n, i) for n, i in sorted(issues.items())])

    async def _gh_issue(self, request: Request) -> Response:
        _, repo, refused = await self._gh(request)
        if refused:
            return refused
        number = int(request.path_params["number"])
        issue = self.issues.get(repo, {}).get(number)
        if issue is None:
            return JSONResponse({"message": "Not Found"}, status_code=404)
        return JSONResponse(self._issue_json(repo, number, issue))

    async def _gh_comment(self, request: Request) -> Response:
        seen, repo, refused = await self._gh(request)
        if refused:
            return refused
        number = int(request.path_params["number"])
        issue = self.issues.get(repo, {}).get(number)
        if issue is None:
            return JSONResponse({"message": "Not Found"}, status_code=404)
        comment_id = next(self._ids)
        url = f"https://github.com/{repo}/issues/{number}#issuecomment-{comment_id}"
        comment = {"id": comment_id, "body": seen.body["body"], "html_url": url}
        issue.comments.append(comment)
        return JSONResponse(comment, status_code=201)

    async def _gh_pulls(self, request: Request) -> Response:
        _, repo, refused = await self._gh(request)
        if refused:
            return refused
        return JSONResponse(
            [
                {"number": n, "title": t, "html_url": f"https://github.com/{repo}/pull/{n}"}
                for n, (t, _) in sorted(self.pulls.get(repo, {}).items())
            ]
        )

    async def _gh_files(self, request: Request) -> Response:
        _, repo, refused = await self._gh(request)
        if refused:
            return refused
        pull = self.pulls.get(repo, {}).get(int(request.path_params["number"]))
        if pull is None:
            return JSONResponse({"message": "Not Found"}, status_code=404)
        return JSONResponse(pull[1])

    async def _gh_contents(self, request: Request) -> Response:
        _, repo, refused = await self._gh(request)
        if refused:
            return refused
        path = request.path_params["path"]
        branch = request.query_params.get("ref", "main")
        if (repo, branch, path + "/") in self.files:
            return JSONResponse([{"type": "dir", "name": path, "path": path}])
        content = self.files.get((repo, branch, path))
        if content is None:
            return JSONResponse({"message": "Not Found"}, status_code=404)
        encoded = base64.b64encode(content).decode()
        # GitHub wraps the base64 at 60 characters; decoders must cope.
        wrapped = "\n".join(encoded[i : i + 60] for i in range(0, len(encoded), 60))
        return JSONResponse(
            {
                "type": "file",
                "path": path,
                "size": len(content),
                "encoding": "base64",
                "content": wrapped,
            }
        )

    # --- Google Sheets ------------------------------------------------------------------

    async def _sheets_values(self, request: Request) -> Response:
        seen, ok = await self._see("google_sheets", request)
        if not ok:
            return _google_error(
                401, "Request had invalid authentication credentials.", "UNAUTHENTICATED"
            )
        sheet = self.sheets.get(request.path_params["sid"])
        if sheet is None:
            return _google_error(404, "Requested entity was not found.", "NOT_FOUND")
        cells = request.path_params["cells"]
        if request.method == "PUT":
            option = request.query_params.get("valueInputOption")
            if option not in ("RAW", "USER_ENTERED"):
                return _google_error(400, "Invalid valueInputOption", "INVALID_ARGUMENT")
            rows = seen.body["values"]
            sheet[cells] = rows
            return JSONResponse(
                {
                    "spreadsheetId": request.path_params["sid"],
                    "updatedRange": cells,
                    "updatedRows": len(rows),
                    "updatedColumns": max((len(r) for r in rows), default=0),
                    "updatedCells": sum(len(r) for r in rows),
                }
            )
        rows = sheet.get(cells)
        body: dict[str, Any] = {"range": cells, "majorDimension": "ROWS"}
        if rows:
            body["values"] = rows  # Google leaves "values" out for an empty range
        return JSONResponse(body)

    # --- Gmail --------------------------------------------------------------------------

    async def _gmail(self, request: Request) -> tuple[Seen, Response | None]:
        seen, ok = await self._see("gmail", request)
        if not ok:
            return seen, _google_error(
                401, "Request had invalid authentication credentials.", "UNAUTHENTICATED"
            )
        return seen, None

    async def _gmail_list(self, request: Request) -> Response:
        seen, refused = await self._gmail(request)
        if refused:
            return refused
        limit = int(seen.query.get("maxResults", "100"))
        query = seen.query.get("q", "")
        found = [m for m in self.inbox if query != "is:unread" or "UNREAD" in m["labelIds"]]
        refs = [{"id": m["id"], "threadId": m["threadId"]} for m in found[:limit]]
        return JSONResponse(
            {"messages": refs, "resultSizeEstimate": len(refs)}
            if refs
            else {"resultSizeEstimate": 0}
        )

    async def _gmail_get(self, request: Request) -> Response:
        _, refused = await self._gmail(request)
        if refused:
            return refused
        message = next((m for m in self.inbox if m["id"] == request.path_params["mid"]), None)
        if message is None:
            return _google_error(404, "Requested entity was not found.", "NOT_FOUND")
        return JSONResponse(message)

    async def _gmail_send(self, request: Request) -> Response:
        seen, refused = await self._gmail(request)
        if refused:
            return refused
        raw = str(seen.body["raw"])
        data = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4))
        parsed = email.message_from_bytes(data, policy=email.policy.default)
        assert isinstance(parsed, email.message.EmailMessage)
        self.sent.append(parsed)
        mid = f"sent-{next(self._ids)}"
        return JSONResponse({"id": mid, "threadId": mid, "labelIds": ["SENT"]})


def gmail_message(
    mid: str,
    sender: str,
    to: str,
    subject: str,
    text: str,
    *,
    unread: bool = True,
    attachment: str | None = None,
) -> dict[str, Any]:
    """A message as Gmail's ``format=full`` shows it (multipart when it has an attachment)."""
    data = base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")
    headers = [
        {"name": "From", "value": sender},
        {"name": "To", "value": to},
        {"name": "Subject", "value": subject},
        {"name": "Date", "value": "Tue, 1 Dec 2026 10:00:00 +0000"},
    ]
    text_part = {
        "partId": "0",
        "mimeType": "text/plain",
        "filename": "",
        "body": {"size": len(text), "data": data},
    }
    if attachment is None:
        payload: dict[str, Any] = {**text_part, "headers": headers}
    else:
        file_part = {
            "partId": "1",
            "mimeType": "application/pdf",
            "filename": attachment,
            "body": {"size": 2048, "attachmentId": f"att-{mid}"},
        }
        payload = {
            "mimeType": "multipart/mixed",
            "headers": headers,
            "filename": "",
            "body": {"size": 0},
            "parts": [text_part, file_part],
        }
    labels = ["INBOX", *(["UNREAD"] if unread else [])]
    return {
        "id": mid,
        "threadId": mid,
        "labelIds": labels,
        "snippet": text[:100],
        "sizeEstimate": 500 + len(text),
        "payload": payload,
    }


def _google_error(code: int, message: str, status: str) -> JSONResponse:
    return JSONResponse(
        {"error": {"code": code, "message": message, "status": status}}, status_code=code
    )
