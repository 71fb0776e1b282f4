"""The banner shown while a refused credential holds a channel's polling."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text

from d7tui.channels.errors import AuthError
from d7tui.poller import D7_CREDENTIAL
from d7tui.ui.widgets.text_static import TextStatic

_CHANNELS = {D7_CREDENTIAL: "sms, whatsapp and viber"}


def banner_text(stops: dict[str, AuthError], notices: Sequence[str] = ()) -> Text:
    text = Text()
    for notice in notices:
        if text:
            text.append("\n")
        text.append("! ", style="bold")
        text.append(notice)
    for setting, error in stops.items():
        if text:
            text.append("\n")
        channels = _CHANNELS.get(setting, "infobip")
        text.append("✗ ", style="bold")
        text.append(f"{error.message}. Polling of {channels} is stopped: ", style="bold")
        text.append(f"fix {setting} (environment or config.toml) and press p to resume.")
    return text


class Banner(TextStatic):
    def show_stops(self, stops: dict[str, AuthError], notices: Sequence[str] = ()) -> None:
        """The refused credentials, after `notices` (lines about the store that stay)."""
        shown = bool(stops or notices)
        if shown != self.display:
            self.display = shown
        if shown:
            self.show_text(banner_text(stops, notices))
