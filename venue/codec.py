"""An exact, deterministic, compact binary codec for the engine's commands (the journal payload).

`encode(cmd) -> bytes` and `decode(data) -> cmd` cover every frozen dataclass of
`perpsim.engine.commands` named in `TAGS`; `decode(encode(cmd)) == cmd` for every command whose
fields hold their declared types, and equal commands always encode to the same bytes.

Wire format (all integers little-endian)::

    command := tag:u8  nfields:u8  field{nfields}
    int     := i64, two's complement                 (outside int64 -> CodecError, never wrapped)
    bool    := u8, 0 or 1                            (any other byte -> CodecError)
    str     := len:u16  UTF-8 bytes{len}             (strict UTF-8; at most 65,535 bytes)

Fields are written in `dataclasses.fields` order. One generic scheme drives every class: per
class, the code is generated once from its fields (consecutive fixed-size fields are packed by
one `struct.Struct`), so encoding and decoding cost one or two C calls plus the object.

Compatibility rules — old journals must stay readable:

* `TAGS` is append-only: a tag is never renumbered nor reused; a removed command keeps its tag
  in `RETIRED` so that its records fail with a clear message.
* A class may gain fields only at its end and only with a default: a record written before has
  a smaller `nfields`, and decoding fills the missing fields with their defaults.
* Fields are never reordered, retyped or removed (that is a new class with a new tag). Field
  names are not written, so renaming a field is harmless; renaming a class renames its key in
  `TAGS`. `tests/unit/venue/test_codec.py` pins golden bytes for every class.

Decoded int fields are plain `int` (an `IntEnum` value such as `Side.BUY` comes back as `0`,
which compares and hashes equal). A bool in an int field, an int in a bool field, a float
anywhere and a str that is not valid UTF-8 are refused with `CodecError` when encoding.

Apply what you journal: the sequencer should apply `canonical(cmd)` (= `decode(encode(cmd))`,
the very command recovery will replay) rather than the object it built, so that nothing in the
live state can depend on a difference the journal does not keep (such as `PositionSide.BOTH`, a
PlaceOrder default, against the `0` a replay sees; `Exchange.state_hash()` once formatted
position keys with `repr` and told the two apart).

A command whose fields already hold exactly their declared types (plain `int`, `bool`, `str`)
is its own canonical form: `decode(encode(cmd))` returns `cmd` itself, without rebuilding it,
when handed the very bytes object that `encode` returned (`_LAST`). Commands built with plain
ints (the order-entry path) skip the rebuild; any other command is decoded as before.
"""

from __future__ import annotations

import dataclasses
import linecache
import struct
import typing
from collections.abc import Callable

from perpsim.engine import commands as _commands

__all__ = ["RETIRED", "TAGS", "CodecError", "canonical", "command_classes", "decode", "encode", "stamped", "tag_of"]

#: Command class name -> type tag (u8). Append-only; see the module docstring.
TAGS: dict[str, int] = {
    "Deposit": 1,
    "Withdraw": 2,
    "Transfer": 3,
    "SetLeverage": 4,
    "SetMarginMode": 5,
    "SetPositionMode": 6,
    "AdjustIsolatedMargin": 7,
    "PlaceOrder": 8,
    "CancelOrder": 9,
    "CancelAll": 10,
    "SetIndexPrice": 11,
    "FundInsurance": 12,
    "AdvanceClock": 13,
    "PlaceConditional": 14,
    "CancelConditional": 15,
    "PlaceOrderList": 16,
    "CancelOrderList": 17,
    "AmendOrder": 18,
    "SetDailyLossLimit": 19,
    "SetMultiAssetsMode": 20,
}

#: Tags of command classes that no longer exist: tag -> former class name (never reused).
RETIRED: dict[int, str] = {}

_MAX_STR = 0xFFFF
#: [(payload, command)] of the last command encoded whose fields all hold their exact declared
#: types (int, bool, str: no IntEnum, no str subclass). Decoding that payload would rebuild an
#: equal command of the same field types, so `decode` hands back that command itself when given
#: the very same bytes object (identity, never equality: bytes read back from a journal never
#: match). One tuple, replaced whole: a reader on another thread sees a consistent pair.
_LAST: list[tuple[bytes | None, object]] = [(None, None)]
_FIXED = {int: "q", bool: "B"}

_C = typing.TypeVar("_C")  # a command class


class CodecError(ValueError):
    """A command that cannot be encoded exactly, or bytes that are not one encoded command."""


def command_classes() -> list[type]:
    """Every command class of the engine: the members of `perpsim.engine.commands.Command`."""
    return list(typing.get_args(_commands.Command))


def tag_of(cls: type) -> int:
    """The journal type tag of a command class; CodecError if it has none."""
    try:
        return _ENCODERS[cls][1]
    except KeyError:
        raise CodecError(f"{cls.__name__} has no journal tag: add it to perpsim.venue.codec.TAGS") from None


def encode(cmd: object) -> bytes:
    """The bytes of one command (see the module docstring for the format)."""
    try:
        fn = _ENCODERS[type(cmd)][0]
    except KeyError:
        if dataclasses.is_dataclass(cmd) and type(cmd).__name__ not in TAGS:
            raise CodecError(f"{type(cmd).__name__} has no journal tag: add it to perpsim.venue.codec.TAGS") from None
        raise CodecError(f"not a command: {type(cmd).__name__}") from None
    return fn(cmd)


def decode(data: bytes | bytearray | memoryview) -> object:
    """The command encoded in `data` (exactly one, nothing after it)."""
    if data.__class__ is not bytes:
        data = bytes(data)
    last = _LAST[0]
    if last[0] is data:  # the very bytes the last encode returned, of a command already canonical
        return last[1]
    try:
        fn = _DECODERS[data[0] << 8 | data[1]]
    except (KeyError, IndexError):
        raise _bad_header(data) from None
    return fn(data)


def canonical(cmd: object) -> object:
    """`decode(encode(cmd))`: the command exactly as a replay of the journal will see it."""
    return decode(encode(cmd))


def stamped(cls: type[_C]) -> Callable[[int, tuple], _C]:
    """A function `(ts, rest) -> cls(ts, *rest)`: the command whose first field is `ts` and
    whose other fields are the tuple `rest`, every field given, in field order. The same object
    as the class's __init__ builds (equal, same field values), made by setting its slots
    directly: for a frozen slots dataclass without __post_init__ about half the cost of its
    __init__ (per field one slot store instead of an object.__setattr__ lookup and call)."""
    klass: typing.Any = cls  # (a dataclass of commands: fields() and its constructor, untyped here)
    names = [f.name for f in dataclasses.fields(klass)]
    if not (hasattr(cls, "__slots__") and not hasattr(cls, "__post_init__")) or names[0] != "ts" \
            or {"o", "rest"} & set(names) or any(n.startswith("_") for n in names):
        return lambda ts, rest: klass(ts, *rest)
    ns: dict = {"_cls": cls, "_new": object.__new__}
    lines = ["def stamp(ts, rest):"]
    if len(names) > 1:
        lines.append(f"    {', '.join(names[1:])}, = rest")
    lines.append("    o = _new(_cls)")
    for name in names:
        ns[f"_s_{name}"] = getattr(cls, name).__set__
        lines.append(f"    _s_{name}(o, {name})")
    lines.append("    return o")
    return _compile(lines, f"stamp {cls.__name__}", ns)


# ---------------------------------------------------------------------------- generation


def _bad_header(data) -> CodecError:
    if len(data) < 2:
        return CodecError(f"truncated command: {len(data)} bytes")
    tag, n = data[0], data[1]
    if tag in RETIRED:
        return CodecError(f"command type {RETIRED[tag]} (tag {tag}) no longer exists")
    cls = _BY_TAG.get(tag)
    if cls is None:
        return CodecError(f"unknown command tag {tag} (written by a newer perpsim?)")
    return CodecError(f"{cls.__name__} record with {n} fields; this version reads "
                      f"{_MIN_FIELDS[cls]}..{len(dataclasses.fields(cls))}")


def _field_kinds(cls: type) -> list[tuple[str, type]]:
    hints = typing.get_type_hints(cls)
    out = []
    for f in dataclasses.fields(cls):
        kind = hints[f.name]
        if kind not in (int, bool, str):
            raise CodecError(f"{cls.__name__}.{f.name}: type {kind!r} is not int, bool or str")
        out.append((f.name, kind))
    return out


def _chunks(kinds: list[tuple[str, type]], header: bool):
    """Split fields into runs: ('fixed', fmt, [names]) with each str's u16 length ending the
    run before it, and ('str', name). The first run starts with the header when asked."""
    runs: list = []
    fmt, names = ("<BB" if header else "<"), (["#tag", "#n"] if header else [])
    for name, kind in kinds:
        if kind is str:
            runs.append(("fixed", fmt + "H", [*names, "#len:" + name]))
            runs.append(("str", name))
            fmt, names = "<", []
        else:
            fmt += _FIXED[kind]
            names.append(name)
    if names:
        runs.append(("fixed", fmt, names))
    return runs


def _compile(lines: list[str], name: str, ns: dict) -> Callable:
    """Compile generated code (from dataclasses.fields only, no outside input); the source is
    registered with linecache so that tracebacks and inspect.getsource show it."""
    source = "\n".join(lines) + "\n"
    filename = f"<perpsim.venue.codec: {name}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    exec(compile(source, filename, "exec"), ns)
    return ns[lines[0][4:lines[0].index("(")]]


def _make_encoder(cls: type, tag: int, kinds: list[tuple[str, type]]) -> Callable[[object], bytes]:
    ns: dict = {"_CodecError": CodecError, "_struct_error": struct.error, "_diagnose": _diagnose, "_cls": cls,
                "_last": _LAST}
    # `_exact`: every field holds exactly its declared type (the common path costs one class
    # check a field, as the type checks alone did)
    lines = ["def encode_cmd(cmd):", "    _exact = True"]
    for name, kind in kinds:
        lines.append(f"    {name} = cmd.{name}")
        if kind is bool:
            lines.append(f"    if {name}.__class__ is not bool: _diagnose(_cls, cmd)")
        elif kind is int:
            lines.append(f"    if {name}.__class__ is not int:")
            lines.append(f"        if {name}.__class__ is bool: _diagnose(_cls, cmd)")
            lines.append("        _exact = False")
        else:
            lines.append(f"    if {name}.__class__ is not str:")
            lines.append(f"        if not isinstance({name}, str): _diagnose(_cls, cmd)")
            lines.append("        _exact = False")
    lines.append("    try:")
    for name, kind in kinds:
        if kind is str:
            lines.append(f"        _b_{name} = {name}.encode('utf-8')")
    parts = []
    for i, run in enumerate(_chunks(kinds, header=True)):
        if run[0] == "fixed":
            ns[f"_p{i}"] = struct.Struct(run[1]).pack
            args = []
            for n in run[2]:
                if n == "#tag":
                    args.append(str(tag))
                elif n == "#n":
                    args.append(str(len(kinds)))
                elif n.startswith("#len:"):
                    args.append(f"len(_b_{n[5:]})")
                else:
                    args.append(n)
            parts.append(f"_p{i}({', '.join(args)})")
        else:
            parts.append(f"_b_{run[1]}")
    lines.append(f"        _b = {' + '.join(parts)}")
    lines.append("    except (_struct_error, UnicodeEncodeError):")
    lines.append("        _diagnose(_cls, cmd)")
    lines.append("    if _exact:")
    lines.append("        _last[0] = (_b, cmd)")
    lines.append("    return _b")
    return _compile(lines, f"encode {cls.__name__}", ns)


def _diagnose(cls: type, cmd: object) -> typing.NoReturn:
    """Raise CodecError naming the first field that cannot be encoded exactly."""
    for name, kind in _field_kinds(cls):
        v = getattr(cmd, name)
        if kind is bool:
            if type(v) is not bool:
                raise CodecError(f"{cls.__name__}.{name} must be a bool, got {v!r}")
        elif kind is int:
            if type(v) is bool or not isinstance(v, int):
                raise CodecError(f"{cls.__name__}.{name} must be an int, got {v!r}")
            if not -(1 << 63) <= v < (1 << 63):
                raise CodecError(f"{cls.__name__}.{name} = {v} does not fit in int64")
        else:
            if not isinstance(v, str):
                raise CodecError(f"{cls.__name__}.{name} must be a str, got {v!r}")
            try:
                size = len(v.encode("utf-8"))
            except UnicodeEncodeError as e:
                raise CodecError(f"{cls.__name__}.{name} is not valid UTF-8 text: {e}") from None
            if size > _MAX_STR:
                raise CodecError(f"{cls.__name__}.{name} is {size} bytes of UTF-8 (at most {_MAX_STR})")
    raise CodecError(f"cannot encode {cmd!r}")


def _make_decoder(cls: type, kinds: list[tuple[str, type]], n: int) -> Callable[[bytes], object]:
    """The decoder of records of `cls` that carry its first `n` fields."""
    fields = dataclasses.fields(cls)
    ns: dict = {"_CodecError": CodecError, "_struct_error": struct.error, "_cls": cls, "_new": object.__new__}
    lines = ["def decode_cmd(b):", "    try:"]
    pos = "2"
    for i, run in enumerate(_chunks(kinds[:n], header=False)):
        if run[0] == "fixed":
            st = struct.Struct(run[1])
            ns[f"_u{i}"] = st.unpack_from
            targets = [("_len_" + x[5:]) if x.startswith("#len:") else x for x in run[2]]
            lines.append(f"        {', '.join(targets)}{',' if len(targets) == 1 else ''} = _u{i}(b, {pos})")
            lines.append(f"        _p{i} = {pos} + {st.size}")
            pos = f"_p{i}"
        else:
            name = run[1]
            lines.append(f"        _e_{name} = {pos} + _len_{name}")
            lines.append(f"        {name} = b[{pos}:_e_{name}].decode()")
            pos = f"_e_{name}"
    lines.append("    except (_struct_error, UnicodeDecodeError) as e:")
    lines.append(f"        raise _CodecError(f'malformed {cls.__name__} record: {{e}}') from None")
    checks = [f"{pos} != len(b)"] + [f"{name} > 1" for name, kind in kinds[:n] if kind is bool]
    lines.append(f"    if {' or '.join(checks)}:")
    lines.append(f"        raise _CodecError(f'malformed {cls.__name__} record: length {{len(b)}}, "
                 f"fields end at {{{pos}}} or a bool byte is not 0/1')")
    values: list[str] = []
    for f, (name, kind) in zip(fields, kinds, strict=True):
        if len(values) < n:
            values.append(f"{name} == 1" if kind is bool else name)
        elif f.default is not dataclasses.MISSING:
            ns[f"_d_{name}"] = f.default
            values.append(f"_d_{name}")
        else:
            ns[f"_f_{name}"] = f.default_factory
            values.append(f"_f_{name}()")
    fast = hasattr(cls, "__slots__") and not hasattr(cls, "__post_init__")
    if fast:
        # frozen slots dataclass: set the slots directly (what its __init__ does, minus the
        # per-field object.__setattr__ lookups); no __post_init__ is skipped
        lines.append("    o = _new(_cls)")
        for (name, _), v in zip(kinds, values, strict=True):
            ns[f"_s_{name}"] = getattr(cls, name).__set__
            lines.append(f"    _s_{name}(o, {v})")
        lines.append("    return o")
    else:
        lines.append(f"    return _cls({', '.join(f'{k}={v}' for (k, _), v in zip(kinds, values, strict=True))})")
    return _compile(lines, f"decode {cls.__name__}/{n}", ns)


def _build():
    encoders: dict[type, tuple[Callable, int]] = {}
    decoders: dict[int, Callable] = {}
    by_tag: dict[int, type] = {}
    min_fields: dict[type, int] = {}
    if len(set(TAGS.values())) != len(TAGS) or set(TAGS.values()) & set(RETIRED):
        raise CodecError("TAGS reuses a tag")
    for name, tag in TAGS.items():
        if not 1 <= tag <= 255:
            raise CodecError(f"tag {tag} of {name} is not in 1..255")
        cls = getattr(_commands, name, None)
        if not isinstance(cls, type) or not dataclasses.is_dataclass(cls):
            raise CodecError(f"TAGS names {name}, which is not a command class (retire its tag instead)")
        kinds = _field_kinds(cls)
        fields = dataclasses.fields(cls)
        required = max((i + 1 for i, f in enumerate(fields)
                        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING), default=0)
        encoders[cls] = (_make_encoder(cls, tag, kinds), tag)
        by_tag[tag] = cls
        min_fields[cls] = required
        for n in range(required, len(kinds) + 1):
            decoders[tag << 8 | n] = _make_decoder(cls, kinds, n)
    return encoders, decoders, by_tag, min_fields


_ENCODERS, _DECODERS, _BY_TAG, _MIN_FIELDS = _build()
