"""The margin figures of a Multi-Assets account (Binance USDⓈ-M "Multi-Assets mode").

An account in the mode holds one cross collateral for every USDⓈ-margined market: its USDT and
USDC at their USD index (`STABLE_INDEXES`: a SetIndexPrice on "USDTUSD" / "USDCUSD", a
RATE_SCALE-scaled USD price; par until set, and par is kept as no entry so that a venue that never
sets one computes and hashes as before) plus its BTC wallet at its collateral value, BTC × USD
index × (1 − haircut) rounded down; BTC's USD index is the BTC-USDⓈ market's last live index
(`State._collateral_index`; a stale source leaves the last value in place) times its settlement
stablecoin's index. Per stablecoin, equity = wallet + uPnL of its cross legs counts at
risk.collateral's rates (bid when positive, ask when negative, rounded down) and margin
requirements at the ask rate (rounded up). Margin balance and available are the pool's USD
figures restated in the asked asset at its ask rate (rounded against the account); withdrawable,
the liquidation check and the liquidation index's base of the account's USDⓈ markets are all
taken over this pool.

Indexing: a USDⓈ leg's liquidation price is solved with the rest of the pool held fixed, as for
a multi-market cross account, restated in the leg's settlement asset (`others`, `liq_base`): the
other stablecoin and BTC at their rates, rounded down, their maintenance margin rounded up. With
the stablecoins' buffers at 0 the leg's asset has one rate and the kernel's linear solve is exact;
the sweep's check (`liquidatable`) is exact at any buffers. The collateral's value moves with the
BTC index and with each stablecoin index, so every such index update re-keys every Multi-Assets
account that holds a position (`touch_on_index`): O(Multi-Assets accounts with positions) per
move, each checked exactly at that price (the sweep's `LiquidationIndex._liquidatable`).

Losses: realized losses and fees are booked in the market's settlement asset, whose wallet may
go below zero while the pool covers it. A liquidation whose pool ends below zero is topped up by
the insurance fund in the market's asset, as a single-asset one is; then Binance's auto-exchange
repays what the account still owes in a settlement asset (`auto_exchange`): first from the other
stablecoin (at the debt's ask rate over its bid rate), then by selling BTC at its USD index less
its haircut, to the venue's conversion desk (holder DESK, which keeps the haircut). Binance's
other two triggers (a wallet below −5,000/−10,000 USD, LTV ≥ 0.995 without positions) are not
modeled: until a liquidation, a negative wallet stays, covered by the pool, and Single-Asset
mode is refused while one is left.

Plain Python called by the compiled stages with their shared `State` (engine/state.py): only
Multi-Assets accounts take these paths.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from perpsim.model.causes import LedgerCause
from perpsim.risk.collateral import (
    DEFAULT_MARGIN_ASSETS,
    USD_DECIMALS,
    auto_exchange_sale,
    available_for_order,
    collateral_amount,
    collateral_value,
    owed_amount,
    owed_value,
)
from perpsim.risk.ledger import INSURANCE
from perpsim.risk.margin import initial_margin
from perpsim.risk.units import RATE_SCALE

# Members bound once as module names (reading one off its Enum class costs about ten times more).
_LEDGER_AUTO_EXCHANGE = LedgerCause.AUTO_EXCHANGE
_LEDGER_INSURANCE_COVER = LedgerCause.INSURANCE_COVER

if TYPE_CHECKING:
    from perpsim.engine.state import State

#: Settlement assets pooled at par, and the collateral asset valued at its index.
POOLED = ("USDT", "USDC")
COLLATERAL = "BTC"
MARGIN_ASSETS = (*POOLED, COLLATERAL)
#: The ledger holder auto-exchange sells collateral to.
DESK = ("auto_exchange", 0)
#: The index names a SetIndexPrice gives a stablecoin's USD index under, and the stablecoin.
STABLE_INDEXES = {"USDTUSD": "USDT", "USDCUSD": "USDC"}
#: A stablecoin index (RATE_SCALE-scaled USD) must lie in (0, MAX_STABLE_INDEX]: 0 to 2 USD.
MAX_STABLE_INDEX = 2 * RATE_SCALE


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


def rate_of(state: State, asset: str) -> int:
    """A pooled stablecoin's USD index (RATE_SCALE-scaled): the last SetIndexPrice on its
    `STABLE_INDEXES` name, 1 USD (par) until one moves it; absent from the state at par."""
    return state._collateral_index.get(asset, RATE_SCALE)


def btc_index_usd(state: State) -> int | None:
    """BTC's USD index (RATE_SCALE-scaled): the BTC market's index, quoted in its settlement
    stablecoin, times that stablecoin's USD index (rounded down); None before any BTC index."""
    index = state._collateral_index.get(COLLATERAL)
    if index is None or not off_par(state):
        return index
    settle = state.markets[state._collateral_market].asset
    return index * rate_of(state, settle) // RATE_SCALE


def collateral_usd(state: State, account: int) -> int:
    """The BTC wallet's collateral value (USD units, rounded down; 0 before any BTC index)."""
    amount = state.wallet(account, COLLATERAL)
    index = btc_index_usd(state)
    if not amount or index is None:
        return 0
    return collateral_value(DEFAULT_MARGIN_ASSETS[COLLATERAL], amount, index)


def _usd(state: State, asset: str, amount: int) -> int:
    """What `amount` units of a pooled asset count for (USD units, risk.collateral.collateral_value:
    the bid rate when positive, the ask rate when negative, rounded down)."""
    return collateral_value(DEFAULT_MARGIN_ASSETS[asset], amount, rate_of(state, asset))


def _owed_usd(state: State, asset: str, amount: int) -> int:
    """A requirement of `amount` ≥ 0 units of a pooled asset in USD units (ask rate, rounded up)."""
    return owed_value(DEFAULT_MARGIN_ASSETS[asset], amount, rate_of(state, asset))


def _units(state: State, asset: str, usd: int) -> int:
    """USD units in `asset` units at its ask rate, rounded down (what the USD buys of it)."""
    return available_for_order(DEFAULT_MARGIN_ASSETS[asset], rate_of(state, asset), usd)


def _owed_units(state: State, asset: str, usd: int) -> int:
    """A USD requirement ≥ 0 in `asset` units at its ask rate, rounded up."""
    return owed_amount(DEFAULT_MARGIN_ASSETS[asset], usd, rate_of(state, asset))


def _per_asset(state: State, account: int, skip: str | None = None) -> dict[str, list[int]]:
    """Per pooled asset, [uPnL, MM rounded up per leg, exact MM × RATE_SCALE] of its cross legs
    outside `skip`."""
    out = {asset: [0, 0, 0] for asset in POOLED}
    for m, p in legs(state, account, skip):
        row = out[m.asset]
        row[0] += m.upnl(p)
        row[1] += state._mm(m, p)
        row[2] += state._mm_scaled(m, p)
    return out


def wallets(state: State, account: int) -> int:
    """The pool's wallets: USDT and USDC at their USD index + the BTC collateral value (USD units)."""
    total = collateral_usd(state, account)
    for asset in POOLED:
        total += _usd(state, asset, state.wallet(account, asset))
    return total


def wallets_in(state: State, account: int, asset: str) -> int:
    """The pool's wallets in `asset` units: its own wallet, plus the other stablecoin's and the
    BTC collateral's value converted at `asset`'s ask rate, rounded down (`wallets` at par)."""
    rest = collateral_usd(state, account)
    for other in POOLED:
        if other != asset:
            rest += _usd(state, other, state.wallet(account, other))
    return state.wallet(account, asset) + _units(state, asset, rest)


def legs(state: State, account: int, skip: str | None = None) -> list:
    """(market, position) of every cross position in a pooled asset, by asset then market."""
    found = []
    for asset in POOLED:
        found.extend(state._cross(account, asset, skip))
    return found


def equity(state: State, account: int) -> int:
    """The pool's equity in USD units: Σ per stablecoin of (wallet + uPnL of its legs) at its
    rate (risk.collateral.collateral_value, rounded down each) + the BTC collateral value."""
    total = collateral_usd(state, account)
    for asset, (upnl, _, _) in _per_asset(state, account).items():
        total += _usd(state, asset, state.wallet(account, asset) + upnl)
    return total


def margin_balance(state: State, account: int, asset: str) -> int:
    """The pool's equity in `asset` units (at its ask rate, rounded down; at par the USD figure)."""
    return _units(state, asset, equity(state, account))


def initial_usd(state: State, account: int) -> int:
    """Initial margin of the pool in USD units: per stablecoin, its cross positions at mark and
    its opening orders (at their price with their fee reserve), at its ask rate rounded up."""
    per = dict.fromkeys(POOLED, 0)
    for m, p in legs(state, account):
        per[m.asset] += initial_margin(m.value(p.lots, m.mark), state._lev(account, m))
    for m in state.markets.values():
        value = m.order_value.get(account) if m.asset in POOLED else None
        if value:
            per[m.asset] += state._orders_margin(m, value, state._lev(account, m))
    return sum(_owed_usd(state, asset, im) for asset, im in per.items())


def initial(state: State, account: int, asset: str) -> int:
    """The pool's initial margin in `asset` units (at its ask rate, rounded up)."""
    return _owed_units(state, asset, initial_usd(state, account))


def withdrawable(state: State, account: int, asset: str) -> int:
    """What may leave in `asset` (its units, ≥ 0): at most its wallet, and no more than the
    pool's wallets, less unrealized loss and initial margin (USD), can spare, converted at the
    asset's bid rate (rounded down)."""
    upnl = 0
    for pooled, (u, _, _) in _per_asset(state, account).items():
        upnl += _usd(state, pooled, u)
    free = wallets(state, account) + min(0, upnl) - initial_usd(state, account)
    wallet = state.wallet(account, asset)
    if asset == COLLATERAL:
        index = btc_index_usd(state)
        spare = wallet if index is None else collateral_amount(DEFAULT_MARGIN_ASSETS[COLLATERAL], free, index)
        return max(0, min(wallet, spare))
    return max(0, min(wallet, collateral_amount(DEFAULT_MARGIN_ASSETS[asset], free, rate_of(state, asset))))


def liquidatable(state: State, account: int) -> bool:
    """Margin ratio ≥ 100 % over the pool: equity (USD, rounded down) ≤ Σ exact MM at each
    asset's ask rate, compared as integers scaled by RATE_SCALE³."""
    mm = 0
    for asset, (_, _, scaled) in _per_asset(state, account).items():
        a = DEFAULT_MARGIN_ASSETS[asset]
        mm += scaled * rate_of(state, asset) * (RATE_SCALE + a.ask_buffer)
    return equity(state, account) * RATE_SCALE**3 <= mm


def others(state: State, account: int, symbol: str | None) -> tuple[int, int]:
    """(uPnL, maintenance margin) of the pool's legs outside `symbol`, as the liquidation and
    bankruptcy solves of `symbol`'s legs take them beside `wallets`: in `symbol`'s settlement
    asset, so that wallets + uPnL is the rest of the pool's equity and MM the rest's margin in
    that asset's units (the other stablecoin and BTC converted at their rates, rounded down,
    their MM at their ask rate, rounded up). For None, the whole pool in USD units."""
    per = _per_asset(state, account, skip=symbol)
    if symbol is None:
        return equity(state, account) - wallets(state, account), \
            sum(_owed_usd(state, asset, mm) for asset, (_, mm, _) in per.items())
    own = state.markets[symbol].asset
    rest = collateral_usd(state, account)
    rest_mm = 0
    for asset, (upnl, mm, _) in per.items():
        if asset != own:
            rest += _usd(state, asset, state.wallet(account, asset) + upnl)
            rest_mm += _owed_usd(state, asset, mm)
    upnl, mm, _ = per[own]
    rest_own = state.wallet(account, own) + upnl + _units(state, own, rest)
    return rest_own - wallets(state, account), mm + _owed_units(state, own, rest_mm)


def liq_base(state: State, account: int, symbol: str) -> int:
    """What `symbol`'s legs are solved against: the rest of the pool's equity less its MM held
    fixed, in `symbol`'s settlement asset units (the pool's figures at par)."""
    upnl, mm = others(state, account, symbol)
    return wallets(state, account) + upnl - mm


def set_stable_index(state: State, name: str, price: int, source: str) -> str:
    """Set a stablecoin's USD index from a SetIndexPrice on its `STABLE_INDEXES` name (`price`:
    RATE_SCALE-scaled USD, from the one source "sandbox"); every Multi-Assets account holding a
    position is re-keyed. Par is stored as no entry, so a venue that never moves one keeps its
    state (and state hash) as before. Why it is refused ("" when done, nothing changed else)."""
    if source != "sandbox":
        return "source"
    if not 0 < price <= MAX_STABLE_INDEX:
        return "price"
    asset = STABLE_INDEXES[name]
    if price == RATE_SCALE:
        state._collateral_index.pop(asset, None)
    else:
        state._collateral_index[asset] = price
    if state.multi_assets:
        touch_on_index(state)
    return ""


def off_par(state: State) -> bool:
    """Whether a stablecoin's USD index is away from 1 (the state hash then covers the rates)."""
    return any(asset in state._collateral_index for asset in POOLED)


def touch_on_index(state: State) -> None:
    """Mark every Multi-Assets account holding a position for re-keying (the BTC index or a
    stablecoin's index moved)."""
    held = state._markets_of
    state._touched.update(a for a in state.multi_assets if a in held)


def collateral_values(state: State, account: int) -> dict[str, int]:
    """Per margin asset, what its wallet counts for in the pool (USD units, rounded down; a
    negative wallet at its ask rate); BTC is left out before its first index."""
    out = {asset: _usd(state, asset, state.wallet(account, asset)) for asset in POOLED}
    index = btc_index_usd(state)
    if index is not None:
        out[COLLATERAL] = collateral_value(DEFAULT_MARGIN_ASSETS[COLLATERAL], state.wallet(account, COLLATERAL), index)
    return out


def auto_exchange(state: State, account: int) -> None:
    """Repay each negative settlement wallet after a liquidation: from the other stablecoin at
    the debt's ask rate over the other's bid rate (what the account gives rounded up, capped at
    what it holds, what that covers rounded down), then by selling BTC, deficit / (1 − haircut)
    of its USD value at BTC's USD index (rounded up: the account gives it; never more than it
    holds, the desk then taking what the BTC covers, rounded down). A few units the sale cannot
    cover (the pool was topped up to zero, but each conversion rounds against the account) are
    covered by the insurance fund, as a bankrupt wallet is."""
    btc_asset = DEFAULT_MARGIN_ASSETS[COLLATERAL]
    for debt in POOLED:
        deficit = -state.wallet(account, debt)
        if deficit <= 0:
            continue
        for other in POOLED:
            held = state.wallet(account, other) if other != debt else 0
            if held > 0:
                give = min(held, _owed_units_bid(state, other, _owed_usd(state, debt, deficit)))
                covered = min(deficit, _units(state, debt, _usd(state, other, give)))
                state._move(other, account, DESK, give, _LEDGER_AUTO_EXCHANGE)
                state._move(debt, DESK, account, covered, _LEDGER_AUTO_EXCHANGE)
                deficit -= covered
        btc, index = state.wallet(account, COLLATERAL), btc_index_usd(state)
        if deficit > 0 and btc > 0 and index is not None:
            d = DEFAULT_MARGIN_ASSETS[debt]
            sold = auto_exchange_sale(deficit, d, rate_of(state, debt), btc_asset, index)
            covered = deficit
            if sold >= btc:
                sold, covered = btc, min(deficit, _units(state, debt, collateral_value(btc_asset, btc, index)))
            state._move(COLLATERAL, account, DESK, sold, _LEDGER_AUTO_EXCHANGE)
            state._move(debt, DESK, account, covered, _LEDGER_AUTO_EXCHANGE)
            deficit -= covered
        if deficit > 0:
            state._move(debt, INSURANCE, account, deficit, _LEDGER_INSURANCE_COVER)


def _owed_units_bid(state: State, asset: str, usd: int) -> int:
    """`asset` units whose value at its bid rate covers `usd` ≥ 0 USD units (rounded up)."""
    a = DEFAULT_MARGIN_ASSETS[asset]
    return owed_amount(a, usd, rate_of(state, asset), bid=True)
