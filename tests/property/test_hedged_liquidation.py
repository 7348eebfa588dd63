"""Cross hedge-mode pairs are liquidated where their margin ratio reaches 100 %, in whichever
direction that lies (issue 19 item 2).

A long and a short of the same size have a constant net PnL while their maintenance margin
grows with the price: they are liquidatable on a rise, not on a fall. A pair with a small net
long can be liquidatable on both sides. After every sweep, no account may be left at or above
100 % margin ratio (margin balance ≤ maintenance margin) unless its liquidation is in
progress (a liquidation completes within its command, so none is at a command's end). Both
builds of the exchange (compiled and its plain-Python source) run the same commands.
"""

from __future__ import annotations

from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from perpsim.engine import commands as C
from perpsim.engine.events import Liquidation
from perpsim.engine.exchange import IF_ACCOUNT, Exchange, position_of
from perpsim.engine.twin import pure_exchange
from perpsim.model.enums import OrderKind, PositionSide, Side, TimeInForce
from perpsim.model.market_files import default_markets
from perpsim.risk.brackets import btcusdt_brackets
from perpsim.risk.liqrange import rise_tick
from perpsim.risk.margin_kernel import BracketTable
from perpsim.risk.units import RATE_SCALE

from .twin_kit import apply_both

U = 10**8
SYMBOL = "BTCUSDT"
SPEC = default_markets()[SYMBOL]
K = SPEC.notional_per_tick_lot  # money units per tick × lot
BRACKETS = btcusdt_brackets(U)
PURE = pure_exchange()


def g(lots: list[int], costs: list[int], base: int, price: int) -> Fraction:
    """Margin balance less maintenance margin at `price` (ticks), exact (the brute-force oracle)."""
    mm = sum(Fraction(BRACKETS.for_notional(abs(q) * K * price).mmr * abs(q) * K * price, RATE_SCALE)
             - BRACKETS.for_notional(abs(q) * K * price).cum for q in lots)
    return base - K * sum(costs) + K * price * sum(lots) - mm


@settings(max_examples=300, deadline=None)
@given(long=st.integers(1, 20_000), short=st.integers(1, 20_000), entry_long=st.integers(100_000, 400_000),
       entry_short=st.integers(100_000, 400_000), base=st.integers(0, 5_000 * U))
def test_rise_tick_is_where_the_pair_turns_liquidatable_on_a_rise(long, short, entry_long, entry_short, base) -> None:
    lots, costs = [long, -short], [long * entry_long, -short * entry_short]
    rise = rise_tick(BRACKETS, lots, costs, base, K)
    top = 4_000_000  # the market's highest price in ticks
    if rise is None:  # g keeps rising (or stays flat) at the top: the net long outweighs MM
        assert g(lots, costs, base, top + 1) >= g(lots, costs, base, top)
        return
    _, tick = rise
    assert g(lots, costs, base, tick + 1) <= 0  # liquidatable from the tick up
    low = BracketTable(BRACKETS).liq_tick(lots, costs, base, K)
    lower_end = low[1] if low is not None and low[0] > 0 else -1
    if tick > 0 and tick - 1 > lower_end:
        assert g(lots, costs, base, tick - 1) > 0  # and not below it, down to the lower end


def _mr_ok(ex: Exchange) -> None:
    m = ex.markets[SYMBOL]
    for k in list(m.positions):
        account, pside = position_of(k)
        if account != IF_ACCOUNT:
            assert not ex._liquidatable(m, account, pside), f"account {account} left at or above 100 % margin ratio"


@settings(max_examples=60, deadline=None)
@given(long=st.integers(10, 2_000), extra_short=st.integers(-50, 50), leverage=st.sampled_from([20, 50, 125]),
       spare=st.integers(0, 300), moves=st.lists(st.integers(-3_000, 6_000), min_size=1, max_size=12))
def test_no_hedged_account_stays_past_100_percent_after_a_sweep(long, extra_short, leverage, spare, moves) -> None:
    """Account 2 (hedge mode, cross) opens a long and a short (sizes equal or close) at 20,000
    against maker 1, with a wallet a little above what they cost; the index then walks."""
    short = max(1, long + extra_short)
    exchanges = [Exchange({SYMBOL: SPEC}, {SYMBOL: BRACKETS}, start_ts=1),
                 PURE.Exchange({SYMBOL: SPEC}, {SYMBOL: BRACKETS}, start_ts=1)]
    price = 200_000

    def send(cmd) -> list:
        return apply_both(*exchanges, cmd)

    notional = (long + short) * price * K
    send(C.SetIndexPrice(1, SYMBOL, price))
    send(C.Deposit(1, 1, "USDT", 10**7 * U))
    send(C.FundInsurance(1, "USDT", 10**6 * U))
    send(C.SetPositionMode(1, 2, hedge=True))
    send(C.SetLeverage(1, 2, SYMBOL, leverage))
    # initial margin of both legs, the taker fee and the fee reserve of each order, and a little more
    send(C.Deposit(1, 2, "USDT", notional // leverage + notional * 15 // 10_000 + spare * U))
    for side, pside, lots in ((Side.BUY, PositionSide.LONG, long), (Side.SELL, PositionSide.SHORT, short)):
        send(C.PlaceOrder(1, 1, SYMBOL, 1 - side, lots, price))
        send(C.PlaceOrder(1, 2, SYMBOL, side, lots, 0, kind=OrderKind.MARKET, tif=TimeInForce.IOC,
                          position_side=pside))
    for ex in exchanges:
        _mr_ok(ex)
    for move in moves:
        price = max(10_000, min(3_900_000, price + price * move // 10_000))
        events = send(C.SetIndexPrice(1, SYMBOL, price))
        for ex in exchanges:
            ex.check_integrity()
            _mr_ok(ex)
        if any(isinstance(e, Liquidation) and e.account == 2 for e in events):
            assert exchanges[0].markets[SYMBOL].mark == price


def test_an_equal_hedged_pair_is_liquidated_on_a_rise_not_a_fall() -> None:
    """1 BTC long and 1 BTC short at 20,000, 125x: initial margin 2 × 160 = 320, fees 2 × 10.
    Wallet 345 − 20 = 325 after the fills. MM = 2 × P × 0.4 % (the first bracket, to 50,000
    notional each), so the margin ratio reaches 100 % at P = 325 / 0.008 = 40,625: a fall to
    10,000 liquidates nothing, a rise to 40,620 neither, 40,625 does."""
    ex = Exchange({SYMBOL: SPEC}, {SYMBOL: BRACKETS}, start_ts=1)
    for cmd in (C.SetIndexPrice(1, SYMBOL, 200_000), C.Deposit(1, 1, "USDT", 10**7 * U),
                C.FundInsurance(1, "USDT", 10**6 * U), C.SetPositionMode(1, 2, hedge=True),
                C.SetLeverage(1, 2, SYMBOL, 125), C.Deposit(1, 2, "USDT", 345 * U)):
        ex.apply(cmd)
    for side, pside in ((Side.BUY, PositionSide.LONG), (Side.SELL, PositionSide.SHORT)):
        ex.apply(C.PlaceOrder(1, 1, SYMBOL, 1 - side, 1_000, 200_000))
        ex.apply(C.PlaceOrder(1, 2, SYMBOL, side, 1_000, 0, kind=OrderKind.MARKET, tif=TimeInForce.IOC,
                              position_side=pside))
    assert ex.wallet(2, "USDT") == 325 * U
    for price, liquidated in ((100_000, False), (406_200, False), (406_250, True)):
        events = ex.apply(C.SetIndexPrice(1, SYMBOL, price))
        assert any(isinstance(e, Liquidation) and e.account == 2 for e in events) == liquidated, price
    assert ex.position(2, SYMBOL, PositionSide.LONG).lots == 0 == ex.position(2, SYMBOL, PositionSide.SHORT).lots
