"""Commands that wait for the next Apply over gRPC (GrpcVenue, perpsim.sim.grpc_quiet): refusals
reported with a later command, position reads answered without a call while only quiet commands
wait, the venue's state that of sending one by one."""

from __future__ import annotations

from decimal import Decimal
from types import SimpleNamespace

from perpsim.engine import commands as C
from perpsim.engine.events import CommandRejected
from perpsim.model.enums import ConditionalKind, OrderKind, Side, TimeInForce, TriggerSource
from perpsim.sim.grpc_apply import Pending
from perpsim.sim.grpc_quiet import cut, quiet

from .grpc_kit import start_grpc_venue


def test_settings_wait_and_their_refusal_comes_with_the_next_command(tmp_path):
    venue, remote, spec = start_grpc_venue(tmp_path)
    try:
        remote.submit(C.SetIndexPrice(0, "BTCUSDT", spec.price_to_ticks("65000")))
        money = spec.money_to_units(Decimal("10000"))
        flying = [C.Deposit(0, 1, "USDT", money), C.SetLeverage(0, 1, "BTCUSDT", 1000),  # beyond the bracket
                  C.SetMarginMode(0, 1, "BTCUSDT", True), C.Deposit(0, 2, "USDT", money)]
        calls = remote.calls
        for cmd in flying:
            assert remote.submit(cmd) == []  # answered later
        assert remote.calls - calls == 2  # the two accounts' keys, nothing sent yet
        # a read waits for them: both deposits are in
        assert remote.available(1, "USDT") == remote.available(2, "USDT") == money
        events = remote.submit(C.SetLeverage(0, 2, "BTCUSDT", 5))
        assert [(e.command, e.account) for e in events if isinstance(e, CommandRejected)] == [("SetLeverage", 1)]
        order = C.PlaceOrder(0, 1, "BTCUSDT", Side.BUY, spec.qty_to_lots("0.01"), spec.price_to_ticks("64000"))
        assert not [e for e in remote.submit(order) if isinstance(e, CommandRejected)]
        # an account with an order: its stop and its cancel wait, then go in order
        stop = C.PlaceConditional(0, 1, "BTCUSDT", Side.SELL, spec.qty_to_lots("0.01"), ConditionalKind.STOP_MARKET,
                                  trigger_price=spec.price_to_ticks("60000"), source=TriggerSource.MARK)
        assert remote.submit(stop) == [] and remote.submit(C.CancelAll(0, 1, "BTCUSDT")) == []
        assert remote.top("BTCUSDT") == (None, None)
        late = remote.submit(C.Deposit(0, 2, "USDT", money))
        assert not [e for e in late if isinstance(e, CommandRejected)]
        assert remote.available(2, "USDT") == 2 * money
    finally:
        remote.close()
        venue.stop()


def _pending(cmd):
    return Pending(cmd, None)


def test_quiet_commands_cross_nothing_the_book_could_hold():
    top = {"BTCUSDT": SimpleNamespace(bid_ticks=100, ask_ticks=110, mark_reads_book=False)}

    def bid(price, account=1):
        return _pending(C.PlaceOrder(0, account, "BTCUSDT", Side.BUY, 1, price))

    def ask(price, account=1):
        return _pending(C.PlaceOrder(0, account, "BTCUSDT", Side.SELL, 1, price))

    cancel = _pending(C.CancelAll(0, 1, "BTCUSDT"))
    market = _pending(C.PlaceOrder(0, 2, "BTCUSDT", Side.BUY, 1, kind=OrderKind.MARKET, tif=TimeInForce.IOC))
    # below the best ask, above the best bid: nothing to cross; an ask at or under a waiting bid may cross it
    assert quiet([cancel, bid(105), ask(106), ask(101)], top, True) == [True, True, True, False]
    # a bid at the best ask crosses; an ask at a waiting bid's price may cross it; after anything
    # that may trade, nothing is quiet
    assert quiet([bid(110), ask(101)], top, True) == [False, False]
    assert quiet([bid(105), ask(105), cancel], top, True) == [True, False, False]
    assert quiet([market, bid(90)], top, True) == [False, False]
    # a mark that reads the book moves with any quote or cancel; a run that is not the venue's only
    # writer does not know the book: only settings stay quiet
    book_mark = {"BTCUSDT": SimpleNamespace(bid_ticks=100, ask_ticks=110, mark_reads_book=True)}
    deposit = _pending(C.Deposit(0, 1, "USDT", 5))
    assert quiet([deposit, bid(90)], book_mark, True) == [True, False]
    assert quiet([deposit, cancel], top, False) == [True, False]
    empty = {"BTCUSDT": SimpleNamespace(bid_ticks=0, ask_ticks=0, mark_reads_book=False)}
    assert quiet([bid(10**9), ask(1)], empty, True) == [True, False]


def test_a_block_of_groups_is_never_split_between_applies():
    """The venue ends a group at its first refusal within one Apply: a block goes whole, with
    whatever comes after it up to the limit."""
    def block(n, account=1):
        return [Pending(C.PlaceOrder(0, account, "BTCUSDT", Side.BUY, 1, 90 - i), None, block=n, group=n)
                for i in range(2)]

    market = _pending(C.PlaceOrder(0, 2, "BTCUSDT", Side.BUY, 1, kind=OrderKind.MARKET, tif=TimeInForce.IOC))
    cancel = _pending(C.CancelAll(0, 3, "BTCUSDT"))
    pending = [cancel, *block(1), cancel, *block(2), market]
    assert cut(pending, 1000) == 7  # the market order goes with the blocks before it
    assert cut(pending, 5) == 4 and cut(pending, 6) == 6  # a block is never split by the limit
    assert cut([*block(1), *block(2)], 1) == 2  # a block over the limit still goes whole


def test_positions_are_read_without_a_call_while_only_quiet_commands_wait(tmp_path):
    venue, remote, spec = start_grpc_venue(tmp_path)
    try:
        remote.submit(C.SetIndexPrice(0, "BTCUSDT", spec.price_to_ticks("65000")))
        money = spec.money_to_units(Decimal("100000"))
        for a in (1, 2):
            remote.submit(C.Deposit(0, a, "USDT", money))
            remote.submit(C.SetLeverage(0, a, "BTCUSDT", 10))
        lot = spec.qty_to_lots("0.01")
        remote.submit(C.PlaceOrder(0, 1, "BTCUSDT", Side.SELL, lot, spec.price_to_ticks("65010")))
        remote.submit(C.PlaceOrder(1, 2, "BTCUSDT", Side.BUY, lot, kind=OrderKind.MARKET, tif=TimeInForce.IOC))
        assert remote.position(1, "BTCUSDT") == -lot and remote.position(2, "BTCUSDT") == lot
        applies = remote.calls_by_rpc["Apply"]
        # a cancel and a quote that crosses nothing wait: the positions need no call
        remote.submit(C.CancelAll(1, 1, "BTCUSDT"))
        remote.submit_groups([[C.PlaceOrder(1, 1, "BTCUSDT", Side.BUY, lot, spec.price_to_ticks("64000"))]])
        assert remote.position(1, "BTCUSDT") == -lot and remote.calls_by_rpc["Apply"] == applies
        # a quote that crosses the best ask may trade: sent first
        remote.submit(C.PlaceOrder(1, 2, "BTCUSDT", Side.SELL, lot, spec.price_to_ticks("65000")))
        remote.submit_groups([[C.PlaceOrder(1, 1, "BTCUSDT", Side.BUY, lot, spec.price_to_ticks("65000"))]])
        assert remote.position(1, "BTCUSDT") == 0 and remote.calls_by_rpc["Apply"] == applies + 2
        assert remote.position(2, "BTCUSDT") == 0
        assert remote._raw.position_lots(remote._keys[1], "BTCUSDT") == 0  # the venue's own answer
    finally:
        remote.close()
        venue.stop()


def test_another_writers_commands_send_position_reads_to_thestart_grpc_venue(tmp_path):
    """Positions come from the batches' answers only while the run is the venue's only writer:
    once another caller's commands came between two Applys, they are read (ListPositions)."""
    venue, remote, spec = start_grpc_venue(tmp_path)
    try:
        remote.submit(C.SetIndexPrice(0, "BTCUSDT", spec.price_to_ticks("65000")))
        remote.submit(C.Deposit(0, 1, "USDT", spec.money_to_units(Decimal("100000"))))
        lot = spec.qty_to_lots("0.01")
        remote.submit(C.PlaceOrder(0, 1, "BTCUSDT", Side.SELL, lot, spec.price_to_ticks("65010")))
        other = remote.admin.with_key(remote.admin.create_account().api_key)
        other.deposit("USDT", "100000")
        other.place_order("BTCUSDT", "buy", "0.01", type="market")  # takes account 1's order
        remote.submit(C.SetIndexPrice(1, "BTCUSDT", spec.price_to_ticks("65000")))  # an Apply: sees the gap
        reads = remote.calls_by_rpc["ListPositions"]
        assert remote.position(1, "BTCUSDT") == -lot
        assert remote.calls_by_rpc["ListPositions"] == reads + 1
    finally:
        remote.close()
        venue.stop()


def test_a_requote_brings_the_last_samples_reads_along(tmp_path):
    """An Apply with a market maker's quotes asks for the last sample's reads too: when nothing
    is sent after it (a taker's order may go in the same Apply), the step's sample needs no call;
    any later command makes it read again."""
    venue, remote, spec = start_grpc_venue(tmp_path)
    try:
        remote.submit(C.SetIndexPrice(0, "BTCUSDT", spec.price_to_ticks("65000")))
        for a in (1, 2):
            remote.submit(C.Deposit(0, a, "USDT", spec.money_to_units(Decimal("100000"))))
            remote.submit(C.SetLeverage(0, a, "BTCUSDT", 10))
        remote.prefetch(["BTCUSDT"])  # the first sample: an Apply of its own
        lot = spec.qty_to_lots("0.01")
        applies = remote.calls_by_rpc["Apply"]
        remote.submit_groups([[C.PlaceOrder(1, 1, "BTCUSDT", Side.BUY, lot, spec.price_to_ticks("64990"))],
                              [C.PlaceOrder(1, 1, "BTCUSDT", Side.SELL, 2 * lot, spec.price_to_ticks("65010"))]])
        remote.submit(C.PlaceOrder(1, 2, "BTCUSDT", Side.BUY, lot, kind=OrderKind.MARKET, tif=TimeInForce.IOC))
        assert remote.calls_by_rpc["Apply"] == applies + 1  # the quotes, the taker's order and the sample
        remote.prefetch(["BTCUSDT"])
        assert remote.calls_by_rpc["Apply"] == applies + 1
        # the sample's answers are the venue's after the taker's order
        asks = [(spec.price_to_ticks("65010"), lot)]
        assert remote.depth("BTCUSDT", Side.SELL, 50) == remote._raw.book("BTCUSDT", 50)[1] == asks
        assert remote.last("BTCUSDT") == spec.price_to_ticks("65010")
        remote.submit(C.Deposit(2, 2, "USDT", 1))  # waits; the sample is read again, with it
        remote.prefetch(["BTCUSDT"])
        assert remote.calls_by_rpc["Apply"] == applies + 2
    finally:
        remote.close()
        venue.stop()
