"""A restart reads back every id the store was given, with its recipients, fields and timeline,
by each of the store's loaders; and how long that takes, reported (run with -s to see it), not
asserted, because the time depends on the machine.

The data is shaped like the real thing: a third each of SMS (no extra fields), WhatsApp (a flat
handful) and Infobip (nested status/error objects), three recipients and five transitions each.
In the suite 1,200 ids (more than one batch of every kind of write and read); the measurement at
10,000 (the size the store's loaders were tuned on, store/states.py):
    D7TUI_STORE_IDS=10000 .venv/bin/python -m pytest -q -s tests/test_store_bench.py
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from d7tui.models import Channel, Phase, Recipient, RequestStatus, Transition
from d7tui.store import Store

IDS = int(os.environ.get("D7TUI_STORE_IDS", "1200"))


def _fields(kind: int, n: int, k: int) -> dict[str, object]:
    if kind == 0:
        return {}
    if kind == 1:
        return {
            "originator": "SignOTP",
            "reference": f"ref-{n}",
            "conversation_type": "utility",
            "message_type": "TEMPLATE",
            "template_id": 123,
            "waConvId": f"wamid.{n:012d}{k}",
        }
    return {
        "bulkId": f"BULK-{n}",
        "sentAt": "2024-06-11T10:00:00.000+0000",
        "doneAt": "2024-06-11T10:00:04.000+0000",
        "status": {"groupId": 3, "groupName": "DELIVERED", "id": 5, "name": "DELIVERED_TO_HANDSET"},
        "error": {"groupId": 0, "groupName": "OK", "id": 0, "name": "NO_ERROR", "permanent": False},
        "mccMnc": "22801",
        "callbackData": f"ticket-{n}",
    }


def build(store: Store) -> None:
    channels = (Channel.SMS, Channel.WHATSAPP, Channel.INFOBIP)
    with store.batch():
        for n in range(IDS):
            kind = n % 3
            rid = f"req-{n:05d}"
            store.add_watch(rid, channels[kind].value, label=f"ticket {n}", added_at=n)
            recipients = tuple(
                Recipient(
                    msg_id=f"m{n}-{k}",
                    recipient=f"+4477{n:06d}{k}",
                    status="delivered",
                    phase=Phase.DELIVERED,
                    final=True,
                    reason="Delivered",
                    cost=0.0045,
                    currency="EUR",
                    parts=1,
                    country="GB",
                    fields=_fields(kind, n, k),
                )
                for k in range(3)
            )
            transitions = [
                Transition(n + s, rid, f"m{n}-{k}", f"+4477{n:06d}{k}", None, "sent", None,
                           Phase.PENDING)
                for k, s in ((0, 0), (1, 0), (2, 0), (0, 1), (1, 1))
            ]  # fmt: skip
            state = RequestStatus(rid, channels[kind], recipients, {"total_recipients": 3},
                                  (b'{"request_id": "%d", "messages": []}' % n,))  # fmt: skip
            store.save_observation(state, transitions, at=n + 2)


def test_a_restart_reads_back_every_id_and_is_measured(tmp_path: Path, record_property) -> None:
    path = tmp_path / "d7tui.sqlite3"
    with Store.open(path) as store:
        started = time.perf_counter()
        build(store)
        built = time.perf_counter() - started
    timings: dict[str, float] = {}
    with Store.open(path) as store:
        for name, load in (
            ("watches", lambda: store.watches()),
            ("states", lambda: store.load_states(with_raw=False)),
            ("timelines", lambda: store.timelines()),
            ("load(timeline_limit=0)", lambda: store.load(timeline_limit=0)),
            ("load()", lambda: store.load()),
        ):
            started, cpu = time.perf_counter(), time.process_time()
            snapshot = load()
            timings[name] = time.perf_counter() - started
            timings[f"{name} cpu"] = time.process_time() - cpu
    assert len(snapshot.watches) == IDS and len(snapshot.states) == IDS
    assert sum(len(t) for t in snapshot.timelines.values()) == 5 * IDS
    for n in (0, 1, 2, IDS - 1):  # each kind of fields, and the last id written, read back whole
        recipients = snapshot.states[f"req-{n:05d}"].state.recipients
        assert [r.fields for r in recipients] == [_fields(n % 3, n, k) for k in range(3)]
        assert [r.recipient for r in recipients] == [f"+4477{n:06d}{k}" for k in range(3)]
    size = path.stat().st_size / 1e6
    report = ", ".join(
        f"{k} {v * 1000:.0f} ms (cpu {timings[k + ' cpu'] * 1000:.0f})"
        for k, v in timings.items()
        if not k.endswith(" cpu")
    )
    line = f"{IDS} ids x 3 recipients x 5 transitions ({size:.1f} MB, built in {built:.1f} s): {report}"
    record_property("store_load", line)
    print(f"\n{line}")
