"""Sending one outbox e-mail through SMTP (aiosmtplib), and classifying what went wrong.

Invariant: only a failure that proves the server did not accept the message is retryable
(no connection, or a 4xx answer); anything that may have happened after the server took the
message ends the e-mail FAILED, because sending it again could deliver it twice.
"""

from __future__ import annotations

import enum
from email.message import EmailMessage
from email.utils import formatdate

import aiosmtplib

from autoplat.config import Settings
from autoplat.db.notify_outbox import OutboxEmail


class Outcome(enum.StrEnum):
    """What one attempt did."""

    SENT = "SENT"
    RETRY = "RETRY"
    FAILED = "FAILED"


def build_message(settings: Settings, email: OutboxEmail) -> EmailMessage:
    """The MIME message of an outbox row; its Message-ID is the row's, on every attempt."""
    message = EmailMessage()
    message["From"] = settings.smtp_from
    message["To"] = email.to_address
    message["Subject"] = email.subject
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = f"<{email.id}@autoplat>"
    message.set_content(email.body_text)
    message.add_alternative(email.body_html, subtype="html")
    return message


async def send(settings: Settings, email: OutboxEmail) -> tuple[Outcome, str | None]:
    """Try to send ``email`` once; the outcome and, on failure, a reason without secrets."""
    password = settings.smtp_password.get_secret_value()
    try:
        await aiosmtplib.send(
            build_message(settings, email),
            hostname=settings.smtp_host,
            port=settings.smtp_port,
            username=settings.smtp_username or None,
            password=password or None,
            use_tls=settings.smtp_tls == "tls",
            # None: upgrade when the server offers STARTTLS.
            start_tls=None if settings.smtp_tls == "starttls" else False,
            timeout=30,
        )
    except aiosmtplib.SMTPConnectError as exc:  # nothing was sent yet
        return Outcome.RETRY, f"cannot reach the SMTP server: {type(exc).__name__}"
    except (aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPTimeoutError) as exc:
        # Possibly after the message went out: not retried.
        return Outcome.FAILED, f"the SMTP session broke off: {type(exc).__name__}"
    except aiosmtplib.SMTPResponseException as exc:
        reason = f"SMTP {exc.code}: {str(exc.message)[:200]}"
        return (Outcome.RETRY if 400 <= exc.code < 500 else Outcome.FAILED), reason
    except Exception as exc:  # an unknown outcome: never risk a second delivery
        return Outcome.FAILED, f"{type(exc).__name__}: {str(exc)[:200]}"
    return Outcome.SENT, None
