"""A scripted Chat Completions stand-in for the self-test vectors of LLM blocks.

Invariant: nothing leaves the process. :func:`scripted_context` gives a block context whose
HTTP client answers every request itself (in the Chat Completions format, with usage) and
whose ``credentials`` pin resolves to AutoGPT's mock OpenAI test credential, so a block's
own vectors (AutoGPT's, which mock the LLM call) run offline through the real routing,
wire format and parsing.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from typing import Any, Final

import httpx
from pydantic import SecretStr

from autoplat.blocks.base import BlockContext
from autoplat.integrations.model import APIKeyCredentials

#: AutoGPT's test credential of the LLM blocks (a mock OpenAI key).
TEST_CREDENTIALS: Final = APIKeyCredentials(
    id="769f6af7-820b-4d5d-9b7a-ab82bbc165f",
    provider="openai",
    api_key=SecretStr("mock-openai-api-key"),
    title="Mock OpenAI API key",
)
TEST_CREDENTIALS_INPUT: Final = {
    "provider": TEST_CREDENTIALS.provider,
    "id": TEST_CREDENTIALS.id,
    "type": TEST_CREDENTIALS.type.value,
    "title": TEST_CREDENTIALS.title,
}


def scripted_context(
    context: BlockContext, replies: Sequence[str | dict[str, Any]]
) -> BlockContext:
    """``context`` answering LLM calls with ``replies`` in order (then the last again).

    A string is the assistant's text; a dict is the whole assistant message (with
    ``tool_calls`` for a tool-calling turn).
    """
    served: list[str | dict[str, Any]] = []

    def answer(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content or b"{}")
        reply = replies[min(len(served), len(replies) - 1)] if replies else ""
        served.append(reply)
        message = reply if isinstance(reply, dict) else {"role": "assistant", "content": reply}
        return httpx.Response(
            200,
            json={
                "id": f"chatcmpl-standin-{len(served)}",
                "object": "chat.completion",
                "model": body.get("model", ""),
                "choices": [
                    {
                        "index": 0,
                        "message": message,
                        "finish_reason": "tool_calls" if message.get("tool_calls") else "stop",
                    }
                ],
                "usage": {"prompt_tokens": 50, "completion_tokens": 10, "total_tokens": 60},
            },
        )

    return dataclasses.replace(
        context,
        http=httpx.AsyncClient(transport=httpx.MockTransport(answer)),
        credentials={**context.credentials, "credentials": TEST_CREDENTIALS},
        extra={},
    )
