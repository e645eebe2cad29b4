"""The block interface: what every block declares and how one block run is driven."""

from __future__ import annotations

import enum
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Protocol, TypeVar

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter
from pydantic import ValidationError as PydanticValidationError

from autoplat.errors import BlockInputError, BlockOutputError, BlockRunError

if TYPE_CHECKING:
    import httpx

    from autoplat.blocks.settings import BlockSettings


class BlockType(enum.StrEnum):
    """The UI type of a block (AutoGPT's ``uiType`` values)."""

    STANDARD = "Standard"
    INPUT = "Input"
    OUTPUT = "Output"
    NOTE = "Note"
    WEBHOOK = "Webhook"
    WEBHOOK_MANUAL = "Webhook (manual)"
    AGENT = "Agent"
    AI = "AI"
    HUMAN_IN_THE_LOOP = "Human In The Loop"


class BlockCategory(enum.StrEnum):
    """Categories shown in block listings."""

    BASIC = "BASIC"
    INPUT = "INPUT"
    OUTPUT = "OUTPUT"
    DATA = "DATA"
    TEXT = "TEXT"
    LOGIC = "LOGIC"
    AI = "AI"
    AGENT = "AGENT"
    MULTIMEDIA = "MULTIMEDIA"
    DEVELOPER_TOOLS = "DEVELOPER_TOOLS"
    SEARCH = "SEARCH"
    COMMUNICATION = "COMMUNICATION"


class BlockCostType(enum.StrEnum):
    """How a block cost is measured."""

    RUN = "run"
    BYTE = "byte"
    SECOND = "second"


class BlockCost(BaseModel):
    """One price of a block; the first cost whose filter matches the input applies."""

    model_config = ConfigDict(extra="forbid")

    cost_amount: int = Field(ge=0)
    cost_type: BlockCostType = BlockCostType.RUN
    cost_filter: dict[str, Any] = Field(default_factory=dict)


class BlockSchema(BaseModel):
    """Base of block input and output schemas; unknown input keys are ignored."""

    model_config = ConfigDict(extra="ignore", arbitrary_types_allowed=True)

    @classmethod
    def json_schema(cls) -> dict[str, Any]:
        """The schema as published to clients (JSON Schema)."""
        return cls.model_json_schema()

    @classmethod
    def pin_names(cls) -> set[str]:
        """Names of all pins (fields) of this schema."""
        return set(cls.model_fields)

    @classmethod
    def required_pins(cls) -> set[str]:
        """Pins without a default."""
        return {name for name, f in cls.model_fields.items() if f.is_required()}


class BlockOutputSchema(BlockSchema):
    """Standard output base: every such block has an implicit ``error`` pin."""

    error: str = Field(default="", description="Error message if the block failed.")


class EmptySchema(BlockSchema):
    """A schema with no pins."""


class SubgraphRunner(Protocol):
    """What the executor offers blocks that run other graphs (the sub-agent block)."""

    def run_subgraph(
        self,
        *,
        graph_id: str,
        graph_version: int,
        inputs: Mapping[str, Any],
    ) -> AsyncIterator[tuple[str, Any]]:
        """Run a child execution and yield ``(output name, value)`` as outputs arrive."""
        ...


class KeyValueAccess(Protocol):
    """The run's view of its user's key-value store (AutoGPT's execution KV data).

    Bound to one user (and the node execution that writes) by the executor, so a block can
    only ever reach its own user's keys; values are JSON documents.
    """

    async def get(self, key: str) -> Any:
        """The value stored under ``key``, or None."""
        ...

    async def set(self, key: str, value: Any) -> Any:
        """Store ``value`` under ``key`` (None clears it); returns what now reads back."""
        ...


@dataclass(frozen=True, slots=True)
class FileData:
    """A stored file's content and what is known of it."""

    name: str
    content_type: str
    content: bytes


class FileAccess(Protocol):
    """The run's view of its user's file store: files travel between nodes as references.

    Bound to one user (and run) by the executor: ``read`` opens only that user's files, and
    a reference of anyone else's reads as not found.
    """

    async def store(self, content: bytes, *, name: str, content_type: str) -> str:
        """Keep ``content`` (within the size limit and quota); returns its reference."""
        ...

    async def read(self, reference: str) -> FileData:
        """The file behind a reference this store made, or BlockRunError."""
        ...

    def is_reference(self, value: str) -> bool:
        """True when ``value`` is a reference of this store (whoever owns it)."""
        ...


@dataclass(frozen=True, slots=True)
class ReviewOutcome:
    """A person's decision on data a block asked them to review."""

    approved: bool
    data: Any
    message: str | None = None


class ReviewRequired(Exception):
    """The data waits for a person: the executor parks the node (status REVIEW) and its run
    holds no worker until the decision comes; the node then runs again and gets it."""


class ReviewAccess(Protocol):
    """The executor's side of a review for one node execution."""

    async def decide(self, data: Any, *, name: str, editable: bool) -> ReviewOutcome:
        """The decision on ``data``; raises ReviewRequired while none was taken."""
        ...


@dataclass(slots=True)
class BlockContext:
    """Everything a block run may use besides its input."""

    settings: BlockSettings
    http: httpx.AsyncClient
    user_id: str = ""
    graph_id: str = ""
    graph_version: int = 0
    graph_exec_id: str = ""
    node_id: str = ""
    node_exec_id: str = ""
    user_timezone: str = "UTC"
    subgraphs: SubgraphRunner | None = None
    #: The node's resolved credentials by input field name (decrypted; only this run sees
    #: them). Values are ``autoplat.integrations.model`` credentials.
    credentials: Mapping[str, Any] = field(default_factory=dict)
    #: The user's key-value store (PersistInformation/RetrieveInformation); None: unavailable.
    kv: KeyValueAccess | None = None
    #: The user's file store (file pins carry its references); None: files travel inline.
    files: FileAccess | None = None
    #: Asks a person to review data (human in the loop); None: no reviews here.
    review: ReviewAccess | None = None
    # Per-node extras (e.g. the sub-agent's input/output schema from input_default).
    extra: dict[str, Any] = field(default_factory=dict)


InputT = TypeVar("InputT", bound=BlockSchema)

BlockOutput = AsyncIterator[tuple[str, Any]]


class Block(ABC, Generic[InputT]):
    """A unit of work: validated input in, ``(pin, value)`` pairs out.

    Subclasses set the class attributes and implement :meth:`run`. The block's ``name`` is its
    class name, as on AutoGPT.
    """

    id: ClassVar[str]
    description: ClassVar[str] = ""
    categories: ClassVar[tuple[BlockCategory, ...]] = (BlockCategory.BASIC,)
    block_type: ClassVar[BlockType] = BlockType.STANDARD
    input_schema: ClassVar[type[BlockSchema]]
    output_schema: ClassVar[type[BlockSchema]]
    static_output: ClassVar[bool] = False
    costs: ClassVar[tuple[BlockCost, ...]] = ()
    disabled: ClassVar[bool] = False
    # An action with effects outside the platform (sending, posting, publishing): when the
    # graph's ``sensitive_action_safe_mode`` is on, each node of it waits for a person's
    # approval before it runs (AutoGPT's ``is_sensitive_action``).
    is_sensitive_action: ClassVar[bool] = False
    # Seconds a run may take; None means the platform default.
    timeout: ClassVar[float | None] = None
    # Self-test vectors: each input is a separate run; the outputs of all runs, concatenated,
    # must match ``test_output`` one to one. An expected value matches when equal, when it is
    # a type and the value is an instance of it, or when it is a callable returning True.
    test_input: ClassVar[list[dict[str, Any]]] = []
    test_output: ClassVar[list[tuple[str, Any]]] = []

    @property
    def name(self) -> str:
        """The block's name (its class name)."""
        return type(self).__name__

    @abstractmethod
    def run(self, input_data: InputT, context: BlockContext) -> BlockOutput:
        """Do the work; an ``async def`` generator yielding ``(pin, value)`` pairs."""

    def validate_input(self, data: Mapping[str, Any]) -> InputT:
        """Drop null pins, validate the rest and build the typed input, or raise."""
        clean = {k: v for k, v in data.items() if v is not None}
        try:
            return self.input_schema.model_validate(clean)  # type: ignore[return-value]
        except PydanticValidationError as exc:
            details = [
                {"pin": ".".join(str(p) for p in err["loc"]), "message": err["msg"]}
                for err in exc.errors()
            ]
            summary = "; ".join(f"{d['pin']}: {d['message']}" for d in details)
            raise BlockInputError(
                f"invalid input for {self.name}: {summary}", details=details
            ) from None

    async def execute(self, data: Mapping[str, Any], context: BlockContext) -> BlockOutput:
        """Validate, run and check one block run; an ``error`` yield becomes BlockRunError."""
        typed = self.validate_input(data)
        pins = self.output_schema.model_fields
        check = self.block_type == BlockType.STANDARD
        async for pin, value in self.run(typed, context):
            if pin == "error" and "error" in pins:
                raise BlockRunError(str(value))
            if check:
                if pin not in pins:
                    raise BlockOutputError(f"{self.name} yielded on unknown pin {pin!r}")
                self._check_output(pin, value)
            yield pin, value

    def _check_output(self, pin: str, value: Any) -> None:
        """Validate one yielded value against its pin type (lax: ``5`` fits a float pin)."""
        adapters: dict[str, TypeAdapter[Any] | None] = self.__dict__.setdefault("_adapters", {})
        if pin not in adapters:
            annotation = self.output_schema.model_fields[pin].annotation
            adapters[pin] = None if annotation in (Any, None) else TypeAdapter(annotation)
        adapter = adapters[pin]
        if adapter is None:
            return
        try:
            adapter.validate_python(value)
        except PydanticValidationError as exc:
            problem = exc.errors()[0]["msg"] if exc.errors() else str(exc)
            raise BlockOutputError(
                f"{self.name} yielded a bad value on {pin!r}: {problem}"
            ) from None

    def info(self) -> dict[str, Any]:
        """The block as listed by ``GET /api/blocks``."""
        return {
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "categories": [{"category": c.value, "description": ""} for c in self.categories],
            "inputSchema": self.input_schema.json_schema(),
            "outputSchema": self.output_schema.json_schema(),
            "staticOutput": self.static_output,
            "uiType": self.block_type.value,
            "costs": [c.model_dump(mode="json") for c in self.costs],
            "contributors": [],
            "disabled": self.disabled,
        }
