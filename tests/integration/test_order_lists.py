"""Order lists through the real server: a bracket and an OCO under partial fills with the
client, the account stream's order-list updates, and the `perpsim order bracket / oco / lists /
cancel-list` commands with --json."""

from __future__ import annotations

import json
import queue
from collections.abc import Callable
from decimal import Decimal

import pytest

from perpsim.cli import main as cli
from perpsim.clients import errors as E
from perpsim.clients.client import Client
from perpsim.venue.app import RunningVenue

from .conftest import account_updates


def list_updates(into: queue.Queue, until: str, timeout: float = 5.0) -> list[tuple[str, str, str]]:
    """(status, cause, covered quantity) of the order-list updates up to one with status `until`."""
    seen = []
    while True:
        msg = into.get(timeout=timeout)
        if msg.WhichOneof("update") == "order_list":
            u = msg.order_list
            seen.append((u.status, u.cause, u.covered_quantity))
            if u.status == until:
                return seen


def test_bracket_arms_with_partial_fills_and_its_take_profit_closes(
        venue: RunningVenue, admin: Client, make_account: Callable[..., Client]) -> None:
    admin.set_index_price("BTCUSDT", "65000")
    maker, me = make_account("1000000"), make_account("10000")
    updates: queue.Queue = queue.Queue()
    channel = account_updates(venue, me, updates)
    try:
        placed = me.place_bracket("BTCUSDT", "buy", "0.1", "65000", take_profit="66000", stop_loss="64000",
                                  source="mark")
        assert (placed.status, placed.type, placed.covered_quantity) == ("working", "bracket", 0)
        assert (placed.take_profit.type, placed.take_profit.trigger_price) == ("take_profit_market", Decimal(66000))
        assert placed.take_profit_id == placed.stop_loss_id == 0  # nothing armed before a fill
        assert [o.order_id for o in me.open_orders("BTCUSDT")] == [placed.entry_order_id]

        maker.place_order("BTCUSDT", "sell", "0.04", "65000")
        (working,) = me.order_lists("BTCUSDT")
        assert working.covered_quantity == Decimal("0.04") and working.take_profit_id and working.stop_loss_id
        assert sorted(o.quantity for o in me.conditional_orders("BTCUSDT")) == ["0.040", "0.040"]
        maker.place_order("BTCUSDT", "sell", "0.06", "65000")
        assert me.order_lists("BTCUSDT")[0].covered_quantity == Decimal("0.1")
        assert me.open_orders("BTCUSDT") == []  # the entry filled

        maker.place_order("BTCUSDT", "buy", "0.1", "65900")  # what the take-profit sells into
        admin.set_index_price("BTCUSDT", "66000")
        assert me.order_lists() == [] and me.conditional_orders() == []
        assert all(p.symbol != "BTCUSDT" for p in me.positions())
        assert list_updates(updates, "DONE") == [
            ("NEW", "", "0.000"), ("ARMED", "entry_partially_filled", "0.040"), ("ARMED", "entry_filled", "0.100"),
            ("DONE", "exit_triggered", "0.100")]
    finally:
        channel.close()


def test_oco_partial_fill_shrinks_the_stop_which_then_closes_the_rest(
        admin: Client, make_account: Callable[..., Client]) -> None:
    admin.set_index_price("BTCUSDT", "65000")
    maker, me = make_account("1000000"), make_account("10000")
    maker.place_order("BTCUSDT", "sell", "0.1", "65000")
    me.place_order("BTCUSDT", "buy", "0.1")
    with pytest.raises(E.WouldImmediatelyTrigger):  # a sell stop above the mark
        me.place_oco("BTCUSDT", "sell", "0.1", take_profit_limit="66000", stop_loss="65500", source="mark")
    oco = me.place_oco("BTCUSDT", "sell", "0.1", take_profit_limit="66000", stop_loss="64000", source="mark",
                       reduce_only=True)
    assert oco.take_profit.type == "limit" and oco.covered_quantity == Decimal("0.1")
    maker.place_order("BTCUSDT", "buy", "0.04", "66000")  # fills 0.04 of the take-profit
    assert [o.quantity for o in me.conditional_orders("BTCUSDT")] == ["0.060"]
    (tp,) = me.open_orders("BTCUSDT")
    assert (tp.order_id, tp.filled_quantity, tp.reduce_only) == (oco.take_profit_id, Decimal("0.04"), True)
    maker.place_order("BTCUSDT", "buy", "1", "63500")
    admin.set_index_price("BTCUSDT", "63900")
    assert me.order_lists() == [] and me.open_orders("BTCUSDT") == []
    assert all(p.symbol != "BTCUSDT" for p in me.positions())
    with pytest.raises(E.UnknownOrder):
        me.cancel_order_list("BTCUSDT", oco.list_id)


def test_an_order_list_with_a_client_id_is_safe_to_retry(
        admin: Client, make_account: Callable[..., Client]) -> None:
    """The same client order id and payload returns the original list, also after it ended;
    another payload under that id is ALREADY_EXISTS; nothing is placed twice."""
    admin.set_index_price("BTCUSDT", "65000")
    maker, me = make_account("1000000"), make_account("10000")
    legs = {"take_profit": "66000", "stop_loss": "64000", "source": "mark", "client_order_id": "br-1"}
    first = me.place_bracket("BTCUSDT", "buy", "0.1", "64900", **legs)
    again = me.place_bracket("BTCUSDT", "buy", "0.1", "64900", **legs)
    assert (again.list_id, again.status) == (first.list_id, "working")
    assert len(me.order_lists()) == 1 and len(me.open_orders("BTCUSDT")) == 1
    with pytest.raises(E.DuplicateOrderId):
        me.place_bracket("BTCUSDT", "buy", "0.2", "64900", **legs)
    me.cancel_order_list("BTCUSDT", first.list_id)
    after = me.place_bracket("BTCUSDT", "buy", "0.1", "64900", **legs)
    assert (after.list_id, after.status) == (first.list_id, "canceled")
    assert me.order_lists() == [] and me.open_orders("BTCUSDT") == []
    maker.cancel_all("BTCUSDT")


def test_a_bracket_with_a_trailing_stop_follows_the_mark_and_closes(
        venue: RunningVenue, admin: Client, make_account: Callable[..., Client]) -> None:
    admin.set_index_price("BTCUSDT", "65000")
    maker, me = make_account("1000000"), make_account("10000")
    with pytest.raises(E.WouldImmediatelyTrigger):  # a sell exit's activation at or under the entry
        me.place_bracket("BTCUSDT", "buy", "0.1", "65000", take_profit="70000", stop_loss="64000",
                         trailing_stop="0.01", source="mark")
    with pytest.raises(ValueError, match="no limit price"):
        me.place_bracket("BTCUSDT", "buy", "0.1", "65000", take_profit="70000", stop_loss_limit="64000",
                         trailing_stop="0.01", source="mark")
    placed = me.place_bracket("BTCUSDT", "buy", "0.1", "65000", take_profit="70000", trailing_stop="0.01",
                              source="mark")
    assert (placed.stop_loss.type, placed.stop_loss.callback_rate, placed.stop_loss.trigger_price) == \
        ("trailing_stop_market", Decimal("0.01"), None)
    maker.place_order("BTCUSDT", "sell", "0.1", "65000")  # the entry fills: the trailing stop arms at mark 65,000
    (sl,) = [o for o in me.conditional_orders("BTCUSDT") if o.callback_rate]
    assert (sl.quantity, sl.callback_rate) == ("0.100", "0.01")
    maker.place_order("BTCUSDT", "buy", "0.1", "65000")  # what the stop sells into
    admin.set_index_price("BTCUSDT", "66000")  # a new high: the stop trails to 65,340.0
    admin.set_index_price("BTCUSDT", "65340.1")
    assert me.order_lists("BTCUSDT")[0].status == "working"
    admin.set_index_price("BTCUSDT", "65340")
    assert me.order_lists() == [] and me.conditional_orders() == []
    assert all(p.symbol != "BTCUSDT" for p in me.positions())


def test_order_list_commands_with_json(venue: RunningVenue, admin: Client, make_account: Callable[..., Client],
                                       capsys: pytest.CaptureFixture[str]) -> None:
    admin.set_index_price("BTCUSDT", "65000")
    me = make_account("10000")

    def run(*args: str):
        code = cli.main([*args, "--address", venue.address, f"--key={me.api_key}"])
        out, err = capsys.readouterr()
        assert (code, err) == (0, ""), err
        return out

    placed = json.loads(run("order", "bracket", "BTCUSDT", "buy", "0.01", "64000", "--take-profit", "66000",
                            "--stop-loss", "63000", "--take-profit-limit", "66100", "--json"))
    assert (placed["type"], placed["status"], placed["entry_price"]) == ("bracket", "working", "64000.0")
    assert placed["take_profit"] == {"type": "take_profit_limit", "trigger_price": "66000.0", "price": "66100.0",
                                     "callback_rate": None}
    trailing = json.loads(run("order", "bracket", "BTCUSDT", "buy", "0.01", "64000", "--take-profit", "66000",
                              "--trailing-stop", "0.02", "--json"))
    assert trailing["stop_loss"] == {"type": "trailing_stop_market", "trigger_price": None, "price": None,
                                     "callback_rate": "0.02"}
    assert "callback 0.02" in run("order", "lists")
    run("order", "cancel-list", "BTCUSDT", str(trailing["list_id"]))
    oco = json.loads(run("order", "oco", "BTCUSDT", "buy", "0.01", "--take-profit", "64500", "--stop-loss",
                         "65500", "--source", "mark", "--json"))
    assert oco["stop_loss"]["type"] == "stop_market" and oco["covered_quantity"] == "0.010"
    listed = json.loads(run("order", "lists", "BTCUSDT", "--json"))
    assert [o["list_id"] for o in listed] == [placed["list_id"], oco["list_id"]]
    table = run("order", "lists")
    assert table.splitlines()[0].split()[:3] == ["id", "symbol", "type"] and "bracket" in table
    assert json.loads(run("order", "cancel-list", "BTCUSDT", str(placed["list_id"]), "--json")) == {
        "list_id": placed["list_id"], "canceled": True}
    assert [o["list_id"] for o in json.loads(run("order", "lists", "--json"))] == [oco["list_id"]]
    code = cli.main(["order", "oto", "BTCUSDT", "buy", "0.01", "64000", "--take-profit", "66000", "--stop-loss",
                     "63000", "--address", venue.address, f"--key={me.api_key}"])
    assert code == 1 and "invalid_order_type" in capsys.readouterr().err.lower()


def test_a_gtd_conditional_order_expires_with_the_venue_clock(admin: Client,
                                                              make_account: Callable[..., Client]) -> None:
    admin.set_index_price("ETHUSDT", "3500")
    me = make_account("10000")
    now = admin.venue_state().now_ns
    cid = me.place_conditional("ETHUSDT", "buy", "0.1", trigger_price="3600", source="mark",
                               good_till_ns=now + 60 * 10**9)
    (resting,) = me.conditional_orders("ETHUSDT")
    assert (resting.conditional_id, resting.good_till_time_ns) == (cid, now + 60 * 10**9)
    admin.advance_clock(61 * 10**9)
    assert me.conditional_orders("ETHUSDT") == []
    with pytest.raises(E.InvalidGtdTime):
        me.place_conditional("ETHUSDT", "buy", "0.1", trigger_price="3600", good_till_ns=1)
