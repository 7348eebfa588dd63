"""`Signals`: the risk read models of every market, fed by the sequencer's events.

It never changes venue state, reads the engine only for what an event says changed, and takes
time only from the commands' timestamps, so the same commands give the same figures. Work per
event is O(1) (a dict update, an account marked as changed); each step of venue time Δ closes
a mark sample (volatility, correlation), re-measures the accounts that changed during it
(leverage, spikes) and the book's execution quality (the book read again only after an
event that may have moved it: anything but wallet, position, mark and funding events); each
minute samples the temperature's parts. The liquidation map is brought up to date for the
changed accounts when it is read.

Off the sequencer's critical path. The sequencer hands each applied command over with
`handoff(cmd, events)`, right after it applies it (before the next command): an append to a
buffer (the events are immutable). The buffer is folded in later by `catch_up`: in the venue by
an asyncio task (venue.signals.drain) whenever the sequencer yields the loop (an fsync, an
empty queue, between batches), and always before a read (every public read, reads.py, calls it
first, but σ and ρ, which move only when a step closes), so a read sees every command handed
over (durable: reads wait for the sequencer's commit); in process (the scenario runner) before
its read once a step. One thing cannot wait: a step's close reads the engine (the changed
accounts' margins, the book, funding), and it must read the state right after the command
that closes it, as a replay does. So a command of a new step Δ catches up the buffer and
closes the step inside `handoff`, on the sequencer's path, once per Δ of venue time, reading
only what needs the engine (the arithmetic, leverage and spike scores, is left to the
catch-up); every other handoff is the append. The changed accounts' margins are not read
there either but ahead, by the catch-ups during the step, and carried to the close exactly
(MarketSignals.read_ahead); the close reads only those moved since (the closing command's
included: `stale`) and what cannot be carried, so it costs O(markets + accounts changed since
the last catch-up), not O(accounts changed in the step). The figures are therefore those of feeding
`observe` command by command (a journal replay, `replay_observer`), whatever the batches:
tested live against replay with a batch across a step's end.

Folding the buffer: all its commands fall within one open step, and the figures depend only on
which positions, wallets and marks changed within a step (a position's lots after its last
event, a wallet moved, the marks in order) and on the state when the step closes; so the buffer
is folded as one burst (the kinds that matter picked out at C speed, each position once).

Here: what the events are folded into (who holds what, which accounts and books changed). Its
parts, mixins of `Signals`: the hand-over buffer (handoff.py), the reads ahead of a close
(read_ahead.py), the step's close (step_close.py) and the reads (reads.py).
"""

from __future__ import annotations

import gc
from itertools import compress, repeat
from operator import attrgetter, is_

from perpsim.engine.events import (
    BalanceChanged,
    FundingSettled,
    InsuranceFundChanged,
    MarkPriceChanged,
    PositionChanged,
)
from perpsim.venue.signals.config import NS, SignalConfig
from perpsim.venue.signals.correlation import Correlations
from perpsim.venue.signals.handoff import MARGIN_COMMANDS, HandoffBuffer
from perpsim.venue.signals.market import MarketSignals
from perpsim.venue.signals.read_ahead import ReadAhead
from perpsim.venue.signals.reader import EngineReader
from perpsim.venue.signals.reads import SignalReads
from perpsim.venue.signals.step_close import StepClose
from perpsim.venue.signals.volatility import MarkGrid, decay

#: a command with at least this many events is folded in through the burst path
BURST = 32
_SYMBOL_ACCOUNT_SIDE = attrgetter("symbol", "account", "position_side")
_LOTS, _ACCOUNT = attrgetter("lots"), attrgetter("account")
_SYMBOL = attrgetter("symbol")
#: kinds of event that never come with a change of a book (its changes come as OrderEvents)
BOOK_QUIET = frozenset({BalanceChanged, PositionChanged, MarkPriceChanged, FundingSettled, InsuranceFundChanged})


class Signals(SignalReads, StepClose, ReadAhead, HandoffBuffer):
    """The risk read models of every market of the live exchange, fed its commands' events in
    sequence (module docstring); venue time in ns from the commands' timestamps."""

    def __init__(self, source, cfg: SignalConfig | None = None) -> None:
        """`source()`: the live exchange (the venue swaps it on a reset or a rebuild)."""
        self.source, self.cfg = source, cfg or SignalConfig()
        self.ex = None
        #: called when the buffer turns non-empty (the venue's drain task sets its event)
        self.wake = None
        #: steps of venue time closed so far (across attaches): flags are raised only then
        self.steps_closed = 0
        self.attach(source())

    def attach(self, ex) -> None:
        """Start over on `ex` (a new or recovered exchange): the position-derived figures are
        re-read from its state, the time series start empty."""
        cfg = self.cfg
        self.ex = ex
        self.rd = rd = EngineReader(ex)
        self.sample_ns = cfg.sample_s * NS
        self.lam = decay(self.sample_ns, cfg.vol_half_life_s * NS)
        self.symbols = list(rd.symbols())
        self.markets = {s: MarketSignals(rd.spec(s), cfg, self.lam) for s in self.symbols}
        bases = {s: rd.spec(s).base for s in self.symbols}
        self.corr = Correlations(self.symbols, self.lam, cfg.correlation_n0, lambda a, b: cfg.prior(bases[a], bases[b]))
        self.grid = MarkGrid(self.symbols, self.sample_ns, self._step)
        self.next_step = 0  # venue time (ns) from which a command closes the grid's open step
        self.buf: list[tuple[object, list]] = []  # (cmd, events) handed over, not yet folded in
        self.buf_at = 0  # events of the buffer's first command already folded in (taken in parts)
        self.scores: list[tuple[MarketSignals, int, tuple]] = []  # leverage read at a close, not yet worked out
        self.held: dict[int, set[str]] = {}  # account -> markets it holds a position in
        self.multi: dict[str, set[int]] = {s: set() for s in self.symbols}  # holders of this and another market
        self.ts = rd.ts
        self.minute: int | None = None
        #: an event that may have moved a book since the last step's close: its books are re-read then
        self.book_moved = True
        self.books: dict[str, tuple] = {}  # symbol -> (bids, asks) as read at the last close
        self.ahead_any = False  # some market holds margins read ahead (MarketSignals.ahead) since the last close
        for symbol in self.symbols:
            mark = rd.mark(symbol)
            if mark is not None:
                self.grid.mark(rd.ts, symbol, mark)
            for account in rd.holders(symbol):
                self._position(symbol, account)

    # ---------------------------------------------------------------- the listener

    def observe(self, cmd, events: list) -> None:
        """Fold one command's events in now (what a replay does per command; tools and tests)."""
        self.observe_on(self.source(), cmd, events)

    def replay_observer(self, state, cmd, events: list) -> None:
        """`recovery.recover`'s observe hook: fold in a replayed command of `state` (a VenueState)."""
        self.observe_on(state.exchange, cmd, events)

    def observe_on(self, ex, cmd, events: list) -> None:
        """`observe` against a given exchange (a journal replay feeds its own)."""
        if ex is not self.ex:
            self.attach(ex)
        if cmd.ts >= self.next_step:
            self.stale(cmd, events)
        self.catch_up()
        if cmd.ts >= self.next_step:
            self.saw(events)
        self._advance(cmd.ts)
        self._fold(cmd.ts, events)
        if type(cmd) in MARGIN_COMMANDS:
            self._paid((cmd.account,))

    def _advance(self, ts: int) -> None:
        """Venue time is `ts`: a command of a new step closes the open one (the grid's step)."""
        self.ts = ts
        if ts >= self.next_step:
            self.grid.advance(ts)
            self.next_step = (ts // self.sample_ns + 1) * self.sample_ns

    def _fold(self, ts: int, events: list) -> None:
        """Fold in events of the open step: few one by one, many through the burst path."""
        if len(events) < BURST:
            held = self.held
            for e in events:
                t = type(e)
                if t is BalanceChanged:  # the most frequent kind that matters (fees, PnL, funding)
                    markets = held.get(e.account)
                    if markets:
                        for s in markets:
                            self.markets[s].touch(e.account)
                elif t is PositionChanged:
                    self._position(e.symbol, e.account, e.lots, e.position_side)
                elif t is MarkPriceChanged:
                    self._mark(ts, e)
                elif t not in BOOK_QUIET:
                    self.book_moved = True
        elif gc.isenabled():
            # as during Exchange.apply: a burst of small objects would set off full collections
            # over the whole venue's heap for nothing
            gc.disable()
            try:
                self._burst(ts, events)
            finally:
                gc.enable()
        else:
            self._burst(ts, events)

    def _burst(self, ts: int, events: list) -> None:
        """Many events (a cascade: tens per liquidation, most of them fills; or a buffer of
        commands): the three kinds that matter are picked out at C speed; each market's last
        mark is taken once (within a step only the last one is sampled, and the holders it
        re-prices are the same set each time), each position once with its lots after its last
        event, and the wallets moved marked per market by set intersection."""
        types = list(map(type, events))
        if not self.book_moved and not BOOK_QUIET.issuperset(types):
            self.book_moved = True
        marks = list(compress(events, map(is_, types, repeat(MarkPriceChanged))))
        if marks:
            for e in dict(zip(map(_SYMBOL, marks), marks, strict=True)).values():
                self._mark(ts, e)
        changed = list(compress(events, map(is_, types, repeat(PositionChanged))))
        if changed:
            last = dict(zip(map(_SYMBOL_ACCOUNT_SIDE, changed), map(_LOTS, changed), strict=True))
            held, markets = self.held, self.markets
            for (symbol, account, pside), lots in last.items():
                if pside:  # a hedge-mode leg (one-way positions are on BOTH, 0)
                    self._position(symbol, account, lots, pside)
                elif lots:
                    if markets[symbol].set_lots(account, lots):  # new in this market
                        self._holds(symbol, account)
                elif markets[symbol].close(account):  # a cascade's common case, kept short
                    markets_held = held.get(account)
                    if markets_held is not None and symbol in markets_held:
                        markets_held.discard(symbol)
                        if markets_held:
                            self._regroup(account, markets_held, symbol, False)
                        else:
                            del held[account]
        self._paid(set(map(_ACCOUNT, compress(events, map(is_, types, repeat(BalanceChanged))))))

    def saw(self, events: list) -> None:
        """The events of a step's closing command, about to be read at the close before they
        are folded in: whether they moved a book."""
        if not self.book_moved and not BOOK_QUIET.issuperset(map(type, events)):
            self.book_moved = True

    def _paid(self, accounts) -> None:
        """Wallets (or margins) moved: the accounts' liquidation prices and leverage changed in
        every market they hold a position in (the markets' holders: their legs)."""
        paid = accounts if isinstance(accounts, set) else set(accounts)
        if not paid:
            return
        for m in self.markets.values():
            hit = m.legs.keys() & paid  # walks the smaller of the two
            if hit:
                m.dirty_liq |= hit
                m.dirty_lev |= hit
                m.unread |= hit

    def _mark(self, ts: int, e) -> None:
        self.grid.mark(ts, e.symbol, e.mark)
        self._other_marks(e.symbol)

    def _position(self, symbol: str, account: int, lots: int | None = None, pside: int = 0) -> None:
        """The account's position in `symbol` changed (`lots`: its lots after on `pside`; None:
        re-read)."""
        holds = self.markets[symbol].position(self.rd, account, lots, pside)
        held = self.held.get(account)
        if holds:
            if held is None or symbol not in held:
                self._holds(symbol, account)
        elif held is not None and symbol in held:
            held.discard(symbol)
            if held:
                self._regroup(account, held, symbol, False)
            else:
                del self.held[account]

    def _holds(self, symbol: str, account: int) -> None:
        """The account now holds a position in `symbol` (and did not)."""
        held = self.held.get(account)
        if held is None:
            self.held[account] = {symbol}
        else:
            held.add(symbol)
            for s in held:  # holding several markets: a mark anywhere moves its liquidation prices
                self.markets[s].touch(account)
            self._regroup(account, held, symbol, True)

    def _regroup(self, account: int, held: set[str], symbol: str, added: bool) -> None:
        """Keep `multi` (per market, its holders that hold another market too) as `symbol` was
        added to or taken from the account's markets `held`."""
        multi, n = self.multi, len(held)
        if added:
            for s in (held if n == 2 else (symbol,)):
                multi[s].add(account)
        else:
            multi[symbol].discard(account)
            if n == 1:
                for s in held:
                    multi[s].discard(account)

    def _other_marks(self, symbol: str) -> None:
        """A mark moved: accounts holding this and other markets have new liquidation prices
        there (the other legs' uPnL and maintenance margin). Only those accounts are visited."""
        for account in self.multi[symbol]:
            for s in self.held[account]:
                if s != symbol:
                    self.markets[s].dirty_liq.add(account)
