"""dYdX v4's per-block liquidation limits (venue-mechanics §4.6), through Exchange.apply.

Source: dydxprotocol/v4-chain @ 84d4664bae71e3a077adaac67fb77ad19cd28d30,
protocol/x/clob/keeper/liquidations.go: `GetMaxAndMinPositionNotionalLiquidatable` ("The maximum
amount of quantums is calculated using max_position_portion_liquidated_ppm of the liquidation
config, overridden by the minimum notional liquidatable"), `GetSubaccountMaxNotionalLiquidatable`
("the maximum notional that the subaccount can liquidate without exceeding the subaccount block
limits"; "Subaccount %v and perpetual %v have already been liquidated within the last block"),
`GetLiquidatablePositionSizeDelta` (the smaller of the two; the whole position when within it,
else rounded down to the step size); protocol/testing/mainnet/genesis.json liquidations_config:
max_position_portion_liquidated_ppm 100000 (10 %), min_position_notional_liquidated 1000000000
(1,000 USDC), max_notional_liquidated 100000000000 (100,000 USDC per block),
max_quantums_insurance_lost 1000000000000 (1,000,000 USDC per block). A block is 1 s of venue
time ("Validators on dYdX Chain take turns proposing blocks of trades every ~1 second",
docs.dydx.exchange getting_started/onboarding_faqs); blocks are counted from venue time 0.

The world: the dydx profile on BTCUSDT (IMF 5 %, MMF 3 %, the oracle is the mark), a long of
`btc` from 20,000 at 20x on btc × 1,000 USDC (its bankruptcy price 19,000), bids at 19,400.
"""

from __future__ import annotations

import pickle
from decimal import Decimal as D

from perpsim.engine import commands as C
from perpsim.engine.events import Liquidation
from perpsim.engine.exchange import Exchange
from perpsim.engine.twin import pure_exchange
from perpsim.model.enums import Side
from perpsim.model.market_files import default_markets
from perpsim.risk.brackets import market_brackets
from perpsim.risk.profiles import DYDX, market_under

U = 10**8
SEC = 10**9
SYMBOL = "BTCUSDT"
LONG, MAKER = 1, 3
T0 = 5 * SEC  # block 5


def world(btc: str, engine: type = Exchange) -> Exchange:
    spec = market_under(DYDX, default_markets()[SYMBOL])
    px, lots = spec.price_to_ticks, spec.qty_to_lots
    ex = engine({SYMBOL: spec}, {SYMBOL: market_brackets(spec)}, profile=DYDX, start_ts=1)
    size = D(btc)
    ex.apply(C.SetIndexPrice(1, SYMBOL, px("20000")))
    ex.apply(C.Deposit(1, MAKER, "USDT", 100_000_000 * U))
    ex.apply(C.Deposit(1, LONG, "USDT", int(size * (1_000 + 20_000 * spec.taker_fee) * U)))  # + opening fee
    ex.apply(C.SetLeverage(1, LONG, SYMBOL, 20))
    ex.apply(C.PlaceOrder(1, MAKER, SYMBOL, Side.SELL, lots(btc), px("20000")))
    ex.apply(C.PlaceOrder(1, LONG, SYMBOL, Side.BUY, lots(btc), px("20000")))
    ex.apply(C.PlaceOrder(1, MAKER, SYMBOL, Side.BUY, lots("1000"), px("19400")))
    return ex


def oracle_at(ex: Exchange, ts: int, index: str) -> list[tuple[int, int]]:
    """(qty, filled) of the liquidation orders the oracle moving to `index` at `ts` sets off."""
    spec = ex.markets[SYMBOL].spec
    events = ex.apply(C.SetIndexPrice(ts, SYMBOL, spec.price_to_ticks(index)))
    ex.check_integrity()
    return [(e.qty, e.filled) for e in events if isinstance(e, Liquidation)]


def held(ex: Exchange) -> int:
    p = ex.markets[SYMBOL].positions.get(LONG * 4)
    return 0 if p is None else p.lots


def test_a_tenth_per_block_and_nothing_more_in_the_same_block():
    """10 BTC at 19,500: equity 5,000 ≤ MM 5,850. Block 5: 10 % of 195,000 = 19,500, 1 BTC. After
    it (−600 at 19,400, the 1.5 % fee on its 19,400 quote, 291) the 9 left are still under water
    (4,609 ≤ 5,265; at 19,490 4,519 ≤ 5,262.3), but the position was liquidated in this block:
    nothing more until block 6, which takes 10 % of 9 × 19,490 = 17,541, 0.9 BTC."""
    ex = world("10")
    assert oracle_at(ex, T0, "19500") == [(1_000, 1_000)]
    assert oracle_at(ex, T0 + SEC // 2, "19490") == [] and held(ex) == 9_000
    assert oracle_at(ex, T0 + SEC - 1, "19490") == []
    assert oracle_at(ex, T0 + SEC, "19490") == [(900, 900)] and held(ex) == 8_100


def test_at_least_1000_usdc_and_the_rest_whole_once_within_it():
    """0.08 BTC at 19,500 (1,560 USDC; equity 40 ≤ MM 46.8): 10 % is 156, under the 1,000 USDC
    floor, so 1,000 USDC's worth, 51.28 lots rounded down to 51. In the next block at 19,300
    the 29 lots left (559.7 USDC, equity 14.565 ≤ MM 16.791) are within 1,000: all of them."""
    ex = world("0.08")
    assert oracle_at(ex, T0, "19500") == [(51, 51)] and held(ex) == 29
    assert oracle_at(ex, T0 + SEC, "19300") == [(29, 29)] and held(ex) == 0


def test_an_account_loses_at_most_100000_usdc_a_block():
    """100 BTC at 19,500 (1.95 M; equity 50,000 ≤ MM 58,500): 10 % would be 195,000, the account
    may lose 100,000 a block: 5,128.2 lots, 5,128 (99,996 USDC). Block 6 at 19,490 (equity
    47,077 ≤ MM 55,471.7): 100,000 / 19.49 = 5,130.8 lots, 5,130."""
    ex = world("100")
    assert oracle_at(ex, T0, "19500") == [(5_128, 5_128)]
    assert ex.liquidation._blocks == {LONG: (5, 5_128 * 195_000 * 10**4, (SYMBOL,), 0)}  # 99,996 USDC; the fund paid 0
    assert oracle_at(ex, T0 + 900_000_000, "19490") == []
    assert oracle_at(ex, T0 + SEC, "19490") == [(5_130, 5_130)]
    assert held(ex) == 100_000 - 5_128 - 5_130


def test_the_next_block_comes_with_venue_time_alone():
    ex = world("10")
    oracle_at(ex, T0, "19500")
    events = ex.apply(C.AdvanceClock(T0 + SEC))
    ex.check_integrity()
    assert [(e.qty, e.filled) for e in events if isinstance(e, Liquidation)] == [(900, 900)]


def test_the_state_hash_covers_the_block_record():
    ex, other = world("10"), world("10")
    oracle_at(ex, T0, "19500")
    oracle_at(other, T0, "19500")
    assert ex.state_hash() == other.state_hash()
    other.liquidation._blocks.clear()
    assert ex.state_hash() != other.state_hash()


def test_the_plain_twin_limits_alike():
    """The compiled engine and its plain-Python twin (engine/twin.py): the same events and hash."""
    runs = []
    for engine in (Exchange, pure_exchange().Exchange):
        ex = world("100", engine=engine)
        steps = [ex.apply(C.SetIndexPrice(ts, SYMBOL, 194_900)) for ts in (T0, T0 + SEC // 2, T0 + SEC, T0 + 2 * SEC)]
        runs.append(([list(e) for e in steps], ex.state_hash(), held(ex)))
    assert runs[0] == runs[1] and runs[0][2] < 100_000 - 2 * 5_130


def test_a_snapshot_keeps_the_block_record():
    """Snapshots pickle the exchange: a restored venue is in the same block and waits alike."""
    ex = world("10")
    oracle_at(ex, T0, "19500")
    restored = pickle.loads(pickle.dumps(ex))
    assert restored.liquidation._blocks == ex.liquidation._blocks and restored.state_hash() == ex.state_hash()
    assert oracle_at(restored, T0 + SEC // 2, "19490") == [] and restored.liquidation._due == T0 + SEC
    assert oracle_at(restored, T0 + SEC, "19490") == oracle_at(ex, T0 + SEC, "19490") == [(900, 900)]


def test_the_accounts_100000_usdc_spans_its_markets():
    """One cross account long 100 BTC from 20,000 and 1,000 ETH from 2,000 at 20x on 200,000 USDC.
    BTC at 19,000: equity 100,000 ≤ MM 3 % × 3.9 M = 117,000. The BTC order takes 100,000 / 19 =
    5,263.2 lots, 5,263 (99,997 USDC); the account still under water, ETH gets what is left of
    the block's 100,000: 3 USDC, one lot of 0.001 ETH (2 USDC). Block 6 (BTC at 18,990) ranks both
    orders together (SortLiquidationOrders sorts every market's): TNC 97,034.22965 over TMMR
    113,971.6089 puts both limits 1.5 × 3 % × ABR = 0.66875 % from their oracles before the tick;
    floored to it, BTC's 126.9 of 18,990 is 0.66825 %, ETH's 13.37 of 2,000 is 0.6685 %: ETH's first,
    50 ETH (100,000 USDC), which spends the block's 100,000: BTC waits for block 7."""
    markets = default_markets()
    specs = {s: market_under(DYDX, markets[s]) for s in (SYMBOL, "ETHUSDT")}
    ex = Exchange(specs, {s: market_brackets(sp) for s, sp in specs.items()}, profile=DYDX, start_ts=1)
    btc, eth = specs[SYMBOL], specs["ETHUSDT"]
    ex.apply(C.Deposit(1, MAKER, "USDT", 100_000_000 * U))
    ex.apply(C.Deposit(1, LONG, "USDT", (200_000 + 2_000) * U))  # + the 0.05 % opening fees
    for spec, price, qty, bid in ((btc, "20000", "100", "18900"), (eth, "2000", "1000", "1990")):
        px, lots = spec.price_to_ticks, spec.qty_to_lots
        ex.apply(C.SetIndexPrice(1, spec.symbol, px(price)))
        ex.apply(C.SetLeverage(1, LONG, spec.symbol, 20))
        ex.apply(C.PlaceOrder(1, MAKER, spec.symbol, Side.SELL, lots(qty), px(price)))
        ex.apply(C.PlaceOrder(1, LONG, spec.symbol, Side.BUY, lots(qty), px(price)))
        ex.apply(C.PlaceOrder(1, MAKER, spec.symbol, Side.BUY, lots(qty), px(bid)))
    events = ex.apply(C.SetIndexPrice(T0, SYMBOL, btc.price_to_ticks("19000")))
    ex.check_integrity()
    assert [(e.symbol, e.qty, e.filled) for e in events if isinstance(e, Liquidation)] == [
        (SYMBOL, 5_263, 5_263), ("ETHUSDT", 1, 1)]
    assert ex.liquidation._blocks == {LONG: (5, 99_999 * U, (SYMBOL, "ETHUSDT"), 0)}
    later = ex.apply(C.SetIndexPrice(T0 + SEC // 2, SYMBOL, btc.price_to_ticks("18990")))
    assert not [e for e in later if isinstance(e, Liquidation)]  # the block's limit is spent
    events = ex.apply(C.AdvanceClock(T0 + SEC))
    assert [(e.symbol, e.qty, e.filled) for e in events if isinstance(e, Liquidation)] == [
        ("ETHUSDT", 50_000, 50_000)]
