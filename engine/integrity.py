"""The exchange's checks: its state hash and its integrity check.

`state_hash` is what determinism is tested by (same commands, same hash, in the compiled build
and the plain twin, live and after replay); `check_integrity` is what every test and the
machines run after each command. Both read the shared state (engine.state) only and change
nothing; neither is on the order path.
"""

from __future__ import annotations

import dataclasses
import hashlib
from fractions import Fraction
from typing import TYPE_CHECKING

from perpsim.engine import multi_assets as MA
from perpsim.engine.market import BOTH, position_key, position_of
from perpsim.model.enums import TriggerSource

if TYPE_CHECKING:
    from perpsim.engine.standing import StandingOrders
    from perpsim.engine.state import State


def _plain(cmd) -> tuple:
    """A command's fields as plain ints and strs (an IntEnum and its value hash alike)."""
    return tuple(v if isinstance(v, str) else int(v) for v in dataclasses.astuple(cmd))


def state_hash(state: State, paced: dict, blocks: dict | None = None, due: int = 0, retry: dict | None = None) -> str:
    """One hash over every market's book, positions, prices, mark state, modes and the whole
    ledger, the partial-liquidation windows `paced` open, the per-block liquidation records
    `blocks`, when a waiting account is due and the Hyperliquid attempts waiting for their next
    publication `retry` (engine.liquidation). The optional parts are added only once in use
    (Multi-Assets mode, a stablecoin off par, a paced window, a block record, a waiting attempt)."""
    h = hashlib.blake2b(digest_size=16)
    h.update(f"{state.ts}:{state.next_order_id}:{sorted(state.hedge)};".encode())
    if state.multi_assets or MA.off_par(state):  # absent while unused: older hashes stand
        h.update(f"ma:{sorted(state.multi_assets)}:{sorted(state._collateral_index.items())};".encode())
    if paced:  # partial-liquidation windows open (a paced profile): absent otherwise
        h.update(f"paced:{sorted(paced.items())};".encode())
    if blocks or due:  # per-block records (dYdX) or a waiting account (OKX, dYdX): absent otherwise
        h.update(f"blocks:{sorted((blocks or {}).items())}:{due};".encode())
    if retry:  # Hyperliquid attempts waiting for the next mark publication: absent otherwise
        h.update(f"retry:{sorted(retry.items())};".encode())
    if state._forced:  # OKX's resting liquidation orders (engine.okx_orders): absent otherwise
        h.update(f"forced:{sorted(state._forced.items())};".encode())
    for symbol, m in state.markets.items():
        h.update(f"{symbol}:{m.book.state_hash()}:{m.mark}:{m.last}:{m.rate}:{m.next_funding}:"
                 f"{sorted(m.isolated)};".encode())
        # the mark's own state (basis samples, EMAs): the next marks depend on it
        h.update(repr(m.mark_state.state()).encode())
        # plain ints only: an IntEnum and its int value must hash alike (replay decodes ints)
        for k in sorted(m.positions):
            p, (account, pside) = m.positions[k], position_of(k)
            h.update(f"{account}:{pside}:{p.lots}:{p.cost};".encode())
        for oid in sorted(m.orders):
            o = m.orders[oid]
            h.update(f"{oid}:{o.account}:{int(o.side)}:{o.price}:{o.leaves}:{int(o.reduce_only)}:"
                     f"{int(o.pside)};".encode())
        h.update(m.liq.state_hash().encode())
        for source in TriggerSource:
            h.update(f"{int(source)}:{m.observed.get(source)}:{m.triggers[source].state_hash()};".encode())
        h.update(repr(sorted((cid, _plain(c)) for cid, c in m.conditionals.items())).encode())
        h.update(repr(sorted((gid, _plain(g.cmd), g.entry, g.armed, g.closed, tuple(g.legs))
                             for gid, g in m.lists.items())).encode())
    for key in sorted(state.leverage):
        h.update(f"{key}:{state.leverage[key]};".encode())
    h.update(f"day:{state._day_end};".encode())
    for key in sorted(state._loss_limits):
        h.update(f"{key}:{state._loss_limits[key].key()};".encode())
    for asset in sorted(state._day_pnl):
        day = state._day_pnl[asset]
        h.update(f"{asset}:{sorted((a, v) for a, v in day.items() if v)};".encode())
    state.ledger.digest(h)
    return h.hexdigest()

def check_integrity(state: State, standing: StandingOrders) -> None:
    """Conservation, the pnl pools, zero net open interest, order records, the kernels and
    every index kept beside them; raises AssertionError naming what disagrees."""
    state.ledger.check_conservation()
    for m in state.markets.values():
        m.book.check_integrity()
        m.liq.check_integrity()
        indexed = set()
        for source, index in m.triggers.items():
            index.check_integrity()
            ids = {e.order_id for e in index.entries()}
            if any(m.conditionals[c].source != source for c in ids if c in m.conditionals):
                raise AssertionError(f"{m.symbol}: a conditional order sits in the wrong trigger index")
            indexed |= ids
        if indexed != set(m.conditionals):
            raise AssertionError(f"{m.symbol}: conditional orders and trigger indexes disagree")
        net = sum(p.lots for p in m.positions.values())
        pool = state.ledger.balance(m.pnl_pool, m.asset)
        expected = m.pool_target()
        if net != 0 or pool != expected:
            raise AssertionError(f"{m.symbol}: net lots {net}, pnl pool {pool} != {expected}")
        resting = {o.order_id: o.leaves for o in m.book.orders()}
        if resting != {oid: o.leaves for oid, o in m.orders.items()}:
            raise AssertionError(f"{m.symbol}: open-order records disagree with the book")
        value: dict[int, int | Fraction] = {}
        for o in m.orders.values():
            if not o.reduce_only:
                value[o.account] = value.get(o.account, 0) + m.value(o.leaves, o.price)
        if {a: v for a, v in value.items() if v} != m.order_value:
            raise AssertionError(f"{m.symbol}: open-order value disagrees with the orders")
        ro: dict[tuple[int, int], set[int]] = {}
        for oid, o in m.orders.items():
            if o.reduce_only:
                ro.setdefault((o.account, o.pside), set()).add(oid)
        of: dict[int, set[int]] = {}
        for cid, c in m.conditionals.items():
            of.setdefault(c.account, set()).add(cid)
        if ro != m.reduce_only or of != m.conditionals_of:
            raise AssertionError(f"{m.symbol}: reduce-only or conditional-order index is stale")
        standing._check_lists(m)
        if m.hedge is not state.hedge:
            raise AssertionError(f"{m.symbol}: the market's hedge-mode set is not the exchange's")
        for k, p in m.positions.items():
            account, pside = position_of(k)
            if p.lots == 0 or m.symbol not in state._markets_of.get(account, ()):
                raise AssertionError(f"{m.symbol}: position record of {account} is stale")
            if (pside != BOTH) != (account in state.hedge):
                raise AssertionError(f"{m.symbol}: account {account} holds a {pside} position in the other mode")
        for key, _, _ in m.liq.entries():
            account, pside = position_of(key)
            if not m.holds(account) or (account in m.isolated and position_key(account, pside) not in m.positions):
                raise AssertionError(f"{m.symbol}: liquidation index entry {key} has no position")
        multi = {a for a, syms in state._markets_of.items() if len(syms) > 1 and m.symbol in syms}
        if multi != state._multi[m.symbol]:
            raise AssertionError(f"{m.symbol}: multi-market account index is stale")
