"""Markets files: TOML text or a file read into validated `MarketSpec`s, and the packaged defaults.

`load_markets` reads one table per market, `[markets.<SYMBOL>]`, keyed like MarketSpec's fields
(model/markets.py states their units and rules), all or nothing; `default_markets` reads
model/markets.toml. A decimal is a TOML string (or integer): a TOML float is refused, since it
cannot be exact.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

from perpsim.model.markets import DECIMAL_FIELDS, INT_FIELDS, MarketKind, MarketSpec
from perpsim.model.reasons import Rejected, RejectReason

__all__ = ["default_markets", "load_markets"]


def _spec_fields() -> tuple[set[str], list[str]]:
    """(allowed TOML keys, required TOML keys in declaration order)."""
    allowed: set[str] = set()
    required: list[str] = []
    for f in dataclasses.fields(MarketSpec):
        if not f.init or f.name == "symbol":  # the symbol is the table's name
            continue
        allowed.add(f.name)
        if f.default is dataclasses.MISSING:
            required.append(f.name)
    return allowed, required


def _file_error(problem: str, symbol: str | None = None, field: str | None = None) -> Rejected:
    fields: dict[str, Any] = {}
    if symbol is not None:
        fields["symbol"] = symbol
    if field is not None:
        fields["field"] = field
    return Rejected(RejectReason.INVALID_MARKET_SPEC, **fields, problem=problem)


def _market_from_table(symbol: str, table: Any) -> MarketSpec:
    if not isinstance(table, dict):
        raise _file_error("[markets.<SYMBOL>] must be a table", symbol)
    allowed, required = _spec_fields()
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise _file_error(f"unknown key {unknown[0]!r}", symbol, unknown[0])
    if table.get("kind") == MarketKind.INVERSE:
        required = [*required, "contract_size"]  # a silent default of 1 USD would mislead
    for name in required:
        if name not in table:
            raise _file_error(f"missing required key {name!r}", symbol, name)
    for name, v in table.items():
        if name in DECIMAL_FIELDS:
            if isinstance(v, float):
                raise _file_error(
                    f"{name} = {v!r} is a TOML float, which cannot be exact; "
                    f'write it as a string, e.g. {name} = "{v}"',
                    symbol,
                    name,
                )
            if isinstance(v, bool) or not isinstance(v, str | int):
                raise _file_error(f"{name} must be a decimal string", symbol, name)
        elif name in INT_FIELDS:
            if isinstance(v, bool) or not isinstance(v, int):
                raise _file_error(f"{name} must be a TOML integer", symbol, name)
        elif name == "brackets":  # rows of [cap, max_leverage, mmr], checked by MarketSpec
            if not isinstance(v, list):
                raise _file_error("brackets must be an array of [cap, max_leverage, mmr] rows", symbol, name)
        elif not isinstance(v, str):
            raise _file_error(f"{name} must be a string", symbol, name)
    return MarketSpec(symbol=symbol, **table)


def load_markets(path_or_text: str | bytes | os.PathLike[str]) -> dict[str, MarketSpec]:
    """Load market specs from TOML: a `pathlib.Path` (any os.PathLike) is read as a UTF-8
    file; a `str` or `bytes` is the TOML text itself.

    Layout: one table per market, `[markets.<SYMBOL>]`, keys named like MarketSpec's fields.
    Decimal values are TOML strings ("0.1"; an integer such as 1000 is exact and accepted
    too); a TOML float is rejected because it cannot be exact. Unknown keys, missing required
    keys, wrong types and invalid specs raise `Rejected(INVALID_MARKET_SPEC, symbol=...,
    field=..., problem=...)`. All or nothing: one bad market rejects the whole file.
    """
    if isinstance(path_or_text, os.PathLike):
        text = Path(path_or_text).read_text(encoding="utf-8")
    elif isinstance(path_or_text, bytes):
        text = path_or_text.decode("utf-8")
    elif isinstance(path_or_text, str):
        text = path_or_text
    else:
        raise TypeError(f"expected TOML text or a path, got {type(path_or_text).__name__}")
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        hint = ""
        if "\n" not in text and text.strip().endswith(".toml"):
            hint = " (a str is TOML text; pass a pathlib.Path to read a file)"
        raise _file_error(f"invalid TOML: {exc}{hint}", field="toml") from exc
    unknown = sorted(set(document) - {"markets"})
    if unknown:
        raise _file_error(f"unknown top-level key {unknown[0]!r}", field=unknown[0])
    markets = document.get("markets")
    if not isinstance(markets, dict) or not markets:
        raise _file_error("expected at least one [markets.<SYMBOL>] table", field="markets")
    return {symbol: _market_from_table(symbol, table) for symbol, table in markets.items()}


def default_markets() -> dict[str, MarketSpec]:
    """The packaged default markets (perpsim/model/markets.toml): BTCUSDT, ETHUSDT, BTCUSD."""
    text = resources.files("perpsim.model").joinpath("markets.toml").read_text(encoding="utf-8")
    return load_markets(text)
