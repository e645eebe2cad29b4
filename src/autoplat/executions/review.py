"""The executor's side of human review: one node execution's question and its answer.

Asking records the review (once per node execution) and raises ReviewRequired while no
decision exists; the run parks the node (REVIEW) and, once nothing else can run, ends its
stay in this process as REVIEW, holding no worker. A decision queues the run again; the
node runs again on whichever process claims it and reads the decision here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from autoplat.blocks.base import ReviewOutcome, ReviewRequired
from autoplat.db import storable
from autoplat.db.reviews import APPROVED, WAITING, ReviewRow, ReviewStore
from autoplat.db.types import utcnow

if TYPE_CHECKING:
    from autoplat.executions.run import GraphRun
    from autoplat.executions.state import NodeRun


class NodeReview:
    """Reviews for one node execution of one run (the ``context.review`` of its block)."""

    def __init__(self, store: ReviewStore, run: GraphRun, nr: NodeRun) -> None:
        self.store = store
        self.run = run
        self.nr = nr

    async def decide(self, data: Any, *, name: str, editable: bool) -> ReviewOutcome:
        """The decision on ``data``; ReviewRequired while the review waits."""
        row = await self.store.ask(
            ReviewRow(
                node_exec_id=self.nr.id,
                graph_exec_id=self.run.id,
                user_id=self.run.user_id,
                graph_id=self.run.graph_id,
                graph_version=self.run.graph_version,
                node_id=self.nr.node_id,
                name=name[:200],
                editable=editable,
                payload=storable.clean(data),
                status=WAITING,
                created_at=utcnow(),
            )
        )
        if row.status == WAITING:
            raise ReviewRequired(f"waiting for a review of {name!r}")
        reviewed = row.reviewed_data if row.reviewed_data is not None else row.payload
        return ReviewOutcome(approved=row.status == APPROVED, data=reviewed, message=row.message)
