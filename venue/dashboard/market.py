"""The market view's snapshot: one market's prices, book, funding, open interest, risk signals,
liquidations and insurance fund, as plain JSON-ready values.

Units: prices in the quote asset (floats of exact tick multiples; the page shows them at the
market's `price_decimals`), quantities in the market's quantity unit (base, or contracts for an
inverse market), money in the settlement asset, rates as fractions per funding interval,
times in ns of venue time (UTC). Risk figures come from the venue's market signals
(`venue.signals`, the RiskService's own builder `market_risk_out`); None when they are off.
"""

from __future__ import annotations

from fractions import Fraction

from google.protobuf.json_format import MessageToDict

from perpsim.model.enums import Side
from perpsim.risk.units import RATE_SCALE
from perpsim.venue.services.risk import market_risk_out

BOOK_LEVELS = 20
KLINE_BARS = 30  # one-minute bars of mark, index and last: the half hour before the page opened
FUNDING_ROWS = 100
LIQUIDATION_ROWS = 50
INSURANCE_POINTS = 500


def proto_json(msg) -> dict:
    """A protobuf message as the page reads it: field names as in the .proto, every field shown."""
    return MessageToDict(msg, always_print_fields_with_no_presence=True, preserving_proto_field_name=True)


def spec_json(spec) -> dict:
    """A market's spec for the page: assets, kind, tick and lot size as decimal strings, their
    decimals, and the quantity unit (the base asset, or contracts for an inverse market)."""
    qty_unit = "contracts" if spec.kind.name == "INVERSE" else spec.base
    return {"symbol": spec.symbol, "base": spec.base, "quote": spec.quote, "settle": spec.settle,
            "kind": spec.kind.name.lower(), "tick_size": str(spec.tick_size), "price_decimals": spec.price_decimals,
            "lot_size": str(spec.lot_size), "qty_decimals": spec.qty_decimals, "qty_unit": qty_unit}


def unknown_market(venue, symbol) -> str:
    """The refusal of a market the venue does not have, naming it and the ones it has."""
    return f"unknown market {str(symbol)[:32]!r}; the markets: {', '.join(venue.markets)}"


def markets_json(venue) -> list[dict]:
    """`spec_json` of every market of the venue."""
    return [spec_json(s) for s in venue.markets.values()]


class MarketSnapshot:
    """Builds the market view of one symbol from the live venue (read only)."""

    def __init__(self, venue) -> None:
        self.venue = venue
        # per market: the last snapshot and the (state, venue time) it was read at; every open
        # page shares it until the venue applies another command
        self._last: dict[str, tuple[tuple[int, int], dict]] = {}

    def _px(self, spec, ticks) -> float | None:
        """Ticks (int or Fraction) -> quote price, None stays None."""
        return None if ticks is None else float(Fraction(ticks) * Fraction(spec.tick_size))

    def _qty(self, spec, lots: int) -> float:
        return float(spec.lots_to_qty(lots))

    def build(self, symbol: str) -> dict:
        """The market view now (VenueError UNKNOWN_SYMBOL for a market the venue does not have)."""
        venue = self.venue
        spec = venue.spec(symbol)
        view = venue.view
        at = (id(venue.state), view.ts)
        cached = self._last.get(symbol)
        if cached is not None and cached[0] == at:
            return cached[1]
        out = self._build(spec, view, venue.state.history)
        self._last[symbol] = (at, out)
        return out

    def _build(self, spec, view, history) -> dict:
        venue, symbol = self.venue, spec.symbol
        p = view.prices(symbol)
        book = view.book(symbol, BOOK_LEVELS)
        f = view.funding(symbol)
        signals = getattr(venue, "signals", None)
        risk = proto_json(market_risk_out(spec, signals.market_risk(symbol))) if signals is not None else None
        oi = history.open_interest(symbol)
        return {
            "type": "market", "symbol": symbol, "time_ns": view.ts, "spec": spec_json(spec),
            "prices": {"mark": self._px(spec, p.mark), "index": self._px(spec, p.index),
                       "last": self._px(spec, p.last), "bid": self._px(spec, p.best_bid),
                       "ask": self._px(spec, p.best_ask)},
            "book": {"bids": [[self._px(spec, lv.price), self._qty(spec, lv.lots)] for lv in book.bids],
                     "asks": [[self._px(spec, lv.price), self._qty(spec, lv.lots)] for lv in book.asks]},
            "funding": {"last_rate": f.rate / RATE_SCALE, "predicted_rate": f.predicted_rate / RATE_SCALE,
                        "next_funding_ns": f.next_funding_ts, "interval_ns": f.interval_ns,
                        "history": [[r.funding_ns, r.rate / RATE_SCALE]
                                    for r in history.funding_rates(symbol, limit=FUNDING_ROWS)]},
            "open_interest": {"quantity": self._qty(spec, oi.lots),
                              "notional": risk["open_interest"]["notional"] if risk else None},
            "klines": self._klines(spec, history, symbol),
            "risk": risk,
            "liquidations": self._liquidations(spec, history, symbol),
            "insurance": self._insurance(spec, view),
        }

    def _klines(self, spec, history, symbol: str) -> dict:
        """Closes of the one-minute bars: [[close time ns, price], ...] per source."""
        out = {}
        for source in ("mark", "index", "trade"):
            bars = history.klines(symbol, source, "1m", limit=KLINE_BARS)
            out[source] = [[b.close_ns, self._px(spec, b.close)] for b in bars if b.close]
        return out

    def _liquidations(self, spec, history, symbol: str) -> list[dict]:
        """The latest forced orders, newest first: what the book filled, what the insurance
        fund took over and what was auto-deleveraged (quantities in the market's unit)."""
        out = []
        for r in reversed(history.force_orders(symbol=symbol, limit=LIQUIDATION_ROWS)):
            avg = None if not r.filled else self._px(spec, Fraction(r.filled_quote, r.filled))
            out.append({"id": r.id, "time_ns": r.time_ns, "account": r.account,
                        "side": "SELL" if r.side == Side.SELL else "BUY",
                        "quantity": self._qty(spec, r.qty), "bankruptcy_price": self._px(spec, r.price),
                        "filled": self._qty(spec, r.filled), "avg_price": avg,
                        "insurance": self._qty(spec, r.taken_by_insurance),
                        "adl": self._qty(spec, r.deleveraged)})
        return out

    def _insurance(self, spec, view) -> dict:
        """The fund of the market's settlement asset now and after each change ([[ns, balance]])."""
        asset, scale = spec.settle, 10 ** spec.settle_decimals
        changes = [(ts, e.balance) for ts, e in view.insurance_history() if e.asset == asset]
        return {"asset": asset, "balance": view.insurance(asset) / scale,
                "history": [[ts, b / scale] for ts, b in changes[-INSURANCE_POINTS:]]}
