"""Every built-in scenario, in its short version, keeps the engine's books: conservation, pnl
pools, zero net open interest and the kernels' integrity every 10 steps and at the end, and the
ledger saw exactly what the run deposited."""

from __future__ import annotations

import pytest

from perpsim.sim import runner, scenario


def test_builtins_are_the_six_of_the_issues():
    assert scenario.builtin_names() == ["flash-crash", "funding-spike", "insurance-depletion", "leverage-spike",
                                        "long-squeeze", "short-squeeze"]


@pytest.mark.parametrize("name", scenario.builtin_names())
def test_short_version_conserves(name):
    sc = scenario.load(name).shortened()
    assert sc.steps < scenario.load(name).steps or sc.data != scenario.load(name).data
    run = runner.Run(sc)
    result = run.run(check_every=10)  # raises on any violation
    assert result.conservation and all(v["deposited"] > 0 for v in result.conservation.values())
    ledger = run.exchange.ledger
    for asset, c in result.conservation.items():
        assert ledger.deposited[asset] == c["deposited"] and ledger.withdrawn.get(asset, 0) == 0
    assert sum(m["liquidations"] for m in result.summary["markets"].values()) > 0
