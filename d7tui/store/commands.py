"""What the CLI (and the UI's add box) ask of the store, without argparse or printing.

`open_store` is how every entry point should open the database: it also re-parses Infobip
bodies a previous run committed but never parsed.
"""

from __future__ import annotations

import getpass
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NamedTuple, TextIO

from d7tui.idinput import check_ids, gather_ids
from d7tui.models import (
    CHANNEL_CHOICES,
    Channel,
    IdKind,
    RequestStatus,
    StoredAnswer,
    Target,
    observe,
    own_items,
)
from d7tui.safety import one_line
from d7tui.store import sides
from d7tui.store.core import Store
from d7tui.store.db import default_path
from d7tui.store.errors import StoreError, StoreUnavailable
from d7tui.store.records import StoredState, WatchRecord
from d7tui.store.reports import ReportParser
from d7tui.store.rescue import said_left, said_taken, said_waiting, take_in, waiting


def os_user() -> str | None:
    """The operating system's name for whoever runs d7tui."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return None


def local_place(path: Path | str | None) -> Path:
    """Where the local files of the store at `path` go (held writes, exports): the SQLite file
    itself, or for a desk's `postgresql://` URL the name its held writes are kept under in the
    user data directory (pg.local_path), so that the next open of that database takes them in."""
    if isinstance(path, str) and path.startswith(("postgresql://", "postgres://")):
        from d7tui.store.pg import local_path  # psycopg only for those who use it

        return local_path(path)
    return Path(path) if path is not None else default_path()


def open_store(
    path: Path | str | None = None,
    *,
    readonly: bool = False,
    parse_report: ReportParser | None = None,
    user: str | None = None,
) -> Store:
    """`Store.open` (`PgStore.open` for a `postgresql://` URL), then parse what a killed or
    buggy run left unparsed, and take in the writes a run that ended on a full disk kept in a
    file (rescue.py). Raises StoreError.

    `readonly`: only to read (an export); nothing is created, changed or parsed.
    `parse_report`: the Infobip reports parser (channels/infobip.parse_page); without it, what
    is left unparsed stays for an open that has one (the store parses nothing itself).
    `user`: the name kept with what is added, noted, archived (the OS user's by default)."""
    if isinstance(path, str) and path.startswith(("postgresql://", "postgres://")):
        from d7tui.store.pg import PgStore  # psycopg only for those who use it

        store: Store = PgStore.open(path, readonly=readonly)
    else:
        store = Store.open(path, readonly=readonly)
    store.actor = user or os_user()
    store.report_lock.user = store.actor  # named in the lock file, for the followers
    if readonly:
        held = waiting(store.path)
        if held.waiting:
            store.warnings.append(said_waiting(held.waiting))
        if held.left and (left := said_left(held.left)):  # never counted as to be taken in
            store.warnings.append(left)
        return store
    if parse_report is None:
        return store
    try:
        store.reindex_unparsed(parse_report)
        intake = take_in(store, parse_report)
    except StoreUnavailable:
        pass  # the disk is full or locked: the bodies are safe, taken in at a later open
    except BaseException:
        store.close()
        raise
    else:
        if intake.taken:
            store.warnings.append(said_taken(intake.taken))
        if intake.left and (left := said_left(intake.left)):
            store.warnings.append(left)
    return store


class Replaced(NamedTuple):
    """A label or note of an id already watched that `add` replaced: what it was, and is."""

    request_id: str
    what: str  # "label" or "note"
    was: str
    now: str

    def said(self) -> str:
        """One line, the old text whole: it is kept in no other place now."""
        return (
            f"{self.request_id}: {self.what} replaced: was {_quoted(self.was)}, "
            f"now {_quoted(self.now)}"
        )


def _quoted(text: str) -> str:
    return f"'{one_line(text, 5000)}'"


class AddResult(NamedTuple):
    added: list[str]  # ids new to the watchlist (a removed id added again counts as new)
    merged: list[str]  # ids already watched (label/note/channel updated if given)
    errors: list[str]  # one line per id refused; nothing was stored for those
    replaced: tuple[Replaced, ...] = ()  # labels and notes of merged ids that were replaced
    kept: tuple[WatchRecord, ...] = ()  # merged ids whose label and note were kept (`keep`)
    # merged ids asked for on another channel or as another kind: left as they were, one line each
    unswitched: tuple[str, ...] = ()


def _watched_as(channel: str, id_kind: str) -> str:
    return f"an Infobip {id_kind}" if channel == "infobip" else f"a D7 {channel} request"


def _switch_refused(before: WatchRecord, channel: str, id_kind: str) -> str | None:
    """Why an id watched on one channel (or as one Infobip kind) is not switched to another by
    `add`: a mistyped `--channel` turned a found request into "not found", with the output
    saying nothing had changed, and a running monitor went on polling the old way."""
    if before.channel == "auto" or channel == "auto":
        return None  # "auto" fills in or keeps a channel; it never replaces one
    if (before.channel, str(before.id_kind)) == (channel, str(id_kind)):
        return None
    return (
        f"{before.request_id}: already watched as {_watched_as(before.channel, before.id_kind)}; "
        f"left so (to watch it as {_watched_as(channel, id_kind)}, remove it with "
        "d in the monitor, then add it again)"
    )


def add_ids(
    store: Store,
    ids: Sequence[str],
    channel: str = "auto",
    id_kind: IdKind = IdKind.REQUEST,
    label: str | None = None,
    *,
    note: str | None = None,
    stdin: TextIO | None = None,
    at: float | None = None,
    keep: bool = False,
) -> AddResult:
    """`d7tui add ID... [--channel C] [--label L]`: validate and watch ids, in one transaction.

    Each argument may hold several ids (white space, commas); `-` reads standard input (once).
    A bad id is one line in `errors` and is not stored; the good ones are still added. An id
    already watched gets the label and note given, and what they replaced is in `replaced`
    (said, so that nothing typed before is lost without a word); with `keep`, it keeps its own.
    """
    if channel not in CHANNEL_CHOICES:
        return AddResult([], [], [f"unknown channel {channel!r} ({', '.join(CHANNEL_CHOICES)})"])
    tokens, unreadable = gather_ids(ids, stdin or sys.stdin)
    checked = check_ids(tokens, channel, id_kind, unique=False)
    added: list[str] = []
    merged: list[str] = []
    replaced: list[Replaced] = []
    kept: list[WatchRecord] = []
    unswitched: list[str] = []
    with store.batch():
        for target in checked.targets:
            request_id = target.request_id
            before = store.watch(request_id)
            watched = before is not None and before.removed_at is None
            given = (None, None) if keep and watched else (label, note)
            asked = channel
            refused = (
                _switch_refused(before, channel, target.id_kind) if watched and before else None
            )
            if refused:
                unswitched.append(refused)
                asked = "auto"  # the label and note still apply; the channel stays
            new = store.add_watch(
                request_id, asked, target.id_kind, label=given[0], note=given[1], added_at=at
            )
            (added if new else merged).append(request_id)
            after = store.watch(request_id)
            if not watched or before is None or after is None:
                continue
            if keep:
                kept.append(after)
            for what, was, now in (
                ("label", before.label, after.label),
                ("note", before.note, after.note),
            ):
                if was and was != now:
                    replaced.append(Replaced(request_id, what, was, now))
    return AddResult(
        added,
        merged,
        unreadable + checked.problems,
        tuple(replaced),
        tuple(kept),
        tuple(unswitched),
    )


class AddUnsure(StoreUnavailable):
    """Ids were committed, but whether they are in the store cannot be made sure of: the files
    beside it kept changing under the commits (`add_ids_landed`)."""


def _then(first: AddResult, again: AddResult) -> AddResult:
    """What two tries of one add did together: an id new in either was added (the first try's
    commit may have been lost, or not); a label or note replaced is said once, as it was."""
    added = list(dict.fromkeys([*first.added, *again.added]))
    new = set(added)
    said = {(r.request_id, r.what) for r in first.replaced}
    return again._replace(
        added=added,
        merged=[rid for rid in again.merged if rid not in new],
        replaced=first.replaced
        + tuple(r for r in again.replaced if (r.request_id, r.what) not in said),
    )


def add_ids_landed(
    open_: Callable[[], Store],
    ids: Sequence[str],
    channel: str = "auto",
    id_kind: IdKind = IdKind.REQUEST,
    label: str | None = None,
    *,
    note: str | None = None,
    keep: bool = False,
) -> AddResult:
    """`add_ids` on the store `open_` opens, made sure of once committed: the files at the
    store's path must still be those the commit went into (`Store.adrift`). A `-wal` deleted
    under the commit, or the file set aside by a monitor writing the store back from its copy
    a moment before, held the ids where no d7tui reads them, and `d7tui add` said "added". If
    so, the add is done again on the store as it is then (an id added twice is added once).
    Raises StoreError; `AddUnsure` once a try was committed (its ids may be in the store)."""
    done: AddResult | None = None
    deadline = time.monotonic() + sides.OPEN_WAIT
    while True:
        try:
            result, adrift = _add_once(open_, deadline, ids, channel, id_kind, label, note, keep)
        except StoreError as exc:
            if done is None:
                raise
            raise AddUnsure(f"{exc}; the ids may not all be in the store") from None
        if result is not None:
            done = result if done is None else _then(done, result)
        if adrift is None and done is not None:
            return done
        if time.monotonic() >= deadline:
            if done is None:
                raise StoreUnavailable(f"{adrift} each time the ids were being added")
            raise AddUnsure(
                f"{adrift} each time the ids were added: they may not all be in the store"
            )


def _add_once(
    open_: Callable[[], Store],
    deadline: float,
    ids: Sequence[str],
    channel: str,
    id_kind: IdKind,
    label: str | None,
    note: str | None,
    keep: bool,
) -> tuple[AddResult | None, str | None]:
    """One try of `add_ids_landed`: what it did (None: nothing, the store stopped it because
    its files moved, in time to try again), and why it may not have landed (None: it did)."""
    store = open_()
    try:
        try:
            result = add_ids(store, ids, channel, id_kind, label, note=note, keep=keep)
        except StoreUnavailable:  # a -wal or -shm found changed before the commit
            adrift = store.adrift() or sides.problem_at_open(store.path)
            if adrift is None or time.monotonic() >= deadline:
                raise
            return None, adrift
        # Another d7tui still on a -wal or -shm no longer at the path: what it writes back may
        # lack this commit; done again once it has put its files right.
        return result, store.adrift() or sides.problem_at_open(store.path)
    finally:
        store.close()


def remembered_status(store: Store, target: Target) -> RequestStatus | None:
    """What the store knows of an id, without asking any API (None: nothing).

    The latest state saved by a poll, with every Infobip report received after that poll
    applied on top (a report pulled once, by the monitor or by `d7tui status`, is shown again).
    """
    stored = store.load_state(target.request_id)
    return _with_reports(store, target, stored)


def remembered_statuses(store: Store, targets: Sequence[Target]) -> dict[str, StoredAnswer | None]:
    """`remembered_status` of many ids: their states in one read (a desk's follower reading
    what the leader just wrote), Infobip's reports applied to each that may have some, dated
    as stored (when polled, when changed, when each recipient changed last)."""
    stored, changes = store.load_dated_states_of([t.request_id for t in targets])
    out: dict[str, StoredAnswer | None] = {}
    for t in targets:
        kept = stored.get(t.request_id)
        state = _with_reports(store, t, kept)
        out[t.request_id] = (
            None
            if state is None
            else StoredAnswer.of(
                state,
                kept.observed_at if kept is not None else None,
                kept.changed_at if kept is not None else None,
                changes.get(t.request_id, {}),
            )
        )
    return out


def _with_reports(store: Store, target: Target, stored: StoredState | None) -> RequestStatus | None:
    state = stored.state if stored is not None else None
    if target.channel not in (Channel.INFOBIP.value, "auto") and (
        state is None or state.channel is not Channel.INFOBIP
    ):
        return state
    since = stored.observed_at if stored is not None else float("-inf")
    reports = [r for r in store.reports_for(target.request_id) if r.received_at > since]
    # A report pulled for this id but naming another (a server that ignored the filter) is
    # that other id's, not this one's.
    mine, _ = own_items((r.recipient for r in reports), target.request_id)
    if not mine:
        return state
    update = RequestStatus(
        request_id=target.request_id,
        channel=Channel.INFOBIP,
        recipients=tuple(mine),
        incremental=True,
    )
    merged, _ = observe(state, update, reports[-1].received_at)
    return merged
