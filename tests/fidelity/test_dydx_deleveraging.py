"""dYdX v4's deleveraging and its per-block liquidation cap (risk.dydx_deleveraging, risk.dydx_rotation).

Sources: dydxprotocol/v4-chain @ 84d4664bae71e3a077adaac67fb77ad19cd28d30,
- protocol/x/clob/keeper/liquidations.go `LiquidateSubaccountsAgainstOrderbook`: "Process at-most
  `MaxLiquidationAttemptsPerBlock` subaccounts, starting from a pseudorandom location in the slice";
  an order that fills nothing (`optimisticallyFilledQuantums == 0`) goes to deleveraging;
- protocol/x/clob/keeper/deleveraging.go `CanDeleverageSubaccount` ("Negative TNC, deleverage at
  bankruptcy price."), `MaybeDeleverageSubaccount` ("Note that the full position size will get
  deleveraged."; "Deleverage the entire position for the given perpetual id."),
  `OffsetSubaccountPerpetualPosition` ("Start from a random subaccount."; at most
  `MaxDeleveragingSubaccountsToIterate`; each offsets min(what is left, its position)),
  `ProcessDeleveraging` ("at the bankruptcy price of the _liquidated_ position");
- protocol/x/clob/flags/flags.go: DefaultMaxLiquidationAttemptsPerBlock = 50,
  DefaultMaxDeleveragingSubaccountsToIterate = 500, DefaultMaxDeleveragingAttemptsPerBlock = 10;
- deleveraging.go `DeleverageSubaccounts`: "For each unfilled liquidation, attempt to deleverage the
  subaccount." `for i := 0; i < int(k.Flags.MaxDeleveragingAttemptsPerBlock) && i <
  len(subaccountsToDeleverage); i++` (the list filled in liquidation order, liquidations.go);
- protocol/x/subaccounts/lib/updates.go `IsValidStateTransitionForUndercollateralizedSubaccount`
  and protocol/lib/margin/risk.go (`IsInitialCollateralized`: NC ≥ IMR; `Cmp`: "a.NetCollateral *
  b.MaintenanceMargin >= b.NetCollateral * a.MaintenanceMargin").

The pseudo-random starts are stable digests here: BLAKE2b-64 of "deleveraging/<block>/<market>" or
"liquidations/<block>/<market>", modulo the list's length; the tests recompute them with hashlib.
"""

from __future__ import annotations

import hashlib
import pickle
from dataclasses import replace
from decimal import Decimal

import pytest

from perpsim.clients.client import Client
from perpsim.engine import commands as C
from perpsim.engine.events import AutoDeleveraged, Liquidation
from perpsim.engine.exchange import Exchange
from perpsim.engine.twin import pure_exchange
from perpsim.model.enums import Side
from perpsim.model.market_files import default_markets
from perpsim.risk.brackets import market_brackets
from perpsim.risk.dydx_deleveraging import (
    MAX_ATTEMPTS,
    MAX_ITERATED,
    DeleveragingRule,
    attempt_allowed,
    offset_allowed,
    offset_lots,
)
from perpsim.risk.dydx_rotation import rotated, start_index, window
from perpsim.risk.profiles import DYDX, VenueProfile, market_under
from tests.integration.conftest import own_venue

U = 10**8
SEC = 10**9
SYMBOL = "BTCUSDT"
LONG, ALSO_LONG = 1, 7
SHORTS = {3: "4", 4: "3", 5: "5"}  # account: BTC short from 20,000


def digest(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big")


def test_the_profile_carries_dydx_defaults() -> None:
    """flags.go: 500 subaccounts iterated, 50 liquidation attempts a block; the fund only pays."""
    assert DYDX.liquidation.deleveraging.max_iterated == MAX_ITERATED == 500
    assert DYDX.liquidation.steps.block_accounts == 50
    assert "never holds a position" in DYDX.backstop.scope
    with pytest.raises(ValueError, match="max_iterated"):
        DeleveragingRule(max_iterated=0)


def test_the_starts_are_stable_digests() -> None:
    assert start_index("deleveraging", 5, SYMBOL, 3) == digest("deleveraging/5/BTCUSDT") % 3 == 2
    assert start_index("liquidations", 5, SYMBOL, 5) == digest("liquidations/5/BTCUSDT") % 5 == 2
    assert list(rotated(5, 3, 50)) == [3, 4, 0, 1, 2] and list(rotated(5, 3, 2)) == [3, 4]
    assert window([11, 12, 13, 14, 15], "liquidations", 5, SYMBOL, 2) == [13, 14]
    assert window([11, 12], "liquidations", 5, SYMBOL, 0) == [] and window([], "x", 1, SYMBOL, 3) == []
    with pytest.raises(ValueError):
        start_index("deleveraging", 1, SYMBOL, 0)


def test_an_offset_takes_what_is_left_or_its_whole_position() -> None:
    assert offset_lots(10_000, -4_000) == 4_000 and offset_lots(1_000, -3_000) == 1_000


def test_the_offsetting_side_must_stay_collateralized_or_not_get_riskier() -> None:
    """updates.go, with TNC, MMR, IMR in USDC (MMR as given; the rule only compares):
    - a short closed for good, TNC 2,000 → 1,500, IMR after 0: initially collateralized, valid;
    - keeping 20 of 30 BTC at 17,000 (IMR after 17,000, MMR 15,300 → 10,200): TNC 25,000 →
      15,000 is below IMR, and 15,000 / 10,200 = 1.47 < 25,000 / 15,300 = 1.63: invalid;
      TNC 32,000 → 22,000 also below IMR, but 22,000 / 10,200 = 2.157 > 32,000 / 15,300 = 2.092:
      less risky, valid;
    - MMR growing is invalid below IMR; MMR zero before and after: only a rising TNC."""
    assert offset_allowed(tnc=2_000, mmr=600, tnc_after=1_500, mmr_after=0, imr_after=0)
    assert not offset_allowed(tnc=25_000, mmr=15_300, tnc_after=15_000, mmr_after=10_200, imr_after=17_000)
    assert offset_allowed(tnc=32_000, mmr=15_300, tnc_after=22_000, mmr_after=10_200, imr_after=17_000)
    # equal ratios are allowed (Cmp = 0 with MMR not growing): 30,000/15,000 = 20,000/10,000
    assert offset_allowed(tnc=30_000, mmr=15_000, tnc_after=20_000, mmr_after=10_000, imr_after=25_000)
    assert not offset_allowed(tnc=100, mmr=50, tnc_after=90, mmr_after=60, imr_after=200)
    assert not offset_allowed(tnc=-10, mmr=0, tnc_after=-10, mmr_after=0, imr_after=0)
    assert offset_allowed(tnc=-10, mmr=0, tnc_after=-5, mmr_after=0, imr_after=1)
    assert not offset_allowed(tnc=-10, mmr=40, tnc_after=-5, mmr_after=0, imr_after=1)


def world(profile: VenueProfile = DYDX, engine: type = Exchange) -> Exchange:
    """BTCUSDT under `profile` (IMF 5 %, MMF 3 %), oracle 20,000: LONG buys 10 BTC at 20x on
    10,000 USDC (bankruptcy price 19,000) from the shorts 3 (4 BTC) and 4 (3 BTC) and 3 of
    5's 5 BTC; ALSO_LONG buys 5's other 2. One bid, 5 BTC at 17,000, rests below every fillable
    price of the tests."""
    spec = market_under(profile, default_markets()[SYMBOL])
    px, lots = spec.price_to_ticks, spec.qty_to_lots
    ex = engine({SYMBOL: spec}, {SYMBOL: market_brackets(spec)}, profile=profile, start_ts=1)
    ex.apply(C.SetIndexPrice(1, SYMBOL, px("20000")))
    for account, qty in SHORTS.items():
        ex.apply(C.Deposit(1, account, "USDT", 1_000_000 * U))
        ex.apply(C.PlaceOrder(1, account, SYMBOL, Side.SELL, lots(qty), px("20000")))
    ex.apply(C.Deposit(1, ALSO_LONG, "USDT", 1_000_000 * U))
    ex.apply(C.Deposit(1, LONG, "USDT", int(10 * (1_000 + 20_000 * spec.taker_fee) * U)))
    ex.apply(C.SetLeverage(1, LONG, SYMBOL, 20))
    ex.apply(C.PlaceOrder(1, LONG, SYMBOL, Side.BUY, lots("10"), px("20000")))
    ex.apply(C.PlaceOrder(1, ALSO_LONG, SYMBOL, Side.BUY, lots("2"), px("20000")))
    ex.apply(C.PlaceOrder(1, ALSO_LONG, SYMBOL, Side.BUY, lots("5"), px("17000")))
    return ex


def held(ex: Exchange) -> dict[int, int]:
    return {k // 4: p.lots for k, p in ex.markets[SYMBOL].positions.items()}


def test_the_whole_position_goes_to_the_opposite_side_from_the_digest_start() -> None:
    """The oracle gaps to 18,500 at 5 s (block 5): LONG's TNC is 10,000 − 15,000 = −5,000, its
    fillable price 17,667.5 finds no bid, so it is deleveraged: all 10 BTC, not the block's 1.
    The opposite positions in account order are 3, 4, 5; the walk starts at digest % 3 = 2:
    5 gives its 5 BTC, 3 its 4, 4 the last 1 of its 3; all at 19,000, LONG's bankruptcy price.
    LONG's wallet: 10,000 − 10 × 1,000 = 0; the shorts realize 1,000 a BTC; the fund neither
    pays nor receives, and holds nothing."""
    ex = world()
    fund = ex.state.ledger.insurance("USDT")
    wallets = {a: ex.state.wallet(a, "USDT") for a in SHORTS}
    events = ex.apply(C.SetIndexPrice(5 * SEC, SYMBOL, 185_000))
    ex.check_integrity()
    [notice] = [e for e in events if isinstance(e, Liquidation)]
    assert (notice.qty, notice.filled, notice.taken_by_insurance, notice.deleveraged) == (10_000, 0, 0, 10_000)
    assert notice.bankruptcy_price == 190_000
    adl = [(e.counterparty, e.qty, e.price) for e in events if isinstance(e, AutoDeleveraged)]
    assert adl == [(5, 5_000, 190_000), (3, 4_000, 190_000), (4, 1_000, 190_000)]
    assert held(ex) == {4: -2_000, ALSO_LONG: 2_000}
    assert ex.state.wallet(LONG, "USDT") == 0 and ex.state.ledger.insurance("USDT") == fund
    gains = {a: ex.state.wallet(a, "USDT") - wallets[a] for a in SHORTS}
    assert gains == {3: 4_000 * U, 4: 1_000 * U, 5: 5_000 * U}


MAX_ONE = replace(DYDX, liquidation=replace(DYDX.liquidation, deleveraging=DeleveragingRule(max_iterated=1)))


def test_what_no_one_takes_stays_with_the_account_for_the_next_block() -> None:
    """At most one subaccount iterated: block 5 starts at 5 (digest % 3 = 2), which gives 5 BTC;
    LONG keeps the other 5 and its deficit, 10,000 − 5,000 − 5 × 1,500 = −2,500 (the fund pays
    none of it). Block 6: the order (0.5 BTC at 17,667.5) fills nothing again; the opposite
    positions are 3, 4, the start digest("deleveraging/6/BTCUSDT") % 2 = 1: 4 gives 3 BTC.
    Block 7: only 3 is left: it gives the last 2. All at 19,000."""
    assert digest("deleveraging/6/BTCUSDT") % 2 == 1
    ex = world(MAX_ONE)
    fund = ex.state.ledger.insurance("USDT")
    got = []
    for ts, cmd in ((5, C.SetIndexPrice(5 * SEC, SYMBOL, 185_000)), (6, C.AdvanceClock(6 * SEC)),
                    (7, C.AdvanceClock(7 * SEC))):
        events = ex.apply(cmd)
        ex.check_integrity()
        got.append([(e.counterparty, e.qty, e.price) for e in events if isinstance(e, AutoDeleveraged)])
        if ts == 5:
            assert held(ex)[LONG] == 5_000 and ex.state.margin_balance(LONG, "USDT") == -2_500 * U
            assert ex.state.ledger.insurance("USDT") == fund
    assert got == [[(5, 5_000, 190_000)], [(4, 3_000, 190_000)], [(3, 2_000, 190_000)]]
    assert LONG not in held(ex) and ex.state.wallet(LONG, "USDT") == 0
    assert ex.state.ledger.insurance("USDT") == fund


def hedged_short(extra: int) -> Exchange:
    """BTC and ETH under dydx (IMF 5 %, MMF 3 %). LONG: 10 BTC from 20,000 at 20x on 10,000 USDC
    (bankruptcy 19,000), bought from the maker 3. WEAK (account 4), cross at 20x on 540,000 +
    `extra` USDC: short 30 BTC from 20,000 (to account 8) and long 1,500 ETH from 2,000 (from 9).
    At 3 s BTC's oracle goes to 19,600 (LONG: TNC 6,000 ≥ MMR 5,880) and ETH's to 1,700 (WEAK:
    540,000 + 12,000 − 450,000 = 102,000 ≥ MMR 17,640 + 76,500); a bid of 5 BTC rests at 17,000."""
    specs = {s: market_under(DYDX, default_markets()[s]) for s in (SYMBOL, "ETHUSDT")}
    btc, eth = specs[SYMBOL], specs["ETHUSDT"]
    ex = Exchange(specs, {s: market_brackets(sp) for s, sp in specs.items()}, profile=DYDX, start_ts=1)
    ex.apply(C.SetIndexPrice(1, SYMBOL, btc.price_to_ticks("20000")))
    ex.apply(C.SetIndexPrice(1, "ETHUSDT", eth.price_to_ticks("2000")))
    for a in (3, 8, 9):
        ex.apply(C.Deposit(1, a, "USDT", 10_000_000 * U))
    ex.apply(C.Deposit(1, LONG, "USDT", int(10 * (1_000 + 20_000 * btc.taker_fee) * U)))
    ex.apply(C.SetLeverage(1, LONG, SYMBOL, 20))
    fees = 30 * 20_000 * btc.taker_fee + 1_500 * 2_000 * eth.taker_fee
    ex.apply(C.Deposit(1, 4, "USDT", int((540_000 + extra + fees) * U)))
    for symbol in specs:
        ex.apply(C.SetLeverage(1, 4, symbol, 20))
    trades = ((3, SYMBOL, Side.SELL, "10", "20000"), (LONG, SYMBOL, Side.BUY, "10", "20000"),
              (8, SYMBOL, Side.BUY, "30", "20000"), (4, SYMBOL, Side.SELL, "30", "20000"),
              (9, "ETHUSDT", Side.SELL, "1500", "2000"), (4, "ETHUSDT", Side.BUY, "1500", "2000"),
              (8, SYMBOL, Side.BUY, "5", "17000"))
    for account, symbol, side, qty, price in trades:
        spec = specs[symbol]
        ex.apply(C.PlaceOrder(1, account, symbol, side, spec.qty_to_lots(qty), spec.price_to_ticks(price)))
    ex.apply(C.SetIndexPrice(3 * SEC, SYMBOL, btc.price_to_ticks("19600")))
    ex.apply(C.SetIndexPrice(3 * SEC, "ETHUSDT", eth.price_to_ticks("1700")))
    assert ex.state.wallet(4, "USDT") == (540_000 + extra) * U
    assert not ex.liquidation._blocks  # nobody liquidated yet
    return ex


@pytest.mark.parametrize(("extra", "taker"), [(0, 3), (20_000, 4)])
def test_an_offset_that_would_leave_its_account_riskier_is_passed(extra: int, taker: int) -> None:
    """BTC's oracle gaps to 18,000 at 9 s: LONG's TNC is −10,000, its order (at 17,190) finds no
    bid, so its 10 BTC go to deleveraging at 19,000. Block 9's start is digest % 2 = 1: the
    second of the shorts 3 and 4, WEAK. Giving 10 BTC at 19,000, 1,000 above the oracle, takes
    its TNC from 540,000 + 60,000 − 450,000 = 150,000 to 140,000, below its IMR after, 0.05 ×
    (360,000 + 2,550,000) = 145,500, and its TNC / MMR from 150,000 / 92,700 = 1.618 (MMR 0.03 ×
    (540,000 + 2,550,000)) to 140,000 / 87,300 = 1.604: riskier, so dYdX's Match check refuses it
    and the walk goes on to 3. With 20,000 more, 170,000 → 160,000 ≥ 145,500: WEAK takes it."""
    assert digest("deleveraging/9/BTCUSDT") % 2 == 1
    assert not offset_allowed(tnc=150_000, mmr=92_700, tnc_after=140_000, mmr_after=87_300, imr_after=145_500)
    ex = hedged_short(extra)
    events = ex.apply(C.SetIndexPrice(9 * SEC, SYMBOL, 180_000))
    ex.check_integrity()
    assert [(e.counterparty, e.qty, e.price) for e in events if isinstance(e, AutoDeleveraged)] == \
        [(taker, 10_000, 190_000)]
    assert ex.state.margin_balance(4, "USDT") == (150_000 + extra - (10_000 if taker == 4 else 0)) * U
    assert ex.state.maintenance(4, "USDT") == (92_700 if taker == 3 else 87_300) * U


CAP_TWO = replace(DYDX, liquidation=replace(DYDX.liquidation,
                                           steps=replace(DYDX.liquidation.steps, block_accounts=2)))
CROWD = (11, 12, 13, 14, 15)


def longs(accounts: tuple[int, ...], profile: VenueProfile, engine: type = Exchange) -> Exchange:
    """Longs of 1 BTC each (`accounts`) from 20,000 at 20x on 1,000 USDC each (bankruptcy price
    19,000), bought from the maker 3's short of as many."""
    spec = market_under(profile, default_markets()[SYMBOL])
    px, lots = spec.price_to_ticks, spec.qty_to_lots
    ex = engine({SYMBOL: spec}, {SYMBOL: market_brackets(spec)}, profile=profile, start_ts=1)
    ex.apply(C.SetIndexPrice(1, SYMBOL, px("20000")))
    ex.apply(C.Deposit(1, 3, "USDT", 100_000_000 * U))
    ex.apply(C.PlaceOrder(1, 3, SYMBOL, Side.SELL, lots("1") * len(accounts), px("20000")))
    for a in accounts:
        ex.apply(C.Deposit(1, a, "USDT", int((1_000 + 20_000 * spec.taker_fee) * U)))
        ex.apply(C.SetLeverage(1, a, SYMBOL, 20))
        ex.apply(C.PlaceOrder(1, a, SYMBOL, Side.BUY, lots("1"), px("20000")))
    return ex


def crowd(profile: VenueProfile = CAP_TWO, engine: type = Exchange) -> Exchange:
    """Five longs of 1 BTC from 20,000 at 20x (1,000 USDC each) against the maker 3, and a bid
    of 100 BTC at 19,400."""
    ex = longs(CROWD, profile, engine)
    spec = market_under(profile, default_markets()[SYMBOL])
    ex.apply(C.PlaceOrder(1, 3, SYMBOL, Side.BUY, spec.qty_to_lots("100"), spec.price_to_ticks("19400")))
    return ex


def test_a_block_liquidates_at_most_its_cap_of_accounts() -> None:
    """The oracle at 19,500: each long's TNC 500 < MMR 585, so all five are liquidatable; with a
    cap of 2 a block, block 5 takes the window of 2 from digest("liquidations/5/") % 5 = 3 (one
    draw a block over every market's accounts) in account order: 14, 15 (each sells its 0.1 BTC
    at 19,400); the rest wait. Block 6 (all five still under water, none liquidated in it yet):
    start 3 again, 14 and 15 (0.09 BTC each, 10 % of 0.9); block 7: start 2, 13 (0.1 BTC) and
    14, whose 0.081 BTC finds no bid at its limit: TNC 425.71 over MMR 0.81 × 19,500 × 3 % =
    473.85, ABR 48.14 / 473.85, 19,500 − 1.5 × ABR × 585 = 19,410.85 → 19,410.9, above the
    19,400 bid (TNC positive: no deleveraging)."""
    assert [digest(f"liquidations/{b}/") % 5 for b in (5, 6, 7)] == [3, 3, 2]
    ex = crowd()
    per_block = []
    for cmd in (C.SetIndexPrice(5 * SEC, SYMBOL, 195_000), C.AdvanceClock(5 * SEC + SEC // 2),
                C.AdvanceClock(6 * SEC), C.AdvanceClock(7 * SEC)):
        events = ex.apply(cmd)
        ex.check_integrity()
        per_block.append(sorted((e.account, e.qty, e.filled) for e in events if isinstance(e, Liquidation)))
    assert per_block == [[(14, 100, 100), (15, 100, 100)], [], [(14, 90, 90), (15, 90, 90)],
                         [(13, 100, 100), (14, 81, 0)]]


def test_the_mainnet_cap_does_not_bind_five_accounts() -> None:
    """50 a block: all five go in block 5."""
    ex = crowd(DYDX)
    events = ex.apply(C.SetIndexPrice(5 * SEC, SYMBOL, 195_000))
    assert sorted(e.account for e in events if isinstance(e, Liquidation)) == list(CROWD)


def test_the_plain_twin_deleverages_and_caps_alike() -> None:
    """The compiled engine and its plain-Python twin (engine/twin.py): the same events and state
    hash through the walks above."""
    twin = pure_exchange().Exchange
    for build, profile, commands in (
            (world, MAX_ONE, (C.SetIndexPrice(5 * SEC, SYMBOL, 185_000), C.AdvanceClock(6 * SEC),
                              C.AdvanceClock(7 * SEC))),
            (crowd, CAP_TWO, (C.SetIndexPrice(5 * SEC, SYMBOL, 195_000), C.AdvanceClock(6 * SEC),
                              C.AdvanceClock(7 * SEC)))):
        runs = []
        for engine in (Exchange, twin):
            ex = build(profile, engine)
            runs.append(([[list(e) for e in ex.apply(cmd)] for cmd in commands], ex.state_hash()))
        assert runs[0] == runs[1] and all(runs[0][0])


def test_the_profile_caps_deleveraging_attempts_at_ten_a_block() -> None:
    """flags.go DefaultMaxDeleveragingAttemptsPerBlock = 10: the 10th attempt is allowed, an 11th not."""
    rule = DYDX.liquidation.deleveraging
    assert rule.max_attempts == MAX_ATTEMPTS == 10
    assert attempt_allowed(9, rule) and not attempt_allowed(10, rule)
    with pytest.raises(ValueError, match="max_attempts"):
        DeleveragingRule(max_attempts=0)


BANKRUPT = tuple(range(11, 23))


def bankrupt_longs(engine: type = Exchange) -> Exchange:
    """Twelve longs (11..22) of 1 BTC from 20,000 at 20x on 1,000 USDC each (bankruptcy price
    19,000) against the maker 3's 12 BTC short; no bids."""
    return longs(BANKRUPT, DYDX, engine)


def deleveraged(events: list) -> list:
    return [(e.account, e.counterparty, e.qty, e.price) for e in events if isinstance(e, AutoDeleveraged)]


def test_a_block_deleverages_at_most_ten_accounts_the_rest_wait() -> None:
    """The oracle gaps to 18,500 at 5 s (block 5): each long's TNC is 1,000 − 1,500 = −500; each
    block order (0.1 BTC: 10 % of the position, 1,850 at the oracle, above the 1,000 minimum)
    finds no bid, so all twelve are due for deleveraging, in the order they were liquidated. The
    first ten give their 1 BTC to 3 at 19,000 (wallet 0); the last two keep theirs and their −500
    (the fund pays none of it; their notices: the 0.1 sent, nothing filled or deleveraged), wait
    out the block (nothing at 5.5 s), and are deleveraged in block 6."""
    ex = bankrupt_longs()
    fund = ex.state.ledger.insurance("USDT")
    events = ex.apply(C.SetIndexPrice(5 * SEC, SYMBOL, 185_000))
    ex.check_integrity()
    order = [e.account for e in events if isinstance(e, Liquidation)]
    assert sorted(order) == list(BANKRUPT)
    first, rest = order[:10], order[10:]
    assert deleveraged(events) == [(a, 3, 1_000, 190_000) for a in first]
    assert [(e.qty, e.filled, e.deleveraged) for e in events if isinstance(e, Liquidation)][10:] == [(100, 0, 0)] * 2
    assert {a: held(ex).get(a, 0) for a in rest} == dict.fromkeys(rest, 1_000)
    assert all(ex.state.margin_balance(a, "USDT") == -500 * U for a in rest)
    assert all(ex.state.wallet(a, "USDT") == 0 and a not in held(ex) for a in first)
    # the block's count rides in the accounts' block records: one attempt each for the first ten
    assert sum(rec[4] for rec in ex.liquidation._blocks.values() if len(rec) > 4) == 10
    assert not [e for e in ex.apply(C.AdvanceClock(5 * SEC + SEC // 2)) if isinstance(e, Liquidation)]
    events = ex.apply(C.AdvanceClock(6 * SEC))
    ex.check_integrity()
    assert sorted(deleveraged(events)) == [(a, 3, 1_000, 190_000) for a in sorted(rest)]
    assert held(ex) == {}  # the twelve BTC all offset against 3's short
    assert ex.state.ledger.insurance("USDT") == fund


def test_the_block_count_is_in_the_state_hash_and_snapshots() -> None:
    """After block 5 above: a pickled copy (what a checkpoint writes) has the same hash and
    deleverages the waiting two alike in block 6; the same state without the count hashes
    otherwise; the plain-Python twin gives the same events and hashes."""
    ex = bankrupt_longs()
    ex.apply(C.SetIndexPrice(5 * SEC, SYMBOL, 185_000))
    copy = pickle.loads(pickle.dumps(ex))
    assert copy.state_hash() == ex.state_hash()
    uncounted = pickle.loads(pickle.dumps(ex))
    uncounted.liquidation._blocks = {a: rec[:4] for a, rec in uncounted.liquidation._blocks.items()}
    assert uncounted.state_hash() != ex.state_hash()
    a, b = ex.apply(C.AdvanceClock(6 * SEC)), copy.apply(C.AdvanceClock(6 * SEC))
    assert [list(e) for e in a] == [list(e) for e in b] and len(deleveraged(a)) == 2
    runs = []
    for engine in (Exchange, pure_exchange().Exchange):
        tw = bankrupt_longs(engine)
        runs.append(([[list(e) for e in tw.apply(cmd)] for cmd in (C.SetIndexPrice(5 * SEC, SYMBOL, 185_000),
                                                                    C.AdvanceClock(6 * SEC))], tw.state_hash()))
    assert runs[0] == runs[1] and runs[0][1] == ex.state_hash()


def test_ten_deleveragings_a_block_through_the_real_server(tmp_path) -> None:
    """`perpsim serve --profile dydx`: eleven longs of 1 BTC from 65,000 at 20x on 3,250 USDT each
    (bankruptcy price 61,750) against one maker's 11 BTC short, nothing bidding. A −10 % shock puts
    the oracle at 58,500: every TNC is 3,250 − 6,500 = −3,250 and every block order fills nothing;
    the block deleverages ten of them whole at 61,750, the eleventh keeps its BTC and its −3,250
    (the fund pays none of it) until a later block (the clock a second on) deleverages it too."""
    with own_venue(tmp_path, profile="dydx") as (running, _cfg, _trader), \
            Client(running.address, admin_key=(tmp_path / "admin.key").read_text().strip()) as admin:
        admin.set_index_price(SYMBOL, "65000")
        maker = admin.with_key(admin.create_account().api_key)
        maker.deposit("USDT", "1000000")
        maker.place_order(SYMBOL, "sell", "11", "65000")
        longs = [admin.with_key(admin.create_account().api_key) for _ in range(11)]
        for trader in longs:
            trader.deposit("USDT", "3282.5")  # 3,250 + the 32.5 opening fee
            assert trader.set_leverage(SYMBOL, 20) == 20
            trader.place_order(SYMBOL, "buy", "1", "65000")
        fund = admin.insurance_fund("USDT")["USDT"]

        result = admin.shock_price(SYMBOL, "-10")
        assert result.liquidations == 11
        got = sorted((f.filled_quantity, f.deleveraged) for f in result.forced_orders)
        assert got == [(Decimal(0), Decimal(0))] + [(Decimal(0), Decimal(1))] * 10
        waiting = [t for t in longs if t.positions(SYMBOL)]
        assert len(waiting) == 1 and waiting[0].positions(SYMBOL)[0].quantity == Decimal("1")
        assert waiting[0].account().balance("USDT").margin_balance == Decimal("-3250")
        admin.advance_clock(SEC)
        assert not waiting[0].positions(SYMBOL) and waiting[0].account().balance("USDT").wallet == 0
        assert not maker.positions(SYMBOL) and admin.insurance_fund("USDT")["USDT"] == fund
