"""`d7tui send`: one test message through the vendor's send endpoint, then watched (label
"test") by the monitor. It costs money, so it is confirmed: asked on a terminal, `--yes`
otherwise."""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from typing import TYPE_CHECKING, TextIO

from d7tui.config import Settings
from d7tui.errors import AuthError, ChannelError
from d7tui.models import Channel
from d7tui.safety import error_line, one_line
from d7tui.stdio import OutputError

if TYPE_CHECKING:  # the send machinery is imported only when a message is sent
    from d7tui.channels.send import Message, Sent

EXIT_OK, EXIT_CANCELLED, EXIT_USAGE, EXIT_AUTH, EXIT_FAILURE = 0, 1, 2, 4, 5
EXIT_INTERRUPTED = 130  # ctrl+c


def add_arguments(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    send = sub.add_parser(
        "send",
        help="send one test message and watch it (costs money: asks first)",
        description="Send one message through the vendor's send endpoint and add the returned "
        "id to the watchlist, labelled 'test'. It costs money: on a terminal d7tui asks first; "
        "otherwise --yes is needed. Exit status: 0 sent, 1 you did not confirm, 2 bad usage "
        "(nothing sent), 4 authentication, 5 any other failure, 130 interrupted.",
    )
    send.add_argument("--channel", required=True, choices=[c.value for c in Channel])
    send.add_argument("--to", required=True, metavar="NUMBER", help="with the country code")
    what = send.add_mutually_exclusive_group(required=True)
    what.add_argument("--text", help="the message text")
    what.add_argument("--template", metavar="NAME", help="WhatsApp: an approved template's id")
    send.add_argument("--language", default="en", help="the template's language (default en)")
    send.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="VALUE",
        help="a template body parameter, in order (repeat for more)",
    )
    send.add_argument(
        "--from", dest="sender", metavar="SENDER", help="the originator (needed for D7)"
    )
    send.add_argument("--yes", action="store_true", help="send without asking")
    send.add_argument("--json", action="store_true", help="one JSON object: what was sent")


def run(
    args: argparse.Namespace, settings: Settings, out: TextIO, err: TextIO, stdin: TextIO
) -> int:
    from d7tui.channels import send

    try:
        message = send.check(
            send.Message(
                Channel(args.channel),
                args.to,
                args.text,
                args.template,
                args.language,
                tuple(args.param),
                args.sender,
            )
        )
    except send.SendProblem as exc:
        err.write(f"d7tui send: {error_line(exc)}; nothing was sent\n")
        return EXIT_USAGE
    if not args.yes:
        if not stdin.isatty():
            err.write(
                "d7tui send: sending costs money; standard input is not a terminal to confirm "
                "on, so add --yes to send. Nothing was sent\n"
            )
            return EXIT_USAGE
        try:
            err.write(f"Send {message.describe()}? It costs money. [y/N] ")
            err.flush()
            answer = stdin.readline()
        except KeyboardInterrupt:
            err.write("\nd7tui send: not sent\n")  # the prompt's line ends where ^C left it
            return EXIT_INTERRUPTED
        if not answer.endswith("\n"):
            err.write("\n")  # ctrl+d: the next line starts on a line of its own
        if answer.strip().lower() not in ("y", "yes"):
            err.write("d7tui send: not sent\n")
            return EXIT_CANCELLED
    try:
        sent = asyncio.run(_send(settings, message))
    except ChannelError as exc:
        err.write(f"d7tui send: {exc}\n")
        return EXIT_AUTH if isinstance(exc, AuthError) else EXIT_FAILURE
    except KeyboardInterrupt:
        err.write(
            "\nd7tui send: interrupted while sending: the message may have been sent, so it "
            "is not watched; look in the vendor's dashboard before sending again\n"
        )
        return EXIT_INTERRUPTED
    watching = _watch(sent, message, err, settings)
    try:
        _report(args, sent, message, watching, out)
    except OutputError as exc:  # sent all the same: a script must not send it again
        err.write(f"d7tui send: sent: {sent.request_id}, but {exc}\n")
    return EXIT_OK


def _report(
    args: argparse.Namespace, sent: Sent, message: Message, watching: str | None, out: TextIO
) -> None:
    if args.json:
        record = {
            "request_id": sent.request_id,
            "channel": sent.channel.value,
            "id_kind": sent.id_kind.value,
            "status": sent.status,
            "to": message.to,
            "watching": watching is not None,
        }
        out.write(json.dumps(record, ensure_ascii=False) + "\n")
    else:
        out.write(
            f"sent: {sent.request_id} ({sent.channel.value}, {sent.status or 'no status yet'})\n"
        )
        if watching is not None:
            out.write(f"watching it, {watching}: open d7tui to follow it\n")
    out.flush()


async def _send(settings: Settings, message: Message) -> Sent:
    from d7tui.channels.account import AccountClient

    async with AccountClient(settings) as client:
        return await client.send(message)


def _watch(sent: Sent, message: Message, err: TextIO, settings: Settings) -> str | None:
    """Put the sent id on the watchlist; how it is labelled, or None if it is not watched (a
    store that cannot be opened is a warning: the message went out, its id is printed either
    way). An id watched already keeps its own label and note."""
    from d7tui.channels.infobip import parse_page
    from d7tui.channels.send import TEST_LABEL
    from d7tui.store import StoreError, open_store
    from d7tui.store.commands import add_ids_landed

    try:
        result = add_ids_landed(
            lambda: open_store(
                settings.store_location(), parse_report=parse_page, user=settings.user or None
            ),
            [sent.request_id],
            sent.channel.value,
            sent.id_kind,
            TEST_LABEL,
            note=f"test message to {message.to}, sent {time.strftime('%Y-%m-%d %H:%M:%S')}",
            keep=True,
        )
    except StoreError as exc:
        err.write(f"d7tui send: warning: not watched: {error_line(exc)}\n")
        return None
    for problem in result.errors:
        err.write(f"d7tui send: warning: not watched: {one_line(problem)}\n")
    if result.errors:
        return None
    label = result.kept[0].label if result.kept else TEST_LABEL
    return f"labelled '{one_line(label)}'" if label else "without a label"
