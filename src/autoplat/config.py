"""Settings: read once from ``AUTOPLAT_*`` environment variables and CLI flags, then passed on.

Secrets (the JWT secret, the LLM key, the database URL with its password, the encryption
keys, OAuth client secrets and platform API keys) are ``SecretStr``:
their repr and every dump show ``**********``, and the one line that uses each unwraps it
with ``get_secret_value()``, so none reaches a response, a log line or an error message.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from autoplat.errors import ConfigError

LogFormat = Literal["auto", "console", "json"]
LogLevel = Literal["debug", "info", "warning", "error", "critical"]
#: What one ``autoplat serve`` process can do; ``all`` is every one of them.
ROLES = ("api", "worker", "scheduler")


class Settings(BaseSettings):
    """Every knob of the platform; an instance is built at start and handed to each component."""

    model_config = SettingsConfigDict(
        env_prefix="AUTOPLAT_", extra="forbid", validate_default=True, frozen=True
    )

    # --- process ------------------------------------------------------------------------
    database_url: SecretStr = Field(
        default=SecretStr(""),
        description="SQLAlchemy URL; empty means SQLite in the data dir (secret: it may hold "
        "a password).",
    )
    data_dir: Path = Field(default=Path("data"), description="Where the SQLite file lives.")
    host: str = Field(default="127.0.0.1", description="Address the HTTP server binds to.")
    port: int = Field(default=8006, ge=0, le=65535, description="HTTP port (0 = any free).")
    log_level: LogLevel = "info"
    log_format: LogFormat = Field(
        default="auto", description="console on a terminal, JSON lines otherwise."
    )
    drain_timeout: float = Field(
        default=10.0, gt=0, description="Seconds a stop waits for running work."
    )
    loop_max_failures: int = Field(
        default=8,
        ge=1,
        description="Failures in a row (with growing pauses between restarts) after which a "
        "critical loop is given up on: /ready turns 503 and `autoplat serve` exits 1.",
    )
    otel_endpoint: str = Field(
        default="",
        description="OTLP/HTTP collector URL (e.g. http://collector:4318): each run and node "
        "execution is exported as a span to <it>/v1/traces; empty: no traces.",
    )
    otel_service_name: str = Field(
        default="autoplat", min_length=1, description="service.name of the exported spans."
    )
    db_pool_size: int = Field(default=10, ge=1, description="PostgreSQL connection pool size.")
    migrate_on_start: bool = Field(
        default=True,
        description="`autoplat serve` brings an empty or older database to the current schema "
        "(under an advisory lock on PostgreSQL); off: it refuses one that is not current.",
    )
    roles: str = Field(
        default="all",
        description="Comma-separated roles of `autoplat serve`: all, api, worker, scheduler "
        "(roles other than all need PostgreSQL).",
    )

    # --- execution ----------------------------------------------------------------------
    graph_workers: int = Field(default=16, ge=1, description="Graph runs at once per process.")
    node_concurrency: int = Field(default=8, ge=1, description="Nodes running at once per run.")
    user_max_running: int = Field(
        default=8, ge=1, description="Runs of one user running at once; the rest wait queued."
    )
    lease_seconds: float = Field(default=30.0, gt=0, description="Claim lease on a graph run.")
    node_timeout: float = Field(default=300.0, gt=0, description="Default per-node timeout.")
    node_retries: int = Field(default=2, ge=0, description="Retries on transient block errors.")
    poll_interval: float = Field(
        default=1.0, gt=0, description="Seconds between queue polls when no wake-up arrives."
    )

    # --- API and auth -------------------------------------------------------------------
    max_body_bytes: int = Field(default=2_000_000, ge=1024, description="Request body limit.")
    jwt_secret: SecretStr = Field(
        default=SecretStr(""), description="HS256 secret for bearer JWTs (secret)."
    )
    jwt_public_key: str = Field(default="", description="PEM key for RS256/ES256 JWTs.")
    jwt_audience: str = Field(default="", description="Expected JWT audience, if any.")
    allowed_hosts: str = Field(
        default="",
        description="Comma-separated Host names local mode accepts besides localhost, "
        "127.0.0.1 and [::1].",
    )
    run_rate_limit: int = Field(
        default=600, ge=0, description="Run submissions per user per minute (0 = no limit)."
    )

    # --- credits ------------------------------------------------------------------------
    credits_enabled: bool = Field(
        default=True,
        description="Meter block runs in credits. Default: on when auth is configured, "
        "off in local mode (one person metering themselves has no use).",
    )
    block_costs: dict[str, list[dict[str, Any]]] = Field(
        default_factory=dict, description="JSON: block id -> list of costs (overrides)."
    )
    execution_fee: int = Field(default=0, ge=0, description="Credits charged every Nth node.")
    execution_fee_every: int = Field(default=1, ge=1)
    low_balance_threshold: int = Field(default=100, ge=0)
    monthly_refill: int = Field(default=0, ge=0, description="Monthly grant refill (0 = off).")

    # --- blocks -------------------------------------------------------------------------
    http_allow_private: bool = Field(
        default=False, description="Let the HTTP block reach loopback/private addresses."
    )
    http_timeout: float = Field(default=30.0, gt=0)
    http_max_response_bytes: int = Field(default=10_000_000, ge=1)
    llm_base_url: str = Field(default="", description="OpenAI-compatible endpoint base URL.")
    llm_api_key: SecretStr = Field(
        default=SecretStr(""), description="Bearer key sent to the LLM endpoint (secret)."
    )
    llm_model: str = Field(
        default="gpt-4o-mini", description="Model an LLM node with an empty model pin runs."
    )
    llm_provider_urls: dict[str, str] = Field(
        default_factory=dict,
        description="JSON: LLM provider -> base URL replacing its public API (proxies, tests).",
    )
    llm_retries: int = Field(
        default=3, ge=0, description="Retries of one LLM call on 429, 5xx and network errors."
    )
    llm_retry_max_wait: float = Field(
        default=30.0,
        gt=0,
        description="Longest wait between LLM retries; a longer Retry-After fails the call.",
    )
    step_through_max_items: int = Field(
        default=10_000,
        ge=1,
        description="Most items one StepThroughItems node emits (and repeats of one "
        "CountdownTimer node).",
    )

    # --- credentials and integrations ---------------------------------------------------
    encryption_key: SecretStr = Field(
        default=SecretStr(""),
        description="Comma-separated Fernet keys for credentials at rest: the first encrypts, "
        "every one decrypts (rotation). Local mode generates one into the data dir; with "
        "auth configured it is required (secret).",
    )
    frontend_base_url: str = Field(
        default="",
        description="Base URL of the web app; OAuth providers send users back to "
        "<it>/auth/integrations/oauth_callback (empty: this server's URL).",
    )
    github_client_id: str = Field(default="", description="GitHub OAuth app client id.")
    github_client_secret: SecretStr = Field(
        default=SecretStr(""), description="GitHub OAuth app client secret (secret)."
    )
    google_client_id: str = Field(default="", description="Google OAuth client id.")
    google_client_secret: SecretStr = Field(
        default=SecretStr(""), description="Google OAuth client secret (secret)."
    )
    discord_client_id: str = Field(default="", description="Discord OAuth app client id.")
    discord_client_secret: SecretStr = Field(
        default=SecretStr(""), description="Discord OAuth app client secret (secret)."
    )
    oauth_base_urls: dict[str, str] = Field(
        default_factory=dict,
        description="JSON: OAuth provider -> base URL that replaces the provider's hosts "
        "(tests, proxies).",
    )
    # Platform (system) credentials: offered to every user, charged in credits.
    openai_api_key: SecretStr = Field(
        default=SecretStr(""), description="Platform OpenAI key offered to every user (secret)."
    )
    anthropic_api_key: SecretStr = Field(
        default=SecretStr(""), description="Platform Anthropic key (secret)."
    )
    groq_api_key: SecretStr = Field(
        default=SecretStr(""), description="Platform Groq key (secret)."
    )
    open_router_api_key: SecretStr = Field(
        default=SecretStr(""), description="Platform OpenRouter key (secret)."
    )
    ollama_host: str = Field(
        default="", description="Ollama server offered to every user (e.g. http://localhost:11434)."
    )
    llama_api_key: SecretStr = Field(
        default=SecretStr(""), description="Platform Llama API key (secret)."
    )
    aiml_api_key: SecretStr = Field(
        default=SecretStr(""), description="Platform AI/ML API key (secret)."
    )
    v0_api_key: SecretStr = Field(default=SecretStr(""), description="Platform v0 key (secret).")
    jina_api_key: SecretStr = Field(
        default=SecretStr(""), description="Platform Jina key (secret)."
    )
    replicate_api_key: SecretStr = Field(
        default=SecretStr(""), description="Platform Replicate key (secret)."
    )
    ideogram_api_key: SecretStr = Field(
        default=SecretStr(""), description="Platform Ideogram key (secret)."
    )
    e2b_api_key: SecretStr = Field(default=SecretStr(""), description="Platform E2B key (secret).")
    exa_api_key: SecretStr = Field(default=SecretStr(""), description="Platform Exa key (secret).")
    firecrawl_api_key: SecretStr = Field(
        default=SecretStr(""), description="Platform Firecrawl key (secret)."
    )

    # --- files and the key-value store ---------------------------------------------------
    file_storage_url: str = Field(
        default="",
        description="Where file contents live: empty = <data dir>/files, an absolute "
        "directory, or s3://bucket[/prefix] for an S3-compatible bucket.",
    )
    s3_endpoint_url: str = Field(
        default="",
        description="S3-compatible endpoint (MinIO, R2...); empty: AWS in s3_region.",
    )
    s3_region: str = Field(default="us-east-1", description="Region the S3 requests sign for.")
    s3_access_key_id: str = Field(default="", description="S3 access key id.")
    s3_secret_access_key: SecretStr = Field(
        default=SecretStr(""), description="S3 secret access key (secret)."
    )
    file_max_bytes: int = Field(
        default=25_000_000,
        ge=1,
        description="Largest file one upload or one block run may store (or fetch to store).",
    )
    file_quota_bytes: int = Field(
        default=1_000_000_000, ge=0, description="Bytes of unexpired files one user may hold."
    )
    file_ttl_hours: int = Field(
        default=24,
        ge=1,
        description="Hours a file stored by a block run is kept (uploads choose 1-48).",
    )
    file_allowed_types: str = Field(
        default="text/*,image/*,audio/*,video/*,application/pdf,application/json,"
        "application/xml,application/zip,application/vnd.openxmlformats-officedocument.*,"
        "application/vnd.ms-excel,application/msword",
        description="Comma-separated media types an upload may declare (type/* wildcards).",
    )
    kv_max_value_bytes: int = Field(
        default=1_000_000, ge=1, description="Largest value (JSON) one key-value entry holds."
    )
    kv_max_keys: int = Field(default=10_000, ge=1, description="Key-value entries per user.")
    wikipedia_base_url: str = Field(
        default="https://en.wikipedia.org",
        description="Wikipedia's base URL for GetWikipediaSummaryBlock (tests, mirrors).",
    )
    provider_base_urls: dict[str, str] = Field(
        default_factory=dict,
        description="JSON: integration service (jina_search, google_maps, replicate...) -> "
        "base URL replacing its public API (proxies, tests); trusted like the LLM endpoints.",
    )

    # --- notifications and operator alerts ---------------------------------------------
    smtp_host: str = Field(default="", description="SMTP server for e-mail; empty: no e-mail.")
    smtp_port: int = Field(default=587, ge=1, le=65535, description="SMTP port.")
    smtp_username: str = Field(default="", description="SMTP login, if the server wants one.")
    smtp_password: SecretStr = Field(default=SecretStr(""), description="SMTP password (secret).")
    smtp_from: str = Field(
        default="autoplat@localhost", description="The From address of notification e-mail."
    )
    smtp_tls: Literal["none", "starttls", "tls"] = Field(
        default="starttls", description="none, starttls (when offered) or tls (implicit)."
    )
    notification_batch_minutes: float = Field(
        default=60.0,
        gt=0,
        description="A user's run-finished notifications are e-mailed together, at most "
        "once per this many minutes.",
    )
    alert_webhook_url: str = Field(
        default="", description="Discord- or Slack-compatible webhook for operator alerts."
    )
    alert_late_queued_seconds: float = Field(
        default=600.0, gt=0, description="A run queued longer than this is late (alert)."
    )
    alert_late_running_seconds: float = Field(
        default=3600.0, gt=0, description="A run running longer than this is late (alert)."
    )
    alert_block_error_rate: float = Field(
        default=0.5,
        gt=0,
        le=1,
        description="Failed share of a block's runs in the last hour "
        "that raises an alert (with at least 10 runs).",
    )

    webhook_max_payload_bytes: int = Field(
        default=1_000_000, ge=1, description="Largest webhook delivery body the ingress accepts."
    )

    # --- scheduler ----------------------------------------------------------------------
    scheduler_enabled: bool = True
    schedule_grace_seconds: float = Field(default=300.0, ge=0)
    stuck_after_seconds: float = Field(default=3600.0, gt=0)
    retention_days: int = Field(default=30, ge=0, description="0 keeps execution data forever.")

    @model_validator(mode="before")
    @classmethod
    def _default_credits(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("credits_enabled") is None:
            secret = data.get("jwt_secret")
            if isinstance(secret, SecretStr):
                secret = secret.get_secret_value()
            data = {**data, "credits_enabled": bool(secret or data.get("jwt_public_key"))}
        return data

    @field_validator("roles")
    @classmethod
    def _check_roles(cls, value: str) -> str:
        names = [name.strip().lower() for name in value.split(",") if name.strip()]
        unknown = sorted(set(names) - {*ROLES, "all"})
        if unknown:
            raise ValueError(f"unknown role {unknown[0]!r}; roles: all, {', '.join(ROLES)}")
        return ",".join(names) or "all"

    @field_validator("otel_endpoint")
    @classmethod
    def _check_otel_endpoint(cls, value: str) -> str:
        value = value.strip()
        if value and not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL of an OTLP/HTTP collector")
        return value

    @field_validator("database_url")
    @classmethod
    def _check_url(cls, value: SecretStr) -> SecretStr:
        url = value.get_secret_value()
        if url and not url.startswith(("sqlite", "postgresql", "postgres")):
            raise ValueError("must be a sqlite+aiosqlite:// or postgresql+asyncpg:// URL")
        return value

    @property
    def resolved_database_url(self) -> str:
        """The database URL, defaulting to SQLite in the data directory."""
        url = self.database_url.get_secret_value()
        if url:
            if url.startswith("postgres://"):
                url = "postgresql://" + url[len("postgres://") :]
            if url.startswith("postgresql://"):
                url = "postgresql+asyncpg://" + url[len("postgresql://") :]
            if url.startswith("sqlite://"):
                url = "sqlite+aiosqlite://" + url[len("sqlite://") :]
            return url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'autoplat.db').as_posix()}"

    @property
    def role_set(self) -> frozenset[str]:
        """The roles this process plays (``all`` expanded)."""
        names = set(self.roles.split(","))
        return frozenset(ROLES) if "all" in names else frozenset(names)

    @property
    def is_postgres(self) -> bool:
        """True when the database is PostgreSQL."""
        return self.resolved_database_url.startswith("postgresql")

    @property
    def allowed_host_names(self) -> frozenset[str]:
        """``allowed_hosts`` as lower-case names (brackets of IPv6 literals dropped)."""
        names = (name.strip().strip("[]").lower() for name in self.allowed_hosts.split(","))
        return frozenset(name for name in names if name)

    @property
    def auth_configured(self) -> bool:
        """True when bearer JWTs can be verified; otherwise the server runs in local mode."""
        return bool(self.jwt_secret.get_secret_value() or self.jwt_public_key)


def load_settings(**overrides: Any) -> Settings:
    """Build settings from the environment plus explicit overrides, or raise ConfigError."""
    clean = {k: v for k, v in overrides.items() if v is not None}
    try:
        return Settings(**clean)
    except ValidationError as exc:
        problems = "; ".join(
            f"AUTOPLAT_{'_'.join(str(p) for p in err['loc']).upper()}: {err['msg']}"
            for err in exc.errors()
        )
        raise ConfigError(f"invalid settings: {problems}") from None
