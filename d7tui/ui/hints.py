"""What to do about a request that is stuck, in one sentence, where d7tui knows (no Textual).

The detail pane shows it under the status: an error that says what to do beats one that only
says what went wrong."""

from __future__ import annotations

from d7tui.config import Settings
from d7tui.errors import ErrorKind
from d7tui.models import Channel, InfobipSource
from d7tui.pollstate import WatchStatus
from d7tui.watchlist import Entry

NO_REPORT_YET = (
    "Infobip hands each delivery report out once: if another system pulls reports from this "
    'account it may have taken this one. Wait for the report, or set infobip_source = "logs" '
    "(re-readable, last 48 h) and restart."
)
KNOWN_ON = (
    "Not found on {channel}, but {known} knows this id: d stops watching it, then a adds it "
    "with channel {known} (or auto)."
)
NOT_FOUND_D7 = (
    "D7 does not know this id on {channel}: check it was sent on {channel} "
    "(d, then a with channel auto asks sms, whatsapp and viber)."
)


def hint(entry: Entry, settings: Settings) -> str | None:
    state = entry.state
    if (
        entry.channel == Channel.INFOBIP.value
        and entry.error is None
        and state is not None
        and not state.recipients
        and settings.infobip_source is InfobipSource.REPORTS
    ):
        return NO_REPORT_YET
    error = entry.error
    if error is None:
        return None
    if (
        error.kind is ErrorKind.NOT_FOUND
        and entry.status is WatchStatus.NOT_FOUND
        and entry.target.channel in ("sms", "whatsapp", "viber")
    ):
        if entry.known_on:
            return KNOWN_ON.format(channel=entry.target.channel, known=entry.known_on)
        return NOT_FOUND_D7.format(channel=entry.target.channel)
    return None
