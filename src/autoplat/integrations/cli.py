"""``autoplat credentials add|list|delete|rotate|generate-key``, straight on the database.

Invariant: a secret never travels on the command line (where ``ps`` and shell histories
would keep it): ``add`` reads it from standard input, or asks for it without echo on a
terminal, and nothing this command prints contains a secret. Exit codes are the CLI's: 0
done, 1 failure (e.g. an unknown id), 2 bad settings or usage (e.g. no encryption key),
3 database unreachable.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from pydantic import SecretStr

from autoplat.accounts.auth import LOCAL_USER_ID
from autoplat.config import Settings
from autoplat.errors import ConfigError
from autoplat.integrations.crypto import generate_key
from autoplat.integrations.model import (
    APIKeyCredentials,
    Credentials,
    CredentialsMeta,
    HostScopedCredentials,
    UserPasswordCredentials,
)
from autoplat.integrations.service import CredentialsService

TYPES = ("api_key", "user_password", "host_scoped")


def register(subparsers: Any) -> None:
    """Add the ``credentials`` command to the parser."""
    from autoplat.cli import add_common, add_json_flag

    top = subparsers.add_parser(
        "credentials",
        help="add, list, delete and rotate users' integration credentials; generate-key "
        "prints a new encryption key",
        description="Manage users' credentials for integrations (stored encrypted with "
        "AUTOPLAT_ENCRYPTION_KEY). Secrets are read from standard input, never from flags.",
    )
    sub = top.add_subparsers(dest="credentials_command", required=True, metavar="ACTION")

    p = sub.add_parser(
        "add",
        help="store a credential for a user",
        description="Store a credential of PROVIDER for --user. The secret (the API key, the "
        "password, or the header's value) is the first line of standard input, or is asked "
        "for without echo on a terminal. Prints the stored credential's metadata as JSON.",
    )
    add_common(p)
    p.add_argument("provider", metavar="PROVIDER", help="e.g. openai, anthropic, github, http")
    p.add_argument("--user", default=LOCAL_USER_ID, help="owner (default: the local user)")
    p.add_argument("--type", choices=TYPES, default="api_key", help="credential type")
    p.add_argument("--title", help="a name to recognise the credential by")
    p.add_argument("--username", help="the user name (user_password)")
    p.add_argument("--host", help="the host the header is sent to (host_scoped)")
    p.add_argument("--header", default="Authorization", help="header name (host_scoped)")
    p.set_defaults(func=_command(_add))

    p = sub.add_parser(
        "list",
        help="list a user's credentials",
        description="Print the credentials --user may use (platform ones too) as JSON lines, "
        "without secrets.",
    )
    add_common(p)
    p.add_argument("--user", default=LOCAL_USER_ID, help="owner (default: the local user)")
    p.add_argument("--provider", help="only this provider's")
    add_json_flag(p)
    p.set_defaults(func=_command(_list))

    p = sub.add_parser("delete", help="delete a credential", description="Delete credential ID.")
    add_common(p)
    p.add_argument("id", metavar="ID", help="the credential id")
    p.add_argument("--user", default=LOCAL_USER_ID, help="owner (default: the local user)")
    p.set_defaults(func=_command(_delete))

    p = sub.add_parser(
        "rotate",
        help="re-encrypt every credential with the first key",
        description="After putting a new key first in AUTOPLAT_ENCRYPTION_KEY (old keys after "
        "it), re-encrypt every stored secret with the new key; then the old keys can go.",
    )
    add_common(p)
    p.set_defaults(func=_command(_rotate))

    p = sub.add_parser(
        "generate-key",
        help="print a new encryption key",
        description="Print a new random key for AUTOPLAT_ENCRYPTION_KEY.",
    )
    p.set_defaults(func=_generate)


Action = Callable[[CredentialsService, argparse.Namespace], Awaitable[int]]


@asynccontextmanager
async def _credentials_service(settings: Settings) -> AsyncIterator[CredentialsService]:
    """A CredentialsService with its keys loaded, on a connected, current database."""
    from autoplat.blocks.registry import BlockRegistry
    from autoplat.db.manager import connected_database

    async with connected_database(settings) as db:
        service = CredentialsService(settings, db, BlockRegistry.builtin())
        try:
            service.load_keys()
            yield service
        finally:
            await service.aclose()


def _command(action: Action) -> Callable[[argparse.Namespace], int]:
    from autoplat.cli import command_on

    return command_on(_credentials_service, action)


def _generate(args: argparse.Namespace) -> int:
    print(generate_key())
    return 0


def _read_secret(prompt: str) -> str:
    tty = sys.stdin.isatty()
    value = getpass.getpass(prompt) if tty else sys.stdin.readline().rstrip("\r\n")
    if not value:
        raise ConfigError("no secret given on standard input")
    return value


def _print(meta: CredentialsMeta) -> None:
    print(json.dumps(meta.model_dump(mode="json"), sort_keys=True))


async def _add(service: CredentialsService, args: argparse.Namespace) -> int:
    common: dict[str, Any] = {"id": "", "provider": args.provider, "title": args.title}
    credentials: Credentials
    if args.type == "user_password":
        if not args.username:
            raise ConfigError("--username is required for user_password credentials")
        password = SecretStr(_read_secret("password: "))
        credentials = UserPasswordCredentials(
            **common, username=SecretStr(args.username), password=password
        )
    elif args.type == "host_scoped":
        if not args.host:
            raise ConfigError("--host is required for host_scoped credentials")
        value = SecretStr(_read_secret(f"{args.header} header value: "))
        credentials = HostScopedCredentials(**common, host=args.host, headers={args.header: value})
    else:
        credentials = APIKeyCredentials(**common, api_key=SecretStr(_read_secret("API key: ")))
    role = "admin" if args.user == LOCAL_USER_ID else "user"
    await service.db.users.ensure(args.user, role=role)
    _print(await service.create(args.user, credentials))
    return 0


async def _list(service: CredentialsService, args: argparse.Namespace) -> int:
    from autoplat.cli import emit_rows

    rows = [
        meta.model_dump(mode="json")
        for meta in await service.list_meta(args.user, provider=args.provider)
    ]
    emit_rows(rows, ["id", "provider", "type", "title"], as_json=args.json)
    return 0


async def _delete(service: CredentialsService, args: argparse.Namespace) -> int:
    revoked = await service.delete(args.user, args.id)
    print(json.dumps({"deleted": True, "id": args.id, "revoked": revoked}))
    return 0


async def _rotate(service: CredentialsService, args: argparse.Namespace) -> int:
    changed = await service.rotate_keys()
    print(json.dumps({"rotated": changed}))
    return 0
