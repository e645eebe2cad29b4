"""``autoplat graphs import`` / ``export`` as a user runs them: real subprocesses."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

AUTOPLAT = [sys.executable, "-m", "autoplat"]
AGENTS = Path(__file__).resolve().parents[3] / "shared" / "compat" / "agents"
needs_agents = pytest.mark.skipif(not AGENTS.is_dir(), reason=f"{AGENTS} is absent")


def run(database_url: str, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTOPLAT_")}
    env.update(AUTOPLAT_DATABASE_URL=database_url, AUTOPLAT_DATA_DIR=str(tmp_path))
    return subprocess.run(
        [*AUTOPLAT, "graphs", *args], capture_output=True, text=True, env=env, timeout=60
    )


@needs_agents
def test_import_then_export(autoplat_database_url: str, tmp_path: Path) -> None:
    source = AGENTS / "calculator-agent.json"
    imported = run(autoplat_database_url, tmp_path, "import", str(source))
    assert imported.returncode == 0, imported.stderr
    made = json.loads(imported.stdout)
    assert made["version"] == 1 and made["name"] == "Calculator agent"

    out = tmp_path / "calc.json"
    exported = run(autoplat_database_url, tmp_path, "export", made["id"], "-o", str(out))
    assert exported.returncode == 0, exported.stderr
    data = json.loads(out.read_text())
    original = json.loads(source.read_text())
    assert data["id"] == made["id"] and data["user_id"] == ""
    assert [n["block_id"] for n in data["nodes"]] == [n["block_id"] for n in original["nodes"]]
    assert data["input_schema"] == original["input_schema"]

    to_stdout = run(autoplat_database_url, tmp_path, "export", made["id"], "--version", "1")
    assert to_stdout.returncode == 0 and json.loads(to_stdout.stdout) == data
    # Graphs belong to the user named on the command line (default: the local user).
    other = run(autoplat_database_url, tmp_path, "export", made["id"], "--user", "someone")
    assert other.returncode == 1 and "not found" in other.stderr


@needs_agents
def test_import_refuses_missing_blocks(autoplat_database_url: str, tmp_path: Path) -> None:
    # Every shared agent's blocks exist now: one of them with its Flux block unknown here.
    export = json.loads((AGENTS / "agent_d85882b8-633f-44ce-a315-c20a8c123d19.json").read_text())
    unknown = "00000000-0000-4000-8000-00000000dead"
    for node in export["nodes"]:
        if node["block_id"] == "90f8c45e-e983-4644-aa0b-b4ebe2f531bc":
            node["block_id"] = unknown
    source = tmp_path / "agent.json"
    source.write_text(json.dumps(export))
    result = run(autoplat_database_url, tmp_path, "import", str(source))
    assert result.returncode == 1
    assert unknown in result.stderr
    assert "node_id" in result.stderr and result.stdout == ""


def test_bad_files_fail_with_one_message(autoplat_database_url: str, tmp_path: Path) -> None:
    def fails(path: Path, message: str) -> None:
        result = run(autoplat_database_url, tmp_path, "import", str(path))
        assert result.returncode == 1
        assert message in result.stderr and "Traceback" not in result.stderr

    fails(tmp_path / "none.json", "cannot read")
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    fails(broken, "not valid JSON")
    shape = tmp_path / "shape.json"
    shape.write_text(json.dumps({"name": "x", "nodes": "no"}))
    fails(shape, "nodes")
    nul = tmp_path / "nul.json"
    nul.write_text(json.dumps({"name": "a\u0000b", "nodes": []}))
    fails(nul, "NUL")
