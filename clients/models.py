"""What the client returns: small frozen dataclasses with exact Decimal fields.

Each has a `from_pb` classmethod converting the protobuf message. Enum values become short
lower-case names ("buy", "limit", "partially_filled", "cross"); an empty decimal string on the
wire (no liquidation price, no mark yet) becomes None. `to_dict()` gives plain JSON-ready data
(Decimals as strings).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from decimal import Decimal
from typing import Any, NamedTuple

from perpsim.v1 import common_pb2, market_pb2, sandbox_pb2

__all__ = [
    "Account",
    "AccountUpdate",
    "Alert",
    "Balance",
    "BookLevel",
    "BookUpdate",
    "Fill",
    "IndexUpdate",
    "Liquidation",
    "Mark",
    "MarkUpdate",
    "Market",
    "NewAccount",
    "Order",
    "OrderBook",
    "OrderList",
    "OrderListLeg",
    "Position",
    "Preview",
    "ShockResult",
    "Trade",
    "VenueState",
    "enum_name",
    "enum_prefix",
    "to_jsonable",
]


def dec(text: str) -> Decimal | None:
    """A wire decimal string as Decimal; "" -> None."""
    return Decimal(text) if text else None


def dec0(text: str) -> Decimal:
    """A wire decimal string as Decimal; "" -> 0."""
    return Decimal(text) if text else Decimal(0)


def enum_name(enum_type, value: int) -> str:
    """SIDE_BUY -> "buy", ORDER_STATUS_PARTIALLY_FILLED -> "partially_filled"; unknown -> str(value)."""
    try:
        name = enum_type.Name(value)
    except ValueError:
        return str(value)
    prefix = enum_prefix(enum_type)
    return name[len(prefix):].lower() if name.startswith(prefix) else name.lower()


def enum_prefix(enum_type) -> str:
    """The prefix of an enum's value names (buf style: OrderListType -> "ORDER_LIST_TYPE_")."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", enum_type.DESCRIPTOR.name).upper() + "_"


def to_jsonable(value: Any) -> Any:
    """Dataclasses, tuples, dicts and Decimals as plain JSON data (Decimals as exact strings)."""
    if isinstance(value, Decimal):
        return format(value, "f")  # exact, never in exponent form ("0E-8" -> "0.00000000")
    if hasattr(value, "__dataclass_fields__"):
        return {f.name: to_jsonable(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, tuple) and hasattr(value, "_asdict"):
        return {k: to_jsonable(v) for k, v in value._asdict().items()}
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    return value


class _Model:
    __slots__ = ()

    def to_dict(self) -> dict[str, Any]:
        return to_jsonable(self)


@dataclass(frozen=True, slots=True)
class RiskWarning(_Model):
    """A structured warning: a stable code ("correlated_exposure", "liquidation_within_k_sigma"),
    a sentence and its figures (decimal strings)."""

    code: str
    message: str
    fields: dict[str, str]

    @classmethod
    def from_pb(cls, w) -> RiskWarning:
        return cls(w.code, w.message, dict(sorted(w.fields.items())))


@dataclass(frozen=True, slots=True)
class SigmaDistance(_Model):
    """Distance to liquidation over one horizon: σ over it (a fraction), z = d / σ and 2 Φ(−z),
    the chance of touching the liquidation price within it (at the last volatility)."""

    horizon_ns: int
    sigma: float
    z: float
    touch_probability: float

    @classmethod
    def from_pb(cls, d) -> SigmaDistance:
        return cls(d.horizon_ns, float(d.sigma), float(d.z), float(d.touch_probability))


@dataclass(frozen=True, slots=True)
class Market(_Model):
    symbol: str
    kind: str  # "linear" | "inverse"
    base_asset: str
    quote_asset: str
    settle_asset: str
    tick_size: Decimal
    lot_size: Decimal
    min_quantity: Decimal
    max_quantity: Decimal
    min_notional: Decimal
    contract_size: Decimal
    maker_fee_rate: Decimal
    taker_fee_rate: Decimal
    liquidation_fee_rate: Decimal
    price_band_up: Decimal  # a limit price may be at most mark * price_band_up
    price_band_down: Decimal
    #: which price triggers what: the price liquidation compares against ("mark" or "last"), the
    #: prices a conditional order may watch, and the one it watches when it names none
    liquidation_trigger: str = ""
    conditional_trigger_sources: tuple[str, ...] = ()
    default_conditional_trigger_source: str = ""

    @classmethod
    def from_pb(cls, m) -> Market:
        def source(v: int) -> str:
            return enum_name(common_pb2.TriggerSource, v)

        return cls(m.symbol, m.kind, m.base_asset, m.quote_asset, m.settle_asset, dec0(m.tick_size),
                   dec0(m.lot_size), dec0(m.min_quantity), dec0(m.max_quantity), dec0(m.min_notional),
                   dec0(m.contract_size), dec0(m.maker_fee_rate), dec0(m.taker_fee_rate),
                   dec0(m.liquidation_fee_rate), dec0(m.price_band_up), dec0(m.price_band_down),
                   source(m.liquidation_trigger), tuple(source(v) for v in m.conditional_trigger_sources),
                   source(m.default_conditional_trigger_source))


@dataclass(frozen=True, slots=True)
class BookLevel(_Model):
    price: Decimal
    quantity: Decimal  # 0 in a book delta: the level is gone
    order_count: int
    price_ticks: int
    quantity_lots: int

    @classmethod
    def from_pb(cls, lv) -> BookLevel:
        return cls(dec0(lv.price), dec0(lv.quantity), lv.order_count, lv.price_ticks, lv.quantity_lots)


def _levels(levels) -> tuple[BookLevel, ...]:
    return tuple(BookLevel.from_pb(lv) for lv in levels)


@dataclass(frozen=True, slots=True)
class OrderBook(_Model):
    symbol: str
    bids: tuple[BookLevel, ...]  # best first
    asks: tuple[BookLevel, ...]
    sequence: int

    @classmethod
    def from_pb(cls, r) -> OrderBook:
        return cls(r.symbol, _levels(r.bids), _levels(r.asks), r.sequence)

    @property
    def best_bid(self) -> Decimal | None:
        return self.bids[0].price if self.bids else None

    @property
    def best_ask(self) -> Decimal | None:
        return self.asks[0].price if self.asks else None


@dataclass(frozen=True, slots=True)
class Mark(_Model):
    symbol: str
    mark_price: Decimal | None
    index_price: Decimal | None
    last_price: Decimal | None
    funding_rate: Decimal  # the last settled rate (of the interval that closed last)
    next_funding_time_ns: int
    #: the rate the next settlement applies if its interval closed now (what traders watch); None
    #: from a venue that does not send it
    predicted_funding_rate: Decimal | None = None
    time_ns: int = 0  # venue time of these prices (0: not sent)

    @classmethod
    def from_pb(cls, r) -> Mark:
        return cls(r.symbol, dec(r.mark_price), dec(r.index_price), dec(r.last_price), dec0(r.funding_rate),
                   r.next_funding_time_ns, dec(r.predicted_funding_rate), r.time_ns)


@dataclass(frozen=True, slots=True)
class Fill(_Model):
    order_id: int
    price: Decimal
    quantity: Decimal
    liquidity: str  # "maker" | "taker"
    price_ticks: int
    quantity_lots: int
    #: slippage in bps against the mid and the mark at the order's arrival (positive: worse)
    slippage_mid_bps: Decimal | None = None
    slippage_mark_bps: Decimal | None = None

    @classmethod
    def from_pb(cls, f) -> Fill:
        return cls(f.order_id, dec0(f.price), dec0(f.quantity), enum_name(common_pb2.Liquidity, f.liquidity),
                   f.price_ticks, f.quantity_lots, dec(f.slippage_mid_bps), dec(f.slippage_mark_bps))


@dataclass(frozen=True, slots=True)
class Order(_Model):
    order_id: int
    client_order_id: str
    symbol: str
    side: str  # "buy" | "sell"
    type: str  # "limit" | "market"
    status: str  # "new" | "partially_filled" | "filled" | "canceled" | "expired" | "rejected"
    price: Decimal | None
    quantity: Decimal
    filled_quantity: Decimal
    time_in_force: str  # "gtc" | "ioc" | "fok" | "gtx" | "gtd"
    reduce_only: bool
    position_side: str  # "both" | "long" | "short"
    price_ticks: int
    quantity_lots: int
    filled_quantity_lots: int
    #: the fills of this order while it was placed (PlaceOrder only; empty elsewhere)
    fills: tuple[Fill, ...] = ()
    #: the preview's warnings when it was placed (PlaceOrder only)
    warnings: tuple[RiskWarning, ...] = ()

    @classmethod
    def from_pb(cls, o, fills=(), warnings=()) -> Order:
        return cls(o.order_id, o.client_order_id, o.symbol, enum_name(common_pb2.Side, o.side),
                   enum_name(common_pb2.OrderType, o.type), enum_name(common_pb2.OrderStatus, o.status),
                   dec(o.price) if o.price_ticks else None, dec0(o.quantity), dec0(o.filled_quantity),
                   enum_name(common_pb2.TimeInForce, o.time_in_force), o.reduce_only,
                   enum_name(common_pb2.PositionSide, o.position_side), o.price_ticks, o.quantity_lots,
                   o.filled_quantity_lots, tuple(Fill.from_pb(f) for f in fills),
                   tuple(RiskWarning.from_pb(w) for w in warnings))

    @property
    def open(self) -> bool:
        return self.status in ("new", "partially_filled")

    @property
    def remaining_quantity(self) -> Decimal:
        return self.quantity - self.filled_quantity


@dataclass(frozen=True, slots=True)
class OrderListLeg(_Model):
    """One exit of an order list. A trailing stop's trigger price is its activation price."""

    type: str  # "limit" | "stop_market" | "stop_limit" | "take_profit_market" | "take_profit_limit"
    #            | "trailing_stop_market"
    trigger_price: Decimal | None
    price: Decimal | None
    callback_rate: Decimal | None = None  # trailing stop: a fraction (0.01 = 1 %)

    @classmethod
    def from_pb(cls, leg) -> OrderListLeg | None:
        if not leg.type:
            return None
        return cls(enum_name(common_pb2.LegType, leg.type), dec(leg.trigger_price), dec(leg.price),
                   dec(leg.callback_rate))


@dataclass(frozen=True, slots=True)
class OrderList(_Model):
    """An OCO, OTO or bracket order list. `status` is "working" while it lives, else how it
    ended ("done", "canceled", "expired"); the ids are those of its live orders (0: none)."""

    list_id: int
    symbol: str
    type: str  # "oco" | "oto" | "bracket"
    side: str
    quantity: Decimal
    entry_price: Decimal | None  # None: a market entry (or an OCO)
    take_profit: OrderListLeg | None
    stop_loss: OrderListLeg | None
    trigger_source: str
    reduce_only: bool
    good_till_ns: int
    client_order_id: str
    status: str
    entry_order_id: int
    take_profit_id: int
    stop_loss_id: int
    covered_quantity: Decimal  # what the exits cover now

    @classmethod
    def from_pb(cls, o) -> OrderList:
        return cls(o.list_id, o.symbol, enum_name(common_pb2.OrderListType, o.type),
                   enum_name(common_pb2.Side, o.side), dec0(o.quantity), dec(o.entry_price),
                   OrderListLeg.from_pb(o.take_profit), OrderListLeg.from_pb(o.stop_loss),
                   enum_name(common_pb2.TriggerSource, o.trigger_source), o.reduce_only, o.good_till_time_ns,
                   o.client_order_id, o.status.lower(), o.entry_order_id, o.take_profit_id, o.stop_loss_id,
                   dec0(o.covered_quantity))


@dataclass(frozen=True, slots=True)
class Balance(_Model):
    asset: str
    wallet: Decimal
    available: Decimal
    withdrawable: Decimal
    margin_balance: Decimal
    unrealized_pnl: Decimal
    maintenance_margin: Decimal
    initial_margin: Decimal
    #: USD the wallet counts for as Multi-Assets collateral (None: no margin asset or no index yet)
    collateral_value: Decimal | None = None

    @classmethod
    def from_pb(cls, b) -> Balance:
        return cls(b.asset, dec0(b.wallet.amount), dec0(b.available.amount), dec0(b.withdrawable.amount),
                   dec0(b.margin_balance.amount), dec0(b.unrealized_pnl.amount),
                   dec0(b.maintenance_margin.amount), dec0(b.initial_margin.amount),
                   Decimal(b.collateral_value) if b.collateral_value else None)


@dataclass(frozen=True, slots=True)
class Account(_Model):
    account_id: int
    balances: tuple[Balance, ...]
    hedge_mode: bool
    multi_assets: bool = False  # Binance's Multi-Assets mode: USDT, USDC and BTC as one collateral

    @classmethod
    def from_pb(cls, r) -> Account:
        return cls(r.account_id, tuple(Balance.from_pb(b) for b in r.balances), r.hedge_mode, r.multi_assets)

    def balance(self, asset: str) -> Balance:
        for b in self.balances:
            if b.asset == asset:
                return b
        raise KeyError(asset)


@dataclass(frozen=True, slots=True)
class Position(_Model):
    symbol: str
    position_side: str  # "both" | "long" | "short"
    quantity: Decimal  # signed: negative = short
    quantity_lots: int
    entry_price: Decimal | None
    mark_price: Decimal | None
    unrealized_pnl: Decimal
    liquidation_price: Decimal | None
    bankruptcy_price: Decimal | None
    margin_mode: str  # "cross" | "isolated"
    leverage: int
    isolated_margin: Decimal
    adl_quantile: int
    maintenance_margin: Decimal
    #: funding carry: paid (+) or pays (−) at the next funding time, at the current mark and predicted rate
    next_funding_payment: Decimal
    #: distance to liquidation in σ per horizon, and the size-down nudge: the largest size keeping
    #: the liquidation price k σ away and the reduce-only quantity that gets there (None: unknown)
    liquidation_distance_sigma: tuple[SigmaDistance, ...] = ()
    nudge_max_quantity: Decimal | None = None
    nudge_reduce_quantity: Decimal | None = None

    @classmethod
    def from_pb(cls, p) -> Position:
        return cls(p.symbol, enum_name(common_pb2.PositionSide, p.position_side), dec0(p.quantity), p.quantity_lots,
                   dec(p.entry_price), dec(p.mark_price), dec0(p.unrealized_pnl.amount), dec(p.liquidation_price),
                   dec(p.bankruptcy_price), enum_name(common_pb2.MarginMode, p.margin_mode), p.leverage,
                   dec0(p.isolated_margin.amount), p.adl_quantile, dec0(p.maintenance_margin.amount),
                   dec0(p.next_funding_payment.amount),
                   tuple(SigmaDistance.from_pb(d) for d in p.liquidation_distance_sigma), dec(p.nudge_max_quantity),
                   dec(p.nudge_reduce_quantity))


@dataclass(frozen=True, slots=True)
class Preview(_Model):
    """What an order would do to the account's risk (nothing is placed)."""

    cost: Decimal  # initial margin + open loss + fee reserve
    available: Decimal
    affordable: bool
    resulting_quantity: Decimal
    liquidation_price: Decimal | None
    bankruptcy_price: Decimal | None
    maintenance_margin: Decimal
    liquidation_distance_percent: Decimal | None
    asset: str
    #: funding carry of the resulting position: the predicted rate (a fraction), what it would be
    #: paid (+) or pay (−) at the next funding time at the current mark and that rate, and that time
    funding_rate: Decimal
    funding_payment: Decimal
    next_funding_time_ns: int
    #: the liquidation band: first (partial, down one bracket) and last (full) liquidation price
    partial_liquidation_price: Decimal | None
    full_liquidation_price: Decimal | None
    #: the resulting position's distance to liquidation in σ per horizon, the largest quantity of
    #: this order keeping it k σ away (None: unknown), and the warnings
    liquidation_distance_sigma: tuple[SigmaDistance, ...] = ()
    max_quantity_within_k_sigma: Decimal | None = None
    warnings: tuple[RiskWarning, ...] = ()

    @classmethod
    def from_pb(cls, r) -> Preview:
        return cls(dec0(r.cost.amount), dec0(r.available.amount), r.affordable, dec0(r.resulting_quantity),
                   dec(r.liquidation_price), dec(r.bankruptcy_price), dec0(r.maintenance_margin.amount),
                   dec(r.liquidation_distance_percent), r.cost.asset, dec0(r.funding_rate),
                   dec0(r.funding_payment.amount), r.next_funding_time_ns, dec(r.partial_liquidation_price),
                   dec(r.full_liquidation_price), tuple(SigmaDistance.from_pb(d) for d in r.liquidation_distance_sigma),
                   dec(r.max_quantity_within_k_sigma), tuple(RiskWarning.from_pb(w) for w in r.warnings))


@dataclass(frozen=True, slots=True)
class Trade(_Model):
    sequence: int
    symbol: str
    price: Decimal
    quantity: Decimal
    taker_side: str
    time_ns: int
    liquidation: bool
    price_ticks: int
    quantity_lots: int

    @classmethod
    def from_pb(cls, t) -> Trade:
        return cls(t.sequence, t.symbol, dec0(t.price), dec0(t.quantity), enum_name(common_pb2.Side, t.taker_side),
                   t.time_ns, t.liquidation, t.price_ticks, t.quantity_lots)


@dataclass(frozen=True, slots=True)
class BookUpdate(_Model):
    sequence: int
    snapshot: bool  # True: the whole book; False: changed levels (quantity 0 = removed)
    bids: tuple[BookLevel, ...]
    asks: tuple[BookLevel, ...]

    @classmethod
    def from_pb(cls, r) -> BookUpdate:
        return cls(r.sequence, r.snapshot, _levels(r.bids), _levels(r.asks))


@dataclass(frozen=True, slots=True)
class MarkUpdate(_Model):
    sequence: int
    mark: Mark
    time_ns: int

    @classmethod
    def from_pb(cls, r) -> MarkUpdate:
        return cls(r.sequence, Mark.from_pb(r.price), r.time_ns)


@dataclass(frozen=True, slots=True)
class Liquidation(_Model):
    sequence: int
    symbol: str
    side: str
    quantity: Decimal
    bankruptcy_price: Decimal | None
    filled_quantity: Decimal
    taken_by_insurance: Decimal
    auto_deleveraged: Decimal
    time_ns: int

    @classmethod
    def from_pb(cls, r) -> Liquidation:
        return cls(r.sequence, r.symbol, enum_name(common_pb2.Side, r.side), dec0(r.quantity),
                   dec(r.bankruptcy_price), dec0(r.filled_quantity), dec0(r.taken_by_insurance),
                   dec0(r.auto_deleveraged), r.time_ns)


@dataclass(frozen=True, slots=True)
class Alert(_Model):
    """A market-risk alert: "raised" when the spread is wide and the predicted funding rate
    extreme together, "cleared" when either relents."""

    sequence: int
    symbol: str
    state: str  # "raised" | "cleared"
    spread_bps: Decimal | None  # None: a side of the book is empty
    predicted_funding_rate: Decimal
    spread_threshold_bps: Decimal
    funding_rate_threshold: Decimal
    time_ns: int

    @classmethod
    def from_pb(cls, r) -> Alert:
        a = r.alert
        return cls(r.sequence, a.symbol, enum_name(market_pb2.AlertState, a.state), dec(a.spread_bps),
                   dec0(a.predicted_funding_rate), dec0(a.spread_threshold_bps), dec0(a.funding_rate_threshold),
                   r.time_ns)


@dataclass(frozen=True, slots=True)
class AccountUpdate(_Model):
    """One message of the account stream. `kind` names what changed: "order", "position",
    "balance", "margin_warning", "liquidation", "conditional" or "order_list"; `data` holds the
    fields the venue set (decimals as Decimal, money as {"asset", "amount"}, enums as short names)."""

    sequence: int
    time_ns: int
    kind: str
    data: dict[str, Any]

    @classmethod
    def from_pb(cls, r) -> AccountUpdate:
        kind = r.WhichOneof("update") or ""
        return cls(r.sequence, r.time_ns, kind, _set_fields(getattr(r, kind)) if kind else {})


_DECIMAL_FIELDS = frozenset({"price", "quantity", "remaining_quantity", "amount", "margin_ratio_percent",
                             "covered_quantity", "slippage_mid_bps", "slippage_mark_bps"})


def _set_fields(msg) -> dict[str, Any]:
    """The fields a message sets: nested messages as dicts, enums by short name, decimal strings
    as Decimal; the integer twins of decimals (`*_lots`, `*_units`) are left out."""
    out: dict[str, Any] = {}
    for fd, value in msg.ListFields():
        if fd.name.endswith(("_lots", "_units")):
            continue
        if fd.message_type is not None:
            out[fd.name] = _set_fields(value)
        elif fd.enum_type is not None:
            name = fd.enum_type.values_by_number[value].name if value in fd.enum_type.values_by_number else str(value)
            prefix = re.sub(r"(?<!^)(?=[A-Z])", "_", fd.enum_type.name).upper() + "_"
            out[fd.name] = name.removeprefix(prefix).lower()
        elif fd.name in _DECIMAL_FIELDS:
            out[fd.name] = dec(value)
        else:
            out[fd.name] = value
    return out


class NewAccount(NamedTuple):
    """A sandbox account: `account_id, api_key, api_secret = client.create_account()`. The key
    authenticates gRPC calls and REST calls (`X-MBX-APIKEY`); the secret signs REST requests."""

    account_id: int
    api_key: str
    api_secret: str


@dataclass(frozen=True, slots=True)
class IndexUpdate(_Model):
    mark_price: Decimal | None
    liquidations: int


@dataclass(frozen=True, slots=True)
class ShockResult(_Model):
    index_price: Decimal | None
    mark_price: Decimal | None
    liquidations: int
    forced_orders: tuple[Any, ...] = ()  # clients.forced_orders.ForcedOrder, in the order placed


@dataclass(frozen=True, slots=True)
class VenueState(_Model):
    """The venue's time (ns since the Unix epoch, its last command's), state hash, durable
    journal sequence, insurance funds by asset, and clock mode: "wall" (wall-clock time plus
    every AdvanceClock) or "held" (moved only by AdvanceClock; perpsim.clients.clock_models)."""

    now_ns: int
    state_hash: str
    journal_sequence: int
    insurance_funds: dict[str, Decimal]
    clock_mode: str

    @classmethod
    def from_pb(cls, r) -> VenueState:
        return cls(r.now_ns, r.state_hash, r.journal_sequence,
                   {m.asset: dec0(m.amount) for m in r.insurance_funds}, enum_name(sandbox_pb2.ClockMode, r.clock_mode))
