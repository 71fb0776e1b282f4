"""The app's edge: whatever escapes a handler, a message, a timer or a worker is caught here, the
screen lives on (polling too), a one-line banner says "internal error — details in FILE", and
FILE holds the traceback, without local variables, with tokens redacted and recipients masked.

Textual ends the app on any exception that reaches it and prints a Rich traceback with the
local variables of every frame: recipients, API bodies, anything in scope. So nothing of ours
runs unguarded: `Guarded` (a mixin for our App, screens and widgets) wraps every handler
Textual calls by name (`on_*`, `action_*`, `watch_*`, `render_line`) and every callback handed
to a timer or `call_*`; `on` replaces `textual.on` for decorated handlers; workers are wrapped
where they are started. Should anything still escape (Textual's own code), the app's error
console prints one line pointing at FILE instead of Textual's traceback.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import os
import time
import traceback
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import IO, Any, TypeVar

from rich.console import Console
from textual import on as textual_on
from textual.app import App
from textual.strip import Strip

from d7tui.ui.format import mask_numbers

ERRORS_LOG = "d7tui-errors.log"
MAX_LOG = 1_000_000  # bytes; then the file starts again (the previous one kept as .1)
REDACTED = "[redacted]"
ENTRY_PREFIXES = ("on_", "_on_", "action_", "watch_")

F = TypeVar("F", bound=Callable[..., Any])


def redact(text: str, secrets: Iterable[str]) -> str:
    for secret in secrets:
        if len(secret) >= 4:
            text = text.replace(secret, REDACTED)
    return mask_numbers(text)  # phone numbers, masked as the privacy mode masks recipients


class Edge:
    """Where errors that escaped a handler are written and counted."""

    def __init__(
        self,
        directory: Callable[[], Path],
        secrets: Callable[[], list[str]],
        on_error: Callable[[Edge], None],
    ) -> None:
        self._directory = directory
        self._secrets = secrets
        self._on_error = on_error
        self.count = 0

    @property
    def path(self) -> Path:
        return self._directory() / ERRORS_LOG

    def report(self, error: BaseException, where: str) -> None:
        """Write `error` to the log (no locals, redacted) and tell the app; never raises."""
        self.count += 1
        lines = traceback.format_exception(type(error), error, error.__traceback__)
        stamp = time.strftime("%Y-%m-%d %H:%M:%S")
        text = f"--- {stamp} internal error in {where}\n{''.join(lines)}"
        self.write(text)
        with contextlib.suppress(Exception):
            self._on_error(self)

    def write(self, text: str) -> None:
        with contextlib.suppress(Exception):
            text = redact(text, self._secrets())
            path = self.path
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            if path.exists() and path.stat().st_size > MAX_LOG:
                path.replace(path.with_name(path.name + ".1"))
            # Owner only, as the database beside it: a traceback may quote a phone number.
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "a", encoding="utf-8") as file:
                file.write(text if text.endswith("\n") else text + "\n")


def _edge_of(node: Any) -> Edge | None:
    try:
        app = node if isinstance(node, App) else node.app
    except Exception:
        return None
    return getattr(app, "edge", None)


def _failed(node: Any, error: Exception, where: str) -> None:
    edge = _edge_of(node)
    if edge is None:  # not in our app (a widget tested alone): Textual's own handling
        raise error
    edge.report(error, where)


def guarded(method: F) -> F:
    """A method Textual calls, made to report what escapes it instead of ending the app."""
    where = method.__qualname__
    if inspect.iscoroutinefunction(method):

        @functools.wraps(method)
        async def run_async(self: Any, *args: Any, **kwargs: Any) -> Any:
            try:
                return await method(self, *args, **kwargs)
            except Exception as error:
                _failed(self, error, where)
                return None

        return run_async  # type: ignore[return-value]

    @functools.wraps(method)
    def run(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except Exception as error:
            _failed(self, error, where)
            if method.__name__ == "render_line":  # a line must be drawn, if only blank
                return Strip.blank(self.size.width)
            return None

    return run  # type: ignore[return-value]


def guard_callback(node: Any, callback: Any) -> Any:
    """A callback for a timer or `call_later`, reporting what escapes it."""
    if callback is None or not callable(callback):
        return callback
    where = getattr(callback, "__qualname__", repr(callback))
    if inspect.iscoroutinefunction(callback):

        @functools.wraps(callback)
        async def run_async(*args: Any, **kwargs: Any) -> Any:
            try:
                return await callback(*args, **kwargs)
            except Exception as error:
                _failed(node, error, where)
                return None

        return run_async

    @functools.wraps(callback)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            result = callback(*args, **kwargs)
        except Exception as error:
            _failed(node, error, where)
            return None
        if inspect.isawaitable(result):  # a lambda returning a coroutine
            return guard_awaitable(node, result, where)
        return result

    return run


async def guard_awaitable(node: Any, work: Any, where: str) -> Any:
    try:
        return await work
    except Exception as error:
        _failed(node, error, where)
        return None


def on(*args: Any, **kwargs: Any) -> Callable[[F], F]:
    """`textual.on`, for a handler that reports what escapes it."""

    def decorate(method: F) -> F:
        return textual_on(*args, **kwargs)(guarded(method))

    return decorate


class Guarded:
    """Mixin for our App, screens and widgets: every handler Textual calls by name, and every
    callback handed to a timer or `call_*`, reports what escapes it to the app's edge."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for name, value in list(vars(cls).items()):
            if not inspect.isfunction(value) or getattr(value, "__wrapped__", None):
                continue
            if name.startswith(ENTRY_PREFIXES) or name == "render_line":
                setattr(cls, name, guarded(value))

    def set_interval(self, interval: float, callback: Any = None, **kwargs: Any) -> Any:
        return super().set_interval(interval, guard_callback(self, callback), **kwargs)  # type: ignore[misc]

    def set_timer(self, delay: float, callback: Any = None, **kwargs: Any) -> Any:
        return super().set_timer(delay, guard_callback(self, callback), **kwargs)  # type: ignore[misc]

    def call_later(self, callback: Any, *args: Any, **kwargs: Any) -> bool:
        return super().call_later(guard_callback(self, callback), *args, **kwargs)  # type: ignore[misc,no-any-return]

    def call_after_refresh(self, callback: Any, *args: Any, **kwargs: Any) -> bool:
        return super().call_after_refresh(guard_callback(self, callback), *args, **kwargs)  # type: ignore[misc,no-any-return]

    def call_next(self, callback: Any, *args: Any, **kwargs: Any) -> None:
        super().call_next(guard_callback(self, callback), *args, **kwargs)  # type: ignore[misc]


class EdgeConsole(Console):
    """The app's error console: should an error escape every guard, Textual would print its
    traceback here, locals and all. One line is printed instead."""

    def __init__(self, edge: Edge, file: IO[str] | None = None) -> None:
        super().__init__(markup=False, highlight=False, stderr=file is None, file=file)
        self.edge = edge
        self._said = False

    def print(self, *objects: Any, **kwargs: Any) -> None:
        if self._said:
            return
        self._said = True
        self.edge.write(
            f"--- {time.strftime('%Y-%m-%d %H:%M:%S')} an error escaped the app's edge; "
            "d7tui stopped (Textual's traceback is not kept: it shows local variables)"
        )
        line = f"d7tui stopped on an internal error — details in {self.edge.path}"
        super().print(line, soft_wrap=True)
