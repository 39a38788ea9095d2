"""Deforum's seed behaviours advanced once per clip."""

from __future__ import annotations

import pytest

from wan.seeds import SEED_SPACE, clip_seeds, derived_seed


@pytest.mark.parametrize(
    ("behavior", "iter_n", "expected"),
    [
        ("iter", 1, [7, 8, 9, 10, 11]),
        ("iter", 2, [7, 8, 8, 9, 9]),  # Deforum: +1 when the counter is a multiple of N
        ("iter", 3, [7, 8, 8, 8, 9]),
        ("fixed", 1, [7] * 5),
        ("ladder", 1, [7, 9, 8, 10, 9]),
        ("alternate", 1, [7, 8, 7, 8, 7]),
    ],
)
def test_deforum_sequences(behavior, iter_n, expected):
    assert clip_seeds(behavior, 7, 5, iter_n=iter_n) == expected


def test_random_is_reproducible_and_starts_with_the_seed():
    seeds = clip_seeds("random", 99, 4)
    assert seeds[0] == 99 and seeds == clip_seeds("random", 99, 4)
    assert len(set(seeds)) == 4
    assert clip_seeds("random", 100, 4)[1:] != seeds[1:]  # the later seeds follow the base seed too


def test_schedule_uses_values_and_derives_for_minus_one():
    seeds = clip_seeds("schedule", 5, 3, scheduled=[5.0, -1.0, 12.7])
    assert seeds[0] == 5 and seeds[1] == derived_seed(5, 1) and seeds[2] == 12
    with pytest.raises(ValueError, match="one scheduled value per clip"):
        clip_seeds("schedule", 5, 3, scheduled=[1.0])


def test_seeds_wrap_into_the_seed_space():
    assert clip_seeds("iter", SEED_SPACE - 1, 2) == [SEED_SPACE - 1, 0]
    assert clip_seeds("schedule", 1, 1, scheduled=[-5.0]) == [SEED_SPACE - 5]


def test_unknown_behaviour():
    with pytest.raises(ValueError, match="unknown seed behaviour"):
        clip_seeds("chaos", 1, 2)
