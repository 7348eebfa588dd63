"""Hyperliquid's liquidation market orders, retried until the book takes the position or the
equity falls below 2/3 of MM and the vault does (venue-mechanics §4.7), through Exchange.apply.

Source: hyperliquid-docs, "Liquidations" (https://hyperliquid.gitbook.io/hyperliquid-docs/trading/liquidations):
"When the account equity drops below maintenance margin, the positions are first attempted to be
entirely closed by sending market orders to the book." "If the account equity drops below 2/3 of
the maintenance margin without successful liquidation through the book, a backstop liquidation
happens through the liquidator vault." "Partial liquidations": "After a block where any position of
a user is partially liquidated, there is a cooldown period of 30 seconds. During this cooldown
period, all market liquidation orders for that user will be for the entire position."

So what the market order does not fill stays with the account (no takeover at the bankruptcy
price): a later command's sweep sends the order again (one per account and market per instant of
venue time), until the book fills it, or the vault takes it below 2/3 of MM.

The world (tests/fidelity/test_hyperliquid_backstop.py): 1 BTC long from 20,000 at 40x on 960 USDT,
MMR 1/80. At a mark P: equity 960 + P − 20,000, MM P / 80: under water for P ≤ 19,281.01
(P × 79 / 80 = 19,040), below 2/3 of MM under 19,200. Here the maker bids only 0.4 BTC at 19,050.
"""

from __future__ import annotations

import pickle
from decimal import Decimal

from perpsim.clients.client import Client
from perpsim.engine import commands as C
from perpsim.engine.events import BalanceChanged, Liquidation
from perpsim.engine.exchange import Exchange
from perpsim.engine.twin import pure_exchange
from perpsim.model.enums import EventKind, Side
from perpsim.risk.hyperliquid_backstop import BOOK, USUAL, VAULT, verdict
from perpsim.risk.units import RATE_SCALE
from tests.fidelity.test_hyperliquid_backstop import (
    BTC,
    FUND,
    IF_ACCOUNT,
    MAKER,
    TRADER,
    S,
    U,
    held,
    of,
    published,
    world,
)
from tests.integration.conftest import own_venue
from tests.integration.test_hyperliquid_mark_server import GRID_NS, just_past_a_publication, long_at_40x

THIN = ("19050", "0.4")


def order(ex: Exchange, ts: int, qty: str, price: str) -> list:
    """The maker bids `qty` BTC at `price` at venue time `ts`."""
    spec = ex.markets[BTC].spec
    return ex.apply(C.PlaceOrder(ts, MAKER, BTC, Side.BUY, spec.qty_to_lots(qty), spec.price_to_ticks(price)))


def notices(events: list) -> list:
    return [(e.qty, e.bankruptcy_price, e.filled, e.taken_by_insurance) for e in of(events, Liquidation)]


def test_the_verdict_between_the_book_the_vault_and_the_usual_way() -> None:
    """risk.hyperliquid_backstop.verdict, exact: 130 against 2/3 of 144.375 (96.25): the book;
    94 against 2/3 of 143.925 (95.95): the vault, with an empty fund too (a non-negative equity);
    −5 below 2/3 of 100: the vault only with a fund to absorb it, else the usual way."""
    assert verdict(130 * U, 144_375 * U * RATE_SCALE // 1_000, (2, 3), 0) == BOOK
    assert verdict(94 * U, 143_925 * U * RATE_SCALE // 1_000, (2, 3), 0) == VAULT
    assert verdict(-5, 100 * RATE_SCALE, (2, 3), 0) == USUAL
    assert verdict(-5, 100 * RATE_SCALE, (2, 3), 1) == VAULT


def test_what_the_order_leaves_stays_and_a_later_command_retries() -> None:
    """Mark 19,250 at 6 s: equity 210 < MM 240.625, above 2/3 of it (160.42): the market order
    (limit the bankruptcy price 19,040) sells 0.4 at 19,050: −380, the wallet 580. The 0.6 left
    (equity 580 − 450 = 130 < MM 144.375, above 96.25) stays with the trader, nothing taken over;
    the maker's bid of 0.6 at 19,060 at the same instant is not taken yet; the next command
    retries: 0.6 × (19,060 − 20,000) = −564, the trader keeps 16 (a takeover at the rest's
    bankruptcy price 20,000 − 580 / 0.6 = 19,033.4, rounded up against the long, would have left
    0.04). The fund is untouched."""
    ex = world(bid=THIN)
    first = published(ex, "19250")
    assert notices(first) == [(1_000, 190_400, 400, 0)]
    assert held(ex) == 600 and ex.state.wallet(TRADER, "USDT") == 580 * U and held(ex, BTC, IF_ACCOUNT) == 0
    assert not of(order(ex, 6 * S, "0.6", "19060"), Liquidation)  # the same instant: not yet
    assert held(ex) == 600
    events = ex.apply(C.AdvanceClock(6 * S + 1))
    ex.check_integrity()
    assert notices(events) == [(600, 190_334, 600, 0)]
    assert held(ex) == 0 and ex.state.wallet(TRADER, "USDT") == 16 * U
    assert ex.state.ledger.insurance("USDT") == FUND * U and held(ex, BTC, IF_ACCOUNT) == 0


def test_the_vault_takes_the_rest_once_below_two_thirds() -> None:
    """As above, the 0.6 left from 6 s. 7 s: the retry finds no bid (filled 0, nothing taken).
    Published at 19,200 (9 s): equity 580 − 480 = 100, not below 2/3 of MM 144 (96): retried
    again. At 19,190 (12 s): 580 − 486 = 94 < 2/3 × 143.925 = 95.95: no order; the vault takes the
    0.6 at the mark and the 94 of margin (backstop_margin): the trader ends with 0, the fund with
    1,000 + 94 and the 0.6 (no bid left to unwind it into)."""
    ex = world(bid=THIN)
    published(ex, "19250")
    px = ex.markets[BTC].spec.price_to_ticks
    assert notices(ex.apply(C.AdvanceClock(7 * S))) == [(600, 190_334, 0, 0)]
    ex.apply(C.SetIndexPrice(7 * S, BTC, px("19200")))  # same instant: no second order
    assert notices(ex.apply(C.AdvanceClock(9 * S))) == [(600, 190_334, 0, 0)]
    assert ex.markets[BTC].mark == px("19200") and held(ex) == 600
    ex.apply(C.SetIndexPrice(9 * S + 1, BTC, px("19190")))
    events = ex.apply(C.AdvanceClock(12 * S))
    ex.check_integrity()
    assert notices(events) == [(600, 191_900, 0, 600)]
    [margin] = [e for e in of(events, BalanceChanged) if e.cause == "backstop_margin"]
    assert (margin.account, margin.delta, margin.balance) == (TRADER, -94 * U, 0)
    assert held(ex) == 0 and ex.state.wallet(TRADER, "USDT") == 0
    assert held(ex, BTC, IF_ACCOUNT) == 600 and ex.state.ledger.insurance("USDT") == (FUND + 94) * U


def test_retries_inside_the_30_s_window_are_for_the_whole_position() -> None:
    """10 BTC on 9,600 (200,000 notional: above 100,000, 20 % a step), a bid of 1 BTC at 19,050.
    6 s, mark 19,250: the 20 % step (2 BTC) sells 1; the order for the other 9 finds nothing and
    they stay (wallet 8,650). The window runs to 36 s: at 7 s the retry is one order for all
    9 BTC (a new 1-BTC bid fills 1 of it). At 37 s, past the window, a step comes first again: 20 %
    of 8 (1.6) sells 1 into a new bid, then the order for the 7 left finds nothing."""
    ex = world(size=10, bid=("19050", "1"))
    assert notices(published(ex, "19250")) == [(9_000, 190_400, 0, 0)]
    assert held(ex) == 9_000 and ex.state.wallet(TRADER, "USDT") == 8_650 * U
    assert notices(order(ex, 7 * S, "1", "19050")) == [(9_000, 190_389, 1_000, 0)]  # whole, not 1,800
    assert held(ex) == 8_000 and ex.state.wallet(TRADER, "USDT") == 7_700 * U
    events = order(ex, 37 * S, "1", "19050")
    ex.check_integrity()
    steps = [e.event.qty for e in events if getattr(e, "liquidation", False) and e.event.kind == EventKind.ACCEPTED]
    assert steps == [1_600, 7_000] and notices(events) == [(7_000, 190_375, 0, 0)]
    assert held(ex) == 7_000 and ex.state.wallet(TRADER, "USDT") == 6_750 * U


def run(engine: type) -> tuple:
    ex = world(engine=engine, bid=THIN)
    px = ex.markets[BTC].spec.price_to_ticks
    out = [[list(e) for e in published(ex, "19250")]]
    for cmd in (C.AdvanceClock(7 * S), C.SetIndexPrice(9 * S + 1, BTC, px("19190")), C.AdvanceClock(12 * S)):
        out.append([list(e) for e in ex.apply(cmd)])
    return out, ex.state_hash()


def test_the_plain_twin_retries_alike() -> None:
    """The compiled engine and its plain-Python twin (engine/twin.py): the same events and hash."""
    compiled, plain = run(Exchange), run(pure_exchange().Exchange)
    assert compiled == plain and "backstop_margin" in str(compiled[0][-1])


def test_a_pending_retry_is_in_the_state_and_survives_a_snapshot() -> None:
    """The retry due at the next instant is part of the state hash (a world that took over at the
    bankruptcy price would differ anyway; the due is what a restored copy needs to retry), and a
    pickled copy (what a checkpoint writes) retries at its next command as the original does."""
    ex = world(bid=THIN)
    published(ex, "19250")
    assert ex.liquidation._due == 6 * S + 1
    copy = pickle.loads(pickle.dumps(ex))
    assert copy.state_hash() == ex.state_hash()
    a, b = order(ex, 6 * S + 5, "0.6", "19060"), order(copy, 6 * S + 5, "0.6", "19060")
    assert [list(e) for e in a] == [list(e) for e in b] and notices(a) == [(600, 190_334, 600, 0)]
    assert ex.state_hash() == copy.state_hash()


def test_the_rest_is_retried_through_the_real_server(tmp_path) -> None:
    """`perpsim serve --profile hyperliquid` (the venue clock moves with the wall clock, so each
    command is a later instant): 1 BTC long from 65,000 at 40x on 2,670.75 (bankruptcy price
    62,329.25), a bid of 0.4 at 62,400. Published at 63,000: equity 670.75 < MM 787.5, above 2/3 of
    it (525): the market order sells 0.4 at 62,400 (−1,040, wallet 1,630.75); the 0.6 left (equity
    430.75, MM 472.5, 2/3: 315) stays. The maker's bid of 0.6 at 62,500 is the next command: the
    retry sells into it (−1,500): the trader keeps 130.75 (a takeover at the rest's bankruptcy price,
    62,282.1, would have left 0.01); the fund is untouched."""
    with own_venue(tmp_path, profile="hyperliquid") as (running, _cfg, trader), \
            Client(running.address, admin_key=(tmp_path / "admin.key").read_text().strip()) as admin:
        maker = long_at_40x(admin, trader, "0.4", "62400")

        just_past_a_publication(admin)
        admin.set_index_price(BTC, "63000")
        admin.advance_clock(GRID_NS)
        assert trader.mark(BTC).mark_price == Decimal("63000")
        assert [p.quantity for p in trader.positions(BTC)] == [Decimal("0.6")]
        assert trader.account().balance("USDT").wallet == Decimal("1630.75")
        maker.place_order(BTC, "buy", "0.6", "62500")
        assert trader.positions(BTC) == [] and trader.account().balance("USDT").wallet == Decimal("130.75")
        sold = [(t.side, t.price, t.quantity) for t in trader.trades(BTC)[-2:]]
        assert sold == [("sell", Decimal("62400"), Decimal("0.4")), ("sell", Decimal("62500"), Decimal("0.6"))]
        assert admin.insurance_fund("USDT")["USDT"] == 0
