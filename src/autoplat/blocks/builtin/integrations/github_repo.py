"""GitHub repository contents: AutoGPT's ``GithubReadFileBlock`` (``blocks/github/repo.py``).

Invariant: the file is read through the contents API (``/contents/{path}?ref={branch}``);
a path naming a directory, or several entries none of which is a file, is an error ("Not a
file"), and content that is not UTF-8 text is an error rather than mangled text.
"""

from __future__ import annotations

import base64
import binascii

import httpx

from autoplat.blocks.base import (
    Block,
    BlockCategory,
    BlockContext,
    BlockOutput,
    BlockOutputSchema,
    BlockSchema,
)
from autoplat.blocks.builtin.integrations import github_api as gh
from autoplat.blocks.builtin.integrations._base import CredentialsRefInput, ProviderError, stand_in
from autoplat.blocks.schema import pin


def _vector_answer(request: httpx.Request) -> httpx.Response:
    if "/contents/" in request.url.path and request.url.params.get("ref") == "master":
        # AutoGPT's vector pairs "File content" with a size of 13; GitHub's field is kept.
        return gh.json_answer({"type": "file", "content": "RmlsZSBjb250ZW50", "size": 13})
    return gh.json_answer({"message": "Not Found"}, 404)


class GithubReadFileBlock(Block["GithubReadFileBlock.Input"]):
    """The content of one file of a repository at a branch."""

    class Input(BlockSchema):
        credentials: CredentialsRefInput = gh.github_credentials_pin()
        repo_url: str = pin(
            description="URL of the GitHub repository", placeholder="https://github.com/owner/repo"
        )
        file_path: str = pin(
            description="Path to the file in the repository", placeholder="path/to/file"
        )
        branch: str = pin("master", description="Branch to read from", placeholder="branch_name")

    class Output(BlockOutputSchema):
        text_content: str = pin(description="Content of the file (decoded as UTF-8 text)")
        raw_content: str = pin(description="Raw base64-encoded content of the file")
        size: int = pin(description="The size of the file (in bytes)")
        error: str = pin("", description="Error message if the file reading failed")

    id = "87ce6c27-5752-4bbc-8e26-6da40a3dcfd3"
    description = "This block reads the content of a specified file from a GitHub repository."
    categories = (BlockCategory.DEVELOPER_TOOLS,)
    input_schema = Input
    output_schema = Output
    test_input = [
        {
            "repo_url": "https://github.com/owner/repo",
            "file_path": "path/to/file",
            "branch": "master",
            "credentials": gh.MOCK_INPUT,
        }
    ]
    test_output = [
        ("raw_content", "RmlsZSBjb250ZW50"),
        ("text_content", "File content"),
        ("size", 13),
    ]
    test_context = stand_in(_vector_answer, gh.PROVIDER, gh.MOCK_KEY)

    async def run(self, input_data: Input, context: BlockContext) -> BlockOutput:
        path = [p for p in input_data.file_path.split("/") if p]
        url = gh.api_url(context, input_data.repo_url, "contents", *path)
        data = await gh.request(context, "GET", url, params={"ref": input_data.branch})
        if isinstance(data, list):
            # Several entries of different types at this path: the file among them.
            data = next((e for e in data if isinstance(e, dict) and e.get("type") == "file"), {})
        if not isinstance(data, dict) or data.get("type") != "file":
            raise ProviderError("Not a file")
        raw = str(data.get("content", ""))
        try:
            text = base64.b64decode(raw).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise ProviderError(f"{input_data.file_path[:200]} is not UTF-8 text") from None
        yield "raw_content", raw
        yield "text_content", text
        yield "size", int(data.get("size", 0))
