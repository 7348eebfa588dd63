"""dYdX v4's deleveraging price in a multi-market account, and the offsetting account's orders
(risk.dydx_deleveraging.bankruptcy_quote, engine.dydx_blocks.deleverage).

Source: dydxprotocol/v4-chain @ 84d4664bae71e3a077adaac67fb77ad19cd28d30,
protocol/x/clob/keeper/deleveraging.go `OffsetSubaccountPerpetualPosition` (per offsetting
subaccount `getDeleveragingQuoteQuantumsDelta`: "For standard deleveraging, use the bankruptcy
price."), `ProcessDeleveraging` (the liquidated account's quote delta, the offsetting one's its
negation; the update is the two subaccounts' quote balances and positions, nothing about their
orders); liquidations.go `GetBankruptcyPriceInQuoteQuantums`: "-DNNV - (TNC * (abs(DMMR) / TMMR))",
the division "rounded down to negative infinity".

The world: the dydx profile (BTCUSDT and ETHUSDT, MMF 3 %). LONG holds 10 BTC from 20,000 (sold by
account 3, which also sold 2 BTC to account 5: it is 12 BTC short) and 100 ETH from 1,000 (sold by
account 4), both at 20x, on one cross wallet of 15,000 USDC. Account 3 rests an ask of 0.5 BTC at
25,000. Nothing bids. The BTC oracle gaps to 18,000 at 5 s: TNC = 15,000 − 20,000 = −5,000, TMMR
= 5,400 + 3,000 = 8,400; the block's BTC order (at 17,190) fills nothing with TNC < 0, so the 10
BTC are deleveraged against account 3.

- BTC, one offset of 10: DMMR 5,400, the share of TNC −5,000 × 5,400 / 8,400 = −3,214.2857142857…
  → −3,214.28571429 (floored to the unit, 10⁻⁸); the quote 180,000 + 3,214.28571429 =
  183,214.28571429: a trade at 18,321.4 (the per-BTC 18,321.428571429 floored to the tick) and
  0.28571429 beside it. LONG's wallet: 15,000 − 16,786 + 0.28571429 = −1,785.71428571, TNC over
  TMMR 3,000 the same −5,000 / 8,400. (The whole deficit on BTC, the market legs' bankruptcy price
  of 18,500, would have left ETH a TNC of 0.)
- Still under water, ETH goes the same way in the same command: the share is all of TNC; the quote
  100,000 + 1,785.71428571 = 101,785.71428571: 1,017.85 and 0.71428571 beside it; LONG ends at 0.
"""

from __future__ import annotations

from decimal import Decimal as D

from perpsim.engine import commands as C
from perpsim.engine.events import AutoDeleveraged, InsuranceFundChanged
from perpsim.engine.exchange import Exchange
from perpsim.engine.twin import pure_exchange
from perpsim.model.enums import Side
from perpsim.model.market_files import default_markets
from perpsim.risk.brackets import market_brackets
from perpsim.risk.dydx_deleveraging import bankruptcy_quote, quote_tick
from perpsim.risk.profiles import DYDX, market_under

U = 10**8
SEC = 10**9
LONG, BTC_SHORT, ETH_SHORT, OTHER = 1, 3, 4, 5


def world(engine: type = Exchange) -> Exchange:
    specs = {s: market_under(DYDX, default_markets()[s]) for s in ("BTCUSDT", "ETHUSDT")}
    btc, eth = specs["BTCUSDT"], specs["ETHUSDT"]
    ex = engine(specs, {s: market_brackets(sp) for s, sp in specs.items()}, profile=DYDX, start_ts=1)
    ex.apply(C.SetIndexPrice(1, "BTCUSDT", btc.price_to_ticks("20000")))
    ex.apply(C.SetIndexPrice(1, "ETHUSDT", eth.price_to_ticks("1000")))
    for account in (BTC_SHORT, ETH_SHORT, OTHER):
        ex.apply(C.Deposit(1, account, "USDT", 1_000_000 * U))
    ex.apply(C.Deposit(1, LONG, "USDT", int((15_000 + 300_000 * btc.taker_fee) * U)))
    ex.apply(C.PlaceOrder(1, BTC_SHORT, "BTCUSDT", Side.SELL, btc.qty_to_lots("12"), btc.price_to_ticks("20000")))
    ex.apply(C.PlaceOrder(1, OTHER, "BTCUSDT", Side.BUY, btc.qty_to_lots("2"), btc.price_to_ticks("20000")))
    ex.apply(C.PlaceOrder(1, ETH_SHORT, "ETHUSDT", Side.SELL, eth.qty_to_lots("100"), eth.price_to_ticks("1000")))
    for s, sp, qty in (("BTCUSDT", btc, "10"), ("ETHUSDT", eth, "100")):
        ex.apply(C.SetLeverage(1, LONG, s, 20))
        ex.apply(C.PlaceOrder(1, LONG, s, Side.BUY, sp.qty_to_lots(qty), sp.price_to_ticks("20000" if s == "BTCUSDT"
                                                                                          else "1000")))
    ex.apply(C.PlaceOrder(1, BTC_SHORT, "BTCUSDT", Side.SELL, btc.qty_to_lots("0.5"), btc.price_to_ticks("25000")))
    return ex


def wallets(ex: Exchange) -> dict[int, int]:
    return {a: ex.state.wallet(a, "USDT") for a in (LONG, BTC_SHORT, ETH_SHORT)}


def test_each_market_is_deleveraged_at_its_share_of_the_accounts_deficit() -> None:
    ex = world()
    before = wallets(ex)
    events = ex.apply(C.SetIndexPrice(5 * SEC, "BTCUSDT", 180_000))
    ex.check_integrity()
    assert [(e.symbol, e.counterparty, e.qty, e.price) for e in events if isinstance(e, AutoDeleveraged)] == [
        ("BTCUSDT", BTC_SHORT, 10_000, 183_214), ("ETHUSDT", ETH_SHORT, 100_000, 101_785)]
    after = wallets(ex)
    assert after[LONG] == 0 and not ex.markets["BTCUSDT"].positions.get(LONG * 4)
    # the short realizes (20,000 − 18,321.4) × 10 less the 0.28571429 beside the trade
    assert D(after[BTC_SHORT] - before[BTC_SHORT]) / U == D("16786") - D("0.28571429")
    assert D(after[ETH_SHORT] - before[ETH_SHORT]) / U == D("-1785") - D("0.71428571")
    assert not [e for e in events if isinstance(e, InsuranceFundChanged)]  # the fund takes no part


def test_the_offsetting_accounts_orders_stay() -> None:
    """dYdX's ProcessDeleveraging updates the two subaccounts' balances and positions only: account
    3's ask at 25,000 still rests after it gave up 10 of its 12 BTC (the engine's ADL cancels
    them)."""
    ex = world()
    ask = ex.markets["BTCUSDT"].spec.price_to_ticks("25000")
    ex.apply(C.SetIndexPrice(5 * SEC, "BTCUSDT", 180_000))
    resting = [o for o in ex.markets["BTCUSDT"].book.orders() if o.account == BTC_SHORT]
    assert [(o.price, o.leaves) for o in resting] == [(ask, 500)]
    assert ex.markets["BTCUSDT"].positions[BTC_SHORT * 4].lots == -2_000


def test_the_quote_and_its_tick() -> None:
    """The figures above in money units (K 10⁴ a BTC lot·tick, 10³ an ETH one), and a short: 2
    lots at oracle 100 (K 1), TNC −9 over TMMR 4, DMMR 2: the share −9 × 2 / 4 = −4.5 → −5, the
    quote −200 + 5 = −195 (it pays 195, toward +∞), a trade at 97 and 1 beside it."""
    quote = bankruptcy_quote(lots=10_000, oracle=180_000, K=10**4, long=True, tnc=-5_000 * U, dmmr=5_400 * U,
                             tmmr=8_400 * U)
    assert quote == 18_321_428_571_429 and quote_tick(quote, 10_000, 10**4) == (183_214, 28_571_429)
    quote = bankruptcy_quote(lots=100_000, oracle=100_000, K=10**3, long=True, tnc=-178_571_428_571,
                             dmmr=3_000 * U, tmmr=3_000 * U)
    assert quote_tick(quote, 100_000, 10**3) == (101_785, 71_428_571)
    assert bankruptcy_quote(lots=2, oracle=100, K=1, long=False, tnc=-9, dmmr=2, tmmr=4) == -195
    assert quote_tick(-195, 2, 1) == (97, 1)


def test_the_plain_twin_deleverages_alike() -> None:
    runs = []
    for engine in (Exchange, pure_exchange().Exchange):
        ex = world(engine)
        events = ex.apply(C.SetIndexPrice(5 * SEC, "BTCUSDT", 180_000))
        assert any(isinstance(e, AutoDeleveraged) for e in events)
        runs.append(([list(e) for e in events], ex.state_hash()))
    assert runs[0] == runs[1]
