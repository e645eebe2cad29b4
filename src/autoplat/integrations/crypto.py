"""Encryption of credentials at rest: Fernet tokens under a list of keys.

Invariant: every secret the store writes is a Fernet token made with the FIRST configured
key; every configured key can read. So rotating is "put the new key first, keep the old
ones after it, run :meth:`SecretBox.rotate` over the rows, then drop the old keys". A key
never appears in a message: errors name the setting, not its value.

Where the keys come from (:func:`load_secret_box`): ``AUTOPLAT_ENCRYPTION_KEY``
(comma-separated). Without it, local mode (no auth configured) generates one key into
``<data dir>/encryption.key`` with mode 0600 on first start and reads it afterwards;
with auth configured a missing key stops the start (ConfigError), because a generated
key on one of several machines would make the others unable to read its rows.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from autoplat.config import Settings
from autoplat.errors import ConfigError, UndecryptableSecret
from autoplat.logging import get_logger

log = get_logger("autoplat.integrations.crypto")

#: The generated key of local mode, relative to the data directory.
KEY_FILE_NAME = "encryption.key"


def generate_key() -> str:
    """A new random Fernet key (url-safe base64 of 32 bytes)."""
    return Fernet.generate_key().decode("ascii")


class SecretBox:
    """Encrypts with the first key, decrypts with any of them."""

    def __init__(self, keys: Sequence[str]) -> None:
        if not keys:
            raise ConfigError("AUTOPLAT_ENCRYPTION_KEY: no key given")
        fernets = []
        for position, key in enumerate(keys, start=1):
            try:
                fernets.append(Fernet(key.strip().encode("ascii")))
            except (ValueError, UnicodeEncodeError):
                # The position, never the value: the message may reach a terminal or a log.
                raise ConfigError(
                    f"AUTOPLAT_ENCRYPTION_KEY: key #{position} is not a Fernet key "
                    "(32 url-safe base64-encoded bytes; make one with "
                    "`autoplat credentials generate-key`)"
                ) from None
        self._primary = fernets[0]
        self._multi = MultiFernet(fernets)
        self.key_count = len(fernets)

    def __repr__(self) -> str:
        return f"SecretBox(keys={self.key_count})"

    def encrypt(self, plain: bytes) -> str:
        """A token of ``plain`` under the first key."""
        return self._multi.encrypt(plain).decode("ascii")

    def decrypt(self, token: str) -> bytes:
        """The plain bytes of ``token``; UndecryptableSecret if no key opens it."""
        try:
            return self._multi.decrypt(token.encode("ascii"))
        except (InvalidToken, UnicodeEncodeError):
            raise UndecryptableSecret(
                "a stored secret cannot be decrypted: the key that encrypted it is not in "
                "AUTOPLAT_ENCRYPTION_KEY"
            ) from None

    def encrypt_json(self, document: dict[str, Any]) -> str:
        """A token of a JSON document (the secret fields of one credential)."""
        return self.encrypt(json.dumps(document, sort_keys=True).encode())

    def decrypt_json(self, token: str) -> dict[str, Any]:
        """The JSON document inside ``token``."""
        value = json.loads(self.decrypt(token))
        if not isinstance(value, dict):
            raise UndecryptableSecret("a stored secret is not a JSON object")
        return value

    def rotate(self, token: str) -> str:
        """``token`` re-encrypted under the first key (same plain text)."""
        try:
            return self._multi.rotate(token.encode("ascii")).decode("ascii")
        except (InvalidToken, UnicodeEncodeError):
            raise UndecryptableSecret(
                "a stored secret cannot be rotated: no configured key decrypts it"
            ) from None

    def is_current(self, token: str) -> bool:
        """Whether ``token`` was made with the first key (nothing to rotate)."""
        try:
            self._primary.decrypt(token.encode("ascii"))
        except (InvalidToken, UnicodeEncodeError):
            return False
        return True


def _split(raw: str) -> list[str]:
    return [part.strip() for part in raw.split(",") if part.strip()]


def load_secret_box(settings: Settings) -> SecretBox:
    """The box for these settings, generating the local-mode key file when needed."""
    configured = _split(settings.encryption_key.get_secret_value())
    if configured:
        return SecretBox(configured)
    if settings.auth_configured:
        raise ConfigError(
            "AUTOPLAT_ENCRYPTION_KEY is required when auth is configured (make one with "
            "`autoplat credentials generate-key`; give every process the same value)"
        )
    return SecretBox([_local_key(settings.data_dir / KEY_FILE_NAME)])


def _local_key(path: Path) -> str:
    """The key in ``path``, written there first (mode 0600) if the file does not exist."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        # Written aside, then linked into place: a process starting at the same moment
        # either creates the file or reads the complete one the other created.
        spare = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        fd = os.open(spare, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, (generate_key() + "\n").encode("ascii"))
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.link(spare, path)
            log.info("crypto.key_generated", path=str(path))
        except FileExistsError:
            pass
        finally:
            spare.unlink(missing_ok=True)
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:
        log.warning("crypto.key_file_readable_by_others", path=str(path), mode=oct(mode))
    keys = _split(path.read_text(encoding="ascii"))
    if not keys:
        raise ConfigError(f"{path} holds no encryption key; delete it or set one")
    return keys[0]
