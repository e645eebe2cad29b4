"""BlockSettings: the only settings a block run can see, taken once from ``Settings``.

Blocks run graph authors' work, so they get the few values they need (outbound HTTP limits,
the LLM endpoint, iteration caps) and nothing else: no database URL, no JWT secret. Secrets
stay ``SecretStr`` here too and are unwrapped only at the line that sends them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pydantic import SecretStr

from autoplat.config import Settings


@dataclass(frozen=True, slots=True)
class BlockSettings:
    """What a block may read of the platform's settings (immutable)."""

    http_allow_private: bool = False
    http_timeout: float = 30.0
    http_max_response_bytes: int = 10_000_000
    llm_base_url: str = ""
    llm_api_key: SecretStr = field(default_factory=lambda: SecretStr(""))
    llm_model: str = "gpt-4o-mini"
    #: The read timeout of one LLM call: a completion may take as long as the node may.
    node_timeout: float = 300.0
    step_through_max_items: int = 10_000

    @classmethod
    def from_settings(cls, settings: Settings) -> BlockSettings:
        """The block view of ``settings``; built once by the composition root."""
        return cls(
            http_allow_private=settings.http_allow_private,
            http_timeout=settings.http_timeout,
            http_max_response_bytes=settings.http_max_response_bytes,
            llm_base_url=settings.llm_base_url,
            llm_api_key=settings.llm_api_key,
            llm_model=settings.llm_model,
            node_timeout=settings.node_timeout,
            step_through_max_items=settings.step_through_max_items,
        )
