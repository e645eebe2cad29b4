"""Execution events: subscriber filters, a lagging subscriber's bounded queue and notice,
and the NOTIFY encoding (size limit, references)."""

from __future__ import annotations

import asyncio
import json

import pytest

from autoplat.executions.events import (
    NOTIFY_LIMIT,
    Delivery,
    EventBus,
    ExecutionEvent,
    Lagged,
    SubscriberOverrun,
    Subscription,
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


def graph_event(
    run: str, graph: str = "g1", user: str = "u1", status: str = "RUNNING"
) -> ExecutionEvent:
    return ExecutionEvent(
        "graph", {"id": run, "user_id": user, "graph_id": graph, "status": status}
    )


def test_subscribers_get_what_they_asked_for() -> None:
    bus = EventBus()
    by_run = bus.subscribe(graph_exec_id="r1")
    by_graph = bus.subscribe(graph_id="g2")
    by_user = bus.subscribe(user_id="u2")
    everything = bus.subscribe()
    events = [graph_event("r1"), node_event("r2", "n1", graph="g2"), graph_event("r3", user="u2")]
    bus.publish(events)
    assert _described(_drain(by_run)) == ["graph r1 RUNNING"]
    assert _described(_drain(by_graph)) == ["node r2 COMPLETED"]
    assert _described(_drain(by_user)) == ["graph r3 RUNNING"]
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


def _drain(sub: Subscription) -> list[Delivery]:
    out = []
    while (item := sub.poll()) is not None:
        out.append(item)
    return out


def _described(items: list[Delivery]) -> list[str]:
    return [
        f"lagged {','.join(i.graph_exec_ids)}"
        if isinstance(i, Lagged)
        else f"{i.kind} {i.graph_exec_id} {i.status}"
        for i in items
    ]


def test_a_subscriber_that_overflows_keeps_terminal_events_and_gets_a_lagged_notice() -> None:
    bus = EventBus()
    sub = bus.subscribe(limit=4)
    bus.publish(
        [
            node_event("r1", "n1", status="RUNNING"),
            graph_event("r2", status="COMPLETED"),
            node_event("r3", "n2"),
            graph_event("r4", status="FAILED"),
        ]
    )
    assert not sub.lagging and sub.pending() == 4
    # The fifth event finds the queue full: the backlog is cut to its terminal events.
    bus.publish([graph_event("r3", status="RUNNING"), graph_event("r3", status="TERMINATED")])
    assert sub.lagging and sub.lags == 1
    assert _described(_drain(sub)) == [
        "lagged r1,r3",
        "graph r2 COMPLETED",
        "graph r4 FAILED",
        "graph r3 TERMINATED",
    ]
    assert sub.dropped == 3
    # Once told, the subscriber gets every event again.
    bus.publish([node_event("r5", "n3"), graph_event("r5")])
    assert _described(_drain(sub)) == ["node r5 COMPLETED", "graph r5 RUNNING"]


def test_a_lagging_subscriber_discards_new_events_but_terminal_ones_until_it_reads() -> None:
    bus = EventBus()
    sub = bus.subscribe(limit=2)
    bus.publish([node_event("r1", f"n{i}") for i in range(3)])  # lags at the third
    bus.publish([node_event("r2", "n9"), graph_event("r2", status="COMPLETED")])
    bus.publish([graph_event("r2", status="COMPLETED")])  # a repeat is kept once
    notice = sub.poll()
    assert isinstance(notice, Lagged)
    assert notice.graph_exec_ids == ("r1", "r2") and notice.dropped == 4
    assert _described(_drain(sub)) == ["graph r2 COMPLETED"]


def test_terminal_events_beyond_the_limit_name_their_runs_in_the_notice() -> None:
    bus = EventBus()
    sub = bus.subscribe(limit=3)
    bus.publish([node_event("r0", "n0")] * 4)  # lagging, nothing kept
    bus.publish([graph_event(f"r{i}", status="COMPLETED") for i in range(1, 6)])
    items = _drain(sub)
    assert _described(items) == [
        "lagged r0,r4,r5",
        "graph r1 COMPLETED",
        "graph r2 COMPLETED",
        "graph r3 COMPLETED",
    ]


def test_a_subscriber_that_loses_more_runs_than_it_can_name_is_closed() -> None:
    bus = EventBus()
    sub = bus.subscribe(limit=2)
    bus.publish([node_event(f"r{i}", "n") for i in range(6)])
    assert sub.overrun and not bus.has_subscribers()
    bus.publish([graph_event("r1", status="COMPLETED")])
    assert sub.pending() == 0
    with pytest.raises(SubscriberOverrun) as caught:
        sub.poll()
    assert caught.value.code == "subscriber_overrun"


async def test_get_waits_for_the_next_event_or_times_out() -> None:
    bus = EventBus()
    sub = bus.subscribe()
    with pytest.raises(TimeoutError):
        await sub.get(timeout=0.01)
    waiting = asyncio.create_task(sub.get(timeout=5))
    await asyncio.sleep(0)
    with pytest.raises(RuntimeError, match="one consumer"):
        await sub.get()
    bus.publish([graph_event("r1")])
    item = await waiting
    assert item.kind == "graph" and item.graph_exec_id == "r1"
    bus.publish([node_event("r1", "n1")] * 2)
    sub.limit = 1
    bus.publish([node_event("r1", "n2")])
    assert isinstance(await sub.get(), Lagged)


def test_a_notice_is_told_from_an_event_by_its_kind() -> None:
    notice = Lagged(("r1",), 3)
    assert notice.kind == "lagged"
    assert graph_event("r1", status="COMPLETED").ends_run
    assert not graph_event("r1").ends_run and not node_event("r1", "n1").ends_run
