"""Margin arithmetic of one position and one account (venue-mechanics §3.1, §6.1, §8).

Units
-----
* prices: ticks (``int``; a ``Fraction`` of ticks where a price is derived, e.g. an assumed
  price or a liquidation price); quantities: lots, positions signed (+ long, − short);
* money: integer units of the settlement asset; rates: integers scaled by RATE_SCALE;
* linear markets: ``K`` = notional_per_tick_lot, the money units of one lot at a price of one
  tick, so a notional is ``|lots| × price_ticks × K`` exactly;
* the cost basis of a linear position is the exact integer ``cost = Σ price_ticks × lots``
  over its opening fills (signed like the position), so entry = cost / lots and
  uPnL = (mark × lots − cost) × K with no rounding at all;
* inverse (coin-margined) markets: quantity in contracts of ``contract_size`` quote (USD);
  money in coin units. ``K_inv = contract_size × money_scale / tick_size`` (money units × ticks
  per contract, see `inverse_k`) makes a coin value ``contracts × K_inv / price_ticks``.

Rounding (DESIGN.md "Numbers")
------------------------------
Against the account: margins (IM, MM, cost to open) round **up**; PnL rounds toward −∞, so a
credit rounds down and a debit rounds up in size. Functions named ``*_exact`` return the
unrounded Fraction for checks and for the liquidation-price algebra.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import Enum
from fractions import Fraction

from perpsim.model.enums import Side
from perpsim.risk.brackets import Brackets
from perpsim.risk.units import RATE_SCALE, div_up

__all__ = [
    "CostModel",
    "OpenCost",
    "adl_bucket",
    "adl_quantiles",
    "cost_to_open",
    "entry_price",
    "initial_margin",
    "inverse_k",
    "inverse_notional",
    "inverse_notional_exact",
    "inverse_upnl",
    "inverse_upnl_exact",
    "is_liquidatable",
    "leverage_pnl",
    "maintenance_margin",
    "maintenance_margin_exact",
    "margin_balance",
    "margin_ratio",
    "notional",
    "open_cost",
    "upnl",
]

Price = int | Fraction
Money = int | Fraction

#: Binance's 2024 buffer on the last price for a short's assumed price: 0.15 %.
SHORT_LAST_BUFFER = 150_000


def _exact(x: int | Fraction | Decimal | str) -> Fraction:
    """An exact rational from an int, Fraction, Decimal or decimal string; floats refused."""
    if isinstance(x, float):
        raise TypeError("floats are not accepted: pass an int, Fraction, Decimal or str")
    return Fraction(x)


# --- linear position -------------------------------------------------------------------------


def notional(lots: int, price: Price, K: int) -> Money:
    """Position notional |lots| × price × K in money units; exact (int for an int price)."""
    return abs(lots) * price * K


def entry_price(lots: int, cost: int) -> Fraction:
    """Average entry price in ticks, cost / lots, exact (lots != 0)."""
    return Fraction(cost, lots)


def upnl(lots: int, cost: int, mark: Price, K: int) -> Money:
    """Unrealized PnL (mark × lots − cost) × K in money units, exact (int for an int mark).

    lots: signed position; cost: signed cost basis Σ price_ticks × lots."""
    return (mark * lots - cost) * K


def initial_margin(notional: Money, leverage: int) -> int:
    """notional / leverage, rounded up (money units)."""
    if leverage < 1:
        raise ValueError("leverage must be >= 1")
    if isinstance(notional, int):  # the common case: a ceiling division of integers
        return -(-notional // leverage)
    return math.ceil(Fraction(notional) / leverage)


def maintenance_margin_exact(notional: Money, brackets: Brackets) -> Fraction:
    """notional × MMR − cum with the bracket of this notional, exact (money units)."""
    b = brackets.for_notional(notional)
    return Fraction(notional) * b.mmr / RATE_SCALE - b.cum


def maintenance_margin(notional: Money, brackets: Brackets) -> int:
    """notional × MMR − cum, rounded up (money units). Notional at mark for a position."""
    return math.ceil(maintenance_margin_exact(notional, brackets))


def margin_balance(wallet: int, upnls: Iterable[int]) -> int:
    """Wallet balance + Σ unrealized PnL (money units, already rounded)."""
    return wallet + sum(upnls)


def margin_ratio(mm: int, balance: int) -> Fraction | None:
    """MM / margin balance, exact; None when balance <= 0 (the ratio is unbounded).

    Binance liquidates at a ratio >= 100 % — see `is_liquidatable`."""
    if balance <= 0:
        return None
    return Fraction(mm, balance)


def is_liquidatable(mm: int, balance: int) -> bool:
    """True when the margin ratio is >= 100 %: MM > 0 and margin balance <= MM.

    Equality liquidates, matching "liquidation when ≥ 100 %" (§3.1) and "mark reaches LP"
    (§4.2); an account without maintenance margin is never liquidated."""
    return mm > 0 and balance <= mm


# --- cost to open (§3.1, A4) -----------------------------------------------------------------


class CostModel(Enum):
    """Which assumed price the initial margin of an order uses."""

    #: IM at the order price (the original FAQ, worked example A4).
    CLASSIC = "classic"
    #: 2024 revision: long at the order price; short at max(last × (1 + 0.15 %), mark, order).
    REVISED_2024 = "revised_2024"


@dataclass(frozen=True, slots=True)
class OpenCost:
    """Cost required to open (money units): IM plus open loss, both rounded up."""

    initial_margin: int
    open_loss: int
    #: The price (ticks, exact) the initial margin was computed at.
    assumed_price: Price

    @property
    def total(self) -> int:
        """Initial margin + open loss (money units)."""
        return self.initial_margin + self.open_loss


# Enum members as module names: on 3.11 reading one off its class goes through a slow hook
_BUY, _SELL, _REVISED_2024 = Side.BUY, Side.SELL, CostModel.REVISED_2024


def cost_to_open(
    side: Side,
    qty: int,
    price: Price,
    mark: Price,
    leverage: int,
    K: int,
    *,
    model: CostModel = CostModel.CLASSIC,
    last: Price | None = None,
    last_buffer: int = SHORT_LAST_BUFFER,
) -> OpenCost:
    """Binance's cost to open an order of ``qty`` lots at ``price`` ticks (mark in ticks).

        IM       = qty × AssumedPrice × K / leverage                        (rounded up)
        OpenLoss = qty × |min(0, dir × (mark − price))| × K                 (exact: ints)

    dir = +1 buy, −1 sell. CLASSIC assumes the order price. REVISED_2024 assumes, for a sell,
    max(last × (1 + last_buffer), mark, price) with ``last`` in ticks (required) and
    ``last_buffer`` a scaled rate; the open-loss term keeps the order price ([U]: the revised
    FAQ only shows the IM step). For a market order pass the venue's assumed fill price as
    ``price`` (e.g. ask × 1.0005 for a buy)."""
    return OpenCost(*open_cost(side, qty, price, mark, leverage, K, model, last, last_buffer))


def open_cost(side: int, qty: int, price: Price, mark: Price, leverage: int, K: int, model: CostModel,
              last: Price | None, last_buffer: int) -> tuple[int, int, Price]:
    """`cost_to_open` as the tuple (initial margin, open loss, assumed price), every argument
    positional: the exchange's call for each order, with no Enum lookup and no dataclass."""
    if side != _BUY and side != _SELL:  # an int 0/1 or a Side
        raise ValueError(f"{side!r} is not a valid Side")
    if qty <= 0:
        raise ValueError("qty must be > 0 lots")
    direction = 1 if side == _BUY else -1
    assumed: Price = price
    if model is _REVISED_2024 and side == _SELL:
        if last is None:
            raise ValueError("REVISED_2024 needs the last price for a sell")
        assumed = max(
            Fraction(last) * (RATE_SCALE + last_buffer) / RATE_SCALE, Fraction(mark), Fraction(price)
        )
    im = initial_margin(notional(qty, assumed, K), leverage)
    loss = qty * max(0, -direction * (mark - price)) * K
    return im, math.ceil(loss), assumed


# --- inverse (coin-margined) position --------------------------------------------------------


def inverse_k(
    contract_size: int | Decimal | str | Fraction, tick_size: Decimal | str | Fraction, money_scale: int
) -> Fraction:
    """K_inv = contract_size × money_scale / tick_size: coin money units × ticks per contract.

    contract_size in quote (USD) per contract, tick_size in quote per coin, money_scale coin
    money units per coin (10**settle_decimals). BTCUSD (100 USD, tick 0.1, 1e-8 BTC) → 1e11."""
    return _exact(contract_size) * money_scale / _exact(tick_size)


def inverse_notional_exact(contracts: int, price: Price, K_inv: Fraction | int) -> Fraction:
    """Coin value |contracts| × contract_size / price in coin money units, exact (price > 0 ticks)."""
    return Fraction(abs(contracts)) * K_inv / price


def inverse_notional(contracts: int, price: Price, K_inv: Fraction | int) -> int:
    """Coin value of the position, rounded up (it is the base of IM and MM)."""
    return math.ceil(inverse_notional_exact(contracts, price, K_inv))


def inverse_upnl_exact(contracts: int, entry: Price, mark: Price, K_inv: Fraction | int) -> Fraction:
    """contracts × contract_size × (1/entry − 1/mark) in coin money units, exact.

    contracts signed (+ long); entry and mark in ticks (entry may be a Fraction: the
    contract-weighted harmonic mean of the fill prices)."""
    return contracts * Fraction(K_inv) * (Fraction(1) / entry - Fraction(1) / mark)


def inverse_upnl(contracts: int, entry: Price, mark: Price, K_inv: Fraction | int) -> int:
    """Inverse uPnL rounded toward −∞: a profit rounds down, a loss rounds up in size."""
    return math.floor(inverse_upnl_exact(contracts, entry, mark, K_inv))


# --- ADL ranking (§6.1) ----------------------------------------------------------------------


def leverage_pnl(upnl: int, wallet: int, mm: int, *, money_scale: int) -> Fraction:
    """Binance's ADL score, exact:

        PnlPercent  = max(0, uPnL) / max(1, WalletBalance)
        MarginRatio = 0 if WalletBalance + uPnL <= 0 else MM / (WalletBalance + uPnL)
        LeveragePnl = PnlPercent × MarginRatio

    Amounts in money units; ``money_scale`` = money units per whole settlement asset, because
    the floor "1" in max(1, WalletBalance) is one USDT (one coin), not one money unit."""
    balance = wallet + upnl
    if balance <= 0 or upnl <= 0:
        return Fraction(0)
    return Fraction(upnl, max(money_scale, wallet)) * Fraction(mm, balance)


def adl_quantiles(scores: Sequence[Fraction | int]) -> list[int]:
    """ADL indicator 0..4 for each score, in input order (higher = deleveraged sooner); see
    `adl_bucket`."""
    ordered = sorted(scores)
    return [adl_bucket(s, ordered) for s in scores]


def adl_bucket(score: Fraction | int, ordered: Sequence[Fraction | int]) -> int:
    """ADL indicator 0..4 of `score` among the scores `ordered` (ascending).

    Binance: quantile = rank(score) / count. Here rank = how many scores are <= this one (the
    empirical CDF, so ties share a bucket and the top score is always 4) and the bucket is
    ceil(5 × rank / count) − 1; a score <= 0 (no profit, never an ADL counterparty) is 0.
    The bucketing of the quantile is not published ([U]); quintiles are this venue's choice."""
    if score <= 0 or not ordered:
        return 0
    rank = bisect_right(ordered, score)  # how many scores are <= score
    return min(4, max(0, div_up(5 * rank, len(ordered)) - 1))
