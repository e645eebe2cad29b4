"""Secrets (JWT secret, LLM key, the database URL's password) never show: not in a repr, a
settings dump, an error message, an API response or a log line."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from autoplat.blocks.settings import BlockSettings
from autoplat.config import Settings, load_settings
from autoplat.errors import ConfigError
from autoplat.testing import TEST_JWT_SECRET, TEST_USER_ID, make_settings, running_platform
from tests.support.servers import FakeLlm, serve

LLM_KEY = "sk-very-secret-llm-key"
DB_PASSWORD = "db-pass-word-123"
AI_TEXT = "1f292d4a-41a4-4977-9684-7c8d560b9f91"


def test_settings_never_show_their_secrets() -> None:
    settings = Settings(
        jwt_secret=TEST_JWT_SECRET,
        llm_api_key=LLM_KEY,
        database_url=f"postgresql://autoplat:{DB_PASSWORD}@db.example/autoplat",
    )
    shown = [
        repr(settings),
        str(settings),
        settings.model_dump_json(),
        str(settings.model_dump()),
        repr(BlockSettings.from_settings(settings)),
    ]
    for text in shown:
        for secret in (TEST_JWT_SECRET, LLM_KEY, DB_PASSWORD):
            assert secret not in text
    # Unwrapped only where used.
    assert DB_PASSWORD in settings.resolved_database_url
    assert settings.auth_configured and settings.credits_enabled
    assert not Settings(jwt_secret="").auth_configured


def test_a_bad_setting_is_reported_without_the_secrets_beside_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AUTOPLAT_JWT_SECRET", TEST_JWT_SECRET)
    monkeypatch.setenv("AUTOPLAT_LLM_API_KEY", LLM_KEY)
    with pytest.raises(ConfigError) as caught:
        load_settings(port=-1, database_url=f"mysql://u:{DB_PASSWORD}@h/d")
    message = caught.value.message
    assert "AUTOPLAT_PORT" in message and "AUTOPLAT_DATABASE_URL" in message
    for secret in (TEST_JWT_SECRET, LLM_KEY, DB_PASSWORD):
        assert secret not in message


async def test_the_llm_key_is_sent_but_never_answered_or_logged(
    autoplat_database_url: str,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # An endpoint that echoes the key back in its error, as some providers do.
    fake = FakeLlm(replies=[(401, {"error": {"message": f"Incorrect API key: {LLM_KEY}"}})])
    caplog.set_level(logging.DEBUG)
    async with serve(fake.app()) as url:
        settings = make_settings(
            autoplat_database_url, tmp_path, llm_base_url=f"{url}/v1", llm_api_key=LLM_KEY
        )
        async with running_platform(settings) as (platform, client):
            await platform.db.users.ensure(TEST_USER_ID)
            await platform.credits.add_credits(TEST_USER_ID, 100)
            response = await client.post(f"/api/blocks/{AI_TEXT}/execute", json={"prompt": "hi"})
    assert fake.requests[0]["_authorization"] == f"Bearer {LLM_KEY}"
    assert response.status_code == 422
    assert "Incorrect API key: ***" in response.json()["error"]["message"]
    captured = capsys.readouterr()
    for text in (response.text, caplog.text, captured.out, captured.err):
        assert LLM_KEY not in text
        assert TEST_JWT_SECRET not in text
