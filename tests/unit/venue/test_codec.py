"""The journal codec: exact round trips of every command type, a pinned format, strict refusals."""

from __future__ import annotations

import dataclasses
import typing

import pytest
from hypothesis import given
from hypothesis import strategies as st

from perpsim.engine import commands as C
from perpsim.model.enums import PositionSide, Side, StpMode, TimeInForce
from perpsim.venue import codec
from perpsim.venue.codec import CodecError, decode, encode

INT64 = st.integers(min_value=-(1 << 63), max_value=(1 << 63) - 1)
SMALL = st.integers(min_value=-1000, max_value=1000)
TEXT = st.one_of(st.sampled_from(["", "USDT", "BTCUSDT", "sandbox"]), st.text(max_size=40))
CLASSES = codec.command_classes()


def strategy_for(cls):
    hints = typing.get_type_hints(cls)
    kw = {}
    for f in dataclasses.fields(cls):
        kind = hints[f.name]
        kw[f.name] = st.booleans() if kind is bool else TEXT if kind is str else st.one_of(SMALL, INT64)
    return st.builds(cls, **kw)


ANY_COMMAND = st.one_of(*[strategy_for(cls) for cls in CLASSES])


def test_every_command_class_has_a_tag():
    module_classes = {name for name, obj in vars(C).items()
                      if isinstance(obj, type) and dataclasses.is_dataclass(obj) and obj.__module__ == C.__name__}
    union = {cls.__name__ for cls in CLASSES}
    assert union == module_classes, "a command dataclass is missing from engine.commands.Command (or vice versa)"
    assert union <= set(codec.TAGS), f"add journal tags for {sorted(union - set(codec.TAGS))}"
    assert len(set(codec.TAGS.values())) == len(codec.TAGS)
    for cls in CLASSES:
        assert codec.tag_of(cls) == codec.TAGS[cls.__name__]


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_round_trip_per_type(cls):
    @given(strategy_for(cls))
    def check(cmd):
        data = encode(cmd)
        back = decode(data)
        assert back == cmd
        assert type(back) is cls
        for f in dataclasses.fields(cls):
            v, w = getattr(cmd, f.name), getattr(back, f.name)
            assert type(w) is (bool if type(v) is bool else str if isinstance(v, str) else int)
        assert encode(back) == data  # canonical: one encoding per command
        assert data[0] == codec.TAGS[cls.__name__] and data[1] == len(dataclasses.fields(cls))

    check()


@given(ANY_COMMAND, ANY_COMMAND)
def test_equal_commands_equal_bytes(a, b):
    assert (encode(a) == encode(b)) == (a == b)


@given(ANY_COMMAND, st.data())
def test_every_strict_prefix_and_any_extension_is_refused(cmd, data):
    raw = encode(cmd)
    cut = data.draw(st.integers(min_value=0, max_value=len(raw) - 1))
    with pytest.raises(CodecError):
        decode(raw[:cut])
    with pytest.raises(CodecError):
        decode(raw + data.draw(st.binary(min_size=1, max_size=3)))


def test_intenum_values_encode_as_their_int():
    a = C.PlaceOrder(5, 1, "BTCUSDT", Side.SELL, 3, 7, tif=TimeInForce.GTX, stp=StpMode.EXPIRE_BOTH,
                     position_side=PositionSide.SHORT)
    b = C.PlaceOrder(5, 1, "BTCUSDT", 1, 3, 7, tif=3, stp=3, position_side=2)
    assert encode(a) == encode(b)
    assert decode(encode(a)) == a


def test_memoryview_and_bytearray_input():
    cmd = C.Deposit(1, 2, "USDT", 3)
    raw = encode(cmd)
    assert decode(memoryview(raw)) == decode(bytearray(raw)) == cmd


# Pinned bytes: the format of journals already written. Decoding them must keep working; a
# class may only gain fields at its end, with defaults (older records then decode with them).
GOLDEN = [
    ("0e110e0000000000000007000000000000000700425443555344540100000000000000e8030000000000000100000000000000b8f90200000000000000000000000000010000000000000001000000000000000000000000000000000000000000000000000000000000000000000400736c2d31",
     C.PlaceConditional(14, 7, "BTCUSDT", 1, 1000, 1, 195000, 0, 1, True, False, False, 0, 0, 0, 0, "sl-1")),
    # PlaceConditional with expire_ts (GTD), 18 fields
    ("0e120e0000000000000007000000000000000700425443555344540100000000000000e8030000000000000200000000000000b8f90200"
     "00000000d0f5020000000000000000000000000001000000000000000000000000000000000000000000000000000004000000000000"
     "000400736c2d326300000000000000",
     C.PlaceConditional(14, 7, "BTCUSDT", 1, 1000, 2, 195000, 194000, 0, True, False, False, 0, 0, 0, 4, "sl-2", 99)),
    ("0f040f0000000000000007000000000000000700425443555344542a00000000000000",
     C.CancelConditional(15, 7, "BTCUSDT", 42)),
    ("10131000000000000000070000000000000007004254435553445403000000000000000000000000000000e803000000000000400d0300"
     "00000000000000000000000005000000000000005034030000000000b434030000000000030000000000000030e6020000000000cce5"
     "02000000000001000000000000000000000000000000008813000000000000040062722d31",
     C.PlaceOrderList(16, 7, "BTCUSDT", 3, 0, 1000, 200000, 0, 5, 210000, 210100, 3, 190000, 189900, 1, False, 0,
                      5000, "br-1")),
    # PlaceOrderList with a trailing stop-loss leg (sl_callback_rate), 20 fields
    ("10141000000000000000070000000000000007004254435553445403000000000000000000000000000000e803000000000000400d0300"
     "00000000000000000000000005000000000000005034030000000000b43403000000000006000000000000000000000000000000000000"
     "000000000001000000000000000000000000000000008813000000000000040062722d3240420f0000000000",
     C.PlaceOrderList(16, 7, "BTCUSDT", 3, 0, 1000, 200000, 0, 5, 210000, 210100, 6, 0, 0, 1, False, 0,
                      5000, "br-2", 1_000_000)),
    ("1104110000000000000007000000000000000700425443555344542a00000000000000", C.CancelOrderList(17, 7, "BTCUSDT", 42)),
    ("1206120000000000000007000000000000000700425443555344542a00000000000000dc0c030000000000fa00000000000000",
     C.AmendOrder(18, 7, "BTCUSDT", 42, 199_900, 250)),
    ("010400002a36fe9c9717070000000000000004005553445415cd5b0700000000",
     C.Deposit(1_700_000_000_000_000_000, 7, "USDT", 123_456_789)),
    ("0204020000000000000007000000000000000400555344540500000000000000", C.Withdraw(2, 7, "USDT", 5)),
    ("03050300000000000000010000000000000002000000000000000300425443ffffffffffffffff",
     C.Transfer(3, 1, 2, "BTC", -1)),
    ("0404040000000000000001000000000000000700425443555344547d00000000000000", C.SetLeverage(4, 1, "BTCUSDT", 125)),
    ("05040500000000000000010000000000000007004554485553445401", C.SetMarginMode(5, 1, "ETHUSDT", True)),
    ("06030600000000000000090000000000000000", C.SetPositionMode(6, 9, False)),
    ("070507000000000000000100000000000000070042544355534454ceffffffffffffff0200000000000000",
     C.AdjustIsolatedMargin(7, 1, "BTCUSDT", -50, 2)),
    # PlaceOrder as first journaled, 12 fields (before client_order_id): decodes with the default
    ("080c0800000000000000030000000000000007004254435553445401000000000000000a00000000000000400d0300000000"
     "000000000000000000040000000000000001000000000000000163000000000000000100000000000000",
     C.PlaceOrder(8, 3, "BTCUSDT", 1, 10, 200_000, 0, 4, 1, True, 99, 1)),
    ("080d0800000000000000030000000000000007004254435553445401000000000000000a00000000000000400d0300000000"
     "0000000000000000000400000000000000010000000000000001630000000000000001000000000000000300616263",
     C.PlaceOrder(8, 3, "BTCUSDT", 1, 10, 200_000, 0, 4, 1, True, 99, 1, client_order_id="abc")),
    ("090409000000000000000300000000000000070042544355534454ffffffffffffff7f",
     C.CancelOrder(9, 3, "BTCUSDT", 2**63 - 1)),
    ("0a030a000000000000000300000000000000070042544355534454", C.CancelAll(10, 3, "BTCUSDT")),
    ("0b040b0000000000000007004254435553445480841e0000000000070062696e616e6365",
     C.SetIndexPrice(11, "BTCUSDT", 2_000_000, "binance")),
    ("0c030c000000000000000400555344540010a5d4e8000000", C.FundInsurance(12, "USDT", 10**12)),
    ("0d010000000000000080", C.AdvanceClock(-(2**63))),
    ("13061300000000000000070000000000000004005553445400743ba40b0000000100",
     C.SetDailyLossLimit(19, 7, "USDT", 50_000_000_000, True, False)),
    ("14031400000000000000090000000000000001", C.SetMultiAssetsMode(20, 9, True)),
]


@pytest.mark.parametrize(("hexdata", "cmd"), GOLDEN, ids=lambda x: type(x).__name__ if not isinstance(x, str) else "")
def test_golden_bytes_still_decode(hexdata, cmd):
    raw = bytes.fromhex(hexdata.replace(" ", ""))
    assert decode(raw) == cmd
    if raw[1] == len(dataclasses.fields(cmd)):
        assert encode(cmd) == raw  # the current encoder writes exactly the pinned bytes


def test_golden_covers_every_tag():
    assert {bytes.fromhex(h.replace(" ", ""))[0] for h, _ in GOLDEN} == set(codec.TAGS.values())


@pytest.mark.parametrize(("cmd", "message"), [
    (C.Deposit(1 << 63, 1, "USDT", 1), "does not fit in int64"),
    (C.Deposit(1, 1, "USDT", -(1 << 63) - 1), "does not fit in int64"),
    (C.Deposit(1, True, "USDT", 1), "must be an int"),
    (C.Deposit(1, 1, "USDT", 1.0), "must be an int"),
    (C.Deposit(1, 1, b"USDT", 1), "must be a str"),
    (C.SetPositionMode(1, 1, 1), "must be a bool"),
    (C.SetPositionMode(1, 1, None), "must be a bool"),
    (C.Deposit(1, 1, "\ud800", 1), "not valid UTF-8"),
    (C.Deposit(1, 1, "x" * 65_536, 1), "at most 65535"),
])
def test_refuses_what_it_cannot_encode_exactly(cmd, message):
    with pytest.raises(CodecError, match=message):
        encode(cmd)


def test_longest_string_round_trips():
    cmd = C.Deposit(1, 1, "é" * 32_767 + "x", 1)  # 65,535 bytes of UTF-8
    assert decode(encode(cmd)) == cmd


def test_refuses_non_commands():
    @dataclasses.dataclass(frozen=True)
    class NotACommand:
        ts: int

    with pytest.raises(CodecError, match="no journal tag"):
        encode(NotACommand(1))
    with pytest.raises(CodecError, match="not a command"):
        encode((1, 2))


@pytest.mark.parametrize(("raw", "message"), [
    (b"", "truncated"),
    (b"\x01", "truncated"),
    (b"\x00\x01", "unknown command tag 0"),
    (b"\xfe\x01", "unknown command tag 254"),
    (b"\x01\x03" + b"\x00" * 16, "with 3 fields"),  # Deposit needs all 4 (none has a default)
    (b"\x01\x05" + b"\x00" * 16, "with 5 fields"),  # more fields than this version knows
    (bytes.fromhex("05040500000000000000010000000000000007004554485553445402"), "not 0/1"),
    (bytes.fromhex("0404040000000000000001000000000000000700ff5443555344547d00000000000000"), "utf-8"),
])
def test_refuses_malformed_bytes(raw, message):
    with pytest.raises(CodecError, match=message):
        decode(raw)


def test_retired_tags_fail_clearly(monkeypatch):
    monkeypatch.setitem(codec.RETIRED, 200, "OldCommand")
    with pytest.raises(CodecError, match=r"OldCommand \(tag 200\) no longer exists"):
        decode(b"\xc8\x01")
