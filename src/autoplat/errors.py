"""The exception tree of autoplat.

Every error the platform raises on purpose derives from :class:`AutoplatError`. Each class
carries a stable ``code`` (used in JSON error bodies and WebSocket messages) and an HTTP
``status``; ``autoplat.api.errors`` is the one place that turns them into responses.
"""

from __future__ import annotations

from typing import Any


class AutoplatError(Exception):
    """Root of all deliberate autoplat errors."""

    code: str = "internal_error"
    status: int = 500

    def __init__(self, message: str, *, details: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or []


# --- configuration and infrastructure -------------------------------------------------


class ConfigError(AutoplatError):
    """A setting has a bad value; raised before anything starts."""

    code = "config_error"


class DatabaseUnavailable(AutoplatError):
    """The database cannot be reached or does not answer."""

    code = "database_unavailable"
    status = 503


class NotReady(AutoplatError):
    """A critical part of the process is failing (it restarts it, or gives up and exits)."""

    code = "not_ready"
    status = 503


# --- request problems (4xx) ------------------------------------------------------------


class BadRequest(AutoplatError):
    """The request is malformed (bad JSON, wrong content type, bad query parameter)."""

    code = "bad_request"
    status = 400


class ValidationFailed(AutoplatError):
    """Input failed validation; ``details`` lists one entry per field or node pin."""

    code = "validation_error"
    status = 422


class PayloadTooLarge(AutoplatError):
    """The request body is over the configured limit."""

    code = "payload_too_large"
    status = 413


class NotAuthenticated(AutoplatError):
    """No valid credentials were presented."""

    code = "not_authenticated"
    status = 401


class PermissionDenied(AutoplatError):
    """The caller is known but may not do this."""

    code = "permission_denied"
    status = 403


class NotFound(AutoplatError):
    """A resource does not exist (or belongs to someone else)."""

    code = "not_found"
    status = 404


class Conflict(AutoplatError):
    """The request conflicts with the current state of a resource."""

    code = "conflict"
    status = 409


class RateLimited(AutoplatError):
    """Too many requests of this kind in the current window."""

    code = "rate_limited"
    status = 429


class InsufficientCredits(AutoplatError):
    """A charge does not fit the user's balance; nothing was written."""

    code = "insufficient_credits"
    status = 402


# --- blocks and execution --------------------------------------------------------------


class BlockError(AutoplatError):
    """A block could not run; the node execution fails with this message."""

    code = "block_error"
    status = 422


class BlockInputError(BlockError):
    """A block's input does not match its input schema."""

    code = "block_input_error"


class BlockOutputError(BlockError):
    """A block yielded a value on an unknown pin or of the wrong type."""

    code = "block_output_error"


class BlockRunError(BlockError):
    """A block reported an error (yielded on its ``error`` pin or raised)."""

    code = "block_run_error"


class TransientBlockError(BlockError):
    """A block failed in a way worth retrying (network hiccup, 5xx, timeout)."""

    code = "block_transient_error"


class InvalidTransition(AutoplatError):
    """An execution status change that the transition table forbids."""

    code = "invalid_transition"
    status = 409


class BlockNotFound(NotFound):
    """No block with the requested id is registered."""

    code = "block_not_found"


class PinPathError(BlockInputError, ValueError):
    """A dynamic pin path (``_$_``/``_#_``/``_@_``) cannot be applied, e.g. a non-integer index."""

    code = "pin_path_error"


class PinIndexError(PinPathError, IndexError):
    """A dynamic pin path uses a list index out of range (negative or too negative)."""

    code = "pin_index_error"


class BlockDisabled(BlockError):
    """The block exists but is disabled on this platform."""

    code = "block_disabled"
    status = 403


# --- graphs ----------------------------------------------------------------------------


class GraphNotFound(NotFound):
    """No graph (or version) with this id belongs to the caller."""

    code = "graph_not_found"


class MissingBlocks(ValidationFailed):
    """A graph uses blocks this platform does not have; ``details`` names each node."""

    code = "missing_blocks"


# --- HTTP API ---------------------------------------------------------------------------


class UnsupportedMediaType(BadRequest):
    """The request body is not in a media type the route accepts (JSON)."""

    code = "unsupported_media_type"
    status = 415


class ApiKeyNotFound(NotFound):
    """No API key with this id belongs to the caller."""

    code = "api_key_not_found"


# --- executions -------------------------------------------------------------------------


class ExecutionNotFound(NotFound):
    """No graph execution with this id belongs to the caller."""

    code = "execution_not_found"


# --- schedules --------------------------------------------------------------------------


class ScheduleNotFound(NotFound):
    """No schedule with this id belongs to the caller."""

    code = "schedule_not_found"


class LibraryAgentNotFound(NotFound):
    """No library agent with this id belongs to the caller."""

    code = "library_agent_not_found"


class RunRateLimited(RateLimited):
    """Too many run submissions by one user; ``retry_after`` seconds until the next fits."""

    def __init__(
        self, message: str, *, retry_after: int = 60, details: list[dict[str, Any]] | None = None
    ) -> None:
        super().__init__(message, details=details)
        self.retry_after = retry_after


# --- credentials and integrations -------------------------------------------------------


class CredentialsNotFound(NotFound):
    """No credentials with this id (of this provider) are visible to the caller."""

    code = "credentials_not_found"


class ProviderNotFound(NotFound):
    """The integration provider is unknown, or does not offer what was asked (OAuth)."""

    code = "provider_not_found"


class ProviderNotConfigured(Conflict):
    """The provider's OAuth app is not configured by the operator: it is unavailable."""

    code = "provider_not_configured"


class SystemCredentialsReadOnly(PermissionDenied):
    """Platform credentials are the operator's: users may use them, never change them."""

    code = "system_credentials_read_only"


class OAuthError(BadRequest):
    """An OAuth2 step failed (bad or expired state, the provider refused the code)."""

    code = "oauth_error"


class CredentialsRefreshFailed(AutoplatError):
    """Expired OAuth2 tokens could not be refreshed; the user must log in again."""

    code = "credentials_refresh_failed"
    status = 422


class UndecryptableSecret(AutoplatError):
    """A stored secret was encrypted with a key that is not configured (any more)."""

    code = "credentials_undecryptable"
    status = 500


class ReviewNotEditable(AutoplatError):
    """Edited data was sent for a review that does not allow edits."""

    code = "review_not_editable"
    status = 422
