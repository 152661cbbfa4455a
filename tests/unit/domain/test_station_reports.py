"""What a station reports beyond status and heartbeats, in its twin: bounded histories,
and a round trip through the twin's stored document."""

from __future__ import annotations

from datetime import UTC, datetime

from chargeledger.domain import station_reports as r
from chargeledger.domain import twin as t


def test_firmware_statuses_keep_their_history_newest_last_and_bounded() -> None:
    twin = t.StationTwin("CP1")
    for n in range(r.KEPT + 5):
        twin = t.firmware_status_notified(twin, f"S{n}", f"t{n}")
    assert twin.firmware_status == f"S{r.KEPT + 4}"
    assert len(twin.reports.firmware) == r.KEPT
    assert twin.reports.firmware[0] == r.StatusReport("S5", "t5")


def test_a_heartbeat_keeps_what_else_was_reported() -> None:
    twin = t.diagnostics_status_notified(t.StationTwin("CP1"), "Uploaded", "t1")
    assert t.heartbeat(twin, "t2").reports == twin.reports


def test_reports_survive_the_twins_document() -> None:
    reports = r.firmware_notified(r.NO_REPORTS, "Installed", "t1")
    reports = r.diagnostics_notified(reports, "UploadFailed", "t2")
    reports = r.data_transferred(reports, "v", None, "x" * (r.MAX_DATA + 5), "Accepted", "t3")
    reports = r.authorized(reports, "TAG", "Blocked", "t4")
    back = r.from_doc(r.to_doc(reports))
    assert back == reports
    assert len(back.data_transfers[0].data or "") == r.MAX_DATA
    assert r.from_doc(None) == r.NO_REPORTS


def test_a_connectors_status_changes_are_kept_and_answered_as_of_a_moment() -> None:
    reports = r.NO_REPORTS
    for connector, status, code, at in (
        (1, "Available", "NoError", "2026-01-01T10:00:00Z"),
        (2, "Available", "NoError", "2026-01-01T10:00:00Z"),
        (2, "Available", "NoError", "2026-01-01T10:05:00Z"),  # a repeat: not a change
        (2, "Faulted", "GroundFailure", "2026-01-01T11:00:00Z"),
        (2, "Available", "NoError", "2026-01-01T12:00:00Z"),
    ):
        reports = r.status_notified(reports, connector, status, code, at)
    assert len(reports.statuses) == 4
    then = r.statuses_at(reports, datetime(2026, 1, 1, 11, 30, tzinfo=UTC))
    assert then["connectors"] == [
        {
            "connector_id": 1,
            "status": "Available",
            "error_code": "NoError",
            "since": "2026-01-01T10:00:00Z",
        },
        {
            "connector_id": 2,
            "status": "Faulted",
            "error_code": "GroundFailure",
            "since": "2026-01-01T11:00:00Z",
        },
    ]
    assert then["kept_from"] == "2026-01-01T10:00:00Z"
    before = r.statuses_at(reports, datetime(2026, 1, 1, 9, 0, tzinfo=UTC))
    assert before["connectors"] == []
    assert r.from_doc(r.to_doc(reports)) == reports


def test_the_kept_status_changes_are_bounded() -> None:
    reports = r.NO_REPORTS
    for n in range(r.STATUSES_KEPT + 5):
        reports = r.status_notified(
            reports, 1, "Faulted" if n % 2 else "Available", "NoError", None
        )
    assert len(reports.statuses) == r.STATUSES_KEPT
