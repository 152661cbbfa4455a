"""The composition root: the one place that builds and wires a node (a node on
PostgreSQL joins its cluster through ``bootstrap_cluster``)."""

from __future__ import annotations

import asyncio
import logging
import ssl
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from chargeledger.adapters.clock import SystemClock
from chargeledger.adapters.metrics import MeasuredDocuments, NodeMetrics, measured
from chargeledger.adapters.ocpp.gateway import GatewayOptions, OcppGateway
from chargeledger.adapters.ocpp.handlers import StationMessages
from chargeledger.adapters.ocpp.schemas import OCPP16 as SPOKEN_16
from chargeledger.adapters.ocpp.schemas import OCPP201
from chargeledger.adapters.ocpp.session_messages import SessionMessages
from chargeledger.adapters.ocpp.v16.operations import OCPP16
from chargeledger.adapters.ocpp.v201.messages import Messages201
from chargeledger.adapters.ocpp.v201.operations import OCPP201_OPERATIONS
from chargeledger.adapters.serialization import EventCodec
from chargeledger.adapters.sqlite_database import SQLiteDatabase, sqlite_path
from chargeledger.adapters.sqlite_documents import SQLiteDocumentStore
from chargeledger.adapters.sqlite_store import SQLiteEventStore
from chargeledger.adapters.telemetry import LogTelemetry
from chargeledger.application import faults
from chargeledger.application.charging_profile_library import ChargingProfileLibrary
from chargeledger.application.charging_sessions import ChargingSessions
from chargeledger.application.cluster import Readiness, cluster_ready
from chargeledger.application.command_handler import CommandHandler
from chargeledger.application.command_secrets import CommandSecrets
from chargeledger.application.dispatcher import Dispatcher
from chargeledger.application.holdings_projection import OperationsProjection
from chargeledger.application.holdings_views import OperationViews
from chargeledger.application.id_tags import IdTagRegistry
from chargeledger.application.local_lists import NamedLocalLists
from chargeledger.application.operator_commands import OperationInputs, OperatorCommands
from chargeledger.application.ports import Clock, DocumentStore, EventStore
from chargeledger.application.projection_cache import CachedDocuments
from chargeledger.application.projection_runner import ProjectionRunner
from chargeledger.application.projections import CommandAndStationProjection
from chargeledger.application.quarantine import Quarantine
from chargeledger.application.queries import Views
from chargeledger.application.readiness import StoreProbe, gateway_listening, read_models_within
from chargeledger.application.registry import RegistrationPolicy, StationRegistry
from chargeledger.application.reservation_expiry import ReservationExpiry
from chargeledger.application.shared_log import SharedLogReads
from chargeledger.application.station_presence import TwinAndDispatcher
from chargeledger.application.supervisor import Supervisor
from chargeledger.application.twin_service import TwinService
from chargeledger.bootstrap_cluster import join_cluster, node_presence
from chargeledger.config import Settings, UnknownIdTags

log = logging.getLogger("chargeledger")


@dataclass(frozen=True)
class UseCases:
    """What the HTTP API calls, built once per node over its stores and its twins."""

    views: Views
    operation_views: OperationViews
    operator: OperatorCommands
    sessions: ChargingSessions
    id_tags: IdTagRegistry
    profiles: ChargingProfileLibrary
    local_lists: NamedLocalLists


@dataclass
class Node:
    settings: Settings
    clock: Clock
    store: EventStore
    documents: DocumentStore
    handler: CommandHandler
    twin: TwinService
    registry: StationRegistry
    use_cases: UseCases
    projections: ProjectionRunner
    dispatcher: Dispatcher
    gateway: OcppGateway
    supervisor: Supervisor
    quarantine: Quarantine = field(default_factory=Quarantine)
    readiness: list[Callable[[], Awaitable[Readiness]]] = field(default_factory=list)
    """Checks a node passes to be ready (``/readyz``); the cluster adds its own."""
    closers: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    store_probe: StoreProbe | None = None
    """The readiness check that writes to the store; its last verdict is in ``/healthz``."""
    metrics: NodeMetrics = field(default_factory=lambda: NodeMetrics("-"))
    telemetry: LogTelemetry | None = None

    async def close(self, within_s: float = 8.0) -> None:
        """Close in order (stations, twins, cluster, store), all within ``within_s``: a
        stage that overruns is logged by name and left behind, so a stop never hangs
        until the service manager's SIGKILL loses what the later stages would save."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within_s
        stages: list[tuple[str, Callable[[], Awaitable[object]]]] = [
            ("closing station connections", self.gateway.stop),
            ("flushing the twins", self.twin.flush),
            *((f"closing {closer.__qualname__}", closer) for closer in self.closers),
            ("closing the store", self.store.close),
        ]
        for stage, run in stages:
            await bounded_stage(stage, run(), max(0.5, deadline - loop.time()))


async def bounded_stage(stage: str, work: Awaitable[object], within_s: float) -> None:
    """Await a shutdown stage for at most ``within_s``; say what it was still waiting on."""
    started = time.monotonic()
    try:
        await asyncio.wait_for(work, within_s)
    except TimeoutError:
        waiting = sorted(
            task.get_name() for task in asyncio.all_tasks() if task is not asyncio.current_task()
        )
        log.warning(
            "shutdown: %s did not finish in %.1f s; going on without it (tasks still running: %s)",
            stage,
            within_s,
            ", ".join(waiting[:12]) or "none",
        )
    except Exception as failure:  # a failed stage must not skip the ones after it
        log.warning("shutdown: %s failed: %r", stage, failure)
    else:
        elapsed = time.monotonic() - started
        if elapsed > 1.0:
            log.info("shutdown: %s took %.1f s", stage, elapsed)


@dataclass
class OfflineNode:
    """What the CLI's commands on a store use (stations, tags, events, projections
    rebuild): the stores and the registries over them, without workers or listeners."""

    clock: Clock
    store: EventStore
    documents: DocumentStore
    stations: StationRegistry
    id_tags: IdTagRegistry

    def read_models(self) -> tuple[CommandAndStationProjection, ProjectionRunner]:
        """Every read model, over the documents themselves (no cache), and their runner."""
        projection = read_models(self.documents)
        return projection, ProjectionRunner(self.store, self.documents, projection)

    async def close(self) -> None:
        await self.store.close()


async def open_offline_node(url: str, clock: Clock | None = None) -> OfflineNode:
    clock = clock or SystemClock()
    store, documents = await open_stores(url, clock)
    return OfflineNode(
        clock, store, documents, StationRegistry(documents), IdTagRegistry(documents, clock)
    )


async def open_stores(url: str, clock: Clock) -> tuple[EventStore, DocumentStore]:
    """The event store and the document store behind one URL; closing the event store
    closes both (they share the file or the connection pool)."""
    if url.startswith("sqlite:///"):
        database = SQLiteDatabase(sqlite_path(url))
        return SQLiteEventStore(database, EventCodec(), clock), SQLiteDocumentStore(database)
    if url.startswith(("postgresql://", "postgres://")):
        from chargeledger.adapters.postgres_database import PostgresDatabase
        from chargeledger.adapters.postgres_documents import PostgresDocumentStore
        from chargeledger.adapters.postgres_store import PostgresEventStore

        shared = await PostgresDatabase.open(url)
        return PostgresEventStore(shared, EventCodec(), clock), PostgresDocumentStore(shared)
    raise ValueError(
        f"unsupported store URL {url!r}: use sqlite:///path or postgresql://user@host/db"
    )


async def build_node(settings: Settings, clock: Clock | None = None) -> Node:
    faults.arm(settings.crash_at)
    clock = clock or SystemClock()
    store, documents = await open_stores(settings.store, clock)
    metrics = NodeMetrics(settings.node_id, _version())
    handler = CommandHandler(measured(store, metrics), clock)
    found = getattr(documents, "quarantine", None)  # what the store could not read
    quarantine = found if isinstance(found, Quarantine) else Quarantine()
    twin = TwinService(
        MeasuredDocuments(documents, metrics), clock, settings.twin_flush_interval_s, quarantine
    )
    presence, cluster = await node_presence(settings, store)
    await twin.load(shared=cluster is not None)
    registry = StationRegistry(documents)
    use_cases = build_use_cases(settings, clock, handler, documents, twin, store)
    projected = CachedDocuments(documents)  # the projection is their only writer here
    followed = SharedLogReads(store)  # the followers of the log share its reads
    projections = ProjectionRunner(followed, projected, read_models(projected))
    dispatcher = Dispatcher(
        handler,
        documents,
        clock,
        twin,
        OCPP16,
        protocols={OCPP201: OCPP201_OPERATIONS},
        reconcile_grace_s=settings.reconcile_grace_s,
        response_timeout_s=settings.response_timeout_s,
        held_elsewhere=None if cluster is None else cluster.held_elsewhere,
        may_send=None if cluster is None else cluster.may_send,
        store_failures=store_failures(),
    )
    dispatcher.follow_views(followed, projections.wait_until)
    sessions = SessionMessages(use_cases.sessions, twin, clock)
    messages = StationMessages(
        handler,
        twin,
        dispatcher,
        clock,
        RegistrationPolicy(registry, settings.unknown_stations),
        settings.heartbeat_interval_s,
        business=sessions.handlers,
        data_transfer_vendors=frozenset(settings.data_transfer_vendors),
    )
    messages.speak(
        OCPP201, Messages201(messages, use_cases.sessions, twin, clock, handler).handlers
    )
    gateway = OcppGateway(
        messages,
        TwinAndDispatcher(twin, dispatcher),
        registry,
        unknown_stations=settings.unknown_stations,
        options=gateway_options(settings),
        presence=presence,
        metrics=metrics,
    )
    supervisor = Supervisor()
    telemetry = LogTelemetry(followed, documents, metrics, settings.response_timeout_s, clock)
    supervisor.add("telemetry", telemetry.run)
    supervisor.add("dispatcher", dispatcher.run)
    supervisor.add("expiry", dispatcher.run_expiry)
    supervisor.add("secrets-sweep", lambda: CommandSecrets(documents).run_sweep(clock))
    supervisor.add("twin-writer", twin.run_writer)
    reservation_expiry = ReservationExpiry(handler, documents, clock).run
    store_probe = StoreProbe(store, documents, clock, settings.node_id)
    readiness: list[Callable[[], Awaitable[Readiness]]] = [
        store_probe.check,
        gateway_listening(gateway.listening.is_set),
        read_models_within(store, lambda: projections.position, settings.ready_max_lag),
    ]
    closers: list[Callable[[], Awaitable[None]]] = []
    if cluster is None:
        supervisor.add("projections", projections.run)
        supervisor.add("reservation-expiry", reservation_expiry)
    else:
        join_cluster(
            cluster,
            settings,
            supervisor,
            projections,
            reservation_expiry,
            twin,
            gateway,
            dispatcher,
            documents,
        )
        readiness.append(lambda: cluster_ready(cluster))
        closers.append(cluster.close)
    tls = tls_context(settings)
    supervisor.add("gateway", lambda: gateway.run(settings.host, settings.ocpp_port, ssl=tls))
    return Node(
        settings,
        clock,
        store,
        documents,
        handler,
        twin,
        registry,
        use_cases,
        projections,
        dispatcher,
        gateway,
        supervisor,
        quarantine,
        readiness,
        closers,
        store_probe,
        metrics,
        telemetry,
    )


def build_use_cases(
    settings: Settings,
    clock: Clock,
    handler: CommandHandler,
    documents: DocumentStore,
    twin: TwinService,
    log: EventStore,
) -> UseCases:
    id_tags = IdTagRegistry(documents, clock)
    profiles = ChargingProfileLibrary(documents, clock)
    local_lists = NamedLocalLists(documents, clock)
    inputs = OperationInputs(
        documents,
        profiles,
        id_tags,
        clock,
        settings.remote_start_unknown_tags == UnknownIdTags.REFUSE,
        local_lists,
    )
    return UseCases(
        views=Views(documents, twin, log),
        operation_views=OperationViews(documents, profiles, twin),
        operator=OperatorCommands(
            handler,
            documents,
            clock,
            settings.command_ttl_s,
            twin,
            inputs,
            settings.connection_timeout_s,
            protocols={SPOKEN_16: OCPP16, OCPP201: OCPP201_OPERATIONS},
        ),
        sessions=ChargingSessions(handler, documents, id_tags, twin),
        id_tags=id_tags,
        profiles=profiles,
        local_lists=local_lists,
    )


def gateway_options(settings: Settings) -> GatewayOptions:
    """The gateway's part of the settings (their defaults are declared in ``Settings``)."""
    return GatewayOptions(
        response_timeout_s=settings.response_timeout_s,
        ping_interval_s=settings.ping_interval_s,
        ping_timeout_s=settings.ping_timeout_s,
        max_frame_bytes=settings.max_frame_bytes,
        handshake_timeout_s=settings.handshake_timeout_s,
        close_timeout_s=settings.close_timeout_s,
        max_queue=settings.station_queue,
        max_connections=settings.max_ocpp_connections,
        max_connections_per_address=settings.max_ocpp_connections_per_address,
        new_stations_per_address_per_minute=settings.new_stations_per_minute,
    )


def read_models(documents: DocumentStore) -> CommandAndStationProjection:
    """Every read model the projection runner keeps, writing into ``documents``."""
    return CommandAndStationProjection(documents, OperationsProjection(documents))


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("chargeledger")
    except PackageNotFoundError:
        return ""


def store_failures() -> tuple[type[Exception], ...]:
    """What the stores raise when their disk or database fails them (a full or
    read-only disk, a lost server): an outage to report, not a bug."""
    import sqlite3

    import psycopg

    from chargeledger.adapters.postgres_database import StoreUnavailableError

    return (sqlite3.OperationalError, psycopg.OperationalError, StoreUnavailableError)


def tls_context(settings: Settings) -> ssl.SSLContext | None:
    if not settings.tls_cert:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(settings.tls_cert, settings.tls_key)
    return context
