"""The README stays true: every setting, command and route it should list is there."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from autoplat.api.openapi import build_openapi
from autoplat.cli import build_parser
from autoplat.config import Settings
from autoplat.platform import Platform

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


def _template(path: str) -> str:
    return re.sub(r"\{[^}]*\}", "{}", path)


def test_every_setting_is_documented() -> None:
    missing = [
        f"AUTOPLAT_{name.upper()}"
        for name in Settings.model_fields
        if f"`AUTOPLAT_{name.upper()}`" not in README
    ]
    assert missing == []


def test_every_command_is_documented() -> None:
    parser = build_parser()
    commands = next(a for a in parser._actions if a.dest == "command").choices
    assert commands is not None
    missing = [name for name in commands if f"`autoplat {name}" not in README]
    assert missing == []


def test_every_route_is_documented() -> None:
    platform = Platform(Settings(database_url="sqlite+aiosqlite:///:memory:"))
    spec = build_openapi(list(platform.app.routes))
    documented = {_template(p) for p in re.findall(r"(/api/[^\s`,)]*)", README)}
    missing = [p for p in spec["paths"] if p.startswith("/api") and _template(p) not in documented]
    assert missing == []


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, tuple[str, list[str]]]:
    """Each command: its one-line help and the names of its own subcommands."""
    command = next(a for a in parser._actions if a.dest == "command")
    assert isinstance(command, argparse._SubParsersAction)
    helps = {a.dest: a.help or "" for a in command._get_subactions()}
    out = {}
    for name, sub in command.choices.items():
        assert isinstance(sub, argparse.ArgumentParser)
        nested = [a for a in sub._actions if isinstance(a, argparse._SubParsersAction)]
        out[name] = (helps[name], sorted(nested[0].choices) if nested else [])
    return out


def test_each_commands_one_line_help_and_readme_row_name_every_action_it_has() -> None:
    rows = [line for line in README.splitlines() if line.startswith("| `autoplat ")]
    for name, (summary, actions) in _subcommands(build_parser()).items():
        mine = " ".join(row for row in rows if row.startswith(f"| `autoplat {name} "))
        for action in actions:
            assert re.search(rf"(?<![\w-]){action}(?![\w-])", summary), (name, action, summary)
            assert re.search(rf"[ |]{action}[ |`\\]", mine), (name, action)
