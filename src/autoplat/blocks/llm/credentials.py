"""The ``credentials`` pin of the LLM blocks, the platform credential ids and the LLM prices.

Invariants:

- The pin's JSON schema carries AutoGPT's markers (``credentials_provider``,
  ``credentials_types``, ``discriminator: "model"`` and ``discriminator_mapping`` model →
  provider) both on the pin and on its object definition, so imported agents and
  ``credentials_input_schema`` see what AutoGPT's ``CredentialsField`` declares. The pin holds
  a reference (``{id, provider, type, title}``), never a secret.
- The pin is optional here (AutoGPT requires it): a node without one runs on the platform's
  key for the model's provider, and is charged.
- Prices follow AutoGPT's rule: a run is charged only on a platform credential (the
  reference names a platform credential id, or there is no reference at all); a user's own
  credential matches no price and costs nothing. Spellings the table resolves but the price
  list cannot name (provider prefixes) pay the highest price, so no spelling runs for free.
"""

from __future__ import annotations

from typing import Any, Final

from pydantic import BaseModel, ConfigDict

from autoplat.blocks.base import BlockCost
from autoplat.blocks.llm import models
from autoplat.blocks.llm.models import LLM_PROVIDERS, MODELS, RETIRED_MODELS

#: The ids of the platform (operator) credentials AutoGPT offers for each LLM provider;
#: the credentials store lists them under the same ids so graph references match.
SYSTEM_CREDENTIAL_IDS: Final[dict[str, str]] = {
    models.OPENAI: "53c25cb8-e3ee-465c-a4d1-e75a4c899c2a",
    models.ANTHROPIC: "24e5d942-d9e3-4798-8151-90143ee55629",
    models.GROQ: "4ec22295-8f97-4dd1-b42b-2c6957a02545",
    models.OPEN_ROUTER: "b5a0e27d-0c98-4df3-a4b9-10193e1f3c40",
    models.AIML_API: "aad82a89-9794-4ebb-977f-d736aa5260a3",
    models.LLAMA_API: "d44045af-1c33-4833-9e19-752313214de2",
    models.V0: "c4e6d1a0-3b5f-4789-a8e2-9b123456789f",
    models.OLLAMA: "744fdc56-071a-4761-b5a5-0af0ce10a2b5",
}
CREDENTIALS_TYPES: Final = ("api_key",)


def system_reference(provider: str) -> dict[str, str]:
    """The reference a node holds to the platform credential of ``provider``."""
    return {"id": SYSTEM_CREDENTIAL_IDS[provider], "provider": provider, "type": "api_key"}


def is_system_reference(reference: LlmCredentialsRef | None) -> bool:
    """Whether the reference names one of the platform credentials."""
    return reference is not None and reference.id in SYSTEM_CREDENTIAL_IDS.values()


def _markers() -> dict[str, Any]:
    return {
        "credentials_provider": list(LLM_PROVIDERS),
        "credentials_types": list(CREDENTIALS_TYPES),
    }


def discriminator_mapping() -> dict[str, str]:
    """Model name → the provider whose credential serves it."""
    return {name: info.provider for name, info in MODELS.items()}


class LlmCredentialsRef(BaseModel):
    """A node's credentials reference (AutoGPT's ``CredentialsMetaInput`` for LLMs)."""

    model_config = ConfigDict(
        extra="ignore",
        title="CredentialsMetaInput",
        json_schema_extra=lambda schema: schema.update(
            {
                **_markers(),
                "properties": {
                    **schema.get("properties", {}),
                    "provider": {"title": "Provider", "type": "string", "enum": [*LLM_PROVIDERS]},
                    "type": {"title": "Type", "type": "string", "const": "api_key"},
                },
                "required": ["id", "provider", "type"],
            }
        ),
    )

    id: str
    title: str | None = None
    provider: str
    type: str = "api_key"


def credentials_pin_extra() -> dict[str, Any]:
    """Field-level JSON-schema extras of the LLM ``credentials`` pin."""
    return {
        **_markers(),
        "discriminator": "model",
        "discriminator_mapping": discriminator_mapping(),
    }


def _priced(model: str, price: int) -> list[BlockCost]:
    provider = MODELS[model].provider
    return [
        BlockCost(
            cost_amount=price,
            cost_filter={"model": model, "credentials": system_reference(provider)},
        ),
        BlockCost(cost_amount=price, cost_filter={"model": model, "credentials": None}),
    ]


def llm_costs() -> tuple[BlockCost, ...]:
    """The price list of every LLM block (first match wins; see the module docstring)."""
    costs: list[BlockCost] = []
    for name, info in MODELS.items():
        if info.provider == models.OLLAMA:
            # Local models cost nothing (AutoGPT prices none of them).
            costs.append(BlockCost(cost_amount=0, cost_filter={"model": name}))
        else:
            costs.extend(_priced(name, info.price))
    for retired, current in RETIRED_MODELS.items():
        costs.extend(
            BlockCost(cost_amount=c.cost_amount, cost_filter={**c.cost_filter, "model": retired})
            for c in _priced(current, MODELS[current].price)
        )
    # The operator's default model (an empty pin): the cheapest tier; operators who make a
    # dearer model the default price it with AUTOPLAT_BLOCK_COSTS.
    costs.append(BlockCost(cost_amount=1, cost_filter={"model": "", "credentials": None}))
    top = max(info.price for info in MODELS.values())
    costs.append(BlockCost(cost_amount=top, cost_filter={"credentials": None}))
    costs.extend(
        BlockCost(cost_amount=top, cost_filter={"credentials": system_reference(provider)})
        for provider in LLM_PROVIDERS
        if provider != models.OLLAMA
    )
    return tuple(costs)
