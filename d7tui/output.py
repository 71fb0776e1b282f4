"""Plain-text and JSON Lines renderings of request statuses for the command line."""

from __future__ import annotations

import time
from collections.abc import Iterable

from d7tui.channels.common import MAX_PARTS
from d7tui.channels.infobip import lookup
from d7tui.errors import ChannelError
from d7tui.explain import Explanation, explain
from d7tui.models import Phase, Recipient, RequestStatus, Target
from d7tui.safety import strict_json

PHASE_SYMBOL = {
    Phase.PENDING: "…",
    Phase.DELIVERED: "✓",
    Phase.READ: "✓✓",
    Phase.FAILED: "✗",
    Phase.UNKNOWN: "?",
}

# The channel's own fields worth a glance in the table; --json carries all of them.
_DETAIL_KEYS = (
    "originator",
    "conversation_type",
    "message_type",
    "template_id",
    "from",  # Infobip v1
    "sender",  # Infobip v3
    "doneAt",
    "mccMnc",  # also spelled mccmnc (legacy logs): looked up whatever the case
)


def phase_summary(status: RequestStatus) -> str:
    counts = status.phase_counts()
    parts = [f"{n} {PHASE_SYMBOL[p]}" for p, n in counts.items() if n]
    return " ".join(parts) or "no recipients"


# Parsing keeps each cost sane (channels/common.py); a sum of them, or a state stored before it
# did, may not be: past this, or not finite, or below zero, it is shown as no cost.
MAX_SHOWN_COST = 1e12


def format_cost(cost: float | None, currency: str | None = None) -> str:
    """`0.0123 EUR`; `-` for no cost, and for one no message has (inf, -1, 1e300)."""
    if cost is None or not 0 <= cost < MAX_SHOWN_COST:  # NaN fails every comparison
        return "-"
    text = f"{cost:.4f}".rstrip("0").rstrip(".") if cost else "0"
    return f"{text} {currency}" if currency else text


CREDITS = "D7 credits"  # D7 bills in its account's credits and names no currency
CREDITS_SHORT = "cr"


def cost_text(cost: float | None, currency: str | None, *, wide: bool = False) -> str:
    """A cost with its unit, never a bare number: `0.01 EUR`, `0.0012 cr` (`D7 credits`)."""
    if cost is None or currency:
        return format_cost(cost, currency)
    return format_cost(cost, CREDITS if wide else CREDITS_SHORT)


def format_parts(parts: int | None) -> str:
    """A part count, or `-` for none and for one no message is cut into (-5, 309 digits)."""
    return str(parts) if parts is not None and 0 <= parts <= MAX_PARTS else "-"


def _cell(value: object) -> str:
    return "-" if value is None or value == "" else str(value)


def _details(r: Recipient) -> str:
    bits = [
        f"{k}={_cell(value)}" for k in _DETAIL_KEYS if (value := lookup(r.fields, k)) is not None
    ]
    status = r.fields.get("status")
    if isinstance(status, dict) and status.get("action"):
        bits.append(f"action={status['action']}")
    error = r.fields.get("error")
    if isinstance(error, dict) and error.get("permanent") is True:
        bits.append("permanent error")
    if r.problem:
        bits.append(f"problem={r.problem}")
    return " ".join(bits)


def _table(rows: list[list[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    out = []
    for row in rows:
        line = "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row))
        out.append("  " + line.rstrip())
    return out


def render_table(status: RequestStatus) -> str:
    total = status.total_cost()
    cost = cost_text(*total, wide=True) if total else "-"
    head = (
        f"{status.request_id}  {status.channel.value}  {len(status.recipients)} recipient(s)  "
        f"{phase_summary(status)}  cost {cost}"
    )
    lines = [head]
    if status.remembered is not None:
        seen = time.strftime("%Y-%m-%d %H:%M", time.localtime(status.remembered))
        lines.append(
            f"  from memory, last seen {seen}: Infobip keeps messages for 48 hours, "
            "so this is what d7tui stored then"
        )
    for problem in status.fields.get("problems", []) or []:
        lines.append(f"  ! {problem}")
    if not status.recipients:
        return "\n".join(lines)
    rows = [["RECIPIENT", "COUNTRY", "STATUS", "PHASE", "REASON", "COST", "PARTS", "SCHEDULED", ""]]
    for r in status.recipients:
        phase = f"{PHASE_SYMBOL[r.phase]} {r.phase.value}{'' if r.final else '*'}"
        rows.append(
            [
                _cell(r.recipient),
                _cell(r.country),
                _cell(r.status),
                phase,
                _cell(r.reason),
                cost_text(r.cost, r.currency),
                format_parts(r.parts),
                _cell(r.schedule_time),
                _details(r),
            ]
        )
    lines.extend(_table(rows))
    lines.extend(_explanations(status))
    return "\n".join(lines)


def _explanations(status: RequestStatus) -> list[str]:
    """Each distinct explanation once, with the recipients it applies to: a bulk of a thousand
    delivered messages reads as one paragraph, not a thousand."""
    groups: dict[Explanation, list[Recipient]] = {}
    for r in status.recipients:
        explanation = explain(status.channel, r)
        if explanation is not None:
            groups.setdefault(explanation, []).append(r)
    if not groups:
        return []
    lines = ["  what it means:"]
    for explanation, recipients in groups.items():
        who = [_cell(r.recipient) for r in recipients]
        whom = ", ".join(who) if len(who) <= 3 else f"{len(who):,} recipients"
        lines.append(f"    {explanation.code} ({whom}): {explanation.outcome.value}")
        lines.append(f"      {explanation.meaning}")
        lines.append(f"      Next: {explanation.next_step}")
    return lines


def render_error(target: Target, error: ChannelError) -> str:
    return f"{target.request_id}: {error}"


def json_line(target: Target, result: RequestStatus | ChannelError) -> str:
    if isinstance(result, RequestStatus):
        data = result.to_json()
        for r, shown in zip(result.recipients, data["recipients"], strict=True):
            explanation = explain(result.channel, r)
            shown["explanation"] = explanation.to_json() if explanation else None
    else:
        data = {
            "request_id": target.request_id,
            "channel": target.channel,
            "recipients": [],
            "error": {
                "kind": result.kind.value,
                "message": str(result),
                "http_status": result.status,
            },
        }
    return strict_json(data, ensure_ascii=False, separators=(",", ":"))


def legend() -> str:
    symbols: Iterable[str] = (f"{s} {p.value}" for p, s in PHASE_SYMBOL.items())
    return (
        "phases: " + ", ".join(symbols) + "; * = not final yet; "
        "cost = what each message cost in all (Infobip: price per SMS part x parts)"
    )


def plural(count: int, noun: str) -> str:
    """`1 request`, `2 requests`, `1 more status change`, `3 more status changes`."""
    return f"{count:,} {noun}" + ("" if count == 1 else "s")
