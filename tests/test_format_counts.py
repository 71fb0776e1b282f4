"""Counts on the status line and in the rows are grouped as every other number on screen is
(`10,000 …` beside `10,000 watched`, finding J12)."""

from __future__ import annotations

from d7tui.models import Phase
from d7tui.ui.format import phase_counts_text


def test_phase_counts_are_grouped_by_thousands() -> None:
    colours = dict.fromkeys(Phase, "")
    text = phase_counts_text({Phase.PENDING: 10_000, Phase.FAILED: 2_000, Phase.READ: 3}, colours)
    assert text.plain == "3 ✓✓ 10,000 … 2,000 ✗"
