"""A local SMTP server for tests (aiosmtpd): keeps every message it accepts.

``fail_next`` answers the next N messages with a 451 (try again later), as a busy server does.
``secure_smtp_server`` is a server as a mail provider runs one: STARTTLS with a certificate
for ``localhost`` and 127.0.0.1 (from a throw-away CA whose file ``ssl`` clients trust through
``SSL_CERT_FILE``), and AUTH (only after STARTTLS) with one user name and password.
"""

from __future__ import annotations

import datetime
import email
import email.policy
import ipaddress
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from autoplat.testing import free_port


class Mailbox:
    """The aiosmtpd handler: what the server accepted."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        #: Per accepted message: envelope sender, recipients, and whether TLS was on.
        self.envelopes: list[tuple[str, list[str], bool]] = []
        self.fail_next = 0
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            if self.fail_next > 0:
                self.fail_next -= 1
                return "451 busy, try again later"
            parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
            self.messages.append(parsed)
            tls = getattr(session, "ssl", None) is not None
            self.envelopes.append((str(envelope.mail_from), list(envelope.rcpt_tos), tls))
        return "250 OK"

    def text(self, message: EmailMessage) -> str:
        """The plain-text part of a message."""
        part = message.get_body(preferencelist=("plain",))
        assert part is not None
        return str(part.get_content())


@contextmanager
def smtp_server() -> Iterator[tuple[Mailbox, int]]:
    """A running SMTP server on a free loopback port, and its mailbox."""
    mailbox = Mailbox()
    port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield mailbox, port
    finally:
        controller.stop()


@dataclass(frozen=True)
class SecureServer:
    """A running STARTTLS + AUTH server: its mailbox, port and the CA file to trust."""

    mailbox: Mailbox
    port: int
    ca_file: Path
    username: str
    password: str


def _certificates(directory: Path) -> tuple[Path, Path, Path]:
    """A CA, and a server certificate it signed for localhost/127.0.0.1: (ca, cert, key)."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "autoplat test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    names = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    paths = (directory / "ca.pem", directory / "server.pem", directory / "server.key")
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return paths


@contextmanager
def secure_smtp_server(
    directory: Path, username: str = "mailer@example.com", password: str = "smtp-pass-1"
) -> Iterator[SecureServer]:
    """A running server that offers STARTTLS and accepts only ``username``/``password``
    (and only over TLS, aiosmtpd's default); certificates are written to ``directory``."""
    ca_file, cert_file, key_file = _certificates(directory)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)

    def authenticate(
        server: Any, session: Any, envelope: Any, mechanism: str, data: Any
    ) -> AuthResult:
        ok = (
            isinstance(data, LoginPassword)
            and data.login.decode() == username
            and data.password.decode() == password
        )
        return AuthResult(success=ok, handled=False)

    mailbox = Mailbox()
    port = free_port()
    controller = Controller(
        mailbox,
        hostname="127.0.0.1",
        port=port,
        tls_context=context,
        require_starttls=True,
        authenticator=authenticate,
        auth_required=True,
    )
    controller.start()
    try:
        yield SecureServer(mailbox, port, ca_file, username, password)
    finally:
        controller.stop()
