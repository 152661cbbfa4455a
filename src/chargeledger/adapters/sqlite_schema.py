"""The SQLite file's schema: its migrations, applied in order at start, and the
settings every connection opens with (WAL, ``synchronous=FULL``)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

MIGRATIONS: list[str] = [
    """
    CREATE TABLE events (
        position INTEGER PRIMARY KEY,
        stream_id TEXT NOT NULL,
        version INTEGER NOT NULL,
        type TEXT NOT NULL,
        schema_version INTEGER NOT NULL,
        data TEXT NOT NULL,
        metadata TEXT NOT NULL,
        UNIQUE (stream_id, version)
    );
    CREATE TABLE stream_commands (
        stream_id TEXT NOT NULL,
        command_id TEXT NOT NULL,
        version INTEGER NOT NULL,
        first_position INTEGER,
        last_position INTEGER,
        outcome TEXT,
        PRIMARY KEY (stream_id, command_id)
    );
    CREATE TABLE documents (
        model TEXT NOT NULL,
        key TEXT NOT NULL,
        doc TEXT NOT NULL,
        tag TEXT,
        PRIMARY KEY (model, key)
    );
    CREATE INDEX documents_by_tag ON documents (model, tag) WHERE tag IS NOT NULL;
    CREATE TABLE checkpoints (name TEXT PRIMARY KEY, position INTEGER NOT NULL);
    CREATE TABLE sequences (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
    """,
    # The command key is the table itself: one B-tree written per append instead of two.
    """
    CREATE TABLE stream_commands_v2 (
        stream_id TEXT NOT NULL,
        command_id TEXT NOT NULL,
        version INTEGER NOT NULL,
        first_position INTEGER,
        last_position INTEGER,
        outcome TEXT,
        PRIMARY KEY (stream_id, command_id)
    ) WITHOUT ROWID;
    INSERT INTO stream_commands_v2 SELECT stream_id, command_id, version, first_position,
        last_position, outcome FROM stream_commands;
    DROP TABLE stream_commands;
    ALTER TABLE stream_commands_v2 RENAME TO stream_commands;
    """,
]


def connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30.0)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA busy_timeout=30000")
    return conn


def migrate(conn: sqlite3.Connection) -> None:
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY)")
        done = {row[0] for row in conn.execute("SELECT version FROM schema_migrations")}
        for number, script in enumerate(MIGRATIONS, start=1):
            if number in done:
                continue
            for statement in script.split(";"):
                if statement.strip():
                    conn.execute(statement)
            conn.execute("INSERT INTO schema_migrations (version) VALUES (?)", (number,))
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
