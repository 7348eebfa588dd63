"""What a run's report shows: liquidations at their steps, the funding that moves, units, and
"n/a" for what a gRPC run cannot see."""

from __future__ import annotations

import numpy as np
import orjson
import pytest
from rich.console import Console

from perpsim.engine.views import ExchangeView
from perpsim.model.market_files import default_markets
from perpsim.sim import grids, report, runner, scenario
from perpsim.sim.runner import Run
from perpsim.venue.dashboard import scenario as scenario_view

from .grpc_kit import grpc_venue, shocked_crowd


@pytest.fixture(scope="module")
def run_of_small(small: scenario.Scenario) -> tuple[Run, runner.RunResult]:
    run = Run(small, None, None)
    return run, run.run()


def _text(table) -> str:
    console = Console(record=True, width=240)
    console.print(table)
    return console.export_text()


def test_heatmap_puts_each_liquidation_in_its_steps_column(run_of_small) -> None:
    _, result = run_of_small
    spec = default_markets()["BTCUSDT"]
    x_edges, _, grid = grids.liquidation_grid(result, "BTCUSDT", spec)
    dt = result.step_s
    assert np.allclose(np.diff(x_edges), dt)  # a column per step
    steps = {row[0] for row in result.liquidations}
    assert steps, "the scenario liquidates"
    per_column = grid.sum(axis=1)
    for k in range(len(per_column)):
        want = sum(abs(r[4]) * float(spec.lot_size) * r[5] * float(spec.tick_size)
                   for r in result.liquidations if r[0] == k)
        assert per_column[k] == pytest.approx(want), k
    assert grid.sum() == pytest.approx(result.summary["markets"]["BTCUSDT"]["liquidated_notional"], abs=0.01)


def test_report_json_carries_the_heatmap_the_dashboard_draws(run_of_small, tmp_path) -> None:
    _, result = run_of_small
    path = tmp_path / "report.json"
    report.write_json(result, path)
    written = orjson.loads(path.read_bytes())["heatmaps"]["BTCUSDT"]
    assert written == grids.grid_json(result, "BTCUSDT", default_markets()["BTCUSDT"])
    total = sum(v for row in written["z"] for v in row if v is not None)
    assert total == pytest.approx(result.summary["markets"]["BTCUSDT"]["liquidated_notional"], abs=0.01)
    # the scenario view serves the run's own grid: it computes nothing of the simulator's
    assert scenario_view.charts(path.read_bytes())["markets"]["BTCUSDT"]["heatmap"] == written


def test_funding_series_is_the_predicted_rate(run_of_small) -> None:
    run, result = run_of_small
    series = result.series["BTCUSDT"]
    funding = ExchangeView(run.exchange).funding("BTCUSDT")
    assert series["predicted_funding_rate"][-1] == funding.predicted_rate / 10**8
    assert series["funding_rate"][-1] == funding.rate / 10**8
    assert any(series["predicted_funding_rate"]), "the predicted rate moves off zero once premiums are sampled"


def test_summary_has_units(run_of_small) -> None:
    _, result = run_of_small
    text = _text(report.summary_table(result))
    assert "USDT" in text and " lots" in text and " bps" in text and "n/a" not in text


GRPC_SCENARIO = shocked_crowd("grpc-report", duration_s=5, shock_at_s=2)


def test_figures_a_grpc_run_cannot_see_are_na(tmp_path) -> None:
    with grpc_venue(tmp_path) as (remote, _):
        result = runner.run(scenario.loads(GRPC_SCENARIO), venue=remote)
    assert report.over_grpc(result)
    lines = {line.split("│")[1].strip(): line.split("│")[2].strip()
             for line in _text(report.summary_table(result)).splitlines() if line.count("│") == 3}
    for key in ("forced_fills", "forced_fill_slippage_bps", "adl_events", "funding_settlements"):
        assert lines[key] == "n/a", key
    # each liquidation comes back with its account, so the split by leverage is known over gRPC too
    split = [int(v.split()[0]) for k, v in lines.items() if k.startswith("liquidations ") and v]
    assert sum(split) == 6
    # open interest is the venue's own (GetOpenInterest), not n/a
    assert lines["open_interest_end_lots"] == f"{round(result.series['BTCUSDT']['open_interest'][-1] * 1000):,} lots"
    assert lines["liquidations"] == "6" and lines["mark_start"] == "65,000 USDT"
    paths = report.write_plots(result, tmp_path)
    assert all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in paths)
