"""The latest state of every request and every transition: saved together, loaded fast.

A poll's merged state and its transitions are one transaction, so a kill leaves both or neither.
Loading is written for a restart with 10,000 ids: plain scans in key order grouped in Python,
rows decoded positionally, the garbage collector paused (tests/test_store_bench.py measures it).
"""

from __future__ import annotations

import contextlib
import gc
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from typing import Any

from d7tui.models import Channel, Recipient, RequestStatus, Transition
from d7tui.store import codec
from d7tui.store.bulk import execute_rows
from d7tui.store.db import Database
from d7tui.store.records import StoredState, Which

DEFAULT_TIMELINE = 1000  # transitions per request loaded at start (all stay in the store)
IDS_PER_QUERY = 500  # ids in one `IN (...)`: well inside SQLite's and PostgreSQL's limits
# Stored states, and the newest transition of each recipient: (when, new status) by request id,
# then recipient key (`load_dated_states_of`).
DatedStates = tuple[dict[str, StoredState], dict[str, dict[str, tuple[float, str | None]]]]

WHICH_WHERE = {
    Which.LIVE: "w.removed_at IS NULL AND w.archived_at IS NULL",
    Which.ARCHIVED: "w.removed_at IS NULL AND w.archived_at IS NOT NULL",
    Which.KEPT: "w.removed_at IS NULL",
    Which.REMOVED: "w.removed_at IS NOT NULL",
    Which.ALL: "1",
}

_COLUMNS = ", ".join(codec.RECIPIENT_COLUMNS)
_RID = len(codec.RECIPIENT_COLUMNS)  # where request_id follows them in a loading row
# The statements that save a batch of observations: each takes all the batch's rows at once
# (`{rows}`, see bulk.py), in the batch's order, so a later poll of the same id wins.
_STATE_UPSERT = (
    "INSERT INTO request_state "
    "(request_id, channel, fields, observed_at, changed_at, final_since) VALUES {rows} "
    "ON CONFLICT (request_id) DO UPDATE SET channel = excluded.channel, "
    "fields = excluded.fields, observed_at = excluded.observed_at, "
    "changed_at = coalesce(excluded.changed_at, request_state.changed_at), "
    "final_since = CASE WHEN excluded.final_since IS NOT NULL "
    "THEN coalesce(request_state.final_since, excluded.final_since) END"
)
_RECIPIENT_UPSERT = (
    f"INSERT INTO recipient (request_id, position, {_COLUMNS}) VALUES {{rows}} "
    # An unchanged recipient is not rewritten: a poll that changed nothing writes one row.
    f"ON CONFLICT (request_id, position) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in codec.RECIPIENT_COLUMNS)
    + f" WHERE ({', '.join(f'recipient.{c}' for c in codec.RECIPIENT_COLUMNS)}) IS NOT "
    f"({', '.join(f'excluded.{c}' for c in codec.RECIPIENT_COLUMNS)})"
)
# Rows past a request's newest count (it had more recipients or bodies before) go.
_TRIM = (
    "WITH v(request_id, count) AS (VALUES {{rows}}) DELETE FROM {table} "
    "WHERE (request_id, position) IN (SELECT t.request_id, t.position FROM v "
    "JOIN {table} t ON t.request_id = v.request_id AND t.position >= v.count)"
)
_RAW_UPSERT = (
    "INSERT INTO state_raw (request_id, position, body) VALUES {rows} "
    "ON CONFLICT (request_id, position) DO UPDATE SET body = excluded.body "
    "WHERE state_raw.body IS NOT excluded.body"
)
_TRANSITION_INSERT = (
    f"INSERT INTO transition ({', '.join(codec.TRANSITION_COLUMNS)}) VALUES {{rows}}"
)
_RESOLVE_AUTO = (
    "WITH v(request_id, channel) AS (VALUES {rows}) "
    "UPDATE watch SET resolved_channel = v.channel FROM v "
    "WHERE watch.request_id = v.request_id AND watch.channel = 'auto' "
    "AND watch.resolved_channel IS NOT v.channel"
)

# One poll's result as saved: the merged state, the transitions it produced, and when.
Observation = tuple[RequestStatus, Sequence[Transition], float | None]


# The newest transition of each recipient of these requests (`{marks}`: their ids).
_NEWEST_TRANSITIONS = (
    "SELECT request_id, recipient_key, old_status, new_status FROM transition WHERE id IN "
    "(SELECT max(id) FROM transition WHERE request_id IN ({marks}) "
    "GROUP BY request_id, recipient_key)"
)


def _not_stored_yet(conn: sqlite3.Connection, rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """The transition rows of a batch but a recipient's first one when the store's newest
    transition of that recipient is the same change (the same old and new status): it is
    stored already, by another poller of the same change. A transition is a change of status,
    so the same change twice in a row is one change seen twice: a leader stopped in the middle
    of its commit (kill -STOP, a suspended laptop) commits it when it runs again, after the
    monitor that took over its lead polled the same change; a desk's write ended by the server
    is written again. Only rows with a transition are asked about: one query a batch that has
    any, none for polls that changed nothing."""
    if not rows:
        return rows
    first: dict[tuple[str, str], int] = {}
    for n, row in enumerate(rows):  # codec.transition_row: at, request_id, recipient_key, ...
        first.setdefault((row[1], row[2]), n)
    rids = sorted({rid for rid, _ in first})
    newest: dict[tuple[str, str], tuple[Any, Any]] = {}
    for start in range(0, len(rids), IDS_PER_QUERY):
        chunk = rids[start : start + IDS_PER_QUERY]
        sql = _NEWEST_TRANSITIONS.format(marks=", ".join("?" * len(chunk)))
        for rid, key, old, new in conn.execute(sql, chunk):
            newest[(rid, key)] = (old, new)
    repeated = {n for at, n in first.items() if newest.get(at) == (rows[n][4], rows[n][5])}
    return [row for n, row in enumerate(rows) if n not in repeated] if repeated else rows


class _GcPause:
    """Pause the cyclic garbage collector while a big load builds its objects.

    Loading 10,000 ids makes some 100,000 acyclic objects, and the collector would walk the
    growing heap again and again for nothing: a third of the load time, measured. Refcounting
    still frees everything; the collector runs again after. Counted: loads may overlap on two
    threads, and the last one out turns it back on (unless it was off to begin with).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._holds = 0
        self._resume = False

    @contextlib.contextmanager
    def __call__(self) -> Iterator[None]:
        with self._lock:
            if self._holds == 0:
                self._resume = gc.isenabled()
                gc.disable()
            self._holds += 1
        try:
            yield
        finally:
            with self._lock:
                self._holds -= 1
                if self._holds == 0 and self._resume:
                    gc.enable()


without_gc = _GcPause()


def ids_of(which: Which | None) -> str:
    """A WHERE clause on `request_id` selecting the ids of a part of the watchlist."""
    if which is None:
        return "1"
    return f"request_id IN (SELECT w.request_id FROM watch w WHERE {WHICH_WHERE[Which(which)]})"


class StatesMixin(Database):
    """States and transitions; part of `Store`."""

    def save_observation(
        self,
        state: RequestStatus,
        transitions: Sequence[Transition] = (),
        *,
        at: float | None = None,
    ) -> None:
        """Store the merged state of a request (from `models.observe`) and the transitions that
        observation produced, in one transaction: after a kill, both or neither.

        For an `auto` watch, the channel that answered (`state.channel`) is remembered too.
        """
        self.save_observations([(state, transitions, at)])

    def save_observations(self, observations: Sequence[Observation]) -> None:
        """`save_observation` for many polls at once, in order, in one transaction and one
        statement per table (see bulk.py): what the writer thread does with a batch."""
        states: list[tuple[Any, ...]] = []
        recipients: list[tuple[Any, ...]] = []
        raws: list[tuple[Any, ...]] = []
        transitions: list[tuple[Any, ...]] = []
        latest: dict[str, RequestStatus] = {}
        recipient_row = codec.recipient_row
        for state, items, at in observations:
            if state.incremental:
                # An Infobip pull holds only what is new: stored as the state, it would forget
                # every recipient reported before. Merge it with `models.observe` first.
                raise ValueError("save_observation takes the merged state from observe()")
            now = time.time() if at is None else at
            rid = state.request_id
            states.append(
                (
                    rid,
                    state.channel.value,
                    codec.dumps_fields(state.fields),
                    now,
                    max((t.at for t in items), default=None),
                    now if state.final else None,
                )
            )
            recipients.extend((rid, i, *recipient_row(r)) for i, r in enumerate(state.recipients))
            raws.extend((rid, i, bytes(body)) for i, body in enumerate(state.raw))
            transitions.extend(codec.transition_row(t) for t in items)
            latest.pop(rid, None)  # re-inserted: the dict keeps the batch's last order
            latest[rid] = state
        with self.batch() as conn:
            transitions = _not_stored_yet(conn, transitions)  # before this batch's own
            execute_rows(conn, _STATE_UPSERT, states)
            execute_rows(conn, _RECIPIENT_UPSERT, recipients)
            execute_rows(
                conn,
                _TRIM.format(table="recipient"),
                [(rid, len(state.recipients)) for rid, state in latest.items()],
            )
            execute_rows(conn, _RAW_UPSERT, raws)
            execute_rows(
                conn,
                _TRIM.format(table="state_raw"),
                [(rid, len(state.raw)) for rid, state in latest.items()],
            )
            execute_rows(conn, _TRANSITION_INSERT, transitions)
            execute_rows(
                conn, _RESOLVE_AUTO, [(rid, state.channel.value) for rid, state in latest.items()]
            )

    def load_state(self, request_id: str, *, with_raw: bool = True) -> StoredState | None:
        return self.load_states_of([request_id], with_raw=with_raw).get(request_id)

    def load_states_of(
        self, request_ids: Sequence[str], *, with_raw: bool = True
    ) -> dict[str, StoredState]:
        """The stored states of these ids (those the store has), as one consistent read: a
        desk's follower reads what the leader changed this way, a few queries for a batch
        rather than a transaction per id."""
        return self._states_of(request_ids, with_raw, None)

    def load_dated_states_of(self, request_ids: Sequence[str]) -> DatedStates:
        """`load_states_of`, and the newest transition of each of their recipients (when, to
        which status; by request id, then recipient key), in the same read: what a desk's
        follower takes from the leader, dated as the leader stored it."""
        changes: dict[str, dict[str, tuple[float, str | None]]] = {}
        return self._states_of(request_ids, True, changes), changes

    def _states_of(
        self,
        request_ids: Sequence[str],
        with_raw: bool,
        changes: dict[str, dict[str, tuple[float, str | None]]] | None,
    ) -> dict[str, StoredState]:
        out: dict[str, StoredState] = {}
        with self.reading() as conn:
            for start in range(0, len(request_ids), IDS_PER_QUERY):
                chunk = tuple(request_ids[start : start + IDS_PER_QUERY])
                where = f"request_id IN ({', '.join('?' * len(chunk))})"
                out.update(self._states(conn, where, chunk, with_raw))
                if changes is None:
                    continue
                for rid, key, at, status in conn.execute(
                    "SELECT request_id, recipient_key, at, new_status FROM transition "
                    f"WHERE {where} ORDER BY request_id, id",
                    chunk,
                ):
                    found = changes.get(rid)
                    if found is None:
                        found = changes[rid] = {}
                    found[key] = (at, status)  # in stored order: the newest stays
        return out

    def load_states(
        self, which: Which | None = Which.KEPT, *, with_raw: bool = True
    ) -> dict[str, StoredState]:
        """The stored state of every watched id (`which`), or of every id ever seen (None)."""
        with without_gc(), self.reading() as conn:
            return self._states(conn, ids_of(which), (), with_raw)

    def _states(
        self,
        conn: sqlite3.Connection,
        where: str,
        params: tuple[Any, ...],
        with_raw: bool,
        with_recipients: bool = True,
    ) -> dict[str, StoredState]:
        # Three plain scans in key order, grouped here: no join, no sort (see the 10,000-id
        # measurement in tests/test_store_bench.py).
        recipients: dict[str, list[Recipient]] = {}
        from_row = codec.recipient_from_row
        rows = (
            conn.execute(
                f"SELECT {', '.join(codec.RECIPIENT_COLUMNS)}, request_id FROM recipient "
                f"WHERE {where} ORDER BY request_id, position",
                params,
            )
            if with_recipients  # the head of each state only (an export's watchlist)
            else ()
        )
        for row in rows:
            found = recipients.get(row[_RID])
            if found is None:
                found = recipients[row[_RID]] = []
            found.append(from_row(row))
        raw: dict[str, list[bytes]] = {}
        if with_raw:
            for rid, body in conn.execute(
                f"SELECT request_id, body FROM state_raw WHERE {where} "
                "ORDER BY request_id, position",
                params,
            ):
                raw.setdefault(rid, []).append(bytes(body))
        out: dict[str, StoredState] = {}
        for rid, channel, fields, observed_at, changed_at, final_since in conn.execute(
            "SELECT request_id, channel, fields, observed_at, changed_at, final_since "
            f"FROM request_state WHERE {where}",
            params,
        ):
            state = RequestStatus(
                request_id=rid,
                channel=Channel(channel),
                recipients=tuple(recipients.get(rid, ())),
                fields=codec.loads_fields(fields),
                raw=tuple(raw.get(rid, ())),
            )
            out[rid] = StoredState(state, observed_at, changed_at, final_since)
        return out

    def transitions(self, request_id: str | None = None) -> list[Transition]:
        """Every transition of one request (or of all), oldest first."""
        columns = ", ".join(codec.TRANSITION_COLUMNS)
        if request_id is None:
            rows = self._all(f"SELECT {columns} FROM transition ORDER BY id")
        else:
            rows = self._all(
                f"SELECT {columns} FROM transition WHERE request_id = ? ORDER BY id", (request_id,)
            )
        return [codec.transition_from_row(row) for row in rows]

    def timelines(
        self, which: Which = Which.KEPT, *, limit: int | None = DEFAULT_TIMELINE
    ) -> dict[str, list[Transition]]:
        """The newest `limit` transitions of every watched id, oldest first."""
        with without_gc(), self.reading() as conn:
            return self._timelines(conn, ids_of(which), (), limit)

    def _timelines(
        self, conn: sqlite3.Connection, where: str, params: tuple[Any, ...], limit: int | None
    ) -> dict[str, list[Transition]]:
        # In (request_id, id) index order, trimmed here: a window function would sort them all.
        out: dict[str, list[Transition]] = {}
        if limit == 0:
            return out
        from_row = codec.transition_from_row
        for row in conn.execute(
            f"SELECT {', '.join(codec.TRANSITION_COLUMNS)} FROM transition "
            f"WHERE {where} ORDER BY request_id, id",
            params,
        ):
            found = out.get(row[1])
            if found is None:
                found = out[row[1]] = []
            found.append(from_row(row))
        if limit is not None:
            for rid, timeline in out.items():
                if len(timeline) > limit:
                    out[rid] = timeline[-limit:]
        return out
