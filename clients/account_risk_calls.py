"""The client's account risk calls (RiskService, account half), shared by `Client` and
`AsyncClient`: the account's risk summary, its own thresholds and its recent fills' slippage.
"""

from __future__ import annotations

from typing import Any

from perpsim.clients.account_risk_models import AccountRisk, FillQuality, RiskThresholds
from perpsim.v1 import risk_pb2

HOUR_NS = 3_600 * 10**9


class AccountRiskCalls:
    """Mixin of the SDK's API class: `_risk(method, request, convert, write)` makes the call."""

    def _risk(self, method: str, request: Any, convert, write: bool = False) -> Any:
        raise NotImplementedError

    def account_risk(self) -> AccountRisk:
        """Per position: distance to liquidation in % and in σ over 1h, 8h and 24h (and the
        account's horizon), the size-down nudge; per settlement asset: margin ratio,
        correlation-adjusted exposure and effective leverage, correlated clusters; warnings."""
        return self._risk("GetAccountRisk", risk_pb2.GetAccountRiskRequest(), AccountRisk.from_pb)

    def set_risk_thresholds(self, *, k: float | None = None, horizon_ns: int | None = None, rho: float | None = None,
                            max_leverage: float | None = None, reset: bool = False) -> RiskThresholds:
        """Set this account's thresholds (those not given are kept; `reset`: the venue's
        defaults); the thresholds now. InvalidArgument names any out of range."""
        for name, value in (("k", k), ("rho", rho), ("max_leverage", max_leverage)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
                raise TypeError(f"{name}: expected a number")
        if horizon_ns is not None and (isinstance(horizon_ns, bool) or not isinstance(horizon_ns, int)):
            raise TypeError("horizon_ns: expected an int (nanoseconds)")
        request = risk_pb2.SetAccountRiskThresholdsRequest(
            thresholds=risk_pb2.AccountRiskThresholds(k=k or 0.0, horizon_ns=horizon_ns or 0, rho=rho or 0.0,
                                                      max_leverage=max_leverage or 0.0), reset=reset)
        return self._risk("SetAccountRiskThresholds", request, lambda r: RiskThresholds.from_pb(r.thresholds),
                          write=True)

    def recent_fills(self, symbol: str = "", limit: int = 100) -> list[FillQuality]:
        """This account's latest fills (newest first) with their slippage at arrival."""
        request = risk_pb2.ListRecentFillsRequest(symbol=symbol, limit=limit)
        return self._risk("ListRecentFills", request, lambda r: [FillQuality.from_pb(f) for f in r.fills])
