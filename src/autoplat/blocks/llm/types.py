"""Provider-neutral types of one LLM call: request, response, tool definitions and calls.

Invariant: nothing here knows a wire format. A conversation is a list of messages in the
Chat Completions shape (``{"role", "content"}``; an assistant turn may carry ``tool_calls``,
a tool result is ``{"role": "tool", "tool_call_id", "content"}``) and every provider adapter
translates from and to it, so a conversation can be carried between nodes (and providers)
as plain JSON. Adapters also accept Anthropic-shaped content blocks in incoming messages,
because AutoGPT exports conversations in whichever format its provider used.

The Orchestrator uses: :class:`ToolDefinition` (what the model may call), :class:`LlmRequest`
(``tools=...``), :class:`LlmResponse` (``tool_calls``, ``message`` to append, ``usage``),
:meth:`ToolCall.parse_arguments` and :func:`tool_result_message`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from autoplat.errors import BlockInputError, BlockRunError

Message = dict[str, Any]
ToolChoice = Literal["auto", "required", "none"]


# --- errors (stable codes; none of their messages ever holds a key) -------------------------


class LlmNotConfigured(BlockRunError):
    """Nothing can serve the model: no credential, no platform key, no operator endpoint."""

    code = "llm_not_configured"


class UnknownLlmModel(BlockInputError, ValueError):
    """The ``model`` pin names no model of the table (the message lists the nearest)."""

    code = "llm_unknown_model"


class LlmCredentialsError(BlockRunError):
    """The node's credential cannot serve its model (other provider, wrong type, missing)."""

    code = "llm_credentials_error"


class LlmApiError(BlockRunError):
    """The provider refused the request (a 4xx other than a rate limit); not retried."""

    code = "llm_api_error"

    def __init__(self, message: str, *, upstream_status: int = 0) -> None:
        super().__init__(message)
        # Not ``status``: that is the HTTP status autoplat answers with (422, as any
        # block failure), whatever the provider answered.
        self.upstream_status = upstream_status


class LlmContextTooLong(LlmApiError):
    """The prompt plus the requested answer do not fit the model's context window."""

    code = "llm_context_too_long"


class LlmBadResponse(BlockRunError):
    """The provider answered 2xx with something that is not a completion."""

    code = "llm_bad_response"


class LlmRateLimited(BlockRunError):
    """Still rate limited (429) after the bounded retries, or asked to wait too long.

    Not a TransientBlockError: the client already retried as the provider asked, and the
    executor's quick retries would not honour ``Retry-After``.
    """

    code = "llm_rate_limited"


class LlmUnavailable(BlockRunError):
    """The provider kept failing (5xx, timeouts, connection errors) through the retries."""

    code = "llm_unavailable"


class InvalidToolArguments(BlockRunError, ValueError):
    """A tool call's arguments are not a JSON object (the Orchestrator tells the model)."""

    code = "llm_bad_tool_arguments"


# --- tools -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ToolDefinition:
    """A function the model may call: its name, what it does and a JSON schema of arguments."""

    name: str
    description: str = ""
    #: A JSON schema of type ``object`` (``properties``/``required``) for the arguments.
    parameters: dict[str, Any] = field(default_factory=lambda: {"type": "object", "properties": {}})

    def object_schema(self) -> dict[str, Any]:
        """``parameters`` as an object schema (providers reject anything else)."""
        schema = dict(self.parameters)
        schema["type"] = "object"
        schema.setdefault("properties", {})
        return schema


@dataclass(frozen=True, slots=True)
class ToolCall:
    """One call the model asked for; ``arguments`` is the JSON text exactly as produced."""

    id: str
    name: str
    arguments: str = "{}"

    def parse_arguments(self) -> dict[str, Any]:
        """The arguments as a dict, or raise InvalidToolArguments saying what is wrong."""
        text = self.arguments.strip() or "{}"
        try:
            value = json.loads(text)
        except ValueError as exc:
            raise InvalidToolArguments(
                f"the arguments of {self.name} are not valid JSON: {exc}"
            ) from None
        if not isinstance(value, dict):
            raise InvalidToolArguments(f"the arguments of {self.name} must be a JSON object")
        return value

    def as_message_part(self) -> dict[str, Any]:
        """The call as an entry of an assistant message's ``tool_calls``."""
        return {
            "id": self.id,
            "type": "function",
            "function": {"name": self.name, "arguments": self.arguments},
        }


def tool_result_message(tool_call_id: str, content: Any, *, is_error: bool = False) -> Message:
    """The message that answers one tool call (non-text results are sent as JSON)."""
    text = content if isinstance(content, str) else json.dumps(content, default=str)
    message: Message = {"role": "tool", "tool_call_id": tool_call_id, "content": text}
    if is_error:
        message["is_error"] = True
    return message


# --- request and response --------------------------------------------------------------------


@dataclass(slots=True)
class LlmRequest:
    """One call: the model (a name of the table, or empty for the operator's default)."""

    model: str
    messages: list[Message]
    #: Largest answer in tokens; None means as much as the model and context allow.
    max_tokens: int | None = None
    #: Ask for a JSON object only (Chat Completions ``response_format``; Anthropic: a forced
    #: tool whose input is the object). ``json_schema`` narrows it to a schema.
    json_output: bool = False
    json_schema: dict[str, Any] | None = None
    tools: Sequence[ToolDefinition] = ()
    tool_choice: ToolChoice | None = None
    #: Force a call of this tool (overrides ``tool_choice``).
    force_tool: str | None = None
    parallel_tool_calls: bool | None = None
    #: The node's ``ollama_host`` pin (used only for Ollama models).
    ollama_host: str = ""
    #: The input pin whose resolved credential pays for the call.
    credentials_field: str = "credentials"


@dataclass(slots=True)
class Usage:
    """Token counts of one call (what the provider reported; zeros when it did not)."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    cache_read_tokens: int = 0
    cache_creation_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        """Prompt plus completion tokens."""
        return self.prompt_tokens + self.completion_tokens


@dataclass(slots=True)
class LlmResponse:
    """The model's answer, whatever provider gave it."""

    text: str
    tool_calls: list[ToolCall] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    #: ``stop``, ``tool_calls``, ``length`` or the provider's own word for anything else.
    finish_reason: str = "stop"
    model: str = ""
    provider: str = ""
    reasoning: str | None = None

    @property
    def message(self) -> Message:
        """The assistant turn to append to the conversation (neutral shape)."""
        message: Message = {"role": "assistant", "content": self.text}
        if self.tool_calls:
            message["tool_calls"] = [call.as_message_part() for call in self.tool_calls]
        return message
