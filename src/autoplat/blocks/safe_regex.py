"""Regular expressions from graph authors, bounded in time and memory, never on the event loop.

Patterns are Python ``re`` syntax and mean what Python's ``re`` would make of them. Python's
engine backtracks, so a pattern like ``(a|a)*b`` takes exponential time, and it holds the GIL
for a whole match. So:

1. The pattern is parsed by Python's own parser and, when every construct in it has the same
   meaning in RE2, rebuilt as an RE2 pattern from that parse tree (so syntax quirks such as
   ``{,3}`` cannot be read differently) and run by RE2 (``google-re2``): linear time, memory
   bounded by RE2's own budget, and for large subjects in a worker thread.
   Some meanings depend on the subject: ``\\b`` and case-insensitive matching are the same in
   both engines only on ASCII text, ``$`` only when the text does not end in a newline; and
   ``finditer`` differs on empty matches, so extracting every match needs a pattern that
   cannot match the empty string.
2. Anything else (back-references, look-around, possessive or atomic groups, repeats over
   RE2's limit, the cases above) runs Python's ``re`` in a child process (``sandbox``) under
   a hard wall-clock limit and a memory limit.

A pattern that runs too long fails its node with a clear error (``regex_timeout``); a
pattern that is not valid is reported as such and nothing runs.
"""

from __future__ import annotations

import asyncio
import functools
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import re2

from autoplat.blocks import sandbox
from autoplat.errors import BlockRunError

if TYPE_CHECKING:
    import sre_constants as sre
    import sre_parse
else:  # the same modules: their old names (typed above) warn on import since Python 3.11
    import re._constants as sre
    import re._parser as sre_parse

MAX_PATTERN = 10_000
MAX_SUBJECT = 1_000_000
MAX_PIECE = 10_000
MAX_MATCHES = 1_000
#: Seconds a pattern may run in Python's engine (in the child).
TIMEOUT = 5.0
#: Subjects longer than this are matched by RE2 in a worker thread, not on the loop.
THREAD_ABOVE = 50_000
#: RE2's memory budget for one compiled pattern (it refuses bigger ones: they go to Python).
RE2_MAX_MEM = 32 * 1024 * 1024

_CATEGORIES = {
    sre.CATEGORY_DIGIT: r"\d",
    sre.CATEGORY_WORD: r"\w",
    sre.CATEGORY_SPACE: r"\s",
}


@functools.cache
def _classes_unicode() -> dict[Any, str]:
    """Python's own \\d, \\w and \\s for str, as explicit RE2 class bodies.

    Taken from Python's engine over every code point, so they are exact for this Python
    (RE2's \\p{...} tables follow a newer Unicode). Built once, in a thread (~0.2 s).
    """
    # Two runs of consecutive code points, around the surrogates (which RE2 cannot take).
    segments = ["".join(map(chr, range(0xD800))), "".join(map(chr, range(0xE000, 0x110000)))]
    classes = {}
    for category, python in _CATEGORIES.items():
        spans = []
        for segment in segments:
            for match in re.finditer(f"{python}+", segment):
                low, high = ord(match.group()[0]), ord(match.group()[-1])
                spans.append(_char(low) if low == high else f"{_char(low)}-{_char(high)}")
        classes[category] = "".join(spans)
    return classes


_CLASSES_ASCII = {
    sre.CATEGORY_DIGIT: "0-9",
    sre.CATEGORY_WORD: "0-9A-Za-z_",
    sre.CATEGORY_SPACE: r" \t\n\r\x0c\x0b",
}
_NEGATED = {
    sre.CATEGORY_NOT_DIGIT: sre.CATEGORY_DIGIT,
    sre.CATEGORY_NOT_WORD: sre.CATEGORY_WORD,
    sre.CATEGORY_NOT_SPACE: sre.CATEGORY_SPACE,
}


class RegexTimeout(sandbox.ComputationTimeout):
    """A pattern ran longer than TIMEOUT in Python's engine (catastrophic backtracking)."""

    code = "regex_timeout"


class RegexTooLarge(BlockRunError):
    """A pattern is longer than MAX_PATTERN, or needs more memory than it may use."""

    code = "regex_too_large"


@dataclass(slots=True)
class Extraction:
    """Collected match pieces; ``failed`` tells why the list is empty (a bad pattern)."""

    pieces: list[str] = field(default_factory=list)
    failed: str = ""


@dataclass(frozen=True, slots=True)
class _Subject:
    """What of the subject decides whether RE2 matches exactly like Python's re."""

    ascii: bool
    ends_with_newline: bool
    encodable: bool

    @classmethod
    def of(cls, text: str) -> _Subject:
        try:
            text.encode("utf-8")
            encodable = True
        except UnicodeEncodeError:  # lone surrogates: RE2 takes UTF-8 only
            encodable = False
        return cls(text.isascii(), text.endswith("\n"), encodable)


class _Untranslatable(Exception):
    """The parse tree holds a construct RE2 lacks or reads differently."""


def _char(code: int) -> str:
    return chr(code) if chr(code).isascii() and chr(code).isalnum() else f"\\x{{{code:x}}}"


class _Translator:
    """Builds an RE2 pattern from Python's parse tree, refusing what would differ."""

    def __init__(self, subject: _Subject) -> None:
        self.subject = subject

    def sequence(self, items: Any, flags: int) -> str:
        return "".join(self.item(op, av, flags) for op, av in items)

    def item(self, op: Any, av: Any, flags: int) -> str:
        if flags & sre.SRE_FLAG_IGNORECASE and not self.subject.ascii:
            raise _Untranslatable("case folding differs beyond ASCII")
        if op is sre.LITERAL:
            return self._set([(sre.LITERAL, av)], flags)
        if op is sre.NOT_LITERAL:
            return self._set([(sre.NEGATE, None), (sre.LITERAL, av)], flags)
        if op is sre.ANY:
            return "(?s:.)" if flags & sre.SRE_FLAG_DOTALL else "[^\\n]"
        if op is sre.IN:
            return self._set(av, flags)
        if op is sre.BRANCH:
            return "(?:" + "|".join(self.sequence(branch, flags) for branch in av[1]) + ")"
        if op is sre.SUBPATTERN:
            group, add, remove, body = av
            inner = self.sequence(body, (flags | add) & ~remove)
            return f"({inner})" if group is not None else f"(?:{inner})"
        if op in (sre.MAX_REPEAT, sre.MIN_REPEAT):
            low, high, body = av
            if low > 1000 or (high is not sre.MAXREPEAT and high > 1000):
                raise _Untranslatable("repeat count over RE2's limit")
            bound = f"{{{low},}}" if high is sre.MAXREPEAT else f"{{{low},{high}}}"
            lazy = "?" if op is sre.MIN_REPEAT else ""
            return f"(?:{self.sequence(body, flags)}){bound}{lazy}"
        if op is sre.AT:
            return self._at(av, flags)
        raise _Untranslatable(f"{op} has no RE2 equivalent")

    def _ranges(self, low: int, high: int, flags: int) -> list[tuple[int, int]]:
        """``low``-``high`` and, when case is ignored, the other case of its letters.

        Folding is done here (on ASCII only) rather than by RE2's ``(?i)``: Python does not
        fold the classes (\\d, \\w, \\s) of a set, and RE2 would fold non-ASCII members
        into ASCII letters (U+017F into s).
        """
        ranges = [(low, high)]
        if flags & sre.SRE_FLAG_IGNORECASE:
            if high > 0x7F:
                raise _Untranslatable("case folding of a non-ASCII character")
            for first, last, shift in ((0x41, 0x5A, 0x20), (0x61, 0x7A, -0x20)):
                lo, hi = max(low, first), min(high, last)
                if lo <= hi:
                    ranges.append((lo + shift, hi + shift))
        return ranges

    def _classes(self, flags: int) -> dict[Any, str]:
        return _CLASSES_ASCII if flags & sre.SRE_FLAG_ASCII else _classes_unicode()

    def _set(self, items: list[tuple[Any, Any]], flags: int) -> str:
        negate = bool(items) and items[0][0] is sre.NEGATE
        if negate:
            items = items[1:]
        classes = self._classes(flags)
        if len(items) == 1 and items[0][0] is sre.CATEGORY and items[0][1] in _NEGATED:
            # \D, \W, \S alone: the complement of the positive class.
            positive = classes[_NEGATED[items[0][1]]]
            return f"[{positive}]" if negate else f"[^{positive}]"
        parts: list[str] = []
        for op, av in items:
            if op in (sre.LITERAL, sre.RANGE):
                low, high = (av, av) if op is sre.LITERAL else av
                for lo, hi in self._ranges(low, high, flags):
                    parts.append(_char(lo) if lo == hi else f"{_char(lo)}-{_char(hi)}")
            elif op is sre.CATEGORY and av in classes:
                parts.append(classes[av])
            elif op is sre.CATEGORY and av in _NEGATED and self.subject.ascii:
                # On ASCII text a negated class inside a set is its ASCII complement.
                parts.append(_ascii_complement(_CLASSES_ASCII[_NEGATED[av]]))
            else:
                raise _Untranslatable(f"set item {op} {av}")
        if not parts:
            raise _Untranslatable("empty set")
        if not negate and len(parts) == 1 and len(items) == 1 and items[0][0] is sre.LITERAL:
            return parts[0]  # a plain character
        return ("[^" if negate else "[") + "".join(parts) + "]"

    def _at(self, code: Any, flags: int) -> str:
        multiline = flags & sre.SRE_FLAG_MULTILINE
        if code is sre.AT_BEGINNING:
            return "(?m:^)" if multiline else r"\A"
        if code is sre.AT_BEGINNING_STRING:
            return r"\A"
        if code is sre.AT_END:
            if multiline:
                return "(?m:$)"
            # Python's $ also matches before a final newline; RE2's never does.
            if self.subject.ends_with_newline:
                raise _Untranslatable("$ before a final newline")
            return r"\z"
        if code is sre.AT_END_STRING:
            return r"\z"
        if code in (sre.AT_BOUNDARY, sre.AT_NON_BOUNDARY):
            if not (self.subject.ascii or flags & sre.SRE_FLAG_ASCII):
                raise _Untranslatable("word boundaries differ beyond ASCII")
            return r"\b" if code is sre.AT_BOUNDARY else r"\B"
        raise _Untranslatable(f"anchor {code}")


@functools.cache
def _ascii_complement(positive: str) -> str:
    """The code points not in ``positive`` (an ASCII class body), as a class body."""
    member = re.compile(f"[{positive}]")
    ranges: list[tuple[int, int]] = []
    for code in range(128):
        if not member.match(chr(code)):
            if ranges and ranges[-1][1] == code - 1:
                ranges[-1] = (ranges[-1][0], code)
            else:
                ranges.append((code, code))
    ranges.append((128, 0x10FFFF))
    return "".join(f"\\x{{{lo:x}}}-\\x{{{hi:x}}}" for lo, hi in ranges)


@dataclass(frozen=True, slots=True)
class _Compiled:
    regex: Any  # re2._Regexp (the package has no type hints)
    can_match_empty: bool


@functools.lru_cache(maxsize=512)
def _compile_re2(pattern: str, flags: int, subject: _Subject) -> _Compiled | None:
    """RE2 for ``pattern`` when it matches exactly like Python's re on such a subject."""
    if not subject.encodable:
        return None
    parsed = sre_parse.parse(pattern, flags)
    try:
        translated = _Translator(subject).sequence(parsed, parsed.state.flags)
    except _Untranslatable:
        return None
    options = re2.Options()
    options.max_mem = RE2_MAX_MEM
    options.log_errors = False
    try:
        regex = re2.compile(translated, options=options)
    except re2.error:
        return None  # e.g. over RE2's memory budget: Python's engine, in the child
    if regex.groups != parsed.state.groups - 1:
        return None  # group numbers must mean the same groups
    return _Compiled(regex, parsed.getwidth()[0] == 0)


def _check(pattern: str, flags: int) -> None:
    """Refuse patterns that are too long or not valid, before anything runs."""
    if len(pattern) > MAX_PATTERN:
        raise RegexTooLarge(f"the pattern is longer than {MAX_PATTERN} characters")
    try:
        sre_parse.parse(pattern, flags)
    except RecursionError:
        raise re.error("the pattern nests too deeply") from None


def _pieces(matches: Any, group: int, find_all: bool) -> list[str]:
    """``group`` of each match (a re or re2 match iterator), with the limits above."""
    pieces: list[str] = []
    for match in matches:
        if group > len(match.groups()):
            continue
        piece = match.group(group)
        if piece is None:
            continue
        pieces.append(piece[:MAX_PIECE])
        if len(pieces) >= MAX_MATCHES or not find_all:
            break
    return pieces


def child_job(request: dict[str, Any]) -> dict[str, Any]:
    """The matching done by Python's re, in the sandbox child."""
    try:
        compiled = re.compile(request["pattern"], request["flags"])
    except re.error as exc:
        return {"error": str(exc)}
    text: str = request["text"]
    if request["mode"] == "search":
        return {"found": compiled.search(text) is not None}
    return {"pieces": _pieces(compiled.finditer(text), request["group"], request["find_all"])}


async def _off_loop(text: str, job: Callable[[], Any]) -> Any:
    return await asyncio.to_thread(job) if len(text) > THREAD_ABOVE else job()


async def _re2_for(pattern: str, flags: int, text: str) -> _Compiled | None:
    if _classes_unicode.cache_info().currsize == 0:
        await asyncio.to_thread(_classes_unicode)  # once per process, off the loop
    return _compile_re2(pattern, flags, _Subject.of(text))


async def _in_child(request: dict[str, Any]) -> dict[str, Any]:
    try:
        return await sandbox.run_job(
            "regex", request, what="the regular expression", timeout=TIMEOUT
        )
    except sandbox.ComputationTimeout as exc:
        raise RegexTimeout(
            f"{exc.message} (the pattern backtracks too much: simplify it, e.g. avoid "
            "nested or overlapping repeats such as (a|a)* or (a+)+)"
        ) from None
    except sandbox.ComputationTooLarge as exc:
        raise RegexTooLarge(exc.message) from None


async def search(pattern: str, text: str, flags: int) -> bool:
    """True when ``pattern`` matches anywhere in ``text``.

    Raises re.error on a bad pattern, RegexTimeout when it runs too long.
    """
    _check(pattern, flags)
    compiled = await _re2_for(pattern, flags, text)
    if compiled is not None:
        found = await _off_loop(text, lambda: compiled.regex.search(text) is not None)
        return bool(found)
    answer = await _in_child({"mode": "search", "pattern": pattern, "text": text, "flags": flags})
    if "error" in answer:
        raise re.error(str(answer["error"]))
    return bool(answer.get("found", False))


async def extract(pattern: str, text: str, flags: int, group: int, find_all: bool) -> Extraction:
    """Collect ``group`` of each match (first only unless ``find_all``), with the limits above.

    A bad pattern gives an empty Extraction with ``failed`` set; RegexTimeout when it runs
    too long.
    """
    try:
        _check(pattern, flags)
    except re.error as exc:
        return Extraction(failed=str(exc))
    text = text[:MAX_SUBJECT]
    compiled = await _re2_for(pattern, flags, text)
    # Python's finditer treats empty matches its own way: when more than the first match
    # may be looked at, a pattern that can match empty goes to Python's re.
    looks_past_first = find_all or group != 0
    if compiled is not None and not (looks_past_first and compiled.can_match_empty):
        regex = compiled.regex
        pieces = await _off_loop(text, lambda: _pieces(regex.finditer(text), group, find_all))
        return Extraction(pieces=list(pieces))
    request = {
        "mode": "extract",
        "pattern": pattern,
        "text": text,
        "flags": flags,
        "group": group,
        "find_all": find_all,
    }
    answer = await _in_child(request)
    if "error" in answer:
        return Extraction(failed=str(answer["error"]))
    return Extraction(pieces=[str(piece) for piece in answer.get("pieces", [])])
