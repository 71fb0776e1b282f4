"""The two themes d7tui ships (dark and light) and the colour of each phase in them.

Every colour is paired with a symbol elsewhere, so nothing depends on colour alone; under
NO_COLOR Textual renders in monochrome and the symbols carry the meaning.
"""

from __future__ import annotations

from textual.theme import BUILTIN_THEMES, Theme

from d7tui.models import Phase

DARK = "d7-dark"
LIGHT = "d7-light"

_DARK_PHASES = {
    Phase.PENDING: "#e5c07b",
    Phase.DELIVERED: "#5fd38d",
    Phase.READ: "#61afef",
    Phase.FAILED: "#ff6b6b",
    Phase.UNKNOWN: "#9aa0a6",
}
# Darker tones: a pale green or amber on a light background cannot be read.
_LIGHT_PHASES = {
    Phase.PENDING: "#8a5a00",
    Phase.DELIVERED: "#1a7f37",
    Phase.READ: "#0550ae",
    Phase.FAILED: "#cf222e",
    Phase.UNKNOWN: "#57606a",
}


def _variables(phases: dict[Phase, str]) -> dict[str, str]:
    return {f"phase-{phase.value}": colour for phase, colour in phases.items()}


THEMES = (
    Theme(
        name=DARK,
        primary="#0178D4",
        secondary="#004578",
        accent="#ffa62b",
        warning="#e5c07b",
        error="#ff6b6b",
        success="#5fd38d",
        foreground="#e0e0e0",
        dark=True,
        variables=_variables(_DARK_PHASES),
    ),
    Theme(
        name=LIGHT,
        primary="#004578",
        secondary="#0178D4",
        accent="#9a4d00",
        warning="#8a5a00",
        error="#cf222e",
        success="#1a7f37",
        foreground="#1f2328",
        background="#f6f8fa",
        surface="#ffffff",
        panel="#e6eaef",
        dark=False,
        variables={**_variables(_LIGHT_PHASES), "footer-key-foreground": "#0550ae"},
    ),
)


def flash_colour(theme: Theme) -> str:
    """The background of a row that just changed."""
    return "#4d4200" if theme.dark else "#fff1a8"


def phase_colours(theme: Theme) -> dict[Phase, str]:
    """The colour of each phase in a theme (any theme: ours, or one picked in the palette)."""
    if theme.name == DARK:
        return dict(_DARK_PHASES)
    if theme.name == LIGHT:
        return dict(_LIGHT_PHASES)
    base = _DARK_PHASES if theme.dark else _LIGHT_PHASES
    fallback = BUILTIN_THEMES["textual-dark"]
    return {
        Phase.PENDING: theme.warning or fallback.warning or base[Phase.PENDING],
        Phase.DELIVERED: theme.success or base[Phase.DELIVERED],
        Phase.READ: theme.primary or base[Phase.READ],
        Phase.FAILED: theme.error or base[Phase.FAILED],
        Phase.UNKNOWN: base[Phase.UNKNOWN],
    }
