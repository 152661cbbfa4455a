"""Bodies of ``POST /api/stations/{id}/commands/{name}`` for the operations only OCPP
2.0.1 has, in snake_case as 1.6's (``v16/bodies.py``); the operations both versions
have take 1.6's bodies."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, Strict

from chargeledger.adapters.ocpp.schemas import MAX_INTEGER, MIN_INTEGER
from chargeledger.adapters.ocpp.spec import CommandBody


class GetTransactionStatusBody(CommandBody):
    transaction_id: Annotated[int, Strict(), Field(ge=MIN_INTEGER, le=MAX_INTEGER)] | None = Field(
        default=None, description="ours; leave out to ask about any transaction"
    )


class GetBaseReportBody(CommandBody):
    report_base: Literal["ConfigurationInventory", "FullInventory", "SummaryInventory"] = Field(
        description="which part of its device model the station reports (NotifyReport)"
    )
