"""Execution events: subscriber filters and the NOTIFY encoding (size limit, references)."""

from __future__ import annotations

import json

from autoplat.executions.events import (
    NOTIFY_LIMIT,
    EventBus,
    ExecutionEvent,
    decode_notification,
    encode_notifications,
)


def node_event(
    run: str, node_exec: str, graph: str = "g1", user: str = "u1", **extra: object
) -> ExecutionEvent:
    data = {
        "user_id": user,
        "graph_id": graph,
        "graph_exec_id": run,
        "node_exec_id": node_exec,
        "status": "COMPLETED",
        **extra,
    }
    return ExecutionEvent("node", data)


def graph_event(run: str, graph: str = "g1", user: str = "u1") -> ExecutionEvent:
    return ExecutionEvent(
        "graph", {"id": run, "user_id": user, "graph_id": graph, "status": "RUNNING"}
    )


def test_subscribers_get_what_they_asked_for() -> None:
    bus = EventBus()
    by_run = bus.subscribe(graph_exec_id="r1")
    by_graph = bus.subscribe(graph_id="g2")
    by_user = bus.subscribe(user_id="u2")
    everything = bus.subscribe()
    events = [graph_event("r1"), node_event("r2", "n1", graph="g2"), graph_event("r3", user="u2")]
    bus.publish(events)
    assert [e.graph_exec_id for e in _drain(by_run)] == ["r1"]
    assert [e.graph_exec_id for e in _drain(by_graph)] == ["r2"]
    assert [e.graph_exec_id for e in _drain(by_user)] == ["r3"]
    assert len(_drain(everything)) == 3
    by_run.close()
    bus.publish([graph_event("r1")])
    assert _drain(by_run) == []
    assert bus.wants_run("r9", "g2") and bus.wants_run("r9", "g9") is not False


def test_method_names_follow_autogpt() -> None:
    assert graph_event("r").method == "graph_execution_event"
    assert node_event("r", "n").method == "node_execution_event"


def test_notifications_stay_under_the_limit_and_big_events_become_references() -> None:
    small = [node_event("r1", f"n{i}", output_data={"x": [i]}) for i in range(200)]
    big = node_event("r1", "huge", output_data={"x": ["y" * 50_000]})
    payloads = encode_notifications("me", [*small, big])
    assert len(payloads) > 1
    assert all(len(p.encode()) < NOTIFY_LIMIT for p in payloads)
    items = []
    for payload in payloads:
        origin, batch = decode_notification(payload)
        assert origin == "me"
        items.extend(batch)
    assert [item["d"]["node_exec_id"] for item in items[:-1]] == [f"n{i}" for i in range(200)]
    assert items[-1] == {
        "k": "node",
        "ref": {"graph_exec_id": "r1", "status": "COMPLETED", "node_exec_id": "huge"},
    }
    json.loads(payloads[0])


def _drain(sub: object) -> list[ExecutionEvent]:
    queue = sub.queue  # type: ignore[attr-defined]
    out = []
    while not queue.empty():
        out.append(queue.get_nowait())
    return out
