"""Strings a hostile vendor (or an attacker upstream of it) could put in any text field.

Each one breaks a naive terminal UI in its own way: Rich/Textual markup (a `[/]` with nothing open
raises MarkupError, `[@click=...]` becomes a live action), raw ANSI/OSC escapes (recolour or
retitle the terminal, write the clipboard), a C1 CSI, a right-to-left override that reverses what
follows, control characters that break a table row, and now and then a 1 MB field.
"""

from __future__ import annotations

import random
import zlib

HOSTILE: tuple[str, ...] = (
    "[bold red]x[/]",
    "[@click=app.quit]click me[/]",
    "[/]",
    "\x1b[31mred\x1b[0m",
    "\x1b]0;pwned\x07",
    "\x1b]52;c;aGVsbG8=\x07",
    "\u202eevil\u202c",
    "\x9b31m c1",
    "tab\there\nnewline\r",
)
MEGABYTE = "x" * (1024 * 1024)
MEGABYTE_SHARE = 0.02  # of noisy fields: rare, so hostile runs stay fast, but seen in a long run
BAD_UTF8 = b"\xff\xfe\xc3("  # not UTF-8 in any reading
# Where invalid bytes go: inside a text value, so a decoder that replaces them keeps the ids.
_TEXT_KEYS = (b'"reason": "', b'"callbackData": "', b'"recipient": "', b'"to": "')


def stable(value: str, key: str) -> str:
    """`value` with a hostile tail chosen by `key`, the same on every poll.

    Identity fields (recipient, originator, to, from) use this: a monitor that keys rows on them
    sees one odd recipient, not a new one per poll.
    """
    return value + HOSTILE[zlib.crc32(key.encode("utf-8", "surrogatepass")) % len(HOSTILE)]


def noisy(rng: random.Random, value: str) -> str:
    """`value` with a hostile tail drawn anew each time; now and then 1 MB long."""
    if rng.random() < MEGABYTE_SHARE:
        return value + MEGABYTE
    return value + rng.choice(HOSTILE)


def corrupt_utf8(body: bytes) -> bytes:
    """Insert invalid UTF-8 at the start of the first text value found: the body stops being text,
    which is what a strict `json.loads(bytes)` must survive."""
    for key in _TEXT_KEYS:
        at = body.find(key)
        if at >= 0:
            cut = at + len(key)
            return body[:cut] + BAD_UTF8 + body[cut:]
    return body + b" " + BAD_UTF8  # no text field: trailing garbage after the JSON
