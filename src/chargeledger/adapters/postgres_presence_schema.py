"""The tables and fencing triggers of the cluster's connection registry on PostgreSQL,
and what every part of it shares: the NOTIFY channel, the SQLSTATE of a refused
dispatch, and the test of a live node. Apart from ``postgres_presence.py`` since the
store and the leadership install or read them too, without a node's presence.
"""

from __future__ import annotations

from typing import Any

import psycopg

CHANNEL = "chargeledger_presence"
STALE_EPOCH_SQLSTATE = "CLF01"
_SCHEMA_LOCK = 0x63686172676502  # "charge" + 2: not the store's migration lock

SCHEMA = f"""
DO $$ BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_class WHERE relname = 'cluster_epochs') THEN
        -- Start above the clock-seeded epochs a single node left in the twins.
        EXECUTE format('CREATE SEQUENCE cluster_epochs START %s',
                       (extract(epoch FROM clock_timestamp()) * 1000000)::bigint);
    END IF;
END $$;
CREATE SEQUENCE IF NOT EXISTS cluster_node_keys;
CREATE TABLE IF NOT EXISTS cluster_nodes (
    node_id TEXT COLLATE "C" PRIMARY KEY,
    lease_until TIMESTAMPTZ NOT NULL,
    started_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    lock_key BIGINT NOT NULL DEFAULT nextval('cluster_node_keys')
);
CREATE TABLE IF NOT EXISTS station_presence (
    station_id TEXT COLLATE "C" PRIMARY KEY,
    node_id TEXT COLLATE "C" NOT NULL,
    epoch BIGINT NOT NULL,
    since TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS station_presence_by_node ON station_presence (node_id);
CREATE SEQUENCE IF NOT EXISTS cluster_leader_terms;
CREATE TABLE IF NOT EXISTS cluster_leader (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    term BIGINT NOT NULL,
    node_id TEXT COLLATE "C" NOT NULL,
    since TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE OR REPLACE FUNCTION cluster_fence_dispatch() RETURNS trigger AS $$
DECLARE current_epoch BIGINT;
BEGIN
    -- FOR SHARE: a takeover (UPDATE of the row) waits for this insert's transaction,
    -- or this insert waits for the takeover and then sees its epoch.
    SELECT epoch INTO current_epoch FROM station_presence
        WHERE station_id = substr(NEW.stream_id, 9) FOR SHARE;
    IF current_epoch IS DISTINCT FROM (NEW.data->>'connection_epoch')::BIGINT THEN
        RAISE EXCEPTION 'stale connection epoch % for %: the station is held under epoch %',
            NEW.data->>'connection_epoch', NEW.stream_id, current_epoch
            USING ERRCODE = '{STALE_EPOCH_SQLSTATE}';
    END IF;
    RETURN NEW;
END $$ LANGUAGE plpgsql;
DROP TRIGGER IF EXISTS cluster_fence_dispatch ON events;
CREATE TRIGGER cluster_fence_dispatch BEFORE INSERT ON events FOR EACH ROW
    WHEN (NEW.type = 'CommandDispatched') EXECUTE FUNCTION cluster_fence_dispatch();

CREATE OR REPLACE FUNCTION cluster_fence_twin() RETURNS trigger AS $$
BEGIN
    IF coalesce((OLD.doc->>'connection_epoch')::BIGINT, 0)
       > coalesce((NEW.doc->>'connection_epoch')::BIGINT, 0) THEN
        RETURN NULL;  -- a node that lost the station writes nothing over its holder
    END IF;
    RETURN NEW;
END $$ LANGUAGE plpgsql;
DROP TRIGGER IF EXISTS cluster_fence_twin ON documents;
CREATE TRIGGER cluster_fence_twin BEFORE UPDATE ON documents FOR EACH ROW
    WHEN (NEW.model = 'twin') EXECUTE FUNCTION cluster_fence_twin();
"""

LIVENESS_CLASS = 0x6368
"""A live node holds the session advisory lock (LIVENESS_CLASS << 32 | its lock_key) on
its listening connection: PostgreSQL drops it the moment the node's process dies, so
the others need not wait out the lease of a node that was killed."""
ALIVE = f"""(n.lease_until > now() AND EXISTS (
    SELECT 1 FROM pg_locks l WHERE l.locktype = 'advisory' AND l.granted
    AND l.classid = {LIVENESS_CLASS} AND l.objid = n.lock_key AND l.objsubid = 1))"""
NOTICE_BYTES = 7000
"""A NOTIFY's payload must stay under 8,000 bytes: a batch's notice is cut in parts."""


async def install_schema(conn: psycopg.AsyncConnection[Any]) -> None:
    """Create the registry and the fencing triggers (idempotent, nodes may race)."""
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
        await conn.execute(SCHEMA.encode())
