"""The liquidation map: kept up to date from the events, it equals a brute-force sum over the
positions of a real exchange (every position's liquidation price asked of the exchange)."""

from __future__ import annotations

import math
import random
from collections import defaultdict
from fractions import Fraction

import pytest

from perpsim.engine import commands as C
from perpsim.engine.exchange import Exchange
from perpsim.engine.views import ExchangeView
from perpsim.model.enums import OrderKind, Side, TimeInForce
from perpsim.model.market_files import default_markets
from perpsim.model.markets import MarketKind
from perpsim.risk.brackets import default_brackets
from perpsim.risk.liqprice import Trigger
from perpsim.venue.signals import Signals
from perpsim.venue.signals.liqmap import Entry, LiquidationMap

S = 10**9
U = 10**8


def _exchange() -> Exchange:
    ms = {s: m for s, m in default_markets().items() if s in ("BTCUSDT", "ETHUSDT")}
    br = {s: default_brackets(m.kind is MarketKind.INVERSE, 10**m.settle_decimals) for s, m in ms.items()}
    return Exchange(ms, br, book_impl="ref", start_ts=S)


def _session(seed: int):
    """Makers quoting both markets, traders (cross and isolated, some in both markets) opening,
    adding, closing and moving margin while both indexes move."""
    r = random.Random(seed)
    ms = default_markets()
    prices = {"BTCUSDT": 65_000, "ETHUSDT": 3_500}
    ts = S
    for s, p in prices.items():
        yield C.SetIndexPrice(ts, s, ms[s].price_to_ticks(str(p)))
    yield C.Deposit(ts, 1, "USDT", 10**9 * U)
    for a in range(10, 30):
        yield C.Deposit(ts, a, "USDT", r.choice([500, 1_000, 5_000]) * U)
        if a % 3 == 0:
            yield C.SetMarginMode(ts, a, "BTCUSDT", True)
        yield C.SetLeverage(ts, a, "BTCUSDT", r.choice([5, 10, 20, 50]))
        yield C.SetLeverage(ts, a, "ETHUSDT", r.choice([5, 10, 20]))
    for _ in range(400):
        ts += r.randint(0, 2 * S)
        u = r.random()
        if u < 0.15:
            s = r.choice(list(prices))
            prices[s] *= 1 + r.gauss(0, 0.004)
            yield C.SetIndexPrice(ts, s, ms[s].price_to_ticks(str(round(prices[s], 1 if s == "BTCUSDT" else 2))))
        elif u < 0.3:
            for s, p in prices.items():  # the maker requotes
                yield C.CancelAll(ts, 1, s)
                spec = ms[s]
                for lvl in range(1, 6):
                    for side, sign in ((Side.BUY, -1), (Side.SELL, 1)):
                        px = spec.price_to_ticks(str(round(p * (1 + sign * 0.0005 * lvl), 1 if s == "BTCUSDT" else 2)))
                        yield C.PlaceOrder(ts, 1, s, side, 400 if s == "BTCUSDT" else 4_000, px)
        elif u < 0.9:
            a = r.randint(10, 29)
            s = "BTCUSDT" if r.random() < 0.7 else "ETHUSDT"
            lots = r.randint(1, 60) * (1 if s == "BTCUSDT" else 10)
            yield C.PlaceOrder(ts, a, s, r.choice(list(Side)), lots, 0, OrderKind.MARKET, TimeInForce.IOC,
                               reduce_only=r.random() < 0.2)
        else:
            a = r.randint(10, 29)
            yield C.AdjustIsolatedMargin(ts, a, "BTCUSDT", r.choice([-50, 50]) * U)


def _brute_force(ex: Exchange, symbol: str) -> list[Entry]:
    """Every liquidatable unit of the market, asking the exchange for each position."""
    view = ExchangeView(ex)
    out = []
    seen = set()
    for h in view.all_positions(symbol):
        unit = (h.account, h.position_side if h.isolated else 0)
        if unit in seen or h.account == 0:
            continue
        seen.add(unit)
        lp = ex.liquidation_price(h.account, symbol, h.position_side)
        if lp is None:
            continue
        lots = sum(abs(p.lots) for p in view.positions(h.account, symbol)
                   if not h.isolated or p.position_side == h.position_side)
        out.append(Entry(lp.tick, 1 if lp.trigger is Trigger.AT_OR_BELOW else -1, lots))
    return out


def _bucketed(entries, mark: int, w_pct: float, r_pct: float, notional):
    w, k = Fraction(str(w_pct)) / 100, round(r_pct / w_pct)
    out = defaultdict(lambda: [0, 0, 0.0, 0.0])
    for e in entries:
        i = math.floor(Fraction(e.tick - mark) / (mark * w))
        if -k <= i < k:
            side = 0 if e.side > 0 else 1
            out[i][side] += e.lots
            out[i][2 + side] += notional(e.lots, e.tick)
    return dict(out)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_map_equals_brute_force_over_positions(seed: int) -> None:
    ex = _exchange()
    sig = Signals(lambda: ex)
    checked = 0
    for i, cmd in enumerate(_session(seed)):
        sig.observe(cmd, ex.apply(cmd))
        if i % 97 == 0 or i > 900:
            for symbol in ("BTCUSDT", "ETHUSDT"):
                risk = sig.market_risk(symbol)
                m = sig.markets[symbol]
                if risk.mark is None:
                    continue
                mark = risk.mark
                expected = _bucketed(_brute_force(ex, symbol), mark, 0.25, 20.0, m.notional)
                got = {round((b.low / mark - 1.0) / 0.0025): [b.long_lots, b.short_lots, b.long_notional,
                                                               b.short_notional] for b in risk.buckets}
                assert sorted(got) == sorted(expected)
                for k, v in expected.items():
                    assert got[k][:2] == v[:2]
                    assert got[k][2:] == pytest.approx(v[2:])
                checked += 1
    assert checked > 10


def test_map_structure_by_hand() -> None:
    """Mark 1,000 ticks, 1 % buckets, ±5 %: a long at 970 (bucket −3), a short at 1,020 and one
    at 1,049 (buckets 2 and 4), a long at 900 (outside); replace and remove entries."""
    lm = LiquidationMap()
    lm.set(1, Entry(970, 1, 3))
    lm.set(2, Entry(1_020, -1, 2))
    lm.set(3, Entry(1_049, -1, 5))
    lm.set(4, Entry(900, 1, 7))
    b = lm.buckets(1_000, 1.0, 5.0, lambda lots, tick: lots * tick)
    assert [(round(x.low), x.long_lots, x.short_lots, x.long_notional, x.short_notional) for x in b] == [
        (970, 3, 0, 2_910, 0), (1_020, 0, 2, 0, 2_040), (1_040, 0, 5, 0, 5_245)]
    assert lm.near(1_000, 3) == 3 + 2  # the long within 3 % below, the short within 3 % above
    lm.set(1, Entry(985, 1, 4))  # replaced
    lm.set(3, None)  # gone
    assert lm.lots == [4 + 7, 2]
    assert [(round(x.low), x.long_lots) for x in lm.buckets(1_000, 1.0, 5.0, lambda q, t: q * t)] == [
        (980, 4), (1_020, 0)]


def test_near_windows_slide_with_the_mark_and_follow_the_entries() -> None:
    """near() kept incrementally equals a direct sum, through random entries and marks."""
    r = random.Random(11)
    lm = LiquidationMap()

    def direct(mark: int, pct: float) -> int:
        p = pct / 100
        return sum(e.lots for e in lm.entries.values()
                   if (e.side > 0 and math.ceil(mark * (1 - p)) <= e.tick <= mark)
                   or (e.side < 0 and mark < e.tick <= math.floor(mark * (1 + p))))

    mark = 10_000
    for step in range(3_000):
        u = r.random()
        if u < 0.6:
            side = r.choice((1, -1))
            lm.set(r.randint(1, 300), Entry(mark + r.randint(-1_200, 1_200), side, r.randint(1, 50)))
        elif u < 0.75:
            lm.set(r.randint(1, 300), None)
        else:
            mark += r.choice((r.randint(-5, 5), r.randint(-900, 900)))
        if step % 7 == 0:
            for pct in (2, 5, 10):
                assert lm.near(mark, pct) == direct(mark, pct)
