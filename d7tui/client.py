"""The shared async HTTP engine: one pooled client, a bound on requests in flight, one retry policy.

Facts this is built around (measured here): launching every request at once on one client fails
them all with pool timeouts, so a semaphore no larger than the pool admits requests; a 429 slows
every request to that host, not just the one that got it; and the transport's CPU cost per
request is what a poller on the UI's event loop really pays. On this 2-core machine, 16 in
flight against the loopback simulator, httpx 0.28.1 spent ~2.7 ms of CPU a request, httpx on an
aiohttp transport ~0.7 ms, and aiohttp itself ~0.3 ms (BENCHMARKS.md): so the engine speaks
aiohttp, behind this one module, and nothing else in d7tui knows which client it is.
"""

from __future__ import annotations

import asyncio
import datetime
import email.utils
import json
import logging
import os
import random
import ssl
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import NoReturn
from urllib.parse import SplitResult, unquote, urlsplit, urlunsplit
from urllib.request import getproxies, proxy_bypass

import aiohttp

from d7tui.admission import Admission
from d7tui.errors import ApiError, ChannelError, ProtocolError, RateLimited, Unreachable
from d7tui.safety import one_line, redact_body


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    attempts: int = 4  # tries in all, for 429, 5xx, timeouts and connection errors
    base: float = 0.5  # seconds; the backoff ceiling doubles each try (full jitter below it)
    cap: float = 8.0
    max_retry_after: float = 120.0  # a Retry-After longer than this is clamped


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    headers: Mapping[str, str]  # case-insensitive
    body: bytes


def _asked_to_wait(status: int) -> str:
    return "rate limited (HTTP 429)" if status == 429 else f"unavailable (HTTP {status})"


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
log = logging.getLogger(__name__)

_NOT_SENT = (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError)
_TRANSPORT_ERRORS = (aiohttp.ClientError, asyncio.TimeoutError)
# What aiohttp tries a second time by itself, for these methods (its persistent-connection retry).
_ASKED_TWICE = (aiohttp.ClientOSError, aiohttp.ServerDisconnectedError)
_IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"})
SLOW = "reached, but it answers too slowly"


class _SlowAnswer(TimeoutError):
    """The deadline passed after the connection was made: the host was reached, and its answer
    did not come whole in time (a server, or a proxy, that dribbles or stalls)."""


MB = 1024 * 1024
# The largest real answers: a page of 1,000 Infobip logs or reports (~0.6 KB each in the pages'
# samples: 0.6 MB), a D7 request with thousands of recipients (0.35 KB each for SMS, 0.9 KB for
# WhatsApp: 9,000 WhatsApp recipients fit). 8 MB is well above both, and 16 answers in flight
# stay near 128 MB; a larger answer's error names the setting that raises it.
DEFAULT_MAX_ANSWER = 8 * MB
CONNECT_TIMEOUT = 5.0  # seconds, at most, of the deadline spent connecting
# The connect phase always ends a little before the whole deadline: a connect that has not
# finished then fails as aiohttp's ConnectionTimeoutError, so any other timeout means the host
# was reached (without tracing every request to know it: ~5 % of a request's CPU, §1).
# At least this much too (seconds): two deadlines that fall due in one turn of a busy loop
# would both fire, and the whole deadline's error is the one seen.
CONNECT_SHARE, CONNECT_MARGIN = 0.9, 0.05


def _timeout(remaining: float) -> aiohttp.ClientTimeout:
    connect = min(CONNECT_TIMEOUT, remaining * CONNECT_SHARE, remaining - CONNECT_MARGIN)
    return aiohttp.ClientTimeout(total=remaining, connect=max(connect, remaining / 2))


class Engine:
    """Every request d7tui makes goes through one Engine."""

    def __init__(
        self,
        *,
        max_in_flight: int = 16,
        timeout: float = 10.0,
        max_answer: int = DEFAULT_MAX_ANSWER,
        policy: RetryPolicy | None = None,
        user_agent: str = "d7tui",
        secrets: Callable[[], Sequence[str]] = tuple,
    ) -> None:
        """`secrets`: every credential configured, blotted out of each answer as well as the
        one the request carried."""
        self.max_in_flight = max_in_flight
        self._secrets = secrets
        self.timeout = timeout  # one deadline for a request, across all its tries
        self.max_answer = max_answer  # bytes of a body, counted after decompression
        self.policy = policy or RetryPolicy()
        self._headers = {"Accept": "application/json", "User-Agent": user_agent}
        self._session: aiohttp.ClientSession | None = None
        self._slots = Admission(max_in_flight)
        # host -> (monotonic time before which nothing is sent, the answer that said so: 429, 503)
        self._gate: dict[str, tuple[float, int]] = {}
        # host -> how many holds in a row it asked for (a burst refused together is one): a host
        # that refuses without saying for how long is waited for longer each time.
        self._refusals: dict[str, int] = {}
        self._proxies: dict[tuple[str, str], _Proxy] = {}
        self.in_flight = 0
        self.stats: Counter[str] = Counter()  # requests, retries, 429, 5xx, errors, too_large

    def _client(self) -> aiohttp.ClientSession:
        # Made on first use: an aiohttp session belongs to the loop it was made on.
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(
                limit=self.max_in_flight, limit_per_host=self.max_in_flight, ttl_dns_cache=300
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                headers=self._headers,
                # Not trust_env: aiohttp would then look up the proxy and ~/.netrc in a thread
                # for every request (two thread hops each); _proxy_for reads the same
                # environment once a host.
                trust_env=False,
            )
        return self._session

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def __aenter__(self) -> Engine:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def host_delay(self, url: str) -> float:
        """Seconds until a request to this URL's host may go out (a shared Retry-After)."""
        return self._host_wait(urlsplit(url).netloc)

    def _host_wait(self, host: str) -> float:
        return max(0.0, self._gate.get(host, (0.0, 0))[0] - time.monotonic())

    def _hold_host(self, host: str, seconds: float, status: int) -> None:
        until = time.monotonic() + seconds
        if until > self._gate.get(host, (0.0, 0))[0]:
            self._gate[host] = (until, status)

    def _refused(self, host: str) -> int:
        """One more refusal by `host`, counted once a hold: the answers of requests that were
        in flight together when it began refusing are one refusal, not sixteen."""
        if self._host_wait(host) <= 0:
            self._refusals[host] = self._refusals.get(host, 0) + 1
        return self._refusals.setdefault(host, 1)

    def _rest(self, refusals: int) -> float:
        """The wait after a host's `refusals`-th refusal in a row: the backoff's doubling, with
        a Retry-After's ceiling rather than a retry's."""
        return self._ceiling(refusals - 1, self.policy.max_retry_after)

    def _proxy_for(self, url: str) -> _Proxy:
        parts = urlsplit(url)
        key = (parts.scheme, parts.netloc)
        if key not in self._proxies:
            self._proxies[key] = _env_proxy(parts)
        return self._proxies[key]

    def _ceiling(self, attempt: int, cap: float | None = None) -> float:
        return min(self.policy.cap if cap is None else cap, self.policy.base * (2**attempt))

    def _backoff(self, attempt: int) -> float:
        return random.uniform(0, self._ceiling(attempt))  # full jitter

    async def get(
        self,
        channel: str,
        url: str,
        *,
        headers: dict[str, str],
        params: Mapping[str, str] | Sequence[tuple[str, str]] | None = None,
        idempotent: bool = True,
    ) -> Response:
        """GET with the retry policy. Returns any HTTP answer except an exhausted 429/5xx run.

        A non-idempotent read (Infobip's one-time reports) is retried only when the server
        certainly did not answer it: a 429, or a connection that was never made.
        """
        return await self.request(
            "GET", channel, url, headers=headers, params=params, idempotent=idempotent
        )

    async def post_json(
        self, channel: str, url: str, *, headers: dict[str, str], body: object
    ) -> Response:
        """POST a JSON body (a send: it costs money). Never retried blindly: a send repeated
        after the server may have received it is paid twice. Only a 429 (refused, so not taken)
        or a connection that was certainly never made is tried again; a timeout or a 5xx after
        the request went out is an Unreachable saying it was not retried."""
        data = json.dumps(body, ensure_ascii=False).encode("utf-8")
        return await self.request(
            "POST",
            channel,
            url,
            headers={**headers, "Content-Type": "application/json"},
            data=data,
            idempotent=False,
        )

    async def request(
        self,
        method: str,
        channel: str,
        url: str,
        *,
        headers: dict[str, str],
        params: Mapping[str, str] | Sequence[tuple[str, str]] | None = None,
        data: bytes | None = None,
        idempotent: bool = True,
    ) -> Response:
        """One request with the retry policy (see `get` and `post_json`).

        `timeout` is one deadline for every try, the waits between them included; it starts
        when the first try is sent. An answer larger than `max_answer` is a ProtocolError,
        never retried.
        """
        host = urlsplit(url).netloc
        try:
            proxy = self._proxy_for(url)
        except ValueError:
            # The settings check the proxy variables at start; one changed since is still
            # said in one line, and nothing was sent (a send is then certainly not "maybe sent").
            raise Unreachable(
                channel, "the proxy variable (HTTPS_PROXY or HTTP_PROXY) is not a usable URL"
            ) from None
        clock = asyncio.get_running_loop().time
        deadline: float | None = None
        problem = "no answer"
        slow = False  # the last try was sent and its answer was too slow
        last_body: bytes | None = None  # the last 429/5xx body: the vendor's code is in it
        last_status = 0
        tries = 0
        pause = 0.0
        held_off = False  # not tried again: the host's wait (a 429) outlasts the deadline
        last_refused = False  # the last answer asked to wait (a 429, or a 503 saying how long)
        while tries < self.policy.attempts:
            held = self._host_wait(host)  # another request's 429 counts too
            pause = max(pause, held)
            if pause > 0:
                if deadline is None and pause >= self.timeout:
                    # Another request's 429 asked the host for longer than this one's deadline:
                    # refused at once, as that one was, rather than asleep here for minutes
                    # while a monitor says it is "queued".
                    raise self._rate_limited(
                        channel, url, pause, self._gate.get(host, (0.0, 429))[1]
                    )
                if deadline is not None and clock() + pause >= deadline:
                    held_off = held >= pause
                    break
                await asyncio.sleep(pause)
            await self._slots.acquire(host)
            try:
                pause = self._host_wait(host)
                if pause > 0:
                    continue  # the host asked to wait while this one queued for a slot
                now = clock()
                if deadline is None:
                    deadline = now + self.timeout
                elif now >= deadline:
                    break
                if tries:
                    self.stats["retries"] += 1
                tries += 1
                reply = await self._send(
                    method, channel, url, proxy, headers, params, data, deadline - now
                )
                # The one place every answer passes (status, reports, logs, send, balance, and
                # error bodies): a credential the server echoes is gone before anything parses
                # it, shows it, stores it or exports it.
                secrets = [*_credentials(headers), *self._secrets()]
                body = redact_body(reply.body, secrets)
                if body is not reply.body:  # the same object when nothing was echoed
                    reply = replace(reply, body=body)
            except aiohttp.InvalidURL:
                # A URL the settings should have refused: asking again cannot help.
                raise Unreachable(channel, "the base URL cannot be used; check it") from None
            except _TRANSPORT_ERRORS as exc:
                self._slots.heard(host, answered=False)
                self.stats["errors"] += 1
                asked_twice = isinstance(exc, _ASKED_TWICE) and not isinstance(exc, _NOT_SENT)
                if asked_twice and method in _IDEMPOTENT:
                    # aiohttp sent it again by itself once (a kept-alive connection may have
                    # been closed under it): two requests, counted as two tries, so that
                    # "after 4 tries" is 4 requests to a failing server, not 8.
                    tries += 1
                    self.stats["requests"] += 1
                problem = _describe(exc)
                slow = isinstance(exc, _SlowAnswer)
                last_body = None
                if isinstance(exc, aiohttp.ClientSSLError):
                    # A certificate (or a plain-HTTP port behind https) is the same next time.
                    raise Unreachable(channel, f"{problem}; not retried") from None
                if not idempotent and not isinstance(exc, _NOT_SENT):
                    raise Unreachable(channel, f"{problem} (not retried)", slow=slow) from None
                pause = self._backoff(tries - 1)
                continue
            except ChannelError:
                raise
            except Exception as exc:
                # The edge of the engine: only typed errors go past it, whatever the server or
                # a library did.
                log.exception("%s for %s", method, channel)
                raise ProtocolError(
                    channel, f"the request failed ({type(exc).__name__}); not retried"
                ) from None
            finally:
                self._slots.release(host)
            self._slots.heard(host, answered=True)
            # A 429, or a 503 that says when to come back (RFC 9110): the host asked everyone
            # to wait, so every request to it waits, not only this one.
            retry_after = parse_retry_after(reply.headers.get("retry-after"))
            asked_to_wait = reply.status == 429 or (reply.status == 503 and retry_after is not None)
            self._slots.refusing(host, asked_to_wait)
            last_refused = asked_to_wait
            if asked_to_wait:
                refusals = self._refused(host)
                said = retry_after if retry_after is not None else 0.0
                if reply.status == 429:
                    # "Slow down", whatever the header adds: a `Retry-After: 0` (or a missing
                    # one) must not turn each poll into a burst of tries at a host that has
                    # just refused for rate; and a host that goes on refusing is given longer
                    # each time (0.5, 1, 2 … s), not the same short wait per request.
                    said = max(said, self._rest(refusals))
                hold = min(said, self.policy.max_retry_after)
                self._hold_host(host, hold, reply.status)
            else:
                self._refusals.pop(host, None)
            if asked_to_wait and (idempotent or reply.status == 429):
                self.stats["429" if reply.status == 429 else "5xx"] += 1
                if tries >= self.policy.attempts or clock() + hold >= deadline:
                    # Waiting would outlast the tries or the deadline: the caller holds off
                    # instead. No "waiting N s" here: a one-shot `d7tui status` does not ask
                    # again; the poller says when it will, from `retry_after`.
                    limited = self._rate_limited(channel, url, hold, reply.status)
                    limited.body = reply.body
                    raise limited
                problem = _asked_to_wait(reply.status)
                last_body = reply.body
                last_status = reply.status
                pause = hold
            elif reply.status >= 500:
                self.stats["5xx"] += 1
                problem = f"server error (HTTP {reply.status})"
                last_body = reply.body
                last_status = reply.status
                if not idempotent:
                    failed = Unreachable(channel, f"{problem} (not retried)", status=reply.status)
                    failed.body = reply.body
                    raise failed
                pause = self._backoff(tries - 1)
            elif 300 <= reply.status < 400:
                # Never followed (it would carry the credential elsewhere): said as such once,
                # with where it pointed, rather than as a vendor's error code.
                where = one_line(reply.headers.get("location", ""), 120) or "nowhere said"
                raise ApiError(
                    channel,
                    f"HTTP {reply.status}: a redirect (to {where}), not followed; check the "
                    "base URL",
                    status=reply.status,
                )
            else:
                return reply
        if last_refused:
            # Refused for rate, and out of time while the host's wait ran (or while another
            # request asked whether it is back): the caller holds off as for its own 429,
            # rather than calling the host unreachable.
            wait = self._host_wait(host) or self._rest(self._refusals.get(host, 1))
            limited = self._rate_limited(channel, url, wait, last_status)
            limited.body = last_body
            raise limited
        # A host that answered with server errors was reached: its status says so, and the
        # words say the vendor is failing, not the network.
        answered = last_status if last_body is not None else None
        if tries >= self.policy.attempts:
            # A host that answered, if slowly, was reached: not "unreachable after 1 tries".
            message = (
                f"{problem} after {_tries(tries)}"
                if answered or slow
                else f"unreachable after {_tries(tries)}: {problem}"
            )
            failed = Unreachable(channel, message, status=answered, slow=slow)
        elif held_off:
            # No "gave up after 10 s" for an answer that came at once: what ended the tries
            # was another request's 429 holding the host.
            failed = Unreachable(
                channel,
                f"{problem}, {_tries(tries)}: not tried again, the host asked every request to "
                f"wait (HTTP {self._gate.get(host, (0.0, 429))[1]}) beyond the "
                f"{self.timeout:g} s a request may take",
                status=answered,
                slow=slow,
            )
        else:
            failed = Unreachable(
                channel,
                f"gave up after {self.timeout:g} s ({_tries(tries)}): {problem}",
                status=answered,
                slow=slow,
            )
        failed.body = last_body
        raise failed

    def _rate_limited(self, channel: str, url: str, wait: float, status: int) -> RateLimited:
        return RateLimited(
            channel,
            "rate limited by the API (HTTP 429)"
            if status == 429
            else f"the API is unavailable (HTTP {status}) and asked to wait",
            retry_after=wait,
            host=urlsplit(url).hostname,
            status=status,
        )

    async def _send(
        self,
        method: str,
        channel: str,
        url: str,
        proxy_for: _Proxy,
        headers: dict[str, str],
        params: Mapping[str, str] | Sequence[tuple[str, str]] | None,
        data: bytes | None,
        remaining: float,
    ) -> Response:
        self.in_flight += 1
        self.stats["requests"] += 1
        proxy, proxy_headers = proxy_for
        try:
            async with self._client().request(
                method,
                # No redirects: one would carry the Authorization header elsewhere.
                url,
                headers=headers,
                params=params,
                data=data,
                allow_redirects=False,
                proxy=proxy,
                proxy_headers=proxy_headers,
                # What is left of the deadline; it also bounds reading the body.
                timeout=_timeout(remaining),
            ) as answer:
                return Response(answer.status, answer.headers, await self._read(channel, answer))
        except TimeoutError as exc:
            if not isinstance(exc, aiohttp.ConnectionTimeoutError):
                raise _SlowAnswer() from None
            raise
        finally:
            self.in_flight -= 1

    async def _read(self, channel: str, answer: aiohttp.ClientResponse) -> bytes:
        """The body, read as it arrives (decompressed) and given up past `max_answer` bytes.

        Gathered in one bytearray: what it holds is the bytes received, however small the
        pieces a server sends them in. An answer that came in one piece (the usual one) is
        kept as it came, without copying it twice.
        """
        first = await answer.content.readany()
        if len(first) > self.max_answer:
            del first  # not held on by the error's traceback
            self._too_large(channel, answer)
        chunk = await answer.content.readany() if first else b""
        if not chunk:
            return first
        body = bytearray(first)
        del first
        while chunk:
            if len(body) + len(chunk) > self.max_answer:
                del body[:]  # not held on by the error's traceback
                self._too_large(channel, answer)
            body += chunk
            chunk = await answer.content.readany()
        return bytes(body)

    def _too_large(self, channel: str, answer: aiohttp.ClientResponse) -> NoReturn:
        answer.close()  # the rest is never read: the connection goes with it
        self.stats["too_large"] += 1
        raise ProtocolError(
            channel,
            f"the answer is larger than {self.max_answer / MB:g} MB "
            "(setting max_answer_mb); not retried",
        )


def _credentials(headers: Mapping[str, str]) -> list[str]:
    """What a request's Authorization header carries after its scheme (`Bearer`, `App`)."""
    return [
        value.split()[-1]
        for name, value in headers.items()
        if name.lower() == "authorization" and value.split()
    ]


def _tries(n: int) -> str:
    return "1 try" if n == 1 else f"{n} tries"


_Proxy = tuple[str | None, dict[str, str] | None]  # the proxy's URL, and its credentials


def _env_proxy(parts: SplitResult) -> _Proxy:
    """The proxy a support desk set for this URL (HTTPS_PROXY, HTTP_PROXY, NO_PROXY), if any."""
    proxy = getproxies().get(parts.scheme)
    if not proxy or proxy_bypass(parts.hostname or ""):
        return None, None
    found = urlsplit(proxy if "://" in proxy else f"http://{proxy}")
    headers = None
    if found.username is not None:
        login = aiohttp.encode_basic_auth(unquote(found.username), unquote(found.password or ""))
        # "Authorization" on purpose: aiohttp moves it to Proxy-Authorization on the request (a
        # plain-HTTP proxy) or on the CONNECT (HTTPS); a Proxy-Authorization key here would
        # reach only the CONNECT.
        headers = {"Authorization": login}
    netloc = (found.hostname or "") + (f":{found.port}" if found.port else "")
    return urlunsplit((found.scheme, netloc, found.path, "", "")), headers


def _describe(exc: BaseException) -> str:
    """One line about a transport failure, without the URL or any header."""
    if isinstance(exc, _SlowAnswer):
        return SLOW
    if isinstance(exc, asyncio.TimeoutError | aiohttp.ServerTimeoutError):
        return "timed out"
    if isinstance(exc, aiohttp.ClientHttpProxyError):
        return f"the proxy refused the connection (HTTP {exc.status})"
    if isinstance(exc, aiohttp.ClientProxyConnectionError):
        return "could not connect to the proxy"
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        return f"{one_line(exc.host, 100)}: no such host (the name did not resolve)"
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        # Its errno (1) read as a system error said "operation not permitted" (K4).
        error = exc.certificate_error
        why = error.verify_message if isinstance(error, ssl.SSLCertVerificationError) else None
        why = why or "not trusted"
        return (
            f"the TLS certificate of {one_line(exc.host, 100)}:{exc.port} is not trusted "
            f"({one_line(why, 100)}); behind a TLS-inspecting proxy, SSL_CERT_FILE names the "
            "certificates to trust"
        )
    if isinstance(exc, aiohttp.ClientConnectorSSLError):
        reason = exc.os_error.reason if isinstance(exc.os_error, ssl.SSLError) else None
        return (
            f"TLS with {one_line(exc.host, 100)}:{exc.port} failed "
            f"({one_line(str(reason or 'no TLS answer'), 100).lower().replace('_', ' ')}): "
            "is it an https server?"
        )
    if isinstance(exc, aiohttp.ClientConnectorError):
        # The host and the cause (refused, no route ...): which setting to look at, and why.
        code = exc.os_error.errno if exc.os_error is not None else None
        why = os.strerror(code).lower() if code else "failed"
        return f"cannot connect to {one_line(exc.host, 100)}:{exc.port} ({why})"
    if isinstance(exc, aiohttp.ServerDisconnectedError | aiohttp.ClientPayloadError):
        return "the server closed the connection or broke the protocol"
    if isinstance(exc, aiohttp.ClientResponseError):
        return "the server broke the HTTP protocol"
    return f"network error ({type(exc).__name__})"
