"""``autoplat run``: a real subprocess runs a graph file or a stored graph."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from autoplat.config import Settings
from autoplat.db.manager import DatabaseManager
from autoplat.executions import testkit as tk
from autoplat.executions.cli import parse_inputs

AUTOPLAT = [sys.executable, "-m", "autoplat"]


def _env(database_url: str, tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTOPLAT_")}
    env.update(
        AUTOPLAT_DATABASE_URL=database_url,
        AUTOPLAT_DATA_DIR=str(tmp_path),
        AUTOPLAT_CREDITS_ENABLED="false",
        AUTOPLAT_SCHEDULER_ENABLED="false",
        AUTOPLAT_POLL_INTERVAL="0.1",
    )
    return env


def _run(args: list[str], database_url: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*AUTOPLAT, "run", *args],
        capture_output=True,
        text=True,
        env=_env(database_url, tmp_path),
        timeout=60,
    )


def test_run_a_graph_file_prints_progress_and_outputs(
    autoplat_database_url: str, tmp_path: Path
) -> None:
    path = tmp_path / "chain.json"
    path.write_text(tk.chain_graph(2).model_dump_json())
    result = _run([str(path), "--input", "x=41"], autoplat_database_url, tmp_path)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"result": [41]}
    assert "COMPLETED  StoreValueBlock" in result.stderr
    assert "run COMPLETED" in result.stderr


def test_run_a_stored_graph_and_report_bad_inputs(
    autoplat_database_url: str, tmp_path: Path
) -> None:
    import asyncio

    async def store() -> str:
        db = DatabaseManager(Settings(database_url=autoplat_database_url, data_dir=tmp_path))
        await db.connect()
        try:
            return (await tk.save_graph(db, "local", tk.chain_graph(1))).id
        finally:
            await db.disconnect()

    graph_id = asyncio.run(store())
    ok = _run([graph_id, "-i", 'x={"a": [1]}', "-q"], autoplat_database_url, tmp_path)
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout) == {"result": [{"a": [1]}]}
    assert ok.stderr == ""
    missing = _run([graph_id], autoplat_database_url, tmp_path)
    assert missing.returncode == 1
    assert "required graph input 'x' is missing" in missing.stderr
    unknown = _run(["no-such-graph"], autoplat_database_url, tmp_path)
    assert unknown.returncode == 1 and "not found" in unknown.stderr
    bad = _run([graph_id, "-i", "novalue"], autoplat_database_url, tmp_path)
    assert bad.returncode == 2 and "name=value" in bad.stderr


def test_parse_inputs() -> None:
    assert parse_inputs(["a=1", "b=text", "c=", "d=[1, 2]"]) == {
        "a": 1,
        "b": "text",
        "c": "",
        "d": [1, 2],
    }
