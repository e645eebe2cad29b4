"""``autoplat jobs list|run`` as an operator runs it: real subprocesses on the test database."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


def jobs(database_url: str, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTOPLAT_")}
    env.update(AUTOPLAT_DATABASE_URL=database_url, AUTOPLAT_DATA_DIR=str(tmp_path))
    return subprocess.run(
        [sys.executable, "-m", "autoplat", "jobs", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


def test_run_a_job_then_list_the_jobs(autoplat_database_url: str, tmp_path: Path) -> None:
    ran = jobs(autoplat_database_url, tmp_path, "run", "retention")
    assert ran.returncode == 0, ran.stderr
    outcome = json.loads(ran.stdout)
    assert outcome["name"] == "retention" and outcome["last_outcome"] == "ok"
    assert outcome["details"] == {"retention_days": 30, "deleted_runs": 0, "deleted_fires": 0}
    listed = jobs(autoplat_database_url, tmp_path, "list", "--json")
    rows = [json.loads(line) for line in listed.stdout.splitlines()]
    assert [r["name"] for r in rows] == [
        "stuck_monitor",
        "retention",
        "file_expiry",
        "notification_batches",
        "daily_summary",
        "weekly_summary",
        "monthly_summary",
        "operator_alerts",
    ]
    assert "last_outcome" not in rows[0] and rows[1]["last_outcome"] == "ok"


def test_an_unknown_job_is_one_clear_line(autoplat_database_url: str, tmp_path: Path) -> None:
    ran = jobs(autoplat_database_url, tmp_path, "run", "nope")
    assert ran.returncode == 1
    assert ran.stderr.strip() == "autoplat: no system job named 'nope'"
