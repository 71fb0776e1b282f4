"""Command line: `d7tui` (the monitor), `d7tui status`, `d7tui config set`, `d7tui simulate`.

Bad input is one line on standard error and exit status 2, before anything is requested.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, NoReturn, TextIO

from d7tui import __version__
from d7tui.config import ConfigError, Settings, load_settings
from d7tui.errors import (
    AuthError,
    ChannelError,
    NotFound,
    detached,
    internal_error,
)
from d7tui.idinput import InputTooLarge, check_ids, gather_ids
from d7tui.models import (
    CHANNEL_CHOICES,
    IdKind,
    InfobipSource,
    RequestStatus,
    Target,
)
from d7tui.safety import error_line, one_line, whole_line
from d7tui.stdio import OutputError

if TYPE_CHECKING:
    from d7tui.report_guard import KeepsReports
    from d7tui.status_memory import StatusMemory
    from d7tui.store import Store

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
        help="Infobip: re-readable 'logs' of the last 48 h (default), or one-time delivery "
        "'reports', which every other consumer of the account then misses",
    )
    status.add_argument("--json", action="store_true", help="JSON Lines, one object per id")
    status.add_argument(
        "--show-text",
        action="store_true",
        help="show message text (Infobip logs; often a one-time code), hidden otherwise",
    )
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

    from d7tui import configcli, sendcli, serve

    sendcli.add_arguments(sub)
    serve.add_arguments(sub)
    configcli.add_arguments(sub)

    simulate = sub.add_parser(
        "simulate",
        help="serve the built-in simulator of the D7 and Infobip APIs on loopback",
    )
    if simulate_options:
        from d7tui.simulator import cli as simulator_cli

        simulator_cli.add_arguments(simulate)
    return parser


async def _fetch_all(
    settings: Settings,
    targets: list[Target],
    emit: Callable[[Target, RequestStatus | ChannelError], None],
    flush: Callable[[], None],
    memory: StatusMemory | None = None,
    warn: Callable[[str], None] | None = None,
    stopped: Stopped | None = None,
) -> list[RequestStatus | ChannelError]:
    from d7tui.channels.status import StatusClient

    results: list[object] = [None] * len(targets)
    done = [asyncio.Event() for _ in targets]
    queue: asyncio.Queue[int] = asyncio.Queue()

    def settle(i: int, result: RequestStatus | ChannelError) -> None:
        try:
            if memory is not None and targets[i].is_infobip:
                result = memory.or_remembered(targets[i], result)
        except Exception as exc:  # what was fetched still shows; what is remembered is extra
            if warn is not None:
                warn(f"{targets[i].request_id}: the store could not be read ({exc})")
        results[i] = result
        done[i].set()

    def first_reports() -> None:
        if warn is not None:
            warn(_reports_warning(settings))

    sink = memory.sink if memory is not None else None
    async with StatusClient(settings, report_sink=sink, on_first_reports=first_reports) as client:
        # One-time Infobip reports are pulled only while they can be kept (report_guard.py).
        fetcher = memory.guard(client) if memory is not None else client
        together: list[int] = []  # asked in lists: one call for many ids (Infobip logs)
        for i, target in enumerate(targets):
            kept = memory.beyond_logs(target) if memory is not None else None
            if kept is not None:
                settle(i, kept)  # Infobip no longer has it: asking would be in vain
            elif client.batch_key(target) is not None:
                together.append(i)
            else:
                queue.put_nowait(i)

        async def worker() -> None:
            # A fixed set of workers rather than one task per id: 10,000 ids never become
            # 10,000 tasks waiting on the pool.
            while True:
                try:
                    i = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                try:
                    result: RequestStatus | ChannelError = await fetcher.fetch(targets[i])
                except ChannelError as exc:
                    result = detached(exc)  # 10,000 kept errors hold no answer bodies
                except Exception as exc:
                    # Whatever went wrong, the id gets its one line and the run goes on: an id
                    # left without a result would keep `status` waiting for ever.
                    result = internal_error(targets[i].channel, exc)
                settle(i, result)

        async def lists() -> None:
            asked = [targets[i] for i in together]
            try:
                answers = await client.fetch_many(asked)
            except Exception as exc:  # as in worker(): every id still gets its line
                failure = detached(exc) if isinstance(exc, ChannelError) else None
                answers = {t.request_id: failure or internal_error(t.channel, exc) for t in asked}
            for i in together:
                settle(i, answers[targets[i].request_id])

        workers = [asyncio.create_task(worker()) for _ in range(settings.max_in_flight)]
        if stopped is not None:
            _wait_for_reports_on_signals(client, settings.timeout + 1, warn, stopped)
        if together:
            workers.append(asyncio.create_task(lists()))
        # Print in the order given, each as soon as it and those before it are done; flushed
        # only before waiting, so a burst of answers is one write rather than one per line.
        try:
            for i in range(len(targets)):
                if not done[i].is_set():
                    flush()
                    await done[i].wait()
                emit(targets[i], results[i])  # type: ignore[arg-type]
            flush()
            await asyncio.gather(*workers)
        finally:  # the output failed (or ctrl+c): nothing is left asking before the client closes
            for task in workers:
                task.cancel()
            await asyncio.gather(*workers, return_exceptions=True)
    return results  # type: ignore[return-value]


@dataclass
class Stopped:
    """`d7tui status` stopped by a signal: its exit status (0: not stopped), and whether a
    pull of one-time reports was in flight then (its page may be lost)."""

    code: int = 0
    lost_reports: bool = False


def _wait_for_reports_on_signals(
    client: KeepsReports, wait: float, warn: Callable[[str], None] | None, stopped: Stopped
) -> None:
    """ctrl+c or SIGTERM while a pull of Infobip's one-time reports is in flight: as `q` in the
    monitor, the pull's page is waited for (up to `wait`) and kept before the run ends, since
    cut short its reports are gone for everyone; the same signal again ends it at once."""
    main = asyncio.current_task()
    loop = asyncio.get_running_loop()
    asked: list[int] = []
    waiting: list[asyncio.Future[None]] = []  # held: a task nobody holds may be collected

    def stop(code: int) -> None:
        if main is None or main.done():
            return
        stopped.code, stopped.lost_reports = code, bool(client.reports_in_flight())
        main.cancel()

    def interrupt(code: int) -> None:
        asked.append(code)
        if len(asked) > 1 or not client.reports_in_flight():
            stop(code)
            return
        if warn is not None:
            warn(
                f"waiting up to {wait:g} s for Infobip reports in flight (handed out once) "
                "before stopping; interrupt again to stop now"
            )

        async def then_stop() -> None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(client.reports_kept(), wait)
            stop(code)

        waiting.append(asyncio.ensure_future(then_stop()))

    with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
        loop.add_signal_handler(signal.SIGINT, interrupt, 130)
        loop.add_signal_handler(signal.SIGTERM, interrupt, 143)


def _reports_warning(settings: Settings) -> str:
    """The one-time reports warning, the first time this data directory pulls them from this
    account; "" after that."""
    from d7tui.first_use import REPORTS, REPORTS_WARNING, first_time
    from d7tui.store import default_path

    if first_time(default_path().parent, REPORTS, settings.infobip_base_url):
        return REPORTS_WARNING
    return ""


def _gather(
    command: str, args: list[str], err: TextIO, nothing: str
) -> tuple[list[str], list[str]] | None:
    """`gather_ids` for a command: `-` read from a terminal says what it waits for (it waited
    without a word), and standard input too long to be ids is one line and None."""
    if "-" in args and sys.stdin is not None and sys.stdin.isatty():
        err.write(f"d7tui {command}: reading ids from the terminal, one a line; Ctrl-D ends\n")
        err.flush()
    try:
        return gather_ids(args, sys.stdin)
    except InputTooLarge as exc:
        err.write(f"d7tui {command}: {exc}; {nothing}\n")
        return None


def run_status(args: argparse.Namespace, settings: Settings, out: TextIO, err: TextIO) -> int:
    from d7tui import output

    gathered = _gather("status", args.ids, err, "nothing was requested")
    if gathered is None:
        return EXIT_USAGE
    ids, problems = gathered
    if not ids and not problems:
        err.write("d7tui status: no ids given\n")
        return EXIT_USAGE
    checked = check_ids(ids, args.channel, IdKind(args.id_kind))  # a duplicate is fetched once
    targets = checked.targets
    problems += checked.problems
    if problems:
        for problem in problems:
            err.write(f"d7tui status: {problem}\n")
        err.write("d7tui status: nothing was requested\n")
        return EXIT_USAGE

    def show(target: Target, result: RequestStatus | ChannelError) -> None:
        if isinstance(result, RequestStatus) and result.incremental and not result.recipients:
            result = NotFound(
                "infobip",
                f"no new delivery report for {target.id_kind.value} {target.request_id} "
                "(reports are handed out once; --infobip-source logs re-reads the last 48 h)",
            )
        elif (
            isinstance(result, RequestStatus)
            and not result.recipients
            and result.remembered is None
        ):
            # Not found, as the monitor says it: an answer that lists nobody is no request.
            result = (
                NotFound(
                    "infobip",
                    f"no message with {target.id_kind.value} {target.request_id} in Infobip's "
                    "logs (they keep the last 48 hours)",
                )
                if target.is_infobip
                else NotFound(result.channel.value, "the answer lists no recipient for this id")
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

    def warn(line: str) -> None:
        if line:
            err.write(f"d7tui status: warning: {whole_line(line)}\n")

    outcomes: list[RequestStatus | ChannelError] = []
    emit: Callable[[Target, RequestStatus | ChannelError], None] = show
    memory = None
    if any(t.is_infobip for t in targets):
        from d7tui.status_memory import StatusMemory

        memory = StatusMemory.open(
            err,
            reports=settings.infobip_source is InfobipSource.REPORTS,
            location=settings.store_location(),
        )
        emit = memory.showing_remembered(emit)
    stopped = Stopped()
    try:
        asyncio.run(_fetch_all(settings, targets, emit, flush, memory, warn, stopped))
    except asyncio.CancelledError:
        if not stopped.code:
            raise
        if stopped.lost_reports:
            err.write(
                "d7tui status: stopped while Infobip reports were in flight: a report page may "
                "have been lost (Infobip hands each out once; --infobip-source logs reads the "
                "last 48 hours)\n"
            )
        return stopped.code
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


def _open_store(
    command: str, err: TextIO, settings: Settings, *, readonly: bool = False, undone: str = ""
) -> Store | None:
    """The store for a command, or None once its one line is written (exit 5), saying what was
    not done (`undone`) first."""
    from d7tui.store import StoreError

    try:
        return _opener(command, err, settings, readonly=readonly)()
    except StoreError as exc:
        err.write(f"d7tui {command}: {undone + ': ' if undone else ''}{error_line(exc)}\n")
        return None


def _opener(
    command: str, err: TextIO, settings: Settings, *, readonly: bool = False
) -> Callable[[], Store]:
    """Opens the store for a command (raising StoreError), each warning written once however
    often it is opened."""
    from d7tui.channels.infobip import parse_page
    from d7tui.store import open_store

    said: set[str] = set()

    def open_() -> Store:
        store = open_store(
            settings.store_location(),
            readonly=readonly,
            parse_report=parse_page,
            user=settings.user or None,
        )
        for line in (*store.warnings, *store.notices):
            if line not in said:
                said.add(line)
                err.write(f"d7tui {command}: warning: {whole_line(line)}\n")
        return store

    return open_


def run_add(args: argparse.Namespace, settings: Settings, out: TextIO, err: TextIO) -> int:
    from d7tui.models import too_long
    from d7tui.store import StoreError
    from d7tui.store.commands import AddUnsure, add_ids_landed

    problem = too_long(args.label, args.note)
    if problem:
        err.write(f"d7tui add: {problem}, so nothing was added\n")
        return EXIT_USAGE
    gathered = _gather("add", args.ids, err, "nothing was added")
    if gathered is None:
        return EXIT_USAGE
    ids, unreadable = gathered
    for problem in unreadable:
        err.write(f"d7tui add: {problem}\n")
    try:
        result = add_ids_landed(
            _opener("add", err, settings),
            ids,
            args.channel,
            IdKind(args.id_kind) if args.channel == "infobip" else IdKind.REQUEST,
            args.label,
            note=args.note,
        )
    except AddUnsure as exc:  # committed, into files that kept changing under it
        err.write(f"d7tui add: {error_line(exc)}: run the same d7tui add again\n")
        return EXIT_FAILURE
    except StoreError as exc:  # the disk is full, another program holds the database ...
        err.write(f"d7tui add: nothing was added: {error_line(exc)}\n")
        return EXIT_FAILURE
    for problem in (*result.errors, *result.unswitched):
        err.write(f"d7tui add: {one_line(problem)}\n")
    refused = len(result.errors) + len(unreadable)
    said = f"added {len(result.added):,}, already watched {len(result.merged):,}" + (
        f", refused {refused:,}" if refused else ""
    )
    try:
        out.write(said + "\n")
        for change in result.replaced:  # the old text is printed: it is in no other place now
            out.write(change.said() + "\n")
        out.flush()
    except OutputError as exc:  # added all the same: say so where it can still be read
        err.write(f"d7tui add: {said}, but {exc}\n")
    if not (result.added or result.merged or result.errors or unreadable):
        err.write("d7tui add: no ids given\n")
        return EXIT_USAGE
    return EXIT_USAGE if result.errors or unreadable else EXIT_OK


def run_export(
    args: argparse.Namespace,
    settings: Settings,
    out: TextIO,
    err: TextIO,
    *,
    keep_text: bool = False,
) -> int:
    import tempfile
    from pathlib import Path

    from d7tui.export import WouldReplaceDatabase, export, export_to_file
    from d7tui.store import Store, StoreError, default_path

    with contextlib.ExitStack() as stack:
        if settings.store_location() is not None or default_path().exists():
            # Read-only: an export only reads (and so works where nothing may be written).
            store = _open_store("export", err, settings, readonly=True)
        else:  # nothing was ever stored here: the export of an empty store, creating nothing
            empty = Path(stack.enter_context(tempfile.TemporaryDirectory())) / "empty.sqlite3"
            store = Store.open(empty)
        if store is None:
            return EXIT_FAILURE
        stack.callback(store.close)
        try:
            if args.output and args.output != "-":
                path, counts = export_to_file(
                    store, args.format, Path(args.output), keep_text=keep_text
                )
                err.write(
                    f"d7tui export: wrote {counts.watches:,} requests, {counts.recipients:,} "
                    f"recipients and {counts.transitions:,} transitions to {path}\n"
                )
            else:
                export(store, args.format, out, keep_text=keep_text)
        except WouldReplaceDatabase as exc:
            err.write(f"d7tui export: {exc}; nothing was written\n")
            return EXIT_USAGE
        except BrokenPipeError:
            raise  # the reader had enough (`d7tui export | head`): main ends quietly
        except OSError as exc:
            err.write(f"d7tui export: cannot write {args.output}: {exc.strerror or exc}\n")
            return EXIT_FAILURE
        except StoreError as exc:
            err.write(f"d7tui export: {error_line(exc)}\n")
            return EXIT_FAILURE
    return EXIT_OK


def _settings(args: argparse.Namespace) -> Settings:
    settings = load_settings()
    for warning in settings.warnings:
        sys.stderr.write(f"d7tui: warning: {one_line(warning)}\n")
    changes: dict[str, object] = {}
    if getattr(args, "infobip_source", None):
        changes["infobip_source"] = InfobipSource(args.infobip_source)
    if getattr(args, "show_text", False):
        changes["message_text"] = True
    if getattr(args, "max_in_flight", None) is not None:
        if not 1 <= args.max_in_flight <= 256:
            raise ConfigError("--max-in-flight must be from 1 to 256")
        changes["max_in_flight"] = args.max_in_flight
    if changes:
        settings = replace(settings, **changes)  # type: ignore[arg-type]
    return settings


def _run_command(args: argparse.Namespace, settings: Settings) -> int:
    """A command with its output guarded: an output that cannot take what is written (not
    UTF-8, a full disk, closed) is one line and exit 5, never a traceback."""
    from d7tui.stdio import silence_stdout, streams

    # An export is a data file: UTF-8 whatever the locale; a table degrades its symbols.
    out, err = streams(utf8=args.command == "export")
    try:
        if args.command == "status":
            return run_status(args, settings, out, err)
        if args.command == "add":
            return run_add(args, settings, out, err)
        if args.command == "export":
            return run_export(args, settings, out, err, keep_text=settings.message_text)
        if args.command == "serve":
            from d7tui import serve

            return serve.run(args, settings, err)
        from d7tui import sendcli

        return sendcli.run(args, settings, out, err, sys.stdin)
    except OutputError as exc:
        err.write(f"d7tui {args.command}: {exc}\n")
        silence_stdout()
        return EXIT_FAILURE
    finally:
        # What is still buffered (a table's legend) goes now, where a reader gone away
        # (`| head`) is a BrokenPipeError main() ends quietly on, not at the interpreter's
        # exit, which says "Exception ignored … BrokenPipeError" and exits 120.
        with contextlib.suppress(OutputError):
            out.flush()


def main(argv: Sequence[str] | None = None) -> int:
    words = sys.argv[1:] if argv is None else argv
    # Importing the simulator costs a fifth of `d7tui status`'s start: only when it is asked for.
    parser = build_parser(simulate_options="simulate" in words)
    args, extra = parser.parse_known_args(argv)
    if extra:
        if getattr(args, "ids", None) is not None and not any(w.startswith("-") for w in extra):
            args.ids += extra  # ids after an option (`status X --channel infobip Y`) are ids too
        else:
            prog = f"d7tui {args.command}" if args.command else "d7tui"
            sys.stderr.write(
                f"{prog}: unrecognized arguments: {one_line(' '.join(extra), 200)} "
                f"(see {prog} --help)\n"
            )
            return EXIT_USAGE
    monitor_only = [flag for flag in ("demo", "mask") if getattr(args, flag, False)]
    if args.command not in (None, "simulate") and monitor_only:  # simulate has its own --demo
        # `d7tui --demo status ID` would ask the real API for the demo's ids.
        flags = " and ".join(f"--{flag}" for flag in monitor_only)
        sys.stderr.write(
            f"d7tui: {flags} {'are' if len(monitor_only) > 1 else 'is'} for the monitor "
            f"(d7tui {flags.replace(' and ', ' ')}), not for d7tui {args.command}\n"
        )
        return EXIT_USAGE
    try:
        if args.command == "simulate":
            from d7tui.simulator import cli as simulator_cli

            return simulator_cli.run(args)
        if args.command == "config":  # before the settings: it is how a broken one is fixed
            from d7tui import configcli

            return configcli.run(args, sys.stdout, sys.stderr, sys.stdin)
        settings = _settings(args)
        if args.command is not None:
            return _run_command(args, settings)
        # A browser tab of `d7tui serve` has pipes, not a terminal: textual-serve's driver.
        served = "web_driver" in os.environ.get("TEXTUAL_DRIVER", "")
        if not served and not all(s is not None and s.isatty() for s in (sys.stdin, sys.stdout)):
            # cron, a script, `ssh host d7tui`: Textual would end at once, saying nothing.
            sys.stderr.write(
                "d7tui: the monitor needs a terminal; from a script use "
                "d7tui status ID... or d7tui export\n"
            )
            return EXIT_USAGE
        early = None
        if not args.demo and settings.store_location() is None:  # the default file
            from d7tui.memory import EarlyOpen

            # Opened, checked and its first rows read on another core while the screen's code is
            # imported: at 100,000 ids the first rows waited for the three, one after the other.
            early = EarlyOpen(None, settings.user)
        from d7tui.ui.app import run_monitor

        return run_monitor(settings, demo=args.demo, mask=args.mask, ids=[], early=early)
    except ConfigError as exc:
        sys.stderr.write(f"d7tui: {error_line(exc)}\n")
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader of standard output went away (`| head`): quietly, and without Python's
        # own complaint when it flushes standard output at exit.
        from d7tui.stdio import silence_stdout

        silence_stdout()
        return EXIT_OK
