"""Hyperliquid's mark price through the engine, against figures worked by hand from the published rule.

Source: https://hyperliquid.gitbook.io/hyperliquid-docs/trading/robust-price-indices
  "Mark price is the median of the following prices:
   1. Oracle price plus a 150 second exponential moving average (EMA) of the difference between
      Hyperliquid's mid price and the oracle price
   2. The median of best bid, best ask, last trade on Hyperliquid
   3. Median of Binance, OKX, and Bybit perp mid prices
   If exactly two out of the three inputs above exist, the 30 second EMA of the median of best bid,
   best ask, and last trade on Hyperliquid is also added to the median inputs. [...] Mark price is
   updated whenever validators publish new oracle prices. [...] The EMA update formula is defined as
   follows for an update value of sample at duration t since the last update
     ema = numerator / denominator
     numerator -> numerator * exp(-t / 2.5 minutes) + sample * t
     denominator -> denominator * exp(-t / 2.5 minutes) + t"

The venue has no CEX perp mids, so (3) is absent and the fallback applies: median((1), (2), (4)), (4) the
30-s EMA of (2). The oracle is the index; samples on the 3-s grid hold the inputs in force since the
previous command. The expected marks below are computed here with Decimal (exp to 50 digits) from the
formula, sample by sample, not by the code under test.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal, localcontext

from perpsim.engine import commands as C
from perpsim.engine.exchange import Exchange
from perpsim.model.enums import Side
from perpsim.model.market_files import default_markets
from perpsim.risk.brackets import btcusdt_brackets
from perpsim.risk.hyperliquid_mark import HyperliquidMark
from perpsim.risk.profiles import BINANCE, HYPERLIQUID

S = 10**9  # ns
U = 10**8  # money units per USDT
SYMBOL = "BTCUSDT"
SPEC = default_markets()[SYMBOL]
TICK = Decimal(SPEC.tick_size)
LONG, SHORT, MAKER = 1, 2, 3


def px(price: int | str) -> int:
    return SPEC.price_to_ticks(str(price))


def ema(samples: list[tuple[int, int]], tau_s: int) -> Decimal | None:
    """The published EMA over (t seconds since the previous update, sample) pairs, in order."""
    if not samples:
        return None
    num = den = Decimal(0)
    with localcontext() as ctx:
        ctx.prec = 50
        for t, sample in samples:
            decay = (Decimal(-t) / tau_s).exp()
            num = num * decay + sample * t
            den = den * decay + t
        return num / den


def expected_mark(index: int, bid: int | None, ask: int | None, last: int | None,
                  mid_minus_oracle: list[tuple[int, int]], book_medians: list[tuple[int, int]]) -> int:
    """The mark in ticks: median of (1) index + 150-s EMA (0 before a sample), (2) median(bid, ask,
    last) if all exist, and, with (1) and (2) (two of three: no CEX mids), (4) the 30-s EMA of (2)."""
    with localcontext() as ctx:
        ctx.prec = 50
        inputs = [index + (ema(mid_minus_oracle, 150) or 0)]
        if None not in (bid, ask, last):
            inputs.append(Decimal(sorted((bid, ask, last))[1]))
            if (p4 := ema(book_medians, 30)) is not None:
                inputs.append(p4)
        inputs.sort()
        n = len(inputs)
        median = inputs[n // 2] if n % 2 else (inputs[n // 2 - 1] + inputs[n // 2]) / 2
        return int((median / TICK).quantize(Decimal(1), rounding=ROUND_HALF_EVEN))


def exchange(profile=HYPERLIQUID) -> Exchange:
    ex = Exchange({SYMBOL: SPEC}, {SYMBOL: btcusdt_brackets(U)}, profile=profile, start_ts=1)
    for a in (LONG, SHORT, MAKER):
        ex.apply(C.Deposit(1, a, "USDT", 1_000_000 * U))
    return ex


def order(ex: Exchange, ts: int, account: int, side: Side, qty: str, price: int) -> int:
    oid = ex.state.next_order_id
    ex.apply(C.PlaceOrder(ts, account, SYMBOL, side, SPEC.qty_to_lots(qty), px(price)))
    return oid


def mark(ex: Exchange) -> int:
    return ex.markets[SYMBOL].mark


def test_the_profile_builds_the_hyperliquid_mark() -> None:
    assert all(isinstance(m.mark_state, HyperliquidMark) for m in exchange().markets.values())
    assert not any(isinstance(m.mark_state, HyperliquidMark) for m in exchange(BINANCE).markets.values())


def test_a_hand_worked_sequence_of_3s_updates() -> None:
    """Index 20,000; book 20,100 / 20,700 with a trade at 20,200; the bid moves to 20,500 at 4 s; the
    index drops to 19,800 at 13 s; the ask is pulled at 16 s (a one-sided book) and a new one placed at
    20,600 at 22 s. Samples at 3, 6, 9, … s; (mid − oracle, median(bid, ask, last)) at each. The mark is
    published at each grid point from the inputs standing there and held until the next one ("Mark price
    is updated whenever validators publish new oracle prices"): a command's own change waits for it."""
    ex = exchange()
    ex.apply(C.SetIndexPrice(1, SYMBOL, px(20000)))
    order(ex, 1, MAKER, Side.BUY, "20", 20100)
    ask = order(ex, 1, MAKER, Side.SELL, "20", 20700)
    order(ex, 1, SHORT, Side.SELL, "1", 20200)
    order(ex, 1, LONG, Side.BUY, "1", 20200)
    assert ex.markets[SYMBOL].last == px(20200)
    # the first mark, at the first index, is the oracle; the book and the trade after it wait for 3 s
    assert mark(ex) == px(20000)

    # grid 3 s: mid 20,400 − 20,000 = 400; (2) = 20,200: median(20,400, 20,200, (4) 20,200) = 20,200.
    # The bid moves to 20,500 at 4 s, after the publication: the mark holds.
    diffs, meds = [(3, 400)], [(3, 20200)]
    order(ex, 4 * S, MAKER, Side.BUY, "20", 20500)
    assert mark(ex) == expected_mark(20000, 20100, 20700, 20200, diffs, meds) == px(20200)

    for ts in (7, 10):  # grid 6, 9 s: mid 20,600 − 20,000 = 600; (2) = 20,500
        diffs.append((3, 600))
        meds.append((3, 20500))
        ex.apply(C.SetIndexPrice(ts * S, SYMBOL, px(20000)))
        assert mark(ex) == expected_mark(20000, 20500, 20700, 20200, diffs, meds)

    diffs.append((3, 600))  # grid 12 s, before the index falls at 13 s
    meds.append((3, 20500))
    ex.apply(C.SetIndexPrice(13 * S, SYMBOL, px(19800)))
    held = expected_mark(20000, 20500, 20700, 20200, diffs, meds)
    assert mark(ex) == held  # the oracle's fall waits for the next publication
    ex.apply(C.AdvanceClock(14 * S))
    assert mark(ex) == held

    diffs.append((3, 20600 - 19800))  # grid 15 s: index 19,800, book 20,500 / 20,700
    meds.append((3, 20500))
    ex.apply(C.CancelOrder(16 * S, MAKER, SYMBOL, ask))  # a one-sided book from here
    assert ex.markets[SYMBOL].book.best_ask() is None
    published = expected_mark(19800, 20500, 20700, 20200, diffs, meds)
    p4 = ema(meds, 30)
    assert 19800 + ema(diffs, 150) < p4 < 20500  # the 30-s EMA of (2) is the median
    assert mark(ex) == published == int((p4 / TICK).quantize(Decimal(1), rounding=ROUND_HALF_EVEN))
    # grid 18 s: no ask, no sample for either EMA; (2) is absent, so (1) alone is the mark
    ex.apply(C.SetIndexPrice(19 * S, SYMBOL, px(19800)))
    assert mark(ex) == expected_mark(19800, 20500, None, 20200, diffs, meds)

    # grid 21 s: still one-sided. An ask at 20,600 at 22 s: the mark holds (1) until 24 s
    order(ex, 22 * S, MAKER, Side.SELL, "20", 20600)
    assert mark(ex) == expected_mark(19800, 20500, None, 20200, diffs, meds)
    # grid 24 s: the next samples come 9 s after the last update (15 s): t = 9 s in the formula
    diffs.append((9, (20500 + 20600) // 2 - 19800))
    meds.append((9, 20500))
    ex.apply(C.SetIndexPrice(25 * S, SYMBOL, px(19800)))
    assert mark(ex) == expected_mark(19800, 20500, 20600, 20200, diffs, meds)
    ex.check_integrity()


def test_the_same_commands_under_binance_mark_elsewhere() -> None:
    """Binance's median(index-based price1, index + MA basis, last) follows the last trade 20,200
    where Hyperliquid's follows the book: the two forms differ on the same commands."""
    marks = {}
    for profile in (HYPERLIQUID, BINANCE):
        ex = exchange(profile)
        ex.apply(C.SetIndexPrice(1, SYMBOL, px(20000)))
        order(ex, 1, MAKER, Side.BUY, "20", 20500)
        order(ex, 1, MAKER, Side.SELL, "20", 20700)
        order(ex, 1, SHORT, Side.BUY, "1", 20200)  # below the bid: rests
        order(ex, 2 * S, LONG, Side.SELL, "1", 20500)  # sells into the bid: last 20,500
        order(ex, 2 * S, SHORT, Side.BUY, "0.5", 20700)  # lifts the ask: last 20,700
        for ts in range(10, 310, 10):
            ex.apply(C.SetIndexPrice(ts * S, SYMBOL, px(20000)))
        marks[profile.name] = mark(ex)
    # Hyperliquid: (1) = 20,000 + 600, (2) = median(20,500, 20,700, 20,700) = 20,700, (4) ≈ 20,700
    assert marks["hyperliquid"] == expected_mark(20000, 20500, 20700, 20700, [(3, 600)] * 100,
                                                 [(3, 20700)] * 100) == px(20700)
    # Binance: price1 = 20,000 (rate 0), price2 = 20,600, last 20,700: the median is price2
    assert marks["binance"] == px(20600)


def test_a_thin_book_cannot_move_the_mark() -> None:
    """A bid alone (no ask), then a trade far above: (2) needs bid, ask and last, so the mark stays
    (1), the oracle plus the EMA of a difference that never had a sample: the oracle itself."""
    ex = exchange()
    ex.apply(C.SetIndexPrice(1, SYMBOL, px(20000)))
    order(ex, 1, MAKER, Side.BUY, "1", 19000)
    for ts in range(4, 40, 3):
        ex.apply(C.SetIndexPrice(ts * S, SYMBOL, px(20000)))
        assert mark(ex) == px(20000)
    order(ex, 40 * S, SHORT, Side.SELL, "0.5", 19000)  # a trade at 19,000, still no ask
    assert ex.markets[SYMBOL].last == px(19000) and ex.markets[SYMBOL].book.best_ask() is None
    ex.apply(C.SetIndexPrice(43 * S, SYMBOL, px(20000)))
    assert mark(ex) == px(20000) == expected_mark(20000, 19000, None, 19000, [], [])
    assert ex.markets[SYMBOL].mark_state.state()[2:8] == (0, 0, 14, 0, 0, 14)  # 14 grid points, no sample
