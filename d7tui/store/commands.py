"""What the CLI (and the UI's add box) ask of the store, without argparse or printing.

`open_store` is how every entry point should open the database: it also re-parses Infobip
bodies a previous run committed but never parsed.
"""

from __future__ import annotations

import getpass
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple, TextIO

from d7tui.channels import infobip
from d7tui.errors import ProtocolError
from d7tui.models import (
    CHANNEL_CHOICES,
    Channel,
    IdKind,
    InvalidId,
    Recipient,
    RequestStatus,
    Target,
    observe,
    split_ids,
    validate_id,
)
from d7tui.store.core import Store
from d7tui.store.errors import StoreUnavailable, UnreadableBody
from d7tui.store.rescue import take_in


def parse_report_body(body: bytes) -> list[Recipient]:
    """The store's ReportParser for Infobip bodies: the channel layer's own parser, with "not a
    reports page" told apart from a parser bug (see UnreadableBody)."""
    try:
        return infobip.parse_page(body)
    except ProtocolError as exc:
        raise UnreadableBody(exc.message) from None


def os_user() -> str | None:
    """The operating system's name for whoever runs d7tui."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return None


def open_store(
    path: Path | str | None = None, *, readonly: bool = False, user: str | None = None
) -> Store:
    """`Store.open` (`PgStore.open` for a `postgresql://` URL), then parse what a killed or
    buggy run left unparsed, and take in the report bodies a run that ended on a full disk kept
    in a file (rescue.py). `user`: the name kept
    with what is done (the OS user's by default). Raises StoreError.

    `readonly`: only to read (an export); nothing is created, changed or parsed."""
    if isinstance(path, str) and path.startswith(("postgresql://", "postgres://")):
        from d7tui.store.pg import PgStore  # psycopg only for those who use it

        store: Store = PgStore.open(path, readonly=readonly)
    else:
        store = Store.open(path, readonly=readonly)
    store.actor = user or os_user()  # kept with what is added, noted, archived
    if readonly:
        return store
    try:
        store.reindex_unparsed(parse_report_body)
        taken = take_in(store, parse_report_body)
    except StoreUnavailable:
        pass  # the disk is full or locked: the bodies are safe, taken in at a later open
    except BaseException:
        store.close()
        raise
    else:
        if taken:
            store.warnings.append(
                f"{taken:,} Infobip report bodies a previous run could not store were taken in"
            )
    return store


class AddResult(NamedTuple):
    added: list[str]  # ids new to the watchlist (a removed id added again counts as new)
    merged: list[str]  # ids already watched (label/note/channel updated if given)
    errors: list[str]  # one line per id refused; nothing was stored for those


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
) -> AddResult:
    """`d7tui add ID... [--channel C] [--label L]`: validate and watch ids, in one transaction.

    Each argument may hold several ids (white space, commas); `-` reads standard input (once).
    A bad id is one line in `errors` and is not stored; the good ones are still added.
    """
    if channel not in CHANNEL_CHOICES:
        return AddResult([], [], [f"unknown channel {channel!r} ({', '.join(CHANNEL_CHOICES)})"])
    if channel != Channel.INFOBIP.value:
        id_kind = IdKind.REQUEST  # only Infobip has id kinds
    tokens: list[str] = []
    stdin_read = False
    for raw in ids:
        if raw == "-":
            if not stdin_read:
                tokens.extend(split_ids((stdin or sys.stdin).read()))
                stdin_read = True
        else:
            tokens.extend(split_ids(raw))
    valid: list[str] = []
    errors: list[str] = []
    for token in tokens:
        try:
            valid.append(validate_id(token, channel))
        except InvalidId as exc:
            errors.append(str(exc))
    added: list[str] = []
    merged: list[str] = []
    with store.batch():
        for request_id in valid:
            new = store.add_watch(request_id, channel, id_kind, label=label, note=note, added_at=at)
            (added if new else merged).append(request_id)
    return AddResult(added, merged, errors)


def remembered_status(store: Store, target: Target) -> RequestStatus | None:
    """What the store knows of an id, without asking any API (None: nothing).

    The latest state saved by a poll, with every Infobip report received after that poll
    applied on top (a report pulled once, by the monitor or by `d7tui status`, is shown again).
    """
    stored = store.load_state(target.request_id)
    state = stored.state if stored is not None else None
    if target.channel not in (Channel.INFOBIP.value, "auto") and (
        state is None or state.channel is not Channel.INFOBIP
    ):
        return state
    since = stored.observed_at if stored is not None else float("-inf")
    reports = [r for r in store.reports_for(target.request_id) if r.received_at > since]
    if not reports:
        return state
    update = RequestStatus(
        request_id=target.request_id,
        channel=Channel.INFOBIP,
        recipients=tuple(r.recipient for r in reports),
        incremental=True,
    )
    merged, _ = observe(state, update, reports[-1].received_at)
    return merged
