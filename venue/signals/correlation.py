"""Rolling correlation of the markets' mark returns, blended with a configured prior.

On the volatility module's grid (one return per market per step Δ): EWMA covariance
`c_ij = λ c_ij + (1 − λ) r_i r_j` with the volatility's λ (variance on the diagonal), the
measured correlation `ρ̂_ij = c_ij / sqrt(c_ii c_jj)`, and the published one
`ρ = w ρ̂ + (1 − w) ρ_prior` with `w = n / (n + n₀)`, n the steps both markets had a return
(so the prior, e.g. BTC/ETH 0.8, holds until a window of data has come in). A market pair
without variance yet shows the prior.
"""

from __future__ import annotations

import math


class Correlations:
    """Per pair of `symbols`: the EWMA covariance of their mark log returns (fraction² per step),
    the steps both had a return, and the prior ρ; `rho` publishes the blend (module docstring)."""

    def __init__(self, symbols: list[str], lam: float, n0: int, prior) -> None:
        """`prior(i, j)`: the configured correlation of symbols i and j."""
        self.symbols, self.lam, self.n0 = list(symbols), lam, n0
        k = len(symbols)
        self.cov = [[0.0] * k for _ in range(k)]
        self.n = [[0] * k for _ in range(k)]
        self.prior = [[prior(symbols[i], symbols[j]) if i != j else 1.0 for j in range(k)] for i in range(k)]

    def update(self, returns: list[float | None]) -> None:
        """Fold in one step's mark log returns (in `symbols` order; None: no return this step): the EWMA covariance and
        the count of each pair that both had one."""
        lam, k = self.lam, len(self.symbols)
        for i in range(k):
            ri = returns[i]
            if ri is None:
                continue
            row, nrow = self.cov[i], self.n[i]
            for j in range(k):
                rj = returns[j]
                if rj is not None:
                    row[j] = lam * row[j] + (1.0 - lam) * ri * rj
                    nrow[j] += 1

    def zeros(self, k_steps: int, live: list[bool]) -> None:
        """k zero-return steps for the markets that have a mark (`live`)."""
        f = self.lam ** k_steps
        for i, li in enumerate(live):
            if not li:
                continue
            for j, lj in enumerate(live):
                if lj:
                    self.cov[i][j] *= f
                    self.n[i][j] += k_steps

    def rho(self, a: str, b: str) -> tuple[float, float, int]:
        """(published ρ, weight w of the measured part, n)."""
        i, j = self.symbols.index(a), self.symbols.index(b)
        if i == j:
            return 1.0, 1.0, self.n[i][i]
        n, prior = self.n[i][j], self.prior[i][j]
        vi, vj = self.cov[i][i], self.cov[j][j]
        if n == 0 or vi <= 0.0 or vj <= 0.0:
            return prior, 0.0, n
        measured = max(-1.0, min(1.0, self.cov[i][j] / math.sqrt(vi * vj)))
        w = n / (n + self.n0)
        return w * measured + (1.0 - w) * prior, w, n


def cholesky(matrix: list[list[float]]) -> list[list[float]]:
    """Lower-triangular L with L Lᵀ = matrix (a correlation matrix; a pivot that is not
    positive, from an inconsistent prior, is clamped to 0: that row follows the others)."""
    n = len(matrix)
    low = [[0.0] * n for _ in range(n)]
    for i in range(n):
        for j in range(i + 1):
            s = matrix[i][j] - sum(low[i][k] * low[j][k] for k in range(j))
            if i == j:
                low[i][i] = math.sqrt(s) if s > 0 else 0.0
            else:
                low[i][j] = s / low[j][j] if low[j][j] > 0 else 0.0
    return low


def correlated_normals(rng, names: list[str], rho) -> dict[str, float]:
    """One standard normal per name, correlated as `rho(a, b)` says, drawn from `rng` (seeded:
    the same draws give the same values) in the order of `names`."""
    low = cholesky([[1.0 if a == b else rho(a, b) for b in names] for a in names])
    g = [rng.gauss(0.0, 1.0) for _ in names]
    return {a: sum(low[i][k] * g[k] for k in range(i + 1)) for i, a in enumerate(names)}
