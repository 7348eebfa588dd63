"""A command already in its journal form decodes back to itself; any other is rebuilt as before."""

from __future__ import annotations

import dataclasses

from hypothesis import given

from perpsim.engine import commands as C
from perpsim.model.enums import OrderKind, PositionSide, Side, TimeInForce
from perpsim.venue.codec import decode, encode

from .test_codec import ANY_COMMAND


class Name(str):
    """A str subclass: encodes as its text, decodes as a plain str."""


def _typed(cmd) -> list[tuple[type, object]]:
    return [(type(getattr(cmd, f.name)), getattr(cmd, f.name)) for f in dataclasses.fields(cmd)]


def test_plain_fields_decode_to_the_command_itself():
    cmd = C.PlaceOrder(5, 1, "BTCUSDT", 0, 3, 650_000, 0, 0, 0, False, 0, 0, "c-1")
    data = encode(cmd)
    assert decode(data) is cmd
    copy = decode(bytes(bytearray(data)))  # the same bytes read back (a journal): rebuilt
    assert copy is not cmd and _typed(copy) == _typed(cmd)


def test_intenum_or_str_subclass_fields_are_rebuilt_as_plain_values():
    for cmd in (C.PlaceOrder(5, 1, "BTCUSDT", Side.SELL, 3, 650_000, OrderKind.LIMIT, TimeInForce.GTC,
                             position_side=PositionSide.BOTH),
                C.PlaceOrder(5, 1, Name("BTCUSDT"), 1, 3, 650_000)):
        back = decode(encode(cmd))
        assert back is not cmd and back == cmd
        assert {t for t, _ in _typed(back)} <= {int, bool, str}


@given(ANY_COMMAND)
def test_decoding_the_encoded_bytes_gives_what_a_replay_gives(cmd):
    data = encode(cmd)
    fresh = decode(bytes(bytearray(data)))  # never the encoder's own bytes object
    assert _typed(decode(data)) == _typed(fresh)
    assert type(decode(data)) is type(fresh)
