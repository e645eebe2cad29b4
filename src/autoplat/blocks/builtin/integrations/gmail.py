"""Gmail: AutoGPT's ``GmailReadBlock`` and ``GmailSendBlock`` (``blocks/google/gmail.py``),
over the Gmail REST API v1 (no Google client library).

Invariants: reading lists ``/gmail/v1/users/me/messages`` (``q``, ``maxResults``) and gets
each message with ``format=full``; an email is AutoGPT's shape (``from_`` and ``to`` reduced
to the address, the first ``text/plain`` part as ``body``, named parts as attachments
without their content); the messages of one read are held to ``http_max_response_bytes``
together (up to 500 capped answers would be too much to hold at once). Sending builds an
RFC 822 message with the standard library and posts it base64url-encoded as ``raw`` to
``messages/send``; headers are set through ``email.message``, so a subject or address
holding a line break cannot add a header.
"""

from __future__ import annotations

import base64
import binascii
from email.message import EmailMessage
from email.utils import parseaddr
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
from autoplat.blocks.builtin.integrations import _google as google
from autoplat.blocks.builtin.integrations._base import (
    CredentialsRefInput,
    ProviderError,
    path_segment,
)
from autoplat.blocks.builtin.integrations._tokens import oauth_stand_in
from autoplat.blocks.schema import pin

SERVICE = "gmail"
READ_SCOPE = "https://www.googleapis.com/auth/gmail.readonly"
SEND_SCOPE = "https://www.googleapis.com/auth/gmail.send"
_MESSAGES = "/gmail/v1/users/me/messages"
_NO_TEXT = "This email does not contain a text body."
#: Nesting of MIME parts followed when looking for the text body.
_MAX_DEPTH = 10


class Attachment(TypedDict):
    """A named part of an email (its content is not fetched)."""

    filename: str
    content_type: str
    size: int
    attachment_id: str


class Email(TypedDict):
    """One email as AutoGPT outputs it."""

    id: str
    subject: str
    snippet: str
    from_: str
    to: str
    date: str
    body: str
    sizeEstimate: int
    attachments: list[Attachment]


def _decode(data: str) -> str:
    try:
        return base64.urlsafe_b64decode(data + "=" * (-len(data) % 4)).decode("utf-8", "replace")
    except (binascii.Error, ValueError):
        return ""


def _text_body(part: dict[str, Any], depth: int = 0) -> str | None:
    if part.get("mimeType") == "text/plain" and (part.get("body") or {}).get("data"):
        return _decode(str(part["body"]["data"]))
    if depth >= _MAX_DEPTH:
        return None
    for child in part.get("parts") or []:
        if isinstance(child, dict) and (found := _text_body(child, depth + 1)) is not None:
            return found
    return None


def _attachments(payload: dict[str, Any]) -> list[Attachment]:
    found: list[Attachment] = []
    for part in payload.get("parts") or []:
        if isinstance(part, dict) and part.get("filename"):
            body = part.get("body") or {}
            found.append(
                {
                    "filename": str(part["filename"]),
                    "content_type": str(part.get("mimeType", "")),
                    "size": int(body.get("size", 0)),
                    "attachment_id": str(body.get("attachmentId", "")),
                }
            )
    return found


def to_email(message: dict[str, Any]) -> Email:
    """A Gmail ``format=full`` message as AutoGPT's email."""
    payload = message.get("payload") or {}
    headers = {
        str(h.get("name", "")).lower(): str(h.get("value", ""))
        for h in payload.get("headers") or []
        if isinstance(h, dict)
    }
    body = _text_body(payload)
    return {
        "id": str(message.get("id", "")),
        "subject": headers.get("subject", "No Subject"),
        "snippet": str(message.get("snippet", "")),
        "from_": parseaddr(headers.get("from", ""))[1],
        "to": parseaddr(headers.get("to", ""))[1],
        "date": headers.get("date", ""),
        "body": body if body is not None else _NO_TEXT,
        "sizeEstimate": int(message.get("sizeEstimate", 0)),
        "attachments": _attachments(payload),
    }


def raw_message(to: str, subject: str, body: str) -> str:
    """The RFC 822 message, base64url-encoded as Gmail's ``raw`` field wants it."""
    message = EmailMessage()
    try:
        message["To"] = to
        message["Subject"] = subject
    except ValueError as exc:
        raise ProviderError(f"invalid email header: {exc}") from None
    message.set_content(body)
    return base64.urlsafe_b64encode(message.as_bytes()).decode("ascii")


def _vector_answer(request: httpx.Request) -> httpx.Response:
    path = request.url.path
    if path.endswith("/messages/send"):
        return google.json_answer({"id": "1", "threadId": "1", "labelIds": ["SENT"]})
    if path.endswith("/messages"):
        return google.json_answer({"messages": [{"id": "1", "threadId": "1"}]})
    text = base64.urlsafe_b64encode(b"This is a test email").decode()
    headers = [
        {"name": "Subject", "value": "Test Email"},
        {"name": "From", "value": "Tester <test@example.com>"},
        {"name": "To", "value": "recipient@example.com"},
        {"name": "Date", "value": "2024-01-01"},
    ]
    payload = {"mimeType": "text/plain", "headers": headers, "body": {"data": text}}
    message = {"id": "1", "snippet": "This is a test email", "sizeEstimate": 100}
    return google.json_answer({**message, "payload": payload})


_TEST_CONTEXT = oauth_stand_in(_vector_answer, google.PROVIDER, google.MOCK_TOKEN)
_TEST_EMAIL: Email = {
    "id": "1",
    "subject": "Test Email",
    "snippet": "This is a test email",
    "from_": "test@example.com",
    "to": "recipient@example.com",
    "date": "2024-01-01",
    "body": "This is a test email",
    "sizeEstimate": 100,
    "attachments": [],
}


class GmailReadBlock(Block["GmailReadBlock.Input"]):
    """The emails matching a Gmail search, one by one and as a list."""

    class Input(BlockSchema):
        credentials: CredentialsRefInput = google.google_credentials_pin(READ_SCOPE)
        query: str = pin("is:unread", description="Search query for reading emails")
        max_results: int = pin(10, description="Maximum number of emails to retrieve")

    class Output(BlockOutputSchema):
        email: Email = pin(description="Email data")
        emails: list[Email] = pin(description="List of email data")
        error: str = pin("", description="Error message if any")

    id = "25310c70-b89b-43ba-b25c-4dfa7e2a481c"
    description = "This block reads emails from Gmail."
    categories = (BlockCategory.COMMUNICATION,)
    input_schema = Input
    output_schema = Output
    test_input = [{"query": "is:unread", "max_results": 5, "credentials": google.MOCK_INPUT}]
    test_output = [("email", _TEST_EMAIL), ("emails", [_TEST_EMAIL])]
    test_context = _TEST_CONTEXT

    async def run(self, input_data: Input, context: BlockContext) -> BlockOutput:
        # Gmail caps maxResults at 500; AutoGPT's default of 10 stands for zero or less.
        limit = input_data.max_results if input_data.max_results > 0 else 10
        params = {"q": input_data.query or "", "maxResults": str(min(limit, 500))}
        listing = await google.request(context, SERVICE, "GET", _MESSAGES, params=params)
        refs = listing.get("messages", []) if isinstance(listing, dict) else []
        emails: list[Email] = []
        # Up to 500 messages of up to one cap each: together they are held to one cap.
        budget = context.settings.http_max_response_bytes
        for ref in refs[:limit] if isinstance(refs, list) else []:
            message_id = path_segment(str((ref or {}).get("id", "")), "the Gmail message id")
            path = f"{_MESSAGES}/{message_id}"
            answer = await google.answer(context, SERVICE, "GET", path, params={"format": "full"})
            budget -= len(answer.content)
            if budget < 0:
                raise ProviderError(
                    "the emails are larger than "
                    f"{context.settings.http_max_response_bytes} bytes together "
                    "(http_max_response_bytes); ask for fewer"
                )
            message = answer.json() if answer.content else {}
            if isinstance(message, dict):
                emails.append(to_email(message))
        for email in emails:
            yield "email", email
        yield "emails", emails


class GmailSendBlock(Block["GmailSendBlock.Input"]):
    """Send a plain-text email from the user's Gmail account."""

    class Input(BlockSchema):
        credentials: CredentialsRefInput = google.google_credentials_pin(SEND_SCOPE)
        to: str = pin(description="Recipient email address")
        subject: str = pin(description="Email subject")
        body: str = pin(description="Email body")

    class Output(BlockOutputSchema):
        result: dict[str, Any] = pin(description="Send confirmation")
        error: str = pin("", description="Error message if any")

    id = "6c27abc2-e51d-499e-a85f-5a0041ba94f0"
    description = "This block sends an email using Gmail."
    categories = (BlockCategory.COMMUNICATION,)
    input_schema = Input
    output_schema = Output
    test_input = [
        {
            "to": "recipient@example.com",
            "subject": "Test Email",
            "body": "This is a test email sent from GmailSendBlock.",
            "credentials": google.MOCK_INPUT,
        }
    ]
    test_output = [("result", {"id": "1", "status": "sent"})]
    test_context = _TEST_CONTEXT

    async def run(self, input_data: Input, context: BlockContext) -> BlockOutput:
        if not input_data.to or not input_data.subject or not input_data.body:
            raise ProviderError("To, subject, and body are required for sending an email")
        raw = raw_message(input_data.to, input_data.subject, input_data.body)
        sent = await google.request(
            context, SERVICE, "POST", f"{_MESSAGES}/send", json={"raw": raw}
        )
        if not isinstance(sent, dict) or not sent.get("id"):
            raise ProviderError("Gmail answered a sent message without an id")
        yield "result", {"id": str(sent["id"]), "status": "sent"}
