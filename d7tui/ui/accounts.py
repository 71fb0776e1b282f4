"""The accounts' money as the monitor shows it: each vendor's balance, read every few minutes,
warned about when low; and the one test message `S` sends. The app owns one `Accounts`; it
speaks to the vendors through the polls' engine when it belongs to the same loop, else through
an engine of its own (the polls asked in their own thread: fetch_thread.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from rich.text import Text

from d7tui.channels.account import VENDORS, AccountClient, Balance
from d7tui.channels.send import Message, Sent
from d7tui.client import Engine
from d7tui.config import Settings
from d7tui.errors import AuthError, ChannelError
from d7tui.models import Phase

BALANCE_EVERY = 300.0  # seconds between two reads of the balances


class Accounts:
    def __init__(
        self,
        settings: Callable[[], Settings],
        engine: Callable[[], Engine | None],
        *,
        on_low: Callable[[str], None],
    ) -> None:
        self._settings = settings
        self._engine = engine
        self._own: Engine | None = None
        self.on_low = on_low
        self.balances: dict[str, Balance] = {}
        self.problems: dict[str, str] = {}  # vendor -> why its balance could not be read
        self._low: set[str] = set()

    def _client(self) -> AccountClient:
        engine = self._engine()
        if engine is None:
            if self._own is None:
                settings = self._settings()
                self._own = Engine(
                    max_in_flight=settings.max_in_flight,
                    timeout=settings.timeout,
                    secrets=lambda: self._settings().secrets(),
                )
            engine = self._own
        return AccountClient(self._settings(), engine)

    async def aclose(self) -> None:
        if self._own is not None:
            await self._own.aclose()

    def vendors(self) -> list[str]:
        """The vendors this session has a credential for."""
        settings = self._settings()
        have = {"d7": bool(settings.d7_token), "infobip": bool(settings.infobip_key)}
        return [v for v in VENDORS if have[v]]

    async def refresh(self) -> None:
        """Read every balance there is a credential for; a vendor that refuses is not shown."""
        client = self._client()
        vendors = self.vendors()
        results = await asyncio.gather(
            *(client.balance(v) for v in vendors), return_exceptions=True
        )
        for vendor, result in zip(vendors, results, strict=True):
            if isinstance(result, Balance):
                self.balances[vendor] = result
                self.problems.pop(vendor, None)
                self._check_low(result)
            elif isinstance(result, AuthError):
                self.balances.pop(vendor, None)  # its polls say what is wrong
                self.problems.pop(vendor, None)
            elif isinstance(result, ChannelError):
                self.problems[vendor] = result.message
            elif isinstance(result, BaseException):
                raise result

    def _check_low(self, balance: Balance) -> None:
        if self.is_low(balance):
            if balance.vendor not in self._low:
                self._low.add(balance.vendor)
                self.on_low(balance.vendor)
        else:
            self._low.discard(balance.vendor)

    def is_low(self, balance: Balance) -> bool:
        limit = self._settings().low_balance.get(balance.vendor, 0.0)
        return limit > 0 and balance.amount <= limit

    def text(self, vendor: str) -> str | None:
        balance = self.balances.get(vendor)
        if balance is None:
            return None
        return balance.text() + (" (low)" if self.is_low(balance) else "")

    def status_part(self, colours: dict[Phase, str]) -> Text | None:
        """`balance d7 12.34 · infobip 47.79 EUR`, a low one warned; None before any read."""
        if not self.balances and not self.problems:
            return None
        part = Text("balance ")
        for i, vendor in enumerate(v for v in VENDORS if v in self.balances or v in self.problems):
            if i:
                part.append(" · ")
            balance = self.balances.get(vendor)
            if balance is None:
                part.append(f"{vendor} ?", style="dim")
            elif self.is_low(balance):
                part.append(f"⚠ {balance.text()} low", style=f"bold {colours[Phase.FAILED]}")
            else:
                part.append(balance.text())
        return part

    async def send(self, message: Message) -> Sent:
        """Send one checked message (see AccountClient.send); the balances are read again."""
        sent = await self._client().send(message)
        await self.refresh()
        return sent
