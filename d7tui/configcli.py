"""`d7tui config set KEY VALUE`: change one setting of config.toml from the command line."""

from __future__ import annotations

import argparse
import getpass
from typing import TextIO

from d7tui.config import config_path
from d7tui.config_edit import EditError, set_value, settable

EXIT_OK, EXIT_USAGE, EXIT_FAILURE = 0, 2, 5


def add_arguments(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    config = sub.add_parser(
        "config",
        help="change a setting in config.toml",
        description="Change settings in config.toml (created readable by you alone).",
    )
    actions = config.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    set_ = actions.add_parser(
        "set",
        help="set KEY to VALUE, checked as the monitor reads it",
        description="Set KEY to VALUE in config.toml, checked as d7tui reads it; the rest of "
        "the file is kept. VALUE '-' reads it from standard input (typed without echo at a "
        "terminal): a secret then stays out of the shell's history. Keys: " + ", ".join(settable()),
    )
    set_.add_argument("key", metavar="KEY")
    set_.add_argument("value", metavar="VALUE")


def run(args: argparse.Namespace, out: TextIO, err: TextIO, stdin: TextIO) -> int:
    path = config_path()
    raw = args.value
    try:
        if raw == "-":
            raw = _read_value(stdin)
        set_value(path, args.key, raw)
    except EditError as exc:
        err.write(f"d7tui config set: {exc}\n")
        return EXIT_USAGE
    except OSError as exc:
        err.write(f"d7tui config set: cannot write {path}: {exc.strerror or 'error'}\n")
        return EXIT_FAILURE
    out.write(f"{args.key} set in {path}\n")  # never the value: it may be a secret
    return EXIT_OK


def _read_value(stdin: TextIO) -> str:
    if stdin.isatty():
        return getpass.getpass("value (not shown): ")
    return stdin.readline().removesuffix("\n").removesuffix("\r")
