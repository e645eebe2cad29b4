"""Graph authors' regular expressions: RE2 where it means the same as Python's re, Python's
re in a bounded child otherwise, and never a frozen event loop."""

from __future__ import annotations

import asyncio
import itertools
import random
import re
import sys
from typing import Any

import pytest
import re2

from autoplat.blocks import safe_regex, sandbox
from autoplat.blocks.base import BlockContext
from autoplat.blocks.builtin.text import ExtractTextInformationBlock, MatchTextPatternBlock
from autoplat.blocks.outbound import OutboundHttp
from autoplat.blocks.settings import BlockSettings
from autoplat.errors import BlockRunError

PATTERNS = [
    r"#\d+", r"\d", r"value", r"([a-z])(\d+)", r"\d+", r"(a|b)+", r"\w+@\w+\.\w+",
    r"^\s*(\S+)\s*$", r"(?i)hello", r"colou?r", r"[^\W\d]+", r"\bcat\b", r"a{,3}", r"a{2,}",
    r"(?P<y>\d{4})-(\d\d)", r"[\s,;]+", r"(?s)a.b", r"a.b", r"(?m)^x$", r"^x$", r"x$",
    r"\Aab\Z", r"[\d\W]", r"[^a-z\s]", r"(a)|(b)", r"(ab)*?c", r"\.", r"\x41\u00e9", r"é+",
    r"(?i)[a-f]+", r"(?x) a b # comment", r"[\]]", r"a|", r"\d*", r"[-a]", r"\S+", r"\W+",
    r"(?a)\w+", r"(?i)straße", "\u0131", r"(?i)[^s]", r"(?i:K)k", r"\B\w", r"(a|ab)(c|bcd)(d*)",
]  # fmt: skip
SUBJECTS = [
    "Order #123 shipped", "nothing here", "a1 b22 c333", "cat concat cat.", "x\n", "x",
    "ab\n", "Straße STRASSE", "ÀÉé ü 12٣", "a\nb", "aaa aaaa", "  word  ", "x\nx\n",
    "foo@bar.com, baz@qux.org", "İı Ii", "colour color", "abababc", "", "tab\tvt\x0bfs\x1c",
    "Kk\u212a", "abcd", "\u017fs",
]  # fmt: skip


def python_extract(pattern: str, text: str, flags: int, group: int, find_all: bool) -> list[str]:
    pieces = []
    for match in re.compile(pattern, flags).finditer(text):
        if group > len(match.groups()) or match.group(group) is None:
            continue
        pieces.append(match.group(group))
        if not find_all:
            break
    return pieces


def agrees_with_python(pattern: str, text: str, flags: int) -> bool:
    """True when RE2 takes the pattern for this text and agrees with re; None-safe."""
    compiled = safe_regex._compile_re2(pattern, flags, safe_regex._Subject.of(text))
    if compiled is None:
        return True  # Python's re runs it (in the child): nothing to compare
    if (compiled.regex.search(text) is not None) != (re.search(pattern, text, flags) is not None):
        return False
    for group, find_all in ((0, True), (1, True), (0, False), (2, False)):
        if (find_all or group) and compiled.can_match_empty:
            continue  # such extractions go to Python's re
        got = safe_regex._pieces(compiled.regex.finditer(text), group, find_all)
        if got != python_extract(pattern, text, flags, group, find_all):
            return False
    return True


@pytest.fixture
async def context() -> Any:
    async with OutboundHttp(BlockSettings()) as outbound:
        yield BlockContext(settings=BlockSettings(), http=outbound.client_for("u"))


async def run(block: Any, data: dict[str, Any], context: BlockContext) -> list[tuple[str, Any]]:
    return [pair async for pair in block.execute(data, context)]


def test_re2_matches_exactly_like_python_on_a_corpus_of_patterns_and_texts() -> None:
    flag_sets = [0, re.IGNORECASE, re.DOTALL, re.IGNORECASE | re.DOTALL, re.MULTILINE]
    cases = itertools.product(PATTERNS, SUBJECTS, flag_sets)
    wrong = [case for case in cases if not agrees_with_python(*case)]
    assert wrong == []
    # And RE2 really takes most of them.
    taken = sum(
        safe_regex._compile_re2(p, f, safe_regex._Subject.of(s)) is not None
        for p, s, f in itertools.product(PATTERNS, SUBJECTS, flag_sets)
    )
    assert taken > 0.7 * len(PATTERNS) * len(SUBJECTS) * len(flag_sets)


def test_re2_matches_exactly_like_python_on_random_patterns() -> None:
    rng = random.Random(10)
    atoms = ["a", "b", ".", r"\d", r"\w", r"\s", r"\W", "[ab]", "[^a]", "[a-c\\d]", "(a|b)", "ab"]
    atoms += ["^", "$", r"\b", "(?:ab|a)", "[A-Z]", "x", " "]
    quantifiers = ["", "", "*", "+", "?", "{2}", "{1,3}", "*?", "+?", "{,2}"]
    alphabet = "abcxAB 1_\n-é٣"
    wrong = []
    for _ in range(1500):
        pattern = "".join(
            rng.choice(atoms) + rng.choice(quantifiers) for _ in range(rng.randint(1, 5))
        )
        if rng.random() < 0.3:
            pattern = f"({pattern})|{rng.choice(atoms)}"
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12)))
        flags = rng.choice([0, re.IGNORECASE, re.DOTALL, re.MULTILINE])
        try:
            re.compile(pattern, flags)
        except re.error:
            continue
        if not agrees_with_python(pattern, text, flags):
            wrong.append((pattern, text, flags))
    assert wrong == []


def test_the_unicode_classes_given_to_re2_are_pythons_own() -> None:
    everything = "".join(chr(c) for c in range(sys.maxunicode + 1) if not 0xD800 <= c < 0xE000)
    classes = safe_regex._classes_unicode()
    for category, python in safe_regex._CATEGORIES.items():
        expected = re.findall(python, everything)
        got = re2.compile(f"[{classes[category]}]").findall(everything)
        assert got == expected, python


async def test_an_exponential_pattern_answers_at_once_through_re2(
    context: BlockContext,
) -> None:
    subject = "a" * 28
    assert safe_regex._compile_re2("(a|a)*b", 0, safe_regex._Subject.of(subject)) is not None
    outputs = await run(
        ExtractTextInformationBlock(), {"text": subject, "pattern": "(a|a)*b"}, context
    )
    assert outputs == [("negative", subject), ("matched_results", []), ("matched_count", 0)]
    assert await run(
        MatchTextPatternBlock(), {"text": subject, "match": "(a+)+$", "data": "x"}, context
    ) == [("positive", "x")]


async def test_a_python_only_pattern_that_backtracks_too_long_fails_its_block_clearly(
    context: BlockContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(safe_regex, "TIMEOUT", 1.0)
    subject = "a" * 40
    # Look-ahead has no RE2 equivalent, so Python's re runs it, in a child.
    pattern = "(a|a)*(?=b)"
    with pytest.raises(safe_regex.RegexTimeout, match="longer than 1s") as caught:
        await run(ExtractTextInformationBlock(), {"text": subject, "pattern": pattern}, context)
    assert caught.value.code == "regex_timeout"
    with pytest.raises(BlockRunError, match="backtracks too much"):
        await run(MatchTextPatternBlock(), {"text": subject, "match": pattern, "data": 1}, context)


async def test_the_event_loop_keeps_running_while_python_matches_in_a_child(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(safe_regex, "TIMEOUT", 2.0)
    job = asyncio.create_task(safe_regex.search(r"(a|a)*\1b", "a" * 40, 0))
    while sandbox.running() == 0:
        assert not job.done()
        await asyncio.sleep(0.01)
    ticks = 0
    while sandbox.running():
        ticks += 1
        await asyncio.sleep(0.01)
    assert ticks > 10  # the loop went on turning while the child matched
    with pytest.raises(safe_regex.RegexTimeout):
        await job


async def test_patterns_only_python_has_still_work(context: BlockContext) -> None:
    outputs = await run(
        ExtractTextInformationBlock(),
        {"text": "aabbcd", "pattern": r"(\w)\1", "find_all": True},
        context,
    )
    assert outputs[-1] == ("matched_count", 2)
    assert await safe_regex.search(r"(?<=a)b", "ab", 0)
    # Python's $ also matches before a final newline: that subject goes to Python's re.
    assert (await safe_regex.extract(r"x$", "x\n", 0, 0, True)).pieces == ["x"]
    # Empty matches while extracting every match follow Python's rules.
    assert (await safe_regex.extract(r"a??", "a", 0, 0, True)).pieces == ["", "a", ""]


async def test_bad_and_oversized_patterns_are_refused_before_anything_runs(
    context: BlockContext,
) -> None:
    with pytest.raises(BlockRunError, match="invalid pattern"):
        await run(MatchTextPatternBlock(), {"text": "a", "match": "(", "data": 1}, context)
    extraction = await safe_regex.extract("(unclosed", "abc", 0, 0, False)
    assert extraction.pieces == [] and "missing )" in extraction.failed
    with pytest.raises(safe_regex.RegexTooLarge, match="longer than"):
        await safe_regex.search("a" * (safe_regex.MAX_PATTERN + 1), "a", 0)
    with pytest.raises(re.error, match="nests too deeply"):
        await safe_regex.search("(" * 5000 + ")" * 5000, "a", 0)


def test_children_get_no_setting_or_secret_of_the_server(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTOPLAT_JWT_SECRET", "s3cret")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-x")
    monkeypatch.setenv("PGPASSWORD", "pw")
    environment = sandbox._child_environment()
    assert not {"AUTOPLAT_JWT_SECRET", "OPENAI_API_KEY", "PGPASSWORD"} & set(environment)
    assert "PATH" in environment
