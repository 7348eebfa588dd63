"""venue/, sim/ and bench/ read the engine only through its read API (engine/views.py,
`ExchangeView`): on an exchange they only apply commands and ask its clock, state hash and
integrity check; none of their modules indexes or walks `exchange.markets`, names a `_Market`,
reaches into the ledger or reads a private attribute of an exchange or a view.

The check is syntactic (ast), so it is kept simple: an expression "holds an exchange" when it is
a name or an attribute spelled like one (`exchange`, `ex`, `self._ex`, `state.exchange`, ...).
`venue.markets` (the venue's own MarketSpec dict) is not an exchange and stays allowed."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHECKED = ("venue", "sim", "bench")

#: names and attributes that hold an Exchange by the project's spelling
EXCHANGE_NAMES = frozenset({"exchange", "ex", "_ex", "_exchange"})
#: names and attributes that hold an ExchangeView
VIEW_NAMES = frozenset({"view", "_view"})
#: what may be asked of an exchange itself: its commands, its clock and its checks; every read
#: goes through ExchangeView
OPERATIONS = frozenset({"apply", "ts", "next_order_id", "state_hash", "check_integrity"})
#: engine-internal type names
INTERNAL_TYPES = frozenset({"_Market"})


def _spelled(node: ast.expr, names: frozenset[str]) -> bool:
    if isinstance(node, ast.Name):
        return node.id in names
    if isinstance(node, ast.Attribute):
        return node.attr in names
    return False


def _private(attr: str) -> bool:
    return attr.startswith("_") and not (attr.startswith("__") and attr.endswith("__"))


def _is_view_call(node: ast.expr) -> bool:
    return isinstance(node, ast.Call) and _spelled(node.func, frozenset({"ExchangeView"}))


def violations(source: str, filename: str = "<source>") -> list[tuple[str, int, str]]:
    """(file, line, what) of every read of the engine's internals in `source`."""
    found = []
    for node in ast.walk(ast.parse(source, filename)):
        what = None
        if isinstance(node, ast.Attribute):
            base = node.value
            if _spelled(base, EXCHANGE_NAMES) and node.attr not in OPERATIONS:
                what = f"{ast.unparse(node)}: a read of an exchange past its read API"
            elif (_spelled(base, VIEW_NAMES) or _is_view_call(base)) and _private(node.attr):
                what = f"{ast.unparse(node)}: a view's internals"
            elif isinstance(base, ast.Attribute) and base.attr == "ledger" and _private(node.attr):
                what = f"{ast.unparse(node)}: the ledger's internals"
            elif node.attr in INTERNAL_TYPES:
                what = f"{ast.unparse(node)}: an engine-internal type"
        elif isinstance(node, ast.Name) and node.id in INTERNAL_TYPES:
            what = f"{node.id}: an engine-internal type"
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("perpsim.engine"):
            names = [a.name for a in node.names if a.name in INTERNAL_TYPES]
            if names:
                what = f"import of {', '.join(names)} from {node.module}: an engine-internal type"
        if what is not None:
            found.append((filename, node.lineno, what))
    return sorted(found, key=lambda f: f[1])


def _modules() -> list[Path]:
    return sorted(p for folder in CHECKED for p in (ROOT / folder).rglob("*.py") if "__pycache__" not in p.parts)


def test_the_checked_folders_have_modules():
    counts = {folder: sum(1 for p in _modules() if p.relative_to(ROOT).parts[0] == folder) for folder in CHECKED}
    assert all(n > 0 for n in counts.values()), counts


def test_venue_sim_and_bench_read_the_engine_only_through_its_read_api():
    found = []
    for path in _modules():
        found += violations(path.read_text(), str(path.relative_to(ROOT)))
    assert not found, "read through perpsim.engine.views.ExchangeView instead:\n" + "\n".join(
        f"{f}:{line}: {what}" for f, line, what in found)


@pytest.mark.parametrize(("source", "line"), [
    ("m = exchange.markets['BTCUSDT']", 1),
    ("for s, m in state.exchange.markets.items():\n    pass", 1),
    ("x = 1\nbal = self.venue.state.exchange.ledger._bal", 2),
    ("lev = ex._lev(1, m)", 1),
    ("wallet = self.venue.state.exchange.wallet(1, 'USDT')", 1),
    ("p = exchange.preview_order(cmd)", 1),
    ("busy = self._ex._liquidating", 1),
    ("m = ExchangeView(ex)._m['BTCUSDT']", 1),
    ("m = view._m", 1),
    ("def f(m: _Market) -> None:\n    pass", 1),
    ("from perpsim.engine.exchange import Exchange, _Market", 1),
    ("wallets = led.ledger._bal", 1),
])
def test_each_kind_of_internal_read_is_named_with_its_line(source, line):
    (found,) = {(f, n) for f, n, _ in violations(source, "planted.py")}
    assert found == ("planted.py", line)


def test_reads_through_the_view_and_the_venues_own_markets_pass():
    source = (
        "spec = venue.markets['BTCUSDT']\n"
        "for s, spec in self.markets.items():\n    pass\n"
        "v = ExchangeView(state.exchange)\n"
        "mark, ts = v.mark('BTCUSDT'), state.exchange.ts\n"
        "events = exchange.apply(cmd)\n"
        "view.positions(1)\n"
    )
    assert violations(source) == []
