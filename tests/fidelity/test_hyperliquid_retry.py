"""Hyperliquid's liquidation market orders: the limit 10 % through the mark, and what they leave kept and
sent again at the next mark publication, until the book takes it or the equity falls below 2/3 of MM and
the vault does (venue-mechanics §4.7), through Exchange.apply.

Sources (risk/hyperliquid_liquidation.py quotes them in full): hyperliquid-docs "Liquidations": "the
positions are first attempted to be entirely closed by sending market orders the book"; "If the account
equity drops below 2/3 of the maintenance margin without successful liquidation through the book, a
backstop liquidation happens through the liquidator vault"; "only 20% of the position will be sent as a
market liquidation order to the book. After a block where any position of a user is partially liquidated,
there is a cooldown period of 30 seconds. During this cooldown period, all market liquidation orders for
that user will be for the entire position." "Robust price indices": "Mark price is updated whenever
validators publish new oracle prices" (every 3 s, hypercore/oracle). Support FAQ: "By default, market
TP/SL orders have a 10% slippage tolerance". The docs give no retry interval and no limit for the
liquidation order: the venue sends it again at the next mark publication (the 3-s grid) and bounds it as
the protocol's own market TP/SL orders are bounded, 10 % from the mark, rounded against the account.

The world (tests/fidelity/test_hyperliquid_backstop.py): 1 BTC long from 20,000 at 40x on 960 USDT,
MMR 1/80; the vault (the fund) holds 1,000. At a mark P: equity 960 + P − 20,000, MM P / 80: under
water for P ≤ 19,281.01 (P × 79 / 80 = 19,040), below 2/3 of MM under 19,200. The book is bids only, so
the mark is the oracle, published at 6 s (index set at 3 s + 1 ns), then at 9, 12, 15 s.
"""

from __future__ import annotations

import pickle
import queue
from decimal import Decimal

import pytest

from perpsim.clients.client import Client
from perpsim.engine import commands as C
from perpsim.engine.events import BalanceChanged, Liquidation
from perpsim.engine.exchange import Exchange
from perpsim.engine.twin import pure_exchange
from perpsim.model.enums import EventKind, Side
from perpsim.risk.hyperliquid_backstop import BOOK, USUAL, VAULT, verdict
from perpsim.risk.hyperliquid_liquidation import market_limit, retry_at
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
from tests.integration.test_client import collect
from tests.integration.test_hyperliquid_mark_server import GRID_NS, just_past_a_publication, long_at_40x

THIN = ("19050", "0.4")


def order(ex: Exchange, ts: int, qty: str, price: str) -> list:
    """The maker bids `qty` BTC at `price` at venue time `ts`."""
    spec = ex.markets[BTC].spec
    return ex.apply(C.PlaceOrder(ts, MAKER, BTC, Side.BUY, spec.qty_to_lots(qty), spec.price_to_ticks(price)))


def notices(events: list) -> list:
    return [(e.qty, e.bankruptcy_price, e.filled, e.taken_by_insurance) for e in of(events, Liquidation)]


def sent(events: list) -> list:
    """(qty, limit) of the liquidation orders the events show placed."""
    return [(e.event.qty, e.event.price) for e in events
            if getattr(e, "liquidation", False) and e.event.kind == EventKind.ACCEPTED]


def test_the_verdict_between_the_book_the_vault_and_the_usual_way() -> None:
    """risk.hyperliquid_backstop.verdict, exact: 130 against 2/3 of 144.375 (96.25): the book;
    94 against 2/3 of 143.925 (95.95): the vault, with an empty fund too (a non-negative equity);
    −5 below 2/3 of 100: the vault only with a fund to absorb it, else the usual way."""
    assert verdict(130 * U, 144_375 * U * RATE_SCALE // 1_000, (2, 3), 0) == BOOK
    assert verdict(94 * U, 143_925 * U * RATE_SCALE // 1_000, (2, 3), 0) == VAULT
    assert verdict(-5, 100 * RATE_SCALE, (2, 3), 0) == USUAL
    assert verdict(-5, 100 * RATE_SCALE, (2, 3), 1) == VAULT


def test_the_limit_and_the_pace_by_hand() -> None:
    """Mark 19,250.1 (192,501 ticks): a sell's limit 192,501 × 9 / 10 = 173,250.9, rounded down to
    173,250 (it may fill lower: against the long); a buy's 192,501 × 11 / 10 = 211,751.1, rounded up
    to 211,752; both inside the price limits, else clamped to them. An order at 6.0 s or 8.999… s is
    sent again at 9 s, one at exactly 9 s at 12 s."""
    assert market_limit(True, 192_501, 1, 10**9) == 173_250
    assert market_limit(False, 192_501, 1, 10**9) == 211_752
    assert market_limit(True, 15, 14, 100) == 14 and market_limit(False, 100, 1, 105) == 105
    assert retry_at(6 * S) == retry_at(9 * S - 1) == 9 * S and retry_at(9 * S) == 12 * S


def test_the_rest_waits_for_the_next_publication_whatever_comes_between() -> None:
    """Mark 19,250 at 6 s: equity 210 < MM 240.625, above 2/3 of it (160.42): the market order
    (limit 19,250 × 0.9 = 17,325) sells 0.4 at 19,050: −380, the wallet 580. The 0.6 left (equity
    580 − 450 = 130 < MM 144.375, above 96.25) stays with the trader, nothing taken over, its next
    attempt at 9 s. The maker's bid of 0.6 at 19,060 at 6 s + 1 ns and the commands at 7, 8 and
    9 s − 1 ns send nothing (no notice, no order). At 9 s the order goes again: 0.6 × (19,060 −
    20,000) = −564, the trader keeps 16 (a takeover at the rest's bankruptcy price 20,000 − 580 / 0.6
    = 19,033.4, rounded up against the long, would have left 0.04). The fund is untouched."""
    ex = world(bid=THIN)
    first = published(ex, "19250")
    assert notices(first) == [(1_000, 190_400, 400, 0)] and sent(first) == [(1_000, 173_250)]
    assert held(ex) == 600 and ex.state.wallet(TRADER, "USDT") == 580 * U and held(ex, BTC, IF_ACCOUNT) == 0
    assert ex.liquidation._retry == {(BTC, TRADER): 9 * S}
    between = order(ex, 6 * S + 1, "0.6", "19060")
    for ts in (7 * S, 8 * S, 9 * S - 1):
        between += ex.apply(C.AdvanceClock(ts))
    assert not of(between, Liquidation) and not sent(between) and held(ex) == 600
    events = ex.apply(C.AdvanceClock(9 * S))
    ex.check_integrity()
    assert notices(events) == [(600, 190_334, 600, 0)] and sent(events) == [(600, 173_250)]
    assert held(ex) == 0 and ex.state.wallet(TRADER, "USDT") == 16 * U and not ex.liquidation._retry
    assert ex.state.ledger.insurance("USDT") == FUND * U and held(ex, BTC, IF_ACCOUNT) == 0


def test_the_market_order_fills_past_the_bankruptcy_price_down_to_its_limit() -> None:
    """Bids 0.5 at 19,100, 0.2 at 17,400 and 1 at 17,300. Mark 19,250 at 6 s: the market order
    (limit 17,325) sells 0.5 at 19,100 (−450) and 0.2 at 17,400 (−520), past the bankruptcy price
    19,040, not at 17,300: the wallet 960 − 970 = −10, the 0.3 left and its deficit stay (equity
    −10 + 0.3 × (19,250 − 20,000) = −235; the fund covers nothing yet). At 9 s the equity is below
    2/3 of MM and the fund can absorb it: the vault takes the 0.3 at the mark and covers the wallet's
    −235: the trader ends at 0, the fund at 1,000 − 235 = 765 with the 0.3 (no bid inside its band:
    19,250 × 0.95 = 18,287.5)."""
    ex = world(bid=("19100", "0.5"))
    order(ex, 1, "0.2", "17400")
    order(ex, 1, "1", "17300")
    first = published(ex, "19250")
    assert notices(first) == [(1_000, 190_400, 700, 0)] and sent(first) == [(1_000, 173_250)]
    assert held(ex) == 300 and ex.state.wallet(TRADER, "USDT") == -10 * U
    assert ex.state.ledger.insurance("USDT") == FUND * U
    events = ex.apply(C.AdvanceClock(9 * S))
    ex.check_integrity()
    assert notices(events) == [(300, 192_500, 0, 300)] and not sent(events)
    [cover] = [e for e in of(events, BalanceChanged) if e.cause == "insurance_cover"]
    assert (cover.account, cover.delta, cover.balance) == (TRADER, 235 * U, 0)
    assert held(ex) == 0 and held(ex, BTC, IF_ACCOUNT) == 300
    assert ex.state.ledger.insurance("USDT") == (FUND - 235) * U


def vault_after_retries(ex: Exchange) -> list:
    """As in the first test to 6 s, then: 7 s nothing; 9 s the retry finds no bid (filled 0,
    nothing taken); published at 19,200 (12 s): equity 580 − 480 = 100, not below 2/3 of MM 144
    (96): retried again; at 19,190 (15 s): 580 − 486 = 94 < 2/3 × 143.925 = 95.95: no order, the
    vault takes the 0.6 at the mark and the 94 of margin. Each command's events."""
    px = ex.markets[BTC].spec.price_to_ticks
    out = [published(ex, "19250")]
    for cmd in (C.AdvanceClock(7 * S), C.AdvanceClock(9 * S), C.SetIndexPrice(9 * S + 1, BTC, px("19200")),
                C.AdvanceClock(12 * S), C.SetIndexPrice(12 * S + 1, BTC, px("19190")), C.AdvanceClock(15 * S)):
        out.append(ex.apply(cmd))
    return out


def test_the_vault_takes_the_rest_once_below_two_thirds() -> None:
    """One notice a publication (6, 9, 12 s), none between; at 15 s the vault: the trader ends with 0,
    the fund with 1,000 + 94 and the 0.6."""
    ex = world(bid=THIN)
    steps = vault_after_retries(ex)
    ex.check_integrity()
    assert [notices(e) for e in steps] == [[(1_000, 190_400, 400, 0)], [], [(600, 190_334, 0, 0)], [],
                                           [(600, 190_334, 0, 0)], [], [(600, 191_900, 0, 600)]]
    [margin] = [e for e in of(steps[-1], BalanceChanged) if e.cause == "backstop_margin"]
    assert (margin.account, margin.delta, margin.balance) == (TRADER, -94 * U, 0)
    assert held(ex) == 0 and ex.state.wallet(TRADER, "USDT") == 0
    assert held(ex, BTC, IF_ACCOUNT) == 600 and ex.state.ledger.insurance("USDT") == (FUND + 94) * U


def test_a_partial_step_is_its_publications_only_order_and_the_window_retries_whole() -> None:
    """10 BTC on 9,600 (192,500 of notional at 19,250: above 100,000, 20 % a step), a bid of 1 BTC
    at 19,050. 6 s: the step, 2 BTC, sells 1 (wallet 8,650) and is the only order: the 9 left wait for
    9 s. A new 1-BTC bid at 7 s is not taken then; at 9 s, inside the 30-s window (to 36 s), one order
    for all 9 BTC (bankruptcy 20,000 − 8,650 / 9 = 19,038.9) fills 1 of it (wallet 7,700). At 37 s,
    past the window, a step again: 20 % of 8 (1.6, bankruptcy 20,000 − 7,700 / 8 = 19,037.5) sells 1
    into a new bid, and nothing more goes before the next publication."""
    ex = world(size=10, bid=("19050", "1"))
    first = published(ex, "19250")
    assert notices(first) == [(2_000, 190_400, 1_000, 0)] and sent(first) == [(2_000, 173_250)]
    assert held(ex) == 9_000 and ex.state.wallet(TRADER, "USDT") == 8_650 * U
    assert not of(order(ex, 7 * S, "1", "19050"), Liquidation) and held(ex) == 9_000
    assert notices(ex.apply(C.AdvanceClock(9 * S))) == [(9_000, 190_389, 1_000, 0)]  # whole, not 1,800
    assert held(ex) == 8_000 and ex.state.wallet(TRADER, "USDT") == 7_700 * U
    events = order(ex, 37 * S, "1", "19050")
    ex.check_integrity()
    assert sent(events) == [(1_600, 173_250)] and notices(events) == [(1_600, 190_375, 1_000, 0)]
    assert held(ex) == 7_000 and ex.state.wallet(TRADER, "USDT") == 6_750 * U


def run(engine: type) -> tuple:
    ex = world(engine=engine, bid=THIN)
    return [[list(e) for e in step] for step in vault_after_retries(ex)], ex.state_hash()


def test_the_plain_twin_retries_alike() -> None:
    """The compiled engine and its plain-Python twin (engine/twin.py): the same events and hash."""
    compiled, plain = run(Exchange), run(pure_exchange().Exchange)
    assert compiled == plain and "backstop_margin" in str(compiled[0][-1])


def test_a_pending_retry_is_in_the_state_and_survives_a_snapshot() -> None:
    """The attempt due at 9 s is part of the state hash (a copy without it hashes otherwise), and a
    pickled copy (what a checkpoint writes) waits and retries as the original does."""
    ex = world(bid=THIN)
    published(ex, "19250")
    assert ex.liquidation._retry == {(BTC, TRADER): 9 * S} and ex.liquidation._due == 9 * S
    copy = pickle.loads(pickle.dumps(ex))
    assert copy.state_hash() == ex.state_hash()
    forgot = pickle.loads(pickle.dumps(ex))
    forgot.liquidation._retry = {}
    assert forgot.state_hash() != ex.state_hash()
    a, b = order(ex, 6 * S + 5, "0.6", "19060"), order(copy, 6 * S + 5, "0.6", "19060")
    assert [list(e) for e in a] == [list(e) for e in b] and not notices(a)
    a, b = ex.apply(C.AdvanceClock(9 * S)), copy.apply(C.AdvanceClock(9 * S))
    assert [list(e) for e in a] == [list(e) for e in b] and notices(a) == [(600, 190_334, 600, 0)]
    assert ex.state_hash() == copy.state_hash()


def test_the_rest_is_retried_at_the_next_publication_through_the_real_server(tmp_path) -> None:
    """`perpsim serve --profile hyperliquid`: 1 BTC long from 65,000 at 40x on 2,670.75 (bankruptcy
    price 62,329.25), a bid of 0.4 at 62,400, a fund of 1,000. Published at 63,000: equity 670.75 < MM
    787.5, above 2/3 of it (525): the market order (limit 63,000 × 0.9 = 56,700) sells 0.4 at 62,400
    (−1,040, wallet 1,630.75); the 0.6 left (equity 430.75, MM 472.5, 2/3: 315) stays. The maker's bid
    of 0.6 at 62,000, placed before the next publication, is not taken then; at it the order goes again
    and sells there, under the rest's bankruptcy price 65,000 − 1,630.75 / 0.6 = 62,282.1: −1,800, the
    wallet −169.25, which the fund covers (1,000 − 169.25 = 830.75); the trader ends with 0. The
    liquidation stream shows two notices, one an attempt (bankruptcy prices on the 0.1 tick, rounded up
    against the long: 62,329.3 and 62,282.1)."""
    with own_venue(tmp_path, profile="hyperliquid") as (running, _cfg, trader), \
            Client(running.address, admin_key=(tmp_path / "admin.key").read_text().strip()) as admin:
        maker = long_at_40x(admin, trader, "0.4", "62400")
        admin.fund_insurance("USDT", "1000")
        got: queue.Queue = queue.Queue()
        with admin.stream_liquidations(BTC) as liquidations:
            collect(liquidations, got)
            just_past_a_publication(admin)
            admin.set_index_price(BTC, "63000")
            admin.advance_clock(GRID_NS)
            assert trader.mark(BTC).mark_price == Decimal("63000")
            assert [p.quantity for p in trader.positions(BTC)] == [Decimal("0.6")]
            assert trader.account().balance("USDT").wallet == Decimal("1630.75")
            maker.place_order(BTC, "buy", "0.6", "62000")
            assert [p.quantity for p in trader.positions(BTC)] == [Decimal("0.6")]  # until the publication
            admin.advance_clock(GRID_NS)
            assert trader.positions(BTC) == [] and trader.account().balance("USDT").wallet == 0
            seen = [got.get(timeout=5) for _ in range(2)]
            with pytest.raises(queue.Empty):
                got.get(timeout=0.5)
        assert [(n.quantity, n.bankruptcy_price, n.filled_quantity) for n in seen] == [
            (Decimal("1"), Decimal("62329.3"), Decimal("0.4")), (Decimal("0.6"), Decimal("62282.1"), Decimal("0.6"))]
        sold = [(t.side, t.price, t.quantity) for t in trader.trades(BTC)[-2:]]
        assert sold == [("sell", Decimal("62400"), Decimal("0.4")), ("sell", Decimal("62000"), Decimal("0.6"))]
        assert admin.insurance_fund("USDT")["USDT"] == Decimal("830.75")
