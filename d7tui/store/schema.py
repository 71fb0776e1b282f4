"""The database schema: version 1 as first shipped, then forward migrations, one per version.

`PRAGMA user_version` is the schema version. A fresh database is built by running version 1 and
then every migration, so the path an old user's database takes is the path every test takes.
A migration is a list of statements run inside the one transaction that also sets the version:
a kill in the middle leaves the database at the old version, untouched.
"""

from __future__ import annotations

import sqlite3

# Version 1: the watchlist with labels, the latest state of every request (recipients as rows,
# the last raw bodies), every transition, and every Infobip reports body with its reports.
V1: tuple[str, ...] = (
    """CREATE TABLE watch (
        request_id TEXT PRIMARY KEY,
        channel TEXT NOT NULL,              -- what the user asked: auto, sms, whatsapp, ...
        id_kind TEXT NOT NULL DEFAULT 'request_id',
        label TEXT NOT NULL DEFAULT '',
        added_at REAL NOT NULL,
        resolved_channel TEXT               -- for auto: the channel that answered
    )""",
    """CREATE TABLE request_state (
        request_id TEXT PRIMARY KEY,
        channel TEXT NOT NULL,
        fields TEXT,                        -- JSON object of top-level fields; NULL when empty
        observed_at REAL NOT NULL,          -- the poll that produced this state
        changed_at REAL                     -- the last transition seen
    )""",
    """CREATE TABLE recipient (
        request_id TEXT NOT NULL REFERENCES request_state(request_id) ON DELETE CASCADE,
        position INTEGER NOT NULL,
        msg_id TEXT,
        recipient TEXT,
        status TEXT,
        phase TEXT NOT NULL,
        final INTEGER NOT NULL,
        reason TEXT,
        cost REAL,
        currency TEXT,
        parts INTEGER,
        country TEXT,
        schedule_time TEXT,
        fields TEXT,                        -- JSON object; NULL when empty
        problem TEXT,
        PRIMARY KEY (request_id, position)
    ) WITHOUT ROWID""",
    """CREATE TABLE state_raw (
        request_id TEXT NOT NULL REFERENCES request_state(request_id) ON DELETE CASCADE,
        position INTEGER NOT NULL,
        body BLOB NOT NULL,
        PRIMARY KEY (request_id, position)
    )""",
    """CREATE TABLE transition (
        id INTEGER PRIMARY KEY,
        at REAL NOT NULL,
        request_id TEXT NOT NULL,
        recipient_key TEXT NOT NULL,
        recipient TEXT,
        old_status TEXT,
        new_status TEXT,
        old_phase TEXT,
        new_phase TEXT NOT NULL,
        reason TEXT
    )""",
    "CREATE INDEX transition_by_request ON transition (request_id, id)",
    # One row per body an Infobip reports endpoint returned, committed before it is parsed.
    """CREATE TABLE report_body (
        id INTEGER PRIMARY KEY,
        ident TEXT NOT NULL,                -- the bulkId/messageId it was pulled for
        received_at REAL NOT NULL,
        sha256 TEXT NOT NULL,
        body BLOB NOT NULL,
        parsed_at REAL,                     -- NULL: not parsed yet (crash, parser bug)
        parse_error TEXT,
        UNIQUE (ident, sha256)
    )""",
    "CREATE INDEX report_body_unparsed ON report_body (id) WHERE parsed_at IS NULL",
    """CREATE TABLE report (
        id INTEGER PRIMARY KEY,
        body_id INTEGER NOT NULL REFERENCES report_body(id),
        ident TEXT NOT NULL,
        report_key TEXT NOT NULL UNIQUE,    -- messageId + status + doneAt: a repeat is one row
        message_id TEXT,
        bulk_id TEXT,
        data TEXT NOT NULL                  -- the parsed report, lossless JSON
    )""",
    "CREATE INDEX report_by_ident ON report (ident)",
    "CREATE INDEX report_by_message ON report (message_id)",
    "CREATE INDEX report_by_bulk ON report (bulk_id)",
)

# Version 2: notes, the archive, undoable removal, and when a request became final (the
# archive's clock). A request already final keeps "final since its last poll", the best we know.
V2: tuple[str, ...] = (
    "ALTER TABLE watch ADD COLUMN note TEXT NOT NULL DEFAULT ''",
    "ALTER TABLE watch ADD COLUMN archived_at REAL",
    "ALTER TABLE watch ADD COLUMN removed_at REAL",
    "ALTER TABLE request_state ADD COLUMN final_since REAL",
    """UPDATE request_state SET final_since = observed_at
       WHERE EXISTS (SELECT 1 FROM recipient r WHERE r.request_id = request_state.request_id)
         AND NOT EXISTS (SELECT 1 FROM recipient r
                         WHERE r.request_id = request_state.request_id AND r.final = 0)""",
)

# Version 3: who did what (a desk shares one database): who added an id, who last wrote its
# label or note and when, who archived it. NULL: before anyone kept it.
V3: tuple[str, ...] = (
    "ALTER TABLE watch ADD COLUMN added_by TEXT",
    "ALTER TABLE watch ADD COLUMN noted_by TEXT",
    "ALTER TABLE watch ADD COLUMN noted_at REAL",
    "ALTER TABLE watch ADD COLUMN archived_by TEXT",
)

# Version 4: a recipient's key when it is not its msg_id (or number): a server that repeats a
# msg_id has messages told apart by msg_id and number, then by order (models.keyed). Every
# message stored before kept its plain key, which NULL stands for: nothing to rewrite.
V4: tuple[str, ...] = ("ALTER TABLE recipient ADD COLUMN recipient_key TEXT",)

# MIGRATIONS[n] takes a database from version n to version n + 1 (0 is an empty file).
MIGRATIONS: tuple[tuple[str, ...], ...] = (V1, V2, V3, V4)
SCHEMA_VERSION = len(MIGRATIONS)
# The first schema d7tui ever wrote, for the migration tests.
FIRST_VERSION = 1


def migrate(conn: sqlite3.Connection, current: int, target: int = SCHEMA_VERSION) -> None:
    """Run the migrations from `current` to `target` on a connection inside a transaction."""
    for version in range(current, target):
        for statement in MIGRATIONS[version]:
            conn.execute(statement)
    conn.execute(f"PRAGMA user_version = {int(target)}")
