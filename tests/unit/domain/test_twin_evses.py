"""OCPP 2.0.1 EVSEs in the twin: the domain's connector is the EVSE, its own
connectors' statuses kept beside it, bounded."""

from __future__ import annotations

from chargeledger.domain import twin as t


def test_an_evse_keeps_its_connectors_statuses_and_reads_as_the_worst_of_them() -> None:
    station = t.StationTwin("CP1")
    station = t.evse_status_notified(station, 1, 1, "Available")
    station = t.evse_status_notified(station, 1, 2, "Occupied")
    assert station.connector_status(1) == "Occupied"
    assert station.connectors[1].evse_connectors == ((1, "Available"), (2, "Occupied"))
    for connector in range(3, 40):
        station = t.evse_status_notified(station, 1, connector, "Available")
    assert len(station.connectors[1].evse_connectors) == t.MAX_CONNECTORS_PER_EVSE
