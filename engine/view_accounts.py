"""ExchangeView's reads of accounts: balances and money figures per asset, settings, and one
position's figures by themselves (see engine/views.py for the whole API and its units).

Mixed into `ExchangeView`, which holds the exchange (`_ex`), looks markets up (`_market`,
UnknownSymbol for an unknown one) and lists the settlement assets (`assets`)."""

from __future__ import annotations

from fractions import Fraction
from typing import TYPE_CHECKING, Any

from perpsim.engine.commands import PlaceOrder
from perpsim.engine.multi_assets import collateral_values
from perpsim.engine.view_types import BalanceView
from perpsim.model.enums import PositionSide

if TYPE_CHECKING:
    from perpsim.engine.exchange import Exchange

BOTH = PositionSide.BOTH


class AccountReads:
    """ExchangeView's account reads (the module docstring): money figures in integer units of the
    asset, positions in lots and ticks."""

    __slots__ = ()

    _ex: Exchange

    if TYPE_CHECKING:  # ExchangeView's own
        def _market(self, symbol: str) -> Any: ...
        def assets(self) -> tuple[str, ...]:
            """ExchangeView.assets: the settlement assets, sorted."""
            ...

    # ------------------------------------------------------------ money, per asset

    def available(self, account: int, asset: str) -> int:
        """The account's available balance in `asset` (units; may be negative)."""
        return self._ex.available(account, asset)

    def margin_balance(self, account: int, asset: str) -> int:
        """The account's cross margin balance in `asset`: wallet + uPnL of its cross positions (units)."""
        return self._ex.margin_balance(account, asset)

    def wallet(self, account: int, asset: str) -> int:
        """The account's cross wallet balance in `asset` (units)."""
        return self._ex.wallet(account, asset)

    def maintenance_margin(self, account: int, asset: str) -> int:
        """The maintenance margin of the account's cross positions in `asset` (units)."""
        return self._ex.maintenance(account, asset)

    def withdrawable(self, account: int, asset: str) -> int:
        """What may leave the account in `asset`: the wallet minus margin in use, never counting
        unrealized profit (units, ≥ 0)."""
        return self._ex.withdrawable(account, asset)

    def daily_loss_limit(self, account: int, asset: str) -> dict:
        """The account's daily loss limit in `asset` as of the last command (money units, times in
        ns): limit (0: none), include_unrealized, flatten, loss (today's, a profit negative),
        hit, resets_at, pending (the waiting change's limit, 0: removal), pending_from (0: none)."""
        return self._ex.daily_loss_limit(account, asset)


    # ------------------------------------------------------------ settings

    def balance(self, account: int, asset: str) -> BalanceView:
        """The account's BalanceView in `asset`: wallet, available, margin balance, uPnL, margins and
        withdrawable (money units)."""
        ex = self._ex
        return BalanceView(asset, ex.wallet(account, asset), ex.available(account, asset),
                           ex.margin_balance(account, asset), ex.upnl(account, asset),
                           ex.initial_margin(account, asset), ex.maintenance(account, asset),
                           ex.withdrawable(account, asset))

    def balances(self, account: int) -> tuple[BalanceView, ...]:
        """One balance per settlement asset, by asset."""
        return tuple(self.balance(account, a) for a in self.assets())

    def accounts(self) -> tuple[int, ...]:
        """Every account the ledger has a wallet for (in any asset, even one now empty), sorted."""
        return tuple(sorted(a for kind, a in self._ex.ledger._bal if kind == "wallet"))

    def hedge_mode(self, account: int) -> bool:
        """Whether the account is in hedge (two-sided) position mode."""
        return account in self._ex.hedge

    def multi_assets(self, account: int) -> bool:
        """Whether the account is in Multi-Assets mode (engine.multi_assets)."""
        return account in self._ex.multi_assets

    def collateral_values(self, account: int) -> dict[str, int]:
        """Per margin asset (USDT, USDC, BTC), what its wallet counts for as Multi-Assets
        collateral (USD units of 1e-8, rounded down; BTC only once its index is known)."""
        return collateral_values(self._ex.state, account)

    def leverage(self, account: int, symbol: str) -> int:
        """The account's leverage setting in the market (the default until it sets one)."""
        return self._ex.state._lev(account, self._market(symbol))

    def isolated(self, account: int, symbol: str) -> bool:
        """Whether the account's margin mode in the market is isolated."""
        return account in self._market(symbol).isolated

    def holds(self, account: int, symbol: str) -> bool:
        """Whether the account has a position in the market."""
        return self._market(symbol).holds(account)


    # ------------------------------------------------------------ one position's figures

    def legs(self, account: int, symbol: str) -> tuple[tuple[int, int], ...]:
        """(position side, signed lots) of each of the account's positions in the market, in side
        order; no margin computed (a one-way account: at most (BOTH, lots))."""
        return tuple((ps, p.lots) for ps, p in self._market(symbol).leg_list(account))

    def liquidation_price(self, account: int, symbol: str, pside: int = BOTH) -> Fraction | None:
        """The position's exact liquidation price in ticks (a Fraction; × the spec's tick size
        for quote per base), None without a mark or a position, or when no price liquidates it.
        Isolated: that position on its margin; cross: the account's legs in the market together
        (pside ignored), the other markets held fixed. One solve, none of PositionView's other
        figures."""
        self._market(symbol)
        lp = self._ex.liquidation_price(account, symbol, pside)
        return None if lp is None else lp.ticks

    def bankruptcy_price(self, account: int, symbol: str, pside: int = BOTH) -> Fraction | None:
        """The position's exact bankruptcy price in ticks (a Fraction), None without a mark or a
        position (isolated: that position; cross: the account's legs in the market)."""
        self._market(symbol)
        bp = self._ex.bankruptcy_price(account, symbol, pside)
        return None if bp is None else bp.ticks

    def liquidation_band(self, account: int, symbol: str, pside: int = BOTH) -> tuple[int | None, int | None] | None:
        """The position's liquidation band as it stands: (partial, full) liquidation price in ticks,
        rounded against the account (full None when the reduced position is safe at every price;
        risk.liqband, what PreviewOrder reports for an order's result). None without a mark or a
        position, or for a cross leg of a hedge-mode pair."""
        self._market(symbol)
        band = self._ex.liquidation_band(account, symbol, pside)
        return None if band is None else (band.partial, band.full)

    def isolated_margin(self, account: int, symbol: str, pside: int = BOTH) -> int:
        """The margin held by an isolated position (units; 0 for none)."""
        self._market(symbol)
        return self._ex.isolated_margin(account, symbol, pside)

    def preview_order(self, cmd: PlaceOrder) -> dict:
        """What the order would do to its account if it filled completely, changing nothing: the
        exchange's preview (see `Exchange.preview_order`: money in units, prices as exact Fractions
        of the quote currency with their `*_tick` beside them). No mark yet: ValueError."""
        self._market(cmd.symbol)
        return self._ex.preview_order(cmd)
