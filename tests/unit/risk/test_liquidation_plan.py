"""risk.liquidation_plan: the decisions of a liquidation, against hand-worked numbers.

BTCUSDT units: a tick is 0.1 USDT, a lot 0.001 BTC, money 1e-8 USDT, so K = 10**4 money units per
lot·tick and 20,000 USDT is 200,000 ticks; the first bracket ends at 50,000 USDT."""

from __future__ import annotations

from fractions import Fraction

from perpsim.model.enums import Side
from perpsim.model.market_files import default_markets
from perpsim.risk import liquidation_plan as LP
from perpsim.risk.brackets import Brackets, market_brackets
from perpsim.risk.margin import inverse_k
from perpsim.risk.profiles import BINANCE, DYDX, HYPERLIQUID, OKX
from perpsim.risk.venue_rules import PartialSteps, StepKind

U = 10**8
SPECS = default_markets()


def btcusdt(profile=BINANCE, fee_rate: int = 1_250_000) -> LP.MarketTerms:
    return LP.market_terms(K=10**4, k_inv=0, inverse=False, brackets=market_brackets(SPECS["BTCUSDT"]),
                           money_scale=U, price_limits=(1, 4_000_000), fee_rate=fee_rate,
                           steps=profile.liquidation.steps)


def btcusd(profile=BINANCE) -> LP.MarketTerms:
    spec = SPECS["BTCUSD"]
    return LP.market_terms(K=0, k_inv=inverse_k(spec.contract_size * spec.lot_size, spec.tick_size, U), inverse=True,
                           brackets=market_brackets(spec), money_scale=U, price_limits=(1, 4_000_000),
                           fee_rate=1_250_000, steps=profile.liquidation.steps)


class TestPartialCut:
    def test_down_a_tier_keeps_what_fits_the_lower_bracket_at_the_mark(self):
        """100 BTC at 20,000 is 2 M USDT, bracket 4 (1 M..10 M): it is cut to the 50 BTC whose
        notional is the 1 M cap of bracket 3."""
        t = btcusdt()
        assert LP.partial_cut(t, 100_000, 200_000) == 50_000
        assert LP.partial_cut(t, -100_000, 200_000) == 50_000  # a short alike
        # at 20,000.3 the 1 M cap holds 49,999.25 lots: 49,999 kept (down), 50,001 cut (up)
        assert LP.partial_cut(t, 100_000, 200_003) == 50_001

    def test_nothing_is_cut_within_the_first_bracket(self):
        assert LP.partial_cut(btcusdt(), 2_500, 200_000) == 0  # 50,000 USDT: the first cap itself
        assert LP.partial_cut(btcusdt(), 2_501, 200_000) == 2_501 - 2_500  # just above it

    def test_okx_cuts_from_tier_3_down_to_the_first_tier(self):
        t = btcusdt(OKX)
        assert LP.partial_cut(t, 100_000, 200_000) == 97_500  # 2 M, tier 4: 2,500 lots fit tier 1's 50,000
        assert LP.partial_cut(t, 10_000, 200_000) == 0  # 200 k, tier 2: all in one order
        assert LP.partial_cut(t, 12_501, 200_000) == 12_501 - 2_500  # just into tier 3

    def test_inverse_down_a_tier_keeps_the_contracts_worth_the_lower_cap(self):
        """BTCUSD: 100 USD contracts, brackets in BTC (the first to 10 BTC). 300,000 contracts at
        20,000 are 1,500 BTC; the lower cap there is 1,000 BTC, 200,000 contracts."""
        t = btcusd()
        bracket = t.brackets.for_notional(LP.notional(t, 300_000, 200_000))
        assert LP.notional(t, 300_000, 200_000) == 1_500 * U and bracket.floor == 1_000 * U
        assert LP.partial_cut(t, 300_000, 200_000) == 100_000

    def test_hyperliquid_takes_a_fifth_above_100k_of_notional(self):
        t = btcusdt(HYPERLIQUID)
        assert LP.partial_cut(t, 10_000, 200_000) == 2_000  # 200 k: 20 %, 8 BTC stay
        assert LP.partial_cut(t, 10_001, 200_000) == 2_001  # 2,000.2 lots: rounded up
        assert LP.partial_cut(t, 5_000, 200_000) == 0  # 100 k: not above it, all in one go

    def test_dydx_takes_a_tenth_but_at_least_1000_of_notional(self):
        t = btcusdt(DYDX)
        assert LP.partial_cut(t, 10_000, 200_000) == 1_000  # 10 %
        assert LP.partial_cut(t, 100, 200_000) == 50  # 10 lots < the 50 lots worth 1,000 USDT
        assert LP.partial_cut(t, 50, 200_000) == 0  # the step would close it all: one order
        assert LP.partial_cut(t, 100, 200_003) == 49  # 49.999 lots worth 1,000: down, as dYdX rounds a limit



class TestWhatGoesAndAtWhatPrice:
    def test_the_forced_price_is_the_bankruptcy_tick_within_the_price_limits(self):
        t = btcusdt()
        assert LP.forced_price(t, 190_123, 200_000) == 190_123
        assert LP.forced_price(t, None, 200_000) == 200_000  # no bankruptcy price: the mark
        assert LP.forced_price(t, -5, 200_000) == 1  # a short's bankruptcy price below zero
        assert LP.forced_price(t, 9_000_000, 200_000) == 4_000_000

    def test_an_isolated_position_goes_alone_a_cross_account_with_all_its_legs(self):
        assert LP.liquidated_legs(True, 1, (1, 2)) == (1,)
        assert LP.liquidated_legs(False, 0, (1, 2)) == (1, 2)


class TestAfterTheForcedOrder:
    def test_the_fund_takes_the_rest_while_it_has_money_else_adl(self):
        assert LP.takeover(0, 10) == LP.NONE
        assert LP.takeover(5, 1) == LP.FUND
        assert LP.takeover(-5, 0) == LP.ADL
        assert LP.takeover(5, -3) == LP.ADL

    def test_the_fee_rounds_up_and_never_exceeds_what_is_left(self):
        t = LP.market_terms(K=1, k_inv=0, inverse=False, brackets=Brackets.from_rows([(10**9, 10, 1_000_000)]),
                            money_scale=1, price_limits=(1, 10**6), fee_rate=1_000_000, steps=None)
        assert LP.liquidation_fee(t, 3, 7, 100) == 1  # 1 % of 21 is 0.21: 1
        assert LP.liquidation_fee(t, 300, 7, 100) == 21
        assert LP.liquidation_fee(t, 300, 7, 10) == 10  # capped at the collateral left
        assert LP.liquidation_fee(t, 300, 7, 0) == 0 and LP.liquidation_fee(t, 300, 7, -4) == 0
        assert LP.liquidation_fee(t, 0, 7, 100) == 0

    def test_the_inverse_fee_is_on_the_exact_coin_notional(self):
        """3 BTCUSD contracts at 65,000 are 300 / 65,000 BTC = 461,538.46 units; 1.25 % of it is
        5,769.23: 5,770."""
        t = btcusd()
        assert LP.notional(t, 3, 650_000) == Fraction(3 * 10**11, 650_000)
        assert LP.liquidation_fee(t, 3, 650_000, U) == 5_770

    def test_the_fund_covers_only_a_negative_remainder(self):
        assert LP.shortfall(-7) == 7 and LP.shortfall(0) == 0 and LP.shortfall(12) == 0


class TestOffload:
    def test_the_fund_sells_within_the_band_never_below_its_bankruptcy_price(self):
        assert LP.offload(5, 190_000, 195_000) == LP.Offload(Side.SELL, 195_000)
        assert LP.offload(5, 190_000, 185_000) == LP.Offload(Side.SELL, 190_000)
        assert LP.offload(-5, 210_000, 205_000) == LP.Offload(Side.BUY, 205_000)
        assert LP.offload(-5, 210_000, None) == LP.Offload(Side.BUY, 210_000)

    def test_what_the_fund_still_holds_is_deleveraged_once_the_mark_reaches_its_bankruptcy_price(self):
        assert LP.fund_deleverages(5, 195_000, 195_000) and LP.fund_deleverages(5, 194_000, 195_000)
        assert not LP.fund_deleverages(5, 196_000, 195_000)
        assert LP.fund_deleverages(-5, 205_000, 205_000) and not LP.fund_deleverages(-5, 204_999, 205_000)
        assert not LP.fund_deleverages(5, 1, None) and not LP.fund_deleverages(0, 1, 195_000)


def test_steps_of_another_kind_mean_down_a_tier():
    t = LP.market_terms(K=10**4, k_inv=0, inverse=False, brackets=market_brackets(SPECS["BTCUSDT"]), money_scale=U,
                        price_limits=(1, 4_000_000), fee_rate=0, steps=PartialSteps(StepKind.DOWN_A_TIER))
    assert t.steps is None and t.first_cap == 50_000 * U


class TestPacing:
    def test_hyperliquid_liquidates_in_full_for_30_s_after_a_partial_step(self):
        t = btcusdt(HYPERLIQUID)
        assert t.pace_ns == 30 * 10**9
        ts = 7 * 10**9
        until = LP.partial_not_before(t, ts)
        assert until == ts + 30 * 10**9
        assert LP.paced_cut(t, 10_000, 200_000, until - 1, until) == 0  # inside: the whole leg
        assert LP.paced_cut(t, 10_000, 200_000, until, until) == 2_000  # at its end: a fifth again
        assert LP.paced_cut(t, 10_000, 200_000, ts, 0) == 2_000  # no window open

    def test_profiles_without_an_interval_pace_nothing(self):
        assert btcusdt(DYDX).pace_ns == 0 and LP.partial_not_before(btcusdt(DYDX), 5) == 0
        assert btcusdt(OKX).pace_ns == 60 * 10**9 and btcusdt(OKX).waits  # OKX waits for its re-check
        assert btcusdt(DYDX).block_ns == 10**9 and btcusdt(HYPERLIQUID).block_ns == 0
        assert btcusdt().pace_ns == 0
