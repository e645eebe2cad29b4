"""Regular expressions from graph authors, evaluated without freezing the event loop.

Python's ``re`` engine holds the GIL for a whole match, so a catastrophic-backtracking pattern
would stall every run in the process, and a thread would not help. Patterns that look risky
(a quantified group that itself contains a quantifier, or a back-reference) are therefore
evaluated in a short-lived child interpreter that is killed after the time limit; ordinary
patterns run in-process.
"""

from __future__ import annotations

import asyncio
import json
import re
import sys
from dataclasses import dataclass, field
from typing import Any

MAX_SUBJECT = 1_000_000
MAX_PIECE = 10_000
MAX_MATCHES = 1_000
RISKY_TIMEOUT = 5.0

_QUANTIFIERS = "*+{"


@dataclass(slots=True)
class Extraction:
    """Collected match pieces; ``timed_out``/``failed`` report why the list may be empty."""

    pieces: list[str] = field(default_factory=list)
    timed_out: bool = False
    failed: str = ""


def looks_risky(pattern: str) -> bool:
    """Heuristic for super-linear patterns: nested quantifiers or back-references."""
    group_has_quantifier: list[bool] = []
    escaped = False
    in_class = False
    closed_quantified_group = False
    for char in pattern:
        if escaped:
            escaped = False
            if char.isdigit() and char != "0":
                return True
            closed_quantified_group = False
            continue
        if char == "\\":
            escaped = True
            continue
        if in_class:
            in_class = char != "]"
            continue
        if char == "[":
            in_class = True
        elif char == "(":
            group_has_quantifier.append(False)
        elif char == ")" and group_has_quantifier:
            inner = group_has_quantifier.pop()
            if group_has_quantifier:
                group_has_quantifier[-1] = group_has_quantifier[-1] or inner
            closed_quantified_group = inner
            continue
        elif char in _QUANTIFIERS:
            if closed_quantified_group:
                return True
            if group_has_quantifier:
                group_has_quantifier[-1] = True
        closed_quantified_group = False
    return False


def _extract(request: dict[str, Any]) -> dict[str, Any]:
    """Do the matching described by ``request`` (runs in-process or in the child)."""
    compiled = re.compile(request["pattern"], request["flags"])
    text: str = request["text"]
    if request["mode"] == "search":
        return {"found": compiled.search(text) is not None}
    group: int = request["group"]
    pieces: list[str] = []
    for match in compiled.finditer(text):
        if group > len(match.groups()):
            continue
        piece = match.group(group)
        if piece is None:
            continue
        pieces.append(piece[:MAX_PIECE])
        if len(pieces) >= MAX_MATCHES or not request["find_all"]:
            break
    return {"pieces": pieces}


def worker_main() -> None:
    """Child interpreter entry point: JSON request on stdin, JSON answer on stdout."""
    request = json.loads(sys.stdin.read())
    try:
        answer = _extract(request)
    except re.error as exc:
        answer = {"error": str(exc)}
    sys.stdout.write(json.dumps(answer))


async def _run(request: dict[str, Any]) -> dict[str, Any]:
    if not looks_risky(request["pattern"]):
        try:
            return _extract(request)
        except re.error as exc:
            return {"error": str(exc)}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        "from autoplat.blocks.safe_regex import worker_main; worker_main()",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        stdout, _ = await asyncio.wait_for(
            process.communicate(json.dumps(request).encode()), timeout=RISKY_TIMEOUT
        )
    except TimeoutError:
        process.kill()
        await process.wait()
        return {"timeout": True}
    except BaseException:
        process.kill()
        await process.wait()
        raise
    try:
        answer: dict[str, Any] = json.loads(stdout)
    except ValueError:
        return {"error": "regex worker failed"}
    return answer


async def search(pattern: str, text: str, flags: int) -> bool:
    """True when ``pattern`` matches anywhere in ``text``.

    Raises re.error on a bad pattern and TimeoutError when a risky pattern runs too long.
    """
    answer = await _run({"mode": "search", "pattern": pattern, "text": text, "flags": flags})
    if answer.get("timeout"):
        raise TimeoutError(f"pattern took longer than {RISKY_TIMEOUT:g}s")
    if "error" in answer:
        raise re.error(answer["error"])
    return bool(answer.get("found", False))


async def extract(pattern: str, text: str, flags: int, group: int, find_all: bool) -> Extraction:
    """Collect ``group`` of each match (first only unless ``find_all``), with the limits above."""
    answer = await _run(
        {
            "mode": "extract",
            "pattern": pattern,
            "text": text[:MAX_SUBJECT],
            "flags": flags,
            "group": group,
            "find_all": find_all,
        }
    )
    if answer.get("timeout"):
        return Extraction(timed_out=True)
    if "error" in answer:
        return Extraction(failed=str(answer["error"]))
    return Extraction(pieces=list(answer.get("pieces", [])))
