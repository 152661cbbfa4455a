"""The composition root's cluster wiring: how a node on PostgreSQL joins the others
(connection registry, routing, leadership of the once-only jobs). Apart from
``bootstrap`` because a node alone needs none of it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from chargeledger.adapters.ocpp.gateway import OcppGateway
from chargeledger.application.cluster import follow_twins
from chargeledger.application.dispatcher import Dispatcher
from chargeledger.application.ports import DocumentStore, EventStore
from chargeledger.application.presence import LocalPresence, Presence
from chargeledger.application.projection_runner import ProjectionRunner
from chargeledger.application.supervisor import Supervisor
from chargeledger.application.twin_service import TwinService
from chargeledger.config import Settings

if TYPE_CHECKING:
    from chargeledger.adapters.postgres_presence import PostgresPresence


async def node_presence(
    settings: Settings, store: EventStore
) -> tuple[Presence, PostgresPresence | None]:
    """On PostgreSQL the node joins the cluster's connection registry; alone, it counts."""
    from chargeledger.adapters.postgres_store import PostgresEventStore

    if not isinstance(store, PostgresEventStore):
        return LocalPresence(settings.node_id), None
    from chargeledger.adapters.postgres_presence import PostgresPresence

    database = store.database
    presence = PostgresPresence(database, settings.node_id, settings.lease_s)
    await presence.start()
    return presence, presence


def join_cluster(
    presence: PostgresPresence,
    settings: Settings,
    supervisor: Supervisor,
    projections: ProjectionRunner,
    reservation_expiry: Callable[[], Awaitable[None]],
    twin: TwinService,
    gateway: OcppGateway,
    dispatcher: Dispatcher,
    documents: DocumentStore,
) -> None:
    """Once-only jobs run on the leader; the rest on every node (application/cluster.py)."""
    from chargeledger.adapters.postgres_documents import PostgresDocumentStore
    from chargeledger.adapters.postgres_leadership import PostgresLeadership

    presence.holding(gateway.held_here)
    presence.on_lease_lost(lambda: gateway.drop_all("this node's lease lapsed"))
    dispatcher.route_with(
        presence.route, lambda station_id: gateway.session(station_id) is not None
    )
    presence.on_routed(dispatcher.take_routed)
    leadership = PostgresLeadership(presence.conninfo, settings.node_id)
    if isinstance(documents, PostgresDocumentStore):
        documents.leader_term = lambda: leadership.term
    leadership.add("projections", projections.run)
    leadership.add("reservation-expiry", reservation_expiry)
    leadership.add("lapsed-nodes-sweep", presence.run_sweeper)
    supervisor.add("leadership", leadership.run)
    supervisor.add("projections-follow", projections.follow_checkpoint)
    supervisor.add("lease", presence.keep_lease)
    supervisor.add("twins-follow", lambda: follow_twins(twin, gateway.held_here))
