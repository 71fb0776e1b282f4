"""How the day goes, over the watchlist or the filtered view: outcomes per channel and per
country, time to deliver, the top failure reasons, cost per currency, and status changes per
minute over the last hour. Plain Python: the `i` screen only draws what `compute` returns.

Time to deliver is exact for Infobip (the report's own `sentAt` → `doneAt`). D7's reports carry
no times, so there it runs from when d7tui first saw the recipient to when it saw it delivered:
each end is late by up to one poll interval, and a message first seen already delivered is left
out (its time is unknown).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from d7tui.explain import explain
from d7tui.models import Channel, Phase, Recipient, Transition
from d7tui.times import vendor_time
from d7tui.watchlist import Entry

HOUR_MINUTES = 60
NO_COUNTRY = "?"  # the API named none (Infobip's reports never do)
_BARS = "▁▂▃▄▅▆▇█"
MAX_VALIDITY = 72 * 3600.0  # Infobip's longest validity: a longer sentAt → doneAt is no delivery
CLOCK_SKEW = 300.0  # a doneAt this far ahead of this machine's clock is still believed


@dataclass
class Tally:
    """Recipients by outcome; `delivered` includes read."""

    delivered: int = 0
    failed: int = 0
    pending: int = 0
    unknown: int = 0

    @property
    def total(self) -> int:
        return self.delivered + self.failed + self.pending + self.unknown

    def rate(self, count: int) -> float | None:
        """`count` as a share of all recipients here (None when there are none)."""
        return count / self.total if self.total else None

    def add(self, phase: Phase, count: int = 1) -> None:
        if phase in (Phase.DELIVERED, Phase.READ):
            self.delivered += count
        elif phase is Phase.FAILED:
            self.failed += count
        elif phase is Phase.PENDING:
            self.pending += count
        else:
            self.unknown += count


@dataclass(frozen=True, slots=True)
class DeliveryTime:
    channel: str
    count: int  # deliveries measured
    p50: float  # seconds
    p95: float
    exact: bool  # Infobip's own times; else first seen → delivered, within a poll interval


@dataclass
class Insights:
    requests: int = 0
    recipients: Tally = field(default_factory=Tally)
    by_channel: dict[str, Tally] = field(default_factory=dict)
    by_country: dict[str, Tally] = field(default_factory=dict)
    delivery_times: list[DeliveryTime] = field(default_factory=list)
    failures: list[tuple[str, int]] = field(default_factory=list)  # most frequent first
    costs: dict[str | None, float] = field(default_factory=dict)  # currency (None: not named)
    changes_per_minute: list[int] = field(default_factory=list)  # the last hour, oldest first


def compute(entries: Iterable[Entry], now: float, *, top: int = 10) -> Insights:
    """Insights over `entries` (the whole watchlist, or the filtered view)."""
    out = Insights(changes_per_minute=[0] * HOUR_MINUTES)
    failures: Counter[str] = Counter()
    by_channel: Counter[tuple[str, Phase]] = Counter()
    by_country: Counter[tuple[str, Phase]] = Counter()
    durations: dict[str, list[float]] = {}
    for entry in entries:
        out.requests += 1
        _count_changes(entry.timeline, now, out.changes_per_minute)
        if entry.state is None:
            continue
        channel = entry.state.channel.value
        delivered_at = _delivered_times(entry.timeline) if channel != "infobip" else {}
        for r in entry.state.recipients:
            phase = r.phase
            by_channel[channel, phase] += 1
            by_country[r.country or NO_COUNTRY, phase] += 1
            if r.cost is not None and math.isfinite(r.cost):
                out.costs[r.currency] = out.costs.get(r.currency, 0.0) + r.cost
            if phase is Phase.FAILED:
                failures[failure_reason(channel, r)] += 1
            elif phase is Phase.DELIVERED or phase is Phase.READ:
                took = _infobip_took(r, now) if channel == "infobip" else delivered_at.get(r.key)
                if took is not None:
                    durations.setdefault(channel, []).append(took)
    out.by_channel = _tallies(by_channel)
    out.by_country = _tallies(by_country)
    for tally in out.by_channel.values():
        for name in ("delivered", "failed", "pending", "unknown"):
            setattr(out.recipients, name, getattr(out.recipients, name) + getattr(tally, name))
    out.failures = failures.most_common(top)
    out.delivery_times = [
        DeliveryTime(
            channel,
            len(values),
            percentile(values, 0.50),
            percentile(values, 0.95),
            exact=channel == Channel.INFOBIP.value,
        )
        for channel, values in sorted(durations.items())
    ]
    return out


def _tallies(counts: Counter[tuple[str, Phase]]) -> dict[str, Tally]:
    tallies: dict[str, Tally] = {}
    for (name, phase), count in counts.items():
        tallies.setdefault(name, Tally()).add(phase, count)
    return tallies


def failure_reason(channel: str, r: Recipient) -> str:
    """What a failure is counted under: the channel, the code as the vendor gave it (Infobip's
    status and error), and the vendor's own reason where it says more."""
    explanation = explain(channel, r)
    code = explanation.code if explanation is not None else (r.status or "no status")
    text = f"{channel} {code}"
    if r.reason and channel != Channel.INFOBIP.value and r.reason != r.status:
        text += f": {r.reason}"  # WhatsApp's "Template does not exist" says more than "rejected"
    return text


def percentile(values: Sequence[float], share: float) -> float:
    """Nearest-rank percentile (a value that occurred); `values` must not be empty."""
    ordered = sorted(values)
    rank = max(1, math.ceil(share * len(ordered)))
    return ordered[rank - 1]


def sparkline(values: Sequence[int]) -> str:
    """One character a value, its height relative to the largest; zero is the lowest bar."""
    peak = max(values, default=0)
    if peak <= 0:
        return _BARS[0] * len(values)
    return "".join(_BARS[min(len(_BARS) - 1, v * (len(_BARS) - 1) // peak)] for v in values)


def _count_changes(timeline: Iterable[Transition], now: float, buckets: list[int]) -> None:
    start = now - HOUR_MINUTES * 60
    for t in timeline:
        # A first sighting is d7tui learning of a message, not the message changing.
        if t.old_status is None or not start <= t.at < now:
            continue
        buckets[min(HOUR_MINUTES - 1, int((t.at - start) // 60))] += 1


def _delivered_times(timeline: Iterable[Transition]) -> dict[str, float]:
    """Per recipient key: seconds from first seen (not yet delivered) to first seen delivered."""
    first_seen: dict[str, float] = {}
    took: dict[str, float] = {}
    for t in timeline:
        delivered = t.new_phase in (Phase.DELIVERED, Phase.READ)
        if t.recipient_key not in first_seen:
            first_seen[t.recipient_key] = t.at
            if delivered:
                took[t.recipient_key] = math.nan  # seen delivered at once: time unknown
            continue
        if delivered and t.recipient_key not in took:
            took[t.recipient_key] = t.at - first_seen[t.recipient_key]
    return {key: value for key, value in took.items() if not math.isnan(value)}


def _infobip_took(r: Recipient, now: float) -> float | None:
    """sentAt → doneAt; None when that is no measurement: a time missing, a doneAt before its
    sentAt or still to come, or a span longer than any message stays valid."""
    sent = vendor_time(r.fields.get("sentAt"), naive_is_utc=False)
    done = vendor_time(r.fields.get("doneAt"), naive_is_utc=False)
    if sent is None or done is None or not sent <= done <= now + CLOCK_SKEW:
        return None
    took = done - sent
    return took if took <= MAX_VALIDITY else None
