"""Routes of webhook triggers: setting one up (a preset a webhook starts) and the ingress.

Invariant: the ingress needs no login but the webhook's secret (``X-Webhook-Secret``;
without it the webhook answers 404, as a missing one does); a
body over ``AUTOPLAT_WEBHOOK_MAX_PAYLOAD_BYTES`` or that is not a JSON object starts
nothing; a delivery that carries a delivery id (``X-Webhook-Delivery``, GitHub's
``X-GitHub-Delivery`` or ``Idempotency-Key``) starts at most one run, whatever the retries.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, Field
from starlette.requests import Request
from starlette.routing import BaseRoute

from autoplat.api.context import current_principal, get_platform
from autoplat.api.endpoint import endpoint
from autoplat.api.routes.presets import PresetOut, preset_out
from autoplat.api.validation import StrictBody, StrictJsonInt, parse_body
from autoplat.blocks.builtin.webhook_trigger import WEBHOOK_PAYLOAD_INPUT
from autoplat.errors import (
    GraphNotFound,
    NotFound,
    PayloadTooLarge,
    ValidationFailed,
)
from autoplat.graphs.service import MAX_VERSION

#: The provider of generic webhooks (AutoGPT's name).
GENERIC_PROVIDER = "generic_webhook"
SECRET_HEADER = "x-webhook-secret"
DELIVERY_HEADERS = ("x-webhook-delivery", "x-github-delivery", "idempotency-key")


class SetupTrigger(StrictBody):
    """Body of ``POST /library/presets/setup-trigger``."""

    name: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=5000)
    graph_id: str = Field(min_length=1, max_length=36)
    graph_version: StrictJsonInt = Field(ge=1, le=MAX_VERSION)
    trigger_config: dict[str, Any] = Field(
        default_factory=dict,
        description="The graph's inputs for every delivery (AutoGPT's name for them).",
    )
    inputs: dict[str, Any] = Field(
        default_factory=dict, description="The same as trigger_config; these win over it."
    )
    agent_credentials: dict[str, Any] = Field(default_factory=dict)


class WebhookOut(BaseModel):
    """A webhook as made: its secret is shown this once."""

    id: str
    provider: str
    ingress_url: str = Field(description="Path deliveries are POSTed to.")
    secret: str = Field(description="Send it as X-Webhook-Secret; shown only now.")


class TriggerOut(BaseModel):
    """The preset a webhook starts, and the webhook."""

    preset: PresetOut
    webhook: WebhookOut


class DeliveryOut(BaseModel):
    """What a delivery did."""

    graph_exec_id: str | None
    duplicate: bool = Field(description="The delivery id was seen before: no new run.")


def ingress_path(provider: str, webhook_id: str) -> str:
    """The ingress path of a webhook."""
    return f"/api/integrations/{provider}/webhooks/{webhook_id}/ingress"


@endpoint(
    "POST",
    "/library/presets/setup-trigger",
    summary="Make a preset that a webhook starts",
    tags=["presets"],
    body=SetupTrigger,
    response=TriggerOut,
    permission="WRITE_GRAPH",
    errors=[404],
    validates="the graph version has no webhook trigger block",
)
async def setup_trigger(request: Request) -> TriggerOut:
    """A webhook and a preset of a graph version holding a GenericWebhookTriggerBlock."""
    principal = await current_principal(request)
    body = await parse_body(request, SetupTrigger)
    platform = get_platform(request)
    graph = await platform.db.graphs.get(
        body.graph_id, body.graph_version, user_id=principal.user_id
    )
    if graph is None:
        raise GraphNotFound(f"graph {body.graph_id} version {body.graph_version} does not exist")
    triggers = [
        n
        for n in graph.nodes
        if getattr(platform.blocks.get(n.block_id), "webhook_payload_pin", None) is not None
    ]
    if not triggers:
        raise ValidationFailed(
            "the graph has no webhook trigger block",
            details=[{"field": "graph_id", "message": "add a GenericWebhookTriggerBlock"}],
        )
    webhook, secret = await platform.db.webhooks.create(principal.user_id, GENERIC_PROVIDER)
    preset = await platform.db.presets.create(
        principal.user_id,
        graph_id=body.graph_id,
        graph_version=body.graph_version,
        name=body.name,
        description=body.description,
        inputs={**body.trigger_config, **body.inputs},
        credentials=body.agent_credentials,
        webhook_id=webhook.id,
    )
    out = WebhookOut(
        id=webhook.id,
        provider=webhook.provider,
        ingress_url=ingress_path(webhook.provider, webhook.id),
        secret=secret,
    )
    return TriggerOut(preset=preset_out(preset), webhook=out)


@endpoint(
    "POST",
    "/integrations/{provider}/webhooks/{webhook_id}/ingress",
    summary="Deliver a webhook (no login: the webhook's secret in X-Webhook-Secret)",
    tags=["presets"],
    response=DeliveryOut,
    auth=False,
    errors=[402, 404, 413, 415],
)
async def ingress(request: Request) -> DeliveryOut:
    """Start the webhook's preset with the delivered JSON object (once per delivery id)."""
    platform = get_platform(request)
    provider = str(request.path_params["provider"])
    webhook_id = str(request.path_params["webhook_id"])
    webhook = await platform.db.webhooks.get(webhook_id, provider)
    # Without its secret a webhook answers as one that does not exist: no probing of ids.
    if webhook is None or not webhook.accepts(request.headers.get(SECRET_HEADER)):
        raise NotFound(f"webhook {webhook_id} does not exist (or the X-Webhook-Secret is wrong)")
    raw = await request.body()
    if len(raw) > platform.settings.webhook_max_payload_bytes:
        raise PayloadTooLarge(
            f"the delivery is over {platform.settings.webhook_max_payload_bytes} bytes"
        )
    payload = _payload(raw)
    preset = await platform.db.presets.by_webhook(webhook.id)
    if preset is None or not preset.is_active:
        raise NotFound(f"webhook {webhook_id} starts no active preset")
    delivery_id = next(
        (request.headers[h] for h in DELIVERY_HEADERS if request.headers.get(h)), None
    )
    if delivery_id is not None:
        delivery_id = delivery_id[:200]
        first, run_id = await platform.db.webhooks.claim_delivery(webhook.id, delivery_id)
        if not first:
            return DeliveryOut(graph_exec_id=run_id, duplicate=True)
    try:
        run_id = await platform.executions.submit(
            user_id=webhook.user_id,
            graph_id=preset.graph_id,
            graph_version=preset.graph_version,
            inputs={**preset.inputs, WEBHOOK_PAYLOAD_INPUT: payload},
            credentials_inputs=preset.credentials,
        )
    except BaseException:
        if delivery_id is not None:  # nothing started: the provider's retry may start it
            await platform.db.webhooks.release_delivery(webhook.id, delivery_id)
        raise
    if delivery_id is not None:
        await platform.db.webhooks.record_run(webhook.id, delivery_id, run_id)
    return DeliveryOut(graph_exec_id=run_id, duplicate=False)


def _payload(raw: bytes) -> dict[str, Any]:
    try:
        payload = json.loads(raw or b"{}")
    except (ValueError, RecursionError):
        raise ValidationFailed(
            "the delivery is not JSON", details=[{"field": "body", "message": "not JSON"}]
        ) from None
    if not isinstance(payload, dict):
        raise ValidationFailed(
            "the delivery must be a JSON object",
            details=[{"field": "body", "message": "expected an object"}],
        )
    return payload


def routes() -> list[BaseRoute]:
    """The trigger routes (setup-trigger before the preset routes' ``{preset_id}``)."""
    return [setup_trigger, ingress]
