"""``autoplat credits ...`` as an operator runs it: real subprocesses on the test database."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from autoplat.cli import main

AUTOPLAT = [sys.executable, "-m", "autoplat"]


def run(database_url: str, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return autoplat(database_url, tmp_path, "credits", *args)


def autoplat(database_url: str, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTOPLAT_")}
    env.update(AUTOPLAT_DATABASE_URL=database_url, AUTOPLAT_DATA_DIR=str(tmp_path))
    return subprocess.run([*AUTOPLAT, *args], capture_output=True, text=True, env=env, timeout=60)


def test_grant_balance_and_refund_from_the_shell(
    autoplat_database_url: str, tmp_path: Path
) -> None:
    created = autoplat(autoplat_database_url, tmp_path, "users", "create", "alice")
    assert created.returncode == 0, created.stderr
    first = run(autoplat_database_url, tmp_path, "grant", "alice", "30", "--key", "k1")
    assert first.returncode == 0, first.stderr
    entry = json.loads(first.stdout)
    assert entry["type"] == "GRANT" and entry["amount"] == 30 and entry["balance"] == 30
    again = run(autoplat_database_url, tmp_path, "grant", "alice", "30", "--key", "k1")
    assert json.loads(again.stdout)["created"] is False
    top_up = run(autoplat_database_url, tmp_path, "grant", "alice", "5", "--top-up")
    assert json.loads(top_up.stdout)["type"] == "TOP_UP"
    balance = run(autoplat_database_url, tmp_path, "balance", "alice")
    assert balance.stdout.strip() == "35"
    refund = run(autoplat_database_url, tmp_path, "refund", entry["id"])
    assert refund.returncode == 1
    assert "only usage transactions can be refunded" in refund.stderr


def test_grant_refuses_an_unknown_user_in_one_line_as_the_admin_route_does(
    autoplat_database_url: str, tmp_path: Path
) -> None:
    refused = run(autoplat_database_url, tmp_path, "grant", "ghost", "10")
    assert refused.returncode == 1 and refused.stdout == ""
    assert refused.stderr.splitlines() == ["autoplat: user ghost does not exist"]
    # Nobody was created on the way: the user is still unknown, with nothing granted.
    users = autoplat(autoplat_database_url, tmp_path, "users", "list", "--json")
    assert users.returncode == 0, users.stderr
    assert "ghost" not in [json.loads(line)["id"] for line in users.stdout.splitlines()]


def test_grant_refuses_a_bad_amount(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["credits", "grant", "alice", "0"]) == 2
    assert "AMOUNT" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["credits", "grant", "--help"])
    assert "idempotency" in capsys.readouterr().out
