"""Containers: the Dockerfile builds a small non-root image with the wheel inside that
serves; compose.yaml runs it on PostgreSQL. Building needs a Docker daemon: without one the
build test is skipped (with the reason), the checks of the files still run."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import uuid
from pathlib import Path

import httpx
import pytest
import yaml  # type: ignore[import-untyped]  # PyYAML comes with schemathesis (dev)

from autoplat.testing import PG_ENV, TEST_ENCRYPTION_KEY, TEST_JWT_SECRET, free_port

REPO = Path(__file__).resolve().parents[2]


def _docker_unavailable() -> str:
    """Why images cannot be built here ('' when they can)."""
    if os.environ.get(PG_ENV):
        return "the image is built once, in the SQLite run of the suite"
    if shutil.which("docker") is None:
        return "no docker command on PATH"
    try:
        info = subprocess.run(["docker", "info"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"docker info failed: {exc}"
    if info.returncode != 0:
        lines = (info.stderr or info.stdout).strip().splitlines()
        return f"no Docker daemon: {lines[-1] if lines else 'docker info failed'}"
    return ""


def test_the_dockerfile_installs_the_wheel_and_runs_unprivileged() -> None:
    text = (REPO / "Dockerfile").read_text()
    assert "pip wheel" in text and "pip install /tmp/dist/*.whl" in text
    users = [line.split()[1] for line in text.splitlines() if line.startswith("USER ")]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    assert 'ENTRYPOINT ["autoplat"]' in text and 'CMD ["serve"]' in text
    lines = (REPO / ".dockerignore").read_text().splitlines()
    ignored = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    assert ignored[0] == "*" and "!src/" in ignored  # nothing but the sources reaches it


def test_compose_runs_autoplat_on_postgresql() -> None:
    compose = yaml.safe_load((REPO / "compose.yaml").read_text())
    services = compose["services"]
    assert services["db"]["image"].startswith("postgres:")
    app = services["autoplat"]
    assert app["build"] == "." and app["depends_on"]["db"]["condition"] == "service_healthy"
    env = app["environment"]
    assert (
        env["AUTOPLAT_DATABASE_URL"].startswith("postgresql://")
        and "@db:" in env["AUTOPLAT_DATABASE_URL"]
    )
    assert {"AUTOPLAT_JWT_SECRET", "AUTOPLAT_ENCRYPTION_KEY"} <= set(env)
    assert services["worker"]["command"] == ["serve", "--role", "worker"]


@pytest.mark.slow
@pytest.mark.timeout(1800)
@pytest.mark.skipif(bool(reason := _docker_unavailable()), reason=reason or "docker is here")
def test_the_image_builds_and_serves(tmp_path: Path) -> None:
    tag = f"autoplat-test:{uuid.uuid4().hex[:8]}"
    build = subprocess.run(
        ["docker", "build", "-t", tag, str(REPO)], capture_output=True, text=True, timeout=1500
    )
    assert build.returncode == 0, build.stderr[-4000:]
    name = f"autoplat-test-{uuid.uuid4().hex[:8]}"
    try:
        uid = subprocess.run(
            ["docker", "run", "--rm", "--entrypoint", "id", tag, "-u"],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert uid.returncode == 0 and uid.stdout.strip() != "0", uid
        version = subprocess.run(
            ["docker", "run", "--rm", tag, "version"], capture_output=True, text=True, timeout=120
        )
        assert version.stdout.startswith("autoplat "), version
        port = free_port()
        subprocess.run(
            [
                "docker", "run", "-d", "--name", name, "-p", f"127.0.0.1:{port}:8006",
                "-e", f"AUTOPLAT_JWT_SECRET={TEST_JWT_SECRET}",
                "-e", f"AUTOPLAT_ENCRYPTION_KEY={TEST_ENCRYPTION_KEY}",
                tag,
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )  # fmt: skip
        deadline = time.monotonic() + 90
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, subprocess.run(
                ["docker", "logs", name], capture_output=True, text=True
            ).stderr[-3000:]
            time.sleep(0.5)
        assert httpx.get(f"http://127.0.0.1:{port}/ready", timeout=5).status_code == 200
        stop = subprocess.run(["docker", "stop", "-t", "30", name], capture_output=True, timeout=60)
        assert stop.returncode == 0
        state = subprocess.run(
            ["docker", "inspect", "-f", "{{.State.ExitCode}}", name],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert state.stdout.strip() == "0", state  # SIGTERM drained and exited cleanly
    finally:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True, timeout=60)
        subprocess.run(["docker", "rmi", "-f", tag], capture_output=True, timeout=120)
