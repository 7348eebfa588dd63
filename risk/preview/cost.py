"""Cost to open an order (venue-mechanics §3.1, A4): initial margin + open loss.

Rounding: the initial margin, open loss and cost as money (`risk.preview.inputs`, "Display
rounding": truncated to ``money_places`` by default); the assumed price exact.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

from perpsim.model import decimals as dm
from perpsim.model.enums import Side
from perpsim.model.markets import MarketSpec
from perpsim.risk import margin as _mg
from perpsim.risk.preview.grid import Grid, display_money_places, parse_instrument
from perpsim.risk.preview.inputs import (
    Number,
    Rounding,
    parse_direction,
    parse_leverage,
    parse_positive,
    parse_rounding,
    round_money,
)


@dataclass(frozen=True, slots=True)
class OrderCost:
    """Cost to open an order (§3.1, A4): initial_margin + open_loss = cost, money truncated to
    money_places; assumed_price is the exact price the initial margin was computed at."""

    initial_margin: Decimal
    open_loss: Decimal
    cost: Decimal
    assumed_price: Decimal
    asset: str | None


def order_cost(
    *,
    side: Side | str,
    size: Number,
    price: Number,
    mark: Number,
    leverage: Number,
    last: Number | None = None,
    model: _mg.CostModel | str = _mg.CostModel.CLASSIC,
    market: MarketSpec | str | None = None,
    contract_size: Number | None = None,
    money_places: int | None = None,
    rounding: Rounding | str = Rounding.VENUE,
) -> OrderCost:
    """Binance's cost to open (`risk.margin.cost_to_open`):

        IM = size × AssumedPrice / leverage,   OpenLoss = size × |min(0, dir × (mark − price))|

    model "classic" assumes the order price; "revised_2024" assumes, for a sell,
    max(last × 1.0015, mark, price) and needs ``last``. For a market order pass the assumed fill
    price as ``price``. Inverse (COIN-M) [D by analogy, the COIN-M FAQ is not in the spec]:
    IM = contracts × contract_size / price / leverage and OpenLoss = the negative part of the
    uPnL of entering at ``price`` while the mark is ``mark`` (`risk.margin` inverse functions);
    classic model only."""
    rnd = parse_rounding(rounding)
    direction = parse_direction(side)
    try:
        cost_model = model if isinstance(model, _mg.CostModel) else _mg.CostModel(str(model).lower().replace("-", "_"))
    except ValueError:
        raise ValueError(f"model must be 'classic' or 'revised_2024', got {model!r}") from None
    size_d, price_d, mark_d = parse_positive(size, "size"), parse_positive(price, "price"), parse_positive(mark, "mark")
    last_d = None if last is None else parse_positive(last, "last")
    lev = parse_leverage(leverage)
    inst = parse_instrument(market, contract_size)
    grid = Grid.build(inst, [x for x in (price_d, mark_d, last_d) if x is not None], [size_d], [])
    places = display_money_places(money_places, inst)
    lots, px, mk = grid.lots(size_d), grid.ticks(price_d), grid.ticks(mark_d)
    if inst.inverse:
        if cost_model is not _mg.CostModel.CLASSIC:
            raise ValueError("the 2024 revision is published for USDⓈ-M (linear) contracts only")
        im = _mg.initial_margin(_mg.inverse_notional_exact(lots, px, grid.K_inv), lev)
        loss = math.ceil(max(Fraction(0), -_mg.inverse_upnl_exact(direction * lots, px, mk, grid.K_inv)))
        assumed: Fraction | int = px
    else:
        oc = _mg.cost_to_open(Side.BUY if direction > 0 else Side.SELL, lots, px, mk, lev, grid.K, model=cost_model,
                              last=None if last_d is None else grid.ticks(last_d))
        im, loss, assumed = oc.initial_margin, oc.open_loss, oc.assumed_price
    return OrderCost(
        initial_margin=round_money(grid.money(im), places, rnd),
        open_loss=round_money(grid.money(loss), places, rnd),
        cost=round_money(grid.money(im + loss), places, rnd),
        assumed_price=dm.exact_decimal(grid.price(assumed)),
        asset=inst.asset,
    )

