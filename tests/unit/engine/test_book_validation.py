"""The order book: what it refuses, and the int64 edges."""

from __future__ import annotations

import pytest

from perpsim.model.reasons import RejectReason as R
from tests.unit.engine.book_kit import (
    BUY,
    FOK,
    GTC,
    GTD,
    GTX,
    INT64_MAX,
    INT64_MIN,
    IOC,
    LIMIT,
    MARKET,
    NONE,
    SELL,
    _done,
    accepted,
    advance,
    cancel,
    cancel_all,
    canceled,
    fill,
    place,
    queue,
    rejected,
    rest,
    snapshot,
)

BASE = {
    "order_id": 10,
    "account": 3,
    "side": BUY,
    "kind": LIMIT,
    "price": 155,
    "qty": 20,
    "tif": GTC,
    "stp": NONE,
    "expire_ts": 0,
}

REJECT_CASES = [
    ({"side": 2}, R.INVALID_SIDE),
    ({"side": -1}, R.INVALID_SIDE),
    ({"kind": 2}, R.INVALID_ORDER_TYPE),
    ({"kind": -1}, R.INVALID_ORDER_TYPE),
    ({"tif": 5}, R.INVALID_TIME_IN_FORCE),
    ({"tif": -1}, R.INVALID_TIME_IN_FORCE),
    ({"kind": MARKET, "tif": GTC}, R.INVALID_TIME_IN_FORCE),
    ({"stp": 4}, R.INVALID_STP_MODE),
    ({"stp": -1}, R.INVALID_STP_MODE),
    ({"qty": 0}, R.INVALID_QUANTITY),
    ({"qty": -20}, R.INVALID_QUANTITY),
    ({"qty": 9}, R.QUANTITY_TOO_SMALL),
    ({"qty": 51}, R.QUANTITY_TOO_LARGE),
    ({"price": 0}, R.INVALID_PRICE),
    ({"price": -155}, R.INVALID_PRICE),
    ({"price": 99}, R.PRICE_TOO_LOW),
    ({"price": 201}, R.PRICE_TOO_HIGH),
    ({"tif": GTD, "expire_ts": 1000}, R.INVALID_GTD_TIME),
    ({"tif": GTC, "expire_ts": 2000}, R.INVALID_GTD_TIME),
    ({"order_id": 1}, R.DUPLICATE_ORDER_ID),
    ({"order_id": 2, "side": SELL, "price": 170}, R.DUPLICATE_ORDER_ID),
    ({"tif": GTX, "price": 160}, R.POST_ONLY_WOULD_TAKE),
    ({"tif": FOK, "price": 160, "qty": 21}, R.FOK_NOT_FILLABLE),
    ({"tif": FOK, "price": 159, "qty": 10}, R.FOK_NOT_FILLABLE),
    # precedence: side, kind, tif, stp, qty, price, GTD time, duplicate id, post-only, FOK
    ({"side": 2, "kind": 2}, R.INVALID_SIDE),
    ({"kind": 2, "tif": 9}, R.INVALID_ORDER_TYPE),
    ({"tif": 9, "stp": 9}, R.INVALID_TIME_IN_FORCE),
    ({"kind": MARKET, "tif": GTX, "stp": 9}, R.INVALID_TIME_IN_FORCE),
    ({"stp": 9, "qty": 0}, R.INVALID_STP_MODE),
    ({"qty": 0, "price": 0}, R.INVALID_QUANTITY),
    ({"qty": 51, "price": 201}, R.QUANTITY_TOO_LARGE),
    ({"price": 0, "tif": GTD, "expire_ts": 0}, R.INVALID_PRICE),
    ({"tif": GTD, "expire_ts": 5, "order_id": 1}, R.INVALID_GTD_TIME),
    ({"order_id": 1, "tif": GTX, "price": 160}, R.DUPLICATE_ORDER_ID),
    ({"order_id": 1, "tif": FOK, "qty": 50}, R.DUPLICATE_ORDER_ID),
]


class TestValidation:
    NOW = 1000

    @pytest.fixture
    def vbook(self, tight_book):
        """Tight limits, clock at NOW, bid 150 (order 1, acct 1) and ask 160 (order 2, acct 2)."""
        advance(tight_book, self.NOW)
        rest(tight_book, 1, 1, BUY, 150, 20)
        rest(tight_book, 2, 2, SELL, 160, 20)
        return tight_book

    @pytest.mark.parametrize(("overrides", "reason"), REJECT_CASES, ids=lambda v: str(v))
    def test_place_rejected_with_one_event_and_no_change(self, vbook, overrides, reason):
        args = {**BASE, **overrides}
        before = snapshot(vbook)

        events = _done(vbook, vbook.place(**args, ts=self.NOW))

        assert events == [rejected(args["order_id"], args["account"], args["side"], args["price"], args["qty"], reason)]
        assert snapshot(vbook) == before

    @pytest.mark.parametrize("qty", [10, 50])
    def test_quantity_limits_are_inclusive(self, vbook, qty):
        events = place(vbook, 10, 3, BUY, 155, qty)

        assert events == [accepted(10, 3, BUY, 155, qty)]
        assert vbook.order(10).leaves == qty

    @pytest.mark.parametrize(("side", "price"), [(BUY, 100), (SELL, 200)])
    def test_price_limits_are_inclusive(self, vbook, side, price):
        events = place(vbook, 10, 3, side, price, 20)

        assert events == [accepted(10, 3, side, price, 20)]
        assert vbook.order(10).price == price

    def test_max_price_buy_trades_with_the_ask(self, vbook):
        events = place(vbook, 10, 3, BUY, 200, 20)

        assert events == [accepted(10, 3, BUY, 200, 20), fill(10, 3, BUY, 160, 20, 0, 2, 2, 0)]

    def test_id_reusable_after_fill_cancel_and_expiry(self, vbook):
        place(vbook, 10, 3, SELL, 150, 20)  # fills order 1 completely
        cancel(vbook, 2)
        rest(vbook, 3, 4, BUY, 120, 10, GTD, expire_ts=self.NOW + 5)
        advance(vbook, self.NOW + 5)
        assert vbook.order_count == 0

        for oid in (1, 2, 3, 10):
            rest(vbook, oid, 9, BUY, 110, 10)

        assert vbook.open_orders(9) == 4

    def test_id_of_an_ioc_remainder_is_reusable(self, vbook):
        place(vbook, 10, 3, BUY, 155, 20, IOC)

        events = place(vbook, 10, 3, BUY, 155, 20)

        assert events == [accepted(10, 3, BUY, 155, 20)]

    def test_equal_timestamp_is_not_stale(self, vbook):
        events = place(vbook, 10, 3, BUY, 155, 20, ts=self.NOW)

        assert events == [accepted(10, 3, BUY, 155, 20)]

    @pytest.mark.parametrize(
        ("command", "expected"),
        [
            (
                lambda b, ts: b.place(10, 3, BUY, LIMIT, 155, 20, GTC, NONE, 0, ts),
                rejected(10, 3, BUY, 155, 20, R.STALE_TIMESTAMP),
            ),
            (lambda b, ts: b.place(10, 3, 7, 7, -5, 0, 9, 9, 3, ts), rejected(10, 3, 7, -5, 0, R.STALE_TIMESTAMP)),
            (lambda b, ts: b.cancel(1, ts), rejected(1, 0, 0, 0, 0, R.STALE_TIMESTAMP)),
            (lambda b, ts: b.amend(1, 151, 5, ts), rejected(1, 0, 0, 151, 5, R.STALE_TIMESTAMP)),
            (lambda b, ts: b.cancel_all(1, ts), rejected(0, 1, 0, 0, 0, R.STALE_TIMESTAMP)),
            (lambda b, ts: b.advance(ts), rejected(0, 0, 0, 0, 0, R.STALE_TIMESTAMP)),
        ],
        ids=["place", "place-invalid", "cancel", "amend", "cancel_all", "advance"],
    )
    def test_stale_timestamp_is_rejected(self, vbook, command, expected):
        before = snapshot(vbook)

        events = _done(vbook, command(vbook, self.NOW - 1))

        assert events == [expected]
        assert snapshot(vbook) == before
        assert vbook.last_ts == self.NOW

    @pytest.mark.parametrize(
        "command",
        [
            lambda b: b.place(1 << 63, 3, BUY, LIMIT, 155, 20, GTC, NONE, 0, 1000),
            lambda b: b.place(10, INT64_MIN - 1, BUY, LIMIT, 155, 20, GTC, NONE, 0, 1000),
            lambda b: b.place(10, 3, 1 << 64, LIMIT, 155, 20, GTC, NONE, 0, 1000),
            lambda b: b.place(10, 3, BUY, LIMIT, 1 << 63, 20, GTC, NONE, 0, 1000),
            lambda b: b.place(10, 3, BUY, LIMIT, 155, -(1 << 70), GTC, NONE, 0, 1000),
            lambda b: b.place(10, 3, BUY, LIMIT, 155, 20, GTD, NONE, 1 << 63, 1000),
            lambda b: b.place(10, 3, BUY, LIMIT, 155, 20, GTC, NONE, 0, 1 << 63),
            lambda b: b.cancel(1 << 63, 1000),
            lambda b: b.cancel(1, 1 << 63),
            lambda b: b.amend(1, 1 << 63, 5, 1000),
            lambda b: b.amend(1, 151, INT64_MIN - 1, 1000),
            lambda b: b.cancel_all(1 << 63, 1000),
            lambda b: b.advance(1 << 63),
        ],
    )
    def test_values_beyond_int64_raise_overflow_error(self, vbook, command):
        events_before = vbook.events()
        before = snapshot(vbook)

        with pytest.raises(OverflowError):
            command(vbook)

        vbook.check_integrity()
        assert snapshot(vbook) == before
        assert vbook.events() == events_before

    def test_int64_extremes_are_accepted(self, vbook):
        rest(vbook, INT64_MAX, INT64_MIN, BUY, 140, 10)
        rest(vbook, INT64_MIN, INT64_MAX, BUY, 140, 10)

        assert queue(vbook, BUY, 140) == [INT64_MAX, INT64_MIN]
        assert advance(vbook, INT64_MAX) == []
        assert cancel(vbook, INT64_MIN) == [canceled(INT64_MIN, INT64_MAX, BUY, 140, 10)]
        assert cancel_all(vbook, INT64_MIN) == [canceled(INT64_MAX, INT64_MIN, BUY, 140, 10)]
        assert vbook.last_ts == INT64_MAX
