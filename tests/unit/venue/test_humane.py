"""Figures in messages: durations, times and the engine's integers in the market's units."""

from __future__ import annotations

from perpsim.model.market_files import default_markets
from perpsim.model.reasons import RejectReason as R
from perpsim.venue.humane import duration, in_units, timestamp


def test_durations_in_their_largest_whole_units() -> None:
    hour, minute = 3_600 * 10**9, 60 * 10**9
    assert [duration(8 * hour), duration(30 * minute), duration(90 * minute), duration(24 * hour)] == \
        ["8h", "30m", "1h30m", "1d"]
    assert [duration(0), duration(250 * 10**6), duration(1_500), duration(-hour)] == ["0s", "250ms", "1500ns", "-1h"]


def test_times_are_utc_with_milliseconds_rounded_down() -> None:
    assert timestamp(1_700_000_000_123_999_999) == "2023-11-14T22:13:20.123Z"
    assert timestamp(2**63 - 1).endswith("ns") or timestamp(2**63 - 1).startswith("2262")


def test_engine_fields_in_the_markets_units() -> None:
    spec = default_markets()["BTCUSDT"]
    shown = in_units(R.MARGIN_INSUFFICIENT, {"required": 912_805_750_000, "available": 96_876_387_350}, spec)
    assert shown == {"required": "9128.0575 USDT", "available": "968.7638735 USDT"}
    shown = in_units(R.WOULD_IMMEDIATELY_TRIGGER, {"trigger_price": 660_000, "price": 650_001, "qty": 5}, spec)
    assert shown == {"trigger_price": "66000.0", "price": "65000.1", "qty": "0.005"}
    assert in_units(R.REDUCE_ONLY_REJECTED, {"position": 5, "room": 2}, spec) == {"position": "0.005", "room": "0.002"}
    # a count stays a count; a limit is money only for the daily loss limit
    assert in_units(R.MAX_OPEN_ORDERS, {"limit": 200}, spec) == {"limit": 200}
    assert in_units(R.DAILY_LOSS_LIMIT, {"limit": 20 * 10**8}, spec) == {"limit": "20 USDT"}
    assert in_units(R.INVALID_VALUE, {"field": "stop_loss_trigger", "value": 660_000}, spec)["value"] == "66000.0"
    assert in_units(R.INVALID_VALUE, {"callback_rate": 20_000_000}, None) == {"callback_rate": "0.2"}
    assert in_units(R.MARGIN_INSUFFICIENT, {"required": 5}, None) == {"required": 5}  # no spec: as it is
