"""risk.adl: rank scores per venue ranking, the queue, a counterparty's capacity, the quantile;
against hand-worked numbers (BTCUSDT units: K = 10**4 money units per lot·tick, 1e8 per USDT)."""

from __future__ import annotations

from fractions import Fraction

from perpsim.risk import adl
from perpsim.risk.profiles import BINANCE, DYDX, HYPERLIQUID
from perpsim.risk.venue_rules import AdlRanking

U = 10**8


def score(ranking, **kw) -> Fraction:
    base = {"key": 4, "ts": 0, "upnl": 0, "wallet": 0, "maintenance": 0, "money_scale": U, "lots": 1_000,
            "cost": 1_000 * 200_000, "mark": 220_000, "K": 10**4, "k_inv": 0, "inverse": False}
    return adl.position_score(ranking, **{**base, **kw})


def test_binance_ranks_by_leverage_pnl():
    """uPnL 50, wallet 100, MM 10 USDT: PnL% = 50/100, margin ratio 10/150: 1/30."""
    assert score(AdlRanking.BINANCE_LEVERAGE_PNL, upnl=50 * U, wallet=100 * U, maintenance=10 * U) == Fraction(1, 30)
    # OKX publishes none: the same formula stands in
    assert score(AdlRanking.UNPUBLISHED, upnl=50 * U, wallet=100 * U, maintenance=10 * U) == Fraction(1, 30)
    assert score(AdlRanking.BINANCE_LEVERAGE_PNL, upnl=-5 * U, wallet=100 * U, maintenance=10 * U) == 0


def test_hyperliquid_ranks_by_mark_over_entry_times_leverage():
    """1 BTC long from 20,000, mark 22,000: uPnL 2,000, wallet 1,000, account value 3,000, notional
    22,000: (22,000 / 20,000) × (22,000 / 3,000) = 121/15."""
    assert score(AdlRanking.MARK_OVER_ENTRY_TIMES_LEVERAGE, upnl=2_000 * U, wallet=1_000 * U) == Fraction(121, 15)
    # under water: last in the queue
    assert score(AdlRanking.MARK_OVER_ENTRY_TIMES_LEVERAGE, upnl=-2_000 * U, wallet=1_000 * U) == adl.LAST


def test_pnl_times_leverage_on_an_inverse_position():
    """1,000 BTCUSD contracts (1e11 money units × ticks each) opened at 20,000 (cost 5e8: 5 BTC),
    mark 25,000: notional 4 BTC, uPnL 1 BTC, wallet 1 BTC. PnL% = 1/5, leverage 4/2: 2/5."""
    s = score(AdlRanking.PNL_TIMES_LEVERAGE, inverse=True, k_inv=10**11, K=0, lots=1_000, cost=5 * U, mark=250_000,
              upnl=U, wallet=U)
    assert s == Fraction(2, 5)


def test_dydx_has_no_ranking_but_an_order_from_a_start_drawn_from_the_time():
    start = 7 * 2654435761 % (2**61 - 1)
    keys = [start - 8, start + 4, start, start + 12]
    scored = [(score(AdlRanking.RANDOM_START, key=k, ts=7), k) for k in keys]
    order = adl.queue(scored)
    assert order[::-1] == [start, start + 4, start + 12, start - 8]  # popped from the end
    assert not adl.needs_margin(AdlRanking.RANDOM_START) and adl.needs_margin(AdlRanking.PNL_TIMES_LEVERAGE)


def test_the_profiles_rankings():
    assert adl.ranking_of(BINANCE) is AdlRanking.BINANCE_LEVERAGE_PNL
    assert adl.ranking_of(HYPERLIQUID) is AdlRanking.MARK_OVER_ENTRY_TIMES_LEVERAGE
    assert adl.ranking_of(DYDX) is AdlRanking.RANDOM_START


def test_the_queue_pops_the_highest_score_then_the_lowest_key():
    order = adl.queue([(Fraction(1), 8), (Fraction(3), 12), (Fraction(3), 4), (Fraction(0), 16)])
    assert order == [16, 8, 12, 4]


def test_a_counterparty_gives_up_what_its_collateral_covers():
    """10 lots long from 100 (cost 1,000, K 1) closed at 90: 10 per lot lost."""
    assert adl.capacity(10, 1_000, 10, 90, 100, K=1, k_inv=0, inverse=False) == 10
    assert adl.capacity(10, 1_000, 10, 90, 55, K=1, k_inv=0, inverse=False) == 5
    assert adl.capacity(10, 1_000, 10, 90, 5, K=1, k_inv=0, inverse=False) == 0
    # a short closed above its entry likewise
    assert adl.capacity(-10, -1_000, 4, 110, 25, K=1, k_inv=0, inverse=False) == 2


def test_the_capacity_counts_the_loss_as_a_fill_rounds_it():
    """Entry 100.1 (cost 1,001 for 10 lots): closing 3 at 90 takes ceil(300.3) = 301 of cost out,
    a loss of 31 (not 30.3); 2 lose 21. With 30 of collateral, 2 go."""
    assert adl.capacity(10, 1_001, 10, 90, 30, K=1, k_inv=0, inverse=False) == 2
    assert adl.capacity(10, 1_001, 10, 90, 31, K=1, k_inv=0, inverse=False) == 3


def test_a_profitable_counterparty_gives_up_everything():
    assert adl.capacity(10, 1_000, 7, 120, 0, K=1, k_inv=0, inverse=False) == 7
    assert adl.capacity(1_000, 5 * U, 1_000, 250_000, 0, K=0, k_inv=10**11, inverse=True) == 1_000


def test_the_quantile_is_the_bucket_among_the_sides_scores():
    ordered = [Fraction(1), Fraction(2), Fraction(3), Fraction(4), Fraction(5)]
    assert adl.quantile(Fraction(5), ordered) == 4
    assert adl.quantile(Fraction(1), ordered) == 0
    assert adl.quantile(Fraction(0), ordered) == 0
