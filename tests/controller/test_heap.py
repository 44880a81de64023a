"""settled_heap: the start-up's objects frozen out of the collector, undone on leaving."""

from __future__ import annotations

import gc

from controller.heap import YOUNG_THRESHOLD, settled_heap


def test_the_heap_is_settled_inside_and_given_back_as_it_was() -> None:
    before = gc.get_threshold()
    frozen_before = gc.get_freeze_count()
    kept = [object() for _ in range(10)]  # something alive to freeze
    with settled_heap():
        assert gc.get_freeze_count() > frozen_before
        assert gc.get_threshold() == (YOUNG_THRESHOLD, before[1], before[2])
        cycle: list[object] = []
        cycle.append(cycle)  # made after the freeze: still collectable
        del cycle
        assert gc.collect() >= 1
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0
    assert len(kept) == 10
