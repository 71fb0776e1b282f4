"""The failures alone (`e` in the problems view): a worklist for follow-up calls with each
number, the vendor's reason and what it means; failed, stuck and requests in error, nothing else."""

from __future__ import annotations

import csv
import io
import json
import stat

from d7tui.errors import NotFound
from d7tui.models import Channel, Recipient, RequestStatus, Target, classify_d7, observe
from d7tui.pollstate import PollUpdate, WatchStatus
from d7tui.watchlist import Watchlist
from d7tui.worklist import COLUMNS, follow_ups, write, write_to_file

T0 = 1_700_000_000.0


def sms(n: int, status: str) -> Recipient:
    return Recipient(f"m{n}", f"+9715000000{n:02d}", status, *classify_d7(Channel.SMS, status))


def poll(wl: Watchlist, rid: str, at: float, *recipients: Recipient, **kw: object) -> None:
    if rid not in wl:
        wl.add(Target(rid, "sms"), f"ticket {rid}", added_at=at)
    entry = wl.get(rid)
    assert entry is not None
    state, transitions = (
        observe(entry.state, RequestStatus(rid, Channel.SMS, recipients), at)
        if recipients
        else (None, [])
    )
    wl.apply(
        PollUpdate(
            rid,
            at,
            "sms",
            kw.get("status", WatchStatus.ACTIVE),  # type: ignore[arg-type]
            state,
            kw.get("error"),  # type: ignore[arg-type]
            tuple(transitions),
            last_poll=at,
        )
    )


def story() -> Watchlist:
    wl = Watchlist(clock=lambda: T0 + 3600)
    poll(wl, "a", T0, sms(1, "sent"), sms(2, "sent"))
    poll(wl, "a", T0 + 60, sms(1, "delivered"), sms(2, "not_reachable"))  # one failed
    poll(wl, "b", T0, sms(3, "sent"))  # waits an hour: stuck
    poll(wl, "c", T0, sms(4, "delivered"))  # fine: not on the list
    poll(
        wl,
        "d",
        T0 + 300,
        status=WatchStatus.NOT_FOUND,
        error=NotFound("sms", "request id not found"),
    )
    return wl


def test_the_worklist_holds_failed_stuck_and_errors_with_number_reason_and_explanation():
    rows = follow_ups(story(), T0 + 3600, Watchlist().stuck_after)
    assert [(r.request_id, r.recipient, r.problem) for r in rows] == [
        ("a", "+971500000002", "failed"),
        ("b", "+971500000003", "stuck?"),
        ("d", None, "not found"),
    ]
    failed, stuck, missing = rows
    assert failed.status == "not_reachable" and failed.outcome == "temporary failure"
    assert "could not reach the phone" in (failed.explanation or "")
    assert "signal" in (failed.next_step or "") and failed.changed_at == T0 + 60
    assert failed.label == "ticket a"
    assert stuck.explanation and stuck.explanation.startswith("still 'sent' after 60 min")
    assert stuck.changed_at == T0
    assert missing.reason == "sms: request id not found"


def test_written_as_json_and_as_a_spreadsheet_safe_csv(tmp_path):
    rows = follow_ups(story(), T0 + 3600, Watchlist().stuck_after)
    out = io.StringIO()
    assert write(rows, "json", out, now=T0) == 3
    document = json.loads(out.getvalue())
    assert document["d7tui_failures"] == 1 and document["rows"][0]["recipient"] == "+971500000002"
    path, count = write_to_file(rows, "csv", tmp_path, now=T0)
    assert count == 3 and path.name.startswith("d7tui-failures-")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    table = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8-sig"))))
    assert tuple(table[0]) == COLUMNS and len(table) == 4
    first = dict(zip(COLUMNS, table[1], strict=True))
    assert first["recipient"] == "+971500000002"  # a number stays a number
    assert first["changed_at"] == "2023-11-14T22:14:20.000Z"
    stuck = dict(zip(COLUMNS, table[2], strict=True))
    assert stuck["explanation"].startswith("still 'sent' after 60 min")  # no quote added


def test_a_whatsapp_message_delivered_and_waiting_for_read_is_no_follow_up_call():
    wl = Watchlist(clock=lambda: T0 + 7200)
    wl.add(Target("w", "whatsapp"), "", added_at=T0)
    entry = wl.get("w")
    assert entry is not None
    delivered = Recipient(
        "w1", "+919000000001", "delivered", *classify_d7(Channel.WHATSAPP, "delivered")
    )
    state, transitions = observe(None, RequestStatus("w", Channel.WHATSAPP, (delivered,)), T0)
    wl.apply(PollUpdate("w", T0, "whatsapp", WatchStatus.ACTIVE, state, None, tuple(transitions)))
    assert [s.recipient.key for s in wl.get("w").stuck(T0 + 7200, wl.stuck_after)]  # "stuck?"
    assert follow_ups(wl, T0 + 7200, wl.stuck_after) == []  # but on the phone: no call
