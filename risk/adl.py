"""Auto-deleveraging decided as plain data (venue-mechanics §6): the rank score of a position,
the queue of counterparties, what one of them can give up, and its quantile indicator.

The engine gathers each position's figures (its uPnL, the margin behind it, its maintenance
margin) and executes the closes; this module ranks and sizes. Units as in `risk.margin`: money
in integer units of the settlement asset, prices in ticks, lots signed (+ long), K money units
per lot·tick (linear), k_inv coin money units × ticks per lot (inverse). Scores are exact
Fractions: they are only compared, never rounded.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from fractions import Fraction

from perpsim.risk.margin import adl_bucket, leverage_pnl
from perpsim.risk.positions import Position
from perpsim.risk.venue_rules import AdlRanking, adl_score

#: Below every score: a position whose account is under water ranks last.
LAST = Fraction(-(10**30))
#: dYdX's pseudo-random start: position keys in order from a start drawn from venue time, modulo
#: this prime (keys are far below it).
_CYCLE = 2**61 - 1
_BINANCE, _UNPUBLISHED, _RANDOM = (AdlRanking.BINANCE_LEVERAGE_PNL, AdlRanking.UNPUBLISHED,
                                   AdlRanking.RANDOM_START)


def ranking_of(profile) -> AdlRanking:
    """The profile's ranking; Binance's when the profile names none."""
    return _BINANCE if profile.adl is None else profile.adl.ranking


def random_start_score(key: int, ts: int) -> Fraction:
    """dYdX's queue has no ranking: position keys in order from a pseudo-random start drawn from
    the venue time `ts` (ns), so the same commands give the same queue. Higher ranks first."""
    start = ts * 2654435761 % _CYCLE
    return Fraction(-((key - start) % _CYCLE))


def needs_margin(ranking: AdlRanking) -> bool:
    """Whether `position_score` reads the account's margin figures (every ranking but dYdX's)."""
    return ranking is not _RANDOM


def position_score(ranking: AdlRanking, *, key: int, ts: int, upnl: int, wallet: int, maintenance: int,
                   money_scale: int, lots: int, cost: int, mark: int, K: int, k_inv: Fraction | int,
                   inverse: bool) -> Fraction:
    """A position's ADL rank score (higher: deleveraged first), exact.

    upnl, wallet, maintenance: of the margin behind the position: its own (isolated) or its
    account's (cross: the wallet, and the uPnL and maintenance of every cross leg; a Multi-Assets
    account's pool). Binance's (and OKX's, which publishes none) is `margin.leverage_pnl`; Bybit's
    and Hyperliquid's `venue_rules.adl_score` with the entry and notionals of (lots, cost) at
    `mark`; dYdX's `random_start_score` of `key` at `ts`."""
    if ranking is _RANDOM:
        return random_start_score(key, ts)
    if ranking is _BINANCE or ranking is _UNPUBLISHED:
        return leverage_pnl(upnl, wallet, maintenance, money_scale=money_scale)
    size, basis = abs(lots), abs(cost)
    if inverse:
        entry = Fraction(size) * k_inv / basis  # ticks: the harmonic mean of the fills
        value, entry_value = Fraction(size) * k_inv / mark, basis
    else:
        entry = Fraction(basis, size)
        value, entry_value = size * mark * K, basis * K
    score = adl_score(ranking, upnl=Fraction(upnl, money_scale), wallet=Fraction(wallet, money_scale),
                      maintenance=Fraction(maintenance, money_scale), mark=Fraction(mark), entry=entry,
                      notional=Fraction(value) / money_scale, entry_notional=Fraction(entry_value, money_scale))
    return LAST if score is None else score


def queue(scored: Iterable[tuple[Fraction, int]]) -> list[int]:
    """The ADL queue of (score, position key) pairs: keys ordered so that the best ranked is at
    the end (popped first): the highest score, and among equal scores the lowest key."""
    return [k for _, k in sorted(((-s, k) for s, k in scored), reverse=True)]


def capacity(lots: int, cost: int, want: int, price: int, collateral: int, *, K: int, k_inv: Fraction | int,
             inverse: bool) -> int:
    """How many of `want` lots a counterparty position (lots, cost) gives up at `price`: all of
    them, unless closing them there realizes a loss beyond its `collateral` (isolated margin, or
    cross wallet), which a mark that gapped past the bankruptcy price can do to a position opened
    near the mark; then the most that leaves the collateral at or above zero (found by bisection:
    the loss grows with the lots closed). The loss is the realized PnL as a fill realizes it
    (`risk.positions`, rounded down: the larger loss)."""
    sign = -1 if lots > 0 else 1  # closing trades against the position

    def loss(q: int) -> int:
        p = Position(lots, cost)
        return -(p.apply_inverse_fill(sign * q, price, k_inv) if inverse else p.apply_fill(sign * q, price) * K)

    if loss(want) <= collateral:
        return want
    lo, hi = 0, want  # loss(lo) fits, loss(hi) does not
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if loss(mid) <= collateral else (lo, mid)
    return lo


def quantile(score: Fraction | int, ordered: Sequence[Fraction | int]) -> int:
    """ADL indicator 0..4 of `score` among the same side's scores `ordered` (ascending): 4 is
    deleveraged first (`margin.adl_bucket`)."""
    return adl_bucket(score, ordered)
