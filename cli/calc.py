"""`perpsim calc`: the risk calculator on the command line (a shell over perpsim.risk.preview).

  perpsim calc liq-price         liquidation price, bankruptcy price, margins, margin ratio,
                                 distance to liquidation and the partial/full liquidation band
  perpsim calc bankruptcy-price  the price at which the margin balance is 0
  perpsim calc order-cost        initial margin + open loss of an order (Binance cost to open)
  perpsim calc maint-margin      notional, bracket and maintenance margin at a price
  perpsim calc funding-rate      F = P + clamp(I - P, -0.05 %, 0.05 %), capped
  perpsim calc brackets          the bracket table with its maintenance amounts (cum)
  perpsim calc compare           one position across every venue profile, side by side

Numbers are exact decimals (no floats). Output is a table by default and one JSON object with
--json (decimal values as strings, missing values as null). Bad input: a message on stderr and
exit code 2. Rounding of every output: see perpsim.risk.preview.inputs ("Display rounding").
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from dataclasses import fields, is_dataclass
from decimal import Decimal
from typing import Any

from perpsim.cli import compare as _compare
from perpsim.risk import preview as pv

PROG = "perpsim calc"


def _add_contract(p: argparse.ArgumentParser, *, brackets: bool = True) -> None:
    g = p.add_argument_group("contract")
    g.add_argument("--symbol", help="a default market (BTCUSDT, ETHUSDT, BTCUSD): kind, tick, lot, asset")
    g.add_argument("--contract-size", metavar="USD", help="inverse (COIN-M) contract face value, without --symbol")
    if brackets:
        g.add_argument("--mmr", help="one fixed bracket: maintenance margin rate, e.g. 0.004")
        g.add_argument("--cum", help="maintenance amount of that bracket (settlement asset, default 0)")
        g.add_argument("--brackets", metavar="CAP:LEV:MMR,...",
                       help="a bracket table, cum by the recursion (default: the BTCUSDT table, linear only)")


def _add_display(p: argparse.ArgumentParser, *, price: bool = False, money: bool = True) -> None:
    g = p.add_argument_group("output")
    if price:
        g.add_argument("--price-step", help="price display step (default: the market tick, else 0.01 or finer)")
    if money:
        g.add_argument("--money-places", type=int, help="money decimals (default 2 for a quote asset, 8 for a coin)")
    g.add_argument("--nearest", action="store_true", help="round half-to-even instead of the venue's display rounding")
    g.add_argument("--json", action="store_true", help="one JSON object instead of a table")


def _add_position(p: argparse.ArgumentParser, *, mm: bool = True) -> None:
    g = p.add_argument_group("position")
    g.add_argument("--side", required=True, choices=["long", "short"])
    g.add_argument("--size", required=True, help="base units (linear) or contracts (inverse)")
    g.add_argument("--entry", required=True, help="entry price")
    g.add_argument("--leverage", help="initial margin = notional / leverage; default isolated wallet")
    g.add_argument("--wallet", help="isolated margin of the position, or the cross wallet balance (--cross)")
    g.add_argument("--cross", action="store_true", help="cross margin (then --wallet is required)")
    if mm:
        g.add_argument("--mark", help="mark price (default: the entry)")
        g.add_argument("--other-mm", default="0", help="cross: maintenance margin of the other positions (TMM1)")
    g.add_argument("--other-upnl", default="0", help="cross: unrealized PnL of the other positions (UPNL1)")


def build_parser() -> argparse.ArgumentParser:
    """The risk calculator's argument parser (`perpsim calc`)."""
    ap = argparse.ArgumentParser(prog=PROG, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="calc", required=True, metavar="CALC")

    p = sub.add_parser("liq-price", help="liquidation price, margins and the liquidation band")
    _add_position(p)
    _add_contract(p)
    p.add_argument("--profile", choices=["binance", "bybit"], default="binance",
                   help="liquidation model: MM at the LP (binance) or at entry (bybit classic)")
    p.add_argument("--liq-fee", default="0", help="liquidation fee rate on a partial liquidation (band only)")
    _add_display(p, price=True)

    p = sub.add_parser("bankruptcy-price", help="the price at which the margin balance is 0")
    _add_position(p, mm=False)
    _add_contract(p, brackets=False)
    _add_display(p, price=True, money=False)

    p = sub.add_parser("order-cost", help="cost to open an order: initial margin + open loss")
    g = p.add_argument_group("order")
    g.add_argument("--side", required=True, choices=["buy", "sell"])
    g.add_argument("--size", "--qty", dest="size", required=True, help="base units (linear) or contracts")
    g.add_argument("--price", required=True, help="order price (market order: the assumed fill price)")
    g.add_argument("--mark", required=True, help="mark price")
    g.add_argument("--leverage", required=True)
    g.add_argument("--last", help="last price (needed by --model revised-2024 for a sell)")
    g.add_argument("--model", choices=["classic", "revised-2024"], default="classic",
                   help="assumed price: the order price (classic) or Binance's 2024 revision")
    _add_contract(p, brackets=False)
    _add_display(p)

    p = sub.add_parser("maint-margin", help="maintenance margin and bracket of a position at a price")
    g = p.add_argument_group("position")
    g.add_argument("--size", required=True, help="base units (linear) or contracts (inverse)")
    g.add_argument("--price", required=True, help="the price the notional is taken at (the mark)")
    g.add_argument("--leverage", help="also show the initial margin, notional / leverage")
    _add_contract(p)
    _add_display(p)

    p = sub.add_parser("funding-rate", help="funding rate from the average premium index")
    p.add_argument("--premium", required=True, help="average premium index of the interval, e.g. -0.00184")
    p.add_argument("--interest", default="0.0001", help="interest per interval (default 0.0001 = 0.01 %%)")
    p.add_argument("--clamp", default="0.0005", help="band of clamp(I - P) (default 0.0005 = 0.05 %%)")
    p.add_argument("--cap", help="upper bound of the rate")
    p.add_argument("--floor", help="lower bound of the rate")
    p.add_argument("--interval-hours", type=int, default=8, help="funding interval (default 8)")
    p.add_argument("--paid-every", type=int, metavar="HOURS",
                   help="also the rate per payment when paid in parts (Hyperliquid: 1)")
    p.add_argument("--imr", help="also the impact margin notional 200 / IMR (IMR at max leverage, e.g. 0.05)")
    p.add_argument("--json", action="store_true", help="one JSON object instead of a table")

    p = sub.add_parser("brackets", help="the bracket table with its cum column")
    _add_contract(p)
    p.add_argument("--json", action="store_true", help="one JSON object instead of a table")
    _compare.add_parser(sub)
    return ap


# --- commands --------------------------------------------------------------------------------


def _rows(text: str | None) -> list[tuple[str, str, str]] | None:
    if text is None:
        return None
    rows = []
    for item in text.split(","):
        parts = item.strip().split(":")
        if len(parts) != 3:
            raise ValueError(f"--brackets: {item!r} is not CAP:LEV:MMR")
        rows.append((parts[0], parts[1], parts[2]))
    return rows


def _contract(a: argparse.Namespace) -> dict[str, Any]:
    kw: dict[str, Any] = {"market": a.symbol, "contract_size": a.contract_size}
    if hasattr(a, "mmr"):
        kw.update(mmr=a.mmr, cum=a.cum, brackets=_rows(a.brackets))
    return kw


def _rounding(a: argparse.Namespace) -> str:
    return "nearest" if getattr(a, "nearest", False) else "venue"


def _liq_price(a: argparse.Namespace) -> dict[str, Any]:
    p = pv.preview_position(
        side=a.side, size=a.size, entry=a.entry, leverage=a.leverage, wallet=a.wallet, mark=a.mark,
        margin_mode="cross" if a.cross else "isolated", other_mm=a.other_mm, other_upnl=a.other_upnl,
        profile=a.profile, liquidation_fee=a.liq_fee, price_step=a.price_step, money_places=a.money_places,
        rounding=_rounding(a), **_contract(a),
    )
    return _plain(p)


def _bankruptcy_price(a: argparse.Namespace) -> dict[str, Any]:
    bp = pv.bankruptcy_price(
        side=a.side, size=a.size, entry=a.entry, leverage=a.leverage, wallet=a.wallet,
        margin_mode="cross" if a.cross else "isolated", other_upnl=a.other_upnl, price_step=a.price_step,
        rounding=_rounding(a), **_contract(a),
    )
    return {"side": a.side, "size": a.size, "entry_price": a.entry, "bankruptcy_price": bp}


def _order_cost(a: argparse.Namespace) -> dict[str, Any]:
    c = pv.order_cost(
        side=a.side, size=a.size, price=a.price, mark=a.mark, leverage=a.leverage, last=a.last,
        model=a.model.replace("-", "_"), money_places=a.money_places, rounding=_rounding(a), **_contract(a),
    )
    return _plain(c)


def _maint_margin(a: argparse.Namespace) -> dict[str, Any]:
    m = pv.maintenance(size=a.size, price=a.price, leverage=a.leverage, money_places=a.money_places,
                       rounding=_rounding(a), **_contract(a))
    b = m.bracket
    return {
        "asset": m.asset, "notional": m.notional, "bracket": b.number, "bracket_floor": b.floor,
        "bracket_cap": b.cap, "max_leverage": b.max_leverage, "mmr": b.mmr, "cum": b.cum,
        "maintenance_margin": m.maintenance_margin, "initial_margin": m.initial_margin,
    }


def _funding_rate(a: argparse.Namespace) -> dict[str, Any]:
    kw = dict(interest=a.interest, clamp=a.clamp, cap=a.cap, floor=a.floor)
    f = pv.funding_rate(a.premium, **kw)
    out: dict[str, Any] = {
        "premium": a.premium,
        "interest": a.interest,
        "funding_rate": f,
        "payer": "longs pay shorts" if f > 0 else "shorts pay longs" if f < 0 else "nobody pays",
    }
    if a.paid_every is not None:
        out["paid_every_hours"] = a.paid_every
        out["rate_per_payment"] = pv.funding_rate(
            a.premium, interval_hours=a.interval_hours, payment_hours=a.paid_every, **kw
        )
    if a.imr is not None:
        out["impact_margin_notional"] = pv.impact_notional(a.imr)
    return out


def _brackets(a: argparse.Namespace) -> dict[str, Any]:
    return {"brackets": [_plain(b) for b in pv.bracket_table(**_contract(a))]}


COMMANDS: dict[str, Callable[[argparse.Namespace], dict[str, Any]]] = {
    "liq-price": _liq_price,
    "bankruptcy-price": _bankruptcy_price,
    "order-cost": _order_cost,
    "maint-margin": _maint_margin,
    "funding-rate": _funding_rate,
    "brackets": _brackets,
    "compare": _compare.run,
}


# --- output ----------------------------------------------------------------------------------


def _plain(obj: Any) -> Any:
    """Dataclasses to dicts, tuples to lists (values kept; see _json for the encoding)."""
    if is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: _plain(getattr(obj, f.name)) for f in fields(obj)}
    if isinstance(obj, list | tuple):
        return [_plain(x) for x in obj]
    return obj


def _json(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _json(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_json(x) for x in obj]
    if isinstance(obj, Decimal):
        return format(obj, "f")
    return obj


_PRICES = frozenset({"entry_price", "mark_price", "liquidation_price", "bankruptcy_price", "partial_liquidation_price",
                     "full_liquidation_price", "assumed_price", "price"})
_MONEY = frozenset({"notional", "unrealized_pnl", "wallet_balance", "margin_balance", "initial_margin",
                    "maintenance_margin", "cum", "open_loss", "cost", "floor", "cap", "bracket_floor", "bracket_cap"})
_SIZES = frozenset({"size", "size_before", "size_after"})


def _units(a: argparse.Namespace, out: dict[str, Any]) -> dict[str, str]:
    """The unit of each figure the table shows, where the contract names it: prices in the quote
    asset, money in the settlement asset, sizes in base units or contracts, *_pct in %."""
    from perpsim.model.market_files import default_markets
    from perpsim.model.markets import MarketKind

    spec = default_markets().get(str(a.symbol).upper()) if getattr(a, "symbol", None) else None
    inverse = spec.kind is MarketKind.INVERSE if spec else getattr(a, "contract_size", None) is not None
    money = out.get("asset") or (spec.settle if spec else "")
    quote = spec.quote if spec else ("USD" if inverse else "")
    size = "contracts" if inverse else (spec.base if spec else "")
    units = {k: quote for k in _PRICES} | {k: money for k in _MONEY} | {k: size for k in _SIZES}
    return {k: u for k, u in units.items() if u}


def _cell(value: Any, unit: str = "") -> str:
    if value is None:
        return "--"
    if isinstance(value, Decimal):
        return format(value, "f") + (f" {unit}" if unit else "")
    if unit and isinstance(value, int) and not isinstance(value, bool):
        return f"{value} {unit}"
    return str(value)


def _table(out: dict[str, Any], units: dict[str, str] | None = None) -> str:
    units = units or {}
    scalars = {k: v for k, v in out.items() if not isinstance(v, list)}
    width = max((len(k) for k in scalars), default=0)
    lines = [f"{k:<{width}}  {_cell(v, '%' if k.endswith('_pct') else units.get(k, ''))}" for k, v in scalars.items()]
    for key, items in out.items():
        if not isinstance(items, list):
            continue
        if key == "warnings":
            lines += [f"warning: {w}" for w in items]
            continue
        if not items:
            continue
        lines.append(f"{key}:")
        if isinstance(items[0], dict):
            cols = list(items[0])
            cells = [[_cell(item[c], units.get(c, "")) for c in cols] for item in items]
            widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(cols)]
            lines.append("  " + "  ".join(c.ljust(w) for c, w in zip(cols, widths, strict=True)).rstrip())
            lines += ["  " + "  ".join(x.ljust(w) for x, w in zip(r, widths, strict=True)).rstrip() for r in cells]
        else:
            lines += [f"  {_cell(x)}" for x in items]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the risk calculator; the exit status."""
    argv = sys.argv[1:] if argv is None else argv
    ap = build_parser()
    try:
        a = ap.parse_args(argv)
    except SystemExit as exc:  # --help (0) or a usage error (2, message already printed)
        return exc.code if isinstance(exc.code, int) else 2
    try:
        out = COMMANDS[a.calc](a)
    except (ValueError, TypeError) as exc:
        print(f"{PROG} {a.calc}: error: {exc}", file=sys.stderr)
        return 2
    if a.json:
        print(json.dumps(_json(out)))
    else:
        units = _units(a, out)
        print(_compare.table(out, units.get("price", "")) if a.calc == "compare" else _table(out, units))
    return 0


def add_parsers(sub: argparse._SubParsersAction) -> None:
    """`perpsim calc ...` (this module parses its own arguments)."""
    from perpsim.cli.common import standalone

    standalone(sub, "calc", lambda a, rest: main(rest), "risk calculator (liquidation price, margins, cost, funding)",
               passthrough=True)
