"""Deforum's seed behaviours (iter, fixed, random, ladder, alternate, schedule), per clip.

Deforum changes the seed after every generated frame (`next_seed` in deforum_helpers/seed.py);
Wan generates clips, so the same sequence advances once per clip. Where Deforum draws a random
seed, a seed derived from the base seed and the clip index is used instead, so that a plan is
reproducible from its settings. Seeds wrap to 0..2**32-1.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence

import numpy as np

SEED_SPACE = 2**32


def random_seed() -> int:
    """A fresh random seed, for settings that ask for one with seed -1."""
    return secrets.randbelow(SEED_SPACE)


def resolve_seed(seed: int, override: int | None = None) -> int:
    """The base seed of a run: the settings' seed, else `override`, else a fresh random one."""
    if seed >= 0:
        return seed
    return random_seed() if override is None else override


def derived_seed(base_seed: int, index: int) -> int:
    """A seed that looks random but is fixed by (base_seed, index)."""
    return int(np.random.default_rng([base_seed % SEED_SPACE, index]).integers(0, SEED_SPACE))


def clip_seeds(
    behavior: str,
    base_seed: int,
    count: int,
    *,
    iter_n: int = 1,
    scheduled: Sequence[float] = (),
) -> list[int]:
    """The seed of each of `count` clips; `scheduled` holds seed_schedule values at clip starts."""
    if behavior == "schedule":
        if len(scheduled) != count:
            raise ValueError("the 'schedule' behaviour needs one scheduled value per clip")
        return [
            derived_seed(base_seed, k) if int(value) == -1 else int(value) % SEED_SPACE
            for k, value in enumerate(scheduled)
        ]
    if behavior == "random":
        return [base_seed % SEED_SPACE] + [derived_seed(base_seed, k) for k in range(1, count)]
    seeds = []
    seed, internal = base_seed, 0
    for _ in range(count):
        seeds.append(seed % SEED_SPACE)
        if behavior == "iter":
            seed += 1 if internal % iter_n == 0 else 0
            internal += 1
        elif behavior in ("ladder", "alternate"):
            up = 2 if behavior == "ladder" else 1
            seed += up if internal == 0 else -1
            internal = 1 - internal
        elif behavior != "fixed":
            raise ValueError(f"unknown seed behaviour '{behavior}'")
    return seeds
