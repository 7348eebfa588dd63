"""The decimal edge's parse caches: a text parses as its own market's rules say, also once a
market's spec is replaced; a refused text is refused every time."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import pytest

from perpsim.model.markets import MarketKind, MarketSpec
from perpsim.model.reasons import RejectReason as R
from perpsim.venue import convert as cv
from perpsim.venue.errors import VenueError


def spec(tick: str = "0.1", lot: str = "0.001") -> MarketSpec:
    return MarketSpec(symbol="BTCUSDT", kind=MarketKind.LINEAR, base="BTC", quote="USDT", settle="USDT",
                      tick_size=Decimal(tick), lot_size=Decimal(lot), min_qty=Decimal(lot), max_qty=Decimal(1000),
                      min_price=Decimal(tick), max_price=Decimal(100_000), settle_decimals=8)


def test_each_spec_parses_by_its_own_rules() -> None:
    fine, coarse = spec(), spec(tick="0.5", lot="0.01")
    assert cv.price_in(fine, "65000.5", 0) == 650_005
    assert cv.price_in(fine, "65000.5", 0) == 650_005  # the cached answer is the parsed one
    assert cv.price_in(coarse, "65000.5", 0) == 130_001  # an equal text, another market's ticks
    assert cv.qty_in(fine, "0.02", 0) == 20 and cv.qty_in(coarse, "0.02", 0) == 2
    # a spec replaced by an equal-but-new one (a profile switch) still parses right
    again = dataclasses.replace(coarse)
    assert again is not coarse and cv.price_in(again, "65000.5", 0) == 130_001


def test_a_refused_text_is_refused_every_time() -> None:
    coarse = spec(tick="0.5")
    for _ in range(2):
        with pytest.raises(VenueError) as off:
            cv.price_in(coarse, "65000.1", 0)
        assert off.value.reason == R.PRICE_OFF_TICK and off.value.field == "price"
    assert cv.price_in(spec(), "65000.1", 0) == 650_001  # on another market's grid it is fine
