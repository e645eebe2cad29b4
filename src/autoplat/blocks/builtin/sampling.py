"""DataSamplingBlock: pick a subset of a dataset by one of eight methods (AutoGPT's sampling).

Invariants: each run draws from its own ``random.Random`` (seeded by ``random_seed``, so a
seed gives AutoGPT's exact picks, and no run disturbs another's sequence or the process's
global generator). ``accumulate`` gathers data across runs of the same node in the user's
key-value store (AutoGPT keeps it in the block object, shared by every user of a process);
the store's value size limit bounds it.
"""

from __future__ import annotations

import enum
import random
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from autoplat.blocks.base import (
    Block,
    BlockCategory,
    BlockContext,
    BlockOutput,
    BlockOutputSchema,
    BlockSchema,
)
from autoplat.blocks.schema import pin
from autoplat.errors import BlockRunError

Row = dict[str, Any] | list[Any]


class SamplingMethod(enum.StrEnum):
    """How the sample is chosen."""

    RANDOM = "random"
    SYSTEMATIC = "systematic"
    TOP = "top"
    BOTTOM = "bottom"
    STRATIFIED = "stratified"
    WEIGHTED = "weighted"
    RESERVOIR = "reservoir"
    CLUSTER = "cluster"


def _field(item: Any, key: str, what: str) -> Any:
    if not isinstance(item, dict):
        raise BlockRunError(f"{what} key '{key}' not found in item {item}")
    return item.get(key)


def _stratified(rng: random.Random, data: Sequence[Row], size: int, key: str | None) -> list[int]:
    if not key:
        raise BlockRunError("Stratify key must be provided for stratified sampling.")
    strata: dict[str, list[int]] = defaultdict(list)
    for index, item in enumerate(data):
        value = _field(item, key, "Stratify")
        if value is None:
            raise BlockRunError(f"Stratify value for key '{key}' is None")
        strata[str(value)].append(index)
    # Each stratum in proportion (at least one), then the largest share is nudged until
    # the total is exact.
    sizes = {k: max(1, int(len(v) / len(data) * size)) for k, v in strata.items()}
    while (total := sum(sizes.values())) != size:
        largest = max(sizes, key=lambda k: sizes[k])
        sizes[largest] += 1 if total < size else -1
    indices: list[int] = []
    for stratum, count in sizes.items():
        indices.extend(rng.sample(strata[stratum], count))
    return indices


def _weighted(rng: random.Random, data: Sequence[Row], size: int, key: str | None) -> list[int]:
    if not key:
        raise BlockRunError("Weight key must be provided for weighted sampling.")
    weights = []
    for item in data:
        weight = _field(item, key, "Weight")
        if weight is None:
            raise BlockRunError(f"Weight value for key '{key}' is None")
        try:
            weights.append(float(weight))
        except (TypeError, ValueError):
            raise BlockRunError(
                f"Weight value '{weight}' cannot be converted to a number"
            ) from None
    if not weights:
        raise BlockRunError(f"No valid weights found using key '{key}'")
    return rng.choices(range(len(data)), weights=weights, k=size)


def _cluster(rng: random.Random, data: Sequence[Row], size: int, key: str | None) -> list[int]:
    if not key:
        raise BlockRunError("Cluster key must be provided for cluster sampling.")
    clusters: dict[str, list[int]] = defaultdict(list)
    for index, item in enumerate(data):
        if not isinstance(item, dict):
            raise BlockRunError(f"Item {item} does not have the cluster key '{key}'")
        clusters[str(item.get(key))].append(index)
    chosen: list[str] = []
    while sum(len(clusters[c]) for c in chosen) < size:
        left = [c for c in clusters if c not in chosen]
        if not left:
            break
        chosen.append(rng.choice(left))
    indices = [index for c in chosen for index in clusters[c]]
    return rng.sample(indices, size) if len(indices) > size else indices


def sample_indices(
    rng: random.Random,
    data: Sequence[Row],
    size: int,
    method: SamplingMethod,
    keys: Mapping[str, str | None],
) -> list[int]:
    """The indices of ``data`` that ``method`` picks (AutoGPT's algorithms, draw for draw)."""
    n = len(data)
    if size > n:
        raise BlockRunError(f"Sample size ({size}) cannot be larger than the dataset size ({n}).")
    if size < 0:
        raise BlockRunError(f"Sample size ({size}) cannot be negative.")
    if method is SamplingMethod.RANDOM:
        return rng.sample(range(n), size)
    if method is SamplingMethod.SYSTEMATIC:
        if size == 0:
            return []
        step = n // size
        return list(range(rng.randint(0, step - 1), n, step))[:size]
    if method is SamplingMethod.TOP:
        return list(range(size))
    if method is SamplingMethod.BOTTOM:
        return list(range(n - size, n))
    if method is SamplingMethod.STRATIFIED:
        return _stratified(rng, data, size, keys["stratify"])
    if method is SamplingMethod.WEIGHTED:
        return _weighted(rng, data, size, keys["weight"])
    if method is SamplingMethod.RESERVOIR:
        reservoir = list(range(size))
        for i in range(size, n):
            j = rng.randint(0, i)
            if j < size:
                reservoir[j] = i
        return reservoir
    return _cluster(rng, data, size, keys["cluster"])


class DataSamplingBlock(Block["DataSamplingBlock.Input"]):
    """Sample a dataset (a dict, or a list of dicts or lists) by the chosen method."""

    class Input(BlockSchema):
        data: dict[str, Any] | list[Row] = pin(
            description="The dataset: one dictionary, a list of dictionaries or of lists."
        )
        sample_size: int = pin(10, description="How many samples to take.")
        sampling_method: SamplingMethod = pin(
            SamplingMethod.RANDOM, description="The sampling method."
        )
        accumulate: bool = pin(False, description="Gather data over runs before sampling.")
        random_seed: int | None = pin(None, description="Seed of the random generator.")
        stratify_key: str | None = pin(None, description="Key for stratified sampling.")
        weight_key: str | None = pin(None, description="Key for weighted sampling.")
        cluster_key: str | None = pin(None, description="Key for cluster sampling.")

    class Output(BlockOutputSchema):
        sampled_data: list[Row] = pin(description="The sampled subset of the data.")
        sample_indices: list[int] = pin(description="Where the samples sit in the dataset.")

    id = "4a448883-71fa-49cf-91cf-70d793bd7d87"
    description = "This block samples data from a given dataset using various sampling methods."
    categories = (BlockCategory.LOGIC,)
    input_schema = Input
    output_schema = Output
    test_input = [
        {
            "data": [{"id": i, "value": chr(97 + i), "group": i % 3} for i in range(10)],
            "sample_size": 3,
            "sampling_method": SamplingMethod.STRATIFIED,
            "accumulate": False,
            "random_seed": 42,
            "stratify_key": "group",
        }
    ]
    test_output = [
        (
            "sampled_data",
            [
                {"id": 0, "value": "a", "group": 0},
                {"id": 1, "value": "b", "group": 1},
                {"id": 8, "value": "i", "group": 2},
            ],
        ),
        ("sample_indices", [0, 1, 8]),
    ]

    async def run(self, input_data: Input, context: BlockContext) -> BlockOutput:
        incoming: list[Row] = (
            input_data.data if isinstance(input_data.data, list) else [input_data.data]
        )
        data = incoming
        if input_data.accumulate:
            if context.kv is None:
                raise BlockRunError("accumulate needs the key-value store; this run has none")
            key = f"sampling#{context.graph_id}#{context.node_id}"
            data = [*(await context.kv.get(key) or []), *incoming]
            if len(data) < input_data.sample_size:
                await context.kv.set(key, data)
                return  # not enough yet: sample once a later run brings the rest
            await context.kv.set(key, None)
        rng = random.Random(input_data.random_seed)
        keys = {
            "stratify": input_data.stratify_key,
            "weight": input_data.weight_key,
            "cluster": input_data.cluster_key,
        }
        indices = sample_indices(
            rng, data, input_data.sample_size, input_data.sampling_method, keys
        )
        yield "sampled_data", [data[i] for i in indices]
        yield "sample_indices", indices
