"""Parameter distributions of agent populations, as written in scenario files.

A value is either a plain number (every member gets it) or a table with `dist`:

  { dist = "uniform", low = 2, high = 6 }          floats in [low, high)
  { dist = "uniform_int", low = 20, high = 50 }    integers in [low, high], both included
  { dist = "choice", values = [5, 20, 100], weights = [0.5, 0.3, 0.2] }
  { dist = "lognormal", median = 2000, sigma = 0.8 }
  { dist = "normal", mean = 0, std = 1, low = -3, high = 3 }   (clipped when low/high given)
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

Spec = float | int | Mapping


def draw(spec: Spec, n: int, rng: np.random.Generator) -> np.ndarray:
    """`n` draws of a distribution spec (see the module doc) from `rng`."""
    if not isinstance(spec, Mapping):
        return np.full(n, spec)
    kind = spec.get("dist", "const")
    if kind == "const":
        return np.full(n, spec["value"])
    if kind == "uniform":
        return rng.uniform(spec["low"], spec["high"], n)
    if kind == "uniform_int":
        return rng.integers(spec["low"], spec["high"], n, endpoint=True)
    if kind == "choice":
        weights = spec.get("weights")
        p = None if weights is None else np.asarray(weights, float) / np.sum(weights)
        return rng.choice(np.asarray(spec["values"]), n, p=p)
    if kind == "lognormal":
        return spec["median"] * np.exp(spec["sigma"] * rng.standard_normal(n))
    if kind == "normal":
        out = rng.normal(spec.get("mean", 0.0), spec.get("std", 1.0), n)
        return np.clip(out, spec.get("low", -np.inf), spec.get("high", np.inf))
    raise ValueError(f"unknown distribution {kind!r}")
