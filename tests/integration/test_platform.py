"""The platform starts on a fresh database, answers its probes and maps errors."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from autoplat.config import Settings
from autoplat.db.manager import DatabaseManager
from autoplat.errors import ConfigError, DatabaseUnavailable
from autoplat.platform import Platform
from autoplat.testing import make_settings


async def test_health_and_ready(autoplat_client: httpx.AsyncClient) -> None:
    health = await autoplat_client.get("/health")
    assert health.status_code == 200
    assert health.json()["status"] == "ok"
    assert health.headers["x-request-id"]
    ready = await autoplat_client.get("/ready")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready"}


async def test_unknown_route_uses_error_envelope(autoplat_client: httpx.AsyncClient) -> None:
    response = await autoplat_client.get("/api/no-such-thing")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


async def test_oversized_body_is_refused(
    autoplat_platform: Platform, autoplat_client: httpx.AsyncClient
) -> None:
    limit = autoplat_platform.settings.max_body_bytes
    response = await autoplat_client.post("/health", content=b"x" * (limit + 1))
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"


async def test_ready_reports_a_dead_database(autoplat_platform: Platform) -> None:
    await autoplat_platform.db.health_check()
    await autoplat_platform.db.disconnect()
    with pytest.raises(DatabaseUnavailable):
        await autoplat_platform.db.health_check()
    await autoplat_platform.db.connect()


async def test_unreachable_database_is_one_clear_error(tmp_path: Path) -> None:
    settings = make_settings("postgresql+asyncpg://nobody@127.0.0.1:1/none", tmp_path)
    db = DatabaseManager(settings)
    with pytest.raises(DatabaseUnavailable) as info:
        await db.connect()
    assert "\n" not in info.value.message
    assert "database unavailable" in info.value.message


async def test_unmigrated_database_is_refused(tmp_path: Path) -> None:
    # Only when told not to migrate on start (operators who migrate separately).
    settings = make_settings(
        f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}", tmp_path, migrate_on_start=False
    )
    with pytest.raises(ConfigError, match="autoplat migrate"):
        async with Platform(settings):
            pass


def test_settings_validation_names_the_variable() -> None:
    from autoplat.config import load_settings

    with pytest.raises(ConfigError, match="AUTOPLAT_PORT"):
        load_settings(port=70000)
    with pytest.raises(ConfigError, match="AUTOPLAT_DATABASE_URL"):
        load_settings(database_url="mysql://x")
    assert Settings().port == 8006


def test_credits_default_follows_auth() -> None:
    # Local mode is one person: metering them would only block their runs.
    assert Settings(jwt_secret="").credits_enabled is False
    assert Settings(jwt_secret="secret").credits_enabled is True
    assert Settings(jwt_secret="secret", credits_enabled=False).credits_enabled is False
