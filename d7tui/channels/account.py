"""What costs money and what pays for it: send one test message, read an account's balance.
Through the one engine (a send is a POST never retried blindly, see `Engine.post_json`)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from d7tui.channels import d7, infobip, send
from d7tui.channels.common import (
    UNKNOWN_CURRENCY,
    as_currency,
    as_float,
    decode_json,
    error_said,
)
from d7tui.client import Engine
from d7tui.config import Settings
from d7tui.errors import ApiError, AuthError, ProtocolError, Unreachable
from d7tui.models import Channel

D7_BALANCE_PATH = "/messages/v1/balance"
INFOBIP_BALANCE_PATH = "/account/1/balance"
VENDORS = ("d7", "infobip")
MAX_BALANCE = 1e12


@dataclass(frozen=True, slots=True)
class Balance:
    vendor: str  # "d7" or "infobip"
    amount: float
    currency: str | None  # D7 names none: the account's own currency

    def text(self) -> str:
        # D7 prices a message at 0.0004 and Infobip at fractions of a cent: four decimals, so
        # a send shows, and always four, so the balance keeps one look before and after (100.00
        # then 99.9996 would read as two kinds of number). +0.0: never "-0.0000".
        amount = f"{self.amount + 0.0:,.4f}"
        if self.currency == UNKNOWN_CURRENCY:
            # Not `?`: next to an amount it reads as a balance unknown; the amount is known.
            return f"{self.vendor} {amount} (currency unreadable)"
        return (
            f"{self.vendor} {amount} {self.currency}"
            if self.currency
            else f"{self.vendor} {amount}"
        )


def may_have_been_sent(exc: Unreachable | ProtocolError, *, accepted: bool) -> str:
    """What a send without a usable answer tells the user, the likely outcome first
    (`accepted`: the vendor answered 200, only its answer could not be read)."""
    if accepted:
        head = "the message was most likely sent (HTTP 200), but its answer could not be read"
    else:
        head = "the message may have been sent"
    return (
        f"{head}, so it is not watched; look in the vendor's dashboard before sending again "
        f"({exc.message})"
    )


def d7_headers(settings: Settings, channel: str) -> dict[str, str]:
    if not settings.d7_token:
        raise AuthError(channel, d7.TOKEN_SETTING)
    return {"Authorization": f"Bearer {settings.d7_token.reveal()}"}


def infobip_headers(settings: Settings) -> dict[str, str]:
    if not settings.infobip_key:
        raise AuthError("infobip", infobip.KEY_SETTING)
    return {"Authorization": f"App {settings.infobip_key.reveal()}"}


class AccountClient:
    def __init__(self, settings: Settings, engine: Engine | None = None) -> None:
        self.settings = settings
        self.engine = engine or Engine(
            max_in_flight=settings.max_in_flight, timeout=settings.timeout, secrets=settings.secrets
        )

    async def aclose(self) -> None:
        await self.engine.aclose()

    async def __aenter__(self) -> AccountClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def send(self, message: send.Message) -> send.Sent:
        """Send one checked message; the id to watch, or a ChannelError. A send that may have
        gone out without an answer says so: sending again could send it twice."""
        channel = message.channel
        path, body = send.body(message)
        if channel is Channel.INFOBIP:
            headers, base = infobip_headers(self.settings), self.settings.infobip_base_url
        else:
            headers, base = d7_headers(self.settings, channel.value), self.settings.d7_base_url
        accepted = False
        try:
            reply = await self.engine.post_json(
                channel.value, base + path, headers=headers, body=body
            )
            if reply.status != 200:
                if channel is Channel.INFOBIP:
                    raise infobip.http_error(reply.status, reply.body)
                raise send.d7_send_error(channel, reply.status, reply.body)
            accepted = True
            if channel is Channel.INFOBIP:
                sent = send.parse_infobip_sent(reply.body)
            else:
                sent = send.parse_d7_sent(channel, reply.body)
        except (Unreachable, ProtocolError) as exc:
            # Not a refusal: the request went out, or may have. Said first, before the detail
            # (which may be cut), or the user sends it again and pays twice.
            if isinstance(exc, Unreachable) and "not retried" not in exc.message:
                raise  # never connected: certainly not sent
            raise send.MaybeSent(
                channel.value, may_have_been_sent(exc, accepted=accepted), status=exc.status
            ) from None
        refused = send.refusal(sent)
        if refused is not None:  # answered, but as a refusal: nothing goes out, nothing to watch
            raise ApiError(
                channel.value, f"not sent: {message.vendor()} refused it: {refused}", status=200
            )
        return sent

    async def balance(self, vendor: str) -> Balance:
        """The account's balance (`vendor`: "d7" or "infobip"), or a ChannelError."""
        if vendor == "infobip":
            headers, url = (
                infobip_headers(self.settings),
                self.settings.infobip_base_url + INFOBIP_BALANCE_PATH,
            )
        else:
            headers, url = (
                d7_headers(self.settings, "d7"),
                self.settings.d7_base_url + D7_BALANCE_PATH,
            )
        reply = await self.engine.get(vendor, url, headers=headers)
        if reply.status != 200:
            if vendor == "infobip":
                raise infobip.http_error(reply.status, reply.body)
            code, said = error_said(reply.body)
            if reply.status in (401, 403):
                raise AuthError("d7", d7.TOKEN_SETTING, status=reply.status)
            raise ProtocolError(
                "d7", f"balance: HTTP {reply.status}: {code or said or 'no detail'}"
            )
        return parse_balance(vendor, reply.body)


def parse_balance(vendor: str, raw: bytes) -> Balance:
    """`{"balance": 99.99}` (D7) or `{"balance": 47.79, "currency": "EUR"}` (Infobip)."""
    data = decode_json(vendor, raw)
    amount = as_float(data.get("balance")) if isinstance(data, dict) else None
    if amount is None or not math.isfinite(amount):
        raise ProtocolError(vendor, "the balance answer has no number under 'balance'")
    if abs(amount) >= MAX_BALANCE:  # 1e308 would fill the status line with digits
        raise ProtocolError(vendor, "the balance answer is not a believable amount")
    currency = as_currency(data.get("currency")) if isinstance(data, dict) else None
    return Balance(vendor, amount, currency)
