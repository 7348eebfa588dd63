"""The compiled record builder gives exactly what the NamedTuple's own constructor gives."""

import pickle
from fractions import Fraction

import pytest

from perpsim.engine.book_types import BookEvent
from perpsim.engine.events import Liquidation, OrderEvent, PositionChanged
from perpsim.engine.records import encode, new_record
from perpsim.model.enums import Side


def test_a_record_is_the_named_tuple_its_constructor_makes():
    fields = ("BTCUSDT", 7, Side.SELL, 3, 190_000, 1, 2, 0)
    built, made = new_record(Liquidation, fields), Liquidation(*fields)
    assert type(built) is Liquidation and built == made and repr(built) == repr(made)
    assert built.bankruptcy_price == 190_000 and built.side is Side.SELL
    assert pickle.loads(pickle.dumps(built)) == made and hash(built) == hash(made)


def test_records_nest_and_outlive_their_field_tuple():
    inner = new_record(BookEvent, tuple(range(11)))
    fields = ("BTCUSDT", inner, True)
    outer = new_record(OrderEvent, fields)
    del fields, inner
    assert outer.event == BookEvent(*range(11)) and outer.liquidation is True
    assert outer._replace(liquidation=False) == OrderEvent("BTCUSDT", BookEvent(*range(11)), False)


def test_only_tuple_classes_are_built():
    with pytest.raises(TypeError, match="not a tuple class"):
        new_record(dict, ())


def test_the_encoding_tells_events_apart_and_is_stable():
    a = [Liquidation("BTCUSDT", 7, Side.SELL, 3, 190_000, 1, 2, 0),
         OrderEvent("BTCUSDT", BookEvent(*range(11)), True)]
    assert encode(a) == (b"Liquidation(7:BTCUSDT,7,1,3,190000,1,2,0);"
                         b"OrderEvent(7:BTCUSDT,BookEvent(0,1,2,3,4,5,6,7,8,9,10),1);")
    assert encode(a) == encode([type(e)(*e) for e in a])
    assert encode(a[:1]) != encode([a[0]._replace(qty=4)]) != encode([a[0]._replace(symbol="BTCUSDT,7")])
    assert encode([("x", (1, None, -(2**70)))]) == b"(1:x,(1,N,-1180591620717411303424));"
    assert encode([(Fraction(1, 3), "é")]) == b"(14:Fraction(1, 3),2:\xc3\xa9);"
    extremes = PositionChanged("B", -(2**63), 0, 2**63 - 1)
    assert encode([extremes]) == b"PositionChanged(1:B,-9223372036854775808,0,9223372036854775807,0);"
    assert encode([]) == b"" and len(encode([PositionChanged("BTCUSDT", i, i, i) for i in range(2000)])) > 4096
