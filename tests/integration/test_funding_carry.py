"""Funding carry through the real server: the next funding payment a position would make or
receive (ListPositions) and the one an order's resulting position would (PreviewOrder), and the
settlement at the funding time booking exactly the estimate."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from perpsim.clients.client import Client

BTC = "BTCUSDT"
SEC = 10**9


def test_positions_and_previews_show_the_carry_a_settlement_then_books(
        admin: Client, make_account: Callable[..., Client]) -> None:
    admin.set_index_price(BTC, "65000")
    maker, me = make_account("100000"), make_account("1000")
    maker.place_order(BTC, "sell", "0.01", "65000")
    me.place_order(BTC, "buy", "0.01", "65000")
    now = admin.advance_clock(60 * SEC)  # premium samples of an empty book: the rate is the interest alone
    [p] = me.positions(BTC)
    mark, rate = p.mark_price, Decimal("0.0001")  # 0.01 % per 8 hours
    assert p.next_funding_payment == -(Decimal("0.01") * mark * rate) < 0  # the long pays

    more = me.preview_order(BTC, "buy", "0.01", "65000")
    assert (more.resulting_quantity, more.funding_rate) == (Decimal("0.02"), rate)
    assert more.funding_payment == 2 * p.next_funding_payment
    flip = me.preview_order(BTC, "sell", "0.03", "65000")
    assert flip.resulting_quantity == Decimal("-0.02") and flip.funding_payment == -2 * p.next_funding_payment
    assert flip.next_funding_time_ns > now
    assert me.preview_order(BTC, "sell", "0.01", "65000").funding_payment == 0  # flat: no carry

    wallet = me.account().balance("USDT").wallet
    admin.advance_clock(flip.next_funding_time_ns - now)  # the funding time: the settlement
    assert me.account().balance("USDT").wallet - wallet == p.next_funding_payment


def test_the_preview_shows_the_liquidation_band(admin: Client, make_account: Callable[..., Client]) -> None:
    """Spec §4.2 step 3 as `perpsim calc` reads it: a position in bracket 2 at its liquidation
    price is first cut down to bracket 1 there, and liquidated in full lower down; one that
    the liquidation fee would leave liquidatable anyway goes in one go (partial = full)."""
    admin.set_index_price(BTC, "65000")
    me = make_account("400000")
    me.set_leverage(BTC, 5)
    big = me.preview_order(BTC, "buy", "30", "65000")  # 1.95 M notional: above bracket 1 at its LP
    assert big.partial_liquidation_price is not None and big.full_liquidation_price is not None
    assert abs(big.partial_liquidation_price - big.liquidation_price) <= Decimal("0.1")  # the LP, to the tick
    assert big.full_liquidation_price < big.partial_liquidation_price < Decimal(65000)
    small = me.preview_order(BTC, "buy", "1", "65000")  # a long the wallet covers at any price
    assert (small.liquidation_price, small.partial_liquidation_price, small.full_liquidation_price) == (None,) * 3
