"""Each profile's funding form run by the engine itself, against the venues' published examples.

Sources (venue-mechanics §2.4–§2.6; the same as tests/fidelity/test_profile_{okx,hyperliquid,dydx}.py):
- Hyperliquid: F_8h = P + clamp(0.01 % − P, ±0.05 %), paid hourly at F_8h / 8 on size × oracle,
  capped at 4 % per hour; the page's example: premium 1 % → 0.95 % per 8 h, 0.11875 % per hour —
  https://hyperliquid.gitbook.io/hyperliquid-docs/trading/funding ;
- dYdX v4: rate_8h = premium + default funding (0), |rate_8h| ≤ 600 % × (IMF − MMF) = 12 % for
  Large-Cap, settled hourly (an eighth) on the oracle price —
  dydxprotocol/v4-chain protocol/x/perpetuals/keeper/perpetual.go ;
- OKX: F = clamp(MA(P − I), floor, cap), I = 0, BTC cap ±0.375 %, every 8 h on the mark —
  https://www.okx.com/help/okx-to-optimize-funding-rate-calculation .

The engine is driven by commands: a market maker's bid 1 % above the index and ask further up
hold the premium index at exactly 1 % for the whole interval.
"""

from __future__ import annotations

import pytest

from perpsim.engine import commands as C
from perpsim.engine.events import BalanceChanged, FundingSettled
from perpsim.engine.exchange import Exchange
from perpsim.model.enums import Side
from perpsim.model.market_files import default_markets
from perpsim.risk.brackets import btcusdt_brackets
from perpsim.risk.funding import FundingConfig
from perpsim.risk.mark import MarkForm
from perpsim.risk.profiles import BINANCE, DYDX, HYPERLIQUID, OKX, VenueProfile
from perpsim.risk.units import RATE_SCALE, div_up

U = 10**8  # money units per USDT
HOUR = 3_600 * 10**9
SYMBOL = "BTCUSDT"
SPEC = default_markets()[SYMBOL]
LONG, SHORT, MAKER = 1, 2, 3


def px(text: str) -> int:
    return SPEC.price_to_ticks(text)


def premium_of_one_percent(profile: VenueProfile) -> Exchange:
    """Index 20,000; the maker bids 20,200 (1 % above) and asks 20,400, deep past the impact
    notional, so P = (20,200 − 20,000) / 20,000 = 1 %; LONG holds 1 BTC bought from SHORT."""
    ex = Exchange({SYMBOL: SPEC}, {SYMBOL: btcusdt_brackets(U)}, profile=profile, start_ts=1)
    ex.apply(C.SetIndexPrice(1, SYMBOL, px("20000")))
    for a in (LONG, SHORT, MAKER):
        ex.apply(C.Deposit(1, a, "USDT", 1_000_000 * U))
    ex.apply(C.PlaceOrder(1, MAKER, SYMBOL, Side.BUY, SPEC.qty_to_lots("20"), px("20200")))
    ex.apply(C.PlaceOrder(1, MAKER, SYMBOL, Side.SELL, SPEC.qty_to_lots("20"), px("20400")))
    ex.apply(C.PlaceOrder(1, SHORT, SYMBOL, Side.SELL, SPEC.qty_to_lots("1"), px("20300")))
    ex.apply(C.PlaceOrder(1, LONG, SYMBOL, Side.BUY, SPEC.qty_to_lots("1"), px("20300")))
    assert ex.markets[SYMBOL].positions  # the pair traded
    ex.check_integrity()
    return ex


def settle(ex: Exchange, ts: int) -> tuple[FundingSettled, dict[int, int]]:
    """A command just before the funding time `ts` (the mark has followed the last price and
    basis to 20,300 by then; an oracle mark stays the index), then the one at it; the settlement
    and each account's payment."""
    ex.apply(C.SetIndexPrice(ts - 5 * 10**9, SYMBOL, px("20000")))
    assert ex.markets[SYMBOL].mark == px("20000" if ex.profile.mark_form is MarkForm.ORACLE else "20300")
    events = ex.apply(C.SetIndexPrice(ts, SYMBOL, px("20000")))
    ex.check_integrity()
    [settled] = [e for e in events if isinstance(e, FundingSettled)]
    paid = {e.account: e.delta for e in events if isinstance(e, BalanceChanged) and e.cause == "funding"}
    return settled, paid


def test_hyperliquid_pays_an_eighth_of_the_8h_rate_every_hour_on_the_oracle() -> None:
    ex = premium_of_one_percent(HYPERLIQUID)
    assert ex.markets[SYMBOL].funding.interval_ns == HOUR
    settled, paid = settle(ex, HOUR)
    assert settled.rate == 118_750  # 1 % premium → 0.95 % per 8 h → 0.11875 % for the hour
    assert settled.mark == px("20000")  # the oracle (the index), not the mark of 20,300
    # 1 BTC × 20,000 × 0.11875 % = 23.75 USDT, exact: nothing to round
    assert paid == {LONG: -2375 * U // 100, SHORT: 2375 * U // 100}


def test_dydx_pays_an_eighth_of_premium_plus_default_every_hour_on_the_oracle() -> None:
    ex = premium_of_one_percent(DYDX)
    settled, paid = settle(ex, HOUR)
    assert settled.rate == 125_000  # 1 % per 8 h, no band around an interest → 0.125 % an hour
    assert settled.mark == px("20000")
    assert paid == {LONG: -25 * U, SHORT: 25 * U}


def test_okx_caps_the_premium_and_pays_on_the_mark_every_8h() -> None:
    ex = premium_of_one_percent(OKX)
    assert ex.markets[SYMBOL].funding.interval_ns == 8 * HOUR
    settled, paid = settle(ex, 8 * HOUR)
    mark = px("20300")
    assert settled.rate == 375_000 and settled.mark == mark  # 1 % capped at 0.375 %, on the mark
    owed = SPEC.notional_per_tick_lot * SPEC.qty_to_lots("1") * mark * 375_000
    assert paid[LONG] == -div_up(owed, RATE_SCALE)  # the payer's debit rounds up
    assert paid[SHORT] == owed // RATE_SCALE == 7_612_500_000  # the receiver's credit down: 76.125 USDT


def test_binance_keeps_its_clamped_form() -> None:
    ex = premium_of_one_percent(BINANCE)
    assert ex.markets[SYMBOL].funding_config == FundingConfig()
    settled, _ = settle(ex, 8 * HOUR)
    assert settled.rate == 950_000  # 1 % − 0.05 %: the band around the 0.01 % interest


@pytest.mark.parametrize(("profile", "premium", "rate"), [
    (HYPERLIQUID, 50_000_000, 4_000_000),  # 49.95 % / 8 = 6.24 % an hour, capped at 4 %
    (HYPERLIQUID, -50_000_000, -4_000_000),
    (DYDX, 20_000_000, 1_500_000),  # clamped at 12 % per 8 h, then an eighth
    (DYDX, -20_000_000, -1_500_000),
    (DYDX, 1, 0),  # 1e-8 / 8 rounds to the nearest 1e-8: 0
    (DYDX, 4, 0),  # 0.5 → 0, ties to even
    (DYDX, 12, 2),  # 1.5 → 2, ties to even
    (OKX, -500_000, -375_000),
])
def test_caps_and_rounding_of_a_payments_rate(profile: VenueProfile, premium: int, rate: int) -> None:
    assert FundingConfig.of_rule(profile.funding).rate(premium) == rate


def test_a_bad_funding_config_is_refused() -> None:
    with pytest.raises(ValueError, match="form"):
        FundingConfig(form="linear")
    with pytest.raises(ValueError, match="price"):
        FundingConfig(price="last")
    with pytest.raises(ValueError, match="whole number"):
        FundingConfig(interval_ns=3 * HOUR, quoted_ns=8 * HOUR)
