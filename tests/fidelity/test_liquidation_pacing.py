"""Hyperliquid paces its partial liquidations (venue-mechanics §4.7), through Exchange.apply.

Source: Hyperliquid's docs, trading/liquidations, "Partial liquidations" — "For liquidatable
positions larger than 100k USDC ..., only 20% of the position will be sent as a market
liquidation order to the book. After a block where any position of a user is partially
liquidated, there is a cooldown period of 30 seconds. During this cooldown period, all market
liquidation orders for that user will be for the entire position."
https://hyperliquid.gitbook.io/hyperliquid-docs/trading/liquidations (the same text in
Hyperliquid's testnet announcement and the HIP-3 deployers' copies, e.g.
https://docs.tings.xyz/core-mechanics/liquidations).

The world: LONG holds 10 BTC from 20,000 (200k of notional) at 40x on 5,000 USDC, bids for 50
BTC at 19,735. The index falls to 19,740: LONG's margin balance 2,400 is under its MM (1.25 %:
2,467.5), 2 BTC go at 19,735 (realizing −530: wallet 4,470) and the 8 left are compliant
(2,390 > 1,974). Then the index falls to 19,680: 4,470 − 8 × 320 = 1,910 ≤ 1,968, LONG is
liquidatable again. A fifth of 8 BTC (1.6) at 19,735 would leave 4,046 − 6.4 × 320 = 1,998 >
1,574.4: compliant. So 31 s after the partial step 1.6 BTC go and 6.4 stay; 10 s after it, inside
the cooldown, all 8 go.

Hyperliquid's mark is published on the 3-s grid (risk.hyperliquid_mark): each index change here is
followed by the clock reaching the next grid point, where the mark moves and the liquidation runs
(the first step at 3 s; "31 s" is then the publication at 33 s, 30 s after it).
"""

from __future__ import annotations

from perpsim.engine import commands as C
from perpsim.engine.events import Liquidation
from perpsim.engine.exchange import Exchange
from perpsim.model.enums import Side
from perpsim.model.market_files import default_markets
from perpsim.risk.brackets import market_brackets
from perpsim.risk.profiles import DYDX, HYPERLIQUID, VenueProfile, market_under

U = 10**8
SEC = 10**9
GRID = 3 * SEC
SYMBOL = "BTCUSDT"
LONG, MAKER = 1, 3


def world(profile: VenueProfile, leverage: int = 40, wallet: int = 5_000, bid: str = "19735",
          index: str = "19740") -> tuple[Exchange, list[Liquidation]]:
    spec = market_under(profile, default_markets()[SYMBOL])
    px, lots = spec.price_to_ticks, spec.qty_to_lots
    ex = Exchange({SYMBOL: spec}, {SYMBOL: market_brackets(spec)}, profile=profile, start_ts=1)
    ex.apply(C.SetIndexPrice(1, SYMBOL, px("20000")))
    ex.apply(C.Deposit(1, MAKER, "USDT", 10_000_000 * U))
    ex.apply(C.Deposit(1, LONG, "USDT", int((wallet + 10 * 20_000 * spec.taker_fee) * U)))  # + the opening fee
    ex.apply(C.SetLeverage(1, LONG, SYMBOL, leverage))
    ex.apply(C.PlaceOrder(1, MAKER, SYMBOL, Side.SELL, lots("10"), px("20000")))
    ex.apply(C.PlaceOrder(1, LONG, SYMBOL, Side.BUY, lots("10"), px("20000")))
    ex.apply(C.PlaceOrder(1, MAKER, SYMBOL, Side.BUY, lots("50"), px(bid)))
    return ex, liquidations(ex, 1, index)


def liquidations(ex: Exchange, ts: int, index: str) -> list[Liquidation]:
    spec = ex.markets[SYMBOL].spec
    events = ex.apply(C.SetIndexPrice(ts, SYMBOL, spec.price_to_ticks(index)))
    if ex.profile is HYPERLIQUID:  # published at the next 3-s grid point
        events += ex.apply(C.AdvanceClock(ts - ts % GRID + GRID))
    ex.check_integrity()
    assert ex.markets[SYMBOL].mark == spec.price_to_ticks(index)  # the mark follows the index here
    return [e for e in events if isinstance(e, Liquidation)]


def held(ex: Exchange) -> int:
    p = ex.markets[SYMBOL].positions.get(LONG * 4)
    return 0 if p is None else p.lots


def test_the_first_step_takes_a_fifth_and_stops_once_compliant():
    ex, first = world(HYPERLIQUID)
    assert [(e.qty, e.filled) for e in first] == [(2_000, 2_000)]
    assert held(ex) == 8_000


def test_inside_the_30_s_cooldown_the_whole_position_goes():
    ex, _ = world(HYPERLIQUID)
    second = liquidations(ex, 1 + 10 * SEC, "19680")
    assert [(e.qty, e.filled) for e in second] == [(8_000, 8_000)]
    assert held(ex) == 0


def test_after_the_cooldown_a_fifth_again():
    ex, _ = world(HYPERLIQUID)
    second = liquidations(ex, 1 + 31 * SEC, "19680")
    assert [(e.qty, e.filled) for e in second] == [(1_600, 1_600)]
    assert held(ex) == 6_400


def test_the_cooldown_ends_at_30_s_exactly():
    ex, _ = world(HYPERLIQUID)
    assert [e.qty for e in liquidations(ex, 1 + 30 * SEC, "19680")] == [1_600]


def test_dydx_steps_again_at_once():
    """dYdX liquidates 10 % per block (tests/fidelity/test_dydx_block_limits.py), and opens no
    window. 20x on 10,000 USDC, bids at 19,575: at 19,580 one BTC goes (its 1.5 %
    fee included the wallet is 9,281.4); at 19,540, 10 s later, 9,281.4 − 9 × 460 = 5,141.4 ≤
    5,275.8 (MM 3 %), and 0.9 BTC more leave the rest compliant (4,908.6 > 4,748.2)."""
    ex, first = world(DYDX, leverage=20, wallet=10_000, bid="19575", index="19580")
    assert [e.qty for e in first] == [1_000] and ex.liquidation._paced == {}
    assert [(e.qty, e.filled) for e in liquidations(ex, 1 + 10 * SEC, "19540")] == [(900, 900)]
    assert held(ex) == 8_100


def test_the_state_hash_covers_an_open_window():
    """A replay must land in the same window: two venues alike but for the window hash apart."""
    ex, _ = world(HYPERLIQUID)
    other, _ = world(HYPERLIQUID)
    assert ex.state_hash() == other.state_hash()
    other.liquidation._paced.clear()
    assert ex.state_hash() != other.state_hash()
