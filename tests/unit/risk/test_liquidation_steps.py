"""risk.liquidation_plan's OKX and dYdX steps against hand-worked numbers (BTCUSDT units: a tick
0.1 USDT, a lot 0.001 BTC, money 1e-8 USDT, K = 10**4; 20,000 USDT = 200,000 ticks)."""

from __future__ import annotations

import pytest

from perpsim.model.market_files import default_markets
from perpsim.risk import liquidation_plan as LP
from perpsim.risk.brackets import Brackets, market_brackets
from perpsim.risk.profiles import DYDX, OKX
from perpsim.risk.venue_rules import PartialSteps, StepKind

U = 10**8
K = 10**4


def terms(steps: PartialSteps, brackets: Brackets | None = None) -> LP.MarketTerms:
    return LP.market_terms(K=K, k_inv=0, inverse=False,
                           brackets=brackets or market_brackets(default_markets()["BTCUSDT"]), money_scale=U,
                           price_limits=(1, 4_000_000), fee_rate=0, steps=steps)


class TestFirstTier:
    """OKX's example tiers at 20,000: tier 1 to 2,000 swaps (40,000), tier 2 to 12,000 (240,000)."""

    t = terms(OKX.liquidation.steps, Brackets.from_rows([(40_000 * U, 100, 450_000), (240_000 * U, 50, 1_050_000),
                                                         (10_000_000 * U, 20, 2_050_000)]))

    def test_15000_swaps_keep_2000(self):
        assert LP.first_tier_cut(self.t, 15_000, 200_000) == 13_000
        assert LP.first_tier_cut(self.t, -15_000, 200_000) == 13_000  # a short alike

    def test_tier_3_begins_at_12001_swaps(self):
        assert LP.first_tier_cut(self.t, 12_000, 200_000) == 0  # 240,000: tier 2, one order
        assert LP.first_tier_cut(self.t, 12_001, 200_000) == 10_001

    def test_the_kept_size_rounds_down(self):
        assert LP.first_tier_cut(self.t, 15_000, 199_000) == 15_000 - 2_010  # 2,010.05 swaps fit


class TestBlock:
    t = terms(DYDX.liquidation.steps)

    def test_the_block_terms(self):
        assert (self.t.block_ns, self.t.block_cap, self.t.pace_ns) == (10**9, 100_000 * U, 0)
        assert LP.block_of(self.t, 5 * 10**9 - 1) == 4 and LP.block_of(self.t, 5 * 10**9) == 5

    def test_a_tenth_or_1000_usdc_or_the_accounts_block_limit_whichever_binds(self):
        assert LP.block_cut(self.t, 10_000, 195_000, 100_000 * U) == 1_000  # 10 % of 195,000
        assert LP.block_cut(self.t, 80, 195_000, 100_000 * U) == 51  # 1,000 / 19.5 = 51.28
        assert LP.block_cut(self.t, 29, 193_000, 100_000 * U) == 29  # 559.7 ≤ 1,000: whole
        assert LP.block_cut(self.t, 100_000, 195_000, 100_000 * U) == 5_128  # the account's 100,000
        assert LP.block_cut(self.t, 100_000, 195_000, 30_000 * U) == 1_538  # what is left of it

    def test_nothing_when_not_even_a_lot_fits_what_is_left(self):
        assert LP.block_cut(self.t, 100_000, 195_000, 19 * U) == 0  # a lot is 19.5
        assert LP.block_cut(self.t, 100_000, 195_000, 0) == 0
        assert LP.block_cut(self.t, 100_000, 195_000, 20 * U) == 1

    def test_it_counts_at_the_mark(self):
        assert LP.block_notional(self.t, 5_128, 195_000) == 99_996 * U

    def test_a_block_needs_a_length(self):
        with pytest.raises(ValueError, match="block length"):
            terms(PartialSteps(StepKind.PER_BLOCK, fraction=10_000_000))
