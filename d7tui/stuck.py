""" "stuck?": a recipient still waiting for a confirmation long after its channel's usual time, and
why the confirmation may never come. No Textual, no I/O.

Neither vendor documents how long a delivery report takes; what they document is why one may
never come: D7 says `sent` is "awaiting acknowledgement" from the operator (some networks and
countries send none), WhatsApp's `read` needs the user's read receipts, Infobip's
DELIVERED_TO_OPERATOR may never be followed by the handset's report and a pending message is only
given up when its validity (48 h by default) runs out. The defaults below are a few times what a
report normally takes; `[stuck_after]` in config.toml sets them per channel (minutes, 0 = never).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from d7tui.models import Channel, Phase, Recipient
from d7tui.times import vendor_time

# Seconds a recipient may wait for its confirmation before it is flagged "stuck?".
DEFAULT_STUCK_AFTER: dict[str, float] = {
    Channel.SMS.value: 15 * 60.0,
    Channel.INFOBIP.value: 15 * 60.0,
    Channel.VIBER.value: 30 * 60.0,
    # Counted from "delivered" too, while "read" has not come: longer, people read later.
    Channel.WHATSAPP.value: 60 * 60.0,
}


@dataclass(frozen=True, slots=True)
class Stuck:
    recipient: Recipient
    since: float  # unix time the recipient started waiting in its current status
    why: str  # why the confirmation may never come, and what to do


def waiting_since(recipient: Recipient, changed_at: float | None, added_at: float) -> float:
    """Since when the recipient has waited in its current status: when d7tui saw it change to
    it (or the request was added, if it was already so), earlier if Infobip's `sentAt` says the
    message went out before, and never before a schedule time."""
    since = changed_at if changed_at is not None else added_at
    if recipient.phase is Phase.PENDING:
        sent = vendor_time(recipient.fields.get("sentAt"))
        if sent is not None:
            since = min(since, sent)
    scheduled = vendor_time(recipient.schedule_time)
    if scheduled is not None:
        since = max(since, scheduled)
    return since


def waiting(
    recipients: Iterable[Recipient], changed: Mapping[str, float], added_at: float
) -> list[tuple[float, Recipient]]:
    """The recipients waiting for a confirmation that may never come (pending, or delivered but
    not final: WhatsApp before "read", Infobip DELIVERED_TO_OPERATOR), each with since when it
    waits (`waiting_since`), given when d7tui saw each change last (`changed`, by key). Inline for the usual
    recipient, with neither a `sentAt` nor a schedule time: a request of 20,000 recipients is
    looked at again on every change (two calls a recipient took ~150 ms)."""
    out: list[tuple[float, Recipient]] = []
    pending, delivered = Phase.PENDING, Phase.DELIVERED
    for r in recipients:
        phase = r.phase
        if r.final or (phase is not pending and phase is not delivered):
            continue
        at = changed.get(r.key)
        if r.schedule_time or (phase is pending and "sentAt" in r.fields):
            out.append((waiting_since(r, at, added_at), r))
        else:
            out.append((added_at if at is None else at, r))
    return out


def why(channel: str, recipient: Recipient, waited: float) -> str:
    """One line: how long, and why no confirmation may ever come."""
    status = recipient.status or "no status"
    # Not starting with a quote: a spreadsheet cell that does is written with one more.
    head = f"still '{status}' after {_duration(waited)}"
    if channel == Channel.INFOBIP.value:
        if recipient.phase is Phase.DELIVERED:
            return (
                f"{head}: the operator took it, but some operators never report delivery to the "
                "handset. Ask the customer whether it arrived."
            )
        return (
            f"{head}: some operators never return a delivery report; Infobip reports EXPIRED "
            "only when the validity runs out (48 h by default). Ask the customer whether it "
            "arrived."
        )
    if channel == Channel.WHATSAPP.value:
        if recipient.phase is Phase.DELIVERED:
            return (
                f"{head} without 'read': it is on the phone, but if the user turned read "
                "receipts off, 'read' never comes."
            )
        return (
            f"{head}: WhatsApp confirms when the phone comes online; it may be off, or the "
            "number may not use WhatsApp. Ask the customer."
        )
    if channel == Channel.VIBER.value:
        return (
            f"{head}: Viber confirms when the phone comes online; it may be off, or the number "
            "may not use Viber. Ask the customer."
        )
    return (
        f"{head}: some networks and countries never return a delivery report, so it may never "
        "be confirmed. Ask the customer whether it arrived."
    )


def find_stuck(
    channel: str,
    waiting: Sequence[tuple[float, Recipient]],
    now: float,
    after: Mapping[str, float],
) -> list[Stuck]:
    """The waiting recipients (as `(since, recipient)`) that waited longer than the channel's
    threshold (0 or absent: never)."""
    limit = after.get(channel, 0.0)
    if limit <= 0:
        return []
    return [
        Stuck(r, since, why(channel, r, now - since))
        for since, r in waiting
        if now - since >= limit
    ]


def count_stuck(
    channel: str, waiting: Sequence[tuple[float, Recipient]], now: float, after: Mapping[str, float]
) -> int:
    """How many `find_stuck` would return, without writing why (the status line asks for
    10,000 requests at a time)."""
    limit = after.get(channel, 0.0)
    if limit <= 0:
        return 0
    return sum(1 for since, _ in waiting if now - since >= limit)


def _duration(seconds: float) -> str:
    minutes = int(seconds // 60)
    if minutes < 120:
        return f"{max(minutes, 1)} min"
    hours = minutes // 60
    return f"{hours} h" if hours < 48 else f"{hours // 24} days"
