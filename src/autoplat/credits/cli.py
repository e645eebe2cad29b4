"""``autoplat credits grant|balance|refund``: credit operations from the shell, on the database."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from typing import Any

from autoplat.cli import EXIT_CONFIG
from autoplat.config import Settings
from autoplat.credits.service import CreditService


def register(subparsers: Any) -> None:
    """Add ``credits grant``, ``credits balance`` and ``credits refund`` to the parser."""
    from autoplat.cli import add_common

    credits = subparsers.add_parser(
        "credits",
        help="grant credits, show a balance, refund a usage transaction",
        description="Credit operations straight against the database (the admin routes' "
        "equivalents). The database must be migrated.",
    )
    sub = credits.add_subparsers(dest="credits_command", required=True, metavar="ACTION")

    p = sub.add_parser(
        "grant",
        help="add AMOUNT credits to USER",
        description="Record a GRANT (or, with --top-up, a TOP_UP) of AMOUNT credits for USER, "
        "who must exist (`autoplat users create`), as for the admin route. --key makes the "
        "command safe to repeat: a key already used records nothing new. Prints the entry "
        "as JSON.",
    )
    add_common(p)
    p.add_argument("user", metavar="USER", help="the user id")
    p.add_argument("amount", metavar="AMOUNT", type=int, help="credits to add (a positive integer)")
    p.add_argument("--top-up", action="store_true", help="record a TOP_UP instead of a GRANT")
    p.add_argument("--reason", default="", help="why (stored in the entry's metadata)")
    p.add_argument("--key", help="idempotency key (the same key twice records once)")
    p.set_defaults(func=cmd_grant)

    p = sub.add_parser("balance", help="print USER's balance", description="Print the balance.")
    add_common(p)
    p.add_argument("user", metavar="USER", help="the user id")
    p.set_defaults(func=cmd_balance)

    p = sub.add_parser(
        "refund",
        help="refund a usage transaction",
        description="Give back the credits of USAGE transaction ID as a REFUND entry; a "
        "transaction is refunded at most once.",
    )
    add_common(p)
    p.add_argument("transaction_id", metavar="ID", help="the usage transaction id")
    p.add_argument("--reason", default="", help="why (stored in the entry's metadata)")
    p.set_defaults(func=cmd_refund)


@asynccontextmanager
async def credit_service(settings: Settings) -> AsyncIterator[CreditService]:
    """A CreditService on a connected, migrated database (no executor, no HTTP server)."""
    from autoplat.blocks.registry import BlockRegistry
    from autoplat.db.manager import connected_database

    async with connected_database(settings) as db:
        yield CreditService(settings, db, BlockRegistry([]))


async def _grant(settings: Settings, args: argparse.Namespace) -> int:
    from autoplat.credits.ledger import TransactionType

    async with credit_service(settings) as service:
        # An unknown user is refused (NotFound, exit 1), as POST /admin/credits/grant does:
        # a typo must not become a user holding credits.
        posting = await service.add_credits(
            args.user,
            args.amount,
            type=TransactionType.TOP_UP if args.top_up else TransactionType.GRANT,
            reason=args.reason,
            key=f"cli:{args.key}" if args.key else None,
            by="cli",
        )
        balance = await service.db.credits.balance(args.user)
    print(
        json.dumps(
            {**posting.transaction.to_json(), "created": posting.created, "balance": balance}
        )
    )
    return 0


async def _balance(settings: Settings, args: argparse.Namespace) -> int:
    async with credit_service(settings) as service:
        print(await service.balance(args.user))
    return 0


async def _refund(settings: Settings, args: argparse.Namespace) -> int:
    async with credit_service(settings) as service:
        posting = await service.refund(args.transaction_id, reason=args.reason, by="cli")
        balance = await service.db.credits.balance(posting.transaction.user_id)
    print(
        json.dumps(
            {**posting.transaction.to_json(), "created": posting.created, "balance": balance}
        )
    )
    return 0


def _run(
    args: argparse.Namespace,
    body: Callable[[Settings, argparse.Namespace], Coroutine[Any, Any, int]],
) -> int:
    """Run a command body; our errors become one line on stderr and an exit code."""
    from autoplat.cli import run_command

    return run_command(args, lambda settings: body(settings, args))


def cmd_grant(args: argparse.Namespace) -> int:
    """``autoplat credits grant USER AMOUNT``."""
    if not 1 <= args.amount <= 1_000_000_000:
        print("autoplat: AMOUNT must be between 1 and 1000000000", file=sys.stderr)
        return EXIT_CONFIG
    return _run(args, _grant)


def cmd_balance(args: argparse.Namespace) -> int:
    """``autoplat credits balance USER``."""
    return _run(args, _balance)


def cmd_refund(args: argparse.Namespace) -> int:
    """``autoplat credits refund ID``."""
    return _run(args, _refund)
