"""A two-account cascade whose outcome is computed by hand from the spec's formulas.

BTCUSDT: tick 0.1, lot 0.001 BTC, money in 1e-8 USDT; maker fee 0.02 %, taker 0.05 %,
liquidation fee 1.25 %; first bracket MMR 0.4 %, cum 0. All commands are stamped before the
first 5-s basis sample and the funding rate is 0, so the mark equals the index (spec §1.1).

Setup (the populations' own rules, perpsim.sim.agents.LeveragedTraders): each member deposits
notional / leverage × (1 + buffer) + 2 × 0.05 % × notional, rests a buy of 1 BTC at 20,000
and its counterparty (a 5x short) sweeps it, so the member pays the 0.02 % maker fee (4 USDT).

  A: 50x -> deposit 400 + 20 = 420, wallet W_A = 416
  B: 32x -> deposit 625 + 20 = 645, wallet W_B = 641

One-way cross long, one position (§4.1): LP = (W - q·E) / (q·MMR - q), BP = E - W / q:

  A: LP = (416 - 20,000) / (0.004 - 1) = 19,662.65..., BP = 19,584
  B: LP = (641 - 20,000) / (0.004 - 1) = 19,436.75..., BP = 19,359

A static account bids 0.4 @ 19,600 and 0.6 @ 19,590. The index goes 20,000 -> 19,620 (t = 2 s)
-> 19,300 (t = 3 s); the fund starts empty.

  t = 2: 19,620 <= LP_A: A's forced IOC sells 1 @ 19,584 fill 0.4 @ 19,600 and 0.6 @ 19,590
         (both >= BP_A). Loss 0.4 × 400 + 0.6 × 410 = 406; 10 left < fee 1.25 % × 19,584 =
         244.8, so the fund gets 10. 19,620 > LP_B: B survives.
  t = 3: 19,300 <= LP_B: no bid >= 19,359 is left; the fund (10 > 0) takes B's 1 BTC at
         BP_B = 19,359. B has 641 - 641 = 0 left: no fee. The fund's own bankruptcy price is
         19,359 - 10 / 1 = 19,349 >= mark 19,300: its offload finds no bid at or above 19,349
         and it is deleveraged there against the best-ranked short. ADL ranks by LeveragePnL =
         uPnL / wallet × MM / (wallet + uPnL); both shorts are 1 BTC from 20,000 (uPnL 700),
         B's counterparty has the smaller wallet (20,000 / 5 × 2 - 10 = 7,990 against
         × 3 - 10 = 11,990), so it ranks first and takes the whole 1 BTC. The fund ends at
         10 - 1 × (19,359 - 19,349) = 0.
"""

from __future__ import annotations

from fractions import Fraction

from perpsim.engine.exchange import IF_ACCOUNT
from perpsim.engine.views import ExchangeView
from perpsim.sim import runner, scenario

U = 10**8
SCENARIO = """
name = "by-hand"
duration_s = 4
step_s = 1

[venue]
markets = ["BTCUSDT"]

[feed.BTCUSDT]
kind = "piecewise"
start = 20000
points = [[0, 20000], [1, 20000], [2, 19620], [3, 19300]]

[[agents]]
kind = "leveraged"
name = "a"
count = 1
leverage = 50
long_fraction = 1.0
notional = 20000
margin_buffer = 0
isolated_fraction = 0
stop_fraction = 0
exit_per_hour = 0
adder_fraction = 0
counterparty_collateral = 3

[[agents]]
kind = "leveraged"
name = "b"
count = 1
leverage = 32
long_fraction = 1.0
notional = 20000
margin_buffer = 0
isolated_fraction = 0
stop_fraction = 0
exit_per_hour = 0
adder_fraction = 0
counterparty_collateral = 2

[[agents]]
kind = "static"
name = "bids"
capital = 100000
orders = [["buy", "19600", "0.4"], ["buy", "19590", "0.6"]]
"""

# accounts in setup order: member of a, its counterparty, member of b, its counterparty, bids
A, CP_A, B, CP_B, BIDS = 1, 2, 3, 4, 5


def lp_bp(wallet: Fraction, qty: Fraction = Fraction(1), entry: Fraction = Fraction(20_000)):
    mmr = Fraction(4, 1000)
    return (wallet - qty * entry) / (qty * mmr - qty), entry - wallet / qty


def test_two_account_cascade_matches_the_hand_computation():
    w_a = Fraction(20_000, 50) + 20 - 4
    w_b = Fraction(20_000, 32) + 20 - 4
    lp_a, bp_a = lp_bp(w_a)
    lp_b, bp_b = lp_bp(w_b)
    assert (bp_a, bp_b) == (19_584, 19_359)
    assert lp_b < 19_620 <= lp_a and 19_300 <= lp_b  # A at t = 2 only, B at t = 3

    run = runner.Run(scenario.loads(SCENARIO))
    result = run.run(check_every=1)
    ex = run.exchange
    liq = result.liquidations  # step, symbol, account, side, qty, bankruptcy, filled, taken, adl, round, leverage
    assert [(r[0], r[2], r[4], r[5], r[6], r[7], r[8], r[9], r[10]) for r in liq] == [
        (2, A, 1_000, 195_840, 1_000, 0, 0, 0, 50),  # BP_A in ticks, all filled in the book
        (3, B, 1_000, 193_590, 0, 1_000, 0, 1, 32),  # BP_B, all to the fund, the next round
    ]
    forced = [(f[0], f[2], f[4], f[5]) for f in run.metrics.forced_fills]
    assert forced == [(2, A, 400, 196_000), (2, A, 600, 195_900)]
    assert result.adl == [[3, "BTCUSDT", IF_ACCOUNT, CP_B, 1_000, 193_490]]  # at the fund's BP 19,349

    fee_a = w_a - (Fraction(4, 10) * 400 + Fraction(6, 10) * 410)
    assert fee_a == 10
    assert result.series["insurance"]["USDT"] == [0, 0, float(fee_a), 0, 0]
    assert ExchangeView(ex).insurance("USDT") == 0
    assert ex.wallet(A, "USDT") == 0 and ex.wallet(B, "USDT") == 0
    # the deleveraged short closed 1 BTC at 19,349: 700 - 10 = 690 realised on top of its wallet
    assert ex.wallet(CP_B, "USDT") == (7_990 + 20_000 - 19_349) * U
    assert ex.position(CP_B, "BTCUSDT").lots == 0 and ex.position(CP_A, "BTCUSDT").lots == -1_000
    summary = result.summary["markets"]["BTCUSDT"]
    assert summary["liquidations_per_round"] == [1, 1] and summary["induced_liquidations"] == 0
