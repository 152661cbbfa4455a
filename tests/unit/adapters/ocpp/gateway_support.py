"""A gateway in-process over in-memory stores, for the gateway's unit tests."""

from __future__ import annotations

from chargeledger.adapters.memory import InMemoryDocumentStore
from chargeledger.adapters.metrics import NodeMetrics
from chargeledger.adapters.ocpp.gateway import GatewayOptions, OcppGateway
from chargeledger.adapters.ocpp.handlers import StationMessages
from chargeledger.adapters.ocpp.v16.operations import OCPP16
from chargeledger.application.command_handler import CommandHandler
from chargeledger.application.dispatcher import Dispatcher
from chargeledger.application.presence import LocalPresence
from chargeledger.application.registry import StationRegistry
from chargeledger.application.station_presence import TwinAndDispatcher
from chargeledger.application.twin_service import TwinService
from chargeledger.bootstrap import gateway_options
from chargeledger.config import Settings
from chargeledger.domain.enums import UnknownStations
from tests.fakes import OPEN_REGISTRATION, FakeClock
from tests.stores import MemoryEventStore


def new_gateway(options: GatewayOptions | None = None) -> OcppGateway:
    """A gateway that accepts unknown stations, with real handlers behind it; the
    settings' defaults unless ``options`` are given."""
    settings = Settings()
    clock = FakeClock()
    documents = InMemoryDocumentStore()
    handler = CommandHandler(MemoryEventStore(), clock)
    twin = TwinService(documents, clock)
    dispatcher = Dispatcher(
        handler, documents, clock, twin, OCPP16, reconcile_grace_s=settings.reconcile_grace_s
    )
    return OcppGateway(
        StationMessages(
            handler, twin, dispatcher, clock, OPEN_REGISTRATION, settings.heartbeat_interval_s
        ),
        TwinAndDispatcher(twin, dispatcher),
        StationRegistry(documents),
        unknown_stations=UnknownStations.ACCEPT,
        options=options or gateway_options(settings),
        presence=LocalPresence(),
        metrics=NodeMetrics("-"),
    )
