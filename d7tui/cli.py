"""Command line: `d7tui` (the monitor), `d7tui status`, `d7tui simulate`.

Bad input is one line on standard error and exit status 2, before anything is requested.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable, Sequence
from typing import NoReturn, TextIO

from d7tui import __version__
from d7tui.channels.errors import (
    AuthError,
    ChannelError,
    NotFound,
    detached,
    internal_error,
)
from d7tui.config import ConfigError, Settings, load_settings
from d7tui.idinput import gather_ids
from d7tui.models import (
    CHANNEL_CHOICES,
    IdKind,
    InfobipSource,
    InvalidId,
    RequestStatus,
    Target,
    validate_id,
)
from d7tui.safety import one_line

EXIT_OK, EXIT_USAGE, EXIT_NOT_FOUND, EXIT_AUTH, EXIT_FAILURE = 0, 2, 3, 4, 5


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # argparse prints the whole usage block; one line is easier to act on.
        sys.stderr.write(f"{self.prog}: {one_line(message)} (see {self.prog} --help)\n")
        raise SystemExit(EXIT_USAGE)


def build_parser(simulate_options: bool = True) -> argparse.ArgumentParser:
    """The whole command line; `simulate_options=False` leaves out the simulator's own options
    (and the import of the simulator they need), which only `d7tui simulate` uses."""
    parser = _Parser(
        prog="d7tui",
        description="Live delivery status of D7 Networks (SMS, WhatsApp, Viber) and Infobip SMS "
        "messages. With no command, opens the monitor.",
    )
    parser.add_argument("--version", action="version", version=f"d7tui {__version__}")
    parser.add_argument(
        "--demo",
        action="store_true",
        help="open the monitor on the built-in simulator (no account needed)",
    )
    parser.add_argument(
        "--mask", action="store_true", help="start in privacy mode (recipients masked)"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    status = sub.add_parser(
        "status",
        help="print the status of request ids once and exit",
        description="Fetch the status of each id once. Exit status: 0 all found, 2 bad usage "
        "or a bad id (nothing is requested), 3 some not found, 4 authentication, 5 other failure.",
    )
    status.add_argument(
        "ids", nargs="+", metavar="ID", help="request ids; '-' reads standard input"
    )
    status.add_argument("--channel", choices=CHANNEL_CHOICES, default="auto")
    status.add_argument(
        "--id-kind",
        choices=[IdKind.BULK.value, IdKind.MESSAGE.value],
        default=IdKind.BULK.value,
        help="what an Infobip id is (default bulkId)",
    )
    status.add_argument(
        "--infobip-source",
        choices=[s.value for s in InfobipSource],
        help="Infobip: one-time delivery 'reports' (default) or re-readable 'logs'",
    )
    status.add_argument("--json", action="store_true", help="JSON Lines, one object per id")
    status.add_argument(
        "--max-in-flight", type=int, metavar="N", help="requests in flight at once (default 16)"
    )

    add = sub.add_parser(
        "add",
        help="add ids to the watchlist without opening the monitor",
        description="Add ids to the watchlist the monitor shows. Bad ids are refused one line "
        "each (exit 2); the good ones are still added; ids already watched are merged.",
    )
    add.add_argument("ids", nargs="+", metavar="ID", help="request ids; '-' reads standard input")
    add.add_argument("--channel", choices=CHANNEL_CHOICES, default="auto")
    add.add_argument(
        "--id-kind", choices=[IdKind.BULK.value, IdKind.MESSAGE.value], default=IdKind.BULK.value
    )
    add.add_argument("--label", help="a label shown beside the id (and matched by the filter)")
    add.add_argument("--note", help="a free-form note kept with the id")

    export = sub.add_parser(
        "export",
        help="write the watchlist, every recipient's latest state and every transition",
    )
    export.add_argument("--format", choices=["json", "csv"], default="json")
    export.add_argument(
        "-o", "--output", metavar="FILE", help="write to FILE (default: standard output)"
    )

    simulate = sub.add_parser(
        "simulate",
        help="serve the built-in simulator of the D7 and Infobip APIs on loopback",
    )
    if simulate_options:
        from d7tui.simulator import cli as simulator_cli

        simulator_cli.add_arguments(simulate)
    return parser


def _targets(ids: list[str], channel: str, id_kind: str) -> tuple[list[Target], list[str]]:
    targets: list[Target] = []
    errors: list[str] = []
    seen: set[str] = set()
    kind = IdKind(id_kind) if channel == "infobip" else IdKind.REQUEST
    for raw in ids:
        try:
            value = validate_id(raw, channel)
        except InvalidId as exc:
            errors.append(str(exc))
            continue
        if value not in seen:  # duplicates are merged, not fetched twice
            seen.add(value)
            targets.append(Target(value, channel, kind))
    return targets, errors


async def _fetch_all(
    settings: Settings,
    targets: list[Target],
    emit: Callable[[Target, RequestStatus | ChannelError], None],
    flush: Callable[[], None],
    memory: _StatusMemory | None = None,
) -> list[RequestStatus | ChannelError]:
    from d7tui.channels.status import StatusClient

    results: list[object] = [None] * len(targets)
    done = [asyncio.Event() for _ in targets]
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(len(targets)):
        queue.put_nowait(i)

    sink = memory.sink if memory is not None else None
    async with StatusClient(settings, report_sink=sink) as client:

        async def worker() -> None:
            # A fixed set of workers rather than one task per id: 10,000 ids never become
            # 10,000 tasks waiting on the pool.
            while True:
                try:
                    i = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                try:
                    if memory is not None and targets[i].is_infobip and not memory.may_pull:
                        results[i] = memory.remembered_only(targets[i])
                    else:
                        results[i] = await client.fetch(targets[i])
                except ChannelError as exc:
                    results[i] = detached(exc)  # 10,000 kept errors hold no answer bodies
                except Exception as exc:
                    # Whatever went wrong, the id gets its one line and the run goes on: an id
                    # left without a result would keep `status` waiting for ever.
                    results[i] = internal_error(targets[i].channel, exc)
                finally:
                    done[i].set()

        workers = [asyncio.create_task(worker()) for _ in range(settings.max_in_flight)]
        # Print in the order given, each as soon as it and those before it are done; flushed
        # only before waiting, so a burst of answers is one write rather than one per line.
        for i in range(len(targets)):
            if not done[i].is_set():
                flush()
                await done[i].wait()
            emit(targets[i], results[i])
        flush()
        await asyncio.gather(*workers)
    return results  # type: ignore[return-value]


def run_status(args: argparse.Namespace, settings: Settings, out: TextIO, err: TextIO) -> int:
    from d7tui import output

    ids, problems = gather_ids(args.ids, sys.stdin)
    if not ids and not problems:
        err.write("d7tui status: no ids given\n")
        return EXIT_USAGE
    targets, bad_ids = _targets(ids, args.channel, args.id_kind)
    problems += bad_ids
    if problems:
        for problem in problems:
            err.write(f"d7tui status: {problem}\n")
        err.write("d7tui status: nothing was requested\n")
        return EXIT_USAGE

    def emit(target: Target, result: RequestStatus | ChannelError) -> None:
        if isinstance(result, RequestStatus) and result.incremental and not result.recipients:
            result = NotFound(
                "infobip",
                f"no new delivery report for {target.id_kind.value} {target.request_id} "
                "(reports are handed out once; --infobip-source logs re-reads the last 48 h)",
            )
        if args.json:
            out.write(output.json_line(target, result) + "\n")
        elif isinstance(result, RequestStatus):
            out.write(output.render_table(result) + "\n\n")
        if isinstance(result, ChannelError):
            err.write(output.render_error(target, result) + "\n")
        outcomes.append(result)

    def flush() -> None:
        out.flush()
        err.flush()

    outcomes: list[RequestStatus | ChannelError] = []
    memory = _StatusMemory.open(err) if any(t.is_infobip for t in targets) else None
    try:
        if memory is not None:
            emit = memory.wrap(emit)
        asyncio.run(_fetch_all(settings, targets, emit, flush, memory))
    finally:
        if memory is not None:
            memory.close()
    if not args.json and any(isinstance(r, RequestStatus) for r in outcomes):
        out.write(output.legend() + "\n")
    errors = [r for r in outcomes if isinstance(r, ChannelError)]
    if any(isinstance(e, AuthError) for e in errors):
        return EXIT_AUTH
    if any(not isinstance(e, NotFound) for e in errors):
        return EXIT_FAILURE
    if errors:
        return EXIT_NOT_FOUND
    return EXIT_OK


class _StatusMemory:
    """What `d7tui status` keeps of Infobip's one-time reports: each body is committed to the
    store before it is parsed, and what the store remembers is shown with what is new, so a
    report seen once (here or by the monitor) is still shown on the next look."""

    def __init__(self, store: object, err: TextIO) -> None:
        from d7tui.store import Store

        assert isinstance(store, Store)
        self.store = store
        self.may_pull = store.try_acquire_report_lock()
        if not self.may_pull:
            err.write(f"d7tui status: {one_line(store.report_lock_refusal())}\n")

    @classmethod
    def open(cls, err: TextIO) -> _StatusMemory | None:
        from d7tui.store import StoreError, open_store

        try:
            return cls(open_store(), err)
        except StoreError as exc:
            err.write(f"d7tui status: warning: {one_line(str(exc))}; reports are not kept\n")
            return None

    def sink(self, ident: str, body: bytes) -> None:
        from d7tui.store import parse_report_body

        self.store.ingest_report(ident, body, parse_report_body)

    def remembered_only(self, target: Target) -> RequestStatus | ChannelError:
        from d7tui.store import remembered_status

        state = remembered_status(self.store, target)
        if state is None or not state.recipients:
            return NotFound("infobip", f"no delivery report remembered for {target.request_id}")
        return state

    def wrap(
        self, emit: Callable[[Target, RequestStatus | ChannelError], None]
    ) -> Callable[[Target, RequestStatus | ChannelError], None]:
        from d7tui.store import remembered_status

        def emit_remembered(target: Target, result: RequestStatus | ChannelError) -> None:
            if target.is_infobip and isinstance(result, RequestStatus) and result.incremental:
                remembered = remembered_status(self.store, target)
                if remembered is not None and remembered.recipients:
                    result = remembered
            emit(target, result)

        return emit_remembered

    def close(self) -> None:
        self.store.close()


def run_add(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from d7tui.store import StoreError, add_ids, open_store

    try:
        store = open_store()
    except StoreError as exc:
        err.write(f"d7tui add: {one_line(str(exc))}\n")
        return EXIT_FAILURE
    ids, unreadable = gather_ids(args.ids, sys.stdin)
    for problem in unreadable:
        err.write(f"d7tui add: {problem}\n")
    try:
        result = add_ids(
            store,
            ids,
            args.channel,
            IdKind(args.id_kind) if args.channel == "infobip" else IdKind.REQUEST,
            args.label,
            note=args.note,
            stdin=sys.stdin,
        )
    finally:
        store.close()
    for problem in result.errors:
        err.write(f"d7tui add: {one_line(problem)}\n")
    refused = len(result.errors) + len(unreadable)
    out.write(
        f"added {len(result.added):,}, already watched {len(result.merged):,}"
        + (f", refused {refused:,}" if refused else "")
        + "\n"
    )
    if not (result.added or result.merged or result.errors or unreadable):
        err.write("d7tui add: no ids given\n")
        return EXIT_USAGE
    return EXIT_USAGE if result.errors or unreadable else EXIT_OK


def run_export(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from pathlib import Path

    from d7tui.export import export, export_to_file
    from d7tui.store import StoreError, open_store

    try:
        store = open_store()
    except StoreError as exc:
        err.write(f"d7tui export: {one_line(str(exc))}\n")
        return EXIT_FAILURE
    try:
        if args.output and args.output != "-":
            path, counts = export_to_file(store, args.format, Path(args.output))
            err.write(
                f"d7tui export: wrote {counts.watches:,} requests, {counts.recipients:,} "
                f"recipients and {counts.transitions:,} transitions to {path}\n"
            )
        else:
            export(store, args.format, out)
    except OSError as exc:
        err.write(f"d7tui export: cannot write {args.output}: {exc.strerror or exc}\n")
        return EXIT_FAILURE
    finally:
        store.close()
    return EXIT_OK


def _settings(args: argparse.Namespace) -> Settings:
    settings = load_settings()
    for warning in settings.warnings:
        sys.stderr.write(f"d7tui: warning: {one_line(warning)}\n")
    changes: dict[str, object] = {}
    if getattr(args, "infobip_source", None):
        changes["infobip_source"] = InfobipSource(args.infobip_source)
    if getattr(args, "max_in_flight", None) is not None:
        if not 1 <= args.max_in_flight <= 256:
            raise ConfigError("--max-in-flight must be from 1 to 256")
        changes["max_in_flight"] = args.max_in_flight
    if changes:
        from dataclasses import replace

        settings = replace(settings, **changes)  # type: ignore[arg-type]
    return settings


def main(argv: Sequence[str] | None = None) -> int:
    words = sys.argv[1:] if argv is None else argv
    # Importing the simulator costs a fifth of `d7tui status`'s start: only when it is asked for.
    args = build_parser(simulate_options="simulate" in words).parse_args(argv)
    try:
        if args.command == "simulate":
            from d7tui.simulator import cli as simulator_cli

            return simulator_cli.run(args)
        settings = _settings(args)
        if args.command == "status":
            return run_status(args, settings, sys.stdout, sys.stderr)
        if args.command == "add":
            return run_add(args, sys.stdout, sys.stderr)
        if args.command == "export":
            return run_export(args, sys.stdout, sys.stderr)
        from d7tui.ui.app import run_monitor

        return run_monitor(settings, demo=args.demo, mask=args.mask, ids=[])
    except ConfigError as exc:
        sys.stderr.write(f"d7tui: {one_line(str(exc))}\n")
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return EXIT_OK
