"""The dispatcher: the only part that talks to stations, and only about committed events.

For each open command it records ``CommandDispatched`` first, then sends the CALL,
then records the station's answer: decide, then record, then act (ARCHITECTURE.md
flow 2). A command whose dispatch is already recorded is never sent again by a
repeat, so a crash can leave a command in doubt but never doubled (I3, I4); a
command in doubt is reconciled from what the station did, not re-sent, unless its
repeat is harmless (``Operation.repeat_is_harmless``). What a CALL looks like and what
its answer means is the station's protocol version's (``StationProtocol``).

It follows the log itself, from its head (``run``), so a CALL never waits for the read
models; what was requested before, or while a station was away, it takes up from the
command views when the station is ready, and an expiry sweep re-queues anything a
race left behind. Recording how a dispatch ended (the answer, a CALLERROR, silence, or
the verdict on one in doubt) is ``outgoing_commands``'.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace
from datetime import timedelta
from typing import Any

from chargeledger import log_context
from chargeledger.application import faults
from chargeledger.application.command_handler import CommandHandler
from chargeledger.application.command_secrets import CommandSecrets
from chargeledger.application.open_commands import OpenCommands
from chargeledger.application.outgoing_commands import (
    OutcomeRecorder,
    OutgoingCommand,
    RecentKeys,
    ended_key,
)
from chargeledger.application.ports import (
    RESPONSE_TIMEOUT_S,
    CallNotSentError,
    CallTimeoutError,
    Clock,
    DocumentStore,
    EventStore,
    RecordedEvent,
    StationCallError,
    StationDisconnectedError,
    StationLink,
    StationOfflineError,
    StationProtocol,
)
from chargeledger.application.twin_service import TwinService
from chargeledger.domain.commands import MarkDispatched
from chargeledger.domain.enums import CommandStatus, Outcome
from chargeledger.domain.events import TERMINAL_EVENTS, CommandRequested
from chargeledger.domain.operations import OPERATIONS

log = logging.getLogger(__name__)

ViewsReach = Callable[[int, float], Awaitable[bool]]


class _StationQueue:
    def __init__(self) -> None:
        self.pending: OrderedDict[str, OutgoingCommand] = OrderedDict()
        self.task: asyncio.Task[None] | None = None


class Dispatcher:
    def __init__(
        self,
        handler: CommandHandler,
        documents: DocumentStore,
        clock: Clock,
        twin: TwinService,
        protocol: StationProtocol,
        reconcile_grace_s: float,
        expiry_check_s: float = 1.0,
        response_timeout_s: float = RESPONSE_TIMEOUT_S,
        held_elsewhere: Callable[[str], Awaitable[bool]] | None = None,
        may_send: Callable[[], bool] | None = None,
        store_failures: tuple[type[Exception], ...] = (),
        outcome_patience_s: float = 120.0,
        protocols: Mapping[str, StationProtocol] | None = None,
    ) -> None:
        self._outcomes = OutcomeRecorder(
            handler, clock, CommandSecrets(documents), store_failures, outcome_patience_s
        )
        self._handler = handler
        self._open = OpenCommands(documents)
        """Reads shared by the stations that become ready together (a reconnect storm)."""
        self._clock = clock
        self._twin = twin
        self._protocol, self._protocols = protocol, dict(protocols or {})  # by link.protocol
        self._reconcile_grace_s, self._expiry_check_s = reconcile_grace_s, expiry_check_s
        self._response_timeout_s = response_timeout_s
        self._held_elsewhere = held_elsewhere  # in a cluster: does another node hold it?
        self._may_send = may_send
        """In a cluster: whether this node's lease holds; when not, it records no
        dispatch and sends no CALL (the expiry sweep queues the command again)."""
        self._links: dict[str, StationLink] = {}
        self._queues: dict[str, _StationQueue] = {}
        self._reconciling: set[str] = set()
        self._never_sent: dict[str, int] = {}
        """Dispatched commands whose CALL provably never left, with that attempt: sent
        again as the next attempt on the next link, unless another attempt was recorded
        since (then it is in doubt like any other)."""
        self._in_flight: set[str] = set()
        """Commands this node is sending right now, awaiting the station's answer."""
        self._store: EventStore | None = None
        self._views_reach: ViewsReach | None = None
        self._position, self._tasks = 0, set[asyncio.Task[None]]()
        self._taken_locally: RecentKeys[str] = RecentKeys()
        """Requests this node's handler handed over at their commit (``take_recorded``), or
        another node routed here (``take_routed``), which the log follower then passes
        over; bounded, oldest forgotten first."""
        self._ended: RecentKeys[tuple[str, str]] = RecentKeys()  # (station, command) seen ended
        self._route: Callable[[OutgoingCommand], None] | None = None
        handler.on_recorded(self.take_recorded)

    def take_recorded(self, recorded: list[RecordedEvent]) -> None:
        """A request committed by this node for a station linked here is queued at once,
        not when the log follower reaches it: on PostgreSQL that waits until every older
        transaction on the server has ended, which any slow one stretches to seconds."""
        for one in recorded:
            event = one.event
            if not isinstance(event, CommandRequested):
                if isinstance(event, TERMINAL_EVENTS):
                    self._ended.keep(ended_key(one))
                continue
            command = OutgoingCommand.requested(one, event)
            if command.station_id not in self._links:
                if self._route is not None:
                    self._route(command)
                continue
            self._take(command)

    def route_with(
        self, route: Callable[[OutgoingCommand], None], connected_here: Callable[[str], bool]
    ) -> None:
        """In a cluster: a request for a station linked elsewhere goes to its holder
        (``take_routed`` there); one connected elsewhere is decided on fresh state."""
        self._route = route
        self._handler.held_elsewhere_with(lambda station_id: not connected_here(station_id))

    def take_routed(self, command: OutgoingCommand) -> None:
        """A request another node committed, for a station that may be linked here:
        queued at once, not when the log follower reaches it (which waits for every
        older transaction on the server). Passed over when the follower already did,
        and a second delivery is harmless: the dispatch is recorded once (I3)."""
        here = command.station_id in self._links and command.position > self._position
        if not here or command.command_id in self._taken_locally:
            return
        self._handler.moved(command.station_id)  # its dispatch is decided on fresh state
        self._take(command)

    def _take(self, command: OutgoingCommand) -> None:
        self._taken_locally.keep(command.command_id)
        self._enqueue(command)

    def follow_views(self, store: EventStore, views_reach: ViewsReach) -> None:
        """Follow the log itself (``run``), and know how to wait for the read models."""
        self._store = store
        self._views_reach = views_reach

    async def run(self) -> None:
        """Follows the log from its head: a command requested for a station linked here
        is queued as soon as it is committed, without waiting for the read models.
        Commands requested earlier, or while their station was away, are taken up by
        ``station_ready`` from the read models."""
        assert self._store is not None
        self._position = await self._store.head_position()
        while True:
            batch = await self._store.read_all(self._position, 500)
            if not batch:
                await self._store.wait_for_events(self._position, 1.0)
                continue
            for recorded in batch:
                event = recorded.event
                if isinstance(event, CommandRequested):
                    if self._taken_locally.forget(event.command_id):
                        continue
                    command = OutgoingCommand.requested(recorded, event)
                    if command.station_id in self._links:
                        self._handler.moved(command.station_id)  # another node wrote it
                        self._enqueue(command)
                elif isinstance(event, TERMINAL_EVENTS):
                    ended = ended_key(recorded)
                    self._never_sent.pop(ended[1], None)
                    self._ended.keep(ended)
            self._position = batch[-1].position

    async def station_ready(self, link: StationLink) -> None:
        """The station's registration is accepted on this connection: send what waits,
        and reconcile what an earlier connection or node left in doubt."""
        self._links[link.station_id] = link
        if self._store is not None and self._views_reach is not None:
            # What this dispatcher passed over while the station was away must be in
            # the read models before they are read.
            position = self._position or await self._store.head_position()
            await self._views_reach(position, 5.0)  # if not, the expiry sweep catches up
        waiting = (await self._open.by_station()).get(link.station_id, [])
        for command in waiting:
            if command.status == CommandStatus.REQUESTED:
                self._enqueue(command)
            elif command.command_id not in self._in_flight:
                self._take_up_dispatched(link, command)

    def station_gone(self, link: StationLink) -> None:
        """The connection closed; a newer link of the same station stays."""
        if self._links.get(link.station_id) is link:
            del self._links[link.station_id]

    def _enqueue(self, command: OutgoingCommand) -> None:
        station_id = command.station_id
        queue = self._queues.setdefault(station_id, _StationQueue())
        queue.pending.setdefault(command.command_id, command)
        if queue.task is None or queue.task.done():
            queue.task = self._spawn(self._drain(station_id, queue), station_id)

    def _take_up_dispatched(self, link: StationLink, command: OutgoingCommand) -> None:
        """A recorded dispatch that no task here is waiting on: send it again if it
        provably never left, otherwise reconcile it."""
        unsent_attempt = self._never_sent.pop(command.command_id, None)
        if unsent_attempt is not None and unsent_attempt == command.attempt:
            next_attempt = unsent_attempt + 1
            self._spawn(
                self._dispatch(link, command, next_attempt, redispatch=True), link.station_id
            )
        else:
            self._start_reconciling(link, command)

    def _spawn(self, work: Any, station_id: str) -> asyncio.Task[None]:
        task: asyncio.Task[None] = asyncio.create_task(
            _logged(work, f"dispatch work for {station_id}"), name=f"dispatch-{station_id}"
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _drain(self, station_id: str, queue: _StationQueue) -> None:
        while queue.pending:
            link = self._links.get(station_id)
            if link is None:
                queue.pending.clear()  # taken up again when the station is ready
                return
            if self._may_send is not None and not self._may_send():
                log.warning("node cut from its cluster: %s waits", station_id)
                queue.pending.clear()  # queued again by the expiry sweep once it is back
                return
            _, command = queue.pending.popitem(last=False)
            try:
                await self._dispatch(link, command, attempt=command.attempt + 1)
            except Exception:
                log.exception("dispatch of %s to %s failed", command.command_id, station_id)

    async def _dispatch(
        self, link: StationLink, command: OutgoingCommand, attempt: int, redispatch: bool = False
    ) -> None:
        command_id = command.command_id
        now = self._clock.now()
        if not redispatch and command.expired(now):
            await self._outcomes.record(
                link.station_id, command_id, Outcome.EXPIRED, "time to live ran out"
            )
            return
        if self._may_send is not None and not self._may_send():
            return  # no lease: taken up again when the station is ready or by the sweep
        spoken = self._spoken(link)
        if (call := await self._outcomes.said(link.station_id, spoken, command)) is None:
            return  # asked in the other OCPP version, and the station's cannot say it
        dispatched = await self._handler.execute(
            link.station_id,
            MarkDispatched(
                command_id=f"{command_id}/dispatch/{attempt}",
                target_command_id=command_id,
                attempt=attempt,
                connection_epoch=link.epoch,
                dispatched_at=now.isoformat(),
                redispatch=redispatch,
            ),
            correlation_id=command_id,
            causation_id=command_id,
        )
        if dispatched.duplicate or not dispatched.events:
            # Recorded before, perhaps by a node that died, or ended. Whatever a read
            # model said, the decider's state tells whether it still waits for an end.
            target = dispatched.state.open_commands.get(command_id)
            in_doubt = target is not None and target.status == CommandStatus.DISPATCHED
            if in_doubt and target is not None and command_id not in self._in_flight:
                self._take_up_dispatched(link, replace(command, attempt=target.attempt))
            return
        faults.crash_point("after-dispatched")
        if self._links.get(link.station_id) is not link:
            # Taken over while the dispatch was recorded: it never left on this link.
            self._never_sent[command_id] = attempt
            newer = self._links.get(link.station_id)
            if newer is not None:
                self._take_up_dispatched(newer, replace(command, attempt=attempt))
            return
        self._in_flight.add(command_id)
        try:
            # The CALL's log lines name the command (only around the call: a task started
            # inside would carry it for good).
            with log_context.bound(command=command_id):
                answer = await link.call(*call)
        except StationOfflineError:
            # The connection went before the CALL left: the station cannot have acted,
            # so the next connection gets it as a new attempt, not as a doubt.
            self._never_sent[command_id] = attempt
        except (CallNotSentError, CallTimeoutError, StationCallError) as failure:
            await self._outcomes.record_call_failure(link.station_id, command_id, failure)
        except StationDisconnectedError:
            # In doubt: the station may have acted. Reconciliation decides, not a re-send.
            log.warning("station %s left before answering %s", link.station_id, command_id)
        else:
            faults.crash_point("after-answer")
            outcome, detail = spoken.answer(command.name, command.payload, answer)
            await self._outcomes.record(link.station_id, command_id, outcome, detail, result=answer)
        finally:
            self._in_flight.discard(command_id)

    def _spoken(self, link: StationLink) -> StationProtocol:
        return self._protocols.get(getattr(link, "protocol", ""), self._protocol)

    def _start_reconciling(self, link: StationLink, command: OutgoingCommand) -> None:
        if command.command_id in self._reconciling:
            return
        self._reconciling.add(command.command_id)
        self._spawn(self._reconcile(link, command), link.station_id)

    async def _reconcile(self, link: StationLink, command: OutgoingCommand) -> None:
        command_id = command.command_id
        try:
            if OPERATIONS[command.name].repeat_is_harmless:
                await self._dispatch(link, command, command.attempt + 1, redispatch=True)
                return
            # Ask the station to tell us where it stands, then give it time to report
            # what it did while we could not hear it (queued StartTransactions etc.).
            with contextlib.suppress(Exception), log_context.bound(command=command_id):
                await link.call(*self._spoken(link).status_request())
            await asyncio.sleep(self._reconcile_grace_s)
            await self._outcomes.record_verdict(link.station_id, command, self._twin)
        except Exception:
            log.exception("reconciling %s on %s failed", command_id, link.station_id)
        finally:
            self._reconciling.discard(command_id)

    async def expire_overdue(self) -> None:
        """End every command that waited past its time to live: a requested one expires;
        one in doubt whose station never came back fails as not observed."""
        now = self._clock.now()
        for command in [one for cs in (await self._open.by_station()).values() for one in cs]:
            if (command.station_id, command.command_id) in self._ended:
                continue  # ended; only the read model does not show it yet
            requested = command.status == CommandStatus.REQUESTED
            if not command.expired(now):
                if requested and command.station_id in self._links:
                    self._enqueue(command)  # a safety net: queued twice is still sent once
                continue
            if requested:
                await self._outcomes.record(
                    command.station_id, command.command_id, Outcome.EXPIRED, "time to live ran out"
                )
            elif command.expired(now - timedelta(seconds=self._response_timeout_s)):
                await self._end_abandoned_dispatch(command)

    async def _end_abandoned_dispatch(self, command: OutgoingCommand) -> None:
        """A dispatch past its time to live and its answer's timeout that nothing here
        waits on still needs its one terminal event: reconcile it where its station
        is linked, otherwise it fails as not observed."""
        command_id, station_id = command.command_id, command.station_id
        if command_id in self._in_flight or command_id in self._reconciling:
            return
        link = self._links.get(station_id)
        if link is not None:
            self._start_reconciling(link, command)
            return
        if self._held_elsewhere is not None and await self._held_elsewhere(station_id):
            return  # its holder reconciles it when the station is ready there
        self._never_sent.pop(command_id, None)
        await self._outcomes.record_not_observed(station_id, command_id)

    async def run_expiry(self) -> None:
        while True:
            await asyncio.sleep(self._expiry_check_s)
            await self.expire_overdue()


async def _logged(work: Any, what: str) -> None:
    """Background work ends in a log line, never in an unretrieved task exception."""
    try:
        await work
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("%s failed", what)
