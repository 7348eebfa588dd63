"""GrpcVenue's shortcuts answer as the long way does: the incremental quiet scan of position
reads (perpsim.sim.grpc_quiet.QuietScan) as `quiet`, whatever the waiting commands and however
often it is asked; the mark an index move's result reports (a real venue, 127.0.0.1 port 0) as
GetMarkPrice, held until the next command, and none after a refused move."""

from __future__ import annotations

import random

from perpsim.engine import commands as C
from perpsim.model.enums import OrderKind, Side
from perpsim.sim.grpc_apply import Pending
from perpsim.sim.grpc_quiet import QuietScan, quiet

from .grpc_kit import grpc_venue


def test_the_quiet_scan_answers_as_quiet_while_the_list_grows():
    rng = random.Random(3)

    class Top:  # a BookTop's fields quiet reads
        def __init__(self, bid, ask, reads_book=False):
            self.bid_ticks, self.ask_ticks, self.mark_reads_book = bid, ask, reads_book

    for trial in range(200):
        tops = {"BTCUSDT": Top(100, 0 if trial % 7 == 0 else 110, trial % 11 == 0)}
        exact = trial % 5 != 0
        scan, pending = QuietScan(), []
        for _ in range(rng.randrange(1, 30)):
            kind = rng.random()
            if kind < 0.7:
                cmd = C.PlaceOrder(0, 1, "BTCUSDT", rng.choice([Side.BUY, Side.SELL]), 1, rng.randrange(90, 120))
            elif kind < 0.8:
                cmd = C.CancelAll(0, 1, "BTCUSDT")
            elif kind < 0.9:
                cmd = C.SetLeverage(0, 1, "BTCUSDT", 10)
            else:
                cmd = C.PlaceOrder(0, 1, "BTCUSDT", Side.BUY, 1, 0, kind=OrderKind.MARKET)
            pending.append(Pending(cmd, None))
            if rng.random() < 0.5:
                assert scan.all_quiet(pending, tops, exact) == all(quiet(pending, tops, exact))
        assert scan.all_quiet(pending, tops, exact) == all(quiet(pending, tops, exact))
        fresh = list(pending[:3])  # a new list (an Apply sent the rest) starts a new scan
        assert scan.all_quiet(fresh, tops, exact) == all(quiet(fresh, tops, exact))


def test_an_index_moves_mark_is_read_from_its_result_and_kept_until_the_next_command(tmp_path):
    with grpc_venue(tmp_path) as (remote, spec):
        remote.submit(C.SetIndexPrice(0, "BTCUSDT", spec.price_to_ticks("65000")))
        calls = remote.calls
        mark = remote.mark("BTCUSDT")
        assert remote.mark("BTCUSDT") == mark and remote.calls == calls  # from the Apply's result, no call
        assert mark == spec.price_to_ticks(remote.admin.mark("BTCUSDT").mark_price)
        # a refused move (an unknown market) reports no mark: the next read asks the venue
        events = remote.submit(C.SetIndexPrice(0, "NOPEUSDT", 1))
        assert events and events[0].command == "SetIndexPrice"
        calls = remote.calls
        assert remote.mark("BTCUSDT") == mark and remote.calls == calls + 1
