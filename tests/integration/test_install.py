"""Install anywhere: a wheel built from this tree, installed into a fresh virtual environment,
serves from an unrelated directory on a new SQLite database, runs a graph and stops cleanly.

The venv sees the development environment's dependencies through a ``.pth`` file (a view
of its site-packages without autoplat itself), so ``pip install --no-index`` both checks
that the wheel's requirements are satisfiable and stays offline and fast. Set
``AUTOPLAT_TEST_INSTALL_FROM_PYPI=1`` to install every dependency from PyPI instead.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import sysconfig
import time
import zipfile
from pathlib import Path

import httpx
import pytest

from autoplat.testing import PG_ENV, free_port
from tests.support import graphs as tk

REPO = Path(__file__).resolve().parents[2]
FROM_PYPI = os.environ.get("AUTOPLAT_TEST_INSTALL_FROM_PYPI") == "1"

pytestmark = [
    pytest.mark.skipif(
        bool(os.environ.get(PG_ENV)), reason="the wheel test serves the default install: SQLite"
    ),
    pytest.mark.timeout(600 if FROM_PYPI else 240),
]


def _clean_env(**extra: str) -> dict[str, str]:
    """The environment of a user who never saw this repository."""
    drop = ("AUTOPLAT_", "PYTHON", "VIRTUAL_ENV")
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    env["PATH"] = os.pathsep.join(
        p for p in env.get("PATH", "").split(os.pathsep) if not p.startswith(str(REPO))
    )
    env.update(extra)
    return env


def _check(cmd: list[str], cwd: Path, env: dict[str, str], timeout: float = 180) -> str:
    result = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"{cmd} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def build_wheel(out: Path) -> Path:
    """Build autoplat's wheel from a copy of the tree (the working tree stays untouched)."""
    source = out / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, source / name)
    shutil.copytree(
        REPO / "src",
        source / "src",
        ignore=shutil.ignore_patterns("__pycache__", "*.egg-info", "*.pyc"),
    )
    dist = out / "dist"
    _check(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", str(source), "-w", str(dist)],
        out,
        _clean_env(),
        timeout=300,
    )
    (wheel,) = dist.glob("autoplat-*.whl")
    # Everything the package holds ships (a template or migration left out of
    # package-data works from the checkout and breaks every install).
    package = source / "src"
    shipped = set(zipfile.ZipFile(wheel).namelist())
    missing = [
        str(path.relative_to(package))
        for path in (package / "autoplat").rglob("*")
        if path.is_file() and str(path.relative_to(package)) not in shipped
    ]
    assert missing == [], f"add these to [tool.setuptools.package-data]: {missing}"
    return wheel


def _dependency_view(out: Path) -> Path:
    """The development site-packages without autoplat: symlinks to every other entry."""
    site = Path(sysconfig.get_paths()["purelib"])
    view = out / "deps"
    view.mkdir()
    for entry in site.iterdir():
        lowered = entry.name.lower()
        if lowered.startswith(("autoplat", "__editable__", "_autoplat")) or lowered.endswith(
            ".pth"
        ):
            continue
        (view / entry.name).symlink_to(entry)
    return view


def make_venv(out: Path, wheel: Path) -> Path:
    """A new virtual environment with the wheel installed; its bin directory."""
    venv = out / "venv"
    _check([sys.executable, "-m", "venv", str(venv)], out, _clean_env())
    python = venv / "bin" / "python"
    purelib = _check(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        out,
        _clean_env(),
    ).strip()
    install = [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    if FROM_PYPI:
        _check([*install, str(wheel)], out, _clean_env(), timeout=540)
    else:
        (Path(purelib) / "autoplat-test-deps.pth").write_text(f"{_dependency_view(out)}\n")
        _check([*install, "--no-index", str(wheel)], out, _clean_env())
    return venv / "bin"


async def test_a_wheel_installed_anywhere_serves_and_runs_a_graph(tmp_path: Path) -> None:
    started = time.monotonic()
    wheel = build_wheel(tmp_path)
    bin_dir = make_venv(tmp_path, wheel)
    home = tmp_path / "home"
    work = home / "agents"
    work.mkdir(parents=True)
    env = _clean_env(HOME=str(home), XDG_CACHE_HOME=str(home / ".cache"))
    autoplat = str(bin_dir / "autoplat")

    # The installed package, not this checkout, is what runs.
    where = _check(
        [str(bin_dir / "python"), "-c", "import autoplat; print(autoplat.__file__)"], work, env
    )
    assert where.startswith(str(tmp_path / "venv")), where
    assert _check([autoplat, "version"], work, env).startswith("autoplat ")

    port = free_port()
    log = (tmp_path / "serve.log").open("wb")
    proc = subprocess.Popen(
        [autoplat, "serve", "--port", str(port)], cwd=work, env=env, stdout=log, stderr=log
    )
    base = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=base, timeout=30) as http:
            deadline = time.monotonic() + 60
            while True:
                assert proc.poll() is None, (tmp_path / "serve.log").read_text()
                try:
                    if (await http.get("/health")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, "no /health answer within 60 s"
                await asyncio.sleep(0.1)
            assert (work / "data" / "autoplat.db").is_file()  # made and migrated by serve
            assert (await http.get("/ready")).status_code == 200
            page = await http.get("/")
            assert page.status_code == 200 and "<html" in page.text.lower()
            assert (await http.get("/docs")).status_code == 200

            graph = work / "chain.json"
            graph.write_text(tk.chain_graph(2).model_dump_json())
            run = [autoplat, "run", str(graph), "--input", "x=41", "--server", base]
            first = subprocess.run(run, cwd=work, env=env, capture_output=True, text=True)
            assert first.returncode == 0, first.stderr
            assert json.loads(first.stdout) == {"result": [41]}
            assert "imported" in first.stderr and "run COMPLETED" in first.stderr
            # The same file again: the graph it became is reused, not imported a second time.
            again = subprocess.run(run, cwd=work, env=env, capture_output=True, text=True)
            assert again.returncode == 0, again.stderr
            assert "imported before" in again.stderr
            listed = (await http.get("/api/graphs")).json()
            assert listed["pagination"]["total_items"] == 1, listed
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(15)
        finally:
            if proc.poll() is None:
                proc.kill()
            log.close()
    assert code == 0, (tmp_path / "serve.log").read_text()
    print(f"wheel test took {time.monotonic() - started:.1f} s")
