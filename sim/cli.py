"""`perpsim scenario`: list, run and sweep cascade scenarios.

  perpsim scenario list
  perpsim scenario run NAME|FILE [--seed S] [--out DIR] [--short] [--set KEY=VALUE ...]
                                 [--grpc ADDRESS --admin-key KEY] [--no-signals]
  perpsim scenario sweep NAME|FILE --param KEY=V1,V2,... [--param ...] [--workers N]
                                   [--dask ADDRESS|local] [--short] [--out DIR]

A run prints a summary table and writes report.json, series.csv and PNG plots into --out
(default ./scenario-out/NAME), with the venue's market risk signals sampled each step unless
--no-signals. A sweep prints a results table and writes sweep.csv into --out.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from perpsim.sim import report, scenario, sweep
from perpsim.sim.runner import Run


def _progress(console: Console) -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=console, transient=True)


def _params(items: list[str], many: bool) -> dict:
    out = {}
    for item in items:
        key, sep, text = item.partition("=")
        if not sep or not key:
            raise SystemExit(f"error: expected KEY=VALUE, got {item!r}")
        if many:
            out[key] = [scenario.parse_value(v) for v in text.split(",")]
        else:
            out[key] = scenario.parse_value(text)
    return out


def cmd_list(a: argparse.Namespace, console: Console) -> int:
    """`perpsim scenario list`: the built-in scenarios."""
    t = Table(title="built-in scenarios")
    t.add_column("name")
    t.add_column("steps", justify="right")
    t.add_column("description")
    for name in scenario.builtin_names():
        sc = scenario.load(name)
        t.add_row(name, str(sc.steps), sc.description)
    console.print(t)
    return 0


def cmd_run(a: argparse.Namespace, console: Console) -> int:
    """`perpsim scenario run`: one scenario, in process or against a venue over gRPC, and its report."""
    sc = scenario.load(a.scenario)
    if a.short:
        sc = sc.shortened()
    if a.set:
        sc = sc.with_params(_params(a.set, many=False))
    venue = None
    if a.grpc:
        from perpsim.sim.venues import GrpcVenue

        admin_key = a.admin_key or os.environ.get("PERPSIM_ADMIN_KEY")
        if not admin_key:
            raise SystemExit("error: --grpc needs --admin-key or PERPSIM_ADMIN_KEY")
        from perpsim.model.market_files import default_markets

        markets = {s: default_markets()[s] for s in sc.data["venue"].get("markets", ["BTCUSDT"])}
        venue = GrpcVenue(a.grpc, admin_key, markets, signals=not a.no_signals)
    try:
        with _progress(console) as bar:
            task = bar.add_task(f"{sc.name}", total=sc.steps)
            result = Run(sc, a.seed, venue, signals=not a.no_signals).run(
                progress=lambda i, n: bar.update(task, completed=i))
    finally:
        if venue is not None:
            venue.close()
    report.print_summary(result, console)
    out = a.out or Path("scenario-out") / sc.name
    written = report.write(result, out)
    console.print(f"wrote {', '.join(str(p) for p in written)}")
    return 0


def cmd_sweep(a: argparse.Namespace, console: Console) -> int:
    """`perpsim scenario sweep`: a scenario over a grid of parameters: a table and its CSV."""
    sc = scenario.load(a.scenario)
    points = sweep.grid(_params(a.param, many=True))
    with sweep.executor(a.workers, a.dask) as pool, _progress(console) as bar:
        task = bar.add_task(f"{sc.name}: {len(points)} runs", total=len(points))
        results = sweep.sweep(sc, points, pool, a.short, progress=lambda i, n: bar.update(task, completed=i))
    header, body = sweep.rows(results)
    t = Table(title=f"sweep of {sc.name}")
    for h in header:
        t.add_column(h, justify="right")
    for row in body:
        t.add_row(*(f"{v:,.2f}" if isinstance(v, float) else str(v) for v in row))
    console.print(t)
    out = a.out or Path("scenario-out") / f"{sc.name}-sweep"
    out.mkdir(parents=True, exist_ok=True)
    sweep.write_csv(results, out / "sweep.csv")
    console.print(f"wrote {out / 'sweep.csv'}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """The `perpsim scenario` commands; the exit status."""
    ap = argparse.ArgumentParser(prog="perpsim scenario", description="Cascade scenarios: list, run, sweep.")
    sub = ap.add_subparsers(dest="action", required=True)
    sub.add_parser("list", help="the built-in scenarios")
    r = sub.add_parser("run", help="run one scenario and write its report")
    r.add_argument("scenario", help="a built-in name or a TOML file")
    r.add_argument("--seed", type=int, help="seed (default: the scenario's)")
    r.add_argument("--out", type=Path, help="report folder (default scenario-out/NAME)")
    r.add_argument("--short", action="store_true", help="the scenario's quick version ([short] overrides)")
    r.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="set a scenario parameter")
    r.add_argument("--grpc", metavar="ADDRESS", help="run against a venue at ADDRESS instead of in-process")
    r.add_argument("--admin-key", help="the venue's sandbox admin key (default $PERPSIM_ADMIN_KEY)")
    r.add_argument("--no-signals", action="store_true",
                   help="leave out the market risk signals (in process: no listener; over gRPC: no GetMarketRisk)")
    s = sub.add_parser("sweep", help="run a scenario over a grid of parameter values")
    s.add_argument("scenario", help="a built-in name or a TOML file")
    s.add_argument("--param", action="append", required=True, metavar="KEY=V1,V2,...",
                   help="values of one parameter (repeat for a grid); 'seed' sets the seed")
    s.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="processes (default: CPU count)")
    s.add_argument("--dask", metavar="ADDRESS", help="a Dask scheduler address, or 'local' for a local cluster")
    s.add_argument("--short", action="store_true", help="each point in the scenario's quick version")
    s.add_argument("--out", type=Path, help="folder of sweep.csv (default scenario-out/NAME-sweep)")
    a = ap.parse_args(argv)
    console = Console()
    try:
        return {"list": cmd_list, "run": cmd_run, "sweep": cmd_sweep}[a.action](a, console)
    except (ValueError, KeyError) as e:
        console.print(f"error: {e}")
        return 2


if __name__ == "__main__":
    sys.exit(main())
