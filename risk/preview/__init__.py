"""Previews and a risk calculator: Decimal in, Decimal out.

What a trader asks before sending an order — where would this position be liquidated, what is
its bankruptcy price, its initial and maintenance margin, its margin ratio, how far is the
liquidation from the mark, what does the order cost to open, what is the funding rate — as
functions over exact decimals (venue-mechanics §2, §3.1, §4.1–4.3, §8). The `perpsim calc`
command (cli/calc.py) is a thin shell over them.

No formula lives here. Each function converts its decimal inputs to the integer units of the
risk layer exactly, calls the one implementation in `risk.margin`, `risk.liqprice`,
`risk.brackets` or `risk.funding`, and converts the exact result back for display.

The modules, each saying what it rounds and how:

* `inputs`: the units of the inputs, their parsing, and the display rounding of every output;
* `grid`: the instrument (market, contract size, brackets) and the exact integer grid;
* `integer_position`: one position in integer units, and its liquidation band;
* `position`: the position preview, its liquidation and bankruptcy price;
* `maintenance`: maintenance margin at a price, the bracket table;
* `cost`: the cost to open an order;
* `funding`: the funding rate and the impact margin notional.
"""

from perpsim.risk.preview.cost import OrderCost, order_cost
from perpsim.risk.preview.funding import funding_rate, impact_notional
from perpsim.risk.preview.grid import BracketRow
from perpsim.risk.preview.inputs import Number, Rounding, RowInput
from perpsim.risk.preview.maintenance import Maintenance, bracket_table, maintenance, maintenance_margin
from perpsim.risk.preview.position import (
    LiquidationStage,
    PositionPreview,
    bankruptcy_price,
    liquidation_price,
    preview_position,
)

__all__ = [
    "BracketRow",
    "LiquidationStage",
    "Maintenance",
    "Number",
    "OrderCost",
    "PositionPreview",
    "Rounding",
    "RowInput",
    "bankruptcy_price",
    "bracket_table",
    "funding_rate",
    "impact_notional",
    "liquidation_price",
    "maintenance",
    "maintenance_margin",
    "order_cost",
    "preview_position",
]
