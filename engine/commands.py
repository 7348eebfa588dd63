"""Commands: the only inputs of `Exchange.apply`. Each carries its own timestamp (ns).

Units: prices in ticks, quantities in lots, money in integer units of the asset, leverage as
an integer multiple. Conversion from decimals happened at the edge (MarketSpec).
"""

from __future__ import annotations

from dataclasses import dataclass

from perpsim.model.enums import (
    ConditionalKind,
    LegType,
    OrderKind,
    PositionSide,
    StpMode,
    TimeInForce,
    TriggerSource,
)


@dataclass(frozen=True, slots=True)
class Deposit:
    """Credit `amount` money units of `asset` from outside the venue to the account's wallet
    (amount > 0)."""

    ts: int
    account: int
    asset: str
    amount: int


@dataclass(frozen=True, slots=True)
class Withdraw:
    """Pay `amount` money units of `asset` out of the account's wallet: refused beyond
    `State.withdrawable` (the wallet less the margin in use and any unrealized loss; an
    unrealized profit never counts)."""

    ts: int
    account: int
    asset: str
    amount: int


@dataclass(frozen=True, slots=True)
class Transfer:
    """Move free collateral from one account to another (sub-account style)."""

    ts: int
    account: int
    to_account: int
    asset: str
    amount: int


@dataclass(frozen=True, slots=True)
class SetLeverage:
    """The account's leverage in one market, an integer multiple from 1 to what the market's
    brackets allow for the position's notional at mark; lowering it is refused for an open
    isolated position and where the account could no longer cover its margins."""

    ts: int
    account: int
    symbol: str
    leverage: int


@dataclass(frozen=True, slots=True)
class SetMarginMode:
    """Cross or isolated margin for one market; refused while a position or order exists there."""

    ts: int
    account: int
    symbol: str
    isolated: bool


@dataclass(frozen=True, slots=True)
class SetPositionMode:
    """One-way (hedge=False) or hedge mode, account-wide; refused with any position or order."""

    ts: int
    account: int
    hedge: bool


@dataclass(frozen=True, slots=True)
class SetMultiAssetsMode:
    """Binance's Multi-Assets mode (on) or Single-Asset mode (off), account-wide: in it the
    USDT, USDC and BTC wallets are one cross collateral for USDⓈ-margined markets (each at its
    collateral value, perpsim.risk.collateral). Refused with any position or order, with an
    isolated market, and when already in the asked mode."""

    ts: int
    account: int
    on: bool


@dataclass(frozen=True, slots=True)
class AdjustIsolatedMargin:
    """Add (amount > 0) or remove (amount < 0) margin of an isolated position."""

    ts: int
    account: int
    symbol: str
    amount: int
    position_side: int = PositionSide.BOTH


@dataclass(frozen=True, slots=True)
class PlaceOrder:
    """An order into the book: `qty` lots on `side`, a limit `price` in ticks, then the
    pre-trade checks (cost to open, reduce-only room, price band) and matching. `expire_ts`: ns of
    command time at which a GTD order expires."""

    ts: int
    account: int
    symbol: str
    side: int
    qty: int
    price: int = 0  # limit price; for a market order 0 = protected by the price band around mark
    kind: int = OrderKind.LIMIT
    tif: int = TimeInForce.GTC
    stp: int = StpMode.NONE
    reduce_only: bool = False
    expire_ts: int = 0
    #: BOTH in one-way mode; LONG or SHORT in hedge mode (a SELL on LONG closes the long)
    position_side: int = PositionSide.BOTH
    #: the client's id for the order; the engine ignores it, the venue keeps it (idempotency)
    client_order_id: str = ""


@dataclass(frozen=True, slots=True)
class PlaceConditional:
    """A stop, take-profit or trailing stop that rests until its trigger source crosses.

    qty: lots (0 with close_position, which closes whatever the position is when it fires);
    trigger_price: ticks (not for trailing); price: the limit of *_LIMIT kinds (ticks);
    callback_rate: trailing callback scaled by 1e8 (0.1 %..10 %); activation_price: ticks, 0 =
    active at once; price_protect: do not fire while mark and last diverge beyond the bound;
    tif GTD with expire_ts (ns): the order expires when a command at or after expire_ts arrives
    (a *_LIMIT order it placed before then rests GTD until the same time)."""

    ts: int
    account: int
    symbol: str
    side: int
    qty: int
    kind: int = ConditionalKind.STOP_MARKET
    trigger_price: int = 0
    price: int = 0
    source: int = TriggerSource.LAST
    reduce_only: bool = False
    close_position: bool = False
    price_protect: bool = False
    callback_rate: int = 0
    activation_price: int = 0
    position_side: int = PositionSide.BOTH
    tif: int = TimeInForce.GTC
    client_order_id: str = ""
    expire_ts: int = 0


@dataclass(frozen=True, slots=True)
class CancelConditional:
    """Cancel one of the account's resting conditional orders (`order_id`: its conditional id)."""

    ts: int
    account: int
    symbol: str
    order_id: int


@dataclass(frozen=True, slots=True)
class PlaceOrderList:
    """A contingent order list (ListKind): OCO, OTO or BRACKET.

    OTO and BRACKET have an entry order (side, qty lots, entry_price ticks, 0 = a market order;
    entry_tif) whose fills arm the exits, sized to what has filled and growing with later fills;
    the exits trade the other side. OCO has no entry: its two legs trade `side`, qty each, live at
    once. Two exits are one-cancels-the-other: a partial fill of one shrinks the other by as
    much; one that fills completely or fires ends the list (the other and the entry's unfilled
    rest are canceled).

    tp_type: LIMIT (a resting order at tp_price), TAKE_PROFIT_MARKET (at tp_trigger) or
    TAKE_PROFIT_LIMIT (tp_trigger, then a limit at tp_price); sl_type: STOP_MARKET (sl_trigger)
    or STOP_LIMIT (sl_trigger, sl_price), or TRAILING_STOP_MARKET (sl_callback_rate, scaled 1e8,
    0.1 %..10 %; sl_trigger is its activation price, 0 = trailing from the moment it is armed,
    from the source price then); NONE: no such leg (OTO has exactly one). Conditional
    legs watch `source`. reduce_only: the exits only reduce the position (BRACKET exits always
    do). expire_ts: GTD, the whole list expires at this command time (ns; 0 = good till
    canceled). client_order_id: the client's id of the list."""

    ts: int
    account: int
    symbol: str
    kind: int
    side: int
    qty: int
    entry_price: int = 0
    entry_tif: int = TimeInForce.GTC
    tp_type: int = LegType.NONE
    tp_trigger: int = 0
    tp_price: int = 0
    sl_type: int = LegType.NONE
    sl_trigger: int = 0
    sl_price: int = 0
    source: int = TriggerSource.LAST
    reduce_only: bool = False
    position_side: int = PositionSide.BOTH
    expire_ts: int = 0
    client_order_id: str = ""
    sl_callback_rate: int = 0


@dataclass(frozen=True, slots=True)
class CancelOrderList:
    """Cancel an order list: its entry's unfilled rest and its exit legs."""

    ts: int
    account: int
    symbol: str
    list_id: int


@dataclass(frozen=True, slots=True)
class CancelOrder:
    """Cancel one of the account's open orders in the book; its unfilled rest is released."""

    ts: int
    account: int
    symbol: str
    order_id: int


@dataclass(frozen=True, slots=True)
class AmendOrder:
    """Change a resting order's price (ticks) and remaining quantity (lots), Binance's Modify
    Order: both are given. Lowering the quantity at the same price keeps the order's place in
    the queue; any other change re-queues it at the back of its new price (and it may trade
    there at once). STP is reset to NONE, as Binance does."""

    ts: int
    account: int
    symbol: str
    order_id: int
    price: int
    qty: int


@dataclass(frozen=True, slots=True)
class CancelAll:
    """Cancel every order the account has resting in the market's book."""

    ts: int
    account: int
    symbol: str


@dataclass(frozen=True, slots=True)
class SetIndexPrice:
    """Set the index of a market from one named source (the sandbox uses source "sandbox").

    With a quote_account (> 0), a liquidity provider moves with the index in the same command:
    after the mark moves and before the liquidation sweep runs, that account's open orders in
    the market are canceled and `quote_levels` bids and asks placed at the new index ∓ level ×
    `quote_step` ticks, of level × `quote_lots` lots (a quote the usual checks refuse is left
    out). So a shock's forced orders meet quotes around the new price, not stale ones."""

    ts: int
    symbol: str
    price: int
    source: str = "sandbox"
    quote_account: int = 0
    quote_levels: int = 0
    quote_step: int = 0
    quote_lots: int = 0


@dataclass(frozen=True, slots=True)
class FundInsurance:
    """Sandbox: add money from outside to the insurance fund of an asset."""

    ts: int
    asset: str
    amount: int


@dataclass(frozen=True, slots=True)
class AdvanceClock:
    """Move the exchange's time to `ts` (ns) and do nothing else: the time-driven work due by
    then runs (premium samples and funding, GTD expiry, the loss limits' day roll)."""

    ts: int


@dataclass(frozen=True, slots=True)
class SetDailyLossLimit:
    """The account's daily loss limit in one settlement asset (risk.losslimit has the rules).

    amount: money units of `asset` (0 removes the limit); include_unrealized: count the day's
    change in unrealized PnL; flatten: once hit, close every position in the asset with
    reduce-only market orders. A lower limit takes effect at once, a higher one (or a removal)
    at the next 00:00 UTC of command time."""

    ts: int
    account: int
    asset: str
    amount: int
    include_unrealized: bool = False
    flatten: bool = False


Command = (
    Deposit | Withdraw | Transfer | SetLeverage | SetMarginMode | SetPositionMode | AdjustIsolatedMargin
    | PlaceOrder | CancelOrder | CancelAll | SetIndexPrice | FundInsurance | AdvanceClock
    | PlaceConditional | CancelConditional | PlaceOrderList | CancelOrderList | AmendOrder | SetDailyLossLimit
    | SetMultiAssetsMode
)
