"""The encryption of credentials at rest: Fernet keys, rotation, the local-mode key file."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from autoplat.config import Settings
from autoplat.errors import ConfigError, UndecryptableSecret
from autoplat.integrations.crypto import KEY_FILE_NAME, SecretBox, generate_key, load_secret_box


def test_the_first_key_encrypts_and_every_key_decrypts() -> None:
    old, new = generate_key(), generate_key()
    token = SecretBox([old]).encrypt_json({"api_key": "sk-1"})
    both = SecretBox([new, old])
    assert both.decrypt_json(token) == {"api_key": "sk-1"}
    assert not both.is_current(token)
    rotated = both.rotate(token)
    assert both.is_current(rotated)
    assert SecretBox([new]).decrypt_json(rotated) == {"api_key": "sk-1"}
    with pytest.raises(UndecryptableSecret) as caught:
        SecretBox([new]).decrypt(token)
    assert new not in caught.value.message and old not in caught.value.message


def test_a_bad_key_is_named_by_its_position_never_its_value() -> None:
    good = generate_key()
    with pytest.raises(ConfigError) as caught:
        SecretBox([good, "not-a-key-but-maybe-a-secret"])
    assert "key #2" in caught.value.message and "not-a-key" not in caught.value.message
    assert repr(SecretBox([good])) == "SecretBox(keys=1)"


def test_local_mode_generates_a_private_key_file_once(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    box = load_secret_box(settings)
    path = tmp_path / "data" / KEY_FILE_NAME
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    token = box.encrypt(b"x")
    assert load_secret_box(settings).decrypt(token) == b"x"  # the same key, read back
    assert [p.name for p in path.parent.iterdir()] == [KEY_FILE_NAME]


def test_with_auth_configured_a_missing_key_stops_the_start(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, jwt_secret="s" * 40)
    with pytest.raises(ConfigError) as caught:
        load_secret_box(settings)
    assert "AUTOPLAT_ENCRYPTION_KEY is required" in caught.value.message
    assert not (tmp_path / KEY_FILE_NAME).exists()
    keys = f"{generate_key()}, {generate_key()}"
    assert load_secret_box(Settings(jwt_secret="s" * 40, encryption_key=keys)).key_count == 2
