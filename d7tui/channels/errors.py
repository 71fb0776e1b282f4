"""Typed errors of the channel layer: each is one line for the user and a kind the monitor acts on.

No message ever contains a token: errors are built from status codes, our own words, and vendor
text that went through safe_text.
"""

from __future__ import annotations

from enum import StrEnum

from d7tui.safety import one_line


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

    def __init__(self, channel: str, message: str, *, status: int | None = None) -> None:
        self.channel = channel
        self.message = one_line(message)
        self.status = status
        super().__init__(f"{channel}: {self.message}")

    def __str__(self) -> str:
        return f"{self.channel}: {self.message}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.channel!r}, {self.message!r}, status={self.status})"


class AuthError(ChannelError):
    """401/403: the credential is wrong or missing; `setting` names what to fix."""

    kind = ErrorKind.AUTH

    def __init__(self, channel: str, setting: str, *, status: int | None = None) -> None:
        self.setting = setting
        what = "missing" if status is None else f"refused (HTTP {status})"
        super().__init__(channel, f"API credential {what}: check {setting}", status=status)


class NotFound(ChannelError):
    kind = ErrorKind.NOT_FOUND


class ApiError(ChannelError):
    kind = ErrorKind.API


class RateLimited(ChannelError):
    kind = ErrorKind.RATE_LIMITED

    def __init__(self, channel: str, message: str, *, retry_after: float | None = None) -> None:
        self.retry_after = retry_after
        super().__init__(channel, message, status=429)


class Unreachable(ChannelError):
    kind = ErrorKind.UNREACHABLE


class ProtocolError(ChannelError):
    """The API answered, but not with what its pages describe (not JSON, or the wrong shape)."""

    kind = ErrorKind.PROTOCOL


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
