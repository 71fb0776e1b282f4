"""A database file deleted or replaced while it is open, noticed and put right.

SQLite in WAL mode goes on writing to a file that was deleted, without a word: every commit
"succeeds", and all of it is gone when the process ends. So the store compares the file at its
path with the one it opened (device and inode) at cheap moments, and when they differ:

- deleted: the database as this process has it open is written back to the path (never over
  a new store another d7tui started there meanwhile: that is the next case);
- replaced by another d7tui database (another d7tui put its copy back, the user restored a
  backup, or another d7tui started a new store once the file was gone): this process writes
  to the new file from now on, writes into it every request on its lists that the new file
  lacks (with label, note, last state and every transition; what the new file has stays),
  and keeps all it had until then beside it, named with a timestamp: nothing the monitor
  shows is missing from the store;
- replaced by anything else (an empty or broken file): that file is set aside with a
  timestamp, and the open database is written back to the path;
- emptied or overwritten in place (`: > d7tui.sqlite3`: the same file, its pages gone): it is
  set aside with a timestamp, like a broken file.

"The open database" is a copy made through SQLite from the file this process opened, while that
file is whole. Once it is not (emptied in place, or emptied and then set aside by another d7tui),
SQLite cannot read it any more, and the copy is made instead from what the process holds in
memory (`Held`: the monitor's watchlist, labels, notes, last states and timelines), and the
line says what that could not include.

Each returns one line saying what was done, for the screen. The connections of every other
thread must have been dropped first (`AsyncStore` does it on its reader thread).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path

from d7tui.store.db import Database
from d7tui.store.errors import StoreError, StoreUnavailable
from d7tui.store.files import (
    RESTORING,
    SIDECARS,
    connect_existing,
    create_whole,
    free_aside_name,
    prepare_dir,
    prune_aside,
    remove_with_sidecars,
    set_aside,
)
from d7tui.store.openfiles import OpenFile, hold, let_go
from d7tui.store.records import Absorbed, Copied, Snapshot, WatchRecord
from d7tui.store.schema import SCHEMA_VERSION
from d7tui.store.sides import SHM, Sides, Trouble, no_checkpoint, open_elsewhere
from d7tui.store.walread import watched_in_wal

FileId = tuple[int, int]  # (st_dev, st_ino)
SQLITE_HEADER = b"SQLite format 3\x00"
# What a process holds in memory, for when its own file is gone (None: it holds nothing).
Held = Callable[[], Snapshot | None]


def file_id(path: Path) -> FileId | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


def _counts(conn: sqlite3.Connection) -> tuple[int, int]:
    """How many requests (removed ones too) and transitions a database holds."""
    row = conn.execute(
        "SELECT (SELECT count(*) FROM watch), (SELECT count(*) FROM transition)"
    ).fetchone()
    return int(row[0]), int(row[1])


def _said_wal(found: tuple[Absorbed, int] | None) -> str:
    """What the old file's WAL gave that d7tui did not hold, for the line on screen."""
    if found is None:
        return ""
    absorbed, unread = found
    said = []
    if absorbed.requests:
        said.append(f"{_plural(absorbed.requests, 'request')} added elsewhere (id, label, note)")
    if absorbed.filled:
        said.append(f"{_plural(absorbed.filled, 'label or note', 'labels or notes')}")
    if unread:
        said.append(f"not {_plural(unread, 'row')} it holds only in part")
    return f", and from its WAL: {', '.join(said)}" if said else ""


def _plural(n: int, one: str, many: str | None = None) -> str:
    return f"{n:,} {one if n == 1 else (many or one + 's')}"


def _only(snapshot: Snapshot, watches: list[WatchRecord]) -> Snapshot:
    ids = {w.request_id for w in watches}
    return Snapshot(
        watches=watches,
        states={rid: s for rid, s in snapshot.states.items() if rid in ids},
        timelines={rid: t for rid, t in snapshot.timelines.items() if rid in ids},
    )


# How many stores of this process are open on each path: the files open under a path are read
# from /proc/self/fd (`open_elsewhere`), which cannot tell one store's from another's.
_open_here: dict[str, int] = {}
_open_here_lock = threading.Lock()


def _count_open(path: Path, step: int) -> int:
    key = str(path)
    with _open_here_lock:
        count = _open_here[key] = _open_here.get(key, 0) + step
        if count <= 0:
            del _open_here[key]
        return count


class MovedMixin(Database):
    """Part of `Store`: notices and puts right a database file deleted or replaced under it."""

    _opened: FileId | None = None  # the file opened, and the SQLite files beside it
    _sidecars: frozenset[FileId] = frozenset()
    # The file opened, kept open to read its header whatever its name is now: emptied in place,
    # or emptied and then renamed by another d7tui, it is what SQLite still reads and writes.
    _own: OpenFile | None = None
    # A connection to the file opened, made while it is there and kept: what a copy of it is
    # read from once its name leads nowhere (deleted) or elsewhere (replaced). A thread that
    # had no connection yet cannot make one to it any more (`_must_exist`).
    _keeper: sqlite3.Connection | None = None
    # The ids the last `put_back` wrote from what the process holds (None: all it held, the
    # file was written from it alone). Their poll results queued before are in it already.
    from_held: frozenset[str] | None = None
    # Its -shm and -wal as this process knows them (sides.py): looked at before every use of a
    # connection. `on_sides`: told (on whatever thread) when something was found there, so
    # that whoever puts it right (AsyncStore's writer) looks at once.
    _sides: Sides | None = None
    on_sides: Callable[[], None] | None = None
    _counted = False  # in `_open_here`

    def remember_file(self) -> None:
        """Note which file is open (call once it is open and in WAL mode)."""
        # The new one held before the old one is let go: the same file is then never closed,
        # which would drop the locks of SQLite's connections to it (openfiles.py).
        own, self._own = self._own, hold(self.path)
        let_go(own)
        if not self._counted:
            self._counted = True
            _count_open(self.path, 1)
        if not self.readonly:
            self._must_exist = True
            self._keep_open()
            sides, self._sides = self._sides, Sides(self.path)
            if sides is not None:
                sides.close()
        self._opened = file_id(self.path)
        self._sidecars = frozenset(
            found
            for suffix in SIDECARS
            if (found := file_id(self.path.with_name(self.path.name + suffix))) is not None
        )

    def _keep_open(self) -> None:
        try:
            keeper = self._connect()
        except (sqlite3.Error, StoreError):
            return  # a copy is then read through the writing thread's own connection
        try:
            # SQLite opens the WAL (and maps its index) at a connection's first read, by its
            # name: read now, while it is the one the others use, not once it was deleted.
            keeper.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except sqlite3.Error:
            with contextlib.suppress(sqlite3.Error):
                keeper.close()
            return
        with self._conns_lock:  # closed with the others (close, _reopen)
            self._conns.append(keeper)
        self._keeper = keeper

    def _connect(self) -> sqlite3.Connection:
        try:
            return super()._connect()
        except sqlite3.OperationalError:
            if self._must_exist and not self.path.exists():
                raise StoreUnavailable(f"{self.path} was deleted while d7tui ran") from None
            raise

    @property
    def file_generation(self) -> int:
        """Changes each time this store goes on in another file (put back, adopted, written
        again): row numbers seen in the file before mean nothing in the new one."""
        return self._generation

    def _guard_sides(self) -> None:
        sides = self._sides
        if sides is None:
            return
        trouble = sides.look()
        if (trouble is not None or sides.told) and self.on_sides is not None:
            self.on_sides()
        if trouble is not None and file_id(self.path) == self._opened:
            # Never through an index or a WAL that is not what it was. (With the file itself
            # gone or replaced they went with it: put right as the file is, see `put_back`.)
            raise StoreUnavailable(
                f"{trouble.said(self.path)} while d7tui ran: the store is "
                "not used until d7tui has put it right"
            )

    def _forget_sides(self) -> None:
        sides, self._sides = self._sides, None
        if sides is not None:
            sides.close()

    def close(self) -> None:
        # The last connection to close checkpoints through its index, then deletes the -wal
        # and -shm by name: never through a wrong index, nor those of a file that took this
        # one's place. Looked at first: a -shm emptied is lengthened before closing touches it.
        stray = not self._closed and self.adrift() is not None
        with no_checkpoint(self.path, self._own) if stray else contextlib.nullcontext():
            super().close()  # the kept connection with the others
        self._keeper = None
        self._forget_sides()
        self._close_own()
        if self._counted:
            self._counted = False
            _count_open(self.path, -1)

    def _close_own(self) -> None:
        own, self._own = self._own, None
        let_go(own)

    def _own_file_whole(self) -> bool:
        """Whether the file this store opened still starts as an SQLite database does."""
        if self._own is None:
            return True  # cannot tell: SQLite's own reads will say
        try:
            return os.pread(self._own.fd, len(SQLITE_HEADER), 0) == SQLITE_HEADER
        except OSError:
            return True

    def _own_view_whole(self) -> bool:
        """Whether what this process reads through SQLite is still the database: not if its
        WAL was emptied or shortened under it (sides.py)."""
        trouble = self._sides.trouble if self._sides is not None else None
        return trouble is None or trouble.whole

    def moved(self) -> str | None:
        """ "deleted" or "replaced" if the path no longer leads to the file that is open,
        "emptied" or "overwritten" if it does but that file is no longer a database; if the
        file is as it was, what happened to its -shm or -wal ("-wal emptied" ...)."""
        if self._opened is None or self.readonly or self._closed:
            return None
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return "deleted"
        except OSError:
            return None  # cannot tell (a directory became unreadable): the writes will say
        if (st.st_dev, st.st_ino) != self._opened:
            return "replaced"
        if not self._own_file_whole():
            return "emptied" if st.st_size == 0 else "overwritten"
        trouble = self._sides.look() if self._sides is not None else None
        return None if trouble is None else f"{trouble.suffix} {trouble.what}"

    def adrift(self) -> str | None:
        """Whether what this process commits may go where no d7tui reads it: the file opened
        or a file SQLite uses beside it is no longer the one at the path (deleted, replaced,
        emptied, set aside by another d7tui writing the store back). One line, or None."""
        what = self.moved()
        if what is None:
            if self._opened is None or _count_open(self.path, 0) > 1:
                return None  # another store of this process on it: its files are not ours
            return open_elsewhere(self.path)
        if what.startswith("-"):
            suffix, _, happened = what.partition(" ")
            return f"{self.path}{suffix} was {happened}"
        return f"{self.path} was {what}"

    def lost(self) -> bool:
        """Whether the file this store opened can no longer be read (emptied ...): a copy of it
        can then only be made from what the process holds."""
        return self.moved() is not None and not (self._own_file_whole() and self._own_view_whole())

    def _told(self) -> str | None:
        """What was put right beside the file without a word yet (a -shm lengthened again)."""
        sides = self._sides
        if sides is None or not sides.told:
            return None
        said, sides.told = sides.told, []
        return "; ".join(said)

    def put_back(self, held: Held | None = None) -> str | None:
        """Put right a file deleted, replaced or emptied under this store; one line saying what
        was done, None if nothing had happened. Raises StoreError if it cannot be done now.
        `held`: what this process holds, written when its own file can no longer be read."""
        what = self.moved()
        if what is None:
            return self._told()
        self.from_held = None
        trouble = self._sides.trouble if self._sides is not None else None
        side = trouble if what.startswith("-") else None
        if side is not None and side.suffix == SHM:
            return self._rejoin(side)
        own = self._own_file_whole() and self._own_view_whole()
        temp = self.path.with_name(f".{self.path.name}{RESTORING}{os.getpid()}")
        guard = contextlib.ExitStack()  # a wrong WAL is never checkpointed into the kept file
        try:
            if side is not None:
                guard.enter_context(no_checkpoint(self.path))
            prepare_dir(self.path)  # the whole directory may have been deleted
            if what == "replaced" and self._is_d7tui_database(self.path):
                if not own:
                    # Ours was emptied and another d7tui started a new store in its place:
                    # what this process holds joins it there.
                    snapshot = self._held_now(held)
                    self._reopen(lambda: None)
                    joined = self.absorb(snapshot)
                    return (
                        f"{self.path} was emptied and replaced by a new store while d7tui ran: "
                        f"what d7tui held went into it ({joined.said()}); {joined.lost()}"
                    )
                # A backup restored, or the store another d7tui started once the file was
                # gone: either way it lacks what this process shows, which joins it.
                kept = self._copy_to(free_aside_name(self.path, "kept"))
                self._reopen(lambda: None)
                return self._joined(kept, "replaced by another d7tui database")
            source = self._source() if own else None
            # Asked before anything is moved: if nothing holds it, nothing is moved yet.
            from_memory = self._held_now(held) if source is None else None
            saved: Absorbed | None = None
            from_wal: tuple[Absorbed, int] | None = None
            copied: Copied | None = None
            # The copy is made first, and only then is the file at the path set aside: a copy
            # that fails moves nothing, and the path is without a store for two renames, not
            # for as long as a copy takes (another d7tui opening it meanwhile started a new,
            # empty store there; `restoring` makes it wait for this one instead).
            if source is not None:
                try:
                    copied = self._copy_checked(temp, held, source)
                except (sqlite3.Error, StoreError):
                    if side is None:
                        raise
                    # Its own view lists frames another d7tui wrote into another -wal (opened
                    # by name once this one's was deleted): unreadable here, so what it holds
                    # is written, and what the other wrote is taken from that -wal below.
                    remove_with_sidecars(temp)
                    from_memory = self._held_now(held)
            if copied is None:
                assert from_memory is not None
                saved = self._write_held(temp, from_memory)
            aside = self._set_aside(what, side)
            if saved is not None and aside is not None:
                from_wal = self._absorb_wal(temp, aside)  # what another d7tui committed and
                # this one never read
            raced: list[Path] = []
            self._reopen(lambda: self._into_place(temp, raced))
            guard.close()
            if raced:
                # Another d7tui started a new store at the path meanwhile: ours joins it.
                return self._joined(raced[0], f"{what}, and another d7tui started a new store")
            if side is not None and aside is not None and copied is not None and copied.whole:
                # Written back whole and checked: the file without its -wal holds nothing the
                # store lacks. Kept, a -wal deleted every second left a full copy a second.
                remove_with_sidecars(aside)
                aside = None
        except (OSError, sqlite3.Error, StoreError) as exc:
            with contextlib.suppress(OSError):
                if temp.exists() and not self.path.exists():  # set aside, the copy whole
                    os.link(temp, self.path)
                remove_with_sidecars(temp)
            said = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            named = side.said(self.path) if side else f"{self.path} was {what}"
            raise StoreUnavailable(
                f"{named} while d7tui ran, and cannot be put back yet: {said}"
            ) from None
        finally:
            guard.close()
        if side is not None:
            return self._side_said(side, aside, saved, copied) + (
                _said_wal(from_wal) if saved is not None else ""
            )
        if saved is not None:
            kept_as = f" (kept as {aside.name})" if aside is not None else ""  # none if deleted
            return (
                f"{self.path} was {what} while d7tui ran{kept_as}: a new store "
                f"was written from what d7tui held ({saved.said()}){_said_wal(from_wal)}; "
                f"{saved.lost()}"
            )
        assert copied is not None
        if aside is not None:
            return (
                f"{self.path} was replaced by a file that is not a d7tui database while d7tui "
                f"ran: that file is kept as {aside}, and {copied.said('the database')}"
            )
        return f"{self.path} was deleted while d7tui ran: {copied.said()}"

    def _set_aside(self, what: str, side: Trouble | None) -> Path | None:
        """The file at the path set aside before the copy takes its place (None: deleted,
        nothing there); at most a few copies are kept (`prune_aside`)."""
        if side is not None:  # whole up to the last checkpoint: kept, with its files
            aside = set_aside(self.path, "kept")
            prune_aside(self.path, "kept")
            return aside
        if what == "deleted":
            return None
        if what == "replaced":
            return set_aside(self.path, "replaced", keep=self._sidecars)
        return set_aside(self.path, "damaged")  # damaged in place: its SQLite files go too

    def _side_said(
        self, side: Trouble, aside: Path | None, saved: Absorbed | None, copied: Copied | None
    ) -> str:
        wal = f"{self.path}{side.suffix}"
        kept = aside.name if aside is not None else "aside"
        if saved is not None:
            return (
                f"{wal} was {side.what} while d7tui ran: what the store wrote since its last "
                f"checkpoint is gone from the disk; the store as it was before is kept as {kept}, "
                f"and a new store was written from what d7tui held ({saved.said()}); "
                f"{saved.lost()}"
            )
        assert copied is not None
        if aside is None:
            return (
                f"{wal} was {side.what} while d7tui ran: "
                f"{copied.said('the store as d7tui had it')} (the file without it is not kept: "
                "it holds nothing the store lacks)"
            )
        return (
            f"{wal} was {side.what} while d7tui ran: the store without it is kept as {kept}, "
            f"and {copied.said('the store as d7tui had it')}"
        )

    def _rejoin(self, side: Trouble) -> str:
        """The -shm deleted or replaced: every connection of this process (and so its map of
        the old index) is let go without a checkpoint, and the store opened again through the
        -shm at its path, where every other d7tui finds it: what they wrote meanwhile (the
        WAL holds it) is seen, and nothing either writes overwrites the other's."""
        sides = self._sides
        try:
            with no_checkpoint(self.path, self._own):
                self._close_all()
            self._sides = None
            self._init_schema()
            self.remember_file()
        except (OSError, sqlite3.Error, StoreError) as exc:
            self._sides = sides  # still wrong: looked at again, and nothing used meanwhile
            said = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise StoreUnavailable(
                f"{side.said(self.path)} while d7tui ran, and the store "
                f"cannot be opened again yet: {said}"
            ) from None
        if sides is not None and sides is not self._sides:
            sides.close()
        return (
            f"{self.path}{SHM} (SQLite's index of the WAL) was {side.what} while d7tui ran: "
            "d7tui opened the store again through the one at its path, where other d7tui "
            "processes see what it writes and it sees theirs; nothing was lost"
        )

    def _close_all(self) -> None:
        """Close every connection to the file as it was; each thread makes a new one."""
        with self._conns_lock:
            conns, self._conns = self._conns, []
        for conn in conns:
            with contextlib.suppress(sqlite3.Error):
                conn.close()
        self._keeper = None
        self._generation += 1

    def _into_place(self, temp: Path, raced: list[Path]) -> None:
        """`temp` becomes the file at the path, unless a file appeared there meanwhile (another
        d7tui started a new store): never replaced, `temp` is then kept aside and said in
        `raced`."""
        try:
            os.link(temp, self.path)
        except FileExistsError:
            kept = free_aside_name(self.path, "kept")
            os.replace(temp, kept)
            raced.append(kept)
            return
        os.unlink(temp)

    def _joined(self, kept: Path, what: str) -> str:
        """This store writes to the new file at its path now; everything on the lists of
        `kept` (a copy of what it had) that the new file lacks is written into it."""
        self.from_held = frozenset()  # nothing queued is in it: every write still goes in
        joined = self.absorb_file(kept)
        prune_aside(self.path, "kept")
        wrote = (
            f"what it had that the new file lacked was written into it ({joined.said()})"
            if joined.requests or joined.filled or joined.states
            else "the new file already had every request it had"
        )
        return (
            f"{self.path} was {what} while d7tui ran: d7tui writes to the new file now; "
            f"{wrote}; all it had until then is also kept as {kept}"
        )

    def absorb_file(self, path: Path) -> Absorbed:
        raise NotImplementedError  # `Store.absorb_file`

    def _held_now(self, held: Held | None) -> Snapshot:
        snapshot = held() if held is not None else None
        if snapshot is None:
            raise StoreError(
                "its own copy is no longer readable, and nothing else holds what it had"
            )
        return snapshot

    def _write_held(self, target: Path, snapshot: Snapshot) -> Absorbed:
        """A new database at `target` holding `snapshot`."""
        remove_with_sidecars(target)
        create_whole(target)
        return self._absorb_into(target, snapshot)

    def _absorb_into(self, target: Path, snapshot: Snapshot) -> Absorbed:
        fresh = type(self)(target, busy_timeout=self.busy_timeout)
        try:
            fresh._init_schema()
            return fresh.absorb(snapshot)
        finally:
            fresh.close()

    def absorb(self, snapshot: Snapshot) -> Absorbed:
        raise NotImplementedError  # `Store.absorb`: the watchlist is Store's

    def _absorb_wal(self, target: Path, aside: Path) -> tuple[Absorbed, int]:
        """Into the new database at `target`: the ids on the watchlist that the set-aside
        file's WAL holds and `target` lacks (with label and note; a label or note it lacks);
        with how many rows of the WAL could not be read whole."""
        watches, unread = watched_in_wal(aside)
        return self._absorb_into(target, Snapshot(watches=watches)), unread

    def _copy_checked(self, target: Path, held: Held | None, source: sqlite3.Connection) -> Copied:
        """`_copy_to(target)`, then checked: it holds as many requests and transitions as the
        file had, and every id the process shows (`held`); what it shows and the copy lacks is
        written into it from what it holds (`from_held` says which)."""
        had = _counts(source)
        self._copy_to(target, source)
        copy = connect_existing(target, isolation_level=None)
        try:
            counts = _counts(copy)
            ids = {row[0] for row in copy.execute("SELECT request_id FROM watch")}
        finally:
            copy.close()
        filled = None
        snapshot = held() if held is not None else None
        missing = [w for w in snapshot.watches if w.request_id not in ids] if snapshot else []
        if snapshot is not None and missing:
            filled = self._absorb_into(target, _only(snapshot, missing))
        # Only these were written from memory: what was queued for the others is not in it yet.
        self.from_held = frozenset(w.request_id for w in missing)
        return Copied(counts[0], counts[1], had[0], had[1], filled)

    def _source(self) -> sqlite3.Connection | None:
        """A connection to the file opened, whatever became of its name: the kept one, else
        this thread's own if it has one. None: the copy can only be made from what the process
        holds (a new connection would open whatever is at the path now)."""
        if self._keeper is not None:
            return self._keeper
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is not None and self._local.generation == self._generation:
            return conn
        return None

    def _copy_to(self, target: Path, source: sqlite3.Connection | None = None) -> Path:
        """A whole copy of the database as it is open here (from the deleted file, if it was).
        Nothing is left at `target` if it cannot be made."""
        remove_with_sidecars(target)
        fd = os.open(target, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
        os.close(fd)
        try:
            copy = connect_existing(target, isolation_level=None)
            try:
                source = source or self._source()
                if source is None:
                    raise StoreError("no connection to the file it had open is left to copy")
                source.backup(copy)
                copy.execute("PRAGMA journal_mode = WAL")
            finally:
                copy.close()
        except BaseException:
            remove_with_sidecars(target)
            raise
        return target

    def _reopen(self, move_into_place: Callable[[], object]) -> None:
        # Every connection to the file as it was is closed before any is made to the new one:
        # SQLite finds a database's WAL by its name, and the last connection to close deletes
        # it by that name. A WAL file there that is not ours (the new file's) is moved out of
        # the way while ours close, so that their closing cannot delete it.
        foreign = []
        for suffix in SIDECARS:
            sidecar = self.path.with_name(self.path.name + suffix)
            found = file_id(sidecar)
            if found is not None and found not in self._sidecars:
                hidden = sidecar.with_name(f".{sidecar.name}.{os.getpid()}")
                os.replace(sidecar, hidden)
                foreign.append((hidden, sidecar))
        try:
            self._close_all()
            self._forget_sides()
            for suffix in SIDECARS:  # ours, left because another process still has the old file
                sidecar = self.path.with_name(self.path.name + suffix)
                if file_id(sidecar) in self._sidecars:
                    os.replace(sidecar, free_aside_name(sidecar, "stale"))
        finally:
            for hidden, sidecar in foreign:
                os.replace(hidden, sidecar)
        move_into_place()
        self._init_schema()
        self.remember_file()

    def _is_d7tui_database(self, path: Path) -> bool:
        # Read from the file's header, not through SQLite: SQLite would take our WAL, still
        # beside it under the same name, for the new file's.
        try:
            with open(path, "rb") as fh:
                header = fh.read(100)
        except OSError:
            return False
        if len(header) < 100 or not header.startswith(b"SQLite format 3\x00"):
            return False
        return 1 <= int.from_bytes(header[60:64], "big") <= SCHEMA_VERSION
