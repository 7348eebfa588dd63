"""risk.png: the market risk signals of a run over time (perpsim.sim.risk_series).

Per market, five panels on the run's time axis (seconds): the leverage temperature (0 cold ..
100 hot); open interest at the mark (settlement asset); the mark's 1h volatility (%); the
OI-weighted average effective leverage (x) with the number of accounts flagged for a leverage
spike; and a strip with a row per flag code, shaded over the steps where the flag was active.
A figure the signals do not know yet (volatility before two samples) is a gap in its line.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from perpsim.sim.plots import _save

#: the flags' rows in the strip, top to bottom, with their colours
FLAG_ROWS = (("leverage_spike", "tab:red"), ("crowded_funding_oi", "tab:orange"),
             ("oi_near_liquidation", "tab:purple"), ("fills_will_be_worse", "tab:brown"))


def _line(values: list) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in values], dtype=float)


def risk(result, specs: dict, path: Path) -> Path:
    """A run's risk signals per market (temperature, open interest, volatility, leverage, flags)
    as one PNG at `path`."""
    s, dt = result.series, result.step_s
    t = np.asarray(s["t_s"])
    symbols = [sym for sym in specs if "flags" in s[sym]]
    fig, axes = plt.subplots(5 * len(symbols), 1, figsize=(11, 11 * len(symbols)), sharex=True, squeeze=False,
                             gridspec_kw={"height_ratios": [2, 2, 2, 2, 1.2] * len(symbols)})
    for i, sym in enumerate(symbols):
        spec, ser = specs[sym], s[sym]
        temp, oi, vol, lev, flags = axes[5 * i: 5 * i + 5, 0]
        temp.plot(t, _line(ser["temperature"]), color="tab:red", lw=1.4)
        temp.axhline(50, color="0.6", lw=0.8, ls=":")
        temp.set_ylim(0, 100)
        temp.set_ylabel("temperature (0-100)")
        temp.set_title(f"{result.scenario}: {sym} risk signals (the venue's, sampled each step)")
        oi.plot(t, _line(ser["open_interest_notional"]), color="tab:blue", lw=1.4)
        oi.set_ylabel(f"open interest ({spec.settle})")
        vol.plot(t, _line(ser["volatility_1h_pct"]), color="tab:green", lw=1.4)
        vol.set_ylabel("σ of the mark over 1h (%)")
        lev.plot(t, _line(ser["average_leverage"]), color="tab:gray", lw=1.4, label="OI-weighted average leverage")
        lev.set_ylabel("average leverage (x)")
        spikes = lev.twinx()
        spikes.step(t, _line(ser["spike_accounts"]), where="post", color="tab:red", lw=1.2,
                    label="accounts flagged: leverage spike")
        spikes.set_ylabel("accounts flagged")
        spikes.set_ylim(bottom=0)
        handles = lev.get_legend_handles_labels()[0] + spikes.get_legend_handles_labels()[0]
        lev.legend(handles=handles, loc="upper left")
        for row, (code, colour) in enumerate(FLAG_ROWS):
            on = [k for k, codes in enumerate(ser["flags"]) if code in codes]
            flags.broken_barh([(t[k], dt) for k in on], (row + 0.1, 0.8), facecolors=colour)
        flags.set_yticks([r + 0.5 for r in range(len(FLAG_ROWS))], [c for c, _ in FLAG_ROWS])
        flags.set_ylim(len(FLAG_ROWS), 0)
        flags.set_xlabel("time (s)")
        flags.set_title("flags active (shaded steps)", fontsize=9)
    return _save(fig, path)
