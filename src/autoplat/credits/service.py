"""Credits: what running a block costs and charging it to the ledger."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from autoplat.blocks.base import Block
from autoplat.blocks.registry import BlockRegistry
from autoplat.config import Settings
from autoplat.db.manager import DatabaseManager


class CreditService:
    """Prices block runs and charges them; the executor calls it before each node runs."""

    def __init__(self, settings: Settings, db: DatabaseManager, blocks: BlockRegistry) -> None:
        self.settings = settings
        self.db = db
        self.blocks = blocks

    async def charge_node(
        self,
        *,
        user_id: str,
        graph_exec_id: str,
        node_exec_id: str,
        block: Block[Any],
        input_data: Mapping[str, Any],
    ) -> int:
        """Charge one node run; return credits charged or raise InsufficientCredits."""
        return 0
