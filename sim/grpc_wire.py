"""The simulator's commands and the venue's answers in the client's terms, for GrpcVenue: exact
decimal strings from the engine's integers (the market specs convert them, no rounding). Orders
go in ticks and lots (perpsim.sim.grpc_requests)."""

from __future__ import annotations

from perpsim.engine import commands as C
from perpsim.engine.events import CommandRejected, Liquidation
from perpsim.model.enums import Side
from perpsim.model.markets import MarketSpec


def liquidation(spec: MarketSpec, n) -> Liquidation:
    """A liquidation notice of the venue's stream as the engine's event (its account unknown: 0)."""
    bp = spec.price_to_ticks(n.bankruptcy_price) if n.bankruptcy_price is not None else 0
    lots = [spec.qty_to_lots(q) if q else 0 for q in (n.quantity, n.filled_quantity, n.taken_by_insurance,
                                                       n.auto_deleveraged)]
    return Liquidation(n.symbol, 0, Side.BUY if n.side == "buy" else Side.SELL, lots[0], bp, *lots[1:])


def rejected(cmd: C.Command, error) -> CommandRejected:
    """The CommandRejected event of a command the venue refused with a typed client error."""
    return CommandRejected(type(cmd).__name__, getattr(cmd, "account", 0), reason(error), (("message", str(error)),))


def reason(error) -> int:
    """The RejectReason number of a typed client error (0 for transport errors)."""
    return int(error.reason) if error.reason is not None else 0

