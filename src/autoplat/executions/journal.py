"""RunJournal: the durable record of one live run, and what still has to reach it.

The journal is the one owner of a run's write-behind state: the node executions not yet
durably finished (``live``), the ones with unwritten changes or unsent events
(``pending``), the run row's version and the run's events. A run changes it only through
its methods; the flusher takes a part with :meth:`collect` and acknowledges it with
:meth:`flushed`.

Invariants:
- a node row is written only with or after the terminal rows of the node executions that
  fed it (its ``deps``), so after a crash no row depends on outputs of work that runs again;
- a terminal row is written only with or after every row that took a value from it, so a
  crash never keeps a node's end while losing its deliveries;
- events go out only with (or after) the rows they describe, in order per node, and the
  run's terminal event only with its terminal row, after every node row;
- a node execution leaves memory once its terminal row is durable: a run's memory follows
  its frontier, not its history.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from autoplat.db.rows import NodeWrite, RunWrite
from autoplat.executions.events import ExecutionEvent
from autoplat.executions.state import NodeRun
from autoplat.executions.status import SETTLED, TERMINAL

#: Bytes one flush takes from one run before leaving the rest for the next flush.
PART_BYTES = 4_000_000


@dataclass(slots=True)
class JournalPart:
    """What one flush takes from one run: rows, the versions they hold, and events."""

    nodes: list[NodeWrite]
    taken: list[tuple[NodeRun, int, int]]
    run: RunWrite | None
    run_version: int
    run_events: int
    events: list[ExecutionEvent]
    size: int
    #: Changes were left for a later flush (blocked on dependencies or over the budget).
    more: bool = False


@dataclass(eq=False)
class RunJournal:
    """The write-behind state of one run (see the module docstring)."""

    run_id: str
    #: Called whenever something new waits to be written.
    on_change: Callable[[], None]
    live: dict[str, NodeRun] = field(default_factory=dict)
    pending: dict[str, NodeRun] = field(default_factory=dict)
    run_events: list[ExecutionEvent] = field(default_factory=list)
    run_version: int = 0
    run_flushed: int = 0

    # --- changes -------------------------------------------------------------------------

    def add(self, nr: NodeRun, *, durable: bool = False) -> None:
        """A node execution of the run; ``durable`` when its row is stored as it is."""
        if durable:
            nr.flushed_version = nr.version
            if nr.status in TERMINAL:
                return
            self.live[nr.id] = nr
            return
        self.live[nr.id] = nr
        self.pending[nr.id] = nr
        self.on_change()

    def touch(self, nr: NodeRun) -> None:
        """``nr``'s row changed."""
        nr.version += 1
        self.pending[nr.id] = nr
        self.on_change()

    def event(self, nr: NodeRun, event: ExecutionEvent) -> None:
        """An event of ``nr`` that needs no row change (an output)."""
        nr.events.append(event)
        self.pending[nr.id] = nr
        self.on_change()

    def run_changed(self, event: ExecutionEvent | None = None) -> None:
        """The run row changed (and ``event`` announces it)."""
        self.run_version += 1
        if event is not None:
            self.run_events.append(event)
        self.on_change()

    def feeds(self, source_id: str) -> bool:
        """Whether a row fed by ``source_id`` must wait for it (it is not durably done)."""
        return source_id in self.live

    @property
    def idle(self) -> bool:
        """Nothing waits to be written."""
        return not self.pending and self.run_version == self.run_flushed

    # --- flushing ------------------------------------------------------------------------

    def collect(
        self, run_write: Callable[[], RunWrite], *, final: bool, budget: int
    ) -> JournalPart:
        """Take what may be written now, up to about ``budget`` bytes.

        ``final``: the run has ended, so its row (made by ``run_write``) goes only with
        the last node rows.
        """
        ready = self._writable()
        nodes: list[NodeWrite] = []
        taken: list[tuple[NodeRun, int, int]] = []
        events: list[ExecutionEvent] = []
        size = 0
        more = sum(len(group) for group in ready) < len(self.pending)
        for group in ready:
            if size >= budget and taken:
                more = True
                break
            for nr in group:
                if nr.version != nr.flushed_version:
                    write = nr.write()
                    size += write.size
                    nodes.append(write)
                taken.append((nr, nr.version, len(nr.events)))
                events.extend(nr.events)
        run = None
        if self.run_version != self.run_flushed and not (final and more):
            run = run_write()
            size += run.size
        run_events = 0
        if run is not None or not final:
            # Graph events go out in order, the terminal one only with the terminal row.
            run_events = len(self.run_events)
            ending = [e for e in self.run_events if e.status in SETTLED]
            events[:0] = [e for e in self.run_events if e.status not in SETTLED]
            events.extend(ending)
        return JournalPart(nodes, taken, run, self.run_version, run_events, events, size, more)

    def _writable(self) -> list[list[NodeRun]]:
        """The pending rows that may be written now, in groups that must go together.

        A row that took a value from a node execution waits until that execution's
        terminal row goes with it or before it (so no row depends on work that may run
        again); and a terminal row waits for every row that took a value from it (so a
        crash cannot keep the end of a node whose deliveries were lost). Rows linked so
        form a group, written in one statement; groups come in ``seq`` order.
        """
        pending = self.pending
        if not any(nr.deps for nr in pending.values()):  # the common case: nothing waits
            return [[nr] for nr in sorted(pending.values(), key=_seq)]
        fed: dict[str, list[str]] = {}
        for nr in pending.values():
            for source in nr.deps:
                fed.setdefault(source, []).append(nr.id)
        writable = set(pending)
        changed = True
        while changed:
            changed = False
            for node_id in list(writable):
                nr = pending[node_id]
                ok = all(
                    source not in self.live
                    or (source in writable and pending[source].status in TERMINAL)
                    for source in nr.deps
                )
                if ok and nr.status in TERMINAL:
                    ok = all(sink in writable for sink in fed.get(node_id, ()))
                if not ok:
                    writable.discard(node_id)
                    changed = True
        parent = {node_id: node_id for node_id in writable}

        def root(node_id: str) -> str:
            while parent[node_id] != node_id:
                parent[node_id] = parent[parent[node_id]]
                node_id = parent[node_id]
            return node_id

        for node_id in writable:
            for source in pending[node_id].deps:
                if source in writable:
                    parent[root(source)] = root(node_id)
        groups: dict[str, list[NodeRun]] = {}
        for nr in sorted((pending[n] for n in writable), key=_seq):
            groups.setdefault(root(nr.id), []).append(nr)
        return list(groups.values())

    def flushed(self, part: JournalPart) -> list[NodeRun]:
        """``part`` is durable: forget it; return the node executions now durably done."""
        finished: list[NodeRun] = []
        for nr, version, n_events in part.taken:
            if version > nr.flushed_version:
                nr.flushed_version = version
            del nr.events[:n_events]
            nr.deps.clear()  # it was taken: whatever fed it was durable by then
            if nr.dirty or nr.events:
                continue
            self.pending.pop(nr.id, None)
            if nr.status in TERMINAL and self.live.pop(nr.id, None) is not None:
                finished.append(nr)
        if part.run is not None:
            self.run_flushed = part.run_version
        del self.run_events[: part.run_events]
        return finished


def _seq(nr: NodeRun) -> int:
    return nr.seq
