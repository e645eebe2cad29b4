"""Pytest fixtures that run the whole platform in-process on a fresh database.

Enable with ``pytest_plugins = ["autoplat.testing"]``. The database is SQLite unless
``AUTOPLAT_TEST_PG_URL`` names a PostgreSQL server (``make test`` starts one): each test
gets a fresh database cloned from a template migrated once per session — a file copy on
SQLite, ``CREATE DATABASE ... TEMPLATE`` on PostgreSQL.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.engine import make_url

from autoplat.config import Settings
from autoplat.db import migrate
from autoplat.db.engine import create_engine
from autoplat.platform import Platform

PG_ENV = "AUTOPLAT_TEST_PG_URL"
TEST_JWT_SECRET = "autoplat-test-secret-with-enough-bytes-for-hs256"
#: The Fernet key test platforms encrypt credentials with (auth is on, so one is required).
TEST_ENCRYPTION_KEY = "YXV0b3BsYXQtdGVzdC1lbmNyeXB0aW9uLWtleS0zMmI="
#: The user ``autoplat_client`` acts as.
TEST_USER_ID = "user-a"


def make_token(user_id: str, *, role: str = "user", secret: str = TEST_JWT_SECRET) -> str:
    """A signed HS256 bearer token for ``user_id``, valid for a day (tokens must expire)."""
    import time

    import jwt

    claims = {
        "sub": user_id,
        "role": role,
        "email": f"{user_id}@example.test",
        "exp": int(time.time()) + 86400,
    }
    return jwt.encode(claims, secret)


def client_for(platform: Platform, user_id: str, *, role: str = "user") -> httpx.AsyncClient:
    """An HTTP client bound to ``platform`` that authenticates as ``user_id``."""
    return httpx.AsyncClient(
        base_url=platform.url,
        timeout=30,
        headers={"Authorization": f"Bearer {make_token(user_id, role=role)}"},
    )


def make_settings(database_url: str, data_dir: Path, **overrides: Any) -> Settings:
    """Settings for a test platform: a free port, quiet logs, the given database."""
    values: dict[str, Any] = {
        "database_url": database_url,
        "data_dir": data_dir,
        "host": "127.0.0.1",
        "port": 0,
        "log_level": "warning",
        "log_format": "console",
        "drain_timeout": 5.0,
        "poll_interval": 0.2,
        "jwt_secret": TEST_JWT_SECRET,
        "encryption_key": TEST_ENCRYPTION_KEY,
    }
    values.update(overrides)
    return Settings(**values)


class DatabaseFactory:
    """Makes fresh, migrated databases for tests, from a template migrated once."""

    def __init__(self, workdir: Path, pg_admin_url: str | None) -> None:
        self.workdir = workdir
        self.pg_admin_url = pg_admin_url
        self.template = f"autoplat_tpl_{uuid.uuid4().hex[:8]}"
        self._template_file = workdir / "template.db"

    @property
    def dialect(self) -> str:
        """``postgresql`` or ``sqlite``."""
        return "postgresql" if self.pg_admin_url else "sqlite"

    def prepare(self) -> None:
        """Create and migrate the template (once per session)."""
        asyncio.run(self._prepare())

    async def _prepare(self) -> None:
        if self.pg_admin_url:
            await self._pg_admin(f'CREATE DATABASE "{self.template}"')
            url = self._pg_url(self.template)
        else:
            url = f"sqlite+aiosqlite:///{self._template_file}"
        engine = create_engine(make_settings(url, self.workdir))
        await migrate.upgrade(engine)
        await engine.dispose()

    async def create(self) -> str:
        """A new database URL holding the migrated, empty schema."""
        name = f"autoplat_t_{uuid.uuid4().hex[:12]}"
        if self.pg_admin_url:
            await self._pg_admin(f'CREATE DATABASE "{name}" TEMPLATE "{self.template}"')
            return self._pg_url(name)
        path = self.workdir / f"{name}.db"
        shutil.copyfile(self._template_file, path)
        return f"sqlite+aiosqlite:///{path}"

    async def drop(self, url: str) -> None:
        """Remove a database made by :meth:`create`."""
        name = make_url(url).database or ""
        if self.pg_admin_url:
            await self._pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        else:
            for suffix in ("", "-wal", "-shm"):
                Path(name + suffix).unlink(missing_ok=True)

    def _pg_url(self, database: str) -> str:
        assert self.pg_admin_url is not None
        return (
            make_url(self.pg_admin_url).set(database=database).render_as_string(hide_password=False)
        )

    async def _pg_admin(self, sql: str) -> None:
        import asyncpg

        assert self.pg_admin_url is not None
        dsn = make_url(self.pg_admin_url).set(drivername="postgresql")
        conn = await asyncpg.connect(dsn.render_as_string(hide_password=False))
        try:
            await conn.execute(sql)
        finally:
            await conn.close()


@asynccontextmanager
async def running_platform(
    settings: Settings,
) -> AsyncIterator[tuple[Platform, httpx.AsyncClient]]:
    """Start a platform with ``settings`` and an HTTP client bound to its server."""
    async with Platform(settings) as platform, client_for(platform, TEST_USER_ID) as client:
        yield platform, client


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def serve_process(
    database_url: str, port: int, data_dir: Path, log: Path, **settings: str
) -> subprocess.Popen[bytes]:
    """Start a real ``autoplat serve`` process with test settings, its output into ``log``.

    ``settings`` are extra AUTOPLAT_* values by setting name (``lease_seconds="3"``).
    """
    env = {
        **os.environ,
        "AUTOPLAT_DATABASE_URL": database_url,
        "AUTOPLAT_PORT": str(port),
        "AUTOPLAT_DATA_DIR": str(data_dir),
        "AUTOPLAT_JWT_SECRET": TEST_JWT_SECRET,
        "AUTOPLAT_ENCRYPTION_KEY": TEST_ENCRYPTION_KEY,
        "AUTOPLAT_CREDITS_ENABLED": "false",
        "AUTOPLAT_POLL_INTERVAL": "0.2",
        "AUTOPLAT_LOG_FORMAT": "json",
        **{f"AUTOPLAT_{name.upper()}": value for name, value in settings.items()},
    }
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "autoplat", "serve"], env=env, stdout=out, stderr=out
        )


async def wait_ready(port: int, proc: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    """Wait until the server process on ``port`` answers ``/health``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    async with httpx.AsyncClient() as client:
        while loop.time() < deadline:
            assert proc.poll() is None, "the server exited during start-up"
            try:
                if (await client.get(f"http://127.0.0.1:{port}/health")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.05)
    raise AssertionError(f"the server did not answer /health within {timeout:g} s")


def pytest_report_header(config: pytest.Config) -> str:
    """Say which database the suite runs on."""
    return f"autoplat database: {'postgresql' if os.environ.get(PG_ENV) else 'sqlite'}"


@pytest.fixture(scope="session")
def autoplat_db_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DatabaseFactory]:
    """The session's database factory (template migrated once)."""
    factory = DatabaseFactory(tmp_path_factory.mktemp("autoplat-db"), os.environ.get(PG_ENV))
    factory.prepare()
    yield factory
    if factory.pg_admin_url:
        asyncio.run(factory._pg_admin(f'DROP DATABASE IF EXISTS "{factory.template}"'))


@pytest.fixture
async def autoplat_database_url(autoplat_db_factory: DatabaseFactory) -> AsyncIterator[str]:
    """A fresh, migrated, empty database for one test."""
    url = await autoplat_db_factory.create()
    yield url
    await autoplat_db_factory.drop(url)


@pytest.fixture
def autoplat_settings(autoplat_database_url: str, tmp_path: Path) -> Settings:
    """Settings for an in-process platform on the test's fresh database."""
    return make_settings(autoplat_database_url, tmp_path)


@pytest.fixture
async def autoplat_platform(autoplat_settings: Settings) -> AsyncIterator[Platform]:
    """The whole platform, started in this event loop, with its HTTP server on a free port."""
    async with Platform(autoplat_settings) as platform:
        yield platform


@pytest.fixture
async def autoplat_client(autoplat_platform: Platform) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client bound to the running platform's server, authenticated as TEST_USER_ID."""
    async with client_for(autoplat_platform, TEST_USER_ID) as client:
        yield client
