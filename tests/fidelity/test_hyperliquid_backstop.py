"""Hyperliquid's backstop liquidation (venue-mechanics §4.7), through Exchange.apply.

Source: hyperliquid-docs, "Liquidations" (https://hyperliquid.gitbook.io/hyperliquid-docs/trading/liquidations):
"If the account equity drops below 2/3 of the maintenance margin without successful liquidation
through the book, a backstop liquidation happens through the liquidator vault." "When a cross
position is backstop liquidated, the trader's cross positions and cross margin are all transferred to
the liquidator. In particular, if the trader has no isolated positions, the trader ends up with zero
account equity." "When an isolated position is backstop liquidated, that isolated position and
isolated margin are transferred to the liquidator. The user's cross margin and positions are
untouched." "During backstop liquidation, the maintenance margin is not returned to the user."

The vault is the insurance fund's account (risk.hyperliquid_backstop): it takes each position at the
mark and the margin behind it, then unwinds the position into the book as the fund does.

The world: 1 BTC long from 20,000 at 40x on 960 USDT (after the 0.045 % opening fee, 9). BTC's first
tier is 40x, so MMR = 1/80 = 1.25 % (half the initial margin at the maximum leverage). At a mark P:
equity 960 + (P − 20,000), MM P / 80; equity = 2/3 MM where 960 + P − 20,000 = P / 120, so
P = 19,040 × 120 / 119 = 19,200 exactly (equity 160, MM 240). Its bankruptcy price is
20,000 − 960 = 19,040. The maker bids 1 BTC at 19,100 (above it) and nothing else: a one-sided
book, so the mark is the oracle (tests/fidelity/test_hyperliquid_mark_hold.py), published on the
3-s grid.
"""

from __future__ import annotations

from decimal import Decimal

from perpsim.clients.client import Client
from perpsim.engine import commands as C
from perpsim.engine.events import BalanceChanged, Liquidation
from perpsim.engine.exchange import Exchange
from perpsim.engine.market import BOTH, IF_ACCOUNT, position_key
from perpsim.engine.twin import pure_exchange
from perpsim.model.enums import Side
from perpsim.model.market_files import default_markets
from perpsim.risk.brackets import market_brackets
from perpsim.risk.hyperliquid_backstop import backstopped
from perpsim.risk.profiles import BINANCE, HYPERLIQUID, market_under
from perpsim.risk.units import RATE_SCALE
from tests.integration.conftest import own_venue
from tests.integration.test_hyperliquid_mark_server import GRID_NS, just_past_a_publication, long_at_40x

S = 10**9
U = 10**8
BTC, ETH = "BTCUSDT", "ETHUSDT"
TRADER, MAKER = 1, 3
FUND = 1_000  # the vault's balance before (USDT)


def world(profile=HYPERLIQUID, engine: type = Exchange, eth: bool = False, isolated: bool = False,
          size: int = 1, bid: tuple[str, str] = ("19100", "1")) -> Exchange:
    """TRADER's 1 BTC long as above (isolated: on its initial margin, 500, as isolated margin);
    with `eth`, also a cross 10 ETH long from 2,000 at 25x on 1,000 more (a bid at 1,500 only).
    `size` BTC on `size` times the money; the maker's BTC bid (price, qty) is `bid`."""
    markets = default_markets()
    specs = {s: market_under(profile, markets[s]) for s in ((BTC, ETH) if eth else (BTC,))}
    ex = engine(specs, {s: market_brackets(m) for s, m in specs.items()}, profile=profile, start_ts=1)
    ex.apply(C.FundInsurance(1, "USDT", FUND * U))
    ex.apply(C.Deposit(1, MAKER, "USDT", 1_000_000 * U))
    for symbol, price, qty, (bid_px, bid_qty), lev in ((BTC, "20000", str(size), bid, 40),
                                                       (ETH, "2000", "10", ("1500", "10"), 25))[:len(specs)]:
        px, lots = specs[symbol].price_to_ticks, specs[symbol].qty_to_lots
        # the 9 opening fee on top; an isolated position's 500 of initial margin moves to it
        ex.apply(C.Deposit(1, TRADER, "USDT", ((509 if isolated else 969) * size if symbol == BTC else 1_009) * U))
        if isolated and symbol == BTC:
            ex.apply(C.SetMarginMode(1, TRADER, symbol, True))
        ex.apply(C.SetIndexPrice(1, symbol, px(price)))
        ex.apply(C.SetLeverage(1, TRADER, symbol, lev))
        ex.apply(C.PlaceOrder(1, MAKER, symbol, Side.SELL, lots(qty), px(price)))
        ex.apply(C.PlaceOrder(1, TRADER, symbol, Side.BUY, lots(qty), px(price)))
        ex.apply(C.PlaceOrder(1, MAKER, symbol, Side.BUY, lots(bid_qty), px(bid_px)))
    return ex


def held(ex: Exchange, symbol: str = BTC, account: int = TRADER) -> int:
    p = ex.markets[symbol].positions.get(position_key(account, BOTH))
    return 0 if p is None else p.lots


def published(ex: Exchange, index: str) -> list:
    """The oracle moves to `index` just after the 3-s publication; the 6-s one publishes it."""
    px = ex.markets[BTC].spec.price_to_ticks
    events = ex.apply(C.SetIndexPrice(3 * S + 1, BTC, px(index)))
    events += ex.apply(C.AdvanceClock(6 * S))
    ex.check_integrity()
    assert ex.markets[BTC].mark == px(index)
    return events


def of(events: list, kind: type) -> list:
    return [e for e in events if isinstance(e, kind)]


def test_the_rule_compares_exactly() -> None:
    # 160 against 2/3 of 240: not below; 159.9 against 2/3 of 239.99875 (159.999166…): below
    assert not backstopped(160 * U, 240 * U * RATE_SCALE, (2, 3))
    assert backstopped(1599 * U // 10, 23_999_875 * U * RATE_SCALE // 100_000, (2, 3))
    assert not backstopped(-5, 0, (2, 3))  # no maintenance margin: no position to take


def test_at_two_thirds_of_mm_the_book_liquidates() -> None:
    """At 19,200 the equity is exactly 2/3 of MM, not below: the market order goes to the book
    and sells at the bid, 19,100: the trader keeps 960 − 900 = 60 (no clearance fee)."""
    ex = world()
    assert ex.state.wallet(TRADER, "USDT") == 960 * U
    [liq] = of(published(ex, "19200"), Liquidation)
    assert (liq.qty, liq.filled, liq.taken_by_insurance) == (1_000, 1_000, 0) and held(ex) == 0
    assert ex.state.wallet(TRADER, "USDT") == 60 * U
    assert ex.state.ledger.insurance("USDT") == FUND * U


def test_below_two_thirds_the_vault_takes_the_position_and_its_margin() -> None:
    """At 19,199.9 (equity 159.9 < 159.999…): no order; the vault takes the 1 BTC at the mark and the
    wallet, 960 − 800.1 = 159.9, the maintenance margin included: the trader is left with 0, where
    the bid at 19,100 would have left it 60. The vault then sells into that bid: 159.9 − 99.9 = 60
    is its gain."""
    ex = world()
    events = published(ex, "19199.9")
    [liq] = of(events, Liquidation)
    assert (liq.side, liq.qty, liq.bankruptcy_price, liq.filled, liq.taken_by_insurance) == \
        (Side.SELL, 1_000, 191_999, 0, 1_000)
    [margin] = [e for e in of(events, BalanceChanged) if e.cause == "backstop_margin"]
    assert (margin.account, margin.delta, margin.balance) == (TRADER, -1599 * U // 10, 0)
    assert held(ex) == 0 and ex.state.wallet(TRADER, "USDT") == 0
    assert held(ex, BTC, IF_ACCOUNT) == 0  # unwound into the bid
    assert ex.state.ledger.insurance("USDT") == (FUND + 60) * U


def test_a_cross_backstop_takes_every_cross_position_and_the_whole_wallet() -> None:
    """With 10 ETH more from 2,000 (cross, on 1,000 more: the wallet 1,960). ETH published at 1,960
    (3 s), then BTC at 18,000 (6 s): equity 1,960 − 2,000 − 400 = −440, under 2/3 of MM (18,000 / 80 +
    19,600 × 2 %, ETH's 25x tier: 617); the vault (its balance 1,000 > 0) takes both positions at
    their marks, the ETH long too though its market did not move, and covers the wallet's −440
    (insurance_cover): the trader ends with zero equity."""
    ex = world(eth=True)
    assert ex.state.wallet(TRADER, "USDT") == 1_960 * U
    px_eth = ex.markets[ETH].spec.price_to_ticks
    ex.apply(C.SetIndexPrice(2, ETH, px_eth("1960")))
    events = published(ex, "18000")
    liqs = of(events, Liquidation)
    assert [(e.symbol, e.qty, e.bankruptcy_price, e.filled, e.taken_by_insurance) for e in liqs] == \
        [(BTC, 1_000, 180_000, 0, 1_000), (ETH, 10_000, ex.markets[ETH].mark, 0, 10_000)]
    assert ex.markets[ETH].mark == px_eth("1960")
    [cover] = [e for e in of(events, BalanceChanged) if e.account == TRADER and e.cause == "insurance_cover"]
    assert (cover.delta, cover.balance) == (440 * U, 0)
    assert held(ex, BTC) == held(ex, ETH) == 0 and ex.state.wallet(TRADER, "USDT") == 0
    assert held(ex, ETH, IF_ACCOUNT) == 10_000  # ETH's bid at 1,500 is below the fund's limit


def test_an_isolated_backstop_leaves_the_cross_wallet_alone() -> None:
    """BTC isolated on its 500 (the ETH long cross on the 1,000 of wallet): at 19,600 its equity
    is 100, under 2/3 of MM 245 (163.33…): the vault takes the BTC position and its isolated
    margin, 500 − 400 = 100; the cross wallet and the ETH long stay."""
    ex = world(eth=True, isolated=True)
    assert ex.state.wallet(TRADER, "USDT") == 1_000 * U
    events = published(ex, "19600")
    [liq] = of(events, Liquidation)
    assert (liq.symbol, liq.filled, liq.taken_by_insurance) == (BTC, 0, 1_000)
    [margin] = [e for e in of(events, BalanceChanged) if e.cause == "backstop_margin"]
    assert (margin.symbol, margin.delta, margin.balance) == (BTC, -100 * U, 0)
    assert held(ex, BTC) == 0 and held(ex, ETH) == 10_000 and ex.state.wallet(TRADER, "USDT") == 1_000 * U


def test_binance_sends_the_order_to_the_book() -> None:
    """Other profiles are unchanged: under binance (MMR 0.4 %) the same long is not under water at
    19,199.9; at 19,050 it is, and its forced order sells into the bid as before."""
    ex = world(BINANCE)
    px = ex.markets[BTC].spec.price_to_ticks
    events = ex.apply(C.SetIndexPrice(2, BTC, px("19199.9")))
    events += ex.apply(C.SetIndexPrice(3, BTC, px("19050")))
    assert [e.filled for e in of(events, Liquidation)] == [1_000]
    assert not [e for e in of(events, BalanceChanged) if e.cause == "backstop_margin"]


def test_the_plain_twin_backstops_alike() -> None:
    """The compiled engine and its plain-Python twin (engine/twin.py): the same events and hash."""
    runs = []
    for engine in (Exchange, pure_exchange().Exchange):
        ex = world(engine=engine, eth=True)
        runs.append(([list(e) for e in published(ex, "18000")], ex.state_hash()))
    assert runs[0] == runs[1] and any("backstop" in str(e) or "insurance_cover" in str(e) for e in runs[0][0])


def test_the_vault_takes_over_through_the_real_server(tmp_path) -> None:
    """`perpsim serve --profile hyperliquid`: 1 BTC long from 65,000 at 40x on 2,700 less the 29.25
    opening fee: 2,670.75 (bankruptcy price 62,329.25). The oracle falls to 62,500 just after a
    publication; at the next one the mark is 62,500: equity 170.75 < 2/3 of MM 781.25 (520.83…). The
    vault takes the long at 62,500 and the 170.75 of margin; the trader keeps nothing (an order into
    the bid at 62,400 would have left it 70.75). The vault sells into that bid: the fund ends with
    170.75 − 100 = 70.75."""
    with own_venue(tmp_path, profile="hyperliquid") as (running, _cfg, trader), \
            Client(running.address, admin_key=(tmp_path / "admin.key").read_text().strip()) as admin:
        maker = long_at_40x(admin, trader, "1", "62400")
        assert admin.insurance_fund("USDT")["USDT"] == 0

        just_past_a_publication(admin)
        assert admin.set_index_price(BTC, "62500").liquidations == 0  # held until the publication
        admin.advance_clock(GRID_NS)
        assert trader.mark(BTC).mark_price == Decimal("62500")
        assert trader.positions(BTC) == [] and trader.account().balance("USDT").wallet == 0
        assert admin.insurance_fund("USDT")["USDT"] == Decimal("70.75")
        assert sum(p.quantity for p in maker.positions(BTC)) == 0  # -1 sold, +1 bought from the vault
        # the history says so: the long sold at the mark (off the book), the margin as insurance_clear
        sold = trader.trades(BTC)[-1]
        assert (sold.side, sold.price, sold.quantity, sold.realized_pnl) == \
            ("sell", Decimal("62500"), Decimal("1"), Decimal("-2500"))
        [clear] = trader.income("insurance_clear")
        assert (clear.amount, clear.info) == (Decimal("-170.75"), "backstop_margin")
        # the takeover's realized PnL is the market's income too, though no order event named it
        pnl = trader.income("realized_pnl")[-1]
        assert (pnl.amount, pnl.symbol) == (Decimal("-2500"), BTC)
