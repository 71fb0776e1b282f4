"""What the store hands back: plain frozen dataclasses around the model objects."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from d7tui.models import IdKind, Recipient, RequestStatus, Target, Transition


class Which(StrEnum):
    """Which part of the watchlist to list."""

    LIVE = "live"  # polled and shown
    ARCHIVED = "archived"  # final for a while: shown in the archive view, not polled
    KEPT = "kept"  # live and archived: everything the user has not removed
    REMOVED = "removed"  # removed, history kept (undo / restore)
    ALL = "all"


@dataclass(frozen=True, slots=True)
class WatchRecord:
    """One watched id as stored."""

    request_id: str
    channel: str  # what the user asked: "auto" or a Channel value
    id_kind: IdKind
    label: str
    note: str
    added_at: float
    resolved_channel: str | None  # for "auto": the channel that answered, once known
    archived_at: float | None
    removed_at: float | None
    seq: int  # the order of adding (stable across restarts and restores)
    added_by: str | None = None  # who did what (a desk shares one database)
    noted_by: str | None = None  # who last wrote the label or note ...
    noted_at: float | None = None  # ... and when
    archived_by: str | None = None

    @property
    def target(self) -> Target:
        return Target(self.request_id, self.channel, self.id_kind)

    @property
    def poll_channel(self) -> str:
        """The channel to ask: the one that answered before, else the one asked for."""
        return self.resolved_channel or self.channel

    @property
    def archived(self) -> bool:
        return self.archived_at is not None


@dataclass(frozen=True, slots=True)
class StoredState:
    """The latest known state of a request and when it was learnt."""

    state: RequestStatus
    observed_at: float  # the poll that produced it
    changed_at: float | None  # the last transition
    final_since: float | None  # every recipient final since then (None: not all final)


@dataclass(frozen=True, slots=True)
class StoredReport:
    """One Infobip one-time report, as parsed from a body the store kept."""

    id: int
    ident: str  # the bulkId/messageId it was pulled for
    body_id: int
    received_at: float
    recipient: Recipient


@dataclass(frozen=True, slots=True)
class ReportBody:
    """A raw reports body, exactly as received."""

    id: int
    ident: str
    received_at: float
    body: bytes
    parse_error: str | None = None


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Everything the monitor shows at start, read in one consistent transaction."""

    watches: list[WatchRecord] = field(default_factory=list)
    states: dict[str, StoredState] = field(default_factory=dict)
    # The newest transitions of every watched request (at most the limit asked), oldest first.
    timelines: dict[str, list[Transition]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Absorbed:
    """What `Store.absorb` wrote of a snapshot a process held in memory."""

    requests: int
    states: int
    transitions: int
    filled: int = 0  # labels and notes written where the store had none (empty)

    def said(self) -> str:
        kind = "label or note" if self.filled == 1 else "labels and notes"
        filled = f", {self.filled:,} {kind} it lacked"
        return (
            f"{_count(self.requests, 'request')} with labels and notes, "
            f"{_count(self.states, 'last state')}, {_count(self.transitions, 'transition')}"
            + (filled if self.filled else "")
        )

    @staticmethod
    def lost() -> str:
        # What a monitor does not hold in memory: only the lost file had it.
        return (
            "only the old file had removed requests, older transitions, raw answers and "
            "reports, and what was written elsewhere and not kept in its WAL"
        )


@dataclass(frozen=True, slots=True)
class Copied:
    """A copy of a database file written back, checked before it is said to be whole: against
    the file it was read from (`had_*`), and against what the process shows (`filled`: what it
    held that the copy lacked, written into it)."""

    requests: int
    transitions: int
    had_requests: int
    had_transitions: int
    filled: Absorbed | None = None

    @property
    def whole(self) -> bool:
        """Everything the file had and the process shows is in the copy."""
        return (
            self.filled is None
            and self.requests >= self.had_requests
            and self.transitions >= self.had_transitions
        )

    def said(self, it: str = "it") -> str:
        """How `it` was written back, for the line on screen."""
        counts = f"{_count(self.requests, 'request')}, {_count(self.transitions, 'transition')}"
        if self.whole:
            return f"{it} was written back whole and checked ({counts}): nothing is lost"
        if self.filled is not None:
            return (
                f"{it} was written back ({counts}); {_count(self.filled.requests, 'request')} "
                f"d7tui shows {'was' if self.filled.requests == 1 else 'were'} missing from "
                f"the copy, written from what it held ({self.filled.said()})"
            )
        return (
            f"{it} was written back, but the copy holds less than the file had "
            f"({self.requests:,} of {_count(self.had_requests, 'request')}, "
            f"{self.transitions:,} of {_count(self.had_transitions, 'transition')})"
        )


def _count(n: int, what: str) -> str:
    return f"{n:,} {what}" + ("" if n == 1 else "s")
