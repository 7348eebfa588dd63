"""OKX freezes the position a partial step cut, not the account (venue-mechanics §4.5), through
Exchange.apply.

Source: OKX help, "V. Forced Partial or Full Liquidation",
https://supdljgzdhc.okx.com/hc/en-us/articles/360020411711-V-Forced-Partial-or-Full-Liquidation
[C-copy]: "For Fixed Margin Mode, liquidation orders will be sent in a price slightly better than
market price, force-closing the required Number of Swaps. During the time, the position will be
frozen and not be controlled by the user. About a minute later, if the orders are filled and the
Margin Ratio of the remaining position reach the Maintenance Margin Ratio+ Forced-Liquidation Fee
Rate required by the relevant tier, then the remaining liquidation orders will be canceled, and the
user's control over the position is restored." and "In Cross Margin Mode, if there is only long
position or short position, the Forced Partial Liquidation process will be the same as above."

The world: the okx profile; BTCUSDT with the example's tiers (tests/fidelity/test_okx_partial_steps.py:
tier 3 at 2.05 %, maintenance amount 2,640; tier 1 up to 40,000 USDT), ETHUSDT with the profile's own
(tier 1 at 0.4 % + the 0.05 % taker fee). TRADER holds two isolated (fixed margin) longs at 20x:
15 BTC from 21,000 on 15,750 of margin, and 10 ETH from 2,000 on 1,000.
- BTC at 20,000: equity 15,750 − 15,000 = 750 ≤ MM 300,000 × 2.05 % − 2,640 = 3,510, tier 3: the step
  cuts it to tier 1's 2,000 swaps; its bankruptcy price is 21,000 − 15,750 / 15 = 19,950; its order
  rests at 20,000 × 0.999 = 19,980 (risk.okx_orders), over the bid at 19,700: nothing fills, and the
  BTC position waits for its re-check a minute later.
- ETH: liquidation price 2,000 − 1,000 / 10 = 1,900 bankrupt; 1,000 + 10 (P − 2,000) = 10 P × 0.45 %
  at P = 19,000 / 9.955 = 1,908.588… At 1,906 it is under water, 10 s into BTC's minute: it is
  liquidated at once (the freeze is BTC's position's): taken over by the fund at its bankruptcy price
  1,900 (a full liquidation, risk.okx_takeover), which the fund then sells into the bid at 1,905.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal as D

from perpsim.engine import commands as C
from perpsim.engine.events import Liquidation
from perpsim.engine.exchange import Exchange
from perpsim.model.enums import Side
from perpsim.model.market_files import default_markets
from perpsim.risk.brackets import market_brackets
from perpsim.risk.profiles import OKX, market_under

U = 10**8
SEC = 10**9
BTC, ETH = "BTCUSDT", "ETHUSDT"
TRADER, MAKER = 1, 3
TIERS = ((D(40_000), 100, D("0.0045")), (D(240_000), 50, D("0.0105")), (D(10_000_000), 20, D("0.0205")))


def world() -> Exchange:
    markets = default_markets()
    specs = {BTC: replace(market_under(OKX, markets[BTC]), brackets=TIERS), ETH: market_under(OKX, markets[ETH])}
    ex = Exchange(specs, {s: market_brackets(m) for s, m in specs.items()}, profile=OKX, start_ts=1)
    ex.apply(C.Deposit(1, MAKER, "USDT", 100_000_000 * U))
    fees = (15 * 21_000 + 10 * 2_000) * specs[BTC].taker_fee
    ex.apply(C.Deposit(1, TRADER, "USDT", int((15_750 + 1_000 + fees) * U)))
    for symbol, price, qty, bid in ((BTC, "21000", "15", ("13", "19700")), (ETH, "2000", "10", ("10", "1905"))):
        px, lots = specs[symbol].price_to_ticks, specs[symbol].qty_to_lots
        ex.apply(C.SetIndexPrice(1, symbol, px(price)))
        ex.apply(C.SetMarginMode(1, TRADER, symbol, True))
        ex.apply(C.SetLeverage(1, TRADER, symbol, 20))
        ex.apply(C.PlaceOrder(1, MAKER, symbol, Side.SELL, lots(qty), px(price)))
        ex.apply(C.PlaceOrder(1, TRADER, symbol, Side.BUY, lots(qty), px(price)))
        assert held(ex, symbol) == lots(qty)
        ex.apply(C.PlaceOrder(1, MAKER, symbol, Side.BUY, lots(bid[0]), px(bid[1])))
    assert ex.state.wallet(TRADER, "USDT") == 0  # all of it is in the two isolated margins
    return ex


def held(ex: Exchange, symbol: str) -> int:
    p = ex.markets[symbol].positions.get(TRADER * 4)
    return 0 if p is None else p.lots


def mark_at(ex: Exchange, ts: int, symbol: str, index: str) -> list[Liquidation]:
    spec = ex.markets[symbol].spec
    events = ex.apply(C.SetIndexPrice(ts, symbol, spec.price_to_ticks(index)))
    ex.check_integrity()
    assert ex.markets[symbol].mark == spec.price_to_ticks(index)
    return [e for e in events if isinstance(e, Liquidation)]


def test_another_position_of_the_account_goes_inside_the_minute():
    ex = world()
    lp = ex.liquidation_price(TRADER, ETH)
    assert int(lp.price * 100) == 190_858  # 19,000 / 9.955 = 1,908.588…
    [step] = mark_at(ex, 2, BTC, "20000")
    assert (step.symbol, step.qty, step.filled, step.bankruptcy_price) == (BTC, 13_000, 0, 199_500)
    ex.apply(C.FundInsurance(2, "USDT", 1_000 * U))
    [eth] = mark_at(ex, 2 + 10 * SEC, ETH, "1906")  # 10 s into BTC's minute
    assert (eth.symbol, eth.qty, eth.filled, eth.taken_by_insurance) == (ETH, 10_000, 0, 10_000)
    assert eth.bankruptcy_price == ex.markets[ETH].spec.price_to_ticks("1900") and held(ex, ETH) == 0
    assert ex.state.ledger.insurance("USDT") == 1_050 * U  # 10 × (1,905 − 1,900) from the fund's sale
    assert mark_at(ex, 2 + 20 * SEC, BTC, "19900") == [] and held(ex, BTC) == 15_000  # BTC still waits
    key = (TRADER, BTC, 0)  # (account, market, position side): the position's wait
    assert ex.liquidation._paced == {key: 2 + 60 * SEC}


def test_the_frozen_position_is_re_checked_after_its_minute():
    """The re-check comes for BTC at 60 s as before: the first step's order (resting at 19,980, over
    the bid at 19,960 placed at 59 s) is canceled, and at 19,980 tier 1's 40,000 hold 2,002 swaps
    (2,002.002, rounded down): 12,998 go, the new order at 19,980 × 0.999 = 19,960.02, rounded down
    to 19,960, meets that bid."""
    ex = world()
    mark_at(ex, 2, BTC, "20000")
    ex.apply(C.PlaceOrder(2 + 59 * SEC, MAKER, BTC, Side.BUY, 13_000, 199_600))
    assert mark_at(ex, 2 + 60 * SEC - 1, BTC, "19980") == []
    [again] = mark_at(ex, 2 + 60 * SEC, BTC, "19980")
    assert (again.qty, again.filled) == (12_998, 12_998) and held(ex, BTC) == 2_002
