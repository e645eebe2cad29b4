"""/metrics per process: each role's liveness, block durations and queue waits."""

from __future__ import annotations

import httpx

from autoplat.platform import Platform
from tests.api.test_metrics import _value


async def test_every_role_of_the_process_is_up_and_the_work_histograms_are_exported(
    autoplat_platform: Platform, autoplat_client: httpx.AsyncClient
) -> None:
    text = (await autoplat_client.get("/metrics")).text
    for role in ("api", "worker", "scheduler"):
        assert _value(text, "autoplat_role_up", role=role) == 1.0, role
    assert "# TYPE autoplat_block_duration_seconds histogram" in text
    assert "# TYPE autoplat_queue_wait_seconds histogram" in text

    # The execution core's hooks (ExecutionObserver) land in the histograms.
    autoplat_platform.metrics.observe_node_end("StoreValueBlock", "COMPLETED", 0.02)
    autoplat_platform.metrics.observe_node_end("StoreValueBlock", "COMPLETED", 0.5)
    autoplat_platform.metrics.observe_queue_wait(0.003)
    text = (await autoplat_client.get("/metrics")).text
    count = _value(
        text, "autoplat_block_duration_seconds_count", block="StoreValueBlock", status="COMPLETED"
    )
    assert count == 2
    assert _value(text, "autoplat_queue_wait_seconds_count") == 1


async def test_a_role_whose_parts_fail_is_down(
    autoplat_platform: Platform, autoplat_client: httpx.AsyncClient
) -> None:
    autoplat_platform._on_fatal("claim")  # a critical loop given up on: the process is done
    text = (await autoplat_client.get("/metrics")).text
    assert _value(text, "autoplat_role_up", role="worker") == 0.0
    assert _value(text, "autoplat_role_up", role="api") == 0.0
