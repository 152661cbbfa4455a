"""Ports: what the application needs from the outside, as Protocols. Adapters implement
them (SQLite, PostgreSQL, OCPP over WebSockets); unit tests use fakes of the same Protocols.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Protocol, runtime_checkable

from chargeledger.domain.enums import Outcome
from chargeledger.domain.events import Event
from chargeledger.domain.json_object import JsonObject
from chargeledger.errors import StationLinkError, StoreError

ANY: Final = -1
"""Expected version that skips the version check."""

NO_STREAM: Final = 0
"""Expected version of a stream that has no events yet."""


class VersionConflictError(StoreError):
    """Another writer appended to the stream since it was loaded."""

    def __init__(self, stream_id: str, expected: int, actual: int) -> None:
        super().__init__(
            f"version conflict on stream {stream_id!r}: expected version {expected}, "
            f"found {actual}; reload the stream and decide again"
        )
        self.stream_id = stream_id
        self.expected = expected
        self.actual = actual


class CorruptEventError(StoreError):
    """A stored event that cannot be decoded; names where it is."""

    def __init__(self, stream_id: str, position: int, reason: str) -> None:
        super().__init__(
            f"cannot decode the event at position {position} of stream {stream_id!r}: {reason}; "
            "register its type or an upcaster, or repair the row"
        )
        self.stream_id = stream_id
        self.position = position
        self.reason = reason


class InvalidAppendError(StoreError, ValueError):
    """An append the store refuses before writing anything (bad stream id, bad expected
    version, an event that cannot be stored); the message says what to fix."""


@dataclass(frozen=True)
class Metadata:
    command_id: str | None = None
    causation_id: str | None = None
    correlation_id: str | None = None
    recorded_at: str | None = None

    def as_dict(self) -> dict[str, str]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


@dataclass(frozen=True)
class RecordedEvent:
    stream_id: str
    version: int
    position: int
    event: Event
    metadata: Metadata


@dataclass(frozen=True)
class AppendResult:
    """Where an append landed. ``duplicate`` says its command id was already recorded,
    in which case the fields describe that first append and nothing new was written."""

    stream_id: str
    version: int
    """The stream's version after the (first) append."""
    first_position: int | None
    last_position: int | None
    duplicate: bool = False
    outcome: Mapping[str, Any] | None = None
    """What the first handling of the command id answered, when it recorded no events
    (a refusal), so that a repeat can answer the same."""


class EventStore(Protocol):
    async def append(
        self,
        stream_id: str,
        events: Sequence[Event],
        expected_version: int,
        metadata: Metadata,
        outcome: Mapping[str, Any] | None = None,
    ) -> AppendResult:
        """Append ``events`` if the stream is at ``expected_version`` (or ``ANY``).

        Raises ``VersionConflictError`` otherwise. If ``metadata.command_id`` is
        already recorded on the stream, writes nothing and returns the first
        append's result with ``duplicate=True``. An empty ``events`` list with a
        command id records only the command and its ``outcome``.
        """
        ...

    async def read_stream(
        self, stream_id: str, from_version: int = 1, to_version: int | None = None
    ) -> list[RecordedEvent]:
        """The stream's events from ``from_version`` on (up to ``to_version``, when
        given), in version order."""
        ...

    async def read_all(self, after_position: int, limit: int = 1000) -> list[RecordedEvent]:
        """Up to ``limit`` events of the whole log after ``after_position``, in order.

        Positions increase along the log but need not be dense. Only events that no
        earlier-positioned event can still join are returned: on PostgreSQL an append
        shows here once every transaction that began before it has ended, so a
        reader that moves its checkpoint past a position never skips one."""
        ...

    async def head_position(self) -> int:
        """The position of the last event that ``read_all`` may return now (0 if none)."""
        ...

    async def find_command(self, stream_id: str, command_id: str) -> AppendResult | None:
        """The recorded result of a command id on a stream, or ``None``."""
        ...

    async def wait_for_events(self, after_position: int, timeout: float) -> None:
        """Return once the log may hold events after ``after_position``, or after
        ``timeout`` seconds. Wake-ups coalesce; a caller reads all that is new."""
        ...

    def subscribe(
        self, after_position: int, page_size: int = 500, safety_poll_s: float = 1.0
    ) -> AsyncIterator[list[RecordedEvent]]:
        """Catch up from ``after_position``, then follow live: yields pages of events in
        global order, never skipping one that committed late. Waits on wake-ups while
        idle, re-reading every ``safety_poll_s`` in case one was missed. The caller
        stores its checkpoint (``DocumentStore.commit_batch``) with its own writes."""
        ...

    async def close(self) -> None:
        """Release connections and threads."""
        ...


class CommandAlreadyRecordedError(StoreError):
    """An append chain wrote nothing because one of its command ids was already recorded."""

    def __init__(self, stream_id: str, command_id: str) -> None:
        super().__init__(f"command {command_id!r} is already recorded on stream {stream_id!r}")
        self.stream_id = stream_id
        self.command_id = command_id


@dataclass(frozen=True)
class CommandAppend:
    """One command's share of an append chain: its events, the metadata that carries
    its command id, and the outcome a repeat of it returns."""

    events: Sequence[Event]
    metadata: Metadata
    outcome: Mapping[str, Any] | None = None


@runtime_checkable
class ChainedAppends(Protocol):
    """Optional store capability: several commands' appends to one stream in one commit.

    The command handler decides a stream's queued commands one after another on the
    state each leaves, then records them together; a store without this capability
    gets them one append at a time.
    """

    async def append_chain(
        self, stream_id: str, appends: Sequence[CommandAppend], expected_version: int
    ) -> list[AppendResult]:
        """Append each in order, the first at ``expected_version`` and each next one on
        top of the one before, in one transaction: all are written, or none.

        Raises ``VersionConflictError`` when the stream is not at ``expected_version``,
        and ``CommandAlreadyRecordedError`` when one of the command ids is already
        recorded on the stream.
        """
        ...


@dataclass(frozen=True)
class DocumentWrite:
    """One change to a read-model document; ``doc=None`` deletes it."""

    model: str
    key: str
    doc: Mapping[str, Any] | None
    tag: str | None = None


DocumentPage = list[tuple[str, JsonObject]]
"""Documents with their keys, in the order asked for."""


class DocumentStore(Protocol):
    """Read models and registries as JSON documents keyed by (model, key)."""

    async def get(self, model: str, key: str) -> JsonObject | None:
        """One document, or ``None``."""
        ...

    async def list(self, model: str, tag: str | None = None) -> list[JsonObject]:
        """All documents of a model (those carrying ``tag`` when given), in key order."""
        ...

    async def page(
        self,
        model: str,
        *,
        limit: int,
        tag: str | None = None,
        after: str | None = None,
        descending: bool = False,
    ) -> DocumentPage:
        """Up to ``limit`` documents of a model (those carrying ``tag`` when given) with
        their keys, in key order (``descending``: the reverse), those strictly past the
        key ``after`` when given: keyset paging, as cheap on the last page as the first."""
        ...

    async def write(self, writes: Sequence[DocumentWrite]) -> None:
        """Apply writes in one transaction."""
        ...

    async def checkpoint(self, name: str) -> int:
        """The last position a subscriber recorded as handled (0 when none)."""
        ...

    async def commit_batch(self, name: str, position: int, writes: Sequence[DocumentWrite]) -> None:
        """Apply ``writes`` and move the subscriber's checkpoint to ``position`` in one
        transaction, so a batch takes effect exactly once."""
        ...

    async def forget(self, models: Sequence[str], checkpoint_name: str) -> int:
        """Delete every document of ``models`` and reset the subscriber's checkpoint to 0,
        in one transaction, so the subscriber rebuilds them; the documents deleted."""
        ...

    async def next_in_sequence(self, name: str) -> int:
        """A new integer, unique per sequence name across processes, and increasing
        within one process (a store shared by several nodes may hand them out in
        blocks: not increasing from one node to another, and with gaps)."""
        ...


ChangeCursor = tuple[int, str]
"""Where a reader of changed documents stopped: the change marker and key it read last."""

NO_CHANGE_READ: Final[ChangeCursor] = (0, "")


@runtime_checkable
class ChangedDocuments(Protocol):
    """Optional store capability: the documents of a model written since a cursor, so a
    node that follows what other nodes write reads only what changed (PostgreSQL, which
    keeps the change markers for the twins only)."""

    async def changed_since(
        self, model: str, after: ChangeCursor, limit: int
    ) -> tuple[DocumentPage, ChangeCursor]:
        """Up to ``limit`` documents written after ``after``, in the order they were
        written (a document written again comes again), and the cursor to read on from."""
        ...


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware (UTC)."""
        ...


RESPONSE_TIMEOUT_S: Final = 30.0
"""Seconds a station has to answer one of our CALLs, unless ``--response-timeout`` says."""


class CallTimeoutError(StationLinkError):
    """The station did not answer a CALL within the response timeout."""


class StationDisconnectedError(StationLinkError):
    """The connection closed before the station answered."""


class CallNotSentError(StationLinkError):
    """The CALL never left this node: the station cannot have acted on it."""


class StationQueueFullError(CallNotSentError):
    """The station's outgoing queue is full; try again once it has drained."""


class InvalidCallError(CallNotSentError):
    """The CALL's payload breaks the action's OCPP schema, so it was not sent."""


class StationOfflineError(CallNotSentError, StationDisconnectedError):
    """The connection closed (with no newer one to take the CALL) before it was sent."""


class StationLink(Protocol):
    """The live connection to one station, as the dispatcher sees it."""

    station_id: str
    epoch: int
    protocol: str  # the OCPP version it speaks: its WebSocket subprotocol (``ocpp1.6``)

    async def call(self, action: str, payload: JsonObject) -> JsonObject:
        """Send a CALL and return the CALLRESULT payload.

        Raises ``CallTimeoutError``, ``StationDisconnectedError`` (the CALL may
        have reached the station), ``StationCallError`` for a CALLERROR or an answer
        that breaks its schema, or ``CallNotSentError`` (queue full, invalid
        payload, or offline before sending: the station cannot have acted).
        """
        ...


class StationPresence(Protocol):
    """What the OCPP gateway tells the rest of the node about the station connections
    it holds (``Presence`` says which node holds a station; this is told what happens
    to a connection on this one). ``link`` is the connection's ``StationLink``."""

    def is_known(self, station_id: str) -> bool:
        """Whether the node has seen the station before (in accept mode a known id
        passes freely; a new one counts against its address's budget)."""
        ...

    def connected(self, link: StationLink, protocol: str | None) -> None:
        """The connection went live (after its handshake and any takeover)."""
        ...

    async def ready(self, link: StationLink) -> None:
        """The connection took over one whose registration was accepted: what waits
        for the station may be sent on it."""
        ...

    def message_received(self, station_id: str) -> None:
        """A message of any kind arrived from the station (runs for every frame)."""
        ...

    def superseded(self, link: StationLink) -> None:
        """A newer connection, here or on another node, speaks for the station now:
        ``link`` carries no more CALLs."""
        ...

    def disconnected(self, link: StationLink) -> None:
        """The connection closed; a newer one of the same station stays."""
        ...


class StationCallError(StationLinkError):
    """The station answered with a CALLERROR."""

    def __init__(self, code: str, description: str) -> None:
        super().__init__(f"{code}: {description}")
        self.code = code
        self.description = description


class StationAnswerInvalidError(StationCallError):
    """The station answered with a CALLRESULT that breaks the action's response schema."""


class StationProtocol(Protocol):
    """How operations are spoken in one OCPP version: their CALLs, what answers mean."""

    def call(
        self, name: str, payload: Mapping[str, Any], command_id: str = ""
    ) -> tuple[str, JsonObject]:
        """The CALL's action and payload (``command_id`` numbers e.g. ``remoteStartId``)."""
        ...

    def speaks(self, name: str) -> bool:
        """Whether operation ``name`` has a message in this version."""
        ...

    def unspeakable(self, name: str, arguments: Mapping[str, Any]) -> str | None:
        """Why these cannot be said in this version (no message, a CALL against its schema)."""
        ...

    def answer(
        self, name: str, payload: Mapping[str, Any], result: Mapping[str, Any]
    ) -> tuple[Outcome, str]:
        """The outcome (``ACCEPTED`` or ``REJECTED``) of an answer, and what it means in
        words (``""`` when its status says it all)."""
        ...

    def status_request(self) -> tuple[str, JsonObject]:
        """A CALL that makes the station report where it stands (reconciliation)."""
        ...
