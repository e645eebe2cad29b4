"""Charge keys: the identity under which a node run is charged, stable across crash re-runs.

A key is the run, the node, a digest of the node's input record and how many runs of that
node had that same input before it. A node run again after a resume (a new process, a new
node execution id) is given the key of the attempt that may already have been charged, so
the ledger's idempotency makes the second charge a no-op.

Invariant: a key, once given to a node run, is kept in its stats and never recomputed; the
occurrence counts start from the finished node runs restored with the run.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from autoplat.db import storable
from autoplat.executions.state import NodeRun

#: The stats field holding a node run's charge key.
CHARGE_KEY = "charge_key"


class ChargeKeys:
    """The charge keys of one run's node executions."""

    def __init__(self, run_id: str) -> None:
        self.run_id = run_id
        #: (node id, input digest) -> node runs given a key for that input so far.
        self._seen: dict[tuple[str, str], int] = {}

    def key_for(self, nr: NodeRun, record: Mapping[str, Any]) -> str:
        """``nr``'s key (made now, and kept in its stats, if it has none yet)."""
        key = nr.stats.get(CHARGE_KEY)
        if isinstance(key, str):
            return key
        digest = hashlib.sha256(storable.dumps_sorted(record).encode()).hexdigest()[:24]
        seen = self._seen.get((nr.node_id, digest), 0)
        self._seen[(nr.node_id, digest)] = seen + 1
        key = f"{self.run_id}:{nr.node_id}:{digest}:{seen}"
        nr.stats[CHARGE_KEY] = key
        return key

    def restored(self, nr: NodeRun) -> None:
        """A finished node run read back from the database counts towards later keys."""
        key = nr.stats.get(CHARGE_KEY)
        if not isinstance(key, str):
            return
        _, _, rest = key.partition(":")
        node_id, _, rest = rest.partition(":")
        digest, _, seen = rest.partition(":")
        if seen.isdigit():
            counted = self._seen.get((node_id, digest), 0)
            self._seen[(node_id, digest)] = max(counted, int(seen) + 1)
