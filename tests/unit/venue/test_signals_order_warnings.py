"""The order path's account warnings (AccountRisk.order_correlation, market_warnings, below_k,
positions_light) against the computation they shortcut, written out below as it stood before:
over randomized sessions on a real VenueState (every default market, the inverse one included;
hedge and one-way accounts, isolated and cross margin, index moves, trades through the book)
with σ, ρ and each account's thresholds drawn, the warnings are the same, figure for figure."""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from perpsim.engine import commands as C
from perpsim.engine.views import ExchangeView
from perpsim.model.enums import OrderKind, PositionSide, Side, TimeInForce
from perpsim.venue.config import DEFAULT_PRICES, VenueConfig
from perpsim.venue.initial_state import make_state
from perpsim.venue.signals.account import (
    CORRELATED_EXPOSURE,
    HOUR_NS,
    WITHIN_K_SIGMA,
    Thresholds,
    Warning,
    correlation_warning,
    distance,
    k_sigma_warning,
)
from perpsim.venue.signals.account_risk import AccountRisk, _liquidation_price, _mark_price, equity_of

SYMBOLS = ("BTCUSDT", "ETHUSDT", "BTCUSD", "SOLUSDT", "CYBERUSDT")
TRADERS = (1, 2, 3)
MAKER = 9  # the counterparty whose resting order each trade takes
LONG, SHORT, BOTH = int(PositionSide.LONG), int(PositionSide.SHORT), int(PositionSide.BOTH)


# ---------------------------------------------------------------- the computation as it was
# (a deliberate oracle: the shortcut functions' old bodies kept word for word; what did not change is imported)


def ref_signed_notional(view: ExchangeView, symbol: str, lots: int) -> float:
    mark = view.mark(symbol)
    if not lots or mark is None:
        return 0.0
    value = view.notional(symbol, abs(lots), mark) / 10**view.spec(symbol).settle_decimals
    return float(value) if lots > 0 else -float(value)


def ref_positions_light(view: ExchangeView, account: int, asset: str = "") -> list[tuple[str, float]]:
    return [(symbol, ref_signed_notional(view, symbol, lots)) for symbol in view.symbols()
            if view.holds(account, symbol) and (not asset or view.spec(symbol).settle == asset)
            and view.mark(symbol) is not None for _, lots in view.legs(account, symbol)]


def ref_correlation(risk: AccountRisk, view: ExchangeView, cmd: C.PlaceOrder, after_lots: int, t: Thresholds,
                    before: int | None = None) -> Warning | None:
    spec = view.spec(cmd.symbol)
    asset = spec.settle
    held = ref_positions_light(view, cmd.account, asset)
    names = sorted({s for s, _ in held} | {cmd.symbol})
    e = [sum(n for s, n in held if s == name) for name in names]
    if before is None:
        before = view.position_lots(cmd.account, cmd.symbol, cmd.position_side)
    delta = [0.0] * len(names)
    delta[names.index(cmd.symbol)] = ref_signed_notional(view, cmd.symbol, after_lots) - \
        ref_signed_notional(view, cmd.symbol, before)
    equity = equity_of(view, cmd.account, asset, 10**spec.settle_decimals)
    return correlation_warning(names, e, delta, risk._matrix(names), equity, t)  # given a float: as it was


def ref_order_correlation(risk: AccountRisk, view: ExchangeView, cmd: C.PlaceOrder) -> Warning | None:
    if cmd.reduce_only or view.mark(cmd.symbol) is None:
        return None
    before = view.position_lots(cmd.account, cmd.symbol, cmd.position_side)
    after = before + (cmd.qty if cmd.side == Side.BUY else -cmd.qty)
    return ref_correlation(risk, view, cmd, after, risk.thresholds(cmd.account), before)


# oracle: below_k as it stood, σ asked before the account's legs (kept word for word, not shared)
def ref_below_k(risk: AccountRisk, view: ExchangeView, account: int, only: str = "") -> dict:
    t = risk.thresholds(account)
    out = {}
    for symbol in (only,) if only else view.symbols():
        sigma = risk.sigma_1h(symbol) if view.mark(symbol) is not None else None
        if not sigma:
            continue
        for pside, lots in view.legs(account, symbol):
            lp = _liquidation_price(view, account, symbol, pside)
            if lp is None or lp <= 0:
                continue
            d = distance(lots > 0, float(_mark_price(view, symbol)), float(lp), sigma, (t.horizon_ns,))
            h = d.horizons[0]
            if h.z < t.k:
                out[(symbol, pside)] = (h.z, h.touch_probability)
    return out


def ref_market_warnings(risk: AccountRisk, view: ExchangeView, account: int, symbol: str) -> list[Warning]:
    t = risk.thresholds(account)
    below = ref_below_k(risk, view, account, symbol)
    return [k_sigma_warning(symbol, z, t, touch) for (_, _), (z, touch) in sorted(below.items())]


def outcome(f, *args):
    """What the order path makes of a computation: its result, or "failed" (logged, no warning)."""
    try:
        return f(*args)
    except Exception:
        return "failed"


# ---------------------------------------------------------------- a session on a real VenueState


class Session:
    def __init__(self) -> None:
        self.state = make_state(VenueConfig(data_dir=Path("/nonexistent/perpsim-order-warnings")))
        self.view = ExchangeView(self.state.exchange)
        self.ts = 1
        for symbol in SYMBOLS:
            self.apply(C.SetIndexPrice, symbol, self.spec(symbol).price_to_ticks(DEFAULT_PRICES[symbol]))
        self.apply(C.Deposit, MAKER, "USDT", 10**9 * 10**8)
        self.apply(C.Deposit, MAKER, "BTC", 10**5 * 10**8)

    def spec(self, symbol: str):
        return self.view.spec(symbol)

    def apply(self, make, *fields, **named) -> list:
        self.ts += 1_000_000
        return self.state.apply(make(self.ts, *fields, **named))

    def lots_for(self, symbol: str, quote: float) -> int:
        """About `quote` of notional (quote currency) in the market's lots, at least one."""
        spec, mark = self.spec(symbol), self.view.mark(symbol)
        price = float(mark * spec.tick_size)
        per_lot = float(spec.contract_size) if spec.settle != spec.quote and spec.settle == spec.base \
            else price * float(spec.lot_size)
        return max(1, int(quote / per_lot))

    def trade(self, account: int, symbol: str, side: int, lots: int, pside: int) -> None:
        """The maker rests `lots` at the mark, the account takes them (IOC); the rest canceled."""
        mark = self.view.mark(symbol)
        self.apply(C.PlaceOrder, MAKER, symbol, 1 - side, lots, mark, OrderKind.LIMIT, TimeInForce.GTC)
        self.apply(C.PlaceOrder, account, symbol, side, lots, mark, OrderKind.LIMIT, TimeInForce.IOC,
                   position_side=pside)
        self.apply(C.CancelAll, MAKER, symbol)

    def move(self, symbol: str, bp: int) -> None:
        index = self.view.index(symbol)
        self.apply(C.SetIndexPrice, symbol, max(1, index * (10_000 + bp) // 10_000))


accounts = st.fixed_dictionaries({
    "hedge": st.booleans(),
    "isolated": st.sets(st.sampled_from(SYMBOLS), max_size=2),
    "leverage": st.sampled_from([2, 5, 10, 20, 50]),
    "usdt": st.integers(50, 20_000),
    "btc": st.sampled_from([0, 0.01, 0.2]),
    "thresholds": st.builds(Thresholds, k=st.floats(0.5, 8), horizon_ns=st.sampled_from([HOUR_NS, 3 * HOUR_NS,
                                                                                         8 * HOUR_NS, 24 * HOUR_NS]),
                            rho=st.floats(0.05, 0.95), max_leverage=st.sampled_from([0.5, 1, 2, 5, 10, 25])),
})
steps = st.lists(st.one_of(
    # a trade's notional as a share of what the account's margin in the market's asset carries
    st.tuples(st.just("trade"), st.sampled_from(TRADERS), st.sampled_from(SYMBOLS), st.sampled_from([0, 1]),
              st.floats(0.02, 1.2), st.booleans()),
    st.tuples(st.just("move"), st.sampled_from(SYMBOLS), st.integers(-400, 400)),
), min_size=1, max_size=16)
sigmas = st.fixed_dictionaries({s: st.one_of(st.none(), st.just(0.0), st.floats(0.0005, 0.06)) for s in SYMBOLS})
rhos = st.dictionaries(st.tuples(st.sampled_from(SYMBOLS), st.sampled_from(SYMBOLS)), st.floats(-1, 1), max_size=12)


def compare(session: Session, risk: AccountRisk, seen: dict) -> None:
    view = session.view
    for account in TRADERS:
        hedge = view.hedge_mode(account)
        t = risk.thresholds(account)
        for asset in ("", "USDT", "BTC"):
            assert risk.positions_light(view, account, asset) == ref_positions_light(view, account, asset)
        assert outcome(risk.below_k, view, account) == outcome(ref_below_k, risk, view, account)
        for symbol in SYMBOLS:
            got = outcome(risk.market_warnings, view, account, symbol)
            assert got == outcome(ref_market_warnings, risk, view, account, symbol)
            seen[WITHIN_K_SIGMA] += bool(got) and got != "failed"
            for side in (Side.BUY, Side.SELL):
                for pside in ((LONG, SHORT) if hedge else (BOTH,)):
                    for quote in (50.0, 20_000.0):
                        lots = session.lots_for(symbol, quote)
                        for reduce_only in (False, True):
                            cmd = C.PlaceOrder(0, account, symbol, side, lots, view.mark(symbol), OrderKind.LIMIT,
                                               TimeInForce.GTC, reduce_only=reduce_only, position_side=pside)
                            got = outcome(risk.order_correlation, view, cmd)
                            assert got == outcome(ref_order_correlation, risk, view, cmd)
                            seen[CORRELATED_EXPOSURE] += isinstance(got, Warning)
                        # the preview's form: the size after read by the callee
                        after = lots if side == Side.BUY else -lots
                        assert outcome(risk._correlation, view, cmd, after, t) == \
                            outcome(ref_correlation, risk, view, cmd, after, t)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.tuples(*(accounts for _ in TRADERS)), steps, sigmas, rhos)
def test_the_order_paths_warnings_are_the_computation_they_shortcut(traders, session_steps, sigma, rho):
    session = Session()

    def rho_of(a: str, b: str) -> float:
        return rho.get((a, b), rho.get((b, a), 0.5 if a[:3] == b[:3] else 0.3))

    risk = AccountRisk(lambda s: sigma[s], rho_of)
    for account, a in zip(TRADERS, traders, strict=True):
        risk.set_thresholds(account, a["thresholds"])
        session.apply(C.Deposit, account, "USDT", a["usdt"] * 10**8)
        if a["btc"]:
            session.apply(C.Deposit, account, "BTC", int(a["btc"] * 10**8))
        if a["hedge"]:
            session.apply(C.SetPositionMode, account, True)
        for symbol in SYMBOLS:
            session.apply(C.SetLeverage, account, symbol, a["leverage"])
            if symbol in a["isolated"]:
                session.apply(C.SetMarginMode, account, symbol, True)
    seen = {WITHIN_K_SIGMA: 0, CORRELATED_EXPOSURE: 0}
    compare(session, risk, seen)
    for step in session_steps:
        if step[0] == "trade":
            _, account, symbol, side, share, long_leg = step
            a = traders[TRADERS.index(account)]
            margin = a["usdt"] if session.spec(symbol).settle == "USDT" else a["btc"] * 65_000
            pside = (LONG if long_leg else SHORT) if session.view.hedge_mode(account) else BOTH
            session.trade(account, symbol, side, session.lots_for(symbol, share * margin * a["leverage"]), pside)
        else:
            _, symbol, bp = step
            session.move(symbol, bp)
        compare(session, risk, seen)


def test_a_stacked_session_warns_alike_on_both_counts():
    """The comparison above meets both warnings: a trader 20x long BTC and long ETH at ρ 0.9,
    σ 2 % an hour, is warned of correlated exposure and of liquidation within kσ."""
    session = Session()
    risk = AccountRisk(lambda s: 0.02, lambda a, b: 0.9)
    session.apply(C.Deposit, 1, "USDT", 1_000 * 10**8)
    for symbol in ("BTCUSDT", "ETHUSDT"):
        session.apply(C.SetLeverage, 1, symbol, 50)
        session.trade(1, symbol, Side.BUY, session.lots_for(symbol, 10_000), BOTH)
    seen = {WITHIN_K_SIGMA: 0, CORRELATED_EXPOSURE: 0}
    compare(session, risk, seen)
    assert seen[CORRELATED_EXPOSURE] > 0 and seen[WITHIN_K_SIGMA] > 0
