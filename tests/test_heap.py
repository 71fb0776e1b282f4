"""The collector's walks spared after a big load: what a slow full collection leaves (all alive)
is frozen, and garbage in a cycle is still freed."""

from __future__ import annotations

import gc
import weakref

import pytest

from d7tui import heap


class Node:
    def __init__(self) -> None:
        self.other: Node | None = None


def test_after_a_big_load_a_slow_full_collection_freezes_what_is_alive_and_frees_cycles(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(heap, "SLOW_COLLECTION", 0.0)  # every full collection is "slow"
    try:
        heap.release()  # whatever an earlier test in this process froze
        gc.collect()
        heap.keep(heap.BULK - 1)  # a small list: nothing frozen, nothing changed
        assert gc.get_freeze_count() == 0
        heap.keep(heap.BULK)
        frozen = gc.get_freeze_count()
        alive = [Node() for _ in range(1000)]  # made after the load (poll results), alive
        a, b = Node(), Node()
        a.other, b.other = b, a  # a cycle ...
        gone = weakref.ref(a)
        del a, b  # ... that is garbage now
        gc.collect()
        assert gone() is None  # garbage in a cycle is still freed
        assert gc.get_freeze_count() >= frozen + len(alive)  # the survivors are out of the walks
    finally:
        heap.release()
    assert gc.get_freeze_count() == 0
