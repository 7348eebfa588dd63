"""The response path's kept price and quantity strings (venue.services.wire.formats): each the
market's own `format_price` / `format_qty` of the amount, whatever was asked before and however
often the strings are forgotten; an amount that is not an int is refused as the market refuses it."""

from __future__ import annotations

import dataclasses
import random

import pytest

from perpsim.model.market_files import default_markets
from perpsim.venue.services import wire

MARKETS = default_markets()


@pytest.mark.parametrize("symbol", ["BTCUSDT", "ETHUSDT"])
def test_kept_strings_are_the_markets_own(symbol: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(wire, "FORMATS_KEPT", 50)  # forgotten many times over below
    spec = MARKETS[symbol]
    price, qty = wire.formats(spec)
    rng = random.Random(1)
    amounts = [0, 1, 9, 10, 99, 100, 10**18, -1, -12345] + [rng.randint(0, 10**9) for _ in range(300)]
    for amount in amounts * 2:
        assert price[amount] == spec.format_price(amount)
        assert qty[amount] == spec.format_qty(amount)
    assert len(price) <= 50 and len(qty) <= 50
    assert wire.formats(spec) == (price, qty)  # the market's strings are kept between calls


def test_an_amount_that_is_not_an_int_is_refused_as_by_the_market() -> None:
    price, qty = wire.formats(MARKETS["BTCUSDT"])
    for bad in (True, 1.5):
        with pytest.raises(TypeError):
            price[bad]
        with pytest.raises(TypeError):
            qty[bad]


def test_a_market_with_other_rules_under_the_same_symbol_gets_its_own_strings() -> None:
    """A venue of another profile lists the symbol with another lot size: its strings, not the
    first market's."""
    spec = MARKETS["BTCUSDT"]
    other = dataclasses.replace(spec, lot_size=spec.lot_size * 10, min_qty=spec.min_qty * 10)
    _, qty = wire.formats(spec)
    assert qty[7] == spec.format_qty(7)
    _, qty_other = wire.formats(other)
    assert qty_other[7] == other.format_qty(7) != spec.format_qty(7)
    assert wire.formats(spec)[1][7] == spec.format_qty(7)
