#!/usr/bin/env python3
"""A mark shock that liquidates every leveraged long of a market: one JSON line per size.

  python bench/exchange_cascade.py [--positions N [N ...]] [--seed S] [--profile [TOP]]

Builds one BTCUSDT market (default_markets(), btcusdt_brackets(10**8)) through real commands, all at
one timestamp (no basis sample, so the mark follows the index) with the first mark at 20,000:

* N long accounts, every other one isolated (the rest cross), 20..50x, 1..3 lots each, opened with a
  LIMIT IOC buy at 20,000 against SHORT_MAKERS cross-margined shorts (10x, the asks rest first): the
  shorts are in profit after the shock and are the ADL counterparties;
* BID_MAKERS cross accounts resting bids of BID_SHARE of the longs' lots, spread evenly over levels
  from 19,950 down to 18,950: the upper ones absorb part of the liquidation flow (a forced order is
  an IOC at the bankruptcy price, 19,000..19,600 here), the lowest are below every bankruptcy price;
* an insurance fund of FUND_PER_LOT USDT per long lot, too small for the loss on what it takes over,
  so that its offload ends in ADL against the shorts.

Then one SetIndexPrice to 18,500 (-7.5 %) liquidates all N longs. Reported (lots are 0.001 BTC):

  liquidated          Liquidation events (forced orders) of the shock;
  filled_in_book      lots the forced orders filled against resting bids;
  taken_by_insurance  lots the insurance fund took over at the bankruptcy price;
  deleveraged         lots closed by ADL (from bankrupt positions and from the fund's offload);
  shock_s             wall time of the one ``Exchange.apply(SetIndexPrice)`` (the cascade, end to end);
  per_liquidation_us  shock_s / liquidated;
  peak_rss_mb         the process's peak resident set (each size runs in its own process).

``check_integrity()`` and "no long is left open" are verified after the shock, outside the timing.
With --profile the shock runs under cProfile (shock_s then includes its overhead) and the TOP
functions by cumulative and by total time go to stderr. Timings are reported, never asserted.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import pstats
import random
import resource
import sys
import time

from exchange_bench_kit import apply_accepted, log, run_sizes_in_children  # beside this file

from perpsim.engine import commands as C
from perpsim.engine.events import AutoDeleveraged, Liquidation
from perpsim.engine.exchange import IF_ACCOUNT, Exchange
from perpsim.engine.views import ExchangeView
from perpsim.model.enums import Side, TimeInForce
from perpsim.model.market_files import default_markets
from perpsim.risk.brackets import btcusdt_brackets

SYMBOL = "BTCUSDT"
ASSET = "USDT"
U = 10**8  # money units per USDT
TS = 1  # every build command's timestamp (ns); the shock comes 1 ns later
FIRST_PRICE, SHOCK_PRICE = "20000", "18500"
SHORT_MAKERS = range(1, 21)
BID_MAKERS = range(101, 105)
FIRST_LONG = 1_000
BID_SHARE = 0.35
BID_LEVELS = [f"{p}" for p in range(19_950, 18_949, -50)]
FUND_PER_LOT = U // 10  # 0.1 USDT per long lot


def build(n: int, seed: int) -> tuple[Exchange, list[int], float]:
    """The exchange before the shock, the long accounts, and the build time."""
    spec = default_markets()[SYMBOL]
    ex = Exchange({SYMBOL: spec}, {SYMBOL: btcusdt_brackets(U)}, start_ts=TS)
    K = spec.notional_per_tick_lot
    rng = random.Random(seed)
    p0 = spec.price_to_ticks(FIRST_PRICE)
    sizes = [rng.randint(1, 3) for _ in range(n)]
    levs = [rng.randint(20, 50) for _ in range(n)]
    total = sum(sizes)
    t0 = time.perf_counter()
    apply_accepted(ex, C.SetIndexPrice(TS, SYMBOL, p0))

    # the shorts rest asks for exactly the longs' lots (none is left in the book)
    share, extra = divmod(total, len(SHORT_MAKERS))
    for j, maker in enumerate(SHORT_MAKERS):
        lots = share + (j < extra)
        apply_accepted(ex, C.Deposit(TS, maker, ASSET, lots * p0 * K // 5 + 1_000 * U))
        apply_accepted(ex, C.SetLeverage(TS, maker, SYMBOL, 10))
        apply_accepted(ex, C.PlaceOrder(TS, maker, SYMBOL, Side.SELL, lots, p0))

    longs = []
    report = max(n // 10, 1)
    for i in range(n):
        account, q, lev = FIRST_LONG + i, sizes[i], levs[i]
        notional = q * p0 * K
        # initial margin plus 0.1 % for the taker fee and its reserve: a cross long's wallet is about
        # its initial margin after the fee
        ex.apply(C.Deposit(TS, account, ASSET, notional // lev + notional // 1_000 + 1))
        if i % 2:
            ex.apply(C.SetMarginMode(TS, account, SYMBOL, True))
        ex.apply(C.SetLeverage(TS, account, SYMBOL, lev))
        ex.apply(C.PlaceOrder(TS, account, SYMBOL, Side.BUY, q, p0, tif=TimeInForce.IOC))
        longs.append(account)
        if (i + 1) % report == 0:
            log(f"  {i + 1:,} longs, {time.perf_counter() - t0:.1f} s")

    bid_lots = int(total * BID_SHARE)
    per_level, extra = divmod(bid_lots, len(BID_LEVELS))
    for maker in BID_MAKERS:
        apply_accepted(ex, C.Deposit(TS, maker, ASSET, 10**8 * U))
        apply_accepted(ex, C.SetLeverage(TS, maker, SYMBOL, 5))
    for j, level in enumerate(BID_LEVELS):
        maker = BID_MAKERS[j % len(BID_MAKERS)]
        lots = per_level + (j < extra)
        if lots:
            apply_accepted(ex, C.PlaceOrder(TS, maker, SYMBOL, Side.BUY, lots, spec.price_to_ticks(level)))

    apply_accepted(ex, C.FundInsurance(TS, ASSET, total * FUND_PER_LOT))
    build_s = time.perf_counter() - t0
    view = ExchangeView(ex)
    opened = sum(1 for a in longs if view.holds(a, SYMBOL))
    best_ask = view.top(SYMBOL)[1]
    if opened != n or best_ask is not None:
        raise RuntimeError(f"{opened} of {n} longs opened; best ask {best_ask}")
    ex.check_integrity()
    return ex, longs, build_s


def outcome(ex: Exchange, longs: list[int], events: list) -> dict:
    """The shock's outcome in lots and events, after checking the state's integrity and that every
    long was liquidated (RuntimeError otherwise)."""
    ex.check_integrity()
    view = ExchangeView(ex)
    left = [a for a in longs if view.holds(a, SYMBOL)]
    if left:
        raise RuntimeError(f"{len(left)} longs survived the shock, e.g. account {left[0]}")
    liqs = [e for e in events if isinstance(e, Liquidation)]
    adl = [e for e in events if isinstance(e, AutoDeleveraged)]
    liquidated_accounts = {e.account for e in liqs}
    if not liquidated_accounts >= set(longs):
        raise RuntimeError("a long was closed without a Liquidation event")
    return {
        "liquidated": len(liqs),
        "filled_in_book": sum(e.filled for e in liqs),
        "taken_by_insurance": sum(e.taken_by_insurance for e in liqs),
        "deleveraged": sum(e.qty for e in adl),
        "liquidated_lots": sum(e.qty for e in liqs),
        "fund_deleveraged": sum(e.qty for e in adl if e.account == IF_ACCOUNT),
    }


def run(n: int, seed: int, profile: int) -> dict:
    ex, longs, build_s = build(n, seed)
    log(f"exchange_cascade: built {n:,} longs through commands in {build_s:.1f} s")
    spec = ExchangeView(ex).spec(SYMBOL)
    shock = C.SetIndexPrice(ex.ts + 1, SYMBOL, spec.price_to_ticks(SHOCK_PRICE))
    prof = cProfile.Profile() if profile else None
    if prof:
        prof.enable()
    t0 = time.perf_counter()
    events = ex.apply(shock)
    shock_s = time.perf_counter() - t0
    if prof:
        prof.disable()
        for key in ("cumulative", "tottime"):
            out = io.StringIO()
            pstats.Stats(prof, stream=out).sort_stats(key).print_stats(profile)
            log(out.getvalue())

    # outside the timing: the outcome and the state's integrity
    out = outcome(ex, longs, events)
    result = {
        "bench": "exchange_cascade",
        "positions": n,
        "liquidated": out["liquidated"],
        "filled_in_book": out["filled_in_book"],
        "taken_by_insurance": out["taken_by_insurance"],
        "deleveraged": out["deleveraged"],
        "shock_s": round(shock_s, 3),
        "per_liquidation_us": round(shock_s / max(out["liquidated"], 1) * 1e6, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "liquidated_lots": out["liquidated_lots"],
        "fund_deleveraged": out["fund_deleveraged"],
        "build_s": round(build_s, 1),
    }
    if profile:
        result["profiled"] = True
    return result


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--positions", type=int, nargs="+", default=[100_000],
                    help="long accounts liquidated by the shock; several sizes run one after the other")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--profile", type=int, nargs="?", const=15, default=0, metavar="TOP",
                    help="run the shock under cProfile; print the TOP (15) functions to stderr")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if min(a.positions) < 1 or a.profile < 0:
        ap.error("--positions must be at least 1")
    if a.child:
        print(json.dumps(run(a.positions[0], a.seed, a.profile)), flush=True)
        return 0
    run_sizes_in_children(__file__, a.positions, ["--seed", str(a.seed), "--profile", str(a.profile)])
    return 0


if __name__ == "__main__":
    sys.exit(main())
