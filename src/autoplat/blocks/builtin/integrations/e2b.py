"""Code in an E2B sandbox: AutoGPT's ``ExecuteCodeBlock``.

Invariants: the code never runs here. A sandbox is created with E2B's API
(``POST /sandboxes``, the key in ``X-API-Key``, to E2B's base URL only), the code goes to
the code interpreter inside it (``POST /execute`` on port 49999 of the sandbox, with the
sandbox's own access token, never the API key), and with ``dispose_sandbox`` the sandbox is
killed (``DELETE /sandboxes/{id}``) whatever happened, as it is when the code fails.
The sandbox is reached at ``https://49999-{id}.{domain}`` (the domain E2B names, else
``e2b.app``), or at the operator's ``e2b_sandbox`` base URL addressed with E2B's
``E2b-Sandbox-Id``/``E2b-Sandbox-Port`` headers (self-hosted E2B, tests).

Setup commands run as ``bash`` cells of the same interpreter, one after another, before the
code (AutoGPT runs them with the sandbox's process API; the effect, a foreground shell
command in the sandbox, is the same).
"""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass, field
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict, Field

from autoplat.blocks.base import (
    Block,
    BlockCategory,
    BlockContext,
    BlockOutput,
    BlockOutputSchema,
    BlockSchema,
)
from autoplat.blocks.builtin.integrations._base import (
    CredentialsRefInput,
    ProviderError,
    api_key,
    call,
    credentials_pin,
    mock_credentials_input,
    platform_cost,
    raise_for_status,
    stand_in,
)
from autoplat.blocks.schema import pin
from autoplat.logging import get_logger

log = get_logger("autoplat.blocks.e2b")

PROVIDER = "e2b"
DEFAULT_TEMPLATE = "code-interpreter-v1"
INTERPRETER_PORT = 49999
#: The formats a result may carry (``e2b_code_interpreter.Result``), in its order.
FORMATS = (
    "text",
    "html",
    "markdown",
    "svg",
    "png",
    "jpeg",
    "pdf",
    "latex",
    "json",
    "javascript",
    "data",
    "chart",
)


class ProgrammingLanguage(enum.StrEnum):
    """Languages the code interpreter runs."""

    PYTHON = "python"
    JAVASCRIPT = "js"
    BASH = "bash"
    R = "r"
    JAVA = "java"


class MainCodeExecutionResult(BaseModel):
    """A result of the executed cell (the interpreter's display data)."""

    model_config = ConfigDict(extra="allow", populate_by_name=True, serialize_by_alias=True)

    text: str | None = None
    html: str | None = None
    markdown: str | None = None
    svg: str | None = None
    png: str | None = None
    jpeg: str | None = None
    pdf: str | None = None
    latex: str | None = None
    # "json" would shadow BaseModel.json: the attribute differs, the pin's key does not.
    json_data: Any = Field(None, alias="json")
    javascript: str | None = None
    data: dict[str, Any] | None = None
    chart: dict[str, Any] | None = None
    extra: dict[str, Any] | None = None


class CodeExecutionResult(MainCodeExecutionResult):
    """A result, marked when it is the cell's main result."""

    is_main_result: bool = False


@dataclass
class Execution:
    """What one ``/execute`` call streamed back."""

    results: list[dict[str, Any]] = field(default_factory=list)
    stdout: list[str] = field(default_factory=list)
    stderr: list[str] = field(default_factory=list)
    error: str | None = None

    @property
    def text(self) -> str:
        """The main result's text (the interpreter's ``Execution.text``)."""
        main = next((r for r in self.results if r.get("is_main_result")), None)
        return str(main.get("text") or "") if main else ""


def parse_execution(lines: str) -> Execution:
    """The interpreter's NDJSON event stream, gathered."""
    out = Execution()
    for line in lines.splitlines():
        if not line.strip():
            continue
        try:
            event = json.loads(line)
        except ValueError:
            raise ProviderError(f"the code interpreter sent a bad event: {line[:200]}") from None
        kind = event.get("type") if isinstance(event, dict) else None
        if kind == "stdout":
            out.stdout.append(str(event.get("text", "")))
        elif kind == "stderr":
            out.stderr.append(str(event.get("text", "")))
        elif kind == "result":
            out.results.append({k: v for k, v in event.items() if k != "type"})
        elif kind == "error":
            out.error = f"{event.get('name', 'Error')}: {event.get('value', '')}"
    return out


def shape_results(
    results: list[dict[str, Any]],
) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """AutoGPT's filtering: each result keeps its non-empty formats, ``extra`` and
    ``is_main_result``; the main result (a copy without the flag) apart."""
    keep = (*FORMATS, "extra", "is_main_result")
    shaped = [{k: r[k] for k in keep if r.get(k) is not None} for r in results]
    main = next((r for r in shaped if r.get("is_main_result")), None)
    if main is not None:
        main = {k: v for k, v in main.items() if k != "is_main_result"}
    return main, shaped


@dataclass(frozen=True)
class Sandbox:
    """A created sandbox and how to reach its interpreter."""

    sandbox_id: str
    url: str
    headers: dict[str, str]


async def create_sandbox(context: BlockContext, template: str, timeout: int) -> Sandbox:
    """A new sandbox of ``template`` living ``timeout`` seconds."""
    base = context.settings.provider_url("e2b")
    answer = await call(
        context,
        "POST",
        f"{base}/sandboxes",
        headers={"X-API-Key": api_key(context).get_secret_value()},
        json={"templateID": template or DEFAULT_TEMPLATE, "timeout": timeout},
    )
    raise_for_status(answer, "E2B could not create a sandbox")
    info = answer.json()
    sandbox_id = str(info.get("sandboxID") or "") if isinstance(info, dict) else ""
    if not sandbox_id:
        raise ProviderError("E2B answered without a sandbox id")
    headers: dict[str, str] = {}
    token = info.get("envdAccessToken")
    if token:
        headers["X-Access-Token"] = str(token)
    override = context.settings.provider_base_urls.get("e2b_sandbox")
    if override:
        headers |= {"E2b-Sandbox-Id": sandbox_id, "E2b-Sandbox-Port": str(INTERPRETER_PORT)}
        return Sandbox(sandbox_id, override, headers)
    domain = str(info.get("domain") or "e2b.app")
    return Sandbox(sandbox_id, f"https://{INTERPRETER_PORT}-{sandbox_id}.{domain}", headers)


async def kill_sandbox(context: BlockContext, sandbox: Sandbox) -> None:
    """Kill the sandbox; a failure is logged (the sandbox still ends at its timeout)."""
    base = context.settings.provider_url("e2b")
    try:
        answer = await call(
            context,
            "DELETE",
            f"{base}/sandboxes/{sandbox.sandbox_id}",
            headers={"X-API-Key": api_key(context).get_secret_value()},
        )
        if not answer.ok and answer.status != 404:
            log.warning("e2b.kill_failed", sandbox_id=sandbox.sandbox_id, status=answer.status)
    except Exception as exc:  # the run's outcome stands; the sandbox times out anyway
        log.warning("e2b.kill_failed", sandbox_id=sandbox.sandbox_id, error=type(exc).__name__)


async def run_cell(context: BlockContext, sandbox: Sandbox, code: str, language: str) -> Execution:
    """Execute one cell in the sandbox's interpreter."""
    answer = await call(
        context,
        "POST",
        f"{sandbox.url}/execute",
        headers=sandbox.headers,
        json={"code": code, "language": language},
    )
    raise_for_status(answer, "the sandbox's code interpreter refused the code")
    return parse_execution(answer.text())


def _test_answer(request: httpx.Request) -> httpx.Response:
    if request.method == "POST" and request.url.path == "/sandboxes":
        return httpx.Response(201, json={"sandboxID": "sbx-test", "templateID": DEFAULT_TEMPLATE})
    if request.url.path == "/execute":
        events = [
            {"type": "stdout", "text": "Hello World\n"},
            {"type": "result", "text": "Hello World", "is_main_result": True},
            {"type": "end_of_execution"},
        ]
        return httpx.Response(200, text="\n".join(json.dumps(e) for e in events))
    return httpx.Response(204)


class ExecuteCodeBlock(Block["ExecuteCodeBlock.Input"]):
    """Run code in a fresh E2B sandbox; its results, text and logs."""

    class Input(BlockSchema):
        credentials: CredentialsRefInput = credentials_pin(
            PROVIDER,
            "Enter your API key for the E2B platform. You can get it in here - "
            "https://e2b.dev/docs",
        )
        setup_commands: list[str] = pin(
            default_factory=list,
            advanced=False,
            description="Shell commands to set up the sandbox before running the code. You "
            "can use `curl` or `git` to install your desired Debian based package manager. "
            "`pip` and `npm` are pre-installed.\n\nThese commands are executed with `sh`, in "
            "the foreground.",
            placeholder="pip install cowsay",
        )
        code: str = pin(
            "",
            advanced=False,
            description="Code to execute in the sandbox",
            placeholder="print('Hello, World!')",
        )
        language: ProgrammingLanguage = pin(
            ProgrammingLanguage.PYTHON,
            advanced=False,
            description="Programming language to execute",
        )
        timeout: int = pin(300, description="Execution timeout in seconds")
        dispose_sandbox: bool = pin(
            True,
            description="Whether to dispose of the sandbox immediately after execution. If "
            "disabled, the sandbox will run until its timeout expires.",
        )
        template_id: str = pin(
            "",
            description="You can use an E2B sandbox template by entering its ID here. Check "
            "out the E2B docs for more details: [E2B - Sandbox "
            "template](https://e2b.dev/docs/sandbox-template)",
        )

    class Output(BlockOutputSchema):
        main_result: MainCodeExecutionResult = pin(
            title="Main Result", description="The main result from the code execution"
        )
        results: list[CodeExecutionResult] = pin(
            description="List of results from the code execution"
        )
        response: str = pin(
            title="Main Text Output",
            description="Text output (if any) of the main execution result",
        )
        stdout_logs: str = pin(description="Standard output logs from execution")
        stderr_logs: str = pin(description="Standard error logs from execution")
        error: str = pin("", description="Error message if execution failed")

    id = "0b02b072-abe7-11ef-8372-fb5d162dd712"
    description = "Executes code in a sandbox environment with internet access."
    categories = (BlockCategory.DEVELOPER_TOOLS,)
    costs = (platform_cost(PROVIDER, 2),)
    input_schema = Input
    output_schema = Output
    test_input = [
        {
            "credentials": mock_credentials_input(PROVIDER),
            "code": "print('Hello World')",
            "language": "python",
            "setup_commands": [],
            "timeout": 300,
            "template_id": "",
        }
    ]
    # AutoGPT's vector (results, response, stdout_logs); an interpreter's text is its main
    # result's, so that result comes too.
    test_output = [
        ("main_result", {"text": "Hello World"}),
        ("results", [{"text": "Hello World", "is_main_result": True}]),
        ("response", "Hello World"),
        ("stdout_logs", "Hello World\n"),
    ]
    test_context = stand_in(_test_answer, PROVIDER, "mock-e2b-api-key")

    async def run(self, input_data: Input, context: BlockContext) -> BlockOutput:
        sandbox = await create_sandbox(context, input_data.template_id, input_data.timeout)
        try:
            for command in input_data.setup_commands:
                setup = await run_cell(context, sandbox, command, ProgrammingLanguage.BASH)
                if setup.error:
                    raise ProviderError(f"setup command {command!r} failed: {setup.error}")
            execution = await run_cell(context, sandbox, input_data.code, input_data.language)
            if execution.error:
                if not input_data.dispose_sandbox:
                    await kill_sandbox(context, sandbox)  # AutoGPT kills it on an error
                raise ProviderError(execution.error)
        finally:
            if input_data.dispose_sandbox:
                await kill_sandbox(context, sandbox)
        main_result, results = shape_results(execution.results)
        if main_result:
            yield "main_result", main_result
        yield "results", results
        if execution.text:
            yield "response", execution.text
        stdout, stderr = "".join(execution.stdout), "".join(execution.stderr)
        if stdout:
            yield "stdout_logs", stdout
        if stderr:
            yield "stderr_logs", stderr
