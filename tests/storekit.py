"""A store made directly, as a monitor that ran before would have left it (no simulator)."""

from __future__ import annotations

import uuid
from pathlib import Path

from d7tui.models import Channel, Phase, Recipient, RequestStatus, observe
from d7tui.store import Store, add_ids


def remember_final(db: Path, count: int, *, archived: int = 0) -> list[str]:
    """A store that watched `count` delivered SMS requests, each changed a minute after the one
    before it (the last one newest); the first `archived` of them in the archive."""
    ids = [str(uuid.uuid4()) for _ in range(count)]
    with Store.open(db) as store:
        add_ids(store, ids, channel="sms", label="kept")
        for n, rid in enumerate(ids):
            r = Recipient(f"m-{n}", f"+9715{n:08d}", "delivered", Phase.DELIVERED, True)
            at = 1_000_000.0 + 60 * n
            state, transitions = observe(None, RequestStatus(rid, Channel.SMS, (r,)), at)
            store.save_observation(state, transitions, at=at)
        for rid in ids[:archived]:
            store.archive(rid)
    return ids
