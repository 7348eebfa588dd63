"""OKX's forced full liquidation: the position is taken over at the bankruptcy price, no order to
the book (venue-mechanics §4.5; risk.okx_takeover), through Exchange.apply.

Sources: OKX help "V. Forced Partial or Full Liquidation",
https://supdljgzdhc.okx.com/hc/en-us/articles/360020411711-V-Forced-Partial-or-Full-Liquidation
[C-copy]: "2. Forced Full Liquidation / Fixed Margin Mode:When a user's maintenance margin ratio tier
is 2 or below and his maintenance margin rati[o ...]" (the stored copy ends there). OKX help "System
Liquidation Mechanism" (https://aws.okx.com/help/vi-system-liquidation-mechanism) [C-copy]:
"Bankruptcy Price: The price at which a user loses all margin"; "When a position is forced-liquidated
and taken over by the forced-liquidation engine, it will not be put into the market at the bankruptcy
price directly. Instead, the entrusted price will be calculated based on current market depth, basis,
and mark price"; the losses against the bankruptcy price "will be compensated by the insurance fund".
OKX help on early liquidation and ADL (ouchyi.rocks/es-la/help/what-is-the-mechanism-for-the-strong-
level-in-advance-what-is-the-use, an OKX help host) [C-copy]: "Once ADL is triggered, OKX will no
longer place liquidation orders on the market".

The world: the okx profile on BTCUSDT with the partial-step example's tiers
(tests/fidelity/test_okx_partial_steps.py): tier 2 up to 240,000 USDT at 1.05 % (MMR 1 % + the 0.05 %
taker fee), maintenance amount 240. TRADER holds an isolated 3 BTC long from 21,000 at 21x on 3,100
of isolated margin. At the mark 20,000 its equity 3,100 − 3,000 = 100 ≤ MM 630 − 240 = 390: a full
liquidation (tier 2). Its bankruptcy price 21,000 − 3,100 / 3 = 19,966.66…, rounded up against a
long: 19,966.7. The maker bids 3 BTC at 19,990, above it.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from decimal import Decimal as D

from perpsim.clients.client import Client
from perpsim.engine import commands as C
from perpsim.engine.events import AutoDeleveraged, BalanceChanged, Liquidation
from perpsim.engine.exchange import Exchange
from perpsim.engine.market import BOTH, IF_ACCOUNT, position_key
from perpsim.engine.twin import pure_exchange
from perpsim.model.enums import Side
from perpsim.model.market_files import default_markets
from perpsim.risk.brackets import market_brackets
from perpsim.risk.profiles import BINANCE, OKX, market_under
from tests.integration.conftest import own_venue

U = 10**8
SYMBOL = "BTCUSDT"
TRADER, MAKER = 1, 3
TIERS = ((D(40_000), 100, D("0.0045")), (D(240_000), 50, D("0.0105")), (D(10_000_000), 20, D("0.0205")))


def world(fund: int = 1_000, profile=OKX, engine: type = Exchange, bid: tuple[str, str] = ("3", "19990")) -> Exchange:
    """The trader's isolated 3 BTC long as above; the maker bids `bid` (BTC, price)."""
    spec = replace(market_under(profile, default_markets()[SYMBOL]), brackets=TIERS)
    px, lots = spec.price_to_ticks, spec.qty_to_lots
    ex = engine({SYMBOL: spec}, {SYMBOL: market_brackets(spec)}, profile=profile, start_ts=1)
    if fund:
        ex.apply(C.FundInsurance(1, "USDT", fund * U))
    ex.apply(C.SetIndexPrice(1, SYMBOL, px("21000")))
    ex.apply(C.Deposit(1, MAKER, "USDT", 100_000_000 * U))
    ex.apply(C.Deposit(1, TRADER, "USDT", int((3_100 + 3 * 21_000 * spec.taker_fee) * U)))  # + opening fee
    ex.apply(C.SetMarginMode(1, TRADER, SYMBOL, True))
    ex.apply(C.SetLeverage(1, TRADER, SYMBOL, 21))
    ex.apply(C.PlaceOrder(1, MAKER, SYMBOL, Side.SELL, lots("3"), px("21000")))
    ex.apply(C.PlaceOrder(1, TRADER, SYMBOL, Side.BUY, lots("3"), px("21000")))
    # 3,000 of isolated margin (IM 63,000 / 21) and 100 added: 3,100
    ex.apply(C.AdjustIsolatedMargin(1, TRADER, SYMBOL, 100 * U))
    assert ex.state._iso_margin(ex.markets[SYMBOL], TRADER, BOTH) == 3_100 * U
    ex.apply(C.PlaceOrder(1, MAKER, SYMBOL, Side.BUY, lots(bid[0]), px(bid[1])))
    return ex


def mark_at(ex: Exchange, ts: int, index: str) -> list:
    events = ex.apply(C.SetIndexPrice(ts, SYMBOL, ex.markets[SYMBOL].spec.price_to_ticks(index)))
    ex.check_integrity()
    return events


def held(ex: Exchange, account: int = TRADER) -> int:
    p = ex.markets[SYMBOL].positions.get(position_key(account, BOTH))
    return 0 if p is None else p.lots


def test_a_tier_2_position_is_taken_over_at_its_bankruptcy_price() -> None:
    """No order: the fund takes the 3 BTC at 19,966.7; the margin left is 3,100 − 3 × 1,033.3 = 0.1
    (the tick's rounding), which the 0.05 % fee on 3 × 19,966.7 (29.95005) takes, capped at what is
    left: the trader keeps 0 (the order at the bid would have left it 3,100 − 3,030 − 29.95005 =
    40.04995). The fund then sells the 3 BTC into the bid at 19,990: 3 × 23.3 = 69.9, with the 0.1:
    1,070."""
    ex = world()
    events = mark_at(ex, 2, "20000")
    [liq] = [e for e in events if isinstance(e, Liquidation)]
    assert (liq.side, liq.qty, liq.bankruptcy_price, liq.filled, liq.taken_by_insurance, liq.deleveraged) == \
        (Side.SELL, 3_000, 199_667, 0, 3_000, 0)
    [fee] = [e for e in events if isinstance(e, BalanceChanged) and e.cause == "liquidation_fee"]
    assert (fee.delta, fee.balance) == (-10**7, 0)  # 0.1 USDT
    assert held(ex) == 0 and ex.state.wallet(TRADER, "USDT") == 0
    assert held(ex, IF_ACCOUNT) == 0 and ex.state.ledger.insurance("USDT") == 1_070 * U


def test_an_empty_fund_deleverages_without_an_order() -> None:
    """With no fund the takeover falls to ADL at the bankruptcy price ("OKX will no longer place
    liquidation orders on the market"): the maker, the only opposite position, gives up 3 BTC of
    its short at 19,966.7 and its bid is canceled, not filled."""
    ex = world(fund=0)
    events = mark_at(ex, 2, "20000")
    [adl] = [e for e in events if isinstance(e, AutoDeleveraged)]
    assert (adl.account, adl.counterparty, adl.qty, adl.price) == (TRADER, MAKER, 3_000, 199_667)
    [liq] = [e for e in events if isinstance(e, Liquidation)]
    assert (liq.filled, liq.taken_by_insurance, liq.deleveraged) == (0, 0, 3_000)
    assert held(ex) == 0 and held(ex, MAKER) == 0 and not ex.markets[SYMBOL].book.open_orders(MAKER)


def test_binance_sends_the_order_to_the_book() -> None:
    """Other profiles are unchanged: under binance the same position's forced orders fill the bid,
    nothing taken over (the down-a-tier IOC of 1 BTC, then the rest's order, the one notice)."""
    ex = world(profile=BINANCE)
    liqs = [e for e in mark_at(ex, 2, "20000") if isinstance(e, Liquidation)]
    assert [(e.qty, e.filled, e.taken_by_insurance) for e in liqs] == [(2_000, 2_000, 0)] and held(ex) == 0


def test_the_plain_twin_takes_over_alike() -> None:
    """The compiled engine and its plain-Python twin (engine/twin.py): the same events and hash."""
    runs = []
    for engine in (Exchange, pure_exchange().Exchange):
        ex = world(engine=engine)
        runs.append(([list(e) for e in mark_at(ex, 2, "20000")], ex.state_hash()))
    assert runs[0] == runs[1] and any(e[0] == SYMBOL and len(e) == 8 and e[6] == 3_000 for e in runs[0][0])


def test_the_takeover_through_the_real_server(tmp_path) -> None:
    """`perpsim serve --profile okx` (its own BTC tiers: tier 1 at 0.4 % + the 0.05 % fee). An
    isolated 1 BTC long from 65,000 at 20x on 3,250 (bankruptcy price 61,750). A −4.6 % shock puts the
    mark at 62,010: equity 260 ≤ MM 279.045, tier 1: the fund takes the long at 61,750, no order (the
    maker's bid at 61,900 would have filled it), and the trader's margin is gone. The fund then sells
    into that bid: 10,000 + 150."""
    with own_venue(tmp_path, profile="okx") as (running, _cfg, trader), \
            Client(running.address, admin_key=(tmp_path / "admin.key").read_text().strip()) as admin:
        admin.set_index_price(SYMBOL, "65000")
        admin.fund_insurance("USDT", "10000")
        maker = admin.with_key(admin.create_account().api_key)
        maker.deposit("USDT", "1000000")
        trader.deposit("USDT", "2282.5")  # with the fixture's 1,000: 3,250 + the 32.5 opening fee
        trader.set_margin_mode(SYMBOL, "isolated")
        assert trader.set_leverage(SYMBOL, 20) == 20
        maker.place_order(SYMBOL, "sell", "1", "65000")
        trader.place_order(SYMBOL, "buy", "1", "65000")
        maker.place_order(SYMBOL, "buy", "1", "61900")

        result = admin.shock_price(SYMBOL, "-4.6")
        assert result.index_price == Decimal("62010") and result.liquidations == 1
        (forced,) = result.forced_orders
        assert (forced.quantity, forced.filled_quantity, forced.taken_by_insurance, forced.bankruptcy_price) == \
            (Decimal("1"), 0, Decimal("1"), Decimal("61750"))
        assert forced.fill_price is None
        assert trader.positions(SYMBOL) == [] and trader.account().balance("USDT").wallet == 0
        assert admin.insurance_fund("USDT")["USDT"] == Decimal("10150")
        assert sum(p.quantity for p in maker.positions(SYMBOL)) == 0  # its bid bought the fund's long
