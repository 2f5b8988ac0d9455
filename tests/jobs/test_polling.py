"""Which slot a per-job trigger's wait ends on: coarse while few triggers wait, fine when thousands do."""

from __future__ import annotations

import math

import pytest

from airflow_provider_domino.jobs.polling import wake_slot


@pytest.mark.parametrize(
    ("delay", "sleepers", "slot"),
    [
        (2.0, 1, 2.0),  # one trigger: its own wait
        (1.9, 50, 1.0),  # fifty triggers polling every ~2 s: at most two wake-ups an interval
        (2.0, 100, 1.0),  # a hundred: fifty per slot
        (2.0, 300, 0.25),  # three hundred: quarter-second slots
        (1.9, 1000, 0.25),  # a thousand: still quarter-second slots (no finer)
        (30.0, 1000, 1.0),  # long waits: a thousand triggers over 30 slots of a second
        (30.0, 5, 2.0),  # a few long waits: two-second slots, each wait moved by a second at most
        (0.4, 1, 0.25),  # a short wait rounds by at most half of itself
        (0.2, 1, 0.0),  # shorter than the finest slot: slept exactly
    ],
)
def test_slot_for_the_number_of_sleepers(delay: float, sleepers: int, slot: float) -> None:
    assert wake_slot(delay, sleepers) == slot


@pytest.mark.parametrize("delay", [0.5, 2.0, 7.0, 30.0])
def test_a_slot_never_wakes_more_than_fifty_triggers_unless_it_is_the_finest(delay: float) -> None:
    for sleepers in range(1, 5001, 7):
        slot = wake_slot(delay, sleepers)
        assert 0 < slot <= min(delay, 2.0)  # the nearest mark: a wait moves by at most half of it, or 1 s
        assert math.log2(slot / 0.25).is_integer()  # marks of a coarser slot are marks of a finer one
        if slot > 0.25:
            assert sleepers * slot / delay <= 50
