"""`perpsim scenario list / run / sweep` through the perpsim command's main(argv)."""

from __future__ import annotations

import csv
import json

from perpsim.cli.main import main

TINY = ["--set", "duration_s=40", "--set", "agents.crowd.count=60", "--set", "feed.BTCUSDT.shocks.0.at_s=10"]


def test_list_names_the_builtins(capsys):
    assert main(["scenario", "list"]) == 0
    out = capsys.readouterr().out
    for name in ("long-squeeze", "short-squeeze", "flash-crash", "funding-spike", "insurance-depletion"):
        assert name in out


def test_run_writes_the_report(tmp_path, capsys):
    assert main(["scenario", "run", "long-squeeze", "--seed", "9", "--out", str(tmp_path), *TINY]) == 0
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["seed"] == 9 and report["steps"] == 40 and report["scenario"] == "long-squeeze"
    assert report["summary"]["markets"]["BTCUSDT"]["liquidations"] == len(report["liquidations"])
    for png in ("price.png", "heatmap.png", "insurance.png", "oi_funding.png"):
        assert (tmp_path / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert report["report_hash"] in capsys.readouterr().out


def test_run_of_a_file_and_a_bad_name(tmp_path, capsys):
    from perpsim.sim import scenario

    text = scenario._builtin_dir().joinpath("insurance-depletion.toml").read_text()
    path = tmp_path / "mine.toml"
    path.write_text(text.replace('name = "insurance-depletion"', 'name = "mine"'))
    assert main(["scenario", "run", str(path), "--short", "--out", str(tmp_path / "o")]) == 0
    assert json.loads((tmp_path / "o" / "report.json").read_text())["scenario"] == "mine"
    assert main(["scenario", "run", "no-such-scenario"]) == 2
    assert "no scenario" in capsys.readouterr().out


def test_sweep_writes_one_row_per_point(tmp_path):
    args = ["scenario", "sweep", "long-squeeze", "--param", "seed=1,2", "--param", "agents.crowd.count=40,80",
            "--param", "duration_s=30", "--param", "feed.BTCUSDT.shocks.0.at_s=5", "--workers", "2",
            "--out", str(tmp_path)]
    assert main(args) == 0
    with open(tmp_path / "sweep.csv") as f:
        rows = list(csv.DictReader(f))
    assert [(r["seed"], r["agents.crowd.count"]) for r in rows] == [("1", "40"), ("1", "80"), ("2", "40"),
                                                                     ("2", "80")]
    assert len({r["report_hash"] for r in rows}) == 4
