"""Contract math per market kind: what a lot is worth, and what follows from it.

A linear (USDⓈ-margined) contract's notional is lots × price × K, in money units of the quote
asset; an inverse (coin-margined) contract's is lots × k_inv / price, in units of the base coin,
an exact Fraction. Everything that depends on which (notional, entry price, unrealized and
realized PnL, the pnl pool's target, funding's terms, liquidation and bankruptcy prices,
maintenance margin, the cost to open, the minimum notional, impact prices, which of two prices
makes the larger notional, what a fill's rounding leaves to dust) is a method of the market's
contract (`_Market.contract`), so the stages never branch on the kind. Prices are in ticks,
quantities in lots, money in integer units; each rounding is stated where it is made.
"""

from __future__ import annotations

import math
from fractions import Fraction

from perpsim.model.enums import Side
from perpsim.risk.funding_premium import impact_price, impact_price_contracts
from perpsim.risk.liqprice import (
    InverseLeg,
    Leg,
    Trigger,
    bankruptcy_price,
    inverse_bankruptcy_price,
    inverse_liquidation_price,
    liquidation_price,
)
from perpsim.risk.liqrange import rise_tick
from perpsim.risk.margin import SHORT_LAST_BUFFER, initial_margin, open_cost, upnl
from perpsim.risk.margin_kernel import BracketTable, bankruptcy_tick
from perpsim.risk.positions import Position
from perpsim.risk.units import RATE_SCALE

_SIDE_BUY = Side.BUY
_AT_OR_BELOW = Trigger.AT_OR_BELOW


class Contract:
    """What a market's math needs to know of its kind; LinearContract and InverseContract
    implement it."""

    def __init__(self, K: int, k_inv: Fraction, tick: Fraction, brackets) -> None:
        self.K = K  # linear: money units per tick per lot (0 on inverse markets)
        self.k_inv = k_inv  # inverse: coin money units × ticks per lot (0 on linear markets)
        self.tick = tick  # the tick size, exact
        self.brackets = brackets

    def value(self, lots: int, price: int):
        """Notional of |lots| at `price` ticks in money units of the settlement asset, exact (an int on
        linear markets, a Fraction on inverse ones)."""
        raise NotImplementedError

    def entry(self, p: Position) -> Fraction:
        """Average entry price of `p` in ticks, an exact Fraction."""
        raise NotImplementedError

    def entry_value(self, p: Position) -> int:
        """Notional of `p` at its average entry price (money units)."""
        raise NotImplementedError

    def upnl(self, p: Position, mark: int) -> int:
        """Unrealized PnL of `p` at `mark` ticks (money units; exact on linear markets, rounded toward
        -infinity on inverse ones)."""
        raise NotImplementedError

    def fill(self, p: Position, qty: int, price: int) -> int:
        """Apply the signed fill `qty` lots at `price` ticks to `p`; its realized PnL (money units, rounded
        down)."""
        raise NotImplementedError

    def funding_terms(self, price: int) -> tuple:
        """(price, K) with lots × price × K the notional at `price`, as risk.funding_payments takes them."""
        raise NotImplementedError

    def pool_target(self, total_cost: int) -> int:
        """What the market's pnl pool holds (money units) for positions whose costs sum to `total_cost`."""
        raise NotImplementedError

    def pair_dust(self, moved: int) -> int:
        """What the pnl pool gives up to dust after a fill between two positions (money units), given
        `moved`, the two sides' cost changes plus realized PnL (inverse rounding; 0 on linear markets)."""
        raise NotImplementedError

    def larger(self, a: int, b: int) -> int:
        """Of two prices (ticks), the one at which a notional is larger."""
        raise NotImplementedError

    def largest(self, prices: list) -> int:
        """Of `prices` (ticks), the one at which a notional is largest."""
        raise NotImplementedError

    def mm_scaled(self, p: Position, mark: int, at_entry: bool):
        """Maintenance margin of `p` × RATE_SCALE, exact: at `mark`, or at the entry notional when
        `at_entry` (Bybit classic; linear markets only)."""
        raise NotImplementedError

    def cost_to_open(self, side: int, qty: int, price: int, mark: int, lev: int, cost_model, last: int) -> int:
        """The cost to open `qty` lots on `side` at `price` against `mark` with leverage `lev`: initial
        margin + open loss (money units, rounded up)."""
        raise NotImplementedError

    def below_min_notional(self, spec, qty: int, price: int, min_notional: int):
        """(notional, minimum) when `qty` lots at `price` ticks are under the market's minimum notional,
        else None."""
        raise NotImplementedError

    def impact_price(self, levels, imn: int, spec):
        """The impact price (ticks, exact) of one side of the book, `levels` of (ticks, lots) best first, for
        the impact margin notional `imn` (`_Market.imn`); None when the book cannot fill it."""
        raise NotImplementedError

    def lp(self, legs, wallet: int, other_mm: int, other_upnl: int, model):
        """Exact liquidation price (risk.liqprice.LiqPrice) of positions `legs` against `wallet` (money
        units), the other positions' MM and uPnL held fixed; None when no price liquidates them."""
        raise NotImplementedError

    def bp(self, legs, wallet: int, other_upnl: int = 0):
        """Exact bankruptcy price (risk.liqprice.LiqPrice) of positions `legs` against `wallet` plus
        `other_upnl` (money units); None when no price makes them bankrupt."""
        raise NotImplementedError

    def bp_tick(self, legs, wallet: int, other_upnl: int = 0):
        """The bankruptcy price of `legs` in ticks, rounded against the account, or None."""
        raise NotImplementedError

    def liq_tick(self, legs: list, base: int, bybit: bool):
        """(direction, tick) of the liquidation price of `legs` against `base` (money units: wallet + other
        uPnL − other MM), rounded against the account: (+1, t) at mark ≤ t, (−1, t) at mark ≥ t; or None."""
        raise NotImplementedError

    def rise_tick(self, legs: list, base: int):
        """(direction, tick) at or above which `legs` (a hedged pair) are also liquidatable on a rise
        (risk.liqrange), `base` as in `liq_tick`; None when no rise makes them so (always on inverse markets)."""
        raise NotImplementedError

    def liquidatable_alone(self, p: Position, balance: int, mark: int, bybit: bool) -> bool:
        """Whether position `p` on its own margin `balance` (money units, its uPnL included) is at or past
        maintenance at `mark`, exactly (`bybit`: MM at the entry notional, linear markets only)."""
        raise NotImplementedError


class LinearContract(Contract):
    """Lots × price × K: integer notionals, PnL and margin through the compiled margin kernel."""

    def __init__(self, K: int, tick: Fraction, brackets, table: BracketTable) -> None:
        super().__init__(K, Fraction(0), tick, brackets)
        self.table = table

    def value(self, lots: int, price: int) -> int:
        """Notional of |lots| at price (money units, exact)."""
        return abs(lots) * price * self.K

    def entry(self, p: Position) -> Fraction:
        """Average entry price in ticks, exact."""
        return Fraction(p.cost, p.lots)

    def entry_value(self, p: Position) -> int:
        """Notional at the average entry price (money units)."""
        return abs(p.cost) * self.K

    def upnl(self, p: Position, mark: int) -> int:
        """Unrealized PnL at mark (money units, exact)."""
        return upnl(p.lots, p.cost, mark, self.K)

    def fill(self, p: Position, qty: int, price: int) -> int:
        """Apply a signed fill to a position; its realized PnL (money units: the closed part's cost
        taken out rounded up, so the PnL rounds down; risk.positions.Position.apply_fill)."""
        return p.apply_fill(qty, price) * self.K

    def funding_terms(self, price: int) -> tuple:
        """(price, K) for risk.funding_payments: lots × price × K."""
        return price, self.K

    def pool_target(self, total_cost: int) -> int:
        """What the pnl pool holds for positions of total cost Σ cost: -K × Σ cost."""
        return -self.K * total_cost

    def pair_dust(self, moved: int) -> int:
        """What a fill between two positions leaves to rounding dust: nothing (exact)."""
        return 0

    def larger(self, a: int, b: int) -> int:
        """Of two prices, the one where a notional is larger: the higher."""
        return a if a >= b else b

    def largest(self, prices: list) -> int:
        """Of prices, the one where a notional is largest: the highest."""
        return max(prices)

    def mm_scaled(self, p: Position, mark: int, at_entry: bool):
        """Maintenance margin × RATE_SCALE, exact (an int): at the mark, or at the entry notional
        (Bybit classic, `at_entry`), by the margin kernel's bracket table."""
        return self.table.maint_scaled(self.entry_value(p) if at_entry else self.value(p.lots, mark))

    def cost_to_open(self, side: int, qty: int, price: int, mark: int, lev: int, cost_model, last: int) -> int:
        """Binance's cost to open: initial margin + open loss against the mark (money units,
        rounded up; risk.margin.open_cost)."""
        im, loss, _ = open_cost(side, qty, price, mark, lev, self.K, cost_model, last, SHORT_LAST_BUFFER)
        return im + loss

    def below_min_notional(self, spec, qty: int, price: int, min_notional: int):
        """(notional, minimum) when qty at price (a reference price, 0: none) is under the
        market's minimum notional (money units), else None."""
        if price > 0 and qty > 0:
            notional = self.value(qty, price)
            if notional < min_notional:
                return notional, min_notional
        return None

    def impact_price(self, levels, imn: int, spec):
        """The impact price of one side of the book for the impact margin notional (money units)."""
        return impact_price(levels, imn, self.K)

    def lp(self, legs, wallet: int, other_mm: int, other_upnl: int, model):
        """Exact liquidation price of positions `legs` (risk.liqprice)."""
        return liquidation_price([Leg(p.lots, p.cost) for p in legs], wallet, K=self.K, tick_size=self.tick,
                                 brackets=self.brackets, other_mm=other_mm, other_upnl=other_upnl, model=model)

    def bp(self, legs, wallet: int, other_upnl: int = 0):
        """Exact bankruptcy price of positions `legs` (risk.liqprice)."""
        return bankruptcy_price([Leg(p.lots, p.cost) for p in legs], wallet, K=self.K, tick_size=self.tick,
                                other_upnl=other_upnl)

    def bp_tick(self, legs, wallet: int, other_upnl: int = 0):
        """The bankruptcy price of `legs` rounded to the tick against the account, or None: the
        margin kernel's integers."""
        lots = cost = 0
        for p in legs:
            lots += p.lots
            cost += p.cost
        solved = bankruptcy_tick(lots, cost, wallet + other_upnl, self.K)
        return None if solved is None else solved[1]

    def liq_tick(self, legs: list, base: int, bybit: bool):
        """(direction, tick) of the liquidation price of `legs` against `base` (money units: the
        collateral with the other legs' uPnL less their MM held fixed), rounded against the
        account, or None: the margin kernel's integers (Bybit's classic MM at entry if `bybit`)."""
        return self.table.liq_tick([p.lots for p in legs], [p.cost for p in legs], base, self.K, bybit)

    def rise_tick(self, legs: list, base: int):
        """(direction, tick) where a hedged pair liquidated on a fall is also liquidated on a
        rise (its two legs' MM outgrowing the net long's gain: risk.liqrange), or None."""
        return rise_tick(self.brackets, [p.lots for p in legs], [p.cost for p in legs], base, self.K)

    def liquidatable_alone(self, p: Position, balance: int, mark: int, bybit: bool) -> bool:
        """Whether a position on its own margin `balance` (money units, its uPnL included) is at
        or past maintenance at `mark`: the margin kernel's exact integer check."""
        return self.table.liquidatable(balance, (p.lots,), (p.cost,), mark, self.K, bybit)


class InverseContract(Contract):
    """Lots × k_inv / price: notionals in coin, exact Fractions rounded where money moves."""

    def __init__(self, k_inv: Fraction, tick: Fraction, brackets) -> None:
        super().__init__(0, k_inv, tick, brackets)

    def value(self, lots: int, price: int) -> Fraction:
        """Notional of |lots| at price (coin money units, an exact Fraction)."""
        return Fraction(abs(lots)) * self.k_inv / price

    def entry(self, p: Position) -> Fraction:
        """Average entry price in ticks, exact: the contract-weighted harmonic mean."""
        return Fraction(p.lots) * self.k_inv / p.cost

    def entry_value(self, p: Position) -> int:
        """Notional at the average entry price (money units): the position's cost."""
        return abs(p.cost)

    def upnl(self, p: Position, mark: int) -> int:
        """Unrealized PnL at mark (money units), rounded toward -infinity."""
        return math.floor(p.cost - Fraction(p.lots) * self.k_inv / mark)

    def fill(self, p: Position, qty: int, price: int) -> int:
        """Apply a signed fill to a position; its realized PnL (money units, rounded down)."""
        return p.apply_inverse_fill(qty, price, self.k_inv)

    def funding_terms(self, price: int) -> tuple:
        """(price, K) for risk.funding_payments: lots × k_inv / price, as a K at price 1."""
        return 1, self.k_inv / price

    def pool_target(self, total_cost: int) -> int:
        """What the pnl pool holds for positions of total cost Σ cost: Σ cost."""
        return total_cost

    def pair_dust(self, moved: int) -> int:
        """What a fill between two positions leaves to rounding dust: each side's cost and PnL
        round down, and the pool gives up what that leaves over (a few units at most)."""
        return -moved

    def larger(self, a: int, b: int) -> int:
        """Of two prices, the one where a notional is larger: the lower."""
        return a if a <= b else b

    def largest(self, prices: list) -> int:
        """Of prices, the one where a notional is largest: the lowest."""
        return min(prices)

    def mm_scaled(self, p: Position, mark: int, at_entry: bool):
        """Maintenance margin × RATE_SCALE, exact (a Fraction), at the mark (`at_entry` is a
        linear contracts' rule)."""
        notional = self.value(p.lots, mark)
        bracket = self.brackets.for_notional(notional)
        return notional * bracket.mmr - bracket.cum * RATE_SCALE

    def cost_to_open(self, side: int, qty: int, price: int, mark: int, lev: int, cost_model, last: int) -> int:
        """The cost to open in coin: initial margin + open loss, qty's value difference between
        the mark and the price (a long bought above mark is down value(mark) - value(price)),
        rounded up. `cost_model` and `last` are not used: the revised assuming price of a short
        (risk.margin's cost models) is applied to linear markets only."""
        direction = 1 if side == _SIDE_BUY else -1
        loss = max(0, direction * (self.value(qty, mark) - self.value(qty, price)))
        return initial_margin(self.value(qty, price), lev) + math.ceil(loss)

    def below_min_notional(self, spec, qty: int, price: int, min_notional: int):
        """(face, minimum) as decimal strings when qty's face value in the quote currency (USD) is
        under the market's minimum, else None (the minimum is a face value, at any price)."""
        face = qty * spec.lot_size * spec.contract_size
        if face < spec.min_notional:
            return str(face), str(spec.min_notional)
        return None

    def impact_price(self, levels, imn: int, spec):
        """The impact price of one side of the book: the impact size is a face value, so many
        contracts (rounded up)."""
        face = spec.lot_size * spec.contract_size
        lots = math.ceil(Fraction(imn, 10**spec.settle_decimals) / Fraction(face))
        return impact_price_contracts(levels, lots)

    def lp(self, legs, wallet: int, other_mm: int, other_upnl: int, model):
        """Exact liquidation price of positions `legs` (risk.liqprice)."""
        return inverse_liquidation_price([InverseLeg(p.lots, self.entry(p)) for p in legs], wallet, K_inv=self.k_inv,
                                         tick_size=self.tick, brackets=self.brackets, other_mm=other_mm,
                                         other_upnl=other_upnl)

    def bp(self, legs, wallet: int, other_upnl: int = 0):
        """Exact bankruptcy price of positions `legs` (risk.liqprice)."""
        return inverse_bankruptcy_price([InverseLeg(p.lots, self.entry(p)) for p in legs], wallet, K_inv=self.k_inv,
                                        tick_size=self.tick, other_upnl=other_upnl)

    def bp_tick(self, legs, wallet: int, other_upnl: int = 0):
        """The bankruptcy price of `legs` rounded to the tick against the account, or None."""
        bp = self.bp(legs, wallet, other_upnl)
        return None if bp is None else bp.tick

    def liq_tick(self, legs: list, base: int, bybit: bool):
        """(direction, tick) of the exact liquidation price of `legs` against `base` (coin money
        units; the solve depends on wallet + other uPnL - other MM only), rounded against the
        account, or None. `bybit` is a linear contracts' rule."""
        lp = self.lp(legs, base, 0, 0, None)
        return None if lp is None else (1 if lp.trigger is _AT_OR_BELOW else -1, lp.tick)

    def rise_tick(self, legs: list, base: int):
        """None: a coin-margined hedged pair is indexed by its one solve."""
        return None

    def liquidatable_alone(self, p: Position, balance: int, mark: int, bybit: bool) -> bool:
        """Whether a position on its own margin `balance` (coin money units, its uPnL included)
        is at or past maintenance at `mark`, both sides × RATE_SCALE, exact."""
        return balance * RATE_SCALE <= self.mm_scaled(p, mark, False)
