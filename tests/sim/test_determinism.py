"""The same scenario and seed give the same event stream and report, in this process and in a
process pool; another seed gives another stream."""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor

from perpsim.sim import runner, sweep


def test_same_seed_same_bytes_in_process_and_in_a_pool(small):
    a = runner.run(small, seed=3)
    b = runner.run(small, seed=3)
    assert a.summary["markets"]["BTCUSDT"]["liquidations"] > 0  # the scenario does something
    assert (a.event_hash, a.state_hash, a.report_hash) == (b.event_hash, b.state_hash, b.report_hash)
    with ProcessPoolExecutor(max_workers=2) as pool:
        pooled = sweep.sweep(small, [{"seed": 3}, {"seed": 4}], pool)
    assert (pooled[0].event_hash, pooled[0].state_hash) == (a.event_hash, a.state_hash)
    assert pooled[0].summary == a.summary and pooled[0].series == a.series
    other = runner.run(small, seed=4)
    assert pooled[1].report_hash == other.report_hash
    assert other.event_hash != a.event_hash


def test_report_hash_covers_the_results(small):
    a = runner.run(small, seed=5)
    assert runner.report_hash(a) == a.report_hash
    a.summary["markets"]["BTCUSDT"]["liquidations"] += 1
    assert runner.report_hash(a) != a.report_hash
