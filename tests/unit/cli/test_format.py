"""Durations and times as the `perpsim` command reads and prints them."""

from __future__ import annotations

import argparse

import pytest

from perpsim.cli.format import format_duration, format_time, parse_duration
from perpsim.cli.times import good_till

H = 3_600_000_000_000


@pytest.mark.parametrize(("text", "ns"), [("8h", 8 * H), ("30m", H // 2), ("1d", 24 * H), ("1h30m", 3 * H // 2),
                                          ("250ms", 250_000_000), ("45s", 45_000_000_000), ("7us", 7_000),
                                          ("28800000000000", 8 * H), ("0", 0), (" 2H ", 2 * H)])
def test_parse(text: str, ns: int) -> None:
    assert parse_duration(text) == ns


@pytest.mark.parametrize("text", ["", "h", "-1h", "1.5h", "8x", "1h 30m", "30m1", "m30"])
def test_parse_refuses(text: str) -> None:
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration(text)


@pytest.mark.parametrize(("ns", "text"), [(8 * H, "8h"), (3 * H + 12 * 60 * 10**9 + 5 * 10**9, "3h12m"),
                                          (26 * H, "1d2h"), (45 * 10**9, "45s"), (250_000_000, "250ms"),
                                          (0, "0s"), (-H // 2, "-30m"), (61 * 10**9 + 5, "1m1s")])
def test_format(ns: int, text: str) -> None:
    assert format_duration(ns) == text


def test_round_trip_of_whole_units() -> None:
    for text in ("8h", "30m", "1d", "1d2h", "3h12m", "45s", "250ms"):
        assert format_duration(parse_duration(text)) == text


def test_times() -> None:
    at = 1_796_630_400 * 10**9  # 2026-12-07 08:00:00 UTC
    assert format_time(at) == "2026-12-07 08:00:00 UTC"
    assert format_time(at, at - 3 * H - 12 * 60 * 10**9) == "2026-12-07 08:00:00 UTC (in 3h12m)"
    assert format_time(at, at + 5 * 60 * 10**9) == "2026-12-07 08:00:00 UTC (5m ago)"
    assert format_time(0) == "-"


def test_good_till() -> None:
    at = 1_796_630_400 * 10**9
    assert good_till(argparse.Namespace(good_till=None, good_till_ns=123)) == 123
    assert good_till(argparse.Namespace(good_till="2026-12-07T08:00", good_till_ns=0)) == at
    assert good_till(argparse.Namespace(good_till="2026-12-07T09:00+01:00", good_till_ns=0)) == at

    class Venue:  # what good_till reads of the venue: GetMarkPrice's venue time
        def mark(self, symbol):
            return argparse.Namespace(time_ns=at)

    assert good_till(argparse.Namespace(good_till="30m", good_till_ns=0), Venue(), "BTCUSDT") == at + H // 2
    with pytest.raises(ValueError, match="--good-till"):
        good_till(argparse.Namespace(good_till="soon", good_till_ns=0))
