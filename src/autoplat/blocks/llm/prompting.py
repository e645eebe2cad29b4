"""Prompt text the LLM blocks build and the structured answers they parse.

Invariant: a structured answer is accepted only when every object has every expected key;
the tag that wraps it is random per call, so text the model quotes from its input cannot be
mistaken for its answer.
"""

from __future__ import annotations

import json
import math
import re
import secrets
from typing import Any

from autoplat.blocks.templating import render_template


async def render_prompts(
    prompt: str, sys_prompt: str, prompt_values: dict[str, Any]
) -> tuple[str, str]:
    """Fill ``{{name}}`` placeholders of both prompts when values are given."""
    if not prompt_values:
        return prompt, sys_prompt
    return (
        await render_template(prompt, prompt_values),
        await render_template(sys_prompt, prompt_values) if sys_prompt else sys_prompt,
    )


def estimate_tokens(messages: Any) -> int:
    """A rough token count of a conversation (about four characters of JSON per token)."""
    return math.ceil(len(json.dumps(messages, default=str)) / 4)


def format_instructions(expected_format: dict[str, str], list_result: bool, tag: str) -> str:
    """System message asking for JSON with exactly the expected keys, in tagged output."""
    fields = ",\n".join(f'  "{key}": "{desc}"' for key, desc in expected_format.items())
    shape = "a JSON array of objects, each" if list_result else "a JSON object"
    return (
        f"Reply with {shape} having exactly these keys (values describe what to put there):\n"
        f"{{\n{fields}\n}}\n"
        f'Wrap the JSON in <json_output id="{tag}"> and </json_output>; '
        "write nothing else inside those tags."
    )


def new_tag() -> str:
    """A random id for the output tags of one call."""
    return secrets.token_hex(8)


def _candidates(text: str, tag: str) -> list[str]:
    tagged = re.findall(
        rf'<json_output id="{re.escape(tag)}">(.*?)</json_output>', text, flags=re.DOTALL
    )
    if tagged:
        return [tagged[-1]]
    found = [text]
    fence = re.search(r"```(?:json)?\s*(.*?)```", text, flags=re.DOTALL)
    if fence:
        found.append(fence.group(1))
    for opener, closer in (("{", "}"), ("[", "]")):
        start, end = text.find(opener), text.rfind(closer)
        if 0 <= start < end:
            found.append(text[start : end + 1])
    return found


def parse_structured(
    text: str, expected_format: dict[str, str], list_result: bool, tag: str
) -> dict[str, Any] | list[dict[str, Any]]:
    """Extract and check the JSON reply; raise ValueError explaining what is wrong."""
    parsed: Any = None
    for candidate in _candidates(text, tag):
        try:
            parsed = json.loads(candidate.strip())
            break
        except ValueError:
            continue
    else:
        raise ValueError("the reply does not contain valid JSON")
    if list_result and isinstance(parsed, dict) and isinstance(parsed.get("results"), list):
        parsed = parsed["results"]
    items = parsed if list_result else [parsed]
    if not isinstance(items, list):
        raise ValueError("expected a JSON array")
    for item in items:
        if not isinstance(item, dict):
            raise ValueError("expected JSON objects")
        missing = [key for key in expected_format if key not in item]
        if missing:
            raise ValueError(f"missing keys: {', '.join(missing)}")
    return items if list_result else items[0]
