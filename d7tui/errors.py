"""Typed errors of the channel layer: each is one line for the user and a kind the monitor acts on.

No message ever contains a token: errors are built from status codes, our own words, and vendor
text that went through safe_text.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Self

from d7tui.safety import one_line, redact

_CODE = re.compile(r"[A-Z][A-Z0-9_]{1,63}")  # a vendor's error code: UNAUTHORIZED, E401 ...


class ErrorKind(StrEnum):
    AUTH = "auth"
    NOT_FOUND = "not_found"
    API = "api"  # the API refused the request and said why (400/402/422 ...)
    RATE_LIMITED = "rate_limited"
    UNREACHABLE = "unreachable"
    PROTOCOL = "protocol"


# Errors by how much a user needs to see them: the order `auto` picks the one error to show when
# every channel failed, and the order the status line counts them in.
ERROR_PRIORITY = (
    ErrorKind.AUTH,
    ErrorKind.RATE_LIMITED,
    ErrorKind.UNREACHABLE,
    ErrorKind.PROTOCOL,
    ErrorKind.API,
    ErrorKind.NOT_FOUND,
)


class ChannelError(Exception):
    kind: ErrorKind = ErrorKind.API
    # The body of the answer that ended the tries (a 429 or 5xx), when there was one: the
    # channel layer adds the vendor's code from it to the message (`with_detail`).
    body: bytes | None = None

    def __init__(self, channel: str, message: str, *, status: int | None = None) -> None:
        self.channel = channel
        self.message = one_line(message)
        self.status = status
        super().__init__(f"{channel}: {self.message}")

    def __str__(self) -> str:
        return f"{self.channel}: {self.message}"

    def _with_message(self, message: str) -> Self:
        # Not copy.copy: it rebuilds through __init__, whose signature differs per subclass.
        clone = type(self).__new__(type(self))
        clone.__dict__.update(self.__dict__)
        clone.message = message
        clone.args = (f"{self.channel}: {message}",)
        return clone

    def for_channels(self, channels: str, message: str) -> Self:
        """The same error said of several channels at once (`auto` asks three)."""
        clone = self._with_message(one_line(message))
        clone.channel = channels
        clone.args = (f"{channels}: {clone.message}",)
        return clone

    def with_detail(self, detail: str) -> Self:
        """The same error with what the vendor said added to its message."""
        return self._with_message(one_line(f"{self.message}: {detail}"))

    def redacted(self, secrets: list[str]) -> Self:
        """The same error with any of `secrets` a server echoed into its text blotted out."""
        message = redact(self.message, secrets)
        return self if message == self.message else self._with_message(message)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.channel!r}, {self.message!r}, status={self.status})"


class AuthError(ChannelError):
    """401/403: the credential is wrong or missing; `setting` names what to fix."""

    kind = ErrorKind.AUTH

    def __init__(
        self, channel: str, setting: str, *, status: int | None = None, said: str | None = None
    ) -> None:
        self.setting = setting
        if status is None:
            what = "missing"
        else:
            # The vendor's own code (ACCESS_TOKEN_SIGNATURE_VERIFICATION_FAILED, E401) helps
            # support; its free text does not go here, since a server may echo the credential.
            code = said if said and _CODE.fullmatch(said) else None
            what = f"refused (HTTP {status}{': ' + code if code else ''})"
        super().__init__(channel, f"API credential {what}: check {setting}", status=status)


class NotFound(ChannelError):
    kind = ErrorKind.NOT_FOUND


class ApiError(ChannelError):
    kind = ErrorKind.API


class RateLimited(ChannelError):
    kind = ErrorKind.RATE_LIMITED

    def __init__(
        self,
        channel: str,
        message: str,
        *,
        retry_after: float | None = None,
        host: str | None = None,
        status: int = 429,
    ) -> None:
        self.retry_after = retry_after
        self.host = host  # which host said so: every request to it waits, not only this one
        super().__init__(channel, message, status=status)


class Unreachable(ChannelError):
    kind = ErrorKind.UNREACHABLE

    def __init__(
        self, channel: str, message: str, *, status: int | None = None, slow: bool = False
    ) -> None:
        self.slow = slow  # reached, but its answer did not come whole in time
        super().__init__(channel, message, status=status)


class NotRead(ChannelError):
    """No vendor was asked and none failed: a desk's follower could not read the store the
    leader writes (its banner says the database cannot be reached). The poller leaves the id as
    it was: no error on its row, no channel held back. (It was an `Unreachable`: the row said
    "unreachable" and the banner named the vendor's host and channels for a database outage.)"""


class ProtocolError(ChannelError):
    """The API answered, but not with what its pages describe (not JSON, or the wrong shape)."""

    kind = ErrorKind.PROTOCOL


# What a row, and the status line's count, call an error of each kind.
ERROR_LABEL = {
    ErrorKind.AUTH: "auth refused",
    ErrorKind.NOT_FOUND: "not found",
    ErrorKind.API: "API error",
    ErrorKind.RATE_LIMITED: "rate limited",
    ErrorKind.UNREACHABLE: "unreachable",
    ErrorKind.PROTOCOL: "bad answer",
}
# A host that was reached, but answered with server errors or too slowly: not "unreachable".
SERVER_ERROR = "server error"
TOO_SLOW = "too slow"
# Every label, in the order the status line counts them (ERROR_PRIORITY).
ERROR_LABELS = tuple(
    label
    for kind in ERROR_PRIORITY
    for label in (
        (ERROR_LABEL[kind], SERVER_ERROR, TOO_SLOW)
        if kind is ErrorKind.UNREACHABLE
        else (ERROR_LABEL[kind],)
    )
)


def error_label(error: ChannelError) -> str:
    """What happened, in a word or two: an instant HTTP 500, or a 200 dribbled a byte at a
    time, came from a host that answered, and "unreachable" sent the user to check the
    network; the banner said it right ("answers with errors", "answers too slowly")."""
    if isinstance(error, Unreachable):
        if error.status is not None:
            return SERVER_ERROR
        if error.slow:
            return TOO_SLOW
    return ERROR_LABEL[error.kind]


def every_channel(errors: list[ChannelError]) -> ChannelError:
    """The one error of an id every channel failed on (`auto`), `errors` most telling first:
    of that kind, naming every channel asked and what each said (`sms, whatsapp, viber: gave
    up after 10 s`, or `sms: ...; whatsapp, viber: request id not found`), not only one."""
    said: dict[str, list[str]] = {}
    for error in errors:
        said.setdefault(error.message, []).append(error.channel)
    (first, channels), *others = said.items()
    message = "; ".join([first, *(f"{', '.join(c)}: {m}" for m, c in others)])
    return errors[0].for_channels(", ".join(channels), message)


def detached(error: ChannelError) -> ChannelError:
    """The error without the frames it was raised through, for keeping (on a row, in a list of
    results): a traceback keeps every local of those frames alive, a whole answer body among
    them, for as long as the error is kept."""
    error.__traceback__ = None
    error.__context__ = None
    error.__cause__ = None
    return error


def internal_error(channel: str, exc: BaseException) -> ChannelError:
    """A bug below the edge (not the API's doing), as an error the edge can show on one line."""
    return ProtocolError(channel, f"internal error: {type(exc).__name__}: {exc}")
