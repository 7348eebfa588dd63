"""Liquidation, insurance fund and ADL as scenario tables (dYdX v4 keeper-test style).

Each `Scenario` row is data: the initial state (deposits, margin and position modes, leverage,
positions built through real orders, resting book orders, the insurance fund via FundInsurance),
the parameters (the mark moves: SetIndexPrice, plus any order placed between moves) and the
expectations (liquidation notices, forced fills, ADL counterparties in order, insurance fund
flows, final positions, wallets, isolated margins and fund balance). One parametrised test runs
every row over both order-book implementations and calls `Exchange.check_integrity()` after
every command.

References: venue-mechanics §3.1 (MM, margin balance), §4.1 (liquidation and bankruptcy price),
§4.2 (the liquidation process), §5 (insurance fund), §6.1 (ADL and LeveragePnL).

Units, all exact integers:

* money: USDT units of 1e-8, written ``whole_fraction`` with an underscore where the decimal
  point would be: ``262_50000000`` is 262.5 USDT;
* BTCUSDT: price in ticks of 0.1 (``190_000`` = 19,000.0), quantity in lots of 0.001
  (``1_000`` = 1 BTC), so K = 0.1 × 0.001 × 1e8 = 10,000 units per tick-lot;
* ETHUSDT: ticks of 0.01 (``190_000`` = 1,900.00), lots of 0.001 (``10_000`` = 10 ETH),
  K = 1,000 units per tick-lot;
* a position is (signed lots, signed cost) with cost = Σ fill price ticks × lots, so the
  entry price is cost / lots.

Fixed rules the hand computations use (model/markets.toml, risk/brackets.py): taker fee 0.05 %,
maker fee 0.02 %, liquidation fee 1.25 %, no trading fee on forced orders (liquidation IOC, fund
offload) nor on ADL; BTCUSDT brackets (§3.1) for both markets: ≤ 50k MMR 0.4 % cum 0, ≤ 250k
0.5 % cum 50, ≤ 1M 1 % cum 1,300, ≤ 10M 2.5 % cum 16,300; default leverage 20x. The funding rate
is 0 and every command is stamped within the first 5 s (no basis sample), so the mark equals the
index exactly. Engine conventions the spec leaves open, used as such: the liquidation fee is
1.25 % of the liquidated quantity valued at the bankruptcy price, taken from what collateral
remains (capped by it, §4.2.5-6); a cross account's markets are liquidated in symbol order.

Recurring hand results (§4.1 one-way form, spec A3): 1 BTC long at 20,000 on a 1,000 USDT
wallet: LP = (1,000 − 20,000) / (0.004 − 1) = 19,076.3052 (trigger tick 190_764, rounded up),
BP = 20,000 − 1,000 / 1 = 19,000.
"""

from __future__ import annotations

import gc
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NamedTuple

import pytest

from perpsim.engine import commands as C
from perpsim.engine.events import (
    AutoDeleveraged,
    CommandRejected,
    InsuranceFundChanged,
    Liquidation,
    OrderEvent,
)
from perpsim.engine.exchange import IF_ACCOUNT, Exchange, position_of
from perpsim.engine.views import ExchangeView
from perpsim.model.enums import EventKind, OrderKind, PositionSide, Side, TimeInForce
from perpsim.model.market_files import default_markets
from perpsim.risk.brackets import btcusdt_brackets

U = 10**8  # money units per USDT
USDT = "USDT"
BTC, ETH = "BTCUSDT", "ETHUSDT"
SPECS = {symbol: default_markets()[symbol] for symbol in (BTC, ETH)}
BOTH, LONG, SHORT = PositionSide.BOTH, PositionSide.LONG, PositionSide.SHORT
BUY, SELL = Side.BUY, Side.SELL
IF = IF_ACCOUNT  # the insurance fund as the holder of taken-over positions

Step = Callable[[int], C.Command]  # a command, given its timestamp


# ---------------------------------------------------------------- steps (initial state, moves)


def deposit(account: int, units: int) -> Step:
    return lambda ts: C.Deposit(ts, account, USDT, units)


def fund(units: int) -> Step:
    return lambda ts: C.FundInsurance(ts, USDT, units)


def index(symbol: str, price: str) -> Step:
    return lambda ts: C.SetIndexPrice(ts, symbol, SPECS[symbol].price_to_ticks(price))


def leverage(account: int, symbol: str, lev: int) -> Step:
    return lambda ts: C.SetLeverage(ts, account, symbol, lev)


def isolated(account: int, symbol: str) -> Step:
    return lambda ts: C.SetMarginMode(ts, account, symbol, isolated=True)


def hedge_mode(account: int) -> Step:
    return lambda ts: C.SetPositionMode(ts, account, hedge=True)


def limit(account: int, side: Side, size: str, price: str, symbol: str = BTC, pside: int = BOTH) -> Step:
    """A GTC limit order (it rests, or takes what it crosses and rests the rest)."""
    spec = SPECS[symbol]
    return lambda ts: C.PlaceOrder(ts, account, symbol, side, spec.qty_to_lots(size), spec.price_to_ticks(price),
                                   kind=OrderKind.LIMIT, tif=TimeInForce.GTC, position_side=pside)


def buy(account: int, size: str, price: str, symbol: str = BTC, pside: int = BOTH) -> Step:
    return limit(account, BUY, size, price, symbol, pside)


def sell(account: int, size: str, price: str, symbol: str = BTC, pside: int = BOTH) -> Step:
    return limit(account, SELL, size, price, symbol, pside)


# ---------------------------------------------------------------- expectations


class Fill(NamedTuple):
    """A fill of a forced order (liquidation IOC or fund offload): taker = the forced side."""

    symbol: str
    taker: int
    maker: int
    qty: int  # lots
    price: int  # ticks (the maker's price)


class Checkpoint(NamedTuple):
    """State after moves[after]: the fund balance and the fund's own position (lots, cost) or None."""

    after: int
    fund: int
    fund_position: dict[str, tuple[int, int]]


Positions = dict[tuple[int, str, int], tuple[int, int]]  # (account, symbol, pside) -> (lots, cost)


@dataclass(frozen=True)
class Scenario:
    id: str
    setup: tuple[Step, ...]
    moves: tuple[Step, ...]
    # expectations over the events of the moves, in order
    liquidations: tuple[Liquidation, ...]
    fills: tuple[Fill, ...]
    adl: tuple[AutoDeleveraged, ...]
    fund_flows: tuple[tuple[int, str], ...]  # (delta, cause) of every insurance fund movement
    # final state
    positions: Positions
    wallets: dict[int, int]
    fund: int
    isolated: dict[tuple[int, str, int], int] = field(default_factory=dict)
    checkpoints: tuple[Checkpoint, ...] = ()
    start: tuple[tuple[str, str], ...] = ((BTC, "20000"), (ETH, "2000"))


SCENARIOS = [
    # ------------------------------------------------------------------------------------------
    # 1a. The book absorbs the whole liquidation at better than bankruptcy; the surplus pays the
    #     full liquidation fee and the account keeps the rest.
    #     Account 1: 1,010 − 10 taker fee (0.05 % × 20,000) = wallet 1,000, long 1 @ 20,000:
    #     LP 19,076.3052, BP 19,000. Account 8's stale bids 0.5 @ 19,500 and 0.5 @ 19,060.
    #     Mark 19,070 ≤ LP: IOC SELL 1 @ 19,000 fills both bids.
    Scenario(
        id="1a-book-absorbs-surplus-pays-fee",
        setup=(
            deposit(1, 1010_00000000), deposit(8, 100000_00000000), deposit(9, 1000000_00000000),
            sell(9, "1", "20000"), buy(1, "1", "20000"),
            buy(8, "0.5", "19500"), buy(8, "0.5", "19060"),
        ),
        moves=(index(BTC, "19070"),),
        liquidations=(
            Liquidation(BTC, 1, SELL, 1_000, 190_000, 1_000, 0, 0),  # 1 BTC, BP 19,000.0, all in the book
        ),
        fills=(
            Fill(BTC, 1, 8, 500, 195_000),  # 0.5 @ 19,500.0
            Fill(BTC, 1, 8, 500, 190_600),  # 0.5 @ 19,060.0
        ),
        adl=(),
        fund_flows=(
            # loss 0.5 × 500 + 0.5 × 940 = 720 → 280 left ≥ fee 1.25 % × 1 × 19,000 = 237.5
            (237_50000000, "liquidation_fee"),
        ),
        positions={
            (8, BTC, BOTH): (1_000, 192_800_000),  # 500 × 195,000 + 500 × 190,600 (entry 19,280)
            (9, BTC, BOTH): (-1_000, -200_000_000),  # short 1 @ 20,000
        },
        wallets={
            1: 42_50000000,  # 1,000 − 720 − 237.5
            8: 99996_14400000,  # 100,000 − maker 0.02 % × (9,750 + 9,530) = 100,000 − 1.95 − 1.906
            9: 999996_00000000,  # 1,000,000 − maker 0.02 % × 20,000 = 4
        },
        fund=237_50000000,
    ),
    # ------------------------------------------------------------------------------------------
    # 1b. Same position, the book absorbs it at 19,060 only: surplus 60 < fee 237.5, so the fee
    #     is capped by what remains and the account ends at exactly 0.
    Scenario(
        id="1b-book-absorbs-fee-capped",
        setup=(
            deposit(1, 1010_00000000), deposit(8, 100000_00000000), deposit(9, 1000000_00000000),
            sell(9, "1", "20000"), buy(1, "1", "20000"),
            buy(8, "1", "19060"),
        ),
        moves=(index(BTC, "19070"),),
        liquidations=(Liquidation(BTC, 1, SELL, 1_000, 190_000, 1_000, 0, 0),),
        fills=(Fill(BTC, 1, 8, 1_000, 190_600),),  # 1 @ 19,060.0
        adl=(),
        fund_flows=((60_00000000, "liquidation_fee"),),  # 1,000 − 940 = 60 < 237.5: all of it
        positions={
            (8, BTC, BOTH): (1_000, 190_600_000),
            (9, BTC, BOTH): (-1_000, -200_000_000),
        },
        wallets={
            1: 0,  # 1,000 − 940 − 60
            8: 99996_18800000,  # 100,000 − 0.02 % × 19,060 = 3.812
            9: 999996_00000000,
        },
        fund=60_00000000,
    ),
    # ------------------------------------------------------------------------------------------
    # 2. Partial book fill, the insurance fund (100 USDT) takes over the rest at BP, then
    #    offloads on later ticks, never selling below its own bankruptcy price.
    #    Move 0, mark 19,070: IOC SELL 1 @ 19,000 fills 0.4 @ 19,050 (loss 0.4 × 950 = 380);
    #    the fund takes 0.6 @ 19,000 (loss 0.6 × 1,000 = 600): 1,000 − 980 = 20 left → fee
    #    min(237.5, 20) = 20 → fund 120. Fund BP = 19,000 − 120 / 0.6 = 18,800; no bid → keeps 0.6.
    #    Moves 1-3: account 7 bids 0.2 @ 18,900, 18,800, 18,750.
    #    Move 4, mark 19,000: offload limit max(band 0.95 × 19,000 = 18,050, BP 18,800) = 18,800:
    #    sells 0.2 @ 18,900 (−20) and 0.2 @ 18,800 (−40) → fund 60, keeps 0.2 (18,750 < 18,800).
    #    Move 5, mark 18,990: fund BP = 19,000 − 60 / 0.2 = 18,700 ≤ 18,750: sells the last 0.2
    #    @ 18,750 (−50) → fund 10, flat.
    Scenario(
        id="2-partial-fill-fund-takeover-offload",
        setup=(
            fund(100_00000000),
            deposit(1, 1010_00000000), deposit(7, 100000_00000000), deposit(8, 100000_00000000),
            deposit(9, 1000000_00000000),
            sell(9, "1", "20000"), buy(1, "1", "20000"),
            buy(8, "0.4", "19050"),
        ),
        moves=(
            index(BTC, "19070"),
            buy(7, "0.2", "18900"), buy(7, "0.2", "18800"), buy(7, "0.2", "18750"),
            index(BTC, "19000"),
            index(BTC, "18990"),
        ),
        liquidations=(
            Liquidation(BTC, 1, SELL, 1_000, 190_000, 400, 600, 0),  # 0.4 filled, 0.6 to the fund
        ),
        fills=(
            Fill(BTC, 1, 8, 400, 190_500),  # liquidation: 0.4 @ 19,050.0
            Fill(BTC, IF, 7, 200, 189_000),  # offload: 0.2 @ 18,900.0
            Fill(BTC, IF, 7, 200, 188_000),  # offload: 0.2 @ 18,800.0
            Fill(BTC, IF, 7, 200, 187_500),  # offload: 0.2 @ 18,750.0
        ),
        adl=(),
        fund_flows=(
            (20_00000000, "liquidation_fee"),
            (-20_00000000, "realized_pnl"),  # 0.2 × (18,900 − 19,000)
            (-40_00000000, "realized_pnl"),  # 0.2 × (18,800 − 19,000)
            (-50_00000000, "realized_pnl"),  # 0.2 × (18,750 − 19,000)
        ),
        checkpoints=(
            Checkpoint(0, 120_00000000, {BTC: (600, 114_000_000)}),  # long 0.6 @ 19,000.0
            Checkpoint(4, 60_00000000, {BTC: (200, 38_000_000)}),  # long 0.2 @ 19,000.0
        ),
        positions={
            (7, BTC, BOTH): (600, 112_900_000),  # 200 × (189,000 + 188,000 + 187,500)
            (8, BTC, BOTH): (400, 76_200_000),  # 400 × 190,500
            (9, BTC, BOTH): (-1_000, -200_000_000),
        },
        wallets={
            1: 0,
            7: 99997_74200000,  # 100,000 − 0.02 % × (3,780 + 3,760 + 3,750) = − 0.756 − 0.752 − 0.75
            8: 99998_47600000,  # 100,000 − 0.02 % × 7,620 = 1.524
            9: 999996_00000000,
        },
        fund=10_00000000,  # 100 + 20 − 20 − 40 − 50
    ),
    # ------------------------------------------------------------------------------------------
    # 3. Partial book fill, empty fund: ADL against three profitable shorts, ranked by
    #    LeveragePnL = max(0, uPnL) / max(1, wallet) × MM / (wallet + uPnL) (§6.1) at mark 19,050.
    #    Shorts at 20,000 (wallets after their 0.02 % maker fee): account 2 0.5 on 100,000,
    #    account 3 0.3 on 1,000, account 4 0.2 on 2,000. uPnL = q × 950, MM = q × 19,050 × 0.4 %:
    #      3: 285 / 1,000 × 22.86 / 1,285   = 0.005070 (first)
    #      4: 190 / 2,000 × 15.24 / 2,190   = 0.000661 (second)
    #      2: 475 / 100,000 × 38.1 / 100,475 = 0.0000018 (last)
    #    Account 1 (long 1, BP 19,000): IOC SELL fills 0.3 @ 19,010 (loss 297), 0.7 is
    #    deleveraged at 19,000, no fee: 0.3 from 3, 0.2 from 4, 0.2 of 0.5 from 2.
    Scenario(
        id="3-partial-fill-empty-fund-adl-ranking",
        setup=(
            deposit(1, 1010_00000000), deposit(2, 100002_00000000), deposit(3, 1001_20000000),
            deposit(4, 2000_80000000), deposit(8, 100000_00000000),
            sell(2, "0.5", "20000"), sell(3, "0.3", "20000"), sell(4, "0.2", "20000"),
            buy(1, "1", "20000"),  # takes 0.5 from 2, 0.3 from 3, 0.2 from 4 (time priority)
            buy(8, "0.3", "19010"),
        ),
        moves=(index(BTC, "19050"),),
        liquidations=(Liquidation(BTC, 1, SELL, 1_000, 190_000, 300, 0, 700),),
        fills=(Fill(BTC, 1, 8, 300, 190_100),),  # 0.3 @ 19,010.0
        adl=(
            AutoDeleveraged(BTC, 1, 3, 300, 190_000),  # highest LeveragePnL, closed in full
            AutoDeleveraged(BTC, 1, 4, 200, 190_000),
            AutoDeleveraged(BTC, 1, 2, 200, 190_000),  # lowest: only what is left, 0.2 of 0.5
        ),
        fund_flows=((3_00000000, "liquidation_fee"),),  # 1,000 − 297 − 700 = 3 left < 237.5
        positions={
            (2, BTC, BOTH): (-300, -60_000_000),  # 0.3 short left @ 20,000.0
            (8, BTC, BOTH): (300, 57_030_000),  # 300 × 190,100
        },
        wallets={
            1: 0,  # 1,000 − 297 − 700 − 3
            2: 100200_00000000,  # 100,000 + 0.2 × (20,000 − 19,000)
            3: 1300_00000000,  # 1,000 + 0.3 × 1,000
            4: 2200_00000000,  # 2,000 + 0.2 × 1,000
            8: 99998_85940000,  # 100,000 − 0.02 % × 5,703 = 1.1406
        },
        fund=3_00000000,
    ),
    # ------------------------------------------------------------------------------------------
    # 4. Isolated BTC position liquidated; the same account's cross wallet and its cross ETH
    #    position are untouched. Account 1: 5,011 − 10 BTC taker fee − 1,000 isolated margin
    #    (20x) − 1 ETH taker fee (0.05 % × 2,000) = cross wallet 4,000. Isolated long 1 @ 20,000
    #    on 1,000: LP 19,076.3052, BP 19,000 (spec A3). Mark 19,070: isolated balance
    #    1,000 − 930 = 70 ≤ MM 76.28. IOC fills 1 @ 19,040: isolated margin 1,000 − 960 = 40 →
    #    fee min(237.5, 40) = 40; nothing is left to return to the wallet.
    Scenario(
        id="4-isolated-spares-cross-wallet",
        setup=(
            deposit(1, 5011_00000000), deposit(8, 100000_00000000), deposit(9, 1000000_00000000),
            isolated(1, BTC),
            sell(9, "1", "20000"), buy(1, "1", "20000"),
            sell(9, "1", "2000", ETH), buy(1, "1", "2000", ETH),
            buy(8, "1", "19040"),
        ),
        moves=(index(BTC, "19070"),),
        liquidations=(Liquidation(BTC, 1, SELL, 1_000, 190_000, 1_000, 0, 0),),
        fills=(Fill(BTC, 1, 8, 1_000, 190_400),),  # 1 @ 19,040.0
        adl=(),
        fund_flows=((40_00000000, "liquidation_fee"),),
        positions={
            (8, BTC, BOTH): (1_000, 190_400_000),
            (9, BTC, BOTH): (-1_000, -200_000_000),
            (1, ETH, BOTH): (1_000, 200_000_000),  # the cross ETH long 1 @ 2,000.00 stays
            (9, ETH, BOTH): (-1_000, -200_000_000),
        },
        wallets={
            1: 4000_00000000,  # untouched by the isolated liquidation
            8: 99996_19200000,  # 100,000 − 0.02 % × 19,040 = 3.808
            9: 999995_60000000,  # 1,000,000 − 4 (BTC) − 0.4 (ETH: 0.02 % × 2,000)
        },
        fund=40_00000000,
        isolated={(1, BTC, BOTH): 0},
    ),
    # ------------------------------------------------------------------------------------------
    # 5. Cascade: account 1's liquidation order fills the stale bid of account 2 (1 @ 19,500,
    #    50x, wallet 483.9 − 3.9 maker fee = 480), which is thereby under maintenance at mark
    #    19,070 (480 − 430 = 50 ≤ MM 76.28) and liquidated in the same command.
    #    Account 1: fill 1 @ 19,500 (loss 500) → 500 left → fee 237.5 → 262.5 stays.
    #    Account 2: BP = 19,500 − 480 = 19,020; IOC SELL 1 @ 19,020 fills account 8's
    #    1 @ 19,050 (loss 450) → 30 left → fee min(1.25 % × 19,020 = 237.75, 30) = 30.
    Scenario(
        id="5-cascade-stale-bid-maker-liquidated",
        setup=(
            deposit(1, 1010_00000000), deposit(2, 483_90000000), deposit(8, 100000_00000000),
            deposit(9, 1000000_00000000),
            leverage(2, BTC, 50),
            sell(9, "1", "20000"), buy(1, "1", "20000"),
            buy(2, "1", "19500"),  # cost 19,500 / 50 = 390 + 9.75 fee reserve ≤ 483.9
            buy(8, "1", "19050"),
        ),
        moves=(index(BTC, "19070"),),
        liquidations=(
            Liquidation(BTC, 1, SELL, 1_000, 190_000, 1_000, 0, 0),
            Liquidation(BTC, 2, SELL, 1_000, 190_200, 1_000, 0, 0),  # BP 19,020.0
        ),
        fills=(
            Fill(BTC, 1, 2, 1_000, 195_000),  # 1 @ 19,500.0 into account 2's stale bid
            Fill(BTC, 2, 8, 1_000, 190_500),  # 1 @ 19,050.0
        ),
        adl=(),
        fund_flows=((237_50000000, "liquidation_fee"), (30_00000000, "liquidation_fee")),
        positions={
            (8, BTC, BOTH): (1_000, 190_500_000),
            (9, BTC, BOTH): (-1_000, -200_000_000),
        },
        wallets={
            1: 262_50000000,  # 1,000 − 500 − 237.5
            2: 0,  # 480 − 450 − 30
            8: 99996_19000000,  # 100,000 − 0.02 % × 19,050 = 3.81
            9: 999996_00000000,
        },
        fund=267_50000000,  # 237.5 + 30
    ),
    # ------------------------------------------------------------------------------------------
    # 6. Partial liquidation: long 60 @ 21,000 (notional 1.26M, bracket 4), wallet
    #    73,630 − 630 taker fee = 73,000. Mark 20,000: notional 1.2M, MM = 2.5 % × 1.2M − 16,300
    #    = 13,700 ≥ balance 73,000 − 60,000 = 13,000 (LP 20,011.97). BP = 21,000 − 73,000 / 60
    #    = 19,783.33 → tick 197_834 (rounded up). One IOC down to bracket 3: keep
    #    1,000,000 / 20,000 = 50 BTC, sell 10 @ 19,783.4: fills account 8's 10 @ 19,900
    #    (loss 10 × 1,100 = 11,000) → wallet 62,000; fee on the liquidated 10 BTC only (§4.2.6):
    #    1.25 % × 10 × 19,783.4 = 2,472.925 → wallet 59,527.075. Balance
    #    59,527.075 − 50 × 1,000 = 9,527.075 > MM of 50 BTC (1M, bracket 3) = 1 % × 1M − 1,300
    #    = 8,700: compliant after losses and fee (§4.2.4) → stop, 50 BTC stay open.
    Scenario(
        id="6-partial-liquidation-to-lower-bracket",
        start=((BTC, "21000"), (ETH, "2000")),
        setup=(
            deposit(1, 73630_00000000), deposit(8, 100000_00000000), deposit(9, 1000000_00000000),
            sell(9, "60", "21000"), buy(1, "60", "21000"),  # IM 63,000 + 630 fee reserve = 73,630
            buy(8, "10", "19900"),
        ),
        moves=(index(BTC, "20000"),),
        liquidations=(Liquidation(BTC, 1, SELL, 10_000, 197_834, 10_000, 0, 0),),
        fills=(Fill(BTC, 1, 8, 10_000, 199_000),),  # 10 @ 19,900.0
        adl=(),
        fund_flows=((2472_92500000, "liquidation_fee"),),
        positions={
            (1, BTC, BOTH): (50_000, 10_500_000_000),  # long 50 @ 21,000.0 left open
            (8, BTC, BOTH): (10_000, 1_990_000_000),
            (9, BTC, BOTH): (-60_000, -12_600_000_000),
        },
        wallets={
            1: 59527_07500000,  # 73,000 − 11,000 − 2,472.925
            8: 99960_20000000,  # 100,000 − 0.02 % × 199,000 = 39.8
            9: 999748_00000000,  # 1,000,000 − 0.02 % × 1,260,000 = 252
        },
        fund=2472_92500000,
    ),
    # ------------------------------------------------------------------------------------------
    # 7. Cross account in two markets, 50x each: long 1 BTC @ 20,000 and long 10 ETH @ 2,000,
    #    wallet 1,120 − 10 − 10 taker fees = 1,100. ETH mark 1,900 (BTC unmoved): balance
    #    1,100 + 0 − 1,000 = 100 ≤ MM 80 + 76 = 156. The BTC legs' LP with the ETH position as
    #    "other" (TMM1 76, UPNL1 −1,000): (1,100 − 76 − 1,000 − 20,000) / (0.004 − 1) = 20,056.22
    #    ≥ 20,000, so BTC is liquidated first: BP = 20,000 − (1,100 − 1,000) = 19,900; fills
    #    1 @ 19,950 (loss 50) → wallet 1,050, balance 50 → fee min(248.75, 50) = 50.
    #    Then ETH (balance 0 ≤ MM 76): BP = 2,000 − 1,000 / 10 = 1,900; fills 10 @ 1,910
    #    (loss 900) → wallet 100 → fee min(237.5, 100) = 100.
    Scenario(
        id="7-cross-two-markets-other-market-drags",
        setup=(
            deposit(1, 1120_00000000), deposit(8, 100000_00000000), deposit(9, 1000000_00000000),
            leverage(1, BTC, 50), leverage(1, ETH, 50),
            sell(9, "1", "20000"), buy(1, "1", "20000"),
            sell(9, "10", "2000", ETH), buy(1, "10", "2000", ETH),
            buy(8, "1", "19950"), buy(8, "10", "1910", ETH),
        ),
        moves=(index(ETH, "1900"),),
        liquidations=(
            Liquidation(BTC, 1, SELL, 1_000, 199_000, 1_000, 0, 0),  # BP 19,900.0
            Liquidation(ETH, 1, SELL, 10_000, 190_000, 10_000, 0, 0),  # BP 1,900.00
        ),
        fills=(
            Fill(BTC, 1, 8, 1_000, 199_500),  # 1 @ 19,950.0
            Fill(ETH, 1, 8, 10_000, 191_000),  # 10 @ 1,910.00
        ),
        adl=(),
        fund_flows=((50_00000000, "liquidation_fee"), (100_00000000, "liquidation_fee")),
        positions={
            (8, BTC, BOTH): (1_000, 199_500_000),
            (9, BTC, BOTH): (-1_000, -200_000_000),
            (8, ETH, BOTH): (10_000, 1_910_000_000),
            (9, ETH, BOTH): (-10_000, -2_000_000_000),
        },
        wallets={
            1: 0,
            8: 99992_19000000,  # 100,000 − 0.02 % × (19,950 + 19,100) = − 3.99 − 3.82
            9: 999992_00000000,  # 1,000,000 − 0.02 % × (20,000 + 20,000)
        },
        fund=150_00000000,
    ),
    # ------------------------------------------------------------------------------------------
    # 8. Hedge mode, cross, 100x: LONG 2 @ 20,000 and SHORT 1 @ 20,000, wallet 1,030 − 20 − 10
    #    taker fees = 1,000. One LP for both legs: (1,000 − 2 × 20,000 + 1 × 20,000) /
    #    (3 × 0.004 − 2 + 1) = 19,230.77; BP (MMR 0) = 20,000 − 1,000 / (2 − 1) = 19,000.
    #    Mark 19,200: balance 1,000 − 1,600 + 800 = 200 ≤ MM 0.4 % × 3 × 19,200 = 230.4.
    #    LONG leg: IOC SELL 2 @ 19,000 fills 2 @ 19,100 (loss 1,800). SHORT leg: IOC BUY
    #    1 @ 19,000 finds no ask; the fund (1,000) takes it over at 19,000 (profit 1,000 to the
    #    account). Left 1,000 − 1,800 + 1,000 = 200 → fee min(1.25 % × 3 × 19,000, 200) = 200.
    #    The fund's short 1 @ 19,000 on 1,200: its BP 20,200, offload limit min(band
    #    1.05 × 19,200 = 20,160, 20,200): no ask, it keeps the short.
    Scenario(
        id="8-hedge-long-and-short-legs",
        setup=(
            fund(1000_00000000),
            deposit(1, 1030_00000000), deposit(7, 100000_00000000), deposit(8, 100000_00000000),
            deposit(9, 1000000_00000000),
            hedge_mode(1), leverage(1, BTC, 100),
            sell(9, "2", "20000"), buy(1, "2", "20000", pside=LONG),
            buy(7, "1", "20000"), sell(1, "1", "20000", pside=SHORT),
            buy(8, "2", "19100"),
        ),
        moves=(index(BTC, "19200"),),
        liquidations=(
            Liquidation(BTC, 1, SELL, 2_000, 190_000, 2_000, 0, 0),  # the LONG leg, all in the book
            Liquidation(BTC, 1, BUY, 1_000, 190_000, 0, 1_000, 0),  # the SHORT leg, to the fund
        ),
        fills=(Fill(BTC, 1, 8, 2_000, 191_000),),  # 2 @ 19,100.0
        adl=(),
        fund_flows=((200_00000000, "liquidation_fee"),),
        positions={
            (IF, BTC, BOTH): (-1_000, -190_000_000),  # the fund: short 1 @ 19,000.0
            (7, BTC, BOTH): (1_000, 200_000_000),
            (8, BTC, BOTH): (2_000, 382_000_000),
            (9, BTC, BOTH): (-2_000, -400_000_000),
        },
        wallets={
            1: 0,  # 1,000 − 1,800 + 1,000 − 200
            7: 99996_00000000,  # 100,000 − 0.02 % × 20,000
            8: 99992_36000000,  # 100,000 − 0.02 % × 38,200 = 7.64
            9: 999992_00000000,  # 1,000,000 − 0.02 % × 40,000
        },
        fund=1200_00000000,  # 1,000 + 200
    ),
]


# ---------------------------------------------------------------- the runner


def positions_of(ex: Exchange) -> Positions:
    out = {}
    for symbol, m in ex.markets.items():
        for k, p in m.positions.items():
            account, pside = position_of(k)
            out[(account, symbol, pside)] = (p.lots, p.cost)
    return out


def run(s: Scenario, impl: str) -> tuple[Exchange, list]:
    """Play a scenario's start, setup and moves; returns the exchange and the moves' events."""
    ex = Exchange(SPECS, {symbol: btcusdt_brackets(U) for symbol in SPECS}, book_impl=impl, start_ts=1)
    ts = 1

    def do(step: Step) -> list:
        nonlocal ts
        ts += 1  # every command within the first 5 s: no basis sample, mark = index
        events = ex.apply(step(ts))
        ex.check_integrity()
        assert not [e for e in events if isinstance(e, CommandRejected)], events
        return events

    for symbol, price in s.start:
        do(index(symbol, price))
    for step in s.setup:
        events = do(step)
        assert not [e for e in events if isinstance(e, Liquidation | AutoDeleveraged)], "liquidated during setup"

    moved: list = []
    checkpoints = {c.after: c for c in s.checkpoints}
    for i, step in enumerate(s.moves):
        moved += do(step)
        if i in checkpoints:
            c = checkpoints[i]
            assert ExchangeView(ex).insurance(USDT) == c.fund, f"fund after move {i}"
            held = {symbol: (p.lots, p.cost) for symbol in ex.markets if (p := ex.position(IF, symbol, BOTH)).lots}
            assert held == c.fund_position, f"fund position after move {i}"
    return ex, moved


@pytest.mark.parametrize("impl", ["cython", "ref"])
@pytest.mark.parametrize("s", SCENARIOS, ids=[s.id for s in SCENARIOS])
def test_liquidation_scenario(s: Scenario, impl: str) -> None:
    ex, moved = run(s, impl)
    assert tuple(e for e in moved if isinstance(e, Liquidation)) == s.liquidations
    fills = tuple(Fill(e.symbol, e.event.account, e.event.counter_account, e.event.qty, e.event.price)
                  for e in moved if isinstance(e, OrderEvent) and e.liquidation and e.event.kind == EventKind.FILL)
    assert fills == s.fills
    assert tuple(e for e in moved if isinstance(e, AutoDeleveraged)) == s.adl
    assert tuple((e.delta, e.cause) for e in moved if isinstance(e, InsuranceFundChanged)) == s.fund_flows

    assert positions_of(ex) == s.positions
    assert {a: ex.wallet(a, USDT) for a in s.wallets} == s.wallets
    assert ExchangeView(ex).insurance(USDT) == s.fund
    for (account, symbol, pside), units in s.isolated.items():
        assert ex.isolated_margin(account, symbol, pside) == units


def test_the_engine_makes_no_reference_cycles() -> None:
    """What Exchange.apply relies on to pause the cyclic collector: every object the engine
    drops over all the scenarios (liquidations through the book, the fund taking over and
    offloading, ADL) is freed by reference counting, so a collection afterwards finds nothing."""
    gc.collect()
    gc.disable()
    try:
        for s in SCENARIOS:
            ex, moved = run(s, "cython")
            del ex, moved
        assert gc.collect() == 0
    finally:
        gc.enable()
