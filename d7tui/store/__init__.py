"""SQLite persistence: the watchlist, the latest state of every request, every transition and
every Infobip one-time report survive restarts, crashes and kill -9.

    store = open_store(parse_report=infobip.parse_page)  # + re-parse what a kill left
    astore = AsyncStore(store, parse_report=infobip.parse_page, on_error=...)
    snapshot = await astore.load()            # watches, states, timelines: shown at once
    if not astore.try_acquire_report_lock():  # one process pulls one-time reports
        status_line(astore.report_lock_refusal())
    client = StatusClient(settings, report_sink=astore.commit_report)
    astore.save_observation(state, transitions)   # after every poll, off the loop
    await astore.aclose()                     # flushes

Modules: `db` (the file, connections, transactions), `schema` (versions and migrations),
`core` (`Store`: opening, the watchlist), `states` (states and transitions), `reports` (Infobip
bodies and reports), `lock` (the report lock), `aio` (`AsyncStore`), `commands` (what the CLI
calls), `records` (what is handed back), `codec` (lossless model <-> row/dict).
"""

from d7tui.store.aio import AsyncStore, Pending
from d7tui.store.commands import (
    AddResult,
    add_ids,
    open_store,
    remembered_status,
    remembered_statuses,
)
from d7tui.store.core import Store
from d7tui.store.db import default_path
from d7tui.store.errors import (
    StoreCorruptError,
    StoreError,
    StoreUnavailable,
    StoreVersionError,
)
from d7tui.store.records import (
    ReportBody,
    Snapshot,
    StoredReport,
    StoredState,
    WatchRecord,
    Which,
)
from d7tui.store.reports import ReportParser
from d7tui.store.schema import SCHEMA_VERSION

__all__ = [
    "SCHEMA_VERSION",
    "AddResult",
    "AsyncStore",
    "Pending",
    "ReportBody",
    "ReportParser",
    "Snapshot",
    "Store",
    "StoreCorruptError",
    "StoreError",
    "StoreUnavailable",
    "StoreVersionError",
    "StoredReport",
    "StoredState",
    "WatchRecord",
    "Which",
    "add_ids",
    "default_path",
    "open_store",
    "remembered_status",
    "remembered_statuses",
]
