"""What start-up makes in bulk and keeps for the whole session (100,000 watched requests), taken
out of the cyclic garbage collector's walks. No Textual."""

from __future__ import annotations

import gc

BULK = 20_000  # requests loaded at once from which the collector's walks are worth sparing


def keep(loaded: int) -> None:
    """`loaded` requests were just made, to stay. Past BULK, every object alive now leaves the
    collector's generations (`gc.freeze`): at 100,000 ids the first collection after the load
    walked a million new objects (~0.3 s, in the first paint), and every full one after it
    walked them again while polls came in. Frozen objects are still freed as soon as nothing
    refers to them (reference counting: an entry removed, a state replaced by a newer one);
    only garbage in a reference cycle among them would stay, and what start-up keeps (the
    app, its screen, the lists) lives as long as the process anyway."""
    if loaded >= BULK:
        gc.freeze()
