"""What start-up makes in bulk and keeps for the whole session (100,000 watched requests), taken
out of the cyclic garbage collector's walks. No Textual."""

from __future__ import annotations

import gc
import time

BULK = 20_000  # requests loaded at once from which the collector's walks are worth sparing
# A full collection that took this long (seconds) walked a great many objects, all found alive:
# they are taken out of the walks too (see `keep`).
SLOW_COLLECTION = 0.025


def keep(loaded: int) -> None:
    """`loaded` requests were just made, to stay. Past BULK, every object alive now leaves the
    collector's generations (`gc.freeze`): at 100,000 ids the first collection after the load
    walked a million new objects (~0.3 s, in the first paint), and every full one after it
    walked them again while polls came in. Frozen objects are still freed as soon as nothing
    refers to them (reference counting: an entry removed, a state replaced by a newer one);
    only garbage in a reference cycle among them would stay, and what start-up keeps (the
    app, its screen, the lists) lives as long as the process anyway.

    From then on, so are the survivors of a full collection that took SLOW_COLLECTION or more:
    the first polls of 100,000 requests make some five objects each that stay (states,
    recipients, timelines), and the full collections that walked them again and again held
    the screen's loop 50-220 ms each, every second or two, growing. What a full collection
    leaves is all alive; only what is alive then and ends later in a cycle is never freed,
    and a slow collection is rare once the list's objects are out of the walks."""
    if loaded >= BULK:
        gc.freeze()
        if _after_collection not in gc.callbacks:
            gc.callbacks.append(_after_collection)


def release() -> None:
    """Everything back in the collector's usual walks, and no more freezing (a test's end)."""
    if _after_collection in gc.callbacks:
        gc.callbacks.remove(_after_collection)
    gc.unfreeze()


_began = [0.0]  # when the full collection under way began


def _after_collection(phase: str, info: dict[str, int]) -> None:
    if info.get("generation") != 2:
        return
    if phase == "start":
        _began[0] = time.perf_counter()
    elif time.perf_counter() - _began[0] >= SLOW_COLLECTION:
        gc.freeze()  # what it left is all alive: out of the next walks
