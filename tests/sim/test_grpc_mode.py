"""The same agents against a real venue over gRPC (127.0.0.1, port 0, feed and liquidity off)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from perpsim.engine import commands as C
from perpsim.engine.events import CommandRejected
from perpsim.model.enums import OrderKind, Side, TimeInForce
from perpsim.sim import runner, scenario
from perpsim.sim.context import Context
from perpsim.sim.venues import InProcessVenue

from .grpc_kit import grpc_venue, shocked_crowd, start_grpc_venue

SCENARIO = shocked_crowd("grpc-small", duration_s=6, shock_at_s=3) + """
[[agents]]
kind = "noise"
name = "noise"
count = 2
orders_per_min = 60
"""


@pytest.mark.parametrize("signals", [True, False], ids=["risk-signals", "no-signals"])
def test_scenario_runs_over_grpc(tmp_path, signals):
    sc = scenario.loads(SCENARIO)
    with grpc_venue(tmp_path, signals=signals) as (remote, _):
        result = runner.run(sc, venue=remote)
    in_process = runner.run(sc)
    got = result.summary["markets"]["BTCUSDT"]
    want = in_process.summary["markets"]["BTCUSDT"]
    # a -6 % shock liquidates every 40-60x long in both modes; the venue reported each one
    assert want["liquidations"] == 6
    assert got["liquidations"] == 6
    # each liquidation is the scenario account's, at the step it happened in process
    assert [row[:6] for row in result.liquidations] == [row[:6] for row in in_process.liquidations]
    assert got["by_leverage"] == want["by_leverage"]
    assert got["mark_start"] == 65000.0 and got["mark_end"] == want["mark_end"] == 61100.0
    # open interest is the venue's own, step by step the in-process count: with the signals,
    # from the risk row (GetMarketRisk, no GetOpenInterest call), else from the history service
    oi = result.series["BTCUSDT"]["open_interest"]
    assert oi == in_process.series["BTCUSDT"]["open_interest"] and min(oi) > 0
    assert (remote.reads_by_rpc["GetOpenInterest"] == 0) == signals
    assert (remote.reads_by_rpc["GetMarketRisk"] > 0) == signals
    if not signals:
        return
    # the risk signals are the venue's (GetMarketRisk): the crowd's 40-60x opening is flagged,
    # by the end of the first step, as in process (the run holds the venue clock: the venue's
    # signals see the scenario's times, not the wall clock's)
    for flags in (result.series["BTCUSDT"]["flags"], in_process.series["BTCUSDT"]["flags"]):
        assert all("leverage_spike" in f for f in flags[1:])
    assert "leverage_spike" not in in_process.series["BTCUSDT"]["flags"][0]
    assert result.state_hash == "" and in_process.state_hash


def _both_venues(tmp_path):
    """A venue over gRPC and the engine in process, for the same commands."""
    venue, remote, spec = start_grpc_venue(tmp_path)
    local = InProcessVenue(runner.build_exchange(scenario.loads(SCENARIO)))
    return venue, remote, local, spec


def _funded(venues, spec, accounts, ts=0):
    for v in venues:
        v.submit(C.SetIndexPrice(ts, "BTCUSDT", spec.price_to_ticks("65000")))
        for a in accounts:
            v.submit(C.Deposit(ts, a, "USDT", spec.money_to_units(Decimal("100000"))))
            v.submit(C.SetLeverage(ts, a, "BTCUSDT", 10))


def test_a_group_of_orders_ends_at_its_first_refusal_as_in_process(tmp_path):
    """An account's groups wait as one block and go in one Apply; what rests afterwards, and
    which command was refused for what, is what the engine in process does sending one by one
    (the refusals come with a later command's events)."""
    venue, remote, local, spec = _both_venues(tmp_path)
    try:
        _funded((remote, local), spec, [1])
        px, lot = spec.price_to_ticks, spec.qty_to_lots("0.01")

        def bid(price, qty=lot):
            return C.PlaceOrder(0, 1, "BTCUSDT", Side.BUY, qty, px(price))

        def ask(price):
            return C.PlaceOrder(0, 1, "BTCUSDT", Side.SELL, lot, px(price))

        # bids: the second needs far more margin than the account has (refused), the third would rest
        groups = [[bid("64990"), bid("64985", lot * 10_000), bid("64980")], [ask("65010"), ask("65020")]]
        applies = remote.calls_by_rpc["Apply"]
        got = remote.submit_groups(groups)
        assert got == [[[], [], []], [[], []]] and remote.calls_by_rpc["Apply"] == applies  # answered later
        want = Context(local, local.submit, 1.0).submit_groups(groups)
        assert [len(g) for g in want] == [2, 2]
        for side in (Side.BUY, Side.SELL):  # a read sends the block, then takes back what rests after the refusal
            assert remote.depth("BTCUSDT", side, 10) == local.depth("BTCUSDT", side, 10)
        assert remote.depth("BTCUSDT", Side.BUY, 10) == [(px("64990"), lot)]
        late = remote.submit(C.Deposit(0, 1, "USDT", 1))
        refusals = [[(e.command, e.reason) for e in events if isinstance(e, CommandRejected)]
                    for events in (late, [e for g in want for events in g for e in events])]
        assert refusals[0] and refusals[0] == refusals[1]
    finally:
        remote.close()
        venue.stop()


def test_reads_see_every_command_sent_before_them(tmp_path):
    """Reads answered from the venue's earlier answers never miss a command: a fill, then a
    CancelAll still in flight when the position is read, then the book."""
    venue, remote, local, spec = _both_venues(tmp_path)
    try:
        _funded((remote, local), spec, [1, 2])
        lot = spec.qty_to_lots("0.02")
        for v in (remote, local):
            v.submit(C.PlaceOrder(0, 1, "BTCUSDT", Side.BUY, lot, spec.price_to_ticks("64990")))
            v.submit(C.PlaceOrder(0, 1, "BTCUSDT", Side.BUY, lot, spec.price_to_ticks("64980")))
        assert remote.position(2, "BTCUSDT") == 0 and remote.top("BTCUSDT")[0] == spec.price_to_ticks("64990")
        for v in (remote, local):
            v.submit(C.PlaceOrder(1, 2, "BTCUSDT", Side.SELL, lot, kind=OrderKind.MARKET, tif=TimeInForce.IOC))
        assert remote.position(2, "BTCUSDT") == local.position(2, "BTCUSDT") == -lot
        assert remote.last("BTCUSDT") == local.last("BTCUSDT") == spec.price_to_ticks("64990")
        for v in (remote, local):
            v.submit(C.CancelAll(2, 1, "BTCUSDT"))
        assert remote.position(1, "BTCUSDT") == local.position(1, "BTCUSDT") == lot
        assert remote.top("BTCUSDT") == local.top("BTCUSDT") == (None, None)
    finally:
        remote.close()
        venue.stop()


def test_accounts_handed_out_together_map_in_order(tmp_path):
    """A run's accounts are created together (one CreateAccounts call per hand-out); scenario
    account numbers still map to venue accounts in the venue's numbering order, as one by one."""
    venue, remote, _, _ = _both_venues(tmp_path)
    try:
        ctx = Context(remote, remote.submit, 1.0)
        first, second = ctx.new_accounts(12), ctx.new_accounts(5)
        assert remote.calls_by_rpc["CreateAccounts"] == 2
        ids = [remote._client(a).account().account_id for a in [*first, *second]]
        assert ids == sorted(ids) and len(set(ids)) == 17
        # a later account number used without being handed out is made on first use, after them
        assert remote._client(40).account().account_id > ids[-1]
        assert remote.calls_by_rpc["CreateAccounts"] == 3
    finally:
        remote.close()
        venue.stop()


def test_groups_of_one_go_together_each_answered_as_in_process(tmp_path):
    """Commands none of which waits for another's answer (groups of one, as a leveraged crowd's
    setup sends them) go in one Apply; each comes back with its own refusal, as in process."""
    venue, remote, local, spec = _both_venues(tmp_path)
    try:
        px, lot = spec.price_to_ticks, spec.qty_to_lots("0.01")
        money = spec.money_to_units(Decimal("100000"))
        cmds = [C.SetIndexPrice(0, "BTCUSDT", px("65000")),
                C.Deposit(0, 1, "USDT", money), C.SetLeverage(0, 1, "BTCUSDT", 1000),  # beyond the bracket
                C.PlaceOrder(0, 1, "BTCUSDT", Side.SELL, lot, px("65000")),
                C.Deposit(0, 2, "USDT", money),
                C.PlaceOrder(0, 2, "BTCUSDT", Side.BUY, 2 * lot, px("65000")),  # takes it, the rest rests
                C.PlaceOrder(0, 3, "BTCUSDT", Side.BUY, lot, px("65000"))]  # no collateral
        applies = remote.calls_by_rpc["Apply"]
        got = remote.submit_groups([[c] for c in cmds])
        assert remote.calls_by_rpc["Apply"] == applies + 1
        want = Context(local, local.submit, 1.0).submit_groups([[c] for c in cmds])

        def refusals(sent):
            return [[(e.command, e.account, e.reason) for e in g[0] if isinstance(e, CommandRejected)] for g in sent]

        assert refusals(got) == refusals(want)
        assert [i for i, r in enumerate(refusals(got)) if r] == [2, 6]
        for a in (1, 2, 3):
            assert remote.position(a, "BTCUSDT") == local.position(a, "BTCUSDT")
        assert remote.position(2, "BTCUSDT") == lot and remote.top("BTCUSDT") == local.top("BTCUSDT")
    finally:
        remote.close()
        venue.stop()
