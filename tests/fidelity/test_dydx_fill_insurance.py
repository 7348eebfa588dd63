"""dYdX v4's insurance fund delta, fill by fill (risk.dydx_fills, engine.dydx_fills).

Source: dydxprotocol/v4-chain @ 84d4664bae71e3a077adaac67fb77ad19cd28d30:
protocol/x/clob/keeper/process_single_match.go `ProcessSingleMatch` (per match of a liquidation
order `validateMatchedLiquidation(…, fillAmount, makerMatchableOrder.GetOrderSubticks())`, then
`persistMatchedOrders`: "Subtract quote balance delta with insurance fund payments."), each match
persisted before the next; liquidations.go `GetLiquidationInsuranceFundDelta` on
`GetBankruptcyPriceInQuoteQuantums` ("-DNNV - (TNC * (abs(DMMR) / TMMR))", the division floored)
of the fill's own delta: the fill's quote less that bankruptcy quote, paid by the fund when ≤ 0,
else min(max_liquidation_fee_ppm 15,000 of the quote, floored by `BigIntMulPpm`, that leftover).

The world: the dydx profile, BTCUSDT at MMF 3 %; a long of 10 BTC from 20,000 at 20x on 10,000
USDC (the maker sold it), the maker's bids as each test says; the fund holds 10,000 USDC. The
oracle falls to 19,100 in block 5: TNC 10,000 − 9,000 = 1,000, TMMR 5,730; the block's order is
1 BTC (10 % of 191,000) at the fillable price 19,100 − 1.5 × (4,730 / 5,730) × 573 = 18,390.5.
A 0.5 BTC fill's DMMR is 0.5 × 19,100 × 3 % = 286.5.
"""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from perpsim.engine import commands as C
from perpsim.engine.events import InsuranceFundChanged, Liquidation
from perpsim.engine.exchange import Exchange
from perpsim.engine.twin import pure_exchange
from perpsim.model.enums import Side
from perpsim.model.market_files import default_markets
from perpsim.risk.brackets import market_brackets
from perpsim.risk.dydx_fills import FillRun, fill_delta, matched
from perpsim.risk.profiles import DYDX, market_under
from perpsim.risk.units import RATE_SCALE
from tests.fidelity.test_dydx_insurance_limit import world

U = 10**8
SEC = 10**9
LONG, MAKER = 1, 3
RATE = DYDX.liquidation.fee_rate  # 1.5 %


def fund_moves(ex: Exchange, ts: int, symbol: str, index: str) -> list[tuple[D, str]]:
    """The fund's movements (USDC, + in) and their causes in the command that sets `index`."""
    events = ex.apply(C.SetIndexPrice(ts, symbol, ex.markets[symbol].spec.price_to_ticks(index)))
    ex.check_integrity()
    assert [e.filled for e in events if isinstance(e, Liquidation) and e.symbol == symbol] == [1_000]
    return [(D(e.delta) / U, e.cause) for e in events if isinstance(e, InsuranceFundChanged)]


def test_the_fund_pays_each_fills_own_shortfall() -> None:
    """Bids 0.5 at 18,900 then 0.5 at 18,500. Fill 1: quote 9,450 against 9,550 at the oracle
    (slippage 100); its share of TNC 1,000 × 286.5 / 5,730 = 50; delta 50 − 100 = −50: the fund
    pays 50; TNC 1,000 − 100 + 50 = 950, TMMR 5,443.5. Fill 2: slippage 300, share 950 × 286.5 /
    5,443.5 = 50, delta −250: the fund pays 250; TNC 900 (= 1,000 × 5,157 / 5,730, the ratio kept).
    Paid once the order was done on the account's collateral below zero (1,000 − 400 = 600 ≥ 0)
    the fund would have paid nothing."""
    ex = world(DYDX, bids=(("0.5", "18900"), ("0.5", "18500")), fund=10_000)
    assert fund_moves(ex, 5 * SEC, "BTCUSDT", "19100") == [(D(-50), "insurance_cover"),
                                                            (D(-250), "insurance_cover")]
    assert ex.state.margin_balance(LONG, "USDT") == 900 * U
    assert ex.liquidation._blocks[LONG][3] == 300 * U  # both count against the block's limit


def test_a_fee_on_one_fill_and_a_payment_on_the_next() -> None:
    """Bids 0.5 at 19,050 then 0.5 at 18,500. Fill 1: slippage 25, share 50, leftover 25 > 0: the
    fee is min(1.5 % × 9,525 = 142.875 → 142.875, 25) = 25, to the fund; TNC 1,000 − 25 − 25 =
    950. Fill 2: slippage 300, share 950 × 286.5 / 5,443.5 = 50, delta −250: the fund pays 250.
    Over the order together the leftover would be 100 − 325 < 0 and TNC 675 ≥ 0: no fee, no
    payment."""
    ex = world(DYDX, bids=(("0.5", "19050"), ("0.5", "18500")), fund=10_000)
    assert fund_moves(ex, 5 * SEC, "BTCUSDT", "19100") == [(D(25), "liquidation_fee"),
                                                            (D(-250), "insurance_cover")]
    assert ex.state.margin_balance(LONG, "USDT") == 900 * U  # 950 − 300 + 250


def two_markets(engine: type = Exchange) -> Exchange:
    """The 10 BTC long from 20,000 and 100 ETH long from 1,000, both at 20x on one cross wallet of
    15,000 USDC (after the opening fees); the maker bids 0.5 BTC at 19,000 then 0.5 at 18,900."""
    markets = default_markets()
    specs = {s: market_under(DYDX, markets[s]) for s in ("BTCUSDT", "ETHUSDT")}
    ex = engine(specs, {s: market_brackets(sp) for s, sp in specs.items()}, profile=DYDX, start_ts=1)
    btc, eth = specs["BTCUSDT"], specs["ETHUSDT"]
    ex.apply(C.SetIndexPrice(1, "BTCUSDT", btc.price_to_ticks("20000")))
    ex.apply(C.SetIndexPrice(1, "ETHUSDT", eth.price_to_ticks("1000")))
    ex.apply(C.Deposit(1, MAKER, "USDT", 100_000_000 * U))
    ex.apply(C.Deposit(1, LONG, "USDT", int((15_000 + 300_000 * btc.taker_fee) * U)))
    for s, sp, qty, price in (("BTCUSDT", btc, "10", "20000"), ("ETHUSDT", eth, "100", "1000")):
        ex.apply(C.SetLeverage(1, LONG, s, 20))
        ex.apply(C.PlaceOrder(1, MAKER, s, Side.SELL, sp.qty_to_lots(qty), sp.price_to_ticks(price)))
        ex.apply(C.PlaceOrder(1, LONG, s, Side.BUY, sp.qty_to_lots(qty), sp.price_to_ticks(price)))
    for qty, price in (("0.5", "19000"), ("0.5", "18900")):
        ex.apply(C.PlaceOrder(1, MAKER, "BTCUSDT", Side.BUY, btc.qty_to_lots(qty), btc.price_to_ticks(price)))
    return ex


def test_the_share_is_the_fills_part_of_the_accounts_whole_margin() -> None:
    """Two markets: at BTC 19,100 (ETH 1,000) TNC = 15,000 − 9,000 = 6,000, TMMR = 5,730 + 3,000 =
    8,730; the fillable price 19,100 − 1.5 × (2,730 / 8,730) × 573 = 18,831.22 → 18,831.3; the
    block's order 1 BTC. Fill 1 (0.5 at 19,000, slippage 50): share 6,000 × 286.5 / 8,730 =
    196.907216494… → 196.90721649 (floored to the unit, 10⁻⁸), leftover 146.90721649; fee min(1.5 %
    × 9,500 = 142.5, that) = 142.5; TNC 6,000 − 50 − 142.5 = 5,807.5, TMMR 8,443.5. Fill 2 (0.5 at
    18,900, slippage 100): share 5,807.5 × 286.5 / 8,443.5 = 197.056759637… → 197.05675963,
    leftover 97.05675963 < 1.5 % × 9,450 = 141.75: the fee is the leftover. The account keeps
    5,807.5 − 100 − 97.05675963 = 5,610.44324037. (The ETH leg's order, in the same block here,
    finds no bids and moves nothing.)"""
    ex = two_markets()
    assert fund_moves(ex, 5 * SEC, "BTCUSDT", "19100") == [(D("142.5"), "liquidation_fee"),
                                                            (D("97.05675963"), "liquidation_fee")]
    assert ex.state.margin_balance(LONG, "USDT") == 561_044_324_037


def test_fill_delta_floors_toward_minus_infinity() -> None:
    """Small integers (K 1, MMR 1 a lot): TNC −10 over 3 lots, one lot sold at the oracle: share
    −10 × 1 / 3 = −3.33 → −4, the fund pays 4; the next lot: TNC −10 + 4 = −6 over 2: share −3,
    the fund pays 3; the last: TNC −3, share −3. TNC 10 instead: shares 3 (fee min(1.5 % of 100 =
    1.5 → 1, 3) = 1), then 9 × 1 / 2 = 4.5 → 4 (fee 1), then 8 (fee 1)."""
    def mm(lots: int) -> int:
        return lots

    run = FillRun(sell=True, oracle=100, K=1, lots=3, pmm=3, tnc=-10, tmmr=3, rate=RATE)
    deltas = []
    for _ in range(3):
        delta, run = fill_delta(run, 1, 100, mm)
        deltas.append(delta)
    assert deltas == [-4, -3, -3] and run.tnc == 0
    run = FillRun(sell=True, oracle=100, K=1, lots=3, pmm=3, tnc=10, tmmr=3, rate=RATE)
    assert matched(run, [(1, 100)] * 3, mm, fund=0, left=None) == [1, 1, 1]
    assert RATE * 100 // RATE_SCALE == 1


def test_matching_stops_at_the_fill_the_fund_or_the_limit_cannot_pay() -> None:
    """TNC 0 over 4 lots (K 1), each lot sold 10 under the oracle: each delta −10. A fund of 25
    pays two (the third would take it to −5); a block limit of 30 three. A lot sold 10 over the
    oracle first: leftover 10, fee min(1.5 % of 110 = 1.65 → 1, 10) = 1, TNC 9; then each lot at
    90: share 9 × 1 / 3 = 3, delta 3 − 10 = −7 (TNC 6 over 2, then 3 over 1: −7 each). The fee is
    the fund's (a fund of 20 pays all three, of 19 two) and not counted against the limit (21
    lets all three through, 20 two)."""
    def mm(lots: int) -> int:
        return lots

    run = FillRun(sell=True, oracle=100, K=1, lots=4, pmm=4, tnc=0, tmmr=4, rate=RATE)
    assert matched(run, [(1, 90)] * 4, mm, fund=25, left=None) == [-10, -10]
    assert matched(run, [(1, 90)] * 4, mm, fund=100, left=30) == [-10, -10, -10]
    fills = [(1, 110), (1, 90), (1, 90), (1, 90)]
    assert matched(run, fills, mm, fund=20, left=21) == [1, -7, -7, -7]
    assert matched(run, fills, mm, fund=19, left=None) == [1, -7, -7]
    assert matched(run, fills, mm, fund=100, left=20) == [1, -7, -7]
    with pytest.raises(ValueError):
        fill_delta(run, 5, 90, mm)


def test_the_plain_twin_pays_alike() -> None:
    """The compiled engine and its plain-Python twin (engine/twin.py): the same events and state
    hash through the two-market account's fills and a later block's."""
    runs = []
    for engine in (Exchange, pure_exchange().Exchange):
        ex = two_markets(engine)
        commands = (C.SetIndexPrice(5 * SEC, "BTCUSDT", 191_000), C.SetIndexPrice(6 * SEC, "BTCUSDT", 188_000))
        applied = [ex.apply(cmd) for cmd in commands]
        assert any(isinstance(e, InsuranceFundChanged) for e in applied[0])
        runs.append(([[list(e) for e in events] for events in applied], ex.state_hash()))
    assert runs[0] == runs[1]
