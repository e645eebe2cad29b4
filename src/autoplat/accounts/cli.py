"""``autoplat users create|list`` and ``autoplat apikey create|list|revoke``, on the database."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from autoplat.accounts.api_keys import ApiKeys
from autoplat.accounts.auth import LOCAL_USER_ID
from autoplat.accounts.permissions import all_permissions
from autoplat.db.manager import DatabaseManager, connected_database
from autoplat.errors import ConfigError, NotFound


def register(subparsers: Any) -> None:
    """Add the ``users`` and ``apikey`` commands to the parser."""
    from autoplat.cli import add_common, add_json_flag

    users = subparsers.add_parser(
        "users",
        help="create and list users",
        description="Manage users straight in the database (the database must be migrated).",
    )
    sub = users.add_subparsers(dest="users_command", required=True, metavar="ACTION")
    p = sub.add_parser(
        "create",
        help="create a user",
        description="Create user ID (use the `sub` of the JWTs this user will send). "
        "Prints the user as JSON.",
    )
    add_common(p)
    p.add_argument("id", metavar="ID", help="the user id (JWT `sub`), up to 64 characters")
    p.add_argument("--email", help="e-mail address (unique)")
    p.add_argument("--name", help="display name")
    p.add_argument("--admin", action="store_true", help="give the user the admin role")
    p.set_defaults(func=_command(_create_user))
    p = sub.add_parser("list", help="list users", description="Print every user.")
    add_common(p)
    add_json_flag(p)
    p.set_defaults(func=_command(_list_users))

    keys = subparsers.add_parser(
        "apikey",
        help="create, list and revoke API keys",
        description="Manage API keys straight in the database. Send a key in the X-API-Key "
        "header; it can use only the routes its permissions allow.",
    )
    sub = keys.add_subparsers(dest="apikey_command", required=True, metavar="ACTION")
    names = ", ".join(sorted(all_permissions()))
    p = sub.add_parser(
        "create",
        help="create an API key and print it once",
        description="Create an API key for USER and print the secret (shown this once; only "
        f"a hash is stored). Permissions: {names}. Without --permission the key gets all.",
    )
    add_common(p)
    p.add_argument(
        "--user",
        default=LOCAL_USER_ID,
        help=f"owner of the key (default: {LOCAL_USER_ID!r}, the local-mode user; "
        "created if missing)",
    )
    p.add_argument(
        "--permission",
        action="append",
        choices=sorted(all_permissions()),
        metavar="PERMISSION",
        help="a permission to grant (repeatable)",
    )
    p.add_argument("--name", default="cli", help="a name to recognise the key by")
    p.add_argument("--json", action="store_true", help="print the key and its record as JSON")
    p.set_defaults(func=_command(_create_key))
    p = sub.add_parser("list", help="list a user's keys", description="Print a user's keys.")
    add_common(p)
    p.add_argument("--user", default=LOCAL_USER_ID, help="owner of the keys")
    add_json_flag(p)
    p.set_defaults(func=_command(_list_keys))
    p = sub.add_parser("revoke", help="revoke a key", description="Revoke key ID of --user.")
    add_common(p)
    p.add_argument("id", metavar="ID", help="the key id")
    p.add_argument("--user", default=LOCAL_USER_ID, help="owner of the key")
    p.set_defaults(func=_command(_revoke_key))


Action = Callable[[DatabaseManager, argparse.Namespace], Awaitable[int]]


def _command(action: Action) -> Callable[[argparse.Namespace], int]:
    from autoplat.cli import command_on

    return command_on(connected_database, action)


def _user_record(user: Any) -> dict[str, Any]:
    return {"email": user.email, "id": user.id, "name": user.name, "role": user.role}


def _user_json(user: Any) -> str:
    return json.dumps(_user_record(user), sort_keys=True)


async def _create_user(db: DatabaseManager, args: argparse.Namespace) -> int:
    if not 0 < len(args.id) <= 64 or not args.id.isprintable():
        raise ConfigError("a user id has 1 to 64 printable characters")
    role = "admin" if args.admin else "user"
    user = await db.users.create(args.id, email=args.email, name=args.name, role=role)
    print(_user_json(user))
    return 0


async def _list_users(db: DatabaseManager, args: argparse.Namespace) -> int:
    from autoplat.cli import emit_rows

    rows: list[dict[str, Any]] = []
    offset = 0
    while True:
        users, total = await db.users.list_users(offset=offset, limit=200)
        rows += [_user_record(user) for user in users]
        offset += len(users)
        if not users or offset >= total:
            break
    emit_rows(rows, ["id", "email", "name", "role"], as_json=args.json)
    return 0


async def _create_key(db: DatabaseManager, args: argparse.Namespace) -> int:
    role = "admin" if args.user == LOCAL_USER_ID else "user"
    await db.users.ensure(args.user, role=role)
    permissions = sorted(set(args.permission or all_permissions()))
    minted = await ApiKeys(db).create(args.user, args.name, permissions)
    if args.json:
        print(json.dumps({"plain_text_key": minted.secret, **_key_record(minted.key)}))
    else:
        # The key alone on stdout, so that `KEY=$(autoplat apikey create)` holds just it.
        print(minted.secret)
        print(
            f"(key {minted.key.id} for user {args.user!r}: {', '.join(permissions)}; "
            "shown once, send it as the X-API-Key header)",
            file=sys.stderr,
        )
    return 0


def _key_record(key: Any) -> dict[str, Any]:
    return {
        "id": key.id,
        "user_id": key.user_id,
        "name": key.name,
        "prefix": key.prefix,
        "tail": key.tail,
        "status": key.status,
        "permissions": list(key.permissions),
    }


async def _list_keys(db: DatabaseManager, args: argparse.Namespace) -> int:
    from autoplat.cli import emit_rows

    rows: list[dict[str, Any]] = []
    offset = 0
    while True:
        keys, total = await db.api_keys.list_for_user(args.user, offset=offset, limit=200)
        rows += [_key_record(key) for key in keys]
        offset += len(keys)
        if not keys or offset >= total:
            break
    emit_rows(rows, ["id", "name", "prefix", "status", "permissions"], as_json=args.json)
    return 0


async def _revoke_key(db: DatabaseManager, args: argparse.Namespace) -> int:
    key = await db.api_keys.set_status(args.user, args.id, "REVOKED")
    if key is None:
        raise NotFound(f"no API key {args.id!r} for user {args.user!r}")
    print(json.dumps(_key_record(key)))
    return 0
