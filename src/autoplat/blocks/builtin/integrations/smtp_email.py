"""SendEmailBlock: AutoGPT's ``email_block.py``, one plain-text e-mail over SMTP.

Invariants:

- The server a graph author names in ``config`` passes the outbound address policy of the
  HTTP block: the name is resolved once, refused when any answer is loopback, private or
  otherwise not public (unless the operator set ``http_allow_private``), and the connection
  goes to exactly an address that was checked, so a rebinding DNS answer changes nothing.
- As on AutoGPT the session always upgrades with STARTTLS (the certificate checked against
  the name the author gave) before the user name and password are sent; a server without
  STARTTLS is an error, never a login in the clear.
- The user name and password are unwrapped only for the SMTP login; errors quote the
  server's answer, never them. Like any outbound request, the session waits for the run's
  confirmed lease before it connects.
"""

from __future__ import annotations

import dataclasses
import ssl
from email.message import EmailMessage
from typing import Any, Protocol

import aiosmtplib
from pydantic import BaseModel, ConfigDict, SecretStr

from autoplat.blocks.base import (
    Block,
    BlockCategory,
    BlockContext,
    BlockOutput,
    BlockOutputSchema,
    BlockSchema,
)
from autoplat.blocks.builtin.integrations._base import TEST_CREDENTIALS_ID, CredentialsRefInput
from autoplat.blocks.outbound import REQUEST_GUARD, forbidden, is_forbidden_ip, system_resolver
from autoplat.blocks.schema import pin
from autoplat.errors import BlockRunError, TransientBlockError
from autoplat.integrations.model import UserPasswordCredentials

PROVIDER = "smtp"
SENT = "Email sent successfully"
#: Where a stand-in for the SMTP session may be left in ``BlockContext.extra`` (self-tests).
MAILER_KEY = "smtp_mailer"


class SMTPConfig(BaseModel):
    """AutoGPT's ``SMTPConfig``: which server to hand the message to."""

    model_config = ConfigDict(title="SMTP Config")

    smtp_server: str = pin("smtp.example.com", description="SMTP server address")
    smtp_port: int = pin(25, description="SMTP port number")


@dataclasses.dataclass(frozen=True, slots=True)
class Envelope:
    """One message and where it goes: the author's server, and whether it may be private."""

    server: str
    port: int
    allow_private: bool
    message: EmailMessage
    username: SecretStr
    password: SecretStr
    timeout: float


class Mailer(Protocol):
    """Hands an envelope to its SMTP server (the block's own session, or a test stand-in)."""

    async def __call__(self, envelope: Envelope) -> None: ...


async def vetted_addresses(server: str, port: int, allow_private: bool) -> tuple[str, ...]:
    """The addresses of ``server`` a session may connect to; ForbiddenAddress when any
    answer is not public (``allow_private`` lifts that, as for the HTTP block)."""
    host = server.strip().strip("[]")
    if not host:
        raise BlockRunError("the SMTP server address is empty")
    try:
        addresses = tuple(await system_resolver(host, port))
    except Exception as exc:  # httpcore.ConnectError: the name does not resolve
        raise BlockRunError(f"cannot resolve the SMTP server {host!r}") from exc
    if not addresses:
        raise BlockRunError(f"cannot resolve the SMTP server {host!r}")
    if not allow_private and any(is_forbidden_ip(address) for address in addresses):
        raise forbidden(host)
    return addresses


async def smtp_session(envelope: Envelope) -> None:
    """Connect to a vetted address, STARTTLS, log in, send (AutoGPT's sequence)."""
    failure: Exception | None = None
    addresses = await vetted_addresses(envelope.server, envelope.port, envelope.allow_private)
    for address in addresses:
        client = aiosmtplib.SMTP(
            hostname=address, port=envelope.port, timeout=envelope.timeout, start_tls=False
        )
        try:
            await client.connect()
        except (aiosmtplib.SMTPConnectError, aiosmtplib.SMTPTimeoutError, OSError) as exc:
            failure = exc
            continue
        try:
            # The certificate must be the author's server's, whatever address it answers on.
            await client.starttls(
                server_hostname=envelope.server, tls_context=ssl.create_default_context()
            )
            await client.login(
                envelope.username.get_secret_value(), envelope.password.get_secret_value()
            )
            await client.send_message(envelope.message)
        finally:
            client.close()
        return
    raise TransientBlockError(
        f"cannot connect to the SMTP server {envelope.server}:{envelope.port}: "
        f"{type(failure).__name__}"
    )


def _message(sender: str, to_email: str, subject: str, body: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to_email
    message["Subject"] = subject
    message.set_content(body)
    return message


async def _accept_all(envelope: Envelope) -> None:
    """The self-test's stand-in session (AutoGPT mocks ``send_email``)."""


def _test_context(self: Any, context: BlockContext) -> BlockContext:
    mock = UserPasswordCredentials(
        id=TEST_CREDENTIALS_ID,
        provider=PROVIDER,
        username=SecretStr("mock-smtp-username"),
        password=SecretStr("mock-smtp-password"),
        title="Mock SMTP credentials",
    )
    return dataclasses.replace(
        context,
        credentials={**context.credentials, "credentials": mock},
        extra={**context.extra, MAILER_KEY: _accept_all},
    )


class SendEmailBlock(Block["SendEmailBlock.Input"]):
    """Send a plain-text e-mail through the user's SMTP server and account."""

    class Input(BlockSchema):
        to_email: str = pin(
            description="Recipient email address", placeholder="recipient@example.com"
        )
        subject: str = pin(
            description="Subject of the email", placeholder="Enter the email subject"
        )
        body: str = pin(description="Body of the email", placeholder="Enter the email body")
        config: SMTPConfig = pin(default_factory=SMTPConfig, description="SMTP Config")
        credentials: CredentialsRefInput = pin(
            advanced=False,
            title="Credentials",
            description="The SMTP integration requires a username and password.",
            credentials_provider=[PROVIDER],
            credentials_types=["user_password"],
        )

    class Output(BlockOutputSchema):
        status: str = pin(description="Status of the email sending operation")
        error: str = pin(description="Error message if the email sending failed")

    id = "4335878a-394e-4e67-adf2-919877ff49ae"
    description = "This block sends an email using the provided SMTP credentials."
    categories = (BlockCategory.OUTPUT,)
    # Acts in the user's name: under the sensitive-action safe mode a person approves first.
    is_sensitive_action = True
    input_schema = Input
    output_schema = Output
    test_input = [
        {
            "to_email": "recipient@example.com",
            "subject": "Test Email",
            "body": "This is a test email.",
            "config": {"smtp_server": "smtp.gmail.com", "smtp_port": 25},
            "credentials": {
                "provider": PROVIDER,
                "id": TEST_CREDENTIALS_ID,
                "type": "user_password",
                "title": "Mock SMTP credentials",
            },
        }
    ]
    test_output = [("status", SENT)]
    test_context = _test_context

    async def run(self, input_data: Input, context: BlockContext) -> BlockOutput:
        credentials = context.credentials.get("credentials")
        if not isinstance(credentials, UserPasswordCredentials):
            raise BlockRunError("this block needs SMTP user and password credentials")
        server, port = input_data.config.smtp_server.strip(), input_data.config.smtp_port
        if not 0 < port < 65536:
            raise BlockRunError(f"the SMTP port {port} is not a TCP port")
        guard = REQUEST_GUARD.get()
        if guard is not None:
            # Like every outbound request of a node: nothing leaves before the lease is sure.
            await guard()
        sender = credentials.username.get_secret_value()
        envelope = Envelope(
            server=server,
            port=port,
            allow_private=context.settings.http_allow_private,
            message=_message(sender, input_data.to_email, input_data.subject, input_data.body),
            username=credentials.username,
            password=credentials.password,
            timeout=context.settings.http_timeout,
        )
        mailer: Mailer = context.extra.get(MAILER_KEY) or smtp_session
        try:
            await mailer(envelope)
        except aiosmtplib.SMTPAuthenticationError as exc:
            raise BlockRunError(f"the SMTP server refused the login: {exc.code}") from None
        except aiosmtplib.SMTPResponseException as exc:
            reason = f"the SMTP server answered {exc.code}: {str(exc.message)[:200]}"
            if 400 <= exc.code < 500:
                raise TransientBlockError(reason) from None
            raise BlockRunError(reason) from None
        except aiosmtplib.SMTPException as exc:
            # STARTTLS missing, a broken session, a timeout: the library's message, no secret.
            raise BlockRunError(f"sending the email failed: {str(exc)[:200]}") from None
        except (ssl.SSLError, OSError) as exc:  # TimeoutError is an OSError
            raise BlockRunError(f"sending the email failed: {type(exc).__name__}") from None
        yield "status", SENT
