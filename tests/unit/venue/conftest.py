"""Shared pieces of the venue durability tests: an exchange factory and seeded command sessions."""

from __future__ import annotations

import hashlib
import random
from pathlib import Path

import pytest

from perpsim.engine import commands as C
from perpsim.engine.exchange import Exchange
from perpsim.model.enums import ConditionalKind, LegType, ListKind, OrderKind, PositionSide, Side, StpMode, TimeInForce
from perpsim.model.market_files import default_markets
from perpsim.risk.brackets import btcusdt_brackets

U = 10**8  # money units per USDT
SYMBOL = "BTCUSDT"
SPEC = default_markets()[SYMBOL]


class TickClock:
    """Venue time that moves 1 ns per command stamped, from 1 s."""

    def __init__(self) -> None:
        self.t = 10**9

    def now(self) -> int:
        self.t += 1
        return self.t


def written_out_ranges(monkeypatch, module) -> list[tuple[int, int]]:
    """The (offset, length) of every range `module._write_out` pushes to the device from now on,
    in order (each still written out)."""
    ranges: list[tuple[int, int]] = []
    real = module._write_out

    def spy(fd, offset, length):
        ranges.append((offset, length))
        real(fd, offset, length)

    monkeypatch.setattr(module, "_write_out", spy)
    return ranges


def make_exchange(impl: str = "ref") -> Exchange:
    return Exchange({SYMBOL: SPEC}, {SYMBOL: btcusdt_brackets(U)}, book_impl=impl, start_ts=1)


def px(price: int) -> int:
    return SPEC.price_to_ticks(str(price))


def qty(text: str) -> int:
    return SPEC.qty_to_lots(text)


def random_session(seed: int, n: int):
    """A seeded mix of every command type (after tests/unit/engine/test_exchange.py's
    random_session): deposits, limit/market/GTD/reduce-only orders in one-way and hedge mode,
    cancels, withdrawals, transfers, leverage and margin-mode changes, isolated margin moves,
    insurance top-ups, clock advances, conditional orders (some GTD), order lists (brackets and
    reduce-only OCOs, some GTD, some canceled) and index moves. Many are rejected: that is part of it."""
    r = random.Random(seed)
    ts, price, owners = 1, 20_000, [0]
    yield C.SetIndexPrice(ts, SYMBOL, px(price))
    for a in range(1, 9):
        yield C.Deposit(ts, a, "USDT", r.choice([500, 2_000, 50_000]) * U)
    yield C.SetPositionMode(ts, 8, True)
    yield C.SetMarginMode(ts, 7, SYMBOL, True)
    for _ in range(n):
        ts += r.randint(0, 3 * 10**9)
        u = r.random()
        a = r.randint(1, 8)
        pside = r.choice([PositionSide.LONG, PositionSide.SHORT]) if a == 8 else PositionSide.BOTH
        if u < 0.55:
            owners.append(a)  # order ids go up one per accepted order: owners[k] approximates k's owner
        if u < 0.45:
            side = r.choice(list(Side))
            off = r.randint(-20, 200)
            p = price - off if side == Side.BUY else price + off
            gtd = r.random() < 0.1
            yield C.PlaceOrder(ts, a, SYMBOL, side, qty(r.choice(["0.01", "0.1", "0.5", "1"])), px(p),
                               tif=TimeInForce.GTD if gtd else TimeInForce.GTC,
                               expire_ts=ts + r.randint(1, 10) * 10**9 if gtd else 0,
                               stp=r.choice([StpMode.NONE, StpMode.EXPIRE_TAKER]),
                               reduce_only=r.random() < 0.1 and a != 8, position_side=pside)
        elif u < 0.55:
            yield C.PlaceOrder(ts, a, SYMBOL, r.choice(list(Side)), qty(r.choice(["0.01", "0.3"])),
                               kind=OrderKind.MARKET, tif=TimeInForce.IOC, position_side=pside)
        elif u < 0.62:
            yield C.CancelAll(ts, a, SYMBOL)
        elif u < 0.66:
            k = r.randint(max(1, len(owners) // 2 - 20), max(1, len(owners) // 2))
            yield C.CancelOrder(ts, owners[min(k, len(owners) - 1)], SYMBOL, k)
        elif u < 0.70:
            yield C.Withdraw(ts, a, "USDT", r.randint(1, 200) * U)
        elif u < 0.72:
            yield C.Transfer(ts, a, r.randint(1, 8), "USDT", r.randint(1, 50) * U)
        elif u < 0.74:
            yield C.SetLeverage(ts, a, SYMBOL, r.choice([5, 10, 20, 50]))
        elif u < 0.75:
            yield C.SetMarginMode(ts, a, SYMBOL, r.random() < 0.5)
        elif u < 0.76:
            yield C.AdjustIsolatedMargin(ts, 7, SYMBOL, r.randint(-20, 50) * U)
        elif u < 0.77:
            yield C.FundInsurance(ts, "USDT", r.randint(1, 100) * U)
        elif u < 0.78:
            yield C.AdvanceClock(ts)
        elif u < 0.80:
            side, gtd = r.choice(list(Side)), r.random() < 0.3
            sign = 1 if side == Side.BUY else -1
            yield C.PlaceConditional(ts, a, SYMBOL, side, qty("0.1"), ConditionalKind.STOP_MARKET,
                                     px(price + sign * r.randint(10, 300)), position_side=pside,
                                     tif=TimeInForce.GTD if gtd else TimeInForce.GTC,
                                     expire_ts=ts + r.randint(1, 10) * 10**9 if gtd else 0)
        elif u < 0.82 and a != 8:
            side, gtd = r.choice(list(Side)), r.random() < 0.3
            sign, bracket = (1 if side == Side.BUY else -1), r.random() < 0.6
            out = -sign if bracket else sign  # the exits' direction: the other side for a bracket
            limit_tp = r.random() < 0.5
            yield C.PlaceOrderList(ts, a, SYMBOL, ListKind.BRACKET if bracket else ListKind.OCO, side,
                                   qty(r.choice(["0.01", "0.1"])), px(price - sign * r.randint(0, 50)) * bracket,
                                   tp_type=LegType.LIMIT if limit_tp else LegType.TAKE_PROFIT_MARKET,
                                   tp_trigger=0 if limit_tp else px(price - out * 400),
                                   tp_price=px(price - out * 400) if limit_tp else 0,
                                   sl_type=LegType.STOP_MARKET, sl_trigger=px(price + out * 400),
                                   reduce_only=not bracket, expire_ts=ts + r.randint(1, 20) * 10**9 if gtd else 0,
                                   # a few ids repeat: retries and reuses of a list's client order id
                                   client_order_id=f"list-{r.randint(1, 20)}" if r.random() < 0.5 else "")
        elif u < 0.83:
            yield C.CancelOrderList(ts, a, SYMBOL, r.randint(1, len(owners)))
        else:
            price = max(1_000, price + r.randint(-300, 280))
            yield C.SetIndexPrice(ts, SYMBOL, px(price))


def _dir_digest(path: Path) -> dict[str, str]:
    """Name -> sha256 of every file under `path` (to prove nothing on disk changed)."""
    return {str(p.relative_to(path)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(path.rglob("*")) if p.is_file()}


@pytest.fixture
def session():
    """random_session(seed, n): a seeded command session."""
    return random_session


@pytest.fixture
def exchange_factory():
    """make_exchange(impl="ref"): one BTCUSDT market, start_ts 1."""
    return make_exchange


@pytest.fixture
def dir_digest():
    """dir_digest(path) -> {name: sha256} of every file under path."""
    return _dir_digest
