"""A bounded history of one figure sampled on a fixed grid, and its z-score.

z of a value against the history: `(x − mean) / sd` over the samples kept (population sd,
summed in sample order); 0.0 with fewer than two samples or no spread (a flat history says
nothing is unusual).
"""

from __future__ import annotations

import math
from collections import deque


class History:
    """The last `n` samples of one figure (floats in that figure's unit), their mean and
    population sd, and the z-score of a value against them (module docstring)."""

    def __init__(self, n: int) -> None:
        self.samples: deque[float] = deque(maxlen=n)
        self._stats: tuple[float, float] | None = None

    def push(self, x: float, times: int = 1) -> None:
        """Append `x` `times` times (a gap repeats the last value; at most the window)."""
        for _ in range(min(times, self.samples.maxlen or times)):
            self.samples.append(x)
        self._stats = None

    def stats(self) -> tuple[float, float]:
        """(mean, population sd) of the samples kept."""
        if self._stats is None:
            n = len(self.samples)
            if n == 0:
                self._stats = (0.0, 0.0)
            else:
                mean = sum(self.samples) / n
                self._stats = (mean, math.sqrt(sum((x - mean) ** 2 for x in self.samples) / n))
        return self._stats

    def z(self, x: float) -> float:
        """The z-score of `x` against the samples kept; 0.0 with fewer than two samples or no spread."""
        if len(self.samples) < 2:
            return 0.0
        mean, sd = self.stats()
        return 0.0 if sd <= 1e-12 * max(1.0, abs(mean)) else (x - mean) / sd

    def ago(self, k: int) -> float | None:
        """The sample k steps before the newest (the oldest kept when the history is shorter);
        None when empty."""
        if not self.samples:
            return None
        return self.samples[max(0, len(self.samples) - 1 - k)]
