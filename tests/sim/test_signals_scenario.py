"""The venue's risk signals in scenario reports: a planted leverage spike is flagged, a quiet run
is not, the figures are deterministic and leave the engine's events alone, and the report's
files (JSON, CSV, PNG, table) and the dashboard's scenario view carry them."""

from __future__ import annotations

import csv
import io

import pytest
from rich.console import Console

from perpsim.model.market_files import default_markets
from perpsim.sim import report, runner, scenario, venues
from perpsim.sim.risk_series import FIGURES, row_of_signals
from perpsim.sim.venues import GrpcVenue
from perpsim.venue.app import RunningVenue
from perpsim.venue.config import VenueConfig
from perpsim.venue.dashboard.scenario import charts
from perpsim.venue.signals import Signals

SYMBOL = "BTCUSDT"
#: the same run without its two events: the group never levers up and the index is not shocked
QUIET = {"agents.spikers.spike_leverage": 5, "feed.BTCUSDT.shocks": []}


@pytest.fixture(scope="module")
def spike() -> scenario.Scenario:
    """leverage-spike's quick version: 150 steps of 1 s, the spike from 90 s over 3 s, a -5 %
    index move from 130 s."""
    return scenario.load("leverage-spike").shortened()


def _first(flags: list[list[str]], code: str) -> int | None:
    return next((i for i, codes in enumerate(flags) if code in codes), None)


def _spikers(run: runner.Run):
    return next(a for a in run.agents if a.kind == "leverage_spike")


def test_the_planted_spike_is_flagged_and_a_quiet_run_is_not(spike):
    run = runner.Run(spike)
    result = run.run()
    group = _spikers(run)
    planted = min(group.spike_step)
    assert round(90 / spike.step_s) <= planted < round(93 / spike.step_s)
    ser = result.series[SYMBOL]
    # leverage is measured once per Δ = 1 s of venue time, when the next step's first command
    # closes the interval: the step whose orders spiked is flagged in the next step's row
    assert _first(ser["flags"], "leverage_spike") == planted + 1
    assert all(n == 0 for n in ser["spike_accounts"][:planted + 1])
    assert max(ser["spike_accounts"]) == len(group.accounts)  # every member, none of the crowd
    after = max(group.spike_step) + 1
    assert ser["spike_accounts"][after] == len(group.accounts) and ser["spike_oi_pct"][after] > 0
    assert ser["average_leverage"][after] > 2 * ser["average_leverage"][planted]
    assert result.summary["risk"][SYMBOL]["flags"]["leverage_spike"]["first_step"] == planted + 1

    quiet = runner.run(spike.with_params(QUIET))
    q = quiet.series[SYMBOL]
    assert len(q["flags"]) == len(ser["flags"])
    assert all(codes == [] for codes in q["flags"])  # no flag of any kind in any step
    assert set(q["spike_accounts"]) == {0.0}
    assert quiet.summary["risk"][SYMBOL]["flags"] == {}


@pytest.mark.parametrize("hold", [venues.HOLD_EVENTS, 64])
def test_signals_fed_per_timestamp_are_those_fed_per_command(spike, hold, monkeypatch):
    """The in-process venue hands a timestamp's later commands to the listener together (in
    parts of `hold` events); a second listener fed command by command (as the venue's sequencer
    feeds it) reads the same."""
    monkeypatch.setattr(venues, "HOLD_EVENTS", hold)

    class PerCommand(runner.Run):
        def submit(self, cmd):
            events = super().submit(cmd)
            self.reference.observe(cmd, events)
            return events

        def _sample(self):
            super()._sample()
            self.rows.append(row_of_signals(self.reference.market_risk(SYMBOL, full=False)))

    run = PerCommand(spike.with_params({"duration_s": 100}))
    run.rows = []
    run.reference = Signals(lambda: run.exchange)
    ser = run.run().series[SYMBOL]
    assert len(run.rows) == len(ser["flags"]) == 101
    assert any("leverage_spike" in r["flags"] for r in run.rows)
    for i, row in enumerate(run.rows):
        assert ser["flags"][i] == row["flags"], i
        for k in FIGURES:
            want = row[k]
            assert ser[k][i] == (None if want is None else round(float(want), 9)), (i, k)


def test_same_run_same_figures_and_the_engine_events_are_untouched(small):
    a = runner.run(small, seed=3)
    b = runner.run(small, seed=3)
    off = runner.run(small, seed=3, signals=False)
    assert a.series == b.series and a.summary == b.summary and a.report_hash == b.report_hash
    assert "temperature" in a.series[SYMBOL] and any(a.series[SYMBOL]["flags"])
    # the listener only reads: the engine's events and state are those of a run without it
    assert (a.event_hash, a.state_hash) == (off.event_hash, off.state_hash)
    assert "flags" not in off.series[SYMBOL] and "risk" not in off.summary
    assert a.series[SYMBOL]["open_interest"] == off.series[SYMBOL]["open_interest"]


def test_the_report_files_and_the_dashboard_carry_the_risk_series(spike, tmp_path):
    result = runner.run(spike)
    ser = result.series[SYMBOL]
    flagged = _first(ser["flags"], "leverage_spike")
    written = report.write(result, tmp_path)
    assert tmp_path / "risk.png" in written and (tmp_path / "risk.png").read_bytes()[:4] == b"\x89PNG"
    rows = list(csv.DictReader(io.StringIO((tmp_path / "series.csv").read_text())))
    assert len(rows) == len(result.series["t_s"])
    assert [float(r[f"{SYMBOL}.temperature"]) for r in rows] == ser["temperature"]
    assert "leverage_spike" in rows[flagged][f"{SYMBOL}.flags"].split("+")
    assert "leverage_spike" not in rows[flagged - 1][f"{SYMBOL}.flags"]
    assert rows[0][f"{SYMBOL}.volatility_1h_pct"] == ""  # not known before two mark samples
    console = Console(file=io.StringIO(), width=200)
    console.print(report.summary_table(result))
    table = console.file.getvalue()
    assert "flag leverage_spike" in table and f"(step {flagged})" in table
    view = charts((tmp_path / "report.json").read_bytes())["markets"][SYMBOL]["risk"]
    assert view["flags"] == ser["flags"] and view["open_interest_notional"] == ser["open_interest_notional"]
    assert view["temperature"] == ser["temperature"] and view["spike_accounts"] == ser["spike_accounts"]


def test_over_grpc_the_venue_reports_the_spike_and_its_open_interest(spike, tmp_path):
    small = spike.with_params({"duration_s": 12, "agents.spikers.spike_at_s": 6, "agents.spikers.count": 4,
                               "agents.crowd.count": 12, "agents.noise.count": 2, "agents.mm.count": 1,
                               "agents.mm.levels": 6})
    venue = RunningVenue(VenueConfig(listen="127.0.0.1:0", data_dir=tmp_path, feed=False, liquidity=False,
                                     metrics_listen="", rest_listen="off", admin_key="sim-admin"))
    venue.start_in_thread()
    try:
        remote = GrpcVenue(venue.address, "sim-admin", {SYMBOL: default_markets()[SYMBOL]})
        try:
            run = runner.Run(small, venue=remote)
            result = run.run()
        finally:
            remote.close()
    finally:
        venue.stop()
    local = runner.run(small)
    got, want = result.series[SYMBOL], local.series[SYMBOL]
    planted = min(_spikers(run).spike_step)
    assert _first(want["flags"], "leverage_spike") == planted + 1
    # the venue's clock is its wall clock plus what the sandbox advanced: a later command of the
    # planted step may already close its second and flag it in that step's row
    assert _first(got["flags"], "leverage_spike") in (planted, planted + 1)
    assert not any("leverage_spike" in f for f in got["flags"][:planted])
    assert max(got["spike_accounts"]) == 4
    assert got["open_interest"] == want["open_interest"] and min(got["open_interest"]) > 0
    # the lots held long at the venue's mark (which follows the index on the venue's own clock)
    at_mark = [q * m for q, m in zip(got["open_interest"], got["mark"], strict=True)]
    assert got["open_interest_notional"] == pytest.approx(at_mark, rel=1e-9)
    assert got["open_interest_notional"] == pytest.approx(want["open_interest_notional"], rel=1e-3)
