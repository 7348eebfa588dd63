#!/usr/bin/env python3
"""A quiet mark tick on a market with many open isolated positions: one JSON line per size.

  python bench/exchange_tick.py [--positions N [N ...]] [--repeat R] [--seed S]

Builds one BTCUSDT market (default_markets(), btcusdt_brackets(10**8)) with N open isolated
positions, every one created through real commands: two cross-margined makers rest one big ask
(maker 1) and one big bid (maker 2) at the first mark; each taker is its own account (Deposit,
SetMarginMode isolated, SetLeverage 5..50x, one LIMIT IOC of 1..3 lots against a maker), half
of them long, half short. All build commands carry the same timestamp, so no basis sample is
taken and the mark follows the index. Build time goes to stderr. Then it reports

  kernel_tick_ns   median ns of one liquidation index query at the mark (``liquidation_probe``)
                   that crosses nothing (medians of the per-call mean over batches of BATCH
                   calls, from a Python loop);
  command_tick_us  median µs of one ``Exchange.apply(SetIndexPrice(...))`` whose index move (within
                   ±0.5 % of the first mark, every one changing the mark, 1 ns apart) liquidates
                   nothing: the whole command (validation, mark, re-key, sweep);
  peak_rss_mb      the process's peak resident set (each size runs in its own process);
  build_s          wall time of the build commands.

Timings are reported, never asserted. Each size runs in a subprocess (peak RSS is its own); give
two sizes to see how each figure scales with N.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import statistics
import sys
import time

from exchange_bench_kit import apply_accepted, log, run_sizes_in_children  # beside this file

from perpsim.engine import commands as C
from perpsim.engine.events import Liquidation, MarkPriceChanged
from perpsim.engine.exchange import Exchange
from perpsim.engine.views import ExchangeView
from perpsim.model.enums import Side, TimeInForce
from perpsim.model.market_files import default_markets
from perpsim.risk.brackets import btcusdt_brackets

SYMBOL = "BTCUSDT"
ASSET = "USDT"
U = 10**8  # money units per USDT
TS = 1  # every build command's timestamp (ns)
MAKER_ASK, MAKER_BID = 1, 2
FIRST_TAKER = 10
BATCH = 1_000  # kernel calls per timed batch


def build(n: int, seed: int) -> tuple[Exchange, float]:
    """The exchange with n open isolated taker positions (and the makers' two cross ones)."""
    spec = default_markets()[SYMBOL]
    ex = Exchange({SYMBOL: spec}, {SYMBOL: btcusdt_brackets(U)}, start_ts=TS)
    rng = random.Random(seed)
    p0 = spec.price_to_ticks("20000")
    max_qty = spec.book_limits()[3]
    # taker i: long if i is even, 1..3 lots, leverage 5..50
    sizes = [rng.randint(1, 3) for _ in range(n)]
    levs = [rng.randint(5, 50) for _ in range(n)]
    longs = sum(sizes[0::2])
    shorts = sum(sizes[1::2])
    t0 = time.perf_counter()
    apply_accepted(ex, C.SetIndexPrice(TS, SYMBOL, p0))
    for maker, side, price, lots in ((MAKER_ASK, Side.SELL, p0, longs), (MAKER_BID, Side.BUY, p0 - 1, shorts)):
        apply_accepted(ex, C.Deposit(TS, maker, ASSET, 10**9 * U))
        apply_accepted(ex, C.SetLeverage(TS, maker, SYMBOL, 2))
        while lots > 0:
            part = min(lots, max_qty)
            apply_accepted(ex, C.PlaceOrder(TS, maker, SYMBOL, side, part, price))
            lots -= part
    apply = ex.apply
    report = max(n // 10, 1)
    for i in range(n):
        account = FIRST_TAKER + i
        apply(C.Deposit(TS, account, ASSET, 100 * U))
        apply(C.SetMarginMode(TS, account, SYMBOL, True))
        apply(C.SetLeverage(TS, account, SYMBOL, levs[i]))
        side, price = (Side.BUY, p0) if i % 2 == 0 else (Side.SELL, p0 - 1)
        apply(C.PlaceOrder(TS, account, SYMBOL, side, sizes[i], price, tif=TimeInForce.IOC))
        if (i + 1) % report == 0:
            log(f"  {i + 1:,} positions, {time.perf_counter() - t0:.1f} s")
    build_s = time.perf_counter() - t0
    m = ExchangeView(ex).market(SYMBOL)
    if m.positions != n + 2 or m.isolated_accounts != n:
        raise RuntimeError(f"built {m.positions} positions, {m.isolated_accounts} isolated; wanted {n} + 2")
    return ex, build_s


def index_moves(mark: int, count: int, seed: int) -> list[int]:
    """count index prices (ticks) within ±0.5 % of mark, each one different from the one before."""
    rng = random.Random(seed + 1)
    band = mark // 200
    prices, last = [], mark
    while len(prices) < count:
        p = mark + rng.randint(-band, band)
        if p != last:
            prices.append(p)
            last = p
    return prices


def run(n: int, repeat: int, seed: int) -> dict:
    ex, build_s = build(n, seed)
    log(f"exchange_tick: built {n:,} isolated positions through commands in {build_s:.1f} s")
    view = ExchangeView(ex)
    mark, triggered = view.mark(SYMBOL), view.liquidation_probe(SYMBOL)
    if triggered(mark) or view.liquidation(SYMBOL).indexed < n:
        raise RuntimeError("the built market is not quiet at its mark")

    # (a) the risk kernel's tick
    clock = time.perf_counter_ns
    kernel = []
    for _ in range(repeat):
        t0 = clock()
        for _ in range(BATCH):
            triggered(mark)
        kernel.append((clock() - t0) / BATCH)

    # (b) the whole command: index moves within ±0.5 % of the first mark, each one a new mark
    prices = index_moves(mark, repeat, seed)
    ts, apply = ex.ts, ex.apply
    command, moves = [], 0
    for p in prices:
        ts += 1
        cmd = C.SetIndexPrice(ts, SYMBOL, p)
        t0 = clock()
        events = apply(cmd)
        command.append((clock() - t0) / 1_000)
        if any(isinstance(e, Liquidation) for e in events):
            raise RuntimeError(f"index {p} liquidated something; the tick must be quiet")
        moves += any(isinstance(e, MarkPriceChanged) for e in events)
    if moves != repeat:
        raise RuntimeError(f"only {moves} of {repeat} index moves changed the mark")
    return {
        "bench": "exchange_tick",
        "positions": n,
        "kernel_tick_ns": round(statistics.median(kernel), 1),
        "command_tick_us": round(statistics.median(command), 2),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "build_s": round(build_s, 1),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--positions", type=int, nargs="+", default=[1_000_000],
                    help="open isolated positions; several sizes run one after the other (default 1,000,000)")
    ap.add_argument("--repeat", type=int, default=201,
                    help=f"timed samples: kernel batches of {BATCH} calls, and SetIndexPrice commands")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.repeat < 1 or min(a.positions) < 1:
        ap.error("--positions and --repeat must be at least 1")
    if a.child:
        print(json.dumps(run(a.positions[0], a.repeat, a.seed)), flush=True)
        return 0
    run_sizes_in_children(__file__, a.positions, ["--repeat", str(a.repeat), "--seed", str(a.seed)])
    return 0


if __name__ == "__main__":
    sys.exit(main())
