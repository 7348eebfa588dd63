"""One market's risk read model: open interest, accounts' sides and leverage, the liquidation
map, leverage spikes, volatility and the minute histories of the temperature's parts.

It is told what changed (positions, wallets, marks) by `Signals` and reads the engine only for
what changed: an account's legs, liquidation and bankruptcy price, margin. Effective leverage
of an account in the market: `notional / margin` with notional at the mark, margin the isolated
margin of its positions, or for cross its margin balance (wallet + uPnL) times this market's
share of its cross notional in the settlement asset; taken once per step of venue time for the
accounts whose positions or wallets changed during it (and capped at MAX_LEVERAGE).

The margins are read ahead (`read_ahead`, by the catch-up, off the sequencer's path) rather than
at the step's close: an account's isolated margin moves only with its own balance events and a
one-market cross account's margin balance with its own events and the mark, linearly (uPnL =
(mark · lots − cost) · K, so at the close's mark it is the read plus Δmark · lots · K, exact in
integers). So a read taken after the account's last event of the step is the read at the close;
an event of the account after it sends it back to be read again. What cannot be carried to the
close that way (an inverse market's cross uPnL, a Multi-Assets pool, a cross account holding
other markets too, no mark yet) is read at the close, as before.
"""

from __future__ import annotations

from perpsim.model.enums import PositionSide
from perpsim.model.markets import MarketKind
from perpsim.venue.signals.anomaly import LeverageSpikes
from perpsim.venue.signals.config import NS, SignalConfig
from perpsim.venue.signals.execution import ExecutionQuality, WorseFillsAlert
from perpsim.venue.signals.history import History
from perpsim.venue.signals.liqmap import Entry, LiquidationMap
from perpsim.venue.signals.volatility import EwmaVariance

BOTH, LONG, SHORT = int(PositionSide.BOTH), int(PositionSide.LONG), int(PositionSide.SHORT)
_FLAT = (0, 0)  # no legs (never stored)
_ISOLATED = object()  # flush_lev's mark of an isolated account's margin
_NO_LEGS = (None, 0, None, None)  # a margin read of an account without a position here (or no mark)
#: an account whose margin is gone shows this leverage (x)
MAX_LEVERAGE = 1_000.0


def unit_values(spec):
    """(notional, quote) of a market: `notional(lots, ticks)` in the settlement asset and
    `quote(lots, ticks)` in the quote currency, as floats."""
    tick, lot = float(spec.tick_size), float(spec.lot_size)
    if spec.kind is MarketKind.INVERSE:
        face = lot * float(spec.contract_size)
        return (lambda lots, ticks: lots * face / (ticks * tick)), (lambda lots, ticks: lots * face)
    k = spec.notional_per_tick_lot / 10**spec.settle_decimals
    return (lambda lots, ticks: lots * ticks * k), (lambda lots, ticks: lots * ticks * k)


def pnl(spec, lots: int, entry: float, exit_: float) -> float:
    """Settlement-asset PnL of signed `lots` from price `entry` to `exit_` (ticks)."""
    tick, lot = float(spec.tick_size), float(spec.lot_size)
    if spec.kind is MarketKind.INVERSE:
        return lots * lot * float(spec.contract_size) * (1.0 / (entry * tick) - 1.0 / (exit_ * tick))
    return lots * lot * (exit_ - entry) * tick


class MarketSignals:
    """One market's read model state: each account's legs (lots), open interest, the liquidation
    map, effective leverage (x, at most MAX_LEVERAGE), spike flags, σ, the minute histories and
    the execution quality. Prices in ticks, notionals floats of the settlement asset."""

    def __init__(self, spec, cfg: SignalConfig, lam: float) -> None:
        self.spec, self.symbol, self.asset = spec, spec.symbol, spec.settle
        self.notional, self.quote = unit_values(spec)
        self.legs: dict[int, tuple[int, int]] = {}  # account -> (long lots, short lots), absolute
        self.long_lots = self.short_lots = 0
        self.long_accounts = self.short_accounts = 0
        self.liqmap = LiquidationMap()
        self.dirty_liq: set[int] = set()
        self.dirty_lev: set[int] = set()  # changed in the open step: their leverage is taken at its close
        #: of dirty_lev: changed since their margin was read ahead (the next catch-up reads them) ...
        self.unread: set[int] = set()
        #: ... read ahead: account -> (legs, margin units, _ISOLATED or None: one-market cross, mark read at) ...
        self.ahead: dict[int, tuple] = {}
        #: ... or to be read at the close (what the read ahead cannot carry there)
        self.at_close: set[int] = set()
        #: units per (tick · lot) of uPnL: a cross read's correction to the close's mark (linear only)
        self.K = 0 if spec.kind is MarketKind.INVERSE else spec.notional_per_tick_lot
        self.lev: dict[int, tuple[float, float]] = {}  # account -> (notional, leverage)
        self.lev_sums = [0.0, 0.0]  # Σ notional, Σ notional · leverage
        hold = cfg.spike_hold_s * NS
        self.spikes = LeverageSpikes(cfg.spike_window, cfg.spike_z, cfg.spike_min_jump, cfg.spike_min_level,
                                     cfg.spike_mad_floor, hold)
        self.vol = EwmaVariance(lam, cfg.vol_seed_samples)
        n = cfg.history_n
        self.h_funding, self.h_oi, self.h_lev, self.h_near = History(n), History(n), History(n), History(n)
        self.execution = ExecutionQuality()
        self.alert = WorseFillsAlert(cfg.slippage_alert_bps, cfg.spread_alert_bps, cfg.alert_hold_s * NS)

    # -------------------------------------------------------------- positions (per event)

    def position(self, rd, account: int, lots: int | None = None, pside: int = BOTH) -> bool:
        """The account's legs here changed: `lots` of its position on `pside` (a PositionChanged
        says which), or, without lots, re-read; whether it still holds any. A hedge-mode leg
        from its event keeps the other leg as it was: no read of the engine, so a fold at any
        later time gives what a fold right after the command gives."""
        if pside == LONG and lots is not None:
            new = (lots, self.legs.get(account, _FLAT)[1])
        elif pside == SHORT and lots is not None:
            new = (self.legs.get(account, _FLAT)[0], -lots)
        elif rd.hedge(account):
            new = (rd.lots(account, self.symbol, LONG), -rd.lots(account, self.symbol, SHORT))
        else:
            if lots is None:
                lots = rd.lots(account, self.symbol, BOTH)
            new = (lots, 0) if lots >= 0 else (0, -lots)
        old = self.legs.get(account, (0, 0))
        if new == old:
            return new != (0, 0)
        self.long_lots += new[0] - old[0]
        self.short_lots += new[1] - old[1]
        net_old, net_new = old[0] - old[1], new[0] - new[1]
        self.long_accounts += (net_new > 0) - (net_old > 0)
        self.short_accounts += (net_new < 0) - (net_old < 0)
        if new == (0, 0):
            del self.legs[account]
        else:
            self.legs[account] = new
        self.dirty_liq.add(account)
        self.dirty_lev.add(account)
        self.unread.add(account)
        return new != (0, 0)

    def set_lots(self, account: int, lots: int) -> bool:
        """A one-way position now holds `lots` (not 0): what `position(rd, account, lots)` does,
        shorter; whether the account held nothing here before."""
        new = (lots, 0) if lots > 0 else (0, -lots)
        old = self.legs.get(account, _FLAT)
        if new == old:
            return False
        self.long_lots += new[0] - old[0]
        self.short_lots += new[1] - old[1]
        net_old = old[0] - old[1]
        self.long_accounts += (lots > 0) - (net_old > 0)
        self.short_accounts += (lots < 0) - (net_old < 0)
        self.legs[account] = new
        self.dirty_liq.add(account)
        self.dirty_lev.add(account)
        self.unread.add(account)
        return old is _FLAT

    def close(self, account: int) -> bool:
        """A one-way position closed: what `position(rd, account, 0)` does, shorter; whether
        the account had one here."""
        old = self.legs.pop(account, None)
        if old is None:
            return False
        self.long_lots -= old[0]
        self.short_lots -= old[1]
        if old[0] > old[1]:
            self.long_accounts -= 1
        elif old[0] < old[1]:
            self.short_accounts -= 1
        self.dirty_liq.add(account)
        self.dirty_lev.add(account)
        self.unread.add(account)
        return True

    def touch(self, account: int) -> None:
        """The account changed here, not its position: its liquidation entry, leverage and margin are read again."""
        self.dirty_liq.add(account)
        self.dirty_lev.add(account)
        self.unread.add(account)

    # -------------------------------------------------------------- liquidation map

    def flush_liq(self, rd) -> None:
        """Bring the map's entries of every changed account up to date."""
        if not self.dirty_liq:
            return
        for account in sorted(self.dirty_liq):
            base = account * 4
            if rd.isolated(account, self.symbol):
                self.liqmap.set(base + BOTH, None)
                for pside in ((LONG, SHORT) if rd.hedge(account) else (BOTH,)):
                    self.liqmap.set(base + pside, self._entry(rd, account, pside))
            else:
                for pside in (LONG, SHORT):
                    self.liqmap.set(base + pside, None)
                self.liqmap.set(base + BOTH, self._entry(rd, account, BOTH))
        self.dirty_liq.clear()

    def _entry(self, rd, account: int, pside: int) -> Entry | None:
        legs = self.legs.get(account)
        if legs is None:
            return None
        lots = legs[0] if pside == LONG else legs[1] if pside == SHORT else legs[0] + legs[1]
        if lots == 0:
            return None
        lp = rd.liquidation(account, self.symbol, pside)
        if lp is None:
            return None
        return Entry(lp[0], lp[1], lots)

    def bankruptcy(self, rd, key: int) -> float:
        """The bankruptcy price (ticks) of the map's entry `key` (account * 4 + position side)."""
        return rd.bankruptcy(key // 4, self.symbol, key % 4)

    # -------------------------------------------------------------- leverage (per step)

    def read_ahead(self, rd, held: dict) -> None:
        """Read the margin of each account changed since its last read (off the sequencer's
        path: the catch-up, once it has folded the events in): an isolated account's isolated
        margin, a one-market cross account's margin balance with the mark it is at. Kept until
        the step's close unless the account changes again. The others wait for the close."""
        unread = self.unread
        if not unread:
            return
        view, symbol, asset = rd.view, self.symbol, self.asset
        mark = view.mark(symbol)
        legs_of, ahead, at_close = self.legs, self.ahead, self.at_close
        isolated, hedge, isolated_margin, margin_balance, multi_assets = (
            view.isolated, view.hedge_mode, view.isolated_margin, view.margin_balance, view.multi_assets)
        cross_ok = self.K and mark is not None
        for account in unread:
            legs = legs_of.get(account)
            if legs is None:
                ahead[account] = _NO_LEGS
            elif isolated(account, symbol):
                margin = 0
                for pside in ((LONG, SHORT) if hedge(account) else (BOTH,)):
                    margin += isolated_margin(account, symbol, pside)
                ahead[account] = (legs, margin, _ISOLATED, mark)
            elif cross_ok and len(held.get(account, ())) == 1 and not multi_assets(account):
                ahead[account] = (legs, margin_balance(account, asset), None, mark)
            else:
                at_close.add(account)
        unread.clear()

    def flush_lev(self, rd, cross_notional, held: dict) -> tuple | None:
        """At a step's close: the changed accounts and what their leverage needs from the engine.
        The reads ahead are taken as they are; what they cannot carry to the close (and any
        account still unread) is read now, as the state stands: the mark, and per account its
        legs and its margin in units, isolated (its positions' isolated margin) or cross (its
        margin balance, and its cross notional when it holds other markets too: an account
        holding only this one has its position's notional here, the same sum). `score_lev` does
        the arithmetic later. `cross_notional(account)`: its cross notional at mark in this
        market's settlement asset; `held`: account -> the markets it holds. None when no
        account changed."""
        if not self.dirty_lev:
            return None
        mark = rd.mark(self.symbol)
        dirty, ahead, now = self.dirty_lev, self.ahead, self.at_close
        if self.unread:
            now = now | self.unread
        self.dirty_lev, self.ahead, self.at_close, self.unread = set(), {}, set(), set()
        if not now:
            return mark, dirty, ahead, None
        fresh: dict[int, tuple] = {}
        legs_of, symbol, asset = self.legs, self.symbol, self.asset
        view = rd.view
        isolated, hedge, isolated_margin, margin_balance = (view.isolated, view.hedge_mode, view.isolated_margin,
                                                            view.margin_balance)
        for account in now:
            legs = legs_of.get(account)
            if legs is None or mark is None:
                fresh[account] = _NO_LEGS
            elif isolated(account, symbol):
                margin = 0
                for pside in ((LONG, SHORT) if hedge(account) else (BOTH,)):
                    margin += isolated_margin(account, symbol, pside)
                fresh[account] = (legs, margin, _ISOLATED, mark)
            else:
                fresh[account] = (legs, margin_balance(account, asset),
                                  None if len(held.get(account, ())) == 1 else cross_notional(account), mark)
        return mark, dirty, ahead, fresh

    def score_lev(self, ts: int, read: tuple) -> list:
        """Effective leverage of the accounts `flush_lev` took at venue time `ts`, in account
        order: the average's sums brought up to date and each change scored for spikes; the
        flags raised. Isolated: notional / isolated margin; cross: cross notional / margin
        balance, a one-market account's read ahead moved to the close's mark first (+ Δmark ·
        (long − short lots) · K units, exact); MAX_LEVERAGE when the margin is gone, and at most
        that."""
        mark, dirty, ahead, fresh = read
        levels = []
        lev_of, sums, notional_of, K = self.lev, self.lev_sums, self.notional, self.K
        scale = 10**self.spec.settle_decimals
        for account in sorted(dirty):
            legs, margin, total, at = (fresh.get(account) if fresh else None) or ahead[account]
            old = lev_of.pop(account, None)
            if old is not None:
                sums[0] -= old[0]
                sums[1] -= old[0] * old[1]
            if legs is None or mark is None:
                levels.append((account, 0.0, 0))
                continue
            notional = notional_of(legs[0] + legs[1], mark)
            if total is _ISOLATED:
                margin_f = margin / scale
                lev = notional / margin_f if margin_f > 0 else MAX_LEVERAGE
            else:
                if at != mark:  # a one-market cross read ahead (linear): its uPnL at the close's mark
                    margin += (mark - at) * (legs[0] - legs[1]) * K
                balance = margin / scale
                lev = (notional if total is None else total) / balance if balance > 0 else MAX_LEVERAGE
            lev = min(lev, MAX_LEVERAGE)
            lev_of[account] = (notional, lev)
            sums[0] += notional
            sums[1] += notional * lev
            levels.append((account, lev, 1 if legs[0] >= legs[1] else -1))
        return self.spikes.step(ts, levels)

    def average_leverage(self) -> float:
        """OI-weighted average effective leverage: Σ notional·lev / Σ notional (each account
        as of its last change)."""
        total = self.lev_sums[0]
        return self.lev_sums[1] / total if total > 1e-12 else 0.0

    # -------------------------------------------------------------- figures

    def open_interest(self, mark: int | None) -> tuple[int, float]:
        """(lots, notional at mark): the lots held long (= held short)."""
        return self.long_lots, (self.notional(self.long_lots, mark) if mark else 0.0)

    def near_share(self, mark: int | None, pct: float) -> float:
        """Share (0..1) of open lots (both sides) that a move of pct % would liquidate."""
        total = self.long_lots + self.short_lots
        if not mark or not total:
            return 0.0
        return self.liqmap.near(mark, pct) / total
