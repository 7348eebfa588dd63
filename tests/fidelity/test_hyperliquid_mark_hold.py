"""Hyperliquid's mark moves only when the oracle publishes, every 3 s: liquidations see the held mark.

Sources: "Mark price is updated whenever validators publish new oracle prices"
(https://hyperliquid.gitbook.io/hyperliquid-docs/trading/robust-price-indices); "The validators are
responsible for publishing spot oracle prices for each perp asset every 3 seconds. [...] They are also a
component in the mark price which is used for margining, liquidations, and triggering TP/SL orders"
(https://hyperliquid.gitbook.io/hyperliquid-docs/hypercore/oracle).

Here the publications sit on the 3-s grid of venue time (multiples of 3 s); the mark published at a grid
point is computed from the inputs standing there and holds until the next one.

The world: 1 BTC long from 20,000 at 20x on 1,100 USDT less the 0.045 % taker fee (9): wallet 1,091.
BTC's first tier is 40x, so MMR = 1/80 = 1.25 %. Liquidation price: 1,091 + (P − 20,000) = 0.0125 P,
P = 18,909 / 0.9875 = 19,148.35… The maker's bid at 18,000 is the only order left: a one-sided book, so
the mark is component (1), the oracle plus the EMA of a mid − oracle that never had a sample: the oracle.
"""

from __future__ import annotations

from perpsim.engine import commands as C
from perpsim.engine.events import Liquidation, MarkPriceChanged
from perpsim.engine.exchange import Exchange
from perpsim.engine.twin import pure_exchange
from perpsim.model.enums import Side
from perpsim.model.market_files import default_markets
from perpsim.risk.brackets import market_brackets
from perpsim.risk.profiles import BINANCE, HYPERLIQUID, market_under

S = 10**9
U = 10**8
SYMBOL = "BTCUSDT"
LONG, MAKER = 1, 3


def world(profile=HYPERLIQUID, engine: type = Exchange) -> Exchange:
    spec = market_under(profile, default_markets()[SYMBOL])
    px, lots = spec.price_to_ticks, spec.qty_to_lots
    ex = engine({SYMBOL: spec}, {SYMBOL: market_brackets(spec)}, profile=profile, start_ts=1)
    ex.apply(C.SetIndexPrice(1, SYMBOL, px("20000")))
    ex.apply(C.Deposit(1, MAKER, "USDT", 1_000_000 * U))
    ex.apply(C.Deposit(1, LONG, "USDT", 1_100 * U))
    ex.apply(C.SetLeverage(1, LONG, SYMBOL, 20))
    ex.apply(C.PlaceOrder(1, MAKER, SYMBOL, Side.SELL, lots("1"), px("20000")))
    ex.apply(C.PlaceOrder(1, LONG, SYMBOL, Side.BUY, lots("1"), px("20000")))
    ex.apply(C.PlaceOrder(1, MAKER, SYMBOL, Side.BUY, lots("5"), px("18000")))
    return ex


def held(ex: Exchange) -> int:
    p = ex.markets[SYMBOL].positions.get(LONG * 4)
    return 0 if p is None else p.lots


def test_the_liquidation_waits_for_the_next_publication() -> None:
    ex = world()
    spec = ex.markets[SYMBOL].spec
    px = spec.price_to_ticks
    assert HYPERLIQUID.fees.taker == 45_000  # the 0.045 % the wallet above is worked with
    assert ex.state.wallet(LONG, "USDT") == 1_091 * U
    lp = ex.liquidation_price(LONG, SYMBOL)
    assert int(lp.price * 100) == 1_914_835  # 19,148.35…
    assert ex.markets[SYMBOL].mark == px("20000")

    # just after the 3-s publication, the oracle falls to 19,000, under the liquidation price
    events = ex.apply(C.SetIndexPrice(3 * S + 1, SYMBOL, px("19000")))
    assert ex.markets[SYMBOL].mark == px("20000")  # published at 3 s from the 20,000 standing there
    assert not [e for e in events if isinstance(e, (Liquidation, MarkPriceChanged))]
    assert ex.apply(C.AdvanceClock(6 * S - 1)) == [] and held(ex) == spec.qty_to_lots("1")

    # the publication at 6 s: the mark is 19,000 and the long goes, before anything else of the command
    events = ex.apply(C.AdvanceClock(6 * S))
    assert [e.mark for e in events if isinstance(e, MarkPriceChanged)] == [px("19000")]
    [liq] = [e for e in events if isinstance(e, Liquidation)]
    assert liq.account == LONG and liq.qty == spec.qty_to_lots("1") and held(ex) == 0
    ex.check_integrity()


def test_a_command_crossing_the_grid_is_marked_at_the_publication_first() -> None:
    """The command that crosses a grid point sees the mark published there (from the inputs standing
    before it), then its own change waits: an index of 19,000 sent at 9 s exactly is published at 9 s
    only by the next command, since the 9-s publication comes before the command stamped 9 s."""
    ex = world()
    px = ex.markets[SYMBOL].spec.price_to_ticks
    ex.apply(C.SetIndexPrice(9 * S, SYMBOL, px("19000")))
    assert ex.markets[SYMBOL].mark == px("20000") and held(ex)
    events = ex.apply(C.AdvanceClock(12 * S))
    assert ex.markets[SYMBOL].mark == px("19000") and held(ex) == 0
    assert any(isinstance(e, Liquidation) for e in events)


def test_binance_marks_at_once() -> None:
    """Other profiles are unchanged: Binance's mark moves with the index in the same command
    (median(19,500 × (1 + rate 0), 19,500 + basis MA 0, last 20,000) = 19,500)."""
    ex = world(BINANCE)
    px = ex.markets[SYMBOL].spec.price_to_ticks
    ex.apply(C.SetIndexPrice(3 * S + 1, SYMBOL, px("19500")))
    assert ex.markets[SYMBOL].mark == px("19500")


def test_the_plain_twin_publishes_alike() -> None:
    """The compiled engine and its plain-Python twin (engine/twin.py): the same events and hash."""
    runs = []
    for engine in (Exchange, pure_exchange().Exchange):
        ex = world(engine=engine)
        px = ex.markets[SYMBOL].spec.price_to_ticks
        steps = [ex.apply(C.SetIndexPrice(3 * S + 1, SYMBOL, px("19000"))), ex.apply(C.AdvanceClock(6 * S))]
        runs.append(([list(e) for e in steps], ex.state_hash(), held(ex)))
    assert runs[0] == runs[1] and runs[0][2] == 0
