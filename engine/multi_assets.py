"""The margin figures of a Multi-Assets account (Binance USDⓈ-M "Multi-Assets mode").

An account in the mode holds one cross collateral for every USDⓈ-margined market: its USDT and
USDC wallets at par (the venue has no stablecoin index: risk.collateral.DEFAULT_MARGIN_ASSETS)
plus its BTC wallet at its collateral value, BTC × index × (1 − haircut) rounded down, at the
last live index of the BTC-USDⓈ market (`State._collateral_index`, set by SetIndexPrice; a
stale source leaves the last value in place). Margin balance, available, withdrawable, the
liquidation check and the liquidation index's base of the account's USDⓈ markets are all taken
over this pool; the USDⓈ assets have the same money units as USD (8 decimals), so the pool adds
them unit for unit.

Indexing: a USDⓈ leg's liquidation price is solved with the rest of the pool held fixed, as for
a multi-market cross account. The BTC collateral's value moves with the BTC index, so every
index update of the BTC market re-keys every Multi-Assets account that holds a position
(`touch_on_index`): O(Multi-Assets accounts with positions) per BTC index move, each checked
exactly at that price (the sweep's `Liquidation._liquidatable` compares the pool's exact figures).

Losses: realized losses and fees are booked in the market's settlement asset, whose wallet may
go below zero while the pool covers it. A liquidation whose pool ends below zero is topped up by
the insurance fund in the market's asset, as a single-asset one is; then Binance's auto-exchange
repays what the account still owes in a settlement asset (`auto_exchange`): first from the other
stablecoin at par, then by selling BTC at its index less its haircut, to the venue's conversion
desk (holder DESK, which keeps the haircut). Binance's other two triggers (a wallet below
−5,000/−10,000 USD, LTV ≥ 0.995 without positions) are not modeled: until a liquidation, a
negative wallet stays, covered by the pool, and Single-Asset mode is refused while one is left.

Plain Python called by the compiled stages with their shared `State` (engine/state.py): only
Multi-Assets accounts take these paths.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from perpsim.risk.collateral import (
    DEFAULT_MARGIN_ASSETS,
    USD_DECIMALS,
    auto_exchange_sale,
    collateral_amount,
    collateral_value,
)
from perpsim.risk.ledger import INSURANCE
from perpsim.risk.margin import initial_margin
from perpsim.risk.units import RATE_SCALE

if TYPE_CHECKING:
    from perpsim.engine.state import State

#: Settlement assets pooled at par, and the collateral asset valued at its index.
POOLED = ("USDT", "USDC")
COLLATERAL = "BTC"
MARGIN_ASSETS = (*POOLED, COLLATERAL)
#: The ledger holder auto-exchange sells collateral to.
DESK = ("auto_exchange", 0)


def price_market(markets) -> str | None:
    """The linear market whose index prices BTC in a pooled asset (first by symbol), or None."""
    for symbol in sorted(markets):
        spec = markets[symbol].spec
        if spec.base == COLLATERAL and spec.settle in POOLED and not markets[symbol].inverse:
            return symbol
    return None


def unsupported(state: State) -> str:
    """Why the venue cannot run the mode ("" when it can): a pooled market whose money units
    are not USD's, or no market that prices BTC."""
    for m in state.markets.values():
        if m.asset in POOLED and m.spec.settle_decimals != USD_DECIMALS:
            return f"{m.symbol} settles {m.asset} at {m.spec.settle_decimals} decimals, not {USD_DECIMALS}"
    if price_market(state.markets) is None:
        return f"no linear {COLLATERAL} market prices the collateral"
    return ""


def collateral_usd(state: State, account: int) -> int:
    """The BTC wallet's collateral value (USD units, rounded down; 0 before any BTC index)."""
    amount = state.wallet(account, COLLATERAL)
    index = state._collateral_index.get(COLLATERAL)
    if not amount or index is None:
        return 0
    return collateral_value(DEFAULT_MARGIN_ASSETS[COLLATERAL], amount, index)


def wallets(state: State, account: int) -> int:
    """The pool's wallets: USDT + USDC + the BTC collateral value (USD units)."""
    total = collateral_usd(state, account)
    for asset in POOLED:
        total += state.wallet(account, asset)
    return total


def legs(state: State, account: int, skip: str | None = None) -> list:
    """(market, position) of every cross position in a pooled asset, by asset then market."""
    found = []
    for asset in POOLED:
        found.extend(state._cross(account, asset, skip))
    return found


def margin_balance(state: State, account: int) -> int:
    """The pool's equity: wallets + uPnL of every pooled cross position (USD units)."""
    total = wallets(state, account)
    for m, p in legs(state, account):
        total += m.upnl(p)
    return total


def initial(state: State, account: int) -> int:
    """Initial margin of the pool: every pooled cross position at mark and every opening order
    (at its price with its fee reserve), as State.initial_margin counts one asset."""
    total = 0
    for m, p in legs(state, account):
        total += initial_margin(m.value(p.lots, m.mark), state._lev(account, m))
    for m in state.markets.values():
        value = m.order_value.get(account) if m.asset in POOLED else None
        if value:
            total += state._orders_margin(m, value, state._lev(account, m))
    return total


def withdrawable(state: State, account: int, asset: str) -> int:
    """What may leave in `asset` (its units, ≥ 0): at most its wallet, and no more than the
    pool's wallets, less unrealized loss and initial margin, can spare; BTC at its bid rate
    (rounded down)."""
    upnl = 0
    for m, p in legs(state, account):
        upnl += m.upnl(p)
    free = wallets(state, account) + min(0, upnl) - initial(state, account)
    wallet = state.wallet(account, asset)
    if asset == COLLATERAL:
        index = state._collateral_index.get(COLLATERAL)
        spare = wallet if index is None else collateral_amount(DEFAULT_MARGIN_ASSETS[COLLATERAL], free, index)
        return max(0, min(wallet, spare))
    return max(0, min(wallet, free))


def liquidatable(state: State, account: int) -> bool:
    """Margin ratio ≥ 100 % over the pool: equity × RATE_SCALE ≤ Σ exact MM × RATE_SCALE."""
    mm = upnl = 0
    for m, p in legs(state, account):
        mm += state._mm_scaled(m, p)
        upnl += m.upnl(p)
    return (wallets(state, account) + upnl) * RATE_SCALE <= mm


def others(state: State, account: int, symbol: str | None) -> tuple[int, int]:
    """(uPnL, maintenance margin) of the pool's legs outside `symbol` (all of them for None;
    MM rounded up each)."""
    upnl = mm = 0
    for m, p in legs(state, account, skip=symbol):
        upnl += m.upnl(p)
        mm += state._mm(m, p)
    return upnl, mm


def liq_base(state: State, account: int, symbol: str) -> int:
    """What `symbol`'s legs are solved against: the pool's wallets with the other legs' uPnL
    less their MM held fixed (USD units)."""
    upnl, mm = others(state, account, symbol)
    return wallets(state, account) + upnl - mm


def touch_on_index(state: State) -> None:
    """Mark every Multi-Assets account holding a position for re-keying (the BTC index moved)."""
    held = state._markets_of
    state._touched.update(a for a in state.multi_assets if a in held)


def collateral_values(state: State, account: int) -> dict[str, int]:
    """Per margin asset, what its wallet counts for in the pool (USD units, rounded down; a
    negative wallet at its ask rate); BTC is left out before its first index."""
    out = {asset: collateral_value(DEFAULT_MARGIN_ASSETS[asset], state.wallet(account, asset), RATE_SCALE)
           for asset in POOLED}
    index = state._collateral_index.get(COLLATERAL)
    if index is not None:
        out[COLLATERAL] = collateral_value(DEFAULT_MARGIN_ASSETS[COLLATERAL], state.wallet(account, COLLATERAL), index)
    return out


def auto_exchange(state: State, account: int) -> None:
    """Repay each negative settlement wallet after a liquidation: from the other stablecoin at
    par, then by selling BTC, deficit / (1 − haircut) of it at the index (rounded up: the account
    gives it; never more than it holds, the desk then taking what the BTC covers, rounded down).
    A few units the sale cannot cover (the pool was topped up to zero, but each conversion rounds
    against the account) are covered by the insurance fund, as a bankrupt wallet is."""
    btc_asset = DEFAULT_MARGIN_ASSETS[COLLATERAL]
    for debt in POOLED:
        deficit = -state.wallet(account, debt)
        if deficit <= 0:
            continue
        for other in POOLED:
            give = min(deficit, state.wallet(account, other)) if other != debt else 0
            if give > 0:
                state._move(other, account, DESK, give, "auto_exchange")
                state._move(debt, DESK, account, give, "auto_exchange")
                deficit -= give
        btc, index = state.wallet(account, COLLATERAL), state._collateral_index.get(COLLATERAL)
        if deficit > 0 and btc > 0 and index is not None:
            sold = auto_exchange_sale(deficit, DEFAULT_MARGIN_ASSETS[debt], RATE_SCALE, btc_asset, index)
            covered = deficit
            if sold >= btc:
                sold, covered = btc, min(deficit, collateral_value(btc_asset, btc, index))
            state._move(COLLATERAL, account, DESK, sold, "auto_exchange")
            state._move(debt, DESK, account, covered, "auto_exchange")
            deficit -= covered
        if deficit > 0:
            state._move(debt, INSURANCE, account, deficit, "insurance_cover")
