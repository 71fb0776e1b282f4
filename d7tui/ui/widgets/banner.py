"""The banner: what stops or slows polling and what to do about it (a refused credential, a
host that cannot be reached), and lines that stay (the store, an internal error)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

from rich.text import Text

from d7tui.errors import AuthError
from d7tui.output import plural
from d7tui.pollstate import D7_CREDENTIAL
from d7tui.ui.widgets.text_static import TextStatic

_CHANNELS = {D7_CREDENTIAL: "sms, whatsapp and viber"}


@dataclass(frozen=True, slots=True)
class Unreached:
    """A vendor's host that the last polls could not reach."""

    host: str
    channels: str
    setting: str  # where its base URL is set
    requests: int
    why: str
    answered: bool = False  # it answered, with server errors: the vendor is failing, not the way
    slow: bool = False  # it was reached, and its answers did not come whole in time


def banner_text(
    stops: dict[str, AuthError],
    notices: Sequence[str] = (),
    unreached: Sequence[Unreached] = (),
    pause: str = "p",
    from_environment: Collection[str] = (),
) -> Text:
    """`from_environment`: the credentials' variables that were set when d7tui started."""
    text = Text()
    for setting, error in stops.items():
        if text:
            text.append("\n")
        channels = _CHANNELS.get(setting, "infobip")
        text.append("✗ ", style="bold")
        text.append(f"{error.message}. Polling of {channels} is stopped: ", style="bold")
        # A running process never sees its environment change: config.toml is what `p` reads,
        # unless the variable is set, which wins over the file.
        if setting in from_environment:
            text.append(
                f"it comes from the environment variable {setting}, which wins over config.toml "
                f"and cannot change under a running d7tui: quit, set {setting} right (or unset "
                f"it to use config.toml) and start again."
            )
        else:
            text.append(
                f"fix {setting.lower()} in config.toml and press {pause} to resume (or restart "
                f"with {setting} set)."
            )
    for host in unreached:
        if text:
            text.append("\n")
        text.append("✗ ", style="bold")
        waiting = f"{plural(host.requests, 'request')} waiting, polled again with longer pauses"
        if host.answered:
            text.append(f"{host.host} ({host.channels}) answers with errors: ", style="bold")
            text.append(
                f"{waiting} ({host.why}). The vendor's side is failing: nothing to change here "
                "unless it lasts; then ask the vendor."
            )
        elif host.slow:
            text.append(f"{host.host} ({host.channels}) answers too slowly: ", style="bold")
            text.append(
                f"{waiting} ({host.why}). The connection is made, the answer does not come whole "
                "in time: the vendor, or a proxy (HTTPS_PROXY) on the way, is slow; if it lasts, "
                "check the proxy or ask the vendor."
            )
        else:
            text.append(f"Cannot reach {host.host} ({host.channels}): ", style="bold")
            text.append(
                f"{waiting} ({host.why}). Check the network, a proxy (HTTPS_PROXY) or "
                f"{host.setting}."
            )
    # Last: what stops polling is read first, and is what a banner cut short keeps (L8).
    for notice in notices:
        if text:
            text.append("\n")
        text.append("! ", style="bold")
        text.append(notice)
    return text


class Banner(TextStatic):
    def show_stops(
        self,
        stops: dict[str, AuthError],
        notices: Sequence[str] = (),
        unreached: Sequence[Unreached] = (),
        *,
        pause: str = "p",
        from_environment: Collection[str] = (),
    ) -> None:
        """`notices` (lines that stay), the refused credentials, the hosts not reached."""
        shown = bool(stops or notices or unreached)
        if shown != self.display:
            self.display = shown
        if shown:
            self.show_text(banner_text(stops, notices, unreached, pause, from_environment))
