"""The shared async HTTP engine: one pooled client, a bound on requests in flight, one retry policy.

Facts this is built around (measured on httpx 0.28.1): launching every request at once on one
client fails them all with pool timeouts, so a semaphore no larger than the pool admits requests;
cancelling requests from outside has left connections stuck in the pool, so httpx's own timeouts
end slow requests; a 429 slows every request to that host, not just the one that got it.
"""

from __future__ import annotations

import asyncio
import datetime
import email.utils
import logging
import random
import time
from collections import Counter
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

from d7tui.channels.errors import RateLimited, Unreachable

# httpx logs request lines at INFO; they hold no token, but nothing below the UI should print.
for _name in ("httpx", "httpcore"):
    logging.getLogger(_name).setLevel(logging.WARNING)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    attempts: int = 4  # tries in all, for 429, 5xx, timeouts and connection errors
    base: float = 0.5  # seconds; the backoff ceiling doubles each try (full jitter below it)
    cap: float = 8.0
    max_retry_after: float = 120.0  # a Retry-After longer than this is clamped


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    headers: httpx.Headers
    body: bytes


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header: delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:  # "-0000": an HTTP-date is always UTC, never local time
        when = when.replace(tzinfo=datetime.UTC)
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


# Errors after which the request certainly never reached the server: safe to retry even for
# Infobip's one-time reports.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


class Engine:
    """Every request d7tui makes goes through one Engine."""

    def __init__(
        self,
        *,
        max_in_flight: int = 16,
        timeout: float = 10.0,
        policy: RetryPolicy | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        user_agent: str = "d7tui",
    ) -> None:
        self.max_in_flight = max_in_flight
        self.policy = policy or RetryPolicy()
        self._client = httpx.AsyncClient(
            limits=httpx.Limits(
                max_connections=max_in_flight, max_keepalive_connections=max_in_flight
            ),
            timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)),
            transport=transport,
            follow_redirects=False,  # a redirect would carry the Authorization header elsewhere
            headers={"Accept": "application/json", "User-Agent": user_agent},
        )
        self._slots = asyncio.Semaphore(max_in_flight)
        self._gate: dict[str, float] = {}  # host -> monotonic time before which nothing is sent
        self.in_flight = 0
        self.stats: Counter[str] = Counter()  # requests, retries, 429, 5xx, errors

    async def aclose(self) -> None:
        await self._client.aclose()

    async def __aenter__(self) -> Engine:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def host_delay(self, url: str) -> float:
        """Seconds until a request to this URL's host may go out (a shared Retry-After)."""
        return max(0.0, self._gate.get(urlsplit(url).netloc, 0.0) - time.monotonic())

    def _hold_host(self, url: str, seconds: float) -> None:
        host = urlsplit(url).netloc
        until = time.monotonic() + seconds
        if until > self._gate.get(host, 0.0):
            self._gate[host] = until

    def _backoff(self, attempt: int) -> float:
        ceiling = min(self.policy.cap, self.policy.base * (2**attempt))
        return random.uniform(0, ceiling)  # full jitter

    async def get(
        self,
        channel: str,
        url: str,
        *,
        headers: dict[str, str],
        params: dict[str, str] | None = None,
        idempotent: bool = True,
    ) -> Response:
        """GET with the retry policy. Returns any HTTP answer except an exhausted 429/5xx run.

        A non-idempotent read (Infobip's one-time reports) is retried only when the server
        certainly did not answer it: a 429, or a connection that was never made.
        """
        last_problem = "no answer"
        retry_after: float | None = None
        for attempt in range(self.policy.attempts):
            wait = self.host_delay(url)
            if wait:
                await asyncio.sleep(wait)
            try:
                async with self._slots:
                    self.in_flight += 1
                    self.stats["requests"] += 1
                    try:
                        reply = await self._client.get(url, headers=headers, params=params)
                    finally:
                        self.in_flight -= 1
            except httpx.HTTPError as exc:
                self.stats["errors"] += 1
                last_problem = _describe(exc)
                if not idempotent and not isinstance(exc, _NOT_SENT):
                    raise Unreachable(channel, f"{last_problem} (not retried)") from None
            else:
                body = reply.content
                if reply.status_code == 429:
                    self.stats["429"] += 1
                    retry_after = parse_retry_after(reply.headers.get("retry-after"))
                    hold = min(
                        retry_after if retry_after is not None else self._backoff(attempt),
                        self.policy.max_retry_after,
                    )
                    self._hold_host(url, hold)
                    last_problem = "rate limited (HTTP 429)"
                    if attempt + 1 < self.policy.attempts:
                        self.stats["retries"] += 1
                        continue
                    raise RateLimited(
                        channel,
                        f"rate limited by the API; waiting {hold:.0f} s before asking again",
                        retry_after=hold,
                    )
                if reply.status_code >= 500:
                    self.stats["5xx"] += 1
                    last_problem = f"server error (HTTP {reply.status_code})"
                    if not idempotent:
                        raise Unreachable(
                            channel, f"{last_problem} (not retried)", status=reply.status_code
                        )
                else:
                    return Response(reply.status_code, reply.headers, body)
            if attempt + 1 < self.policy.attempts:
                self.stats["retries"] += 1
                await asyncio.sleep(self._backoff(attempt))
        raise Unreachable(
            channel, f"unreachable after {self.policy.attempts} tries: {last_problem}"
        )


def _describe(exc: httpx.HTTPError) -> str:
    """One line about a transport failure, without the URL or any header."""
    if isinstance(exc, httpx.TimeoutException):
        return "timed out"
    if isinstance(exc, httpx.ConnectError):
        return "connection refused or failed"
    if isinstance(exc, httpx.RemoteProtocolError):
        return "the server closed the connection or broke the protocol"
    return f"network error ({type(exc).__name__})"
