"""Venue profiles through the real server: `perpsim serve --profile` (VenueConfig.profile) names
the profile in ListMarkets and runs its tiers and fees; CompareProfiles (ProfileService) gives
the calculator's side-by-side figures over gRPC, sync and async."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from perpsim.clients.client import AsyncClient, Client
from perpsim.clients.errors import PerpsimError
from perpsim.risk import compare as cmp
from tests.integration.conftest import own_venue


def test_the_default_venue_runs_binance_and_names_it(venue, admin: Client) -> None:
    assert admin.venue_profile() == "binance"
    infos = {p.name: p for p in admin.profiles()}
    assert set(infos) == {"binance", "bybit", "okx", "hyperliquid", "dydx"}
    assert [n for n, p in infos.items() if p.active] == ["binance"]
    assert infos["hyperliquid"].funding_payment_hours == 1 and infos["dydx"].liquidation_trigger == "oracle"
    assert {m.symbol: m.liquidation_trigger for m in admin.markets()}["BTCUSDT"] == "mark"


def test_compare_over_grpc_is_the_calculators_table(venue, admin: Client) -> None:
    c = admin.compare_profiles("BTCUSDT", "long", "1", 50, price="65000", mark_price="65000",
                               index_price="65000", premium="0.0003")
    assert [v.profile for v in c.venues] == ["binance", "bybit", "okx", "hyperliquid", "dydx"]
    local = cmp.compare(side="long", size="1", entry="65000", leverage=50, mark="65000", premium="0.0003")
    for remote, mine in zip(c.venues, local.venues, strict=True):
        assert remote.liquidation_price == mine.liquidation_price
        assert remote.initial_margin == mine.initial_margin
        assert remote.cost_to_open == mine.cost_to_open and remote.fee_close == mine.fee_close
        assert remote.funding_payment == mine.funding_payment
    # hand-checked: Bybit classic LP = 65,000 − (1,300 − 325); Hyperliquid caps BTC at 40x
    assert c.venue("bybit").liquidation_price == Decimal("64025.0")
    hl = c.venue("hyperliquid")
    assert (hl.leverage, hl.initial_margin, hl.liquidation_price) == (40, Decimal("1625.00"), Decimal("64177.3"))
    assert any("40x" in w for w in hl.warnings)


def test_compare_defaults_to_the_markets_prices_and_refuses_bad_input(venue, admin: Client) -> None:
    c = admin.compare_profiles("BTCUSD", "short", "100", 10)
    assert c.asset == "BTC" and c.mark_price == Decimal("65000")
    assert [v.profile for v in c.venues if v.listed] == ["binance", "bybit"]
    with pytest.raises(PerpsimError) as bad:
        admin.compare_profiles("BTCUSDT", "long", "-1", 10)
    assert bad.value.code == "invalid_value" and "size" in bad.value.message
    with pytest.raises(PerpsimError) as unknown:
        admin.compare_profiles("BTCUSDT", "long", "1", 10, profiles=["kraken"])
    assert "kraken" in unknown.value.message
    with pytest.raises(PerpsimError) as symbol:
        admin.compare_profiles("NOPE", "long", "1", 10)
    assert symbol.value.code == "unknown_symbol"


def test_compare_from_the_async_client(venue) -> None:
    async def run() -> Decimal | None:
        async with AsyncClient(venue.address) as c:
            await c.wait_ready()
            r = await c.compare_profiles("BTCUSDT", "short", "2", 20, price="65000", profiles=["dydx", "okx"])
            return r.venue("dydx").initial_margin

    assert asyncio.run(run()) == Decimal("6500.00")  # 2 × 65,000 / 20


def test_compare_with_one_wallet_for_every_venue(venue, admin: Client) -> None:
    c = admin.compare_profiles("BTCUSDT", "long", "1", 10, price="65000", mark_price="65000", wallet="2000",
                               profiles=["hyperliquid"])
    assert c.venue("hyperliquid").liquidation_price == Decimal("63797.5")  # 63,000 / 0.9875, rounded up
    with pytest.raises(PerpsimError) as bad:
        admin.compare_profiles("BTCUSDT", "long", "1", 10, wallet="-5")
    assert bad.value.code == "invalid_value" and "wallet" in bad.value.message


def test_serve_profile_hyperliquid_runs_its_tiers_and_fees(tmp_path) -> None:
    with own_venue(tmp_path, profile="hyperliquid") as (_running, _cfg, trader):
        assert trader.venue_profile() == "hyperliquid"
        markets = {m.symbol: m for m in trader.markets()}
        assert markets["BTCUSDT"].taker_fee_rate == Decimal("0.00045")
        assert markets["BTCUSDT"].liquidation_trigger == "mark"
        assert [p.name for p in trader.profiles() if p.active] == ["hyperliquid"]
        assert trader.set_leverage("BTCUSDT", 40) == 40
        with pytest.raises(PerpsimError) as refused:  # Hyperliquid's BTC tier allows 40x, Binance's 125x
            trader.set_leverage("BTCUSDT", 50)
        assert refused.value.code == "invalid_leverage"


def test_a_data_directory_keeps_the_profile_it_was_created_under(tmp_path) -> None:
    with own_venue(tmp_path, profile="bybit") as (_running, _cfg, trader):
        trader.set_leverage("BTCUSDT", 100)
    assert (tmp_path / "profile").read_text() == "bybit"
    with pytest.raises(RuntimeError, match="profile 'bybit', not 'okx'"), own_venue(tmp_path, profile="okx"):
        pass
    with own_venue(tmp_path, profile="bybit") as (_running, _cfg, trader):  # the same profile starts again
        assert trader.venue_profile() == "bybit"


@pytest.mark.parametrize("profile, taker, most", [("binance", "0.0005", 125), ("bybit", "0.00055", 100),
                                                  ("okx", "0.0005", 100), ("dydx", "0.0005", 20)])
def test_each_profile_serves_with_its_fees_and_leverage_cap(tmp_path, profile, taker, most) -> None:
    with own_venue(tmp_path, profile=profile) as (_running, _cfg, trader):
        btc = {m.symbol: m for m in trader.markets()}["BTCUSDT"]
        assert trader.venue_profile() == profile and btc.taker_fee_rate == Decimal(taker)
        assert trader.set_leverage("BTCUSDT", most) == most
        with pytest.raises(PerpsimError):
            trader.set_leverage("BTCUSDT", most + 1)
