"""Text utilities AutoGPT has beside its basic text blocks: escape decoding and encoding,
word and character counts, and code extraction from fenced blocks.

Invariant: nothing here backtracks on user text. The fenced-code patterns are fixed, and run
on RE2 (linear time) with Python's meanings kept: ``\\s`` is spelled out as every character
``str.isspace()`` accepts, because RE2's ``\\s`` is ASCII only.
"""

from __future__ import annotations

import codecs

import re2

from autoplat.blocks.base import (
    Block,
    BlockCategory,
    BlockContext,
    BlockOutput,
    BlockOutputSchema,
    BlockSchema,
)
from autoplat.blocks.schema import pin
from autoplat.errors import BlockRunError


class TextDecoderBlock(Block["TextDecoderBlock.Input"]):
    """Turn escape sequences (``\\n``, ``\\"``, ``\\u00e9``…) into the characters they name."""

    class Input(BlockSchema):
        text: str = pin(description="Text containing escaped characters to decode.")

    class Output(BlockOutputSchema):
        decoded_text: str = pin(description="The text with its escape sequences processed.")

    id = "2570e8fe-8447-43ed-84c7-70d657923231"
    description = "Decodes a string containing escape sequences into actual text"
    categories = (BlockCategory.TEXT,)
    input_schema = Input
    output_schema = Output
    test_input = [{"text": """Hello\nWorld!\nThis is a \"quoted\" string."""}]
    test_output = [("decoded_text", """Hello\nWorld!\nThis is a "quoted" string.""")]

    async def run(self, input_data: Input, context: BlockContext) -> BlockOutput:
        # The codec reads bytes as Latin-1; characters beyond it go in as escapes of their
        # own, which it turns back into themselves (so "café" stays "café").
        raw = input_data.text.encode("latin-1", "backslashreplace")
        try:
            decoded = raw.decode("unicode_escape")
        except UnicodeDecodeError as exc:
            raise BlockRunError(
                f"Text contains an invalid escape sequence: {exc.reason} (position {exc.start})"
            ) from None
        yield "decoded_text", decoded


class TextEncoderBlock(Block["TextEncoderBlock.Input"]):
    """The reverse of TextDecoderBlock: special characters become escape sequences."""

    class Input(BlockSchema):
        text: str = pin(description="Text to encode with escape sequences.")

    class Output(BlockOutputSchema):
        encoded_text: str = pin(description="The text with escape sequences added.")

    id = "59c54df9-0e3b-44b5-a1ef-c0b8bf8d9ab9"
    description = "Encodes a string by adding escape sequences for special characters"
    categories = (BlockCategory.TEXT,)
    input_schema = Input
    output_schema = Output
    test_input = [{"text": 'Hello\nWorld!\nThis is a "quoted" string.'}]
    test_output = [("encoded_text", 'Hello\\nWorld!\\nThis is a "quoted" string.')]

    async def run(self, input_data: Input, context: BlockContext) -> BlockOutput:
        try:
            encoded = codecs.encode(input_data.text, "unicode_escape").decode("ascii")
        except (UnicodeError, ValueError) as exc:
            raise BlockRunError(f"Encoding error: {exc}") from None
        yield "encoded_text", encoded


class WordCharacterCountBlock(Block["WordCharacterCountBlock.Input"]):
    """Count the words (runs of non-space) and the characters of a text."""

    class Input(BlockSchema):
        text: str = pin(advanced=False, description="Text to count words and characters in.")

    class Output(BlockOutputSchema):
        word_count: int = pin(description="Number of words in the text.")
        character_count: int = pin(description="Number of characters in the text.")

    id = "ab2a782d-22cf-4587-8a70-55b59b3f9f90"
    description = "Counts the number of words and characters in a given text."
    categories = (BlockCategory.TEXT,)
    input_schema = Input
    output_schema = Output
    test_input = [{"text": "Hello, how are you?"}]
    test_output = [("word_count", 4), ("character_count", 19)]

    async def run(self, input_data: Input, context: BlockContext) -> BlockOutput:
        yield "word_count", len(input_data.text.split())
        yield "character_count", len(input_data.text)


#: Output pin -> the fence tags that name that language, in AutoGPT's order.
LANGUAGES: dict[str, tuple[str, ...]] = {
    "html": ("html", "htm"),
    "css": ("css",),
    "javascript": ("javascript", "js"),
    "python": ("python", "py"),
    "sql": ("sql",),
    "java": ("java",),
    "cpp": ("cpp", "c++"),
    "csharp": ("csharp", "c#", "cs"),
    "json_code": ("json",),
    "bash": ("bash", "shell", "sh"),
    "php": ("php",),
    "ruby": ("ruby", "rb"),
    "yaml": ("yaml", "yml"),
    "markdown": ("markdown", "md"),
    "typescript": ("typescript", "ts"),
    "xml": ("xml",),
}

# Python's \s for str patterns, as an RE2 class.
_PY_SPACE = "[" + "".join(f"\\x{{{c:x}}}" for c in range(0x110000) if chr(c).isspace()) + "]"
_FENCED = {
    alias: re2.compile(rf"(?is)```{re2.escape(alias)}[ \t]*\n(.*?)\n```")
    for aliases in LANGUAGES.values()
    for alias in aliases
}
_ANY_FENCE = re2.compile(
    "```(?:"
    + "|".join(re2.escape(alias) for aliases in LANGUAGES.values() for alias in aliases)
    + r")[ \t]*\n(?s:.)*?```"
)
_BLANK_LINES = re2.compile(rf"\n{_PY_SPACE}*\n")


class CodeExtractionBlock(Block["CodeExtractionBlock.Input"]):
    """Pull fenced code blocks out of text (e.g. an LLM answer), by language."""

    class Input(BlockSchema):
        text: str = pin(description="Text containing code blocks (e.g. an AI response).")

    class Output(BlockOutputSchema):
        html: str = pin(description="Extracted HTML code")
        css: str = pin(description="Extracted CSS code")
        javascript: str = pin(description="Extracted JavaScript code")
        python: str = pin(description="Extracted Python code")
        sql: str = pin(description="Extracted SQL code")
        java: str = pin(description="Extracted Java code")
        cpp: str = pin(description="Extracted C++ code")
        csharp: str = pin(description="Extracted C# code")
        json_code: str = pin(description="Extracted JSON code")
        bash: str = pin(description="Extracted Bash code")
        php: str = pin(description="Extracted PHP code")
        ruby: str = pin(description="Extracted Ruby code")
        yaml: str = pin(description="Extracted YAML code")
        markdown: str = pin(description="Extracted Markdown code")
        typescript: str = pin(description="Extracted TypeScript code")
        xml: str = pin(description="Extracted XML code")
        remaining_text: str = pin(description="Remaining text after code extraction")

    id = "d3a7d896-3b78-4f44-8b4b-48fbf4f0bcd8"
    description = "Extracts code blocks from text and identifies their programming languages"
    categories = (BlockCategory.TEXT,)
    input_schema = Input
    output_schema = Output
    test_input = [
        {
            "text": "Here's a Python example:\n```python\nprint('Hello World')\n```\n"
            "And some HTML:\n```html\n<h1>Title</h1>\n```"
        }
    ]
    test_output = [
        ("html", "<h1>Title</h1>"),
        ("python", "print('Hello World')"),
        ("remaining_text", "Here's a Python example:\nAnd some HTML:"),
    ]

    async def run(self, input_data: Input, context: BlockContext) -> BlockOutput:
        text = input_data.text
        for language, aliases in LANGUAGES.items():
            pieces = []
            for alias in aliases:
                found = [m.group(1).strip() for m in _FENCED[alias].finditer(text)]
                if found:
                    pieces.append("\n\n".join(found))
            code = "\n\n".join(pieces)
            if code:
                yield language, code
        remaining = _BLANK_LINES.sub("\n", _ANY_FENCE.sub("", text).strip())
        if remaining:
            yield "remaining_text", remaining
