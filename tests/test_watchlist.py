"""The watchlist model: filter, sort, problems-only and totals, with no screen and no network."""

from __future__ import annotations

import random
from collections import Counter

from d7tui.errors import AuthError, NotFound, RateLimited, Unreachable
from d7tui.models import Channel, Phase, Recipient, RequestStatus, Target, classify_d7, observe
from d7tui.pollstate import PollUpdate, WatchStatus
from d7tui.ui.format import format_age, mask_numbers, mask_recipient, short_id
from d7tui.watchlist import Entry, SortKey, Watchlist

IDS = [f"{i}{i}{i}{i}abcd-0000-4000-8000-000000000000" for i in range(6)]


def _status(rid: str, *recipients: tuple[str, str], cost: float | None = 0.001) -> RequestStatus:
    rows = []
    for i, (who, raw) in enumerate(recipients):
        phase, final = classify_d7(Channel.SMS, raw)
        rows.append(Recipient(f"m{i}", who, raw, phase, final, cost=cost))
    return RequestStatus(rid, Channel.SMS, tuple(rows))


def _update(wl: Watchlist, rid: str, state: RequestStatus | None, at: float, **kw: object) -> None:
    entry = wl.get(rid)
    assert entry is not None
    new_state, transitions = (
        observe(entry.state, state, at) if state is not None else (entry.state, [])
    )
    wl.apply(
        PollUpdate(
            request_id=rid,
            at=at,
            channel="sms",
            status=kw.pop("status", WatchStatus.ACTIVE),  # type: ignore[arg-type]
            state=new_state,
            error=kw.pop("error", None),  # type: ignore[arg-type]
            transitions=tuple(transitions),
            last_poll=at,
            last_change=at if transitions else entry.last_change,
        )
    )


def _list() -> Watchlist:
    wl = Watchlist(clock=lambda: 330.0)  # the story below ends at 310: nothing waits for long
    for i, rid in enumerate(IDS[:4]):
        wl.add(Target(rid), ["Order 1", "otp", "", "refund"][i], added_at=100.0 + i)
    _update(wl, IDS[0], _status(IDS[0], ("+971500000001", "delivered")), 110)
    _update(wl, IDS[1], _status(IDS[1], ("+971500000002", "undelivered")), 105)
    _update(wl, IDS[2], _status(IDS[2], ("+971500000003", "sent"), ("+971500000004", "read")), 120)
    return wl


def test_sorts_by_last_change_then_status_then_added():
    wl = _list()
    # Newest change first, as in htop and k9s; never answered (IDS[3], added at 103) counts
    # from when it was added.
    assert wl.sort is SortKey.LAST_CHANGE
    assert [e.request_id for e in wl.visible()] == [IDS[2], IDS[0], IDS[1], IDS[3]]
    assert wl.cycle_sort() is SortKey.STATUS
    # failed first, then pending (and not yet answered), then delivered
    assert [e.request_id for e in wl.visible()] == [IDS[1], IDS[2], IDS[3], IDS[0]]
    assert wl.cycle_sort() is SortKey.ADDED
    assert [e.request_id for e in wl.visible()] == IDS[:4]
    assert wl.cycle_sort() is SortKey.LAST_CHANGE


def test_filter_matches_id_label_recipient_and_status_case_insensitively():
    wl = _list()
    wl.filter_text = "OTP"
    assert [e.request_id for e in wl.visible()] == [IDS[1]]
    wl.filter_text = "+971500000004"
    assert [e.request_id for e in wl.visible()] == [IDS[2]]
    wl.filter_text = "undelivered"
    assert [e.request_id for e in wl.visible()] == [IDS[1]]
    wl.filter_text = IDS[3][:4]
    assert [e.request_id for e in wl.visible()] == [IDS[3]]
    wl.filter_text = "order delivered"  # every word must match
    assert [e.request_id for e in wl.visible()] == [IDS[0]]
    wl.filter_text = "[bold]"  # markup is just text here too
    assert wl.visible() == []


def test_problems_only_keeps_failed_not_found_and_errors_but_not_a_fresh_404():
    wl = _list()
    wl.problems_only = True
    assert [e.request_id for e in wl.visible()] == [IDS[1]]
    # a 404 inside the grace period is not a problem yet ...
    _update(wl, IDS[3], None, 130, status=WatchStatus.WAITING, error=NotFound("auto", "nope"))
    assert [e.request_id for e in wl.visible()] == [IDS[1]]
    assert wl.get(IDS[3]).status_text() == "not found yet"  # type: ignore[union-attr]
    # ... after it, it is
    _update(wl, IDS[3], None, 300, status=WatchStatus.NOT_FOUND, error=NotFound("auto", "nope"))
    assert [e.request_id for e in wl.visible()] == [IDS[1], IDS[3]]
    assert wl.get(IDS[3]).status_text() == "not found"  # type: ignore[union-attr]
    # an error on a request that had a status makes it a problem too, showing the error
    _update(wl, IDS[0], None, 310, error=RateLimited("sms", "slow down", retry_after=3))
    assert IDS[0] in [e.request_id for e in wl.visible()]
    assert wl.get(IDS[0]).status_text() == "rate limited"  # type: ignore[union-attr]


def test_totals_count_phases_costs_and_errors():
    wl = _list()
    _update(wl, IDS[3], None, 130, status=WatchStatus.AUTH, error=AuthError("sms", "D7_API_TOKEN"))
    totals = wl.totals()
    assert totals.requests == 4
    assert totals.phases[Phase.DELIVERED] == 1
    assert totals.phases[Phase.FAILED] == 1
    assert totals.phases[Phase.PENDING] == 1
    assert totals.phases[Phase.READ] == 1
    assert round(totals.costs[None], 6) == 0.004
    assert totals.errors["auth refused"] == 1


def test_entry_keeps_every_transition_and_the_latest_status():
    wl = _list()
    _update(
        wl, IDS[2], _status(IDS[2], ("+971500000003", "delivered"), ("+971500000004", "read")), 140
    )
    entry = wl.get(IDS[2])
    assert entry is not None
    assert [t.new_status for t in entry.timeline] == ["sent", "read", "delivered"]
    assert entry.latest_status == "delivered"
    assert entry.last_change == 140


def test_remove_and_restore_keep_the_added_order():
    wl = _list()
    wl.sort = SortKey.ADDED
    entry = wl.remove(IDS[1])
    assert entry is not None and IDS[1] not in wl
    wl.restore(entry)
    assert [e.request_id for e in wl.visible()] == IDS[:4]


def test_display_helpers():
    assert mask_recipient("+971509752626") == "+97150•••••26"
    assert mask_recipient("41793026727") == "41793••••27"
    # One number masked one way (H12.5): in the recipient column, with or without its +, and
    # inside a label or a reason, spaced or not.
    assert mask_recipient("4915112345678") == "49151••••••78"
    for label in ("call +4915112345678", "call 4915112345678", "call +49 1511 2345678"):
        assert mask_numbers(label).endswith("49151••••••78"), label
    assert mask_recipient(None) == "-"
    assert mask_recipient("abc") == "•••"
    assert short_id("9d056a09-0fc4-4f68-9058-3846d58aa244") == "9d056a09"
    assert short_id("BULK-ID-123-xyz") == "…-123-xyz"  # made one after another: the end differs
    assert [format_age(s) for s in (0, 59.9, 61, 3600 * 5, 86400 * 3)] == [
        "0s",
        "59s",
        "1m",
        "5h",
        "3d",
    ]


def test_a_flood_of_changes_is_summed_up_with_the_plurals_right():
    from d7tui.ui.alerts import Alert, summary

    def alert(i: int, failed: bool = False) -> Alert:
        return Alert(f"r{i % 2}", "t", f"+9715{i}", "sent", "x", failed)

    assert summary([alert(1)]) == (
        "1 more status change in 1 request: the rows and timelines show each.",
        False,
    )
    line, failed = summary([alert(1), alert(2), alert(3, failed=True)])
    assert line.startswith("3 more status changes in 2 requests, 1 failed") and failed


def test_the_status_tells_the_outcome_a_failure_first_even_if_another_was_delivered_later():
    wl = Watchlist()
    rid = IDS[0]
    wl.add(Target(rid), "", added_at=100.0)
    both = _status(rid, ("+971500000001", "un_delivered"), ("+971500000002", "sent"))
    _update(wl, rid, both, 105)
    later = _status(rid, ("+971500000001", "un_delivered"), ("+971500000002", "delivered"))
    _update(wl, rid, later, 110)  # the latest event is a delivery
    entry = wl.get(rid)
    assert entry is not None
    assert entry.status_text() == "1 failed · un_delivered"
    assert entry.outcome.phase is Phase.FAILED
    wl.add(Target(IDS[1]), "", added_at=100.0)
    _update(wl, IDS[1], _status(IDS[1], ("+971500000003", "delivered")), 110)
    wl.filter_text = "un_deliv"  # no row that reads "delivered" only
    assert [e.request_id for e in wl.visible()] == [rid]
    wl.filter_text = "1 failed"
    assert [e.request_id for e in wl.visible()] == [rid]


def test_every_watched_id_is_told_apart_in_short():
    from d7tui.shortids import ShortIds

    ids = ShortIds()
    bulks = ["BULK-DEMO-2f1c9e0a71", "BULK-DEMO-8d2b44e016"]
    numeric = ["4197421264953335780", "4197421264953335781"]
    same_start = ["9d056a09-0fc4-4f68-9058-3846d58aa244", "9d056a09-1111-4f68-9058-3846d58aa245"]
    for rid in [*bulks, *numeric, *same_start, "BULK-1"]:
        ids.add(rid)
    shown = {rid: ids.short(rid) for rid in [*bulks, *numeric, *same_start, "BULK-1"]}
    assert len(set(shown.values())) == len(shown)  # no two read alike
    assert shown["BULK-1"] == "BULK-1"  # short ids whole
    assert shown[bulks[0]] == "…1c9e0a71"  # by the end, where they differ
    assert shown[numeric[0]].endswith("35780") and shown[numeric[1]].endswith("35781")
    assert shown[same_start[0]] == "9d056a09-0fc4"  # the first group is shared: one more
    ids.remove(same_start[1])
    assert ids.short(same_start[0]) == "9d056a09"


def test_long_ids_alike_at_every_cut_read_by_where_they_differ():
    from d7tui.shortids import WIDEST, ShortIds

    ids = ShortIds()
    middle = ["A" * 60 + "X" + "B" * 60, "A" * 60 + "Y" + "B" * 60, "A" * 60 + "Z" + "B" * 60]
    # Pasted UUIDs sharing their first twelve characters: the form that tells them apart fits.
    uuids = [f"0000000c-9f2{n:01x}-4{n:03x}-8000-{n:012x}" for n in range(40)]
    for rid in [*middle, *uuids]:
        ids.add(rid)
    shown = {rid: ids.short(rid) for rid in [*middle, *uuids]}
    assert len(set(shown.values())) == len(shown)  # no two read alike
    assert shown[middle[0]] == "…AAAAAAXBBBBB…"
    assert all(len(form) <= ids.width <= WIDEST for form in shown.values())
    ids.remove(middle[1])
    ids.remove(middle[2])
    assert ids.short(middle[0]) == "…BBBBBBBB"  # alone again: by its end


def _matches(form: str, other: str) -> bool:
    """Whether a user matching an id by the form a row shows would take `other` for it."""
    inner = form.strip("…")
    if form.startswith("…") and form.endswith("…"):
        return inner in other
    if form.startswith("…"):
        return other.endswith(inner)
    return other.startswith(inner)


def test_a_short_form_matches_no_other_watched_id_at_its_end():
    """A user finds the customer's id in the list by the end a row shows: the start or end a row
    shows is no other watched id's start or end, whatever that id's kind (the first UUID read
    `…555555555555`, the end of the third too, which is shown by its start)."""
    from d7tui.shortids import ShortIds

    uuids = [
        "12345678-aaaa-4333-8444-555555555555",
        "12345678-aaaa-4333-8444-555555555556",
        "12345678-bbbb-4333-8444-555555555555",
    ]
    others = [
        "9d056a09-0fc4-4f68-9058-3846d58aa244",
        "9d056a09BULK0001",  # a UUID's first group is this id's start
        "4197421264953846d58aa244",  # ...and a UUID's end is this one's end
        "BULK-DEMO-0001",
        "XBULK-DEMO-0001",  # alike to the end: told apart by its start
        "A" * 60 + "X" + "B" * 60,
        "A" * 60 + "Y" + "B" * 60,
        "C" * 60 + "X" + "B" * 60,
    ]
    watched = [*uuids, *others]
    ids = ShortIds()
    for rid in watched:
        ids.add(rid)
    shown = {rid: ids.short(rid) for rid in watched}
    for rid, form in shown.items():
        assert _matches(form, rid), (rid, form)
        assert not [other for other in watched if other != rid and _matches(form, other)], form
        assert len(form) <= ids.width
    assert shown[uuids[0]] == "…a-4333-8444-555555555555"  # the end up to where it parts
    assert shown[uuids[1]] == "…55555556" and shown[uuids[2]] == "12345678-bbbb"
    assert shown["XBULK-DEMO-0001"] == "XBULK-DE…"
    for rid in uuids[1:]:
        ids.remove(rid)
    assert ids.short(uuids[0]) == "12345678"  # alone again: by its first group


def _counted(wl: Watchlist, now: float) -> tuple[object, ...]:
    """The totals counted the plain way, over every entry (what the kept totals must equal)."""
    phases: Counter[Phase] = Counter()
    costs: dict[str | None, float] = {}
    errors: Counter[str] = Counter()
    done = stuck = 0
    unreachable: Counter[str] = Counter()
    for e in wl:
        stuck += e.stuck_count(now, wl.stuck_after)
        done += e.status is WatchStatus.DONE
        if e.status is WatchStatus.AUTH:
            errors["auth refused"] += 1
        elif e.status is WatchStatus.NOT_FOUND:
            errors["not found"] += 1
        elif e.error is not None and not e.not_found:
            errors[e.status_text()] += 1
            if e.error.kind == "unreachable":
                unreachable["d7"] += 1
        for r in e.state.recipients if e.state is not None else ():
            phases[r.phase] += 1
            if r.cost is not None:
                costs[r.currency] = costs.get(r.currency, 0.0) + r.cost
    rounded = {c: round(v, 9) for c, v in costs.items()}
    return +phases, rounded, +errors, done, stuck, +unreachable


def _kept(wl: Watchlist) -> tuple[object, ...]:
    t = wl.totals()
    unreachable = Counter({v: n for v, (n, _) in t.unreachable.items()})
    rounded = {c: round(v, 9) for c, v in t.costs.items()}
    return +t.phases, rounded, +t.errors, t.done, t.stuck, +unreachable


def _sorted(wl: Watchlist) -> list[Entry]:
    """The visible list made the plain way: every entry matched, then sorted."""
    shown = [e for e in wl if wl.matches(e)]
    if wl.sort is SortKey.LAST_CHANGE:
        shown.sort(key=lambda e: (-(e.last_change or e.added_at), e.seq))
    elif wl.sort is SortKey.STATUS:
        shown.sort(key=lambda e: (e.rank(), -(e.last_change or e.added_at), e.seq))
    return shown


def test_the_totals_and_order_kept_as_entries_change_are_those_made_afresh():
    # The status line's totals are kept up to date entry by entry, and the visible list is
    # made by moving the entries that changed (a count and a sort over 100,000 kept keys
    # waiting); after any story of answers, errors, removals, undos, the archive, time passing,
    # sorts and filters, they read as a count over every entry and a fresh sort would.
    rng = random.Random(7)
    now = [1000.0]
    wl = Watchlist(clock=lambda: now[0], stuck_after={"sms": 300.0})
    other = Watchlist(clock=lambda: now[0])
    statuses = ["sent", "delivered", "undelivered", "accepted", "read"]
    removed = []
    for step in range(600):
        rid = f"{rng.randrange(40):04d}abcd-0000-4000-8000-000000000000"
        roll = rng.random()
        if rid not in wl and rid not in other:
            wl.add(Target(rid), "", added_at=now[0])
        elif rid in other:
            if roll < 0.5:
                entry = other.remove(rid)
                assert entry is not None
                wl.put(entry)
        elif roll < 0.55:
            state = _status(
                rid,
                *((f"+97150000{n:04d}", rng.choice(statuses)) for n in range(rng.randrange(4))),
                cost=rng.choice([None, 0.001, 0.0004]),
            )
            _update(wl, rid, state, now[0], status=rng.choice(list(WatchStatus)))
        elif roll < 0.7:
            error = rng.choice(
                [
                    AuthError("sms", "d7_token", status=401),
                    NotFound("sms", "gone"),
                    RateLimited("sms", "slow down"),
                    Unreachable("sms", "x"),
                ]
            )
            _update(wl, rid, None, now[0], error=error, status=rng.choice(list(WatchStatus)))
        elif roll < 0.8:
            entry = wl.remove(rid)
            removed.append(entry)
        elif roll < 0.85 and removed:
            entry = removed.pop()
            if entry is not None and entry.request_id not in wl and entry.request_id not in other:
                wl.restore(entry)
        elif roll < 0.9:
            entry = wl.remove(rid)
            if entry is not None:
                other.put(entry)
        else:
            now[0] += rng.choice([10.0, 100.0, 400.0])
        if step % 7 == 0:
            assert _kept(wl) == _counted(wl, now[0]), step
            assert _kept(other) == _counted(other, now[0]), step
        if step % 5 == 0:
            if rng.random() < 0.1:
                wl.sort = rng.choice(list(SortKey))
                wl.filter_text = rng.choice(["", "", "sent", "000"])
            assert wl.visible() == _sorted(wl), step
    assert _kept(wl) == _counted(wl, now[0])
    wl.stuck_after = {"sms": 50.0}
    assert _kept(wl) == _counted(wl, now[0])


def test_totals_counted_a_slice_at_a_time_show_the_last_whole_count_until_done_then_exact():
    # The screen counts many changed requests (a restart's read: 100,000) a slice a turn of its
    # loop; meanwhile it is given the last whole count, never a part of one; once all are
    # counted, the totals read as a count over every entry.
    now = [1000.0]
    wl = Watchlist(clock=lambda: now[0], stuck_after={"sms": 300.0})
    ids = [f"{i:04d}abcd-0000-4000-8000-000000000000" for i in range(50)]
    for rid in ids:
        wl.add(Target(rid), "", added_at=now[0])
    for rid in ids[:25]:
        _update(wl, rid, _status(rid, ("+971500000001", "delivered")), now[0])
    whole = wl.totals()
    assert whole.phases == Counter({Phase.DELIVERED: 25})
    now[0] += 1
    for rid in ids:
        _update(wl, rid, _status(rid, ("+971500000001", "undelivered")), now[0])
    meanwhile = []
    while True:
        totals = wl.totals(budget=7)
        if not wl.counting:
            break
        meanwhile.append(totals.phases)
    assert len(meanwhile) == 50 // 7
    assert all(phases == whole.phases for phases in meanwhile)
    assert totals.phases == Counter({Phase.FAILED: 50})
    assert _kept(wl) == _counted(wl, now[0])
