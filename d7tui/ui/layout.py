"""How the monitor screen arranges itself for the terminal's size (no Textual: the screen sets
the classes, d7tui.tcss says what each does)."""

from __future__ import annotations

from dataclasses import dataclass

WIDE_AT = 180  # columns from which the detail sits right of the list instead of under it
SHORT_BELOW = 28  # rows under which the stacked layout leaves the timeline to the detail view
TALL_FROM = 36  # rows from which the event strip has three lines instead of two
HEAD_LINES = 4  # the detail's head, at least (6 from TALL_FROM rows)
HEAD_LINES_TALL = 6


@dataclass(frozen=True, slots=True)
class Layout:
    wide: bool
    short: bool
    tall: bool
    head_lines: int


def layout_for(width: int, height: int) -> Layout:
    wide = width >= WIDE_AT
    tall = height >= TALL_FROM
    return Layout(
        wide=wide,
        # Too short for list, recipients and timeline at once: the timeline shows in the
        # detail view (enter), where the detail has the whole screen.
        short=height < SHORT_BELOW and not wide,
        tall=tall,
        head_lines=HEAD_LINES_TALL if tall else HEAD_LINES,
    )
