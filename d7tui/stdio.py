"""Standard output and error of the commands (`status`, `add`, `export`, `send`): whatever they
cannot take — a character the encoding lacks, a full disk, a closed descriptor — is one line and a
documented exit status, never a traceback."""

from __future__ import annotations

import codecs
import contextlib
import io
import os
import sys
from typing import TextIO, cast

# What the tables draw, in ASCII, for an output whose encoding lacks it (LANG with ISO-8859-1,
# PYTHONIOENCODING=ascii, a Windows console code page); anything else becomes "?".
_ASCII = {"✓": "v", "✗": "x", "…": "...", "•": "*", "→": "->", "—": "-", "⚠": "!", "·": "-"}


def _degrade(exc: UnicodeError) -> tuple[str, int]:
    if not isinstance(exc, UnicodeEncodeError):
        raise exc
    bad = exc.object[exc.start : exc.end]
    return "".join(_ASCII.get(c, "?") for c in bad), exc.end


codecs.register_error("d7tui-degrade", _degrade)


class OutputError(Exception):
    """Standard output cannot take what is written (the disk is full, it is closed)."""


class _Output(io.TextIOBase):
    """Standard output: its write failures become OutputError (a reader that went away stays a
    BrokenPipeError, which ends the command quietly)."""

    def __init__(self, stream: TextIO | None) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        return self._do(lambda s: s.write(text)) or 0

    def flush(self) -> None:
        self._do(lambda s: s.flush())

    def isatty(self) -> bool:
        return self._stream is not None and self._stream.isatty()

    def _do(self, act: object) -> int | None:
        if self._stream is None:
            raise OutputError("standard output is closed")
        try:
            return act(self._stream)  # type: ignore[operator]
        except BrokenPipeError:
            raise
        except OSError as exc:
            raise OutputError(f"cannot write to standard output: {exc.strerror or exc}") from exc


class _Errors(io.TextIOBase):
    """Standard error: where it cannot be written (full, closed), there is nowhere left to say
    so, and the command's exit status still tells."""

    def __init__(self, stream: TextIO | None) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        if self._stream is not None:
            with contextlib.suppress(OSError, ValueError):
                self._stream.write(text)
        return len(text)

    def flush(self) -> None:
        if self._stream is not None:
            with contextlib.suppress(OSError, ValueError):
                self._stream.flush()


def streams(*, utf8: bool = False) -> tuple[TextIO, TextIO]:
    """Standard output and error for a command. `utf8` (an export: a data file) writes UTF-8
    whatever the locale says; otherwise characters the output's encoding lacks degrade."""
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, io.TextIOWrapper):
            with contextlib.suppress(ValueError, OSError):
                if utf8 and stream is sys.stdout:
                    stream.reconfigure(encoding="utf-8", errors="strict")
                else:
                    stream.reconfigure(errors="d7tui-degrade")
    return cast(TextIO, _Output(sys.stdout)), cast(TextIO, _Errors(sys.stderr))


def silence_stdout() -> None:
    """After standard output failed: what Python still holds for it goes nowhere at exit, so
    no complaint of its own follows the command's one line."""
    if sys.stdout is None:
        return
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
