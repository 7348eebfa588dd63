"""GrpcVenue's reads (the `perpsim.sim.venues.SimVenue` reads, in engine units), a mixin.

A read is answered from the venue's answer to the same read made since the last command (every
command drops them, so a read always sees the effects of every command sent before it);
`prefetch` makes a step's sample reads (mark, book, risk with its open interest, insurance) in
the Apply that sends the commands waiting. Positions come from the batches' answers
(perpsim.sim.grpc_apply.Positions), or are read in lots (perpsim.sim.grpc_reads); the rest
through the admin's perpsim.clients.client.Client.
"""

from __future__ import annotations

import collections
from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from perpsim.model.enums import Side
from perpsim.model.markets import MarketSpec
from perpsim.risk.units import RATE_SCALE

if TYPE_CHECKING:
    from perpsim.clients.client import Client
    from perpsim.sim.grpc_reads import Reads

#: book levels a book read fetches (the metrics' depth band reads 50 a side; a top is its first)
BOOK_LEVELS = 50
#: the RPC each read is made with, by its key's kind: GrpcVenue.calls_by_rpc
_READS = {"mark": "GetMarkPrice", "book": "GetOrderBook", "insurance": "GetInsuranceFund",
          "positions": "ListPositions", "account": "GetAccount", "oi": "GetOpenInterest", "risk": "GetMarketRisk"}


class VenueReads:
    """The reads of GrpcVenue, which holds what they use (declared here for the type checker)."""

    markets: dict[str, MarketSpec]
    admin: Client
    signals: bool
    _raw: Reads
    _answered: Any
    _sample: Any
    _sample_of: tuple | None
    _batch: Any
    reads_by_rpc: collections.Counter[str]
    _reads: dict[tuple, Any]
    _keys: dict[int, str]
    _ordered: set[int]

    if TYPE_CHECKING:
        def _settle(self) -> None: ...
        def _tally(self, rpc: str) -> None: ...
        def _client(self, account: int) -> Client: ...
        def _send(self, reads: Any = None) -> None: ...

    def _settle_spec(self, asset: str) -> MarketSpec:
        return next(s for s in self.markets.values() if s.settle == asset)

    def _read(self, key: tuple, load: Callable[[], Any]) -> Any:
        """The venue's answer to a read: made now unless made since the last command (a read
        of positions does not wait for a CancelAll in flight, any other read does)."""
        try:
            return self._reads[key]
        except KeyError:
            pass
        if key[0] != "positions":
            self._settle()
        self._tally(_READS[key[0]])
        self.reads_by_rpc[_READS[key[0]]] += 1
        value = self._reads[key] = load()
        return value

    def prefetch(self, symbols: list[str]) -> None:
        """Make the reads of a step's sample (perpsim.sim.metrics) in the Apply that sends the
        commands waiting: marks, books, risk rows (open interest with them) and insurance."""
        from perpsim.v1 import batch_pb2

        risks = symbols if self.signals else []
        keys = [("insurance",), *((k, s) for s in symbols for k in ("mark", "book")), *(("risk", s) for s in risks)]
        if self._batch.pending or not all(k in self._reads for k in keys):  # else made since the last command
            of = (tuple(symbols), tuple(risks))
            if self._sample is None or self._sample_of != of:  # else the last step's, asked again
                books = [batch_pb2.BookRead(symbol=s, depth=BOOK_LEVELS, ticks_only=True, packed=True)
                         for s in symbols]
                # the risk rows read no stress nor liquidation map (perpsim.sim.risk_series), as in process
                self._sample = batch_pb2.BatchReads(marks=symbols, books=books, risks=risks, insurance=True,
                                                    risks_summary=True)
                self._sample_of = of
            self._send(reads=self._sample)
        if not self.signals:
            for s in symbols:
                self.open_interest(s)

    def _take_sample(self, reads: Any, r: Any) -> None:
        """The answers to a sample's reads (`reads`, answered in the Apply response `r`) as the
        reads made since the last command."""
        from perpsim.clients import models as M
        from perpsim.clients.market_models import Mark
        from perpsim.clients.risk_models import MarketRisk

        for rpc, n in (("GetMarkPrice", len(r.marks)), ("GetOrderBook", len(reads.books)),
                       ("GetMarketRisk", len(r.risks)), ("GetInsuranceFund", 1)):
            self.reads_by_rpc[rpc] += n
        for s, mark in zip(reads.marks, r.marks, strict=True):
            self._reads[("mark", s)] = Mark.from_pb(mark)
        if r.packed_books or not r.books:  # columns (BookRead.packed)
            for b, book in zip(reads.books, r.packed_books, strict=True):
                self._reads[("book", b.symbol)] = (list(zip(book.bid_ticks, book.bid_lots, strict=True)),
                                                   list(zip(book.ask_ticks, book.ask_lots, strict=True)))
        else:  # a venue that answers with a message per level
            for b, book in zip(reads.books, r.books, strict=True):
                self._reads[("book", b.symbol)] = ([(lv.price_ticks, lv.quantity_lots) for lv in book.bids],
                                                   [(lv.price_ticks, lv.quantity_lots) for lv in book.asks])
        for s, risk in zip(reads.risks, r.risks, strict=True):
            if risk.HasField("error") and risk.error.code:
                self.signals = False  # the venue was started with its signals off: no risk rows
                break
            self._reads[("risk", s)] = MarketRisk.from_pb(risk.risk)
        self._reads[("insurance",)] = {f.asset: M.dec0(f.amount) for f in r.insurance.funds}

    def _mark(self, symbol: str):
        return self._read(("mark", symbol), lambda: self.admin.mark(symbol))

    def _book(self, symbol: str, levels: int) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        """Bids and asks, best first: (ticks, lots) each, at least `levels` a side where the book has them."""
        if levels <= BOOK_LEVELS:
            return self._read(("book", symbol), lambda: self._raw.book(symbol, BOOK_LEVELS))
        return self._read(("book", symbol, levels), lambda: self._raw.book(symbol, levels))

    def _insurance_funds(self) -> dict[str, Decimal]:
        return self._read(("insurance",), lambda: self.admin.insurance_fund(""))

    def mark(self, symbol: str) -> int | None:
        """SimVenue.mark: in ticks, None before there is one (GetMarkPrice, or SetIndexPrice's answer if it
        came last)."""
        ticks = self._reads.get(("mark_ticks", symbol), False)  # as this read answered since the last command
        if ticks is not False:
            return ticks
        price = self._reads.get(("mark_price", symbol), False)  # as SetIndexPrice answered, if it was last
        if price is False:
            price = self._mark(symbol).mark_price
        ticks = None if price is None else self.markets[symbol].price_to_ticks(price)
        self._reads[("mark_ticks", symbol)] = ticks
        return ticks

    def last(self, symbol: str) -> int | None:
        """SimVenue.last: in ticks, None before a trade (GetMarkPrice)."""
        m = self._mark(symbol)
        return None if m.last_price is None else self.markets[symbol].price_to_ticks(m.last_price)

    def top(self, symbol: str) -> tuple[int | None, int | None]:
        """SimVenue.top: (best bid, best ask) in ticks, None for an empty side (GetOrderBook)."""
        bids, asks = self._book(symbol, 1)
        return bids[0][0] if bids else None, asks[0][0] if asks else None

    def depth(self, symbol: str, side: int, levels: int) -> list[tuple[int, int]]:
        """SimVenue.depth: (ticks, lots) of up to `levels` levels of one side (Side.BUY: bids), best first
        (GetOrderBook)."""
        bids, asks = self._book(symbol, levels)
        return (bids if side == Side.BUY else asks)[:levels]

    def position(self, account: int, symbol: str) -> int:
        """The account's signed lots (ListPositions); 0 without a call for an account that never
        sent an order or a stop (it cannot hold a position)."""
        if account not in self._ordered:
            return 0
        key = self._keys[account]
        return self._read(("positions", account, symbol), lambda: self._raw.position_lots(key, symbol))

    def available(self, account: int, asset: str) -> int:
        """SimVenue.available: in money units (GetAccount); 0 for an account the run has no key for or an
        asset it holds no balance in."""
        if account not in self._keys:
            return 0
        client = self._client(account)
        try:
            balance = self._read(("account", account), client.account).balance(asset)
        except KeyError:
            return 0
        return self._settle_spec(asset).money_to_units(balance.available)

    def insurance(self, asset: str) -> int:
        """The insurance fund of a settlement asset (GetInsuranceFund)."""
        return self._settle_spec(asset).money_to_units(self._insurance_funds().get(asset, Decimal(0)))

    def funding_rate(self, symbol: str) -> int:
        """SimVenue.funding_rate: the wire rate × RATE_SCALE, truncated toward zero (GetMarkPrice)."""
        return int(self._mark(symbol).funding_rate * RATE_SCALE)

    def predicted_funding_rate(self, symbol: str) -> int:
        """SimVenue.predicted_funding_rate: the wire rate × RATE_SCALE, truncated toward zero; 0 from a
        venue that does not send it (GetMarkPrice)."""
        rate = self._mark(symbol).predicted_funding_rate  # None from a venue that does not send it
        return 0 if rate is None else int(rate * RATE_SCALE)

    def open_interest(self, symbol: str) -> int | None:
        """The lots held long: the risk signals' figure (GetMarketRisk, read for the step's risk
        row anyway; caught up with every command, as the history's), else the venue's history
        service's (GetOpenInterest)."""
        risk = self._risk(symbol)
        if risk is not None:
            return risk.open_interest_lots
        current, _ = self._read(("oi", symbol), lambda: self.admin.open_interest(symbol))
        return current.open_interest_lots  # (qty_to_lots would refuse 0, or more than one order's most)

    def market_risk(self, symbol: str) -> dict | None:
        """The venue's risk row of the market (GetMarketRisk); None from a venue without signals."""
        from perpsim.sim.risk_series import row_of_client

        risk = self._risk(symbol)
        return None if risk is None else row_of_client(risk)

    def _risk(self, symbol: str):
        """The client's MarketRisk of the market now; None from a venue without signals."""
        from perpsim.clients.errors import PerpsimError

        if not self.signals:
            return None
        try:
            return self._read(("risk", symbol), lambda: self.admin.market_risk(symbol))
        except PerpsimError as e:
            if "signals are off" not in str(e):
                raise
            self.signals = False  # the venue was started with its signals off: no risk rows
            return None
