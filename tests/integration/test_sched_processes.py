"""Two real ``autoplat serve`` processes on one database fire each tick of a schedule once."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx
from sqlalchemy import func, select

from autoplat.config import Settings
from autoplat.db.manager import DatabaseManager
from autoplat.db.models import GraphExecution, ScheduleFire
from autoplat.testing import TEST_JWT_SECRET, make_token
from tests.integration.test_sched_firing import echo_graph

USER = "sched-procs"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve(database_url: str, port: int, data_dir: Path, log: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "AUTOPLAT_DATABASE_URL": database_url,
        "AUTOPLAT_PORT": str(port),
        "AUTOPLAT_DATA_DIR": str(data_dir),
        "AUTOPLAT_JWT_SECRET": TEST_JWT_SECRET,
        "AUTOPLAT_CREDITS_ENABLED": "false",
        "AUTOPLAT_POLL_INTERVAL": "0.2",
        "AUTOPLAT_LOG_FORMAT": "json",
    }
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "autoplat", "serve"], env=env, stdout=out, stderr=out
        )


async def wait_ready(port: int, proc: subprocess.Popen[bytes]) -> None:
    async with httpx.AsyncClient() as client:
        for _ in range(600):
            assert proc.poll() is None, "the server exited during start-up"
            try:
                if (await client.get(f"http://127.0.0.1:{port}/health")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.05)
    raise AssertionError("the server did not start")


async def test_two_serving_processes_fire_each_tick_once(
    autoplat_database_url: str, tmp_path: Path
) -> None:
    ports = [free_port(), free_port()]
    procs = [
        serve(autoplat_database_url, port, tmp_path, tmp_path / f"serve{i}.log")
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
