"""DatabaseManager: the only component that talks SQL; other components call its stores."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker

from autoplat.config import Settings
from autoplat.db.api_keys import ApiKeyStore
from autoplat.db.credentials import CredentialStore
from autoplat.db.credits import CreditStore
from autoplat.db.engine import create_engine
from autoplat.db.executions import ExecutionStore
from autoplat.db.files import FileRecordStore
from autoplat.db.graphs import GraphStore
from autoplat.db.kv import KeyValueStore
from autoplat.db.library import LibraryStore
from autoplat.db.notifications import NotificationStore
from autoplat.db.notify_outbox import NotificationOutboxStore
from autoplat.db.presets import PresetStore
from autoplat.db.reviews import ReviewStore
from autoplat.db.schedules import ScheduleStore
from autoplat.db.shares import ShareStore
from autoplat.db.stats import StatsStore
from autoplat.db.summaries import SummaryStore
from autoplat.db.users import UserStore
from autoplat.db.webhooks import WebhookStore
from autoplat.db.workers import WorkerStore
from autoplat.errors import ConfigError, DatabaseUnavailable
from autoplat.logging import get_logger

log = get_logger("autoplat.db")


@asynccontextmanager
async def connected_database(settings: Settings) -> AsyncIterator[DatabaseManager]:
    """A connected DatabaseManager on a migrated database, for commands outside a Platform."""
    from autoplat.db.migrate import ensure_current

    db = DatabaseManager(settings)
    await db.connect()
    try:
        await ensure_current(db.engine)
        yield db
    finally:
        await db.disconnect()


def describe_db_error(exc: BaseException) -> str:
    """A one-line reason for a database failure, without the traceback."""
    inner = getattr(exc, "orig", None) or exc
    reason = str(inner).strip().splitlines()[0] if str(inner).strip() else type(inner).__name__
    return f"{type(inner).__name__}: {reason}"


class DatabaseManager:
    """Owns the engine and offers the data methods, grouped by domain in its stores."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._engine: AsyncEngine | None = None
        self._sessions: async_sessionmaker[AsyncSession] | None = None
        # Domain groups of data methods; each store holds this manager and uses its engine.
        self.users = UserStore(self)
        self.api_keys = ApiKeyStore(self)
        self.graphs = GraphStore(self)
        self.library = LibraryStore(self)
        self.executions = ExecutionStore(self)
        self.credits = CreditStore(self)
        self.schedules = ScheduleStore(self)
        self.notifications = NotificationStore(self)
        self.outbox = NotificationOutboxStore(self)
        self.summaries = SummaryStore(self)
        self.presets = PresetStore(self)
        self.shares = ShareStore(self)
        self.webhooks = WebhookStore(self)
        self.stats = StatsStore(self)
        self.workers = WorkerStore(self)
        self.reviews = ReviewStore(self)
        self.credentials = CredentialStore(self)
        self.kv = KeyValueStore(self)
        self.files = FileRecordStore(self)

    # --- lifecycle ----------------------------------------------------------------------

    async def connect(self) -> None:
        """Create the engine and check that the database answers."""
        try:
            engine = create_engine(self.settings)
        except Exception as exc:  # bad URL, missing driver: one clear line, no traceback
            raise ConfigError(f"bad database URL: {describe_db_error(exc)}") from None
        self._engine = engine
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)
        try:
            await self.health_check()
        except DatabaseUnavailable:
            # Quietly: the caller reports this failure in one line.
            self._engine, self._sessions = None, None
            await engine.dispose()
            raise
        log.info("db.connected", dialect=self.dialect)

    async def disconnect(self) -> None:
        """Close every pooled connection."""
        if self._engine is not None:
            await self._engine.dispose()
            log.info("db.disconnected")
        self._engine = None
        self._sessions = None

    async def health_check(self) -> None:
        """Run ``SELECT 1``; raise DatabaseUnavailable when the database does not answer."""
        try:
            async with self.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        except DatabaseUnavailable:
            raise
        except Exception as exc:  # every driver failure means the same thing here
            raise DatabaseUnavailable(f"database unavailable: {describe_db_error(exc)}") from exc

    # --- access -------------------------------------------------------------------------

    @property
    def engine(self) -> AsyncEngine:
        """The engine; only valid between connect() and disconnect()."""
        if self._engine is None:
            raise DatabaseUnavailable("database is not connected")
        return self._engine

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self.engine.dialect.name

    @property
    def is_postgres(self) -> bool:
        """True on PostgreSQL."""
        return self.dialect == "postgresql"

    @asynccontextmanager
    async def begin(self) -> AsyncIterator[AsyncConnection]:
        """A Core connection inside one transaction (committed on success)."""
        async with self.engine.begin() as conn:
            yield conn

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """An ORM session inside one transaction (committed on success)."""
        if self._sessions is None:
            raise DatabaseUnavailable("database is not connected")
        async with self._sessions() as session, session.begin():
            yield session
