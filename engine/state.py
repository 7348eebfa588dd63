"""The state every stage of the exchange shares, and the account figures they all read.

`State` holds the venue's markets (engine.market), the ledger, the accounts' modes and
leverage, the clock and the next order id, and the scratch of the command being applied: its
events, the accounts and positions it touched, what order lists still have to act on, the
daily loss limits' running PnL. Its methods are what every stage asks of an account: wallet,
unrealized PnL, maintenance and initial margin, available and withdrawable balance (a
Multi-Assets account's through engine.multi_assets), and the one way money moves, `_move`,
which books both sides of a ledger movement and its events.

The stages (engine/settlement.py, engine/standing.py, engine/liquidation.py, ...) each hold
this one object; the Exchange builds it first (engine/exchange.py).
"""

from __future__ import annotations

from collections import deque
from fractions import Fraction

from perpsim.engine import multi_assets as MA
from perpsim.engine.book_types import BookLimits, make_book
from perpsim.engine.contracts import InverseContract, LinearContract
from perpsim.engine.events import BalanceChanged, CommandRejected, FundingSettled, InsuranceFundChanged
from perpsim.engine.market import IF_ACCOUNT, _Market, _Note, position_of
from perpsim.engine.records import new_record
from perpsim.model.markets import MarketKind, MarketSpec
from perpsim.model.reasons import RejectReason as R
from perpsim.risk import margin as M
from perpsim.risk.brackets import Brackets
from perpsim.risk.funding import FundingConfig
from perpsim.risk.funding_intervals import FundingAccumulator, next_funding_ts
from perpsim.risk.funding_premium import impact_notional
from perpsim.risk.index import IndexPrice
from perpsim.risk.ledger import INSURANCE, Ledger
from perpsim.risk.liqprice import LiquidationModel
from perpsim.risk.losslimit import LossLimitState, next_day
from perpsim.risk.margin import initial_margin
from perpsim.risk.margin_kernel import BracketTable
from perpsim.risk.mark import mark_state_for
from perpsim.risk.positions import Position
from perpsim.risk.profiles import BINANCE, VenueProfile
from perpsim.risk.units import RATE_SCALE, apply_rate_up, div_up

_NEVER_STALE = 1 << 62
_BYBIT = LiquidationModel.BYBIT


class State:
    """The venue's state: markets, accounts' modes and leverage, the ledger, the clock, and what
    the command being applied has produced and touched so far."""

    def __init__(self, markets: dict[str, MarketSpec], brackets: dict[str, Brackets], *,
                 book_impl: str = "cython", profile: VenueProfile = BINANCE, start_ts: int = 0,
                 index_sources: dict[str, dict[str, int]] | None = None,
                 funding: dict[str, FundingConfig] | None = None) -> None:
        """`index_sources`: per symbol, the index constituents and their weights; a market
        without an entry is driven by one "sandbox" source that never goes stale.
        `funding`: per symbol, the funding interval and rate cap/floor (default: the profile's
        funding rule, risk.funding.FundingConfig.of_rule; Binance's is 8 h, no cap)."""
        self.profile = profile
        default_funding = FundingConfig() if profile.funding is None else FundingConfig.of_rule(profile.funding)
        self.markets: dict[str, _Market] = {}
        for symbol in sorted(markets):
            spec = markets[symbol]
            sources = (index_sources or {}).get(symbol)
            index = IndexPrice(sources) if sources else IndexPrice({"sandbox": 1}, stale_after_ns=_NEVER_STALE)
            b = brackets[symbol]
            inverse = spec.kind is MarketKind.INVERSE
            k_inv = M.inverse_k(spec.contract_size * spec.lot_size, spec.tick_size, 10**spec.settle_decimals) \
                if inverse else Fraction(0)
            K, tick, table = 0 if inverse else spec.notional_per_tick_lot, Fraction(spec.tick_size), BracketTable(b)
            self.markets[symbol] = _Market(
                spec=spec,
                inverse=inverse,
                k_inv=k_inv,
                book=make_book(book_impl, BookLimits(*spec.book_limits())),
                K=K,
                tick=tick,
                brackets=b,
                table=table,
                contract=InverseContract(k_inv, tick, b) if inverse else LinearContract(K, tick, b, table),
                index=index,
                mark_state=mark_state_for(profile.mark_form, start_ts=start_ts),
                funding_config=(cfg := (funding or {}).get(symbol, default_funding)),
                funding=FundingAccumulator(start_ts=start_ts, interval_ns=cfg.interval_ns),
                # Binance IMN = 200 USDT / IMR at the highest leverage
                imn=impact_notional(RATE_SCALE // b[0].max_leverage, 10**spec.settle_decimals),
                next_funding=next_funding_ts(start_ts, cfg.interval_ns),
            )
        self.ledger = Ledger()
        self.leverage: dict[tuple[int, str], int] = {}
        self.hedge: set[int] = set()
        # Multi-Assets accounts (engine.multi_assets), the USD index (RATE_SCALE-scaled) of the
        # collateral asset and the market whose index it is
        self.multi_assets: set[int] = set()
        self._collateral_index: dict[str, int] = {}
        self._collateral_market = MA.price_market(self.markets)
        # RATE_SCALE units per tick of that market: an integer (ticks are multiples of 1e-8), so
        # an index update costs one integer product here, not Fraction arithmetic on every tick
        self._collateral_scale = None
        if self._collateral_market is not None:
            scale = self.markets[self._collateral_market].tick * RATE_SCALE
            if scale.denominator != 1:
                raise ValueError(f"{self._collateral_market}: tick size below 1e-8")
            self._collateral_scale = int(scale)
        for m in self.markets.values():
            m.hedge = self.hedge  # one set: a market looks up only the position sides a mode allows
        self.funding_history: list[tuple[int, FundingSettled]] = []
        self.insurance_history: list[tuple[int, InsuranceFundChanged]] = []
        self.ts = start_ts
        self.next_order_id = 1
        self._markets_of: dict[int, set[str]] = {}
        # per market, the accounts that also hold positions elsewhere: a mark change there moves
        # their liquidation prices in the other markets (kept up to date, never scanned for)
        self._multi: dict[str, set[int]] = {s: set() for s in self.markets}
        self._events: list = []
        self._touched: set[int] = set()
        self._positions_moved: set[tuple[str, int, int]] = set()  # (symbol, account, pside) this command
        # isolated positions being liquidated: their margin is settled by _liquidate, not _trade
        self._liquidating: set[tuple[str, int, int]] = set()
        # OKX: resting liquidation orders, id -> (symbol, account, position side, end of their minute in ns)
        # (engine.okx_orders: their fills pay the liquidation fee; the stage cancels them at the end)
        self._forced: dict[int, tuple[str, int, int, int]] = {}
        # (expire_ts, symbol, id) of GTD conditional orders and order lists; stale entries are skipped
        self._expiries: list[tuple[int, str, int]] = []
        self._notes: deque[_Note] = deque()  # what order lists still have to act on
        self._due: list[tuple[str, int, int]] = []  # (symbol, id, price): armed legs that fire at once
        # daily loss limits: per (account, asset) the limit's state; per asset and account with
        # a limit the day's PnL so far (realized + funding - fees), kept at each ledger move so
        # that the order check is O(1); the limits whose loss may have moved in this command;
        # the limits that count unrealized PnL (re-checked when a mark moves); when today ends
        self._loss_limits: dict[tuple[int, str], LossLimitState] = {}
        self._day_pnl: dict[str, dict[int, int]] = {}
        self._loss_watch: set[tuple[int, str]] = set()
        self._unrealized_limits: set[tuple[int, str]] = set()
        self._day_end = next_day(start_ts)

    # ================================================================== commands

    # ================================================================== commands' common checks

    def _reject(self, cmd, reason: R, **fields) -> None:
        self._events.append(CommandRejected(type(cmd).__name__, getattr(cmd, "account", 0), int(reason),
                                            tuple(fields.items())))

    def _market(self, cmd) -> _Market | None:
        """The command's market, or None after rejecting the command with UNKNOWN_SYMBOL."""
        m = self.markets.get(cmd.symbol)
        if m is None:
            self._reject(cmd, R.UNKNOWN_SYMBOL, symbol=cmd.symbol)
        return m

    # ================================================================== account figures

    def wallet(self, account: int, asset: str) -> int:
        """The account's wallet balance in `asset` (money units; the fund's for IF_ACCOUNT)."""
        return self.ledger.insurance(asset) if account == IF_ACCOUNT else self.ledger.wallet(account, asset)

    def _iso_margin(self, m: _Market, account: int, pside: int) -> int:
        return self.ledger.balance(m.iso_holder(account, pside), m.asset)

    def _cross(self, account: int, asset: str, skip: str | None = None) -> list[tuple[_Market, Position]]:
        """(market, position) of every cross position of the account settled in `asset`."""
        found = []
        symbols = self._markets_of.get(account, ())
        for symbol in symbols if len(symbols) < 2 else sorted(symbols):  # market order: deterministic sums
            m = self.markets[symbol]
            if m.asset == asset and symbol != skip and account not in m.isolated and m.mark is not None:
                for _, p in m.leg_list(account):
                    found.append((m, p))
        return found

    def _mm(self, m: _Market, p: Position) -> int:
        """Maintenance margin of one position per the profile (at mark for Binance, at the entry
        notional for Bybit classic), rounded up: the exact value is `_mm_scaled` / RATE_SCALE."""
        return div_up(self._mm_scaled(m, p), RATE_SCALE)

    def _mm_scaled(self, m: _Market, p: Position):
        """The exact maintenance margin × RATE_SCALE: an int on linear markets (no Fraction); at
        the entry notional on a linear market under Bybit's classic model."""
        return m.contract.mm_scaled(p, m.mark, self.profile.liquidation_model is _BYBIT)

    def upnl(self, account: int, asset: str, skip: str | None = None) -> int:
        """Unrealized PnL (money units) of the account's cross positions in `asset`, at mark."""
        total = 0
        for m, p in self._cross(account, asset, skip):
            total += m.upnl(p)
        return total

    def maintenance(self, account: int, asset: str, skip: str | None = None) -> int:
        """Maintenance margin of the account's cross positions (each rounded up)."""
        total = 0
        for m, p in self._cross(account, asset, skip):
            total += self._mm(m, p)
        return total

    def initial_margin(self, account: int, asset: str) -> int:
        """Initial margin held in the cross wallet: cross positions (at mark) and every open
        order that can open exposure (at its price, plus its fee reserve; isolated orders are
        paid from the wallet). A Multi-Assets account's pooled assets: the pool's."""
        if account in self.multi_assets and asset in MA.POOLED:
            return MA.initial(self, account, asset)
        total = 0
        for m, p in self._cross(account, asset):
            total += initial_margin(m.value(p.lots, m.mark), self._lev(account, m))
        for m in self.markets.values():
            value = m.order_value.get(account) if m.asset == asset else None
            if value:  # O(markets): the sum is kept up to date, never recomputed
                total += self._orders_margin(m, value, self._lev(account, m))
        return total

    def _orders_margin(self, m: _Market, value, lev: int) -> int:
        """The initial margin and fee reserve held for open orders of this notional (what
        initial_margin adds per market)."""
        return initial_margin(value, lev) + self._fee_reserve(m, value) if value else 0

    def _fee_reserve(self, m: _Market, notional: int) -> int:
        """The fee an order may be charged, at the higher of the two rates (rounded up)."""
        return apply_rate_up(notional, max(m.taker_fee, m.maker_fee, 0))

    def _lev(self, account: int, m: _Market) -> int:
        return self.leverage.get((account, m.symbol), m.default_leverage)

    def margin_balance(self, account: int, asset: str) -> int:
        """Cross margin balance: wallet + uPnL of cross positions (money units); of a
        Multi-Assets account's pooled asset, the pool's equity (engine.multi_assets)."""
        if account in self.multi_assets and asset in MA.POOLED:
            return MA.margin_balance(self, account, asset)
        return self.wallet(account, asset) + self.upnl(account, asset)

    def available(self, account: int, asset: str) -> int:
        """Cross margin balance minus the initial margin in use (money units; may be negative)."""
        return self.margin_balance(account, asset) - self.initial_margin(account, asset)

    def withdrawable(self, account: int, asset: str) -> int:
        """What may leave: the wallet minus margin in use, never counting unrealized profit."""
        if account in self.multi_assets and asset in MA.MARGIN_ASSETS:
            return MA.withdrawable(self, account, asset)
        wallet = self.wallet(account, asset)
        return max(0, min(wallet, wallet + min(0, self.upnl(account, asset)) - self.initial_margin(account, asset)))

    # ================================================================== money

    def _move(self, asset: str, source, dest, amount: int, cause: str) -> None:
        """Move money between accounts (ints: their wallets, the fund for IF_ACCOUNT) or named
        holders, with balance events; a negative amount moves the other way."""
        if amount <= 0:
            if amount == 0:
                return
            source, dest, amount = dest, source, -amount
        if source.__class__ is int:
            source = INSURANCE if source == IF_ACCOUNT else ("wallet", source)
        if dest.__class__ is int:
            dest = INSURANCE if dest == IF_ACCOUNT else ("wallet", dest)
        src_after, dst_after = self.ledger.move(asset, source, dest, amount)
        self._booked(source, asset, -amount, src_after, cause)
        self._booked(dest, asset, amount, dst_after, cause)

    def _booked(self, holder: tuple[str, int], asset: str, delta: int, after: int, cause: str) -> None:
        """The event of one side of a movement: a wallet's, the fund's, or an isolated margin's
        (a BalanceChanged naming its market and position side: its realized PnL and funding are
        income as a wallet's are)."""
        kind = holder[0]
        if kind == "wallet":
            self._touched.add(holder[1])
            self._events.append(new_record(BalanceChanged, (holder[1], asset, delta, after, cause, "", 0)))
        elif kind == "insurance":  # INSURANCE
            e = new_record(InsuranceFundChanged, (asset, delta, after, cause))
            self._events.append(e)
            self.insurance_history.append((self.ts, e))
        elif kind.startswith("iso:"):
            account, pside = position_of(holder[1])
            self._touched.add(account)
            self._events.append(new_record(BalanceChanged, (account, asset, delta, after, cause, kind[4:], pside)))

    def _day_move(self, account, asset: str, delta) -> None:
        """Add a PnL movement (realized PnL, funding, a fee as a negative) to the account's day,
        if it has a limit in `asset`: accounts without one are not tracked, so that trading
        without a limit costs one check per movement (callers test `_loss_limits` first)."""
        key = (account, asset)
        if key not in self._loss_limits:
            return
        day = self._day_pnl.get(asset)
        if day is None:
            day = self._day_pnl[asset] = {}
        day[account] = day.get(account, 0) + delta
        self._loss_watch.add(key)
