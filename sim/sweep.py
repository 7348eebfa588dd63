"""Sweeps: one scenario over a grid of parameter values, each point an independent run.

Points go through a `concurrent.futures` executor: a local process pool by default, or a Dask
cluster's executor (`distributed.Client.get_executor()`) when an address is given — "local"
starts a LocalCluster on this machine. The same function runs each point everywhere, and a
point's result depends only on (scenario, parameters, seed), so any executor gives the same
bytes. Results come back in grid order whatever order the points finish in.
"""

from __future__ import annotations

import contextlib
import csv
import importlib
import itertools
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

from perpsim.sim.runner import RunResult, run
from perpsim.sim.scenario import Scenario


def grid(params: Mapping[str, Sequence[Any]]) -> list[dict[str, Any]]:
    """Every combination of the parameter values (the last key varies fastest)."""
    keys = list(params)
    return [dict(zip(keys, values, strict=True)) for values in itertools.product(*(params[k] for k in keys))]


def run_point(scenario: Scenario, params: dict[str, Any], short: bool = False) -> RunResult:
    """One sweep point (a module-level function, so that process pools and Dask can ship it).
    A `seed` parameter sets the run's seed; every other key is a scenario parameter."""
    params = dict(params)
    seed = params.pop("seed", None)
    sc = scenario.shortened() if short else scenario
    sc = sc.with_params(params) if params else sc
    result = run(sc, None if seed is None else int(seed))
    result.params = {**params, **({"seed": seed} if seed is not None else {})}
    return result


@contextlib.contextmanager
def executor(workers: int = 2, dask: str | None = None) -> Iterator[Executor]:
    """A process pool of `workers`, or the executor of a Dask cluster at `dask` ("local": a
    LocalCluster of `workers` single-threaded worker processes, closed on exit)."""
    if dask is None:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            yield pool
        return
    from distributed import Client, LocalCluster

    cluster = None
    if dask == "local":
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None)
        client = Client(cluster)
    else:
        client = Client(dask)
    try:
        # every worker loads the simulator now, as part of the start, not inside its first point
        client.run(importlib.import_module, "perpsim.sim.runner")
        yield client.get_executor()
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def sweep(scenario: Scenario, points: list[dict[str, Any]], pool: Executor, short: bool = False,
          progress: Callable[[int, int], None] | None = None) -> list[RunResult]:
    """Run every point on `pool`; the results in the order of `points`."""
    futures = {pool.submit(run_point, scenario, p, short): i for i, p in enumerate(points)}
    results: list[RunResult | None] = [None] * len(points)
    done = 0
    for f in as_completed(futures):
        results[futures[f]] = f.result()
        done += 1
        if progress is not None:
            progress(done, len(points))
    return results  # type: ignore[return-value]


#: Columns of the results table and CSV: (header, function of a result).
COLUMNS: list[tuple[str, Callable[[RunResult, str], Any]]] = [
    ("liquidations", lambda r, s: r.summary["markets"][s]["liquidations"]),
    ("liquidated_notional", lambda r, s: r.summary["markets"][s]["liquidated_notional"]),
    ("cascade_rounds", lambda r, s: r.summary["markets"][s]["cascade_rounds"]),
    ("induced", lambda r, s: r.summary["markets"][s]["induced_liquidations"]),
    ("slippage_bps", lambda r, s: r.summary["markets"][s]["forced_fill_slippage_bps"]),
    ("adl_lots", lambda r, s: r.summary["markets"][s]["adl_lots"]),
    ("max_drawdown_pct", lambda r, s: r.summary["markets"][s]["max_drawdown_pct"]),
    ("insurance_end", lambda r, s: next(iter(r.summary["insurance_fund"].values()))["end"]),
    ("temperature_max", lambda r, s: r.summary.get("risk", {}).get(s, {}).get("temperature_max", "")),
    ("spike_accounts_max", lambda r, s: r.summary.get("risk", {}).get(s, {}).get("spike_accounts_max", "")),
    ("report_hash", lambda r, s: r.report_hash),
]


def rows(results: list[RunResult]) -> tuple[list[str], list[list[Any]]]:
    """(header, rows) of the results: one row per point and market."""
    keys = sorted({k for r in results for k in r.params})
    header = [*keys, "market", *(c for c, _ in COLUMNS)]
    out = []
    for r in results:
        for s in r.summary["markets"]:
            out.append([r.params.get(k, "") for k in keys] + [s] + [f(r, s) for _, f in COLUMNS])
    return header, out


def write_csv(results: list[RunResult], path: Path) -> None:
    """The sweep as a CSV: one row per run and market, its parameters then its figures."""
    header, body = rows(results)
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(body)
