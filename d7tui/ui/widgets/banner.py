"""The banner shown while a refused credential holds a channel's polling."""

from __future__ import annotations

from rich.text import Text

from d7tui.channels.errors import AuthError
from d7tui.poller import D7_CREDENTIAL
from d7tui.ui.widgets.text_static import TextStatic

_CHANNELS = {D7_CREDENTIAL: "sms, whatsapp and viber"}


def banner_text(stops: dict[str, AuthError]) -> Text:
    text = Text()
    for setting, error in stops.items():
        if text:
            text.append("\n")
        channels = _CHANNELS.get(setting, "infobip")
        text.append("✗ ", style="bold")
        text.append(f"{error.message}. Polling of {channels} is stopped: ", style="bold")
        text.append(f"fix {setting} (environment or config.toml) and press p to resume.")
    return text


class Banner(TextStatic):
    def show_stops(self, stops: dict[str, AuthError]) -> None:
        if bool(stops) != self.display:
            self.display = bool(stops)
        if stops:
            self.show_text(banner_text(stops))
