"""dYdX v4's fillable price: the limit of a liquidation order (risk.dydx_fillable, venue-mechanics §4.6).

Sources:
- dydxprotocol/v4-chain @ 84d4664bae71e3a077adaac67fb77ad19cd28d30,
  protocol/x/clob/keeper/liquidations.go `GetFillablePrice`: "(PNNV - ABR * SMMR * PMMR) / PS,
  where ABR = BA * (1 - (TNC / TMMR))", ABR clamped to [0, 1]; `ConvertFillablePriceToSubticks`:
  "round up for sells that close longs, and round down for buys that close shorts";
  `LiquidateSubaccountsAgainstOrderbook`: the orders that fill nothing go to deleveraging, which
  (deleveraging.go `CanDeleverageSubaccount`) needs a negative TNC;
- protocol/testing/mainnet/genesis.json fillable_price_config: bankruptcy_adjustment_ppm
  1,000,000, spread_to_maintenance_margin_ratio_ppm 1,500,000;
- dydxprotocol/v4-documentation @ 3e475b73231a5de7e5a8a55c54047d94578060e5,
  docs/pages/concepts/trading/liquidations.mdx: "Fillable Price (Short or Long) = P x (1 - ((SMMR
  x MMF) x (BA x (1 - Q)))", Q = V / TMMR.

The expected prices are the documented formula evaluated in Decimal, then put on the 0.1 tick the
way dYdX rounds (up for a sell, down for a buy).
"""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR
from decimal import Decimal as D
from fractions import Fraction

import pytest

from perpsim.engine import commands as C
from perpsim.engine.events import Liquidation
from perpsim.engine.exchange import Exchange
from perpsim.model.enums import Side
from perpsim.model.market_files import default_markets
from perpsim.risk.brackets import market_brackets
from perpsim.risk.dydx_fillable import FillablePriceConfig, adjusted_bankruptcy_rating, fillable_tick
from perpsim.risk.profiles import DYDX, market_under
from perpsim.risk.units import RATE_SCALE

U = 10**8
SEC = 10**9
SYMBOL = "BTCUSDT"
LONG, MAKER = 1, 3
MAINNET = DYDX.liquidation.fillable
SPEC = market_under(DYDX, default_markets()[SYMBOL])
TICK = D("0.1")
# money units per lot·tick: 0.001 BTC × 0.1 USDT = 0.0001 USDT = 10**4 units of 1e-8
K = 10**4


def documented(p: str, mmf: str, tnc: str, tmmr: str, *, short: bool = False, ba: str = "1",
               smmr: str = "1.5") -> D:
    """P × (1 ∓ SMMR × MMF × clamp(BA × (1 − TNC / TMMR), 0, 1)), on the tick as dYdX rounds."""
    abr = min(D(1), max(D(0), D(ba) * (1 - D(tnc) / D(tmmr))))
    spread = D(smmr) * D(mmf) * abr
    exact = D(p) * (1 + spread if short else 1 - spread)
    return exact.quantize(TICK, rounding=ROUND_FLOOR if short else ROUND_CEILING)


def tick(price: str) -> int:
    return SPEC.price_to_ticks(price)


def fp(lots: int, oracle: str, pmm: str, tnc: str, tmmr: str, cfg: FillablePriceConfig = MAINNET) -> D:
    """fillable_tick with money given in USDT, the answer back in USDT."""
    t = fillable_tick(cfg, oracle=tick(oracle), lots=lots, position_mm=int(D(pmm) * U * RATE_SCALE),
                      tnc=int(D(tnc) * U), tmmr=int(D(tmmr) * U * RATE_SCALE), K=K)
    return D(t) * TICK


def test_mainnet_config_is_the_genesis_one() -> None:
    assert (MAINNET.bankruptcy_adjustment_ppm, MAINNET.spread_to_mm_ratio_ppm) == (1_000_000, 1_500_000)
    assert DYDX.liquidation.fills == "IOC at the fillable price against the book"


def test_a_long_at_the_oracle_less_the_spread() -> None:
    """10 BTC at the oracle 19,500, MMF 3 %: PMMR = TMMR = 5,850, TNC 5,000. ABR = 850 / 5,850;
    19,500 × (1 − 1.5 × 0.03 × 850/5,850) = 19,500 − 1.5 × 85 = 19,372.5 (on the tick already)."""
    assert documented("19500", "0.03", "5000", "5850") == D("19372.5")
    assert fp(10_000, "19500", "5850", "5000", "5850") == D("19372.5")


def test_a_long_rounds_up_and_a_short_down() -> None:
    """TNC 5,001: 19,500 − 1.5 × 849 / 10 = 19,372.65 → a sell's limit rounds up to 19,372.7.
    A short of 2 BTC at 21,000 (PMMR 1,260), TNC 1,001: 21,000 + 1.5 × 259 / 2 = 21,194.25 →
    a buy's limit rounds down to 21,194.2."""
    assert fp(10_000, "19500", "5850", "5001", "5850") == documented("19500", "0.03", "5001", "5850") == D("19372.7")
    assert fp(-2_000, "21000", "1260", "1001", "1260") == D("21194.2")
    assert documented("21000", "0.03", "1001", "1260", short=True) == D("21194.2")


def test_the_account_totals_and_the_positions_own_margin() -> None:
    """Cross: BTC 1 at 20,000 (PMMR 600) beside ETH worth 20,000 (MM 600): TMMR 1,200, TNC 900,
    ABR = 0.25; the BTC order's price moves by 0.25 × 1.5 × 600 = 225: 19,775, which is
    20,000 × (1 − 1.5 × 0.03 × 0.25)."""
    assert fp(1_000, "20000", "600", "900", "1200") == documented("20000", "0.03", "900", "1200") == D("19775.0")


def test_abr_is_bounded_to_0_and_1() -> None:
    """At or above the maintenance margin (TNC ≥ TMMR) the oracle itself; at TNC ≤ 0 the full
    spread, SMMR × MMF = 4.5 %: 20,000 → 19,100; BA 2 doubles the rating until it reaches 1."""
    assert fp(1_000, "20000", "600", "600", "600") == fp(1_000, "20000", "600", "700", "600") == D("20000.0")
    assert fp(1_000, "20000", "600", "0", "600") == fp(1_000, "20000", "600", "-50", "600") == D("19100.0")
    assert fp(-1_000, "20000", "600", "-50", "600") == D("20900.0")
    double = FillablePriceConfig(2_000_000, 1_500_000)
    num, den = adjusted_bankruptcy_rating(double, 450 * U, 600 * U * RATE_SCALE)
    assert Fraction(num, den) == Fraction(1, 2)  # 2 × 0.25
    assert fp(1_000, "20000", "600", "450", "600", double) == documented("20000", "0.03", "450", "600", ba="2")
    assert fp(1_000, "20000", "600", "200", "600", double) == D("19100.0")  # 2 × 2/3, bounded to 1


def test_a_config_dydx_refuses_is_refused() -> None:
    """liquidations_config.go Validate: BankruptcyAdjustmentPpm < 1,000,000 and a zero
    SpreadToMaintenanceMarginRatioPpm are invalid."""
    with pytest.raises(ValueError, match="bankruptcy_adjustment_ppm"):
        FillablePriceConfig(999_999, 1_500_000)
    with pytest.raises(ValueError, match="spread_to_mm_ratio_ppm"):
        FillablePriceConfig(1_000_000, 0)
    with pytest.raises(ValueError, match="maintenance margin"):
        fillable_tick(MAINNET, oracle=1, lots=1, position_mm=0, tnc=0, tmmr=0, K=1)


def world(bids: tuple[tuple[str, str], ...]) -> Exchange:
    """The dydx profile on BTCUSDT (IMF 5 %, MMF 3 %): a long of 10 BTC from 20,000 at 20x on
    10,000 USDC (bankruptcy price 19,000), and the maker's `bids` (qty, price)."""
    ex = Exchange({SYMBOL: SPEC}, {SYMBOL: market_brackets(SPEC)}, profile=DYDX, start_ts=1)
    ex.apply(C.SetIndexPrice(1, SYMBOL, tick("20000")))
    ex.apply(C.Deposit(1, MAKER, "USDT", 100_000_000 * U))
    ex.apply(C.Deposit(1, LONG, "USDT", int(10 * (1_000 + 20_000 * SPEC.taker_fee) * U)))
    ex.apply(C.SetLeverage(1, LONG, SYMBOL, 20))
    ex.apply(C.PlaceOrder(1, MAKER, SYMBOL, Side.SELL, SPEC.qty_to_lots("10"), tick("20000")))
    ex.apply(C.PlaceOrder(1, LONG, SYMBOL, Side.BUY, SPEC.qty_to_lots("10"), tick("20000")))
    for qty, price in bids:
        ex.apply(C.PlaceOrder(1, MAKER, SYMBOL, Side.BUY, SPEC.qty_to_lots(qty), tick(price)))
    return ex


def held(ex: Exchange) -> int:
    p = ex.markets[SYMBOL].positions.get(LONG * 4)
    return 0 if p is None else p.lots


def test_the_forced_sell_stops_at_the_fillable_price_and_the_rest_waits() -> None:
    """The oracle at 19,500 (TNC 5,000 ≤ TMMR 5,850): the block's order sells 1 BTC at 19,372.5.
    It takes the 0.4 bid there and not the 5 at 19,372.4 one tick below (at the bankruptcy
    price, 19,000, it would have taken both); TNC stays positive, so the 0.6 left is neither
    taken over nor deleveraged: the account keeps it for the next block. The fee (risk.dydx_fee)
    is on the fill: 1.5 % of its 7,749 quote, 116.235, within what it left above its bankruptcy
    quote (5,000 × 234 / 5,850 − 0.4 × 127.5 = 149). Block 6: TNC 5,000 − 51 − 116.235 =
    4,832.765, TMMR 0.03 × 9.6 × 19,500 = 5,616, so 19,500 − 1.5 × 783.235 / 9.6 = 19,377.62 →
    19,377.7: nothing bids there, so nothing fills and the position waits again."""
    ex = world((("0.4", "19372.5"), ("5", "19372.4")))
    fund = ex.state.ledger.insurance("USDT")
    events = ex.apply(C.SetIndexPrice(5 * SEC, SYMBOL, tick("19500")))
    ex.check_integrity()
    [notice] = [e for e in events if isinstance(e, Liquidation)]
    assert (notice.qty, notice.filled, notice.taken_by_insurance, notice.deleveraged) == (1_000, 400, 0, 0)
    assert notice.bankruptcy_price == tick("19000")
    forced = [e.event for e in events if getattr(e, "liquidation", False)]
    placed, fills = forced[0], [f for f in forced if f.counter_account == MAKER]
    assert (placed.qty, placed.price) == (1_000, tick("19372.5"))  # the IOC's limit
    assert [(f.qty, f.price) for f in fills] == [(400, tick("19372.5"))]
    assert held(ex) == 9_600
    assert ex.state.ledger.insurance("USDT") - fund == 116_235 * U // 1_000
    assert ex.markets[SYMBOL].book.depth(Side.BUY, 5)[0][:2] == (tick("19372.4"), 5_000)  # untouched
    assert documented("19500", "0.03", "4832.765", "5616") == D("19377.7")
    later = ex.apply(C.AdvanceClock(6 * SEC))
    [again] = [e for e in later if isinstance(e, Liquidation)]
    assert (again.qty, again.filled) == (960, 0) and held(ex) == 9_600


def test_a_bankrupt_account_whose_order_fills_nothing_is_deleveraged() -> None:
    """The oracle gaps to 18,500: TNC = 10,000 − 15,000 < 0, the fillable price the full 4.5 %
    below, 17,667.5; the only bid, at 17,000, is beyond it. dYdX sends an account whose order
    filled nothing and whose TNC is negative to deleveraging at the bankruptcy price, the whole
    position ("Note that the full position size will get deleveraged", MaybeDeleverageSubaccount):
    all 10 BTC go at 19,000 to the maker's short, none to the fund (risk.dydx_deleveraging)."""
    assert documented("18500", "0.03", "-5000", "5550") == D("17667.5")
    ex = world((("5", "17000"),))
    events = ex.apply(C.SetIndexPrice(5 * SEC, SYMBOL, tick("18500")))
    ex.check_integrity()
    [notice] = [e for e in events if isinstance(e, Liquidation)]
    assert (notice.qty, notice.filled, notice.taken_by_insurance, notice.deleveraged) == (10_000, 0, 0, 10_000)
    assert held(ex) == 0 and 0 not in {k // 4 for k in ex.markets[SYMBOL].positions}


def test_an_isolated_short_buys_at_most_the_fillable_price_rounded_down() -> None:
    """An isolated short of 10 BTC from 20,000 at 20x (its margin 10,000; bankruptcy price
    21,000). The oracle at 20,510: TNC 10,000 − 5,100 = 4,900 ≤ TMMR 6,153, so 20,510 + 1.5 ×
    1,253 / 10 = 20,697.95, a buy's limit rounded down: 20,697.9. The block's 1 BTC (10 % of
    205,100) takes the 0.5 offered there, not the 5 one tick above; the rest waits."""
    short = 2
    assert documented("20510", "0.03", "4900", "6153", short=True) == D("20697.9")
    ex = Exchange({SYMBOL: SPEC}, {SYMBOL: market_brackets(SPEC)}, profile=DYDX, start_ts=1)
    ex.apply(C.SetIndexPrice(1, SYMBOL, tick("20000")))
    ex.apply(C.Deposit(1, MAKER, "USDT", 100_000_000 * U))
    ex.apply(C.Deposit(1, short, "USDT", int(10 * (1_000 + 20_000 * SPEC.taker_fee) * U)))
    ex.apply(C.SetMarginMode(1, short, SYMBOL, True))
    ex.apply(C.SetLeverage(1, short, SYMBOL, 20))
    ex.apply(C.PlaceOrder(1, MAKER, SYMBOL, Side.BUY, SPEC.qty_to_lots("10"), tick("20000")))
    ex.apply(C.PlaceOrder(1, short, SYMBOL, Side.SELL, SPEC.qty_to_lots("10"), tick("20000")))
    ex.apply(C.PlaceOrder(1, MAKER, SYMBOL, Side.SELL, SPEC.qty_to_lots("0.5"), tick("20697.9")))
    ex.apply(C.PlaceOrder(1, MAKER, SYMBOL, Side.SELL, SPEC.qty_to_lots("5"), tick("20698.0")))
    events = ex.apply(C.SetIndexPrice(5 * SEC, SYMBOL, tick("20510")))
    ex.check_integrity()
    [notice] = [e for e in events if isinstance(e, Liquidation)]
    assert (notice.account, notice.side, notice.qty, notice.filled) == (short, Side.BUY, 1_000, 500)
    assert notice.bankruptcy_price == tick("21000")
    forced = [e.event for e in events if getattr(e, "liquidation", False)]
    assert (forced[0].qty, forced[0].price) == (1_000, tick("20697.9"))
    assert [(f.qty, f.price) for f in forced if f.counter_account == MAKER] == [(500, tick("20697.9"))]
    assert [p.lots for k, p in ex.markets[SYMBOL].positions.items() if k // 4 == short] == [-9_500]
