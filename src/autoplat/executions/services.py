"""What a run's node executions use besides their input: block contexts, credentials,
review gates and charges (:class:`~autoplat.executions.host.NodeServices`).

Invariants: a block context reaches only the run's user's own stores (HTTP client and its
cookies, key-value data, files, credentials); credentials are decrypted for one block run
only; a node run is charged under its :class:`~autoplat.executions.charges.ChargeKeys` key,
so work run again after a crash is never charged twice.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from autoplat.blocks.base import BlockContext
from autoplat.blocks.outbound import OutboundHttp
from autoplat.blocks.settings import BlockSettings
from autoplat.db.manager import DatabaseManager
from autoplat.executions.graph import CompiledNode
from autoplat.executions.ports import CredentialsResolver, Credits
from autoplat.executions.review import NodeReview, settings_reader
from autoplat.executions.state import NodeRun
from autoplat.executions.subgraph import SubgraphRunner
from autoplat.files.service import FileService

if TYPE_CHECKING:
    from autoplat.executions.run import GraphRun


class RunServices:
    """The node services of the runs one worker holds."""

    def __init__(
        self,
        db: DatabaseManager,
        *,
        credits: Credits | None,
        credentials: CredentialsResolver | None,
        outbound: OutboundHttp,
        block_settings: BlockSettings,
    ) -> None:
        self.db = db
        self.credits = credits
        self.credentials = credentials
        self.files = FileService.from_db(db)
        self.outbound = outbound
        self.block_settings = block_settings

    def credential_masks(self, run: GraphRun) -> dict[str, dict[str, Any]]:
        """node id -> {field -> credential reference} from the run's credentials inputs."""
        if self.credentials is None:
            return {}
        return self.credentials.node_credentials_map(run.graph.graph, run.credentials_inputs)

    async def credentials_for(
        self, run: GraphRun, nr: NodeRun, cnode: CompiledNode, record: Mapping[str, Any]
    ) -> Mapping[str, Any]:
        """The node's credentials, decrypted for this block run only."""
        if self.credentials is None:
            return {}
        return await self.credentials.for_node(
            run.user_id,
            cnode.block,
            record,
            node_id=nr.node_id,
            optional=bool(cnode.node.metadata.get("credentials_optional")),
        )

    def block_context(
        self, run: GraphRun, nr: NodeRun, credentials: Mapping[str, Any]
    ) -> BlockContext:
        """Everything one block run may use besides its input (the user's own client)."""
        return BlockContext(
            settings=self.block_settings,
            http=self.outbound.client_for(run.user_id),
            user_id=run.user_id,
            graph_id=run.graph_id,
            graph_version=run.graph_version,
            graph_exec_id=run.id,
            node_id=nr.node_id,
            node_exec_id=nr.id,
            subgraphs=SubgraphRunner(run, nr),
            credentials=credentials,
            # The run's user's own stores: a block reaches no one else's keys or files.
            kv=self.db.kv.for_node(run.user_id, nr.id),
            files=self.files.for_run(run.user_id, run.id),
            review=self._review(run, nr),
        )

    def _review(self, run: GraphRun, nr: NodeRun) -> NodeReview:
        # A sub-agent's nodes follow the settings of the graph the user ran (as on AutoGPT,
        # where a child execution inherits its parent's safe modes).
        root = run
        while root.parent is not None:
            root = root.parent
        reader = settings_reader(self.db.library.graph_settings, root.user_id, root.graph_id)
        return NodeReview(self.db.reviews, run, nr, reader)

    async def review_gate(
        self, run: GraphRun, nr: NodeRun, cnode: CompiledNode, record: Mapping[str, Any]
    ) -> dict[str, Any]:
        """The input the node's block runs with, once a person approved it if it must."""
        if not cnode.block.is_sensitive_action:
            return dict(record)  # the common case reads no settings
        return await self._review(run, nr).gate(cnode.block, record)

    async def charge_node(
        self, run: GraphRun, nr: NodeRun, cnode: CompiledNode, record: Mapping[str, Any]
    ) -> int:
        """Charge one node run to the run's user (InsufficientCredits fails the run)."""
        if self.credits is None or not self.credits.enabled:
            return 0
        return await self.credits.charge_node(
            user_id=run.user_id,
            graph_exec_id=run.id,
            node_exec_id=nr.id,
            block=cnode.block,
            input_data=record,
            run_number=run.node_runs_started,
            charge_key=run.charges.key_for(nr, record),
        )

    async def charge_duration(
        self,
        run: GraphRun,
        nr: NodeRun,
        cnode: CompiledNode,
        record: Mapping[str, Any],
        seconds: float,
    ) -> int:
        """Charge a finished node's per-second cost, when its block has one."""
        if self.credits is None or not self.credits.bills_time(cnode.block.id):
            return 0
        return await self.credits.charge_duration(
            user_id=run.user_id,
            graph_exec_id=run.id,
            node_exec_id=nr.id,
            block=cnode.block,
            input_data=record,
            seconds=seconds,
            charge_key=nr.stats.get("charge_key"),
        )
