"""Routes for the block catalogue and single-block runs."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.routing import BaseRoute

from autoplat.api.context import current_principal, get_platform
from autoplat.api.endpoint import endpoint
from autoplat.api.routes.graph_models import BlockInputs, BlockOut, BlockOutputs
from autoplat.api.validation import page_of, paginated, read_json
from autoplat.blocks.base import Block, BlockContext
from autoplat.blocks.convert import to_json_safe
from autoplat.errors import (
    AutoplatError,
    BlockDisabled,
    BlockRunError,
    TransientBlockError,
    ValidationFailed,
)
from autoplat.files.service import FileService
from autoplat.integrations.fields import credentials_fields
from autoplat.logging import get_logger

if TYPE_CHECKING:
    from autoplat.platform import Platform

log = get_logger("autoplat.api.blocks")
_TAGS = ["blocks"]
# A user row keeps this until the user picks a timezone.
_UNSET_TIMEZONE = "not-set"


@endpoint(
    "GET",
    "/blocks",
    summary="List the available blocks with their schemas and costs",
    tags=_TAGS,
    permission="READ_BLOCK",
    paginated=True,
    response=BlockOut,
)
async def list_blocks(request: Request) -> dict[str, Any]:
    """Every enabled block in catalogue order, with the costs in force (``page_size`` up to
    250 fits the whole catalogue on one page) and ``missingCredentials``: the providers the
    user must add a credential for before the block can run (empty when it can)."""
    page = page_of(request)
    principal = await current_principal(request)
    platform = get_platform(request)
    registry = platform.blocks
    enabled = [block for block in registry if not block.disabled]
    chosen = enabled[page.offset : page.offset + page.page_size]
    # Providers the user can run blocks with: the platform's keys and the user's own.
    usable = {meta.provider for meta in await platform.credentials.list_meta(principal.user_id)}
    listed = []
    for block in chosen:
        info = registry.info(block)
        info["missingCredentials"] = missing_credentials(block, usable)
        listed.append(info)
    return paginated(listed, len(enabled), page)


def missing_credentials(block: Block[Any], usable: set[str]) -> list[str]:
    """The providers of ``block``'s required credentials inputs that no platform key and no
    credential of the user covers (a field taking several providers needs any one)."""
    missing: list[str] = []
    for spec in credentials_fields(block):
        if spec.required and spec.providers and not usable.intersection(spec.providers):
            missing.extend(p for p in spec.providers if p not in missing)
    return missing


async def _user_timezone(platform: Platform, user_id: str) -> str:
    user = await platform.db.users.get(user_id)
    timezone = getattr(user, "timezone", None) if user is not None else None
    return timezone if isinstance(timezone, str) and timezone != _UNSET_TIMEZONE else "UTC"


async def run_block(
    block: Block[Any], data: Mapping[str, Any], context: BlockContext, timeout: float
) -> dict[str, list[Any]]:
    """Run one block and gather its outputs as ``{pin: [values]}``, made JSON-safe.

    Our own errors pass through (input errors are 422); a crash inside the block becomes a
    BlockRunError so a faulty block never answers 500.
    """
    outputs: dict[str, list[Any]] = {}
    try:
        async with asyncio.timeout(timeout):
            async for pin, value in block.execute(data, context):
                outputs.setdefault(pin, []).append(to_json_safe(value))
    except AutoplatError:
        raise
    except TimeoutError:
        raise TransientBlockError(f"{block.name} did not finish within {timeout:g}s") from None
    except Exception as exc:
        log.warning("block.crashed", block_id=block.id, block=block.name, error=str(exc))
        raise BlockRunError(f"{block.name} failed: {exc}") from None
    return outputs


@endpoint(
    "POST",
    "/blocks/{block_id}/execute",
    summary="Run one block with the given input",
    tags=_TAGS,
    permission="EXECUTE_BLOCK",
    errors=[402, 413, 415],
    body=BlockInputs,
    response=BlockOutputs,
    validates="the inputs do not fit the block's input schema (listed by GET /api/blocks)",
)
async def execute_block(request: Request) -> dict[str, list[Any]]:
    """Run the block once; the body is its input object. Answers ``{pin: [values]}``."""
    principal = await current_principal(request)
    platform = get_platform(request)
    block = platform.blocks.require(str(request.path_params["block_id"]))
    if block.disabled:
        raise BlockDisabled(f"block {block.name} is disabled")
    data = await read_json(request)
    if not isinstance(data, dict):
        raise ValidationFailed(
            "the body must be a JSON object of block inputs",
            details=[{"field": "body", "message": "must be an object"}],
        )
    run_id = str(uuid.uuid4())
    context = BlockContext(
        settings=platform.block_settings,
        http=platform.outbound.client_for(principal.user_id),
        user_id=principal.user_id,
        node_exec_id=run_id,
        user_timezone=await _user_timezone(platform, principal.user_id),
        # The caller's own stores, as a node of their run gets them.
        kv=platform.db.kv.for_node(principal.user_id, run_id),
        files=FileService.from_db(platform.db).for_run(principal.user_id),
    )
    timeout = block.timeout or platform.settings.node_timeout
    log.info("block.executing", block_id=block.id, block=block.name, user_id=principal.user_id)
    # A single block run is priced like a one-node execution: charged before it runs,
    # per-second costs after.
    charge: dict[str, Any] = {
        "user_id": principal.user_id,
        "graph_exec_id": f"block-run:{run_id}",
        "node_exec_id": run_id,
        "block": block,
        "input_data": data,
    }
    await platform.credits.charge_node(**charge, run_number=1)
    began = time.perf_counter()
    try:
        return await run_block(block, data, context, timeout)
    finally:
        if platform.credits.bills_time(block.id):
            await platform.credits.charge_duration(**charge, seconds=time.perf_counter() - began)


def routes() -> list[BaseRoute]:
    """The routes of this module, relative to /api."""
    return [list_blocks, execute_block]
