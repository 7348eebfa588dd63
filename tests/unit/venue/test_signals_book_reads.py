"""A step's close measures execution quality from the book as it stands right after the closing
command. It reads the book again only when an event since the last close may have moved it:
the figures must equal a fresh read of the real book at every close, whether the book moved
during the step, by the closing command itself, or not at all (quiet mark ticks)."""

from __future__ import annotations

from perpsim.engine import commands as C
from perpsim.engine.views import ExchangeView
from perpsim.model.enums import Side
from perpsim.venue.signals import Signals
from perpsim.venue.signals.execution import read_book

from .conftest import SYMBOL, U, make_exchange, px

S = 10**9
MAKER = 1


def _fresh(sig: Signals, ex) -> tuple:
    """(bid, ask, depth within 50 bps per side) of the book read now through the engine's view."""
    m, view = sig.markets[SYMBOL], ExchangeView(ex)
    bids, asks = read_book(lambda n: ([tuple(lv)[:2] for lv in view.depth(SYMBOL, Side.BUY, n)],
                                      [tuple(lv)[:2] for lv in view.depth(SYMBOL, Side.SELL, n)]),
                           sig.cfg.slippage_notional, m.quote)
    if not bids or not asks:
        return None, None, None
    mid = (bids[0][0] + asks[0][0]) / 2.0
    within = sum(m.quote(q, p) for p, q in bids if abs(p - mid) / mid * 10_000 <= 50 + 1e-9)
    return bids[0][0], asks[0][0], round(within, 6)


def _seen(sig: Signals) -> tuple:
    q = sig.markets[SYMBOL].execution
    return q.bid, q.ask, (round(q.depth_bid[50], 6) if q.depth_bid else None)


def test_each_close_sees_the_book_as_it_stands() -> None:
    ex = make_exchange()
    sig = Signals(lambda: ex)
    mid, ts = px(65_000), 100 * S
    script = [C.SetIndexPrice(ts, SYMBOL, mid), C.Deposit(ts, MAKER, "USDT", 10**9 * U),
              C.PlaceOrder(ts, MAKER, SYMBOL, Side.BUY, 400, mid - 10),
              C.PlaceOrder(ts, MAKER, SYMBOL, Side.SELL, 400, mid + 10)]
    t = ts
    for k in range(1, 4):  # quiet steps: mark ticks only
        t = ts + k * S
        script += [C.SetIndexPrice(t, SYMBOL, mid + k), C.SetIndexPrice(t + S // 2, SYMBOL, mid - k)]
    t += S
    script.append(C.PlaceOrder(t + S // 2, MAKER, SYMBOL, Side.BUY, 300, mid - 5))  # moves the book mid-step
    t += S
    script.append(C.PlaceOrder(t, MAKER, SYMBOL, Side.BUY, 200, mid - 3))  # the closing command moves it
    t += S
    script.append(C.CancelAll(t, MAKER, SYMBOL))
    script.append(C.PlaceOrder(t, MAKER, SYMBOL, Side.BUY, 100, mid - 20))
    script.append(C.PlaceOrder(t, MAKER, SYMBOL, Side.SELL, 100, mid + 20))
    script.append(C.SetIndexPrice(t + S, SYMBOL, mid))  # a quiet close after the cancels
    closes, distinct = 0, set()
    for cmd in script:
        closing = cmd.ts >= sig.next_step
        sig.handoff(cmd, ex.apply(cmd))
        if closing and sig.steps_closed:
            closes += 1
            assert _seen(sig) == _fresh(sig, ex)
            distinct.add(_seen(sig))
        sig.catch_up()
    assert closes >= 6
    assert len(distinct) >= 3  # the book did move between closes: the check can tell a stale read
