"""How values read on screen. Every external string becomes a `rich.text.Text` built from the
plain value (never parsed as markup); styles are added around it, from our own code only."""

from __future__ import annotations

import re
import time
from collections.abc import Mapping

from rich.text import Text

from d7tui.models import Phase
from d7tui.output import PHASE_SYMBOL, cost_text, format_cost, format_parts
from d7tui.pollstate import RateHold
from d7tui.shortids import forms
from d7tui.watchlist import Entry

__all__ = [
    "PHASE_SYMBOL",
    "cost_text",
    "format_age",
    "format_clock",
    "format_cost",
    "format_parts",
    "mask_recipient",
    "phase_counts_text",
    "short_id",
]

MASK = "•"
NOT_SHOWN = "-"
# A request the API does not know (yet): not `?`, which is a status d7tui does not know.
NOT_FOUND_SYMBOL = "⊘"


def mask_recipient(value: str | None) -> str:
    """A phone number or address with its middle hidden: +971509752626 -> +97150•••••26.
    A leading + is not one of the digits shown: the number written with or without it (the
    recipient column, a label) hides the same digits, 971509752626 -> 97150•••••26."""
    if not value:
        return NOT_SHOWN
    sign = "+" if value.startswith("+") else ""
    digits = value[len(sign) :]
    if len(digits) >= 8:
        return sign + digits[:5] + MASK * (len(digits) - 7) + digits[-2:]
    if len(digits) >= 4:
        return sign + digits[:1] + MASK * (len(digits) - 2) + digits[-1:]
    return sign + MASK * len(digits)


# A phone number (or another long run of digits) inside free text: an API's reason, a label.
_NUMBER = re.compile(r"(?<![\w-])\+?\d[\d ]{6,}\d(?![\w-])")


def mask_numbers(text: str) -> str:
    """Free text with every phone number in it masked as recipients are: privacy mode hides the
    number wherever it shows, not only in the recipient column."""
    return _NUMBER.sub(lambda m: mask_recipient(m.group().replace(" ", "")), text)


def free_text(text: str, masked: bool) -> str:
    """An API's reason, a label or a note, as privacy mode shows it."""
    return mask_numbers(text) if masked else text


def recipient_text(value: str | None, masked: bool) -> str:
    if masked:
        return mask_recipient(value)
    return value or NOT_SHOWN


def short_id(request_id: str) -> str:
    """An id in short, where nothing else needs telling apart (the list uses the watchlist's
    ShortIds, which tells every watched id apart)."""
    return forms(request_id)[0]


def format_age(seconds: float | None) -> str:
    if seconds is None:
        return NOT_SHOWN
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{int(seconds)}s"
    if seconds < 3600:
        return f"{int(seconds // 60)}m"
    if seconds < 86400:
        return f"{int(seconds // 3600)}h"
    return f"{int(seconds // 86400)}d"


def format_in(seconds: float | None) -> str:
    """How long until something: "now", "2s", "5m"."""
    if seconds is None:
        return NOT_SHOWN
    if seconds < 0.5:
        return "now"
    if seconds < 60:
        return f"{round(seconds)}s"
    return format_age(seconds)


def format_clock(stamp: float | None, now: float | None = None) -> str:
    """Local wall time; the date too when it is not today."""
    if stamp is None:
        return NOT_SHOWN
    local = time.localtime(stamp)
    today = time.localtime(now if now is not None else time.time())
    if local[:3] == today[:3]:
        return time.strftime("%H:%M:%S", local)
    return time.strftime("%Y-%m-%d %H:%M:%S", local)


def rate_wait(hold: RateHold, now: float) -> str:
    """`rate limited by api.d7networks.com: waiting until 08:47:29`"""
    until = format_clock(hold.until, now)
    if hold.status == 429:
        return f"rate limited by {hold.host}: waiting until {until}"
    return f"{hold.host} unavailable (HTTP {hold.status}): waiting until {until}"


def format_interval(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:g}s"
    if seconds < 3600:
        return f"{seconds / 60:g}m"
    return f"{seconds / 3600:g}h"


def phase_counts_text(counts: Mapping[Phase, int], colours: Mapping[Phase, str]) -> Text:
    """`2 ✓ 1 … 1 ✗`, each count in its phase's colour."""
    text = Text()
    for phase in (Phase.READ, Phase.DELIVERED, Phase.PENDING, Phase.UNKNOWN, Phase.FAILED):
        count = counts.get(phase, 0)
        if count:
            if text:
                text.append(" ")
            text.append(f"{count:,} {PHASE_SYMBOL[phase]}", style=colours[phase])
    return text


def phase_text(phase: Phase | None, value: str, colours: Mapping[Phase, str]) -> Text:
    """A value prefixed with its phase's symbol, both in the phase's colour."""
    if phase is None:
        return Text(value, style="dim")
    return Text(f"{PHASE_SYMBOL[phase]} {value}", style=colours[phase])


# D7 reports a cost without its currency: an amount of the account's credits (D7's own word).
# Said in full where there is room, as `cr` in a table's cell (the README says which is which).
def entry_cost(entry: Entry, *, wide: bool = False) -> str:
    """What the request cost, per currency ("" before any cost is known)."""
    costs = entry.costs
    return costs_text(costs, wide=wide) if costs else ""


def costs_text(costs: Mapping[str | None, float], *, wide: bool = True) -> str:
    if not costs:
        return NOT_SHOWN
    parts = [
        cost_text(amount, currency, wide=wide)
        for currency, amount in sorted(costs.items(), key=str)
    ]
    return " + ".join(parts)
