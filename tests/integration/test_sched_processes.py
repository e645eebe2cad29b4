"""Two real ``autoplat serve`` processes on one database fire each tick of a schedule once."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import httpx
from sqlalchemy import func, select

from autoplat.config import Settings
from autoplat.db.manager import DatabaseManager
from autoplat.db.models import GraphExecution, ScheduleFire
from autoplat.testing import free_port, make_token, serve_process, wait_ready
from tests.integration.test_sched_firing import echo_graph

USER = "sched-procs"


async def test_two_serving_processes_fire_each_tick_once(
    autoplat_database_url: str, tmp_path: Path
) -> None:
    ports = [free_port(), free_port()]
    procs = [
        serve_process(autoplat_database_url, port, tmp_path, tmp_path / f"serve{i}.log")
        for i, port in enumerate(ports)
    ]
    db = DatabaseManager(Settings(database_url=autoplat_database_url, data_dir=tmp_path))
    await db.connect()
    try:
        for port, proc in zip(ports, procs, strict=True):
            await wait_ready(port, proc)
        headers = {"Authorization": f"Bearer {make_token(USER)}"}
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{ports[0]}", headers=headers, timeout=30
        ) as api:
            graph = (await api.post("/api/graphs", json=echo_graph())).json()
            created = await api.post(
                f"/api/graphs/{graph['id']}/schedules",
                json={"name": "each second", "cron": "* * * * * *", "inputs": {"x": 1}},
            )
            assert created.status_code == 200, created.text
        await asyncio.sleep(4.5)  # the other process reloads within a second and competes
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in procs:
            proc.wait(15)
    try:
        async with db.begin() as conn:
            fires = (await conn.execute(select(ScheduleFire))).all()
            runs = (
                await conn.execute(
                    select(GraphExecution.id, GraphExecution.status).where(
                        GraphExecution.schedule_id == created.json()["id"]
                    )
                )
            ).all()
            per_tick = (
                await conn.execute(
                    select(ScheduleFire.fire_time, func.count()).group_by(ScheduleFire.fire_time)
                )
            ).all()
    finally:
        await db.disconnect()
    logs = [(tmp_path / f"serve{i}.log").read_text() for i in range(2)]
    assert len(fires) >= 2, (fires, [text[-2000:] for text in logs])
    assert all(count == 1 for _, count in per_tick)
    assert all(f.status == "FIRED" for f in fires)
    assert sorted(f.graph_exec_id for f in fires) == sorted(r.id for r in runs)
    assert all("scheduler.started" in text for text in logs)
