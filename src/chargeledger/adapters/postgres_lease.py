"""A node's lease, renewed from a thread of its own (cluster on PostgreSQL).

Renewed on the node's event loop, the lease waited behind whatever the loop was
doing: during a connect flood a renewal's answer sat in the loop's queue until the
lease lapsed on a node that was well, and the node dropped every station. Here a
thread with its own (blocking) connection renews it; it needs the interpreter only
for a few microseconds, which it gets within the interpreter's switch interval.

Alive is not "the thread runs": a node whose event loop is hung must lose its lease,
or its stations would stay held by a node that cannot serve them. So the event loop
beats (``beat``), and the thread renews only while the last beat is younger than
``beat_bound_s`` (generous: a loop that lags that long is sick anyway). A node
whose loop hangs loses its lease at most ``beat_bound_s`` + the lease later.

The renewal is fenced: it extends a lease that still runs in the database's clock
and nothing else (``_RENEW``). Once the lease lapsed (the others may have swept the
node's stations) a renewal is refused, and the node must first drop its connections
and then join again (``rejected``), so nothing held from before the lapse survives.
"""

from __future__ import annotations

import logging
import threading
import time

import psycopg

log = logging.getLogger(__name__)

_RENEW = (
    "UPDATE cluster_nodes SET lease_until = now() + make_interval(secs => %(l)s) "
    "WHERE node_id = %(n)s AND lease_until > now() RETURNING lock_key"
)


class LeaseThread:
    """Renews ``node_id``'s lease every third of ``lease_s`` while the loop beats."""

    def __init__(
        self, conninfo: str, node_id: str, lease_s: float, beat_bound_s: float | None = None
    ) -> None:
        self.conninfo = conninfo
        self.node_id = node_id
        self.lease_s = lease_s
        self.beat_bound_s = beat_bound_s if beat_bound_s is not None else 0.6 * lease_s
        self.renewed_at: float | None = None
        """``time.monotonic()`` when the last renewal that went through was sent."""
        self.failed = False
        """The last attempt did not renew (an error, a refusal, or a silent loop)."""
        self.rejected = False
        """The database refused a renewal: the lease had lapsed. Cleared by ``joined``."""
        self.last_error = ""
        self._beat = time.monotonic()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def beat(self) -> None:
        """The node's event loop runs (called from it, often)."""
        self._beat = time.monotonic()

    def joined(self, at: float) -> None:
        """The node (re)joined the cluster with a fresh lease, sent at ``at``."""
        self.renewed_at = at
        self.rejected = False
        self.failed = False
        self.last_error = ""
        self._beat = time.monotonic()

    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        if self.alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=f"lease-{self.node_id}", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 2.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        conn: psycopg.Connection[tuple[object, ...]] | None = None
        try:
            while not self._stop.wait(self.lease_s / 3):
                conn = self._renew_once(conn)
        finally:
            if conn is not None:
                conn.close()

    def _renew_once(
        self, conn: psycopg.Connection[tuple[object, ...]] | None
    ) -> psycopg.Connection[tuple[object, ...]] | None:
        sent = time.monotonic()
        silent_s = sent - self._beat
        if silent_s > self.beat_bound_s:
            self.failed = True
            self.last_error = (
                f"the node's event loop has not run for {silent_s:.1f} s; lease not renewed"
            )
            log.warning("%s", self.last_error)
            return conn
        if self.rejected:
            return conn  # the node drops its stations and joins again first
        try:
            if conn is None or conn.closed:
                conn = self._connect()
            row = conn.execute(_RENEW, {"n": self.node_id, "l": self.lease_s}).fetchone()
        except Exception as exc:
            self.failed = True
            self.last_error = f"cannot renew the node's lease: {exc!r}"
            log.warning("%s", self.last_error)
            if conn is not None:
                conn.close()
            return None
        if row is None:
            self.failed = True
            self.rejected = True
            self.last_error = "the node's lease lapsed in the database; renewal refused"
            log.error("%s (node %s)", self.last_error, self.node_id)
            return conn
        self.renewed_at = sent
        self.failed = False
        self.last_error = ""
        return conn

    def _connect(self) -> psycopg.Connection[tuple[object, ...]]:
        """Bounded in every way a lost server can hang a blocking call: connecting,
        a statement, and a socket whose peer went silent."""
        third_ms = max(500, int(self.lease_s * 1000 / 3))
        return psycopg.connect(
            self.conninfo,
            autocommit=True,
            connect_timeout=max(1, int(self.lease_s / 3)),
            options=f"-c statement_timeout={third_ms}",
            tcp_user_timeout=third_ms,
            keepalives=1,
            keepalives_idle=max(1, int(self.lease_s / 3)),
            keepalives_interval=1,
            keepalives_count=2,
        )
