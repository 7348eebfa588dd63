"""The order book's batch API, and its C constants against the model's enums."""

from __future__ import annotations

import numpy as np
import pytest

from perpsim.engine.book_types import OP_ADD, OP_CANCEL, OP_MARKET, BookLimits, OrderView, make_book
from perpsim.model.enums import EventKind, ExpireCause, OrderKind, Side, StpMode, TimeInForce
from tests.unit.engine.book_kit import BUY, GTC, NONE, SELL, advance, cancel, market, place


def _col(values):
    return np.array(values, dtype=np.int64)


# op, side, price, qty, order_id
BATCH_STREAM = (
    (OP_ADD, SELL, 100, 3, 1),
    (OP_ADD, SELL, 101, 2, 2),
    (OP_ADD, BUY, 99, 4, 3),
    (OP_MARKET, BUY, 0, 4, 4),  # protection 0: bounded only by the book's max price
    (OP_CANCEL, 0, 0, 0, 3),
    (OP_ADD, BUY, 101, 2, 5),
    (OP_MARKET, SELL, 100, 5, 6),
    (OP_ADD, SELL, 102, 7, 7),
    (OP_CANCEL, 0, 0, 0, 99),  # unknown: rejected, no effect
    (OP_MARKET, BUY, 101, 1, 8),  # the ask at 102 is beyond protection
)


class TestRunBatch:
    @staticmethod
    def columns(rows):
        return [_col(c) for c in zip(*rows, strict=True)]

    def test_fills_and_totals(self, book):
        out = book.run_batch(*self.columns(BATCH_STREAM))
        book.check_integrity()

        assert out["taker_order_id"].tolist() == [4, 4, 5, 6]
        assert out["maker_order_id"].tolist() == [1, 2, 2, 5]
        assert out["price"].tolist() == [100, 101, 101, 101]
        assert out["qty"].tolist() == [3, 1, 1, 1]
        assert all(out[k].dtype == np.int64 for k in ("taker_order_id", "maker_order_id", "price", "qty"))
        assert (out["trades"], out["volume"], out["resting_orders"]) == (4, 6, 1)
        assert book.orders() == [OrderView(7, 7, SELL, 102, 7, GTC, NONE, 0)]

    def test_matches_per_call_operations(self, impl, book):
        per_call = make_book(impl, BookLimits(book.min_price, book.max_price, book.min_qty, book.max_qty))
        fills = []
        for op, side, price, qty, oid in BATCH_STREAM:
            if op == OP_ADD:
                events = place(per_call, oid, oid, side, price, qty)
            elif op == OP_CANCEL:
                events = cancel(per_call, oid)
            else:
                protect = price or (per_call.max_price if side == BUY else per_call.min_price)
                events = market(per_call, oid, oid, side, qty, protect)
            fills += [(e.order_id, e.counter_order_id, e.price, e.qty) for e in events if e.kind == EventKind.FILL]

        out = book.run_batch(*self.columns(BATCH_STREAM))

        batch_fills = list(
            zip(*(out[k].tolist() for k in ("taker_order_id", "maker_order_id", "price", "qty")), strict=True)
        )
        assert batch_fills == fills
        assert (out["trades"], out["volume"], out["resting_orders"]) == (
            per_call.trades,
            per_call.volume,
            per_call.order_count,
        )
        assert book.state_hash() == per_call.state_hash()

    def test_runs_at_the_current_time_and_honours_accounts(self, book):
        advance(book, 500)
        op, side, price, qty, oid = self.columns([(OP_ADD, SELL, 100, 2, 1), (OP_ADD, BUY, 100, 1, 2)])

        out = book.run_batch(op, side, price, qty, oid, _col([7, 7]))
        book.check_integrity()

        assert out["maker_order_id"].tolist() == [1]  # same account, STP NONE: self-trade allowed
        assert book.order(1) == OrderView(1, 7, SELL, 100, 1, GTC, NONE, 0)
        assert book.last_ts == 500

    def test_market_price_zero_is_protected_only_by_the_book_limits(self, tight_book):
        rows = [
            (OP_ADD, SELL, 200, 10, 1),
            (OP_ADD, BUY, 100, 10, 2),
            (OP_MARKET, BUY, 0, 10, 3),
            (OP_MARKET, SELL, 0, 10, 4),
        ]

        out = tight_book.run_batch(*self.columns(rows))
        tight_book.check_integrity()

        assert out["taker_order_id"].tolist() == [3, 4]
        assert out["maker_order_id"].tolist() == [1, 2]
        assert out["price"].tolist() == [200, 100]
        assert (out["trades"], out["volume"], out["resting_orders"]) == (2, 20, 0)

    def test_empty_batch(self, book):
        out = book.run_batch(*(_col([]) for _ in range(5)))

        assert [out[k].tolist() for k in ("taker_order_id", "maker_order_id", "price", "qty")] == [[]] * 4
        assert (out["trades"], out["volume"], out["resting_orders"]) == (0, 0, 0)

    def test_unknown_op_raises(self, book):
        with pytest.raises(ValueError):
            book.run_batch(*self.columns([(7, BUY, 100, 1, 1)]))

    def test_columns_of_different_length_raise(self, book):
        with pytest.raises(ValueError):
            book.run_batch(_col([OP_ADD]), _col([BUY]), _col([100]), _col([1]), _col([1, 2]))


# ---------------------------------------------------------------------------- constants


def test_cython_constants_match_model_enums():
    from perpsim.engine.book import CONSTANTS

    expected = {
        **{m.name: m.value for m in Side},
        **{m.name: m.value for m in OrderKind},
        **{m.name: m.value for m in TimeInForce},
        **{("STP_NONE" if m is StpMode.NONE else m.name): m.value for m in StpMode},
        **{f"EV_{m.name}": m.value for m in EventKind},
        **{f"X_{m.name}": m.value for m in ExpireCause},
    }
    assert CONSTANTS == expected
