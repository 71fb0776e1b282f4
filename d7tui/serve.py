"""`d7tui serve`: the monitor in a browser (textual-serve), for a wall screen or a colleague
without a terminal.

Every browser tab is a monitor of its own, in a process of its own, on the desk's shared
database: one of the desk's monitors leads (polls the vendors) and the others follow, so a tab
adds no vendor call. Hence it needs `database_url`: tabs on a SQLite file would each poll.
There is no login: bound to anything but loopback, whoever reaches the port sees and works the
desk's watchlist, and it says so.
"""

from __future__ import annotations

import argparse
import shlex
import socket
import sys
from typing import Any, TextIO

from d7tui.config import Settings, is_loopback

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
# Browser tabs served at once: each is a monitor process of its own (~70 MB), and every WebSocket
# opened one, with no bound, so a script (or anyone on the network, with --host) could open
# hundreds and eat the machine (K14).
DEFAULT_VIEWERS = 8
TRY_AGAIN_LATER = 1013  # the WebSocket close code for "the server is busy"
EXIT_OK = 0
EXIT_USAGE = 2
EXIT_FAILURE = 5


def add_arguments(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    serve = sub.add_parser(
        "serve",
        help="serve the monitor to web browsers (needs database_url: each tab follows the desk)",
    )
    serve.add_argument("--host", default=DEFAULT_HOST, help=f"default {DEFAULT_HOST}")
    serve.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"default {DEFAULT_PORT}")
    serve.add_argument(
        "--viewers",
        type=int,
        default=DEFAULT_VIEWERS,
        help=f"browser tabs served at once, each a monitor process (default {DEFAULT_VIEWERS})",
    )


def run(args: argparse.Namespace, settings: Settings, err: TextIO) -> int:
    if settings.store_location() is None:
        err.write(
            "d7tui serve: needs a desk's database (database_url, or D7TUI_DATABASE_URL): every "
            "browser tab is a monitor of it, and one monitor polls for all\n"
        )
        return EXIT_USAGE
    if not is_loopback(args.host):
        err.write(
            f"d7tui serve: warning: bound to {args.host}, with no login: anyone who can reach "
            f"port {args.port} there sees the desk's watchlist and can change it\n"
        )
    if not 0 < args.port < 65536:
        err.write("d7tui serve: --port must be from 1 to 65535\n")
        return EXIT_USAGE
    if not 0 < args.viewers <= 1000:
        err.write("d7tui serve: --viewers must be from 1 to 1000\n")
        return EXIT_USAGE
    # Bound once before the server says it serves: a port taken or an address not on this
    # machine is one line, not a traceback after "Serving … on".
    problem = _cannot_listen(args.host, args.port)
    if problem:
        err.write(f"d7tui serve: cannot listen on {args.host}:{args.port}: {problem}\n")
        return EXIT_FAILURE
    command = f"{shlex.quote(sys.executable)} -m d7tui"
    try:
        _server(command, args.host, args.port, args.viewers).serve()
    except OSError as exc:  # taken in the moment since the check
        err.write(f"d7tui serve: cannot listen on {args.host}:{args.port}: {_reason(exc)}\n")
        return EXIT_FAILURE
    return EXIT_OK


def _server(command: str, host: str, port: int, viewers: int) -> Any:
    """textual-serve's server, serving at most `viewers` tabs at once: one more is closed at once
    with a line saying why (the page shows the connection closed)."""
    from aiohttp import web
    from textual_serve.server import Server

    class CappedServer(Server):
        serving = 0

        async def handle_websocket(self, request: web.Request) -> web.WebSocketResponse:
            if self.serving >= viewers:
                refused = web.WebSocketResponse()
                await refused.prepare(request)
                tabs = "1 tab is" if viewers == 1 else f"{viewers} tabs are"
                why = f"d7tui serve: {tabs} open already (--viewers); close one"
                await refused.close(code=TRY_AGAIN_LATER, message=why.encode())
                return refused
            self.serving += 1
            try:
                return await super().handle_websocket(request)
            finally:
                self.serving -= 1

    return CappedServer(command, host=host, port=port, title="d7tui")


def _cannot_listen(host: str, port: int) -> str | None:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except (OSError, UnicodeError) as exc:
        return _reason(exc) if isinstance(exc, OSError) else "not a host name"
    family, kind, proto, _, address = infos[0]
    try:
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind(address)
    except OSError as exc:
        return _reason(exc)
    return None


def _reason(exc: OSError) -> str:
    """`address already in use`, in the system's words, without Python's."""
    return (exc.strerror or str(exc)).lower()
