"""Live and replayed signals are the same figures, whatever the sequencer's batches: the real
sequencer (journal on disk, group commit) hands each applied command to the signals, a batch
crossing steps of venue time included, and a journal replay (`recover` with the signals'
replay observer) reads the same. Feeding them after the whole batch, as the sequencer's
listeners are, would not: the test shows that difference too, so it can tell them apart."""

from __future__ import annotations

import asyncio

from perpsim.engine import commands as C
from perpsim.model.enums import OrderKind, Side, TimeInForce
from perpsim.venue import codec
from perpsim.venue.journal import Journal
from perpsim.venue.recovery import JOURNAL_DIR, recover
from perpsim.venue.sequencer import Sequencer
from perpsim.venue.signals import Signals
from perpsim.venue.signals.drain import CatchUp
from perpsim.venue.state import VenueState

from .conftest import SYMBOL, U, make_exchange, px

S = 10**9
MAKER, TRADERS = 1, range(10, 16)


class ScriptedClock:
    """Venue time that moves a quarter second each time the sequencer stamps a command: one
    batch of a dozen commands spans three steps of the signals' 1-s grid."""

    def __init__(self) -> None:
        self.t = 100 * S

    def now(self) -> int:
        self.t += S // 4
        return self.t


def _quotes(mid: int) -> list:
    out = [lambda ts: C.CancelAll(ts, MAKER, SYMBOL)]
    for lvl in range(1, 6):
        out.append(lambda ts, p=mid + 5 * lvl: C.PlaceOrder(ts, MAKER, SYMBOL, Side.SELL, 400, p))
        out.append(lambda ts, p=mid - 5 * lvl: C.PlaceOrder(ts, MAKER, SYMBOL, Side.BUY, 400, p))
    return out


def _market(account: int, side: Side, lots: int):
    return lambda ts: C.PlaceOrder(ts, account, SYMBOL, side, lots, 0, OrderKind.MARKET, TimeInForce.IOC)


def _batches() -> list[list]:
    """Setup, then batches mixing position changes with index moves (each batch a unit of
    `submit_many`, so sequenced back to back within one group commit)."""
    mid = px(65_000)
    out = [[lambda ts: C.SetIndexPrice(ts, SYMBOL, mid), lambda ts: C.Deposit(ts, MAKER, "USDT", 10**9 * U)]]
    out.append([lambda ts, a=a: C.Deposit(ts, a, "USDT", 2_000 * U) for a in TRADERS]
               + [lambda ts, a=a: C.SetLeverage(ts, a, SYMBOL, 50) for a in TRADERS])
    for k in range(8):
        mid += (-1) ** k * 40 * (k + 1)
        batch = [lambda ts, p=mid: C.SetIndexPrice(ts, SYMBOL, p), *_quotes(mid)]
        for i, a in enumerate(TRADERS):
            batch.append(_market(a, Side.BUY if (a + k) % 3 else Side.SELL, 5 + 7 * ((i + k) % 4)))
        out.append(batch)
    return out


def _figures(sig: Signals) -> str:
    """The market's figures now and every leverage change its steps' closes took (the spike
    scorer's history: a close that read another state shows there even when the last figures
    agree)."""
    return repr((sig.market_risk(SYMBOL), list(sig.markets[SYMBOL].spikes.changes)))


async def _live(data_dir) -> tuple[str, str]:
    """Run the batches through a sequencer; the signals' figures (handed over per command) and
    those of signals fed after each batch, as a listener."""
    journal = Journal(data_dir / JOURNAL_DIR)
    seq = Sequencer(VenueState(make_exchange()), ScriptedClock(), journal, codec)
    live = Signals(lambda: seq.state.exchange)
    after_batch = Signals(lambda: seq.state.exchange)
    seq.after_apply.append(live.handoff)
    seq.listeners.append(after_batch.observe)
    catch_up = CatchUp(live)
    seq.start()
    catch_up.start()
    try:
        for batch in _batches():
            results = await seq.submit_many(batch)
            assert not any(isinstance(r, BaseException) for r in results)
        await seq.submit(lambda ts: C.SetIndexPrice(ts + 2 * S, SYMBOL, px(65_000)))  # closes the last step
        assert live.grid.step > 100 + 8  # the batches crossed steps
        for _ in range(100):  # no read yet: the catch-up task folds the buffer in while the loop is idle
            if not live.buf and not live.scores:
                break
            await asyncio.sleep(0.01)
        assert live.buf == [] and live.scores == []
        return _figures(live), _figures(after_batch)
    finally:
        await catch_up.stop()
        await seq.stop()
        journal.close()


def test_a_batch_across_steps_reads_the_same_live_and_on_replay(tmp_path) -> None:
    live, after_batch = asyncio.run(_live(tmp_path))
    venue = {"exchange": make_exchange()}  # the venue's live exchange, as the app's source is
    replayed = Signals(lambda: venue["exchange"])
    state, _, _ = recover(tmp_path, lambda: VenueState(make_exchange()), observe=replayed.replay_observer)
    venue["exchange"] = state.exchange
    assert _figures(replayed) == live
    assert after_batch != live  # fed after the batch, a step's close sees the batch's later commands
