"""Groups of an Apply's orders over random batches against a real venue: every command is
answered with its own outcome until its group's first refusal (by the engine or before the
sequencer), every later command of that group is skipped and not applied; a rejection by the book
(a post-only that would take) does not end a group; ungrouped commands go on whatever happens."""

from __future__ import annotations

import random

from perpsim.clients.errors import from_status_pb
from perpsim.v1 import account_pb2, batch_pb2, common_pb2, trading_pb2

B = batch_pb2.BatchCommand
#: each kind of command: the outcome of its own call, and whether that ends its group
_OWN = {"rests": ("placed", False), "would_take": ("POST_ONLY_WOULD_TAKE", False),
        "too_big": ("MARGIN_INSUFFICIENT", True), "no_symbol": ("UNKNOWN_SYMBOL", True),
        "no_account": ("UNKNOWN_ACCOUNT", True), "deposit": ("placed", False)}
_BEFORE_SEQUENCER = {"no_symbol", "no_account"}  # refused without reaching the state


def _limit(side, lots: int, ticks: int, symbol: str = "BTCUSDT", tif=common_pb2.TIME_IN_FORCE_GTC):
    return trading_pb2.PlaceOrderRequest(symbol=symbol, side=side, type=common_pb2.ORDER_TYPE_LIMIT,
                                         quantity_lots=lots, price_ticks=ticks, time_in_force=tif)


def test_random_batches_of_groups_end_each_group_at_its_first_refusal(venue, admin, batch):
    traders = [m.account_id for m in batch("CreateAccounts", batch_pb2.CreateAccountsRequest(count=3)).accounts]
    maker = traders.pop()
    spec = venue.venue.markets["BTCUSDT"]
    ask, lot = spec.price_to_ticks("66000"), spec.qty_to_lots("0.001")
    setup = [B(account_id=a, deposit=account_pb2.DepositRequest(asset="USDT", amount="100000"))
             for a in (*traders, maker)]
    setup.append(B(account_id=maker, place_order=_limit(common_pb2.SIDE_SELL, lot * 1_000, ask)))
    assert batch("Apply", batch_pb2.ApplyRequest(commands=setup)).applied == len(setup)
    rng = random.Random(18)
    bid = spec.price_to_ticks("60000")
    for _ in range(25):
        kinds, commands = [], []
        for _ in range(rng.randint(1, 30)):
            kind = rng.choice(["rests"] * 4 + ["would_take", "too_big", "no_symbol", "no_account", "deposit"])
            account, group = rng.choice(traders), rng.choice([0, 0, 1, 2, 3])
            bid -= 1
            if kind == "deposit":
                commands.append(B(account_id=account, deposit=account_pb2.DepositRequest(asset="USDT", amount="1")))
                group = 0  # only orders take a group
            else:
                order = {"rests": _limit(common_pb2.SIDE_BUY, lot, bid),
                         "would_take": _limit(common_pb2.SIDE_BUY, lot, ask, tif=common_pb2.TIME_IN_FORCE_GTX),
                         "too_big": _limit(common_pb2.SIDE_BUY, lot * 50_000, bid),
                         "no_symbol": _limit(common_pb2.SIDE_BUY, lot, bid, symbol="NOPE"),
                         "no_account": _limit(common_pb2.SIDE_BUY, lot, bid)}[kind]
                commands.append(B(account_id=account if kind != "no_account" else 10**12, place_order=order,
                                  group=group))
            kinds.append(kind)
        want, ended, applied = [], set(), 0
        for kind, c in zip(kinds, commands, strict=True):
            if c.group and c.group in ended:
                want.append("skipped")
                continue
            outcome, ends = _OWN[kind]
            want.append(outcome)
            applied += kind not in _BEFORE_SEQUENCER
            if ends and c.group:
                ended.add(c.group)
        journaled = admin.venue_state().journal_sequence
        sparse = rng.random() < 0.5
        r = batch("Apply", batch_pb2.ApplyRequest(commands=commands, sparse_results=sparse))
        results = {x.index: x for x in r.results} if sparse else dict(enumerate(r.results))
        got = []
        for i in range(len(commands)):
            x = results.get(i)
            got.append("placed" if x is None or not (x.skipped or x.error.code) else
                       "skipped" if x.skipped else from_status_pb(x.error).reason.name)
        assert got == want
        assert r.applied == applied
        assert admin.venue_state().journal_sequence - journaled == applied  # a skipped order is not journaled
