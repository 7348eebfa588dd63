"""The sequencer: ONE writer that owns the exchange state.

The task takes commands off one bounded queue in order, stamps their time, applies them to the
VenueState, appends them to the journal, makes the batch durable with one fsync (group commit)
and only then resolves the callers' futures and publishes events. A full queue is shed with
RESOURCE_EXHAUSTED rather than queued without bound.

The read models the state was handed the commands with (`VenueState.catch_up`: the history)
are folded in while the fsync runs on its thread and while no command waits, a slice at a time:
off the path from a command to its acknowledgment wherever the loop has time to spare.

The commit step (where the fsync runs, the acknowledgment) is venue/group_commit.py. With many
callers in flight a batch waits a bounded moment for the ones the last batch answered (adaptive
group commit: more orders per fsync); with one caller it never waits.
A failed fsync, or a state that cannot be rebuilt after a core fault, halts the sequencer:
every waiting caller is answered with an error and the venue stops serving
(venue/sequencer_faults.py).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import re
from collections.abc import Callable
from typing import Any, TypeVar

from perpsim.model.reasons import RejectReason as R
from perpsim.venue.clock import Clock
from perpsim.venue.codec import CodecError
from perpsim.venue.commit_thread import CommitThread
from perpsim.venue.errors import VenueError, cut
from perpsim.venue.group_commit import GroupCommit
from perpsim.venue.sequencer_faults import SequencerFaults, SequencerHalted
from perpsim.venue.sequencer_queue import Item, Queue, release
from perpsim.venue.state import VenueState
from perpsim.venue.tasks import cancel

T = TypeVar("T")

log = logging.getLogger("perpsim.venue")

QUEUE_LIMIT = 10_000
OVERLOAD_RETRY_MS = 250  # RetryInfo of a unit shed for a full queue: a few batches' time
BATCH_LIMIT = 1_024
#: events of the handed-over read models folded in between two looks at the fsync or the queue
FOLD_SLICE = 512
#: longest a batch waits for the callers the last one acknowledged to come back (s): their
#: answers' way out and their next calls' way in through the loop, against an fsync and a commit
#: cycle saved per extra order. Measured at 16 unary clients on 2 shared cores, the callers take
#: 2-4 ms to come back: at 2 ms batches were cut before they did (more, smaller commits: about a
#: fifth more loop CPU per order and a higher p50), at 4-16 ms alike. A caller that never comes
#: back costs the next batch this once (the one after waits only for those that did).
GATHER_S = 0.004


def _no_codec(_: object) -> Any:
    """The encoder and decoder of a sequencer without a journal: never called."""
    raise AssertionError("a sequencer without a journal encodes nothing")


class Sequencer(GroupCommit, SequencerFaults):
    """One writer: applies commands in arrival order, journals them, acknowledges after fsync."""

    def __init__(self, state: VenueState, clock: Clock, journal=None, codec=None, checkpoint=None,
                 checkpoint_every: int = 0) -> None:
        """`journal` and `codec` (a module with encode/decode) go together; without them the
        sequencer runs in memory only."""
        # told of every state that replaces the one before it (a recovery's, a reset's, a rebuild's)
        self.on_new_state: list[Callable[[VenueState], None]] = []
        self.state, self.clock = state, clock
        self.journal = journal
        self.encode: Callable[[object], bytes] | None = codec.encode if codec is not None else None
        self.decode: Callable[[bytes], object] | None = codec.decode if codec is not None else None
        # checkpoint(durable_seq) snapshots the state; run between batches, when nothing moves
        self.checkpoint, self.checkpoint_every = checkpoint, checkpoint_every
        self._since_checkpoint = 0
        self.queue = Queue()  # bounded by _enqueue, in commands
        self._queued = 0  # commands (a control item: 1) waiting in the queue
        self.listeners: list[Callable[[object, list], None]] = []
        # listeners handed a whole batch of applied commands at once, after the per-command ones:
        # [(command, events), ...] (counters and gauges: their work once a batch, not once a command)
        self.batch_listeners: list[Callable[[list], None]] = []
        # read models that need the state as a command arrives (slippage's arrival prices)
        self.before_apply: list[Callable[[object], None]] = []
        # read models handed each applied command at once, in order, before the next one applies
        # (the risk signals' O(1) handoff: their step closes read the state right after it)
        self.after_apply: list[Callable[[object, list], None]] = []
        self.applied = 0  # commands acknowledged (durable)
        # commands applied to the state, counted as each submission's commands have applied
        self.sequenced = 0
        self._task: asyncio.Task | None = None
        # rebuild() -> a fresh state from the durable journal, after a command raised midway
        self.rebuild: Callable[[], VenueState] | None = None
        # set while every applied command is durable; reads wait for it (see settled)
        self._durable = asyncio.Event()
        self._durable.set()
        # the journal's fsyncs and rebuilds run on a thread of their own: no client call can
        # occupy it (the loop's default executor is shared with anything that runs blocking code)
        self.io = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="perpsim-journal")
        # the group commits: a thread of their own with a cheaper hand-off (venue/commit_thread.py)
        self._committer: CommitThread | None = None
        self._expect = 0  # callers the last batch acknowledged: how many the next one waits for
        self._lone = 0  # batches in a row that were one unary command (see _alone)
        self._enough: asyncio.Future | None = None  # set once _want items wait (see _gather)
        self._want = 0
        self._batch: list[Item] | None = None  # the batch being applied and committed
        self.halted: SequencerHalted | None = None  # set once the sequencer halted (see _halt)
        # called with the SequencerHalted error when the sequencer halts (the venue stops serving)
        self.on_halt: list[Callable[[SequencerHalted], None]] = []

    @property
    def state(self) -> VenueState:
        """The state every command applies to."""
        return self._state

    @state.setter
    def state(self, state: VenueState) -> None:
        self._state = state
        for hook in self.on_new_state:
            hook(state)

    def start(self) -> None:
        """Start the sequencer's task in the running loop (and its commit thread, the first time)."""
        loop = asyncio.get_running_loop()
        if self._committer is None:
            self._committer = CommitThread(loop)
        self._task = loop.create_task(self._run(), name="sequencer")

    async def stop(self) -> None:
        """Cancel the task, close the commit thread and shut the journal's I/O thread down (waiting for its work)."""
        await cancel(self._task)
        if self._committer is not None:
            self._committer.close()
        self.io.shutdown(wait=True)

    async def submit(self, make: Callable[[int], object]) -> list:
        """Queue a command (built from the time it is sequenced at); its events once durable."""
        item = Item(asyncio.get_running_loop().create_future(), [make], single=True)
        self._enqueue(item)
        (result,) = await item.future
        if isinstance(result, BaseException):
            raise result
        return result

    async def submit_many(self, makes: list[Callable[[int], object]]) -> list:
        """Queue commands as one unit: sequenced back to back in this order, made durable by one
        commit and acknowledged together. Per command, its events or the exception it raised
        (None for a command whose make returned None at its turn: withdrawn, nothing applied)."""
        if not makes:
            return []
        item = Item(asyncio.get_running_loop().create_future(), makes)
        self._enqueue(item)
        return await item.future

    def _enqueue(self, item: Item) -> None:
        """Queue an item; overload (QUEUE_LIMIT commands waiting) is shed, and nothing is
        taken once the sequencer halted."""
        if self.halted is not None:
            raise SequencerHalted(*self.halted.args)
        if self._queued + item.weight > QUEUE_LIMIT:
            raise VenueError(R.RATE_LIMITED, problem="venue overloaded, retry later", retry_after_ms=OVERLOAD_RETRY_MS)
        self._queued += item.weight
        self.queue.put_nowait(item)
        enough = self._enough
        if enough is not None and self.queue.qsize() >= self._want:
            self._enough = None
            release(enough)

    @property
    def durable(self) -> bool:
        """Whether every applied command is durable (no fsync pending)."""
        return self._durable.is_set() and self.halted is None

    async def settled(self) -> None:
        """Return once every applied command is durable: a read after this sees no state that a
        crash could still take back. Holds only while the sequencer waits for an fsync."""
        while not self._durable.is_set():
            await self._durable.wait()
        if self.halted is not None:
            raise SequencerHalted(*self.halted.args)

    async def run_quiet(self, control: Callable[[], T]) -> T:
        """Run `control()` between batches, when every earlier command is applied and durable
        and none is in flight (snapshots, reset); its result."""
        item = Item(asyncio.get_running_loop().create_future(), None, control)
        self._enqueue(item)
        return await item.future

    async def request_checkpoint(self) -> int:
        """Snapshot the state at the next quiet point; the journal sequence it covers."""
        if self.checkpoint is None:
            raise VenueError(R.INVALID_VALUE, problem="snapshots are not enabled")
        while True:
            seq = await self.run_quiet(self._snapshot)
            # a checkpoint written off the sequencer (venue.checkpoint): answered once on disk
            written = getattr(self.checkpoint, "written_at", None)
            if written is None or await written(seq):
                return seq

    def _snapshot(self) -> int:
        seq = self.journal.durable_seq
        self.checkpoint(seq)
        self._since_checkpoint = 0
        return seq

    async def _run(self) -> None:
        try:
            while True:
                await self._cycle()
        except asyncio.CancelledError:
            raise
        except Exception as e:  # a failed fsync or rebuild: the state can no longer be vouched for
            self._halt(e)

    async def _gather(self) -> list[Item]:
        """The next batch: what waits, once at least one item does. When the last batch
        acknowledged several callers, or more queued while it was committed, they are likely to
        come back soon, so the batch is cut only once that many items wait or GATHER_S has
        passed, the loop running meanwhile (their calls arrive through it): one fsync and one
        commit cycle shared by more orders. With one caller nobody is waited for."""
        while self.queue.empty() and not self._fold_slice():  # idle: catch the read models up
            await asyncio.sleep(0)
        batch = [await self.queue.get()]
        expect = self._expect
        if expect > 1 and self.queue.qsize() + 1 < expect:
            # woken by _enqueue once expect items wait, or by the timer: no spinning meanwhile
            loop = asyncio.get_running_loop()
            enough = self._enough = loop.create_future()
            self._want = expect - 1
            timer = loop.call_later(GATHER_S, release, enough)
            try:
                await enough
            finally:
                timer.cancel()
                self._enough = None
        commands = batch[0].weight
        get = self.queue.get_nowait
        while commands < BATCH_LIMIT and not self.queue.empty():
            batch.append(get())
            commands += batch[-1].weight
        self._queued -= commands
        return batch

    async def _cycle(self) -> None:
        batch = await self._gather()
        self._batch = batch  # answered by _halt if the cycle fails
        done: list = []
        controls: list[Item] = []
        self._durable.clear()
        journal = self.journal
        journaled = journal is not None
        encode, decode = self.encode or _no_codec, self.decode or _no_codec  # (given with the journal)
        now, before_apply, after_apply = self.clock.now, self.before_apply, self.after_apply
        state = self.state
        apply, exchange = state.apply, state.exchange
        finished = done.append
        for item in batch:
            if item.makes is None:
                controls.append(item)
                continue
            results = item.results
            answer = results.append
            # an item's journal records, appended at once after its commands (in their order;
            # before a rebuild too, which commits what applied before the faulty command)
            payloads: list[bytes] = []
            keep = payloads.append
            sequenced = 0
            for make in item.makes:
                ts, last = now(), exchange.ts
                cmd = make(ts if ts > last else last)
                if cmd is None:  # withdrawn by its caller at its turn (a batch's group after a refusal)
                    answer(None)
                    continue
                if journaled:
                    try:
                        # apply exactly what the journal will hold, so replay rebuilds this state
                        payload = encode(cmd)
                        cmd = decode(payload)
                    except CodecError as e:  # a value beyond the journal's int64: the caller's, refused
                        log.warning("command refused, it cannot be journaled: %s", cut(e, 200))
                        named = re.match(r"\w+\.(\w+) ", str(e))
                        answer(VenueError(R.INVALID_VALUE, field=named.group(1) if named else "",
                                          problem="out of the venue's range (int64)"))
                        continue
                    except Exception as e:  # cannot be journaled: refused before it touches the state
                        log.exception("command %r cannot be encoded", cmd)
                        answer(e)
                        continue
                if before_apply:
                    for hook in before_apply:
                        try:
                            hook(cmd)
                        except Exception:  # read models must never stop the sequencer
                            log.exception("before-apply hook %r failed on %r", hook, cmd)
                try:
                    events = apply(cmd)
                except Exception as e:
                    answer(e)
                    if payloads:
                        journal.append_many(payloads)
                        payloads.clear()
                    self.sequenced += sequenced
                    sequenced = 0
                    await self._recover_from(cmd, e)
                    state = self.state  # rebuilt
                    apply, exchange = state.apply, state.exchange
                    continue
                if journaled:
                    keep(payload)
                if after_apply:
                    for handoff in after_apply:
                        try:
                            handoff(cmd, events)
                        except Exception:  # read models must never stop the sequencer
                            log.exception("after-apply hook %r failed on %r", handoff, cmd)
                answer(events)
                finished((cmd, events))
                sequenced += 1
            if payloads:
                journal.append_many(payloads)
            # counted once an item's commands applied: read by the next item's first make
            # (venue.services.batch_unit)
            self.sequenced += sequenced
        if await self._commit(lambda: self._finish(batch, done, controls)):
            await asyncio.sleep(0)  # nothing to fsync: the acknowledged callers run now all the same
        self._batch = None

    def _fold_slice(self) -> bool:
        """Fold a slice of what the state's read models were handed; whether nothing is left."""
        try:
            return self.state.catch_up(FOLD_SLICE)
        except Exception:  # a read model must never stop the sequencer; its next read retries
            log.exception("folding the read models in failed")
            return True
