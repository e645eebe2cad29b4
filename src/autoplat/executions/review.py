"""The executor's side of human review: one node execution's question and its answer.

Asking records the review (once per node execution) and raises ReviewRequired while no
decision exists; the run parks the node (REVIEW) and, once nothing else can run, ends its
stay in this process as REVIEW, holding no worker. A decision queues the run again; the
node runs again on whichever process claims it and reads the decision here.

Two things ask, each under one of the graph's safe modes (read from its owner's library
entry when asked): a HumanInTheLoopBlock (``human_in_the_loop_safe_mode``, on unless
turned off; off, it approves at once and says so) and, before its block runs, a node
whose block is a sensitive action (``sensitive_action_safe_mode``, off unless turned on).
A sensitive action that is rejected fails with the reviewer's message; one approved runs
with the data the reviewer approved (edited or not) as its input, credentials excepted.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

from autoplat.blocks.base import Block, ReviewOutcome, ReviewRequired
from autoplat.db import storable
from autoplat.db.reviews import APPROVED, WAITING, ReviewRow, ReviewStore
from autoplat.db.types import utcnow
from autoplat.errors import BlockRunError
from autoplat.integrations.fields import credentials_fields
from autoplat.library.graph_settings import GraphSettings

if TYPE_CHECKING:
    from autoplat.executions.run import GraphRun
    from autoplat.executions.state import NodeRun

#: Reads the run's graph settings as they are now.
SettingsReader = Callable[[], Awaitable[GraphSettings]]
#: The message of a HumanInTheLoopBlock approved because its safe mode is off (AutoGPT's).
AUTO_APPROVED = "Auto-approved (safe mode disabled)"
#: A rejection's message when the reviewer wrote none (AutoGPT's).
REJECTED = "Execution rejected by reviewer"


class NodeReview:
    """Reviews for one node execution of one run (the ``context.review`` of its block)."""

    def __init__(
        self,
        store: ReviewStore,
        run: GraphRun,
        nr: NodeRun,
        settings: SettingsReader | None = None,
    ) -> None:
        self.store = store
        self.run = run
        self.nr = nr
        # None: no settings to read (every review is asked, no action is gated).
        self.settings = settings

    async def decide(self, data: Any, *, name: str, editable: bool) -> ReviewOutcome:
        """A HumanInTheLoopBlock's decision on ``data``; ReviewRequired while it waits."""
        if self.settings is not None and not (await self.settings()).human_in_the_loop_safe_mode:
            return ReviewOutcome(approved=True, data=data, message=AUTO_APPROVED)
        return await self._ask(data, name=name, editable=editable)

    async def gate(self, block: Block[Any], record: Mapping[str, Any]) -> dict[str, Any]:
        """The input ``block`` runs with: ``record``, or what a reviewer approved of it.

        Only a sensitive action under the graph's sensitive-action safe mode asks; it raises
        ReviewRequired while the review waits and BlockRunError when it was rejected.
        """
        if not block.is_sensitive_action or self.settings is None:
            return dict(record)
        if not (await self.settings()).sensitive_action_safe_mode:
            return dict(record)
        outcome = await self._ask(dict(record), name=block.name, editable=True)
        if not outcome.approved:
            reason = outcome.message or REJECTED
            raise BlockRunError(f"Block execution rejected by reviewer: {reason}")
        if not isinstance(outcome.data, dict):
            kind = type(outcome.data).__name__
            raise BlockRunError(f"Review data must be a dict for block input, got {kind}")
        approved = dict(outcome.data)
        # The reviewer decides what is sent, not with whose account: credentials stay.
        for spec in credentials_fields(block):
            if spec.name in record:
                approved[spec.name] = record[spec.name]
            else:
                approved.pop(spec.name, None)
        return approved

    async def _ask(self, data: Any, *, name: str, editable: bool) -> ReviewOutcome:
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


def settings_reader(
    read: Callable[[str, str], Awaitable[dict[str, Any] | None]], user_id: str, graph_id: str
) -> SettingsReader:
    """A reader of one graph's settings in its owner's library (defaults without an entry)."""

    async def current() -> GraphSettings:
        return GraphSettings.from_document(await read(user_id, graph_id))

    return current
