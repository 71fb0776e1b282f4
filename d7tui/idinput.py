"""Ids as a user hands them: from the command line (arguments, and `-` for standard input), and
checked for a channel (`check_ids`, the one rule for `d7tui status`, `d7tui add` and the add dialog).

Standard input is read as bytes and decoded here, line by line: how Python decodes it depends on
the locale (a strict UTF-8 one raised a traceback on the first byte that was not text), and a
line that is not text is one problem to report, not a reason to lose the others.
"""

from __future__ import annotations

import codecs
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import BinaryIO, TextIO

from d7tui.models import Channel, IdKind, InvalidId, Target, split_ids, validate_id

_BOM = "\ufeff"  # an editor's byte order mark at the start of a saved list of ids
_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)

# Standard input is read with bounds: a binary file, /dev/zero or an endless `yes ID |` piped by
# mistake grew until the machine ran out of memory. A line holds ~28,000 ids separated by commas
# at most; the whole input ~900,000 ids one a line, nine times the largest list measured.
LINE_LIMIT = 1 << 20
INPUT_LIMIT = 32 << 20


class InputTooLarge(ValueError):
    """Standard input longer than INPUT_LIMIT: nothing of it is used (it is not a list of ids
    someone meant to hand over whole)."""

    def __init__(self) -> None:
        super().__init__(
            f"standard input is longer than {INPUT_LIMIT >> 20} MB (about 900,000 ids); "
            "hand it over in parts"
        )


def gather_ids(args: Sequence[str], stdin: TextIO) -> tuple[list[str], list[str]]:
    """Every id in the arguments (each may hold several) and, for `-`, standard input (read
    once); and one problem for each argument or line that is not text, or too long to be ids.
    InputTooLarge when standard input goes on past INPUT_LIMIT."""
    ids: list[str] = []
    problems: list[str] = []
    stdin_read = False
    for number, arg in enumerate(args, 1):
        if arg == "-":
            if not stdin_read:
                stdin_read = True
                found, bad = _read_lines(stdin)
                ids.extend(found)
                problems.extend(bad)
        elif _undecodable(arg):
            # Python hands over argument bytes that are not UTF-8 as lone surrogates.
            problems.append(f"argument {number} is not UTF-8 text")
        else:
            ids.extend(split_ids(arg))
    return ids, problems


def _read_lines(stdin: TextIO) -> tuple[list[str], list[str]]:
    raw: BinaryIO | None = getattr(stdin, "buffer", None)
    if raw is None:  # already text (a StringIO in a test, a paste)
        return split_ids(stdin.read().removeprefix(_BOM)), []
    peek = getattr(raw, "peek", None)
    if peek is not None and peek(2)[:2] in _UTF16_BOMS:
        return _read_utf16(raw)
    ids: list[str] = []
    problems: list[str] = []
    read = 0
    for number, (line, length) in enumerate(_bounded_lines(raw), 1):
        read += length
        if read > INPUT_LIMIT:
            raise InputTooLarge()
        if line is None:
            problems.append(
                f"standard input line {number} is longer than {LINE_LIMIT >> 20} MB: not ids"
            )
            continue
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError as exc:
            problems.append(
                f"standard input line {number} is not UTF-8 text "
                f"(byte 0x{line[exc.start]:02x} at column {exc.start + 1})"
            )
            continue
        ids.extend(split_ids(text.removeprefix(_BOM) if number == 1 else text))
    return ids, problems


def _read_utf16(raw: BinaryIO) -> tuple[list[str], list[str]]:
    """A list saved as UTF-16 with its byte order mark (what Windows PowerShell's `>` writes):
    read as UTF-8 its first line was "not UTF-8 text" and every other an id of NUL bytes."""
    data = raw.read(INPUT_LIMIT + 1)
    if len(data) > INPUT_LIMIT:
        raise InputTooLarge()
    try:
        return split_ids(data.decode("utf-16").removeprefix(_BOM)), []
    except UnicodeDecodeError:
        return [], ["standard input starts as UTF-16 text but is not: save the list as UTF-8"]


def _bounded_lines(raw: BinaryIO) -> Iterator[tuple[bytes | None, int]]:
    """(line, its length) for each line of `raw`, read LINE_LIMIT bytes at a time so that no
    line is ever held whole: a longer line is (None, the bytes read of it) and the rest of it is
    read and dropped, up to INPUT_LIMIT."""
    while line := raw.readline(LINE_LIMIT):
        if len(line) < LINE_LIMIT or line.endswith(b"\n"):
            yield line, len(line)
            continue
        length = len(line)
        while length <= INPUT_LIMIT and (more := raw.readline(LINE_LIMIT)):
            length += len(more)
            if more.endswith(b"\n"):
                break
        yield None, length


def _undecodable(text: str) -> bool:
    return any("\udc80" <= c <= "\udcff" for c in text)


@dataclass(frozen=True, slots=True)
class CheckedIds:
    """Ids a user typed, checked for one channel: nothing is requested for a refused one."""

    targets: list[Target]  # the valid ids, normalized, in the order typed
    refused: list[tuple[str, str]]  # (the id as typed, why it can never be valid), in order

    @property
    def problems(self) -> list[str]:
        return [why for _typed, why in self.refused]


def check_ids(
    ids: Iterable[str], channel: str, id_kind: IdKind = IdKind.REQUEST, *, unique: bool = True
) -> CheckedIds:
    """Each id validated for `channel` (`id_kind` counts for Infobip only: D7 ids are request
    ids). `unique`: an id typed twice is one target (`d7tui add` counts the second as already
    watched, so it keeps them)."""
    kind = id_kind if channel == Channel.INFOBIP.value else IdKind.REQUEST
    targets: list[Target] = []
    refused: list[tuple[str, str]] = []
    seen: set[str] = set()
    for typed in ids:
        try:
            value = validate_id(typed, channel)
        except InvalidId as exc:
            refused.append((typed, str(exc)))
            continue
        if unique:
            if value in seen:
                continue
            seen.add(value)
        targets.append(Target(value, channel, kind))
    return CheckedIds(targets, refused)
