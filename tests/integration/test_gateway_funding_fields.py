"""The funding figures the Binance-compatible gateway shows come from the venue profile's funding
rule, against real venues on 127.0.0.1: premiumIndex's interestRate is the rule's interest per
interval, fundingInfo's cap and floor the rule's bounds (Binance's usual ±3 % where it sets none)."""

from __future__ import annotations

import json
import urllib.request

import pytest

from perpsim.venue.app import RunningVenue
from perpsim.venue.config import VenueConfig


def _get(venue: RunningVenue, path: str):
    with urllib.request.urlopen(f"http://127.0.0.1:{venue.rest_port}{path}", timeout=10) as r:
        return json.loads(r.read())


@pytest.mark.parametrize(("profile", "interest", "cap", "floor"), [
    ("binance", "0.00010000", "0.03000000", "-0.03000000"),  # 0.03 % a day over 8 h; no cap of its own
    ("okx", "0.00000000", "0.00375000", "-0.00375000"),  # I = 0, F = clamp(MA(P - I), ±0.375 %)
])
def test_interest_and_rate_bounds_are_the_profiles(tmp_path, profile: str, interest: str, cap: str,
                                                  floor: str) -> None:
    venue = RunningVenue(VenueConfig(listen="127.0.0.1:0", data_dir=tmp_path, feed=False, liquidity=False,
                                     metrics_listen="", rest_listen="127.0.0.1:0", profile=profile))
    venue.start_in_thread()
    try:
        premium = _get(venue, "/fapi/v1/premiumIndex?symbol=BTCUSDT")
        assert premium["interestRate"] == interest
        info = {row["symbol"]: row for row in _get(venue, "/fapi/v1/fundingInfo")}
        assert (info["BTCUSDT"]["adjustedFundingRateCap"], info["BTCUSDT"]["adjustedFundingRateFloor"]) == (cap, floor)
        assert info["BTCUSDT"]["fundingIntervalHours"] == 8
    finally:
        venue.stop()
