"""The set of blocks a platform instance offers, built once at start."""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from autoplat.blocks.base import Block, BlockCost
from autoplat.errors import BlockNotFound, ConfigError

# Modules holding the builtin blocks; imported only when a registry is built.
BUILTIN_MODULES: tuple[str, ...] = (
    "autoplat.blocks.builtin.basic",
    "autoplat.blocks.builtin.io",
    "autoplat.blocks.builtin.dictionaries",
    "autoplat.blocks.builtin.lists",
    "autoplat.blocks.builtin.text",
    "autoplat.blocks.builtin.branching",
    "autoplat.blocks.builtin.maths",
    "autoplat.blocks.builtin.iteration",
    "autoplat.blocks.builtin.time_blocks",
    "autoplat.blocks.builtin.web_request",
    "autoplat.blocks.builtin.agent",
    "autoplat.blocks.builtin.xml_parser",
    "autoplat.blocks.builtin.llm",
    "autoplat.blocks.builtin.llm_extra",
    "autoplat.blocks.builtin.ai_condition",
    "autoplat.blocks.builtin.orchestrator",
    "autoplat.blocks.builtin.lists_2026",
    "autoplat.blocks.builtin.text_extra",
    "autoplat.blocks.builtin.sampling",
    "autoplat.blocks.builtin.integrations.jina",
    "autoplat.blocks.builtin.integrations.google_maps",
    "autoplat.blocks.builtin.integrations.ideogram",
    "autoplat.blocks.builtin.integrations.replicate",
    "autoplat.blocks.builtin.integrations.medium",
    "autoplat.blocks.builtin.integrations.youtube",
    "autoplat.blocks.builtin.integrations.e2b",
    "autoplat.blocks.builtin.integrations.discord",
    "autoplat.blocks.builtin.integrations.replicate_image",
    "autoplat.blocks.builtin.integrations.smtp_email",
    "autoplat.blocks.builtin.integrations.http_auth",
    "autoplat.blocks.builtin.integrations.exa",
    "autoplat.blocks.builtin.integrations.firecrawl",
    "autoplat.blocks.builtin.integrations.github_issues",
    "autoplat.blocks.builtin.integrations.github_pulls",
    "autoplat.blocks.builtin.integrations.github_repo",
    "autoplat.blocks.builtin.integrations.google_sheets",
    "autoplat.blocks.builtin.integrations.gmail",
    "autoplat.blocks.builtin.persistence",
    "autoplat.blocks.builtin.file_blocks",
    "autoplat.blocks.builtin.feeds",
    "autoplat.blocks.builtin.review",
    "autoplat.blocks.builtin.webhook_trigger",
)


def block_classes(module_names: Iterable[str] = BUILTIN_MODULES) -> list[type[Block[Any]]]:
    """Concrete Block subclasses defined in the given modules, in definition order."""
    found: list[type[Block[Any]]] = []
    for module_name in module_names:
        module = importlib.import_module(module_name)
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if (
                issubclass(cls, Block)
                and cls.__module__ == module.__name__
                and not inspect.isabstract(cls)
                and "id" in vars(cls)
            ):
                found.append(cls)
    return found


class BlockRegistry:
    """Blocks by id, with optional operator-configured cost overrides."""

    def __init__(
        self,
        blocks: Iterable[Block[Any]],
        cost_overrides: Mapping[str, tuple[BlockCost, ...]] | None = None,
    ) -> None:
        self._blocks: dict[str, Block[Any]] = {}
        for block in blocks:
            if block.id in self._blocks:
                raise ConfigError(f"duplicate block id {block.id} ({block.name})")
            self._blocks[block.id] = block
        self._costs: dict[str, tuple[BlockCost, ...]] = dict(cost_overrides or {})

    @classmethod
    def builtin(cls) -> BlockRegistry:
        """A registry holding one instance of every builtin block."""
        return cls(block_cls() for block_cls in block_classes())

    def with_cost_overrides(self, block_costs: Mapping[str, list[dict[str, Any]]]) -> BlockRegistry:
        """A registry whose costs for the listed block ids are replaced (settings.block_costs)."""
        overrides = dict(self._costs)
        for block_id, costs in block_costs.items():
            if block_id not in self._blocks:
                raise ConfigError(f"block_costs names unknown block id {block_id}")
            try:
                overrides[block_id] = tuple(BlockCost.model_validate(c) for c in costs)
            except ValueError as exc:
                raise ConfigError(f"invalid block_costs for {block_id}: {exc}") from None
        return BlockRegistry(self._blocks.values(), overrides)

    def costs_for(self, block_id: str) -> tuple[BlockCost, ...]:
        """The costs in force for a block: the operator's override, else the block's own."""
        if block_id in self._costs:
            return self._costs[block_id]
        block = self._blocks.get(block_id)
        return block.costs if block is not None else ()

    def info(self, block: Block[Any]) -> dict[str, Any]:
        """The block's listing with the costs in force."""
        data = block.info()
        data["costs"] = [c.model_dump(mode="json") for c in self.costs_for(block.id)]
        return data

    def get(self, block_id: str) -> Block[Any] | None:
        """The block with this id, or None."""
        return self._blocks.get(block_id)

    def require(self, block_id: str) -> Block[Any]:
        """The block with this id, or raise BlockNotFound."""
        block = self._blocks.get(block_id)
        if block is None:
            raise BlockNotFound(f"block {block_id} does not exist")
        return block

    def __iter__(self) -> Iterator[Block[Any]]:
        return iter(self._blocks.values())

    def __len__(self) -> int:
        return len(self._blocks)

    def __contains__(self, block_id: object) -> bool:
        return block_id in self._blocks
