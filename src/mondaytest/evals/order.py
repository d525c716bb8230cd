"""Which cases a run executes, and in what order: seeded shuffles and stratified samples."""

from __future__ import annotations

import random
from array import array
from collections.abc import Sequence

__all__ = ["allocate", "run_order", "stratified_sample"]


def allocate(sizes: Sequence[int], n: int, rng: random.Random) -> list[int]:
    """How many cases to draw from each stratum: proportional to its size (largest remainder),
    at least one from every stratum when ``n`` allows, never more than a stratum has."""
    total = sum(sizes)
    if n >= total:
        return list(sizes)
    k = len(sizes)
    floor_one = n >= k
    quotas = [0] * k
    fractions: list[tuple[float, float, int]] = []
    budget = n
    if floor_one:
        quotas = [1] * k
        budget -= k
    rest = [s - q for s, q in zip(sizes, quotas, strict=True)]
    rest_total = sum(rest)
    for i, r in enumerate(rest):
        share = budget * r / rest_total if rest_total else 0.0
        whole = min(int(share), r)
        quotas[i] += whole
        fractions.append((share - whole, rng.random(), i))
    left = n - sum(quotas)
    for _, _, i in sorted(fractions, reverse=True):
        if left <= 0:
            break
        if quotas[i] < sizes[i]:
            quotas[i] += 1
            left -= 1
    return quotas


def stratified_sample(strata: Sequence[int], n: int, seed: int) -> list[int]:
    """Indices of ``n`` cases drawn without replacement, stratified by ``strata`` (one stratum
    id per case: its tag set), in file order. Deterministic for a seed."""
    if n >= len(strata):
        return list(range(len(strata)))
    rng = random.Random(f"{seed}:sample")
    groups: dict[int, list[int]] = {}
    for index, stratum in enumerate(strata):
        groups.setdefault(stratum, []).append(index)
    keys = sorted(groups)
    quotas = allocate([len(groups[k]) for k in keys], n, rng)
    chosen: list[int] = []
    for key, quota in zip(keys, quotas, strict=True):
        chosen.extend(rng.sample(groups[key], quota))
    chosen.sort()
    return chosen


def run_order(indices: Sequence[int], seed: int) -> array[int]:
    """The execution order: ``indices`` shuffled with the seed."""
    order = array("q", indices)
    random.Random(f"{seed}:order").shuffle(order)
    return order
